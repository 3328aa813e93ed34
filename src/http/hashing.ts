// One-pass hashing of a byte stream with a size cap: the package is hashed while it
// flows through, in chunks, and is never held in memory as a whole.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { collectGarbage } from '../util/gc.ts';

export interface StreamDigest {
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  size: number;
  /** Lowercase hex MD5, when asked for (explicit files may only record that). */
  md5?: string;
}

/** Thrown by the transform when the stream passes `maxBytes`; callers map it to their code. */
export class TooLargeSignal extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`more than ${limit} bytes`);
    this.limit = limit;
  }
}

// Bounded memory for large packages (docs/performance.md: a 1 GiB download within 150 MB RSS). Each
// network chunk is a fresh Buffer whose memory lives outside the V8 heap and is only
// released when the young generation is collected; V8 waits for tens of MB of such
// garbage first. A scavenge every 4 MiB keeps the peak low and is also faster: the freed
// chunks' memory is reused while still mapped and cached, where fresh memory costs page
// faults (measured, --download of 64 MiB over loopback, process CPU, median of 5
// interleaved runs: every 16 MiB 0.90 s, 122 MB; every 4 MiB 0.74 s, 94 MB; every 1 MiB
// 0.74 s, 93 MB; never 1.05 s, 132 MB). The collector is there only when
// the launcher exposed it (src/util/gc.ts); otherwise nothing changes.
const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;

/** A pass-through that hashes and counts, and errors out at `maxBytes + 1`. */
export class HashingCounter extends Transform {
  size = 0;
  private sinceCollect = 0;
  private readonly sha = createHash('sha256');
  private readonly md5: Hash | undefined;
  private readonly maxBytes: number;

  constructor(opts: { maxBytes?: number; md5?: boolean } = {}) {
    super();
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    this.md5 = opts.md5 ? createHash('md5') : undefined;
  }

  /**
   * Hash and count one chunk without passing it on (hash-only downloads); throws
   * TooLargeSignal. `fresh`: the chunk is a buffer of its own, garbage once hashed (false for
   * a view of a reused read buffer, which leaves none to collect).
   */
  add(chunk: Buffer, fresh = true): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) throw new TooLargeSignal(this.maxBytes);
    this.sha.update(chunk);
    this.md5?.update(chunk);
    if (!fresh) return;
    this.sinceCollect += chunk.length;
    if (this.sinceCollect >= SCAVENGE_EVERY_BYTES) {
      this.sinceCollect = 0;
      collectGarbage('minor');
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.add(chunk);
    } catch (e) {
      return cb(e as Error);
    }
    cb(null, chunk);
  }

  digest(): StreamDigest {
    const d: StreamDigest = { sha256: this.sha.digest('hex'), size: this.size };
    if (this.md5) d.md5 = this.md5.digest('hex');
    return d;
  }
}

/** A sink that drops everything (hash-only downloads). */
function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** SHA-256 (and optionally MD5) of a local file in one streamed pass. */
export async function hashFile(path: string, opts: { maxBytes?: number; md5?: boolean } = {}): Promise<StreamDigest> {
  const h = new HashingCounter(opts);
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h, discard());
  return h.digest();
}

export { sha256Hex } from '../util/sha256.ts';
