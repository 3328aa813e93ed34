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
import type { Agent, IncomingMessage } from 'node:http';
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
        const view = buf.subarray(0, n);
        const take = bodyTakers.get(socket!);
        if (take) return take(view);
        socket!.emit('data', view);
        return !socket!.isPaused();
      },
    };
    socket = create.call(this, { ...options, onread }, callback);
    bodyTakers.set(socket, null);
    return socket;
  };
  return agent;
}

/**
 * Bodies shorter than this go through the parser: a taken body costs its connection (it
 * cannot go back to the keep-alive pool), which on a real network is a new TCP and TLS
 * handshake for a later request, one or two round trips. From 16 MiB on, the ~1 ms of CPU
 * saved per MiB (below) outweighs that, and the transfer itself takes far longer than a
 * handshake on any link.
 */
export const TAKE_MIN_BYTES = 16 << 20;

/**
 * Sockets made by readIntoSharedBuffer, and who takes their reads raw (null: Node's HTTP
 * parser); a taker returns false to stop the socket's reads (it resumes them itself).
 */
const bodyTakers = new WeakMap<Socket, ((view: Buffer) => boolean) | null>();

/**
 * Receives a taken body's chunks in order. `own`: the chunk is a buffer of its own (what the
 * parser took with the headers); otherwise a view of the shared read buffer, valid only until
 * this call returns. A returned promise stops the socket's reads until it settles
 * (backpressure; a rejection ends the body with that error).
 */
export type TakeChunk = (chunk: Buffer, own: boolean) => void | Promise<void>;

/**
 * The body of `res`, a 200 answer framed by Content-Length alone, handed to `onChunk` straight
 * from the shared read buffer: Node's HTTP parser no longer sees the socket's reads, so no
 * body byte is copied into a fresh buffer and pushed through the response stream. Measured:
 * `verify --download` (src/http/client.ts hashBody) and `serve` (src/serve/flight.ts).
 *
 * Null (read `res` as usual) unless the framing is the simplest one RFC 9112 §6.3 has: status
 * 200, no Transfer-Encoding, one Content-Length of digits, at least TAKE_MIN_BYTES, a socket
 * of ours, the body not yet complete. Exactly Content-Length bytes are taken: what the parser
 * already took from the read that carried the headers (the `data` of `res`), then the raw
 * reads; bytes past the length are never handed on, and the socket is closed once the body
 * is complete (the parser never saw its end, so the connection cannot go back to the pool).
 * A connection that ends, fails or is destroyed (timeouts, abort) first rejects with
 * ECONNRESET, as a body cut short does through the parser; an error thrown by `onChunk`
 * rejects with that error.
 */
export function takeBody(res: IncomingMessage, onChunk: TakeChunk): Promise<number> | null {
  const socket = res.socket;
  const cl = res.headers['content-length'];
  if (!socket || bodyTakers.get(socket) !== null || res.statusCode !== 200 || res.complete) return null;
  if (res.headers['transfer-encoding'] !== undefined || typeof cl !== 'string' || !/^\d{1,15}$/.test(cl)) return null;
  const length = Number(cl);
  if (length < TAKE_MIN_BYTES) return null;
  return new Promise<number>((resolve, reject) => {
    let got = 0;
    let settled = false;
    let waits = 0; // promises of `onChunk` not yet settled
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      bodyTakers.set(socket, null);
      res.off('data', parsed);
      res.off('end', onEnd);
      socket.off('close', onClose);
      socket.destroy();
      if (err) reject(err);
      else resolve(got);
    };
    /** One chunk to `onChunk`; false when the reads must stop (paused, or done). */
    const take = (chunk: Buffer, own: boolean): boolean => {
      if (settled) return false;
      const rest = length - got;
      const part = chunk.length > rest ? chunk.subarray(0, rest) : chunk;
      got += part.length;
      let wait: void | Promise<void>;
      try {
        wait = onChunk(part, own);
      } catch (e) {
        finish(e);
        return false;
      }
      if (got === length) {
        // Complete: no more reads to hold back, whatever the consumer still waits for.
        wait?.catch(() => {});
        finish();
        return false;
      }
      if (!wait) return waits === 0;
      // Both sources stop: the parser's (`res`) and the raw reads (net.Socket#pause stops an
      // `onread` socket's reads; returning false stops the read under way). Over TLS, the
      // records already decrypted from the last TCP read still come (node's TLS wrap hands
      // them all on): they are taken, and the reads resume once every promise has settled,
      // not at the first (which let a slow consumer's later promise be ignored).
      waits++;
      res.pause();
      socket.pause();
      wait.then(() => {
        if (settled || --waits > 0) return;
        res.resume();
        socket.resume();
      }, finish);
      return false;
    };
    const parsed = (chunk: Buffer): void => void take(chunk, true);
    const cut = (): Error => Object.assign(new Error(`connection closed after ${got} of ${length} body bytes`), { code: 'ECONNRESET' });
    const onEnd = (): void => finish(got === length ? undefined : cut());
    const onClose = (): void => finish(cut());
    // First what the parser took from the read that carried the headers (pushed to `res`
    // before the next read is handled), then every later read, raw.
    res.on('data', parsed);
    res.on('end', onEnd);
    socket.on('close', onClose);
    bodyTakers.set(socket, (view) => take(view, false));
  });
}
