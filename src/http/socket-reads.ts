// Socket reads into one reused buffer for Node's HTTP client (net.connect / tls.connect
// `onread`), in place of a fresh 64 KiB buffer per read.
//
// Why: a large transfer through node:http costs far more CPU than hashing it. Per read,
// Node allocates a 64 KiB buffer, its HTTP parser copies the body out of it into a second
// fresh buffer, and each of those goes through the parser callback, the response stream
// and the consumer; on this project's 2-core development machine a first touch of fresh
// memory costs ~20-30 µs per 4 KiB page. Reading into one 256 KiB buffer instead cuts the
// allocations by half and the per-read work by four (measured, bare client, 64 MiB over
// loopback into SHA-256, process CPU: ~200 → ~140 ms, 128 KiB and 512 KiB-1 MiB reads no
// better than 256 KiB; `verify --download` of 64 MiB, 9 interleaved runs: process CPU 630 →
// 510 ms, peak RSS 83 → 77 MB; `serve`, proxy CPU per 64 MiB passed on, 7 interleaved
// rounds: 255 → 158 ms; docs/performance.md "Downloads and the proxy, round 4").
//
// How: with `onread`, a socket hands each read to a callback instead of emitting `data`;
// the callback emits it as the `data` event the HTTP client listens to. This is safe
// because the client's parser consumes a read synchronously: headers become strings and
// every body byte is copied into a buffer of its own (node_http_parser `on_body`) before
// the event returns, so nothing refers to the shared buffer when the next read fills it.
// Backpressure is unchanged: the client pauses the socket (net.Socket#pause stops the
// reads of an `onread` socket) and the callback reports the pause. A read that the client
// did not consume correctly could only corrupt bytes, never pass them: packages are
// checked against their SHA-256, sidecars against theirs and their signatures.
import type { Agent } from 'node:http';
import type { Socket } from 'node:net';

/** Bytes per socket read (see the top of this file). */
export const READ_BYTES = 256 * 1024;

type CreateConnection = (options: Record<string, unknown>, callback?: (err: Error | null, socket: Socket) => void) => Socket;

/**
 * Make `agent`'s new sockets (plain TCP or TLS) read into `buffer`, shared by all of them:
 * reads are handled one at a time on this thread, each consumed before the next.
 */
export function readIntoSharedBuffer<A extends Agent>(agent: A, buffer: Buffer): A {
  const a = agent as unknown as { createConnection: CreateConnection };
  const create = a.createConnection;
  a.createConnection = function (this: unknown, options, callback) {
    let socket: Socket | undefined;
    const onread = {
      buffer,
      callback: (n: number, buf: Buffer): boolean => {
        socket!.emit('data', buf.subarray(0, n));
        return !socket!.isPaused();
      },
    };
    socket = create.call(this, { ...options, onread }, callback);
    return socket;
  };
  return agent;
}
