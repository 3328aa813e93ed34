// One upstream transfer of a package, shared by every client asking for it at the same time
// (single flight), and checked while it streams: each client gets every chunk but the last
// until the whole transfer hashes to the record's SHA-256 and size. On a mismatch (or an
// upstream that breaks off) every client's connection is reset, so no client ever holds a
// complete bad file and no socket stays open (docs/serve.md "What a client receives").
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AttestError } from '../errors.ts';
import { HashingCounter, TooLargeSignal } from '../http/hashing.ts';
import { READ_BYTES, takeBody } from '../http/socket-reads.ts';

/**
 * Chunks kept for clients that join a transfer already under way; a client arriving later
 * gets a transfer of its own. Bounds the memory of one transfer (measured: 64 MiB kept
 * cost ~64 MB of RSS per large package in flight).
 */
const JOIN_BYTES = 8 << 20;

type FlightEnd =
  | { ok: true; bytes: number }
  | { ok: false; why: 'mismatch' | 'upstream' | 'aborted'; message: string; bytes: number };

interface Client {
  res: ServerResponse;
  held?: Buffer;
  done: (end: FlightEnd) => void;
}

export interface Flight {
  /** Add a client; false when the transfer is too far along to join. */
  join(res: ServerResponse, headers: Record<string, string | number>): Promise<FlightEnd> | undefined;
  readonly ended: boolean;
}

interface FlightOptions {
  expected: { sha256: string; size?: number };
  /** Start the upstream request: `consume` gets its response (status not yet checked). */
  fetch(consume: (res: IncomingMessage) => Promise<void>): Promise<void>;
  /** Called once, after every client was finished. */
  onEnd(end: FlightEnd, upstreamStatus: number | undefined): void;
}

class Abort extends AttestError {
  constructor() {
    super('UPSTREAM_UNAVAILABLE', 'every client of the transfer went away');
  }
}

/**
 * Reset a client's connection (TCP RST where the platform allows): the response can never
 * be read as complete, and the socket is gone at once. On a TLS socket (`serve --tls-cert`)
 * Node's resetAndDestroy throws ERR_INVALID_HANDLE_TYPE (thrown here, it ended the transfer
 * half way: the other clients were never cut, their connections stayed open), so the TCP
 * socket under it is reset: a TLS close without close_notify reads as a clean end to Node's
 * client and others, and a close-delimited body (HTTP/1.0, no size) would look whole
 * (RFC 9112 §8). Where that socket is not reachable, the TLS socket is destroyed.
 */
function resetClient(res: ServerResponse): void {
  type Resettable = { resetAndDestroy?: () => void; destroyed?: boolean };
  const socket = res.socket as (Resettable & { _handle?: { _parentWrap?: Resettable } }) | null;
  // Node's TLS wrap keeps the socket it was put over as `_parentWrap` (node:_tls_wrap).
  const tcp = socket?._handle?._parentWrap ?? socket;
  try {
    if (tcp?.resetAndDestroy && !tcp.destroyed) tcp.resetAndDestroy();
  } catch {
    // not a TCP handle: destroyed below
  }
  res.destroy();
}

/** The chunks kept for joining clients (JOIN_BYTES); `keeping` false once there were too many. */
interface Kept {
  chunks: Buffer[];
  bytes: number;
  keeping: boolean;
}

function keep(kept: Kept, chunk: Buffer): void {
  if (!kept.keeping) return;
  kept.chunks.push(chunk);
  hold(chunk);
  kept.bytes += chunk.length;
  if (kept.bytes > JOIN_BYTES) {
    kept.keeping = false;
    forget(kept);
  }
}

/** Let go of the kept chunks (recycled copies go back once no write holds them). */
function forget(kept: Kept): void {
  for (const chunk of kept.chunks) drop(chunk);
  kept.chunks.length = 0;
}

// Copies of upstream reads, recycled. A large body is taken straight from the socket's shared
// read buffer (src/http/socket-reads.ts takeBody), so each read is copied once, here, into a
// buffer that the clients' writes hold until they complete; a spent copy is reused for a later
// read instead of being left to the collector (fresh memory costs page faults). A copy is in
// use while a client holds it back or a write of it is pending (`refs`), and goes back only
// when both are over: a write's callback runs once its bytes are out of the process. A copy
// whose callback never comes is left to the collector, never reused. Measured: see run().
const spare: ArrayBuffer[] = [];
// 12 MiB of 256 KiB reads: the chunks kept for joiners (JOIN_BYTES) and those under way.
const SPARE_MAX = 48;
const refs = new WeakMap<ArrayBuffer, number>();

function copyOf(view: Buffer): Buffer {
  const ab = spare.pop() ?? new ArrayBuffer(READ_BYTES);
  refs.set(ab, 1); // the transfer's own reference, dropped once the copy is handed on
  const copy = Buffer.from(ab, 0, view.length);
  view.copy(copy);
  return copy;
}

function hold(chunk: Buffer): void {
  const n = refs.get(chunk.buffer as ArrayBuffer);
  if (n !== undefined) refs.set(chunk.buffer as ArrayBuffer, n + 1);
}

function drop(chunk: Buffer | undefined): void {
  const ab = chunk?.buffer as ArrayBuffer | undefined;
  const n = ab && refs.get(ab);
  if (!ab || n === undefined) return;
  if (n > 1) return void refs.set(ab, n - 1);
  refs.delete(ab);
  if (spare.length < SPARE_MAX) spare.push(ab);
}

/** Write `chunk` to a client; a recycled copy is dropped when the write is over. */
function send(c: Client, chunk: Buffer): boolean {
  // The client's hold becomes the write's.
  return c.res.write(chunk, () => drop(chunk));
}

/** Finish one client: the held chunk and the end, or a reset when the transfer failed. */
function endClient(c: Client, end: FlightEnd): void {
  if (end.ok) {
    if (c.held) send(c, c.held);
    c.res.end();
  } else if (c.res.headersSent) {
    drop(c.held);
    resetClient(c.res);
  } else drop(c.held);
  c.held = undefined;
  // (Headers not sent yet: the caller answers 502 itself.)
  c.done(end);
}

/** Resolves when the client can take more, or is gone. */
function drain(c: Client): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      c.res.off('drain', done);
      c.res.off('close', done);
      resolve();
    };
    c.res.on('drain', done);
    c.res.on('close', done);
  });
}

/**
 * Bytes a client's connection may have queued before the transfer waits for it. Node's
 * `write` asks for a wait past 16 KiB, less than one upstream read (256 KiB,
 * src/http/socket-reads.ts), so the transfer stopped for every chunk: the upstream socket
 * paused, one more turn of the event loop, and resumed (measured, proxy CPU per 64 MiB
 * passed on, 7 interleaved rounds under load 7-8: 158 → 143 ms). Still bounded: at most this
 * much (plus the held chunk) per client, shared by the clients of one flight.
 */
const CLIENT_QUEUE_BYTES = 1 << 20;

/**
 * Give each client its held chunk and hold `chunk` back instead; drop the clients that went
 * away. Returns the clients whose buffers are full.
 */
function passOn(clients: Set<Client>, chunk: Buffer, bytes: number): Client[] {
  const slow: Client[] = [];
  for (const c of clients) {
    if (c.res.destroyed) {
      clients.delete(c);
      drop(c.held);
      c.held = undefined;
      c.done({ ok: false, why: 'aborted', message: 'the client went away', bytes });
      continue;
    }
    const prev = c.held;
    c.held = chunk;
    hold(chunk);
    if (prev && !send(c, prev) && c.res.writableLength > CLIENT_QUEUE_BYTES) slow.push(c);
  }
  return slow;
}

/** How a complete transfer ends: its digest and size against the record's. */
function endOf(expected: FlightOptions['expected'], digest: string, bytes: number): FlightEnd {
  if (digest !== expected.sha256 || (expected.size !== undefined && bytes !== expected.size)) {
    return {
      ok: false,
      why: 'mismatch',
      message: `the bytes hash to ${digest} (${bytes} bytes), not the record's ${expected.sha256}${expected.size !== undefined ? ` (${expected.size} bytes)` : ''}`,
      bytes,
    };
  }
  return { ok: true, bytes };
}

export function startFlight(o: FlightOptions): Flight {
  const clients = new Set<Client>();
  const kept: Kept = { chunks: [], bytes: 0, keeping: true };
  let started = false;
  let ended = false;
  let headersFor: ((c: Client) => void) | undefined;
  const waiting: Client[] = [];
  let status: number | undefined;

  const finish = (end: FlightEnd): void => {
    if (ended) return;
    ended = true;
    for (const c of [...clients, ...waiting]) endClient(c, end);
    clients.clear();
    forget(kept);
    o.onEnd(end, status);
  };

  async function run(): Promise<void> {
    // Hashed and counted as it passes, with the downloads' collection of spent network
    // buffers every few MiB (src/http/hashing.ts). Measured, 64 MiB through the proxy to a
    // Node client, 7 interleaved rounds on 2 loaded cores: 114 → 208 MiB/s median, the
    // proxy's peak RSS 175 → 133 MB (its CPU profile: socket reads 130 → 40 ms and garbage
    // collection 80 → 40 ms per transfer; hashing ~55 ms and socket writes ~90 ms remain).
    // A large body is then taken from the upstream socket's read buffer and each read copied
    // into a recycled buffer (copyOf above): no parser copy into fresh memory, no response
    // stream, next to no garbage. Measured, the proxy's CPU per 64 MiB passed on to curl, 9
    // interleaved rounds (load ~6): 170 → 100 ms; 164 → 245 MiB/s. The chunks kept for
    // joiners recycled too (they were fresh copies, 8 MiB per transfer): 110 → 90 ms, 9 rounds
    // (load ~7).
    const hash = new HashingCounter({ maxBytes: o.expected.size });
    let bytes = 0;
    try {
      await o.fetch(async (res) => {
        status = res.statusCode;
        if (res.statusCode !== 200) {
          res.resume();
          throw new AttestError('UPSTREAM_UNAVAILABLE', `upstream answered HTTP ${res.statusCode}`);
        }
        headersFor = (c) => c.res.writeHead(200, pendingHeaders.get(c) ?? {});
        for (const c of waiting.splice(0)) {
          headersFor(c);
          clients.add(c);
        }
        /** One chunk: hashed, kept for joiners, passed on; a promise while a client is slow. */
        const onChunk = (chunk: Buffer, own: boolean): Promise<void> | undefined => {
          bytes += chunk.length;
          hash.add(chunk, own);
          // A view of the read buffer is copied into a recycled buffer (kept for joiners too).
          const passed = own ? chunk : copyOf(chunk);
          keep(kept, passed);
          const slow = passOn(clients, passed, bytes);
          drop(passed);
          if (clients.size === 0 && waiting.length === 0) throw new Abort();
          // The transfer goes at the pace of its slowest client (memory stays flat).
          if (slow.length) return Promise.all(slow.map(drain)).then(() => undefined);
          return undefined;
        };
        try {
          const taken = takeBody(res, onChunk);
          if (taken) await taken;
          else
            for await (const chunk of res as AsyncIterable<Buffer>) {
              const slow = onChunk(chunk, true);
              if (slow) await slow;
            }
        } catch (e) {
          if (!(e instanceof TooLargeSignal)) throw e;
          res.destroy();
          return finish({ ok: false, why: 'mismatch', message: `more than the ${o.expected.size} bytes the record names`, bytes });
        }
        finish(endOf(o.expected, hash.digest().sha256, bytes));
      });
    } catch (e) {
      if (e instanceof Abort) return finish({ ok: false, why: 'aborted', message: 'every client went away', bytes });
      finish({ ok: false, why: 'upstream', message: e instanceof Error ? e.message : String(e), bytes });
    }
  }

  const pendingHeaders = new WeakMap<Client, Record<string, string | number>>();
  return {
    get ended() {
      return ended;
    },
    join(res, headers) {
      if (ended || (started && !kept.keeping)) return undefined;
      return new Promise<FlightEnd>((done) => {
        const c: Client = { res, done };
        pendingHeaders.set(c, headers);
        if (headersFor) {
          headersFor(c);
          // Replay what went by; the newest chunk is held back like for everyone else.
          kept.chunks.forEach((chunk, i) => {
            hold(chunk);
            if (i === kept.chunks.length - 1) c.held = chunk;
            else send(c, chunk);
          });
          clients.add(c);
        } else waiting.push(c);
        if (!started) {
          started = true;
          void run();
        }
      });
    },
  };
}
