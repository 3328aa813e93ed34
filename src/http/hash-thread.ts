// Hashing a large download on a second thread, so that receiving and hashing overlap (as
// `curl | openssl dgst` overlaps them in two processes). The receiving thread copies each
// network chunk into a 1 MiB batch it owns and transfers the batch to the hashing thread
// (a memcpy, ~10× cheaper than SHA-256); at most a few batches are in flight, so a slow
// hasher slows the reader (TCP back-pressure) instead of growing memory.
// Measured on 2 cores, 1 GiB over loopback: see `npm run bench` (--download row).
import { Worker } from 'node:worker_threads';
import type { HashWorkerMessage, HashWorkerReply } from './hash-worker.ts';
import { collectYoungGeneration, type StreamDigest, TooLargeSignal } from './hashing.ts';

/** Below this the thread's start-up (~20 ms) costs more than the overlap gains. */
export const THREADED_HASH_MIN_BYTES = 64 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 8;
const COLLECT_EVERY_BYTES = 16 * 1024 * 1024;

function workerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./hash-worker${ext}`, import.meta.url);
}

export class ThreadedHasher {
  size = 0;
  private readonly worker: Worker;
  private readonly maxBytes: number;
  private batch = new Uint8Array(BATCH_BYTES);
  private used = 0;
  private inFlight = 0;
  private sinceCollect = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private done: ((d: { sha256: string; md5?: string }) => void) | null = null;

  constructor(opts: { maxBytes?: number; md5?: boolean } = {}) {
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    this.worker = new Worker(workerUrl(), { workerData: { role: 'conda-attest-hash', md5: opts.md5 ?? false } });
    this.worker.on('message', (m: HashWorkerReply) => {
      if (m.type === 'ack') {
        this.inFlight--;
        this.wake?.();
      } else this.done?.(m);
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      this.wake?.();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the hashing thread exited (code ${code})`)));
  }

  /** Hash and count one chunk; throws TooLargeSignal past `maxBytes`. Await it: it waits when the hasher is behind. */
  async add(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    if (this.size > this.maxBytes) throw new TooLargeSignal(this.maxBytes);
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, BATCH_BYTES - this.used);
      this.batch.set(chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === BATCH_BYTES) await this.send();
    }
    // The network chunks are garbage now; collect them in step (see hashing.ts).
    this.sinceCollect += chunk.length;
    if (this.sinceCollect >= COLLECT_EVERY_BYTES) {
      this.sinceCollect = 0;
      collectYoungGeneration();
    }
  }

  private async send(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => (this.wake = r));
    if (this.failure) throw this.failure;
    const buf = this.batch.buffer as ArrayBuffer;
    this.inFlight++;
    this.worker.postMessage({ type: 'data', buf, len: this.used } satisfies HashWorkerMessage, [buf]);
    this.batch = new Uint8Array(BATCH_BYTES);
    this.used = 0;
  }

  async digest(): Promise<StreamDigest> {
    if (this.used > 0) await this.send();
    if (this.failure) throw this.failure;
    const d = await new Promise<{ sha256: string; md5?: string }>((resolve, reject) => {
      this.done = resolve;
      this.wake = () => this.failure && reject(this.failure);
      this.worker.postMessage({ type: 'end' } satisfies HashWorkerMessage);
    });
    await this.close();
    const out: StreamDigest = { sha256: d.sha256, size: this.size };
    if (d.md5 !== undefined) out.md5 = d.md5;
    return out;
  }

  /** Stop the thread (after digest(), or when the download failed). */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
