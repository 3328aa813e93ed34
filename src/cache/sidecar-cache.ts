// Sidecar cache by content hash (docs/performance.md). CEP 50 sidecars are content-addressed: the
// repodata's `attestations_sha256` names the exact bytes, and a changed hash means new
// attestations were appended. So a sidecar fetched once never needs fetching again — as
// long as the bytes read back are the bytes named: every `get` re-hashes (CEP 50: check the
// SHA-256 before parsing), and an entry that does not match is dropped and reported as a
// miss, never returned.
//
// Layout: `<cacheDir>/sidecars-v2/<0-f>.json` in the bucket store shared with the verdict
// cache (src/store/buckets.ts), each bucket `{ "<sha256>": "<base64 bytes>", ... }` in
// insertion order. Buckets are read lazily (only when a verdict is missing), written at
// `flush()` atomically (until then this run's new sidecars wait on disk, in a spill file), merged with what is on disk then, under the store's lock, so concurrent runs lose nothing,
// and capped per bucket (oldest entries go first). The same threat model as the verdict
// cache: whoever can write to cache_dir is out of scope, but the re-hash means even they can
// only make us re-fetch, never accept other bytes.
import { closeSync, mkdirSync, openSync, readSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { jsonObjectPieces, openBucketStore } from '../store/buckets.ts';
import { isSha256Hex, sha256Hex } from '../util/sha256.ts';

const SUBDIR = 'sidecars-v2';
/** Same default as config `max_sidecar_bytes`. */
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** Entries kept per bucket: 16 × 1,000 sidecars. */
const DEFAULT_MAX_PER_BUCKET = 1000;
/**
 * New sidecars kept for one run's flush: beyond this a run stops adding (the flush stays
 * bounded for 10,000-package environments; measured 76 MB of sidecars there). The
 * verdict cache, not this one, is what makes warm runs fast.
 */
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/**
 * New sidecars are appended to the spill file in batches of about this many bytes: one
 * system call per sidecar was the main thread's largest single cost after the socket
 * writes in a cold 1,000-package run (CPU profile, loaded machine: ~84 µs per 8 kB write).
 * Until its batch is written a sidecar waits in memory, as every one did before the spill
 * file; a batch holds at most this much.
 */
const SPILL_BATCH_BYTES = 256 * 1024;
/** A bucket file larger than this is not read (a planted huge file must not be slurped). */
const MAX_BUCKET_FILE_BYTES = 64 * 1024 * 1024;

export interface SidecarCache {
  /** The sidecar bytes whose SHA-256 is `sha256`, or undefined (absent, unreadable, or not matching). */
  get(sha256: string): Buffer | undefined;
  /**
   * Store `bytes` under their hash (in memory until `flush`). Throws TypeError when
   * `sha256` is not their SHA-256 (a caller bug: the cache must never hold bytes under
   * another name).
   */
  put(sha256: string, bytes: Buffer): void;
  /**
   * Write the buckets that changed. Never rejects: a cache that cannot be written only
   * costs a re-fetch next time; the reasons land in `warnings`.
   */
  flush(): Promise<void>;
  /** Whether `flush` has anything to write (a warm run that only read has not). */
  readonly dirty: boolean;
  readonly warnings: string[];
}

interface SidecarCacheOptions {
  /** Entries larger than this are neither stored nor returned. Default 10 MiB. */
  maxBytes?: number;
  /** Entries kept per bucket file (16 buckets). Default 1,000. */
  maxEntriesPerBucket?: number;
  /** Bytes of new sidecars one run keeps for its flush; later puts are dropped. Default 16 MiB. */
  maxPendingBytes?: number;
  /** New sidecars are appended to the spill file once this many bytes wait (0: at each put). Default 256 KiB. */
  spillBatchBytes?: number;
}

/** Where a new sidecar waits for the flush: its place in the spill file, or (without one) its bytes. */
type Pending = { at: number; length: number } | Buffer;

/**
 * The spill file of a run's new sidecars: appended to at each put, read back at the flush.
 * Up to 16 MiB of new sidecars were held in memory until the flush, the last thing a cold
 * run does (measured, GNU time %M, cold 1,000 packages, median of 5 interleaved runs:
 * 158 (147–165) → 144 (140–157) MB; at 10,000 packages within the noise of 7 runs each,
 * 272 (260–287) vs 286 (251–310) MB). The file is unlinked as soon as it is open,
 * so nothing is left behind whatever ends the process; null when it cannot be made (the
 * sidecars then wait in memory, as they did).
 */
function openSpill(dir: string): number | null {
  try {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `.pending-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
    } catch {
      closeSync(fd);
      return null;
    }
    return fd;
  } catch {
    return null;
  }
}

type Bucket = Map<string, string>; // sha256 → base64
type BucketStore = ReturnType<typeof openBucketStore>;

/** Bucket `id` as stored; an unreadable one is reported, read as empty and rewritten at flush. */
function readBucket(store: BucketStore, id: string, warnings: string[], dropped: Map<string, Set<string>>): Bucket {
  const bucket: Bucket = new Map();
  try {
    const text = store.readSync(id);
    if (text === undefined) return bucket; // absent: an empty bucket
    const obj = JSON.parse(text) as unknown;
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
    for (const [k, v] of Object.entries(obj)) if (isSha256Hex(k) && typeof v === 'string') bucket.set(k, v);
  } catch (e) {
    warnings.push(`sidecar cache ${store.fileOf(id)} is unreadable (${(e as Error).message}); it is ignored and rewritten`);
    dropped.set(id, dropped.get(id) ?? new Set()); // rewrite it at flush
  }
  return bucket;
}

/**
 * The bucket to write: what is on disk, less this run's drops, plus its puts, the newest
 * `max` kept. A put is still where it waits (the spill file): its base64 is made as the
 * bucket is written (jsonObjectPieces).
 */
function mergeBucket(onDisk: Bucket, drops: Set<string> | undefined, adds: Map<string, Pending> | undefined, max: number): [string, string | Pending][] {
  const merged = new Map<string, string | Pending>(onDisk);
  for (const sha of drops ?? []) merged.delete(sha);
  for (const [sha, pending] of adds ?? []) {
    merged.delete(sha); // re-insert at the end: most recently used last
    merged.set(sha, pending);
  }
  const entries = [...merged];
  return entries.slice(Math.max(0, entries.length - max));
}

export function openSidecarCache(cacheDir: string, opts: SidecarCacheOptions = {}): SidecarCache {
  const store = openBucketStore(join(cacheDir, SUBDIR), { maxFileBytes: MAX_BUCKET_FILE_BYTES });
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxPerBucket = opts.maxEntriesPerBucket ?? DEFAULT_MAX_PER_BUCKET;
  const maxPending = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  const spillBatch = opts.spillBatchBytes ?? SPILL_BATCH_BYTES;
  let pendingBytes = 0;
  const warnings: string[] = [];
  const loaded = new Map<string, Bucket>();
  // This run's puts (in the spill file) and drops, per bucket, applied at flush.
  const added = new Map<string, Map<string, Pending>>();
  const dropped = new Map<string, Set<string>>();
  let spill: number | null | undefined;
  let spilled = 0;
  // Puts not yet in the spill file (they wait as their bytes until writeBatch).
  let batch: { m: Map<string, Pending>; sha256: string; bytes: Buffer }[] = [];
  let batchBytes = 0;

  /** Append the waiting puts to the spill file; on failure (a full disk) they stay in memory. */
  function writeBatch(): void {
    if (batch.length === 0 || spill == null) return;
    const puts = batch;
    batch = [];
    batchBytes = 0;
    const total = puts.reduce((n, p) => n + p.bytes.length, 0);
    try {
      if (writevSync(spill, puts.map((p) => p.bytes), spilled) !== total) return;
    } catch {
      return;
    }
    let at = spilled;
    for (const p of puts) {
      if (p.m.get(p.sha256) === p.bytes) p.m.set(p.sha256, { at, length: p.bytes.length });
      at += p.bytes.length;
    }
    spilled += total;
  }

  /** The bytes of a pending put. */
  function bytesOf(p: Pending): Buffer {
    if (Buffer.isBuffer(p)) return p;
    const b = Buffer.allocUnsafeSlow(p.length);
    if (readSync(spill!, b, 0, p.length, p.at) !== p.length) throw new Error('spill file truncated');
    return b;
  }

  function bucketOf(id: string): Bucket {
    let b = loaded.get(id);
    if (!b) loaded.set(id, (b = readBucket(store, id, warnings, dropped)));
    return b;
  }

  const cache: SidecarCache = {
    warnings,
    get dirty() {
      return added.size > 0 || dropped.size > 0;
    },
    get(sha256) {
      if (!isSha256Hex(sha256)) return undefined;
      const id = sha256[0]!;
      const mine = added.get(id)?.get(sha256);
      // Re-hashed like every entry read from disk.
      if (mine) {
        try {
          const bytes = bytesOf(mine);
          return sha256Hex(bytes) === sha256 ? bytes : undefined;
        } catch {
          return undefined;
        }
      }
      const b64 = bucketOf(id).get(sha256);
      if (b64 === undefined) return undefined;
      // Size check before decoding: a planted huge entry must not be decoded into memory.
      if ((b64.length * 3) / 4 > maxBytes + 3) return drop(id, sha256, `is larger than ${maxBytes} bytes`);
      const bytes = Buffer.from(b64, 'base64');
      if (sha256Hex(bytes) !== sha256) return drop(id, sha256, 'does not match its SHA-256');
      return bytes;
    },
    put(sha256, bytes) {
      if (!isSha256Hex(sha256) || sha256Hex(bytes) !== sha256) {
        throw new TypeError('sidecar cache: the bytes do not have the given SHA-256');
      }
      if (bytes.length > maxBytes || pendingBytes + bytes.length > maxPending) return;
      const id = sha256[0]!;
      let m = added.get(id);
      if (!m) added.set(id, (m = new Map()));
      if (m.has(sha256)) return;
      if (spill === undefined) spill = openSpill(store.dir);
      m.set(sha256, bytes);
      pendingBytes += bytes.length;
      if (spill !== null) {
        batch.push({ m, sha256, bytes });
        batchBytes += bytes.length;
        if (batchBytes >= spillBatch) writeBatch();
      }
    },
    async flush() {
      const ids = [...new Set([...added.keys(), ...dropped.keys()])].sort();
      if (ids.length === 0) return;
      try {
        await store.ensureDir();
      } catch (e) {
        warnings.push(`sidecar cache ${store.dir} not written: ${(e as Error).message}`);
        return;
      }
      // One bucket at a time: each bucket's text (the base64 of its sidecars) exists only
      // while it is written, instead of all sixteen at once (peak RSS of a cold run).
      // Under the store's lock, as the verdict cache's flush: two runs flushing at once merge
      // one after the other (src/store/buckets.ts `locked`).
      await store.locked(
        async () => {
          for (const id of ids) await writeBucket(id);
        },
        (why) => warnings.push(`sidecar cache ${store.dir} ${why}`),
      );
      // The run-end flush may start while a session of the same run still retrieves
      // (src/pipeline.ts): what was put meanwhile stays pending, spill file included.
      if (added.size > 0) return;
      batch = []; // all written to the cache: none of it goes to the spill file now
      batchBytes = 0;
      if (spill) closeSync(spill);
      spill = undefined;
      spilled = 0;
    },
  };
  return cache;

  function drop(id: string, sha256: string, why: string): undefined {
    warnings.push(`sidecar cache entry ${sha256} ${why}; it is ignored and removed`);
    loaded.get(id)?.delete(sha256);
    let d = dropped.get(id);
    if (!d) dropped.set(id, (d = new Set()));
    d.add(sha256);
    return undefined;
  }

  async function writeBucket(id: string): Promise<void> {
    // Merge into what is on disk NOW (another run may have written meanwhile). What this
    // write covers (written or given up, as one warning): a put or a drop while it is under
    // way is left for the next flush.
    const adds = new Map(added.get(id));
    const drops = new Set(dropped.get(id));
    const kept = mergeBucket(readBucket(store, id, warnings, dropped), drops, adds, maxPerBucket);
    try {
      // A spill file that cannot be read back fails the write: the bucket on disk stays as it was.
      // One entry at a time: a bucket of new sidecars was built whole (their base64 as strings,
      // then the text), sixteen times at the end of a cold run, and that garbage was the run's
      // peak (measured, cold 10,000 packages, phase marks: +21–24 MB of RSS per cache flush
      // before, none after; docs/performance.md "Memory, round 4").
      await store.write(id, jsonObjectPieces(kept, (v) => (typeof v === 'string' ? v : bytesOf(v).toString('base64'))));
    } catch (e) {
      warnings.push(`sidecar cache ${store.fileOf(id)} not written: ${(e as Error).message}`);
    }
    settle(added, id, adds.keys());
    settle(dropped, id, drops);
  }
}

/** Forget the written `keys` of bucket `id` in `pending`, and the bucket once none is left. */
function settle(pending: Map<string, Map<string, unknown> | Set<string>>, id: string, keys: Iterable<string>): void {
  const m = pending.get(id);
  if (!m) return;
  for (const k of keys) m.delete(k);
  if (m.size === 0) pending.delete(id);
}

/** The directory the sidecar cache of `cacheDir` lives in (tests and tools). */
export function sidecarCacheDir(cacheDir: string): string {
  return join(cacheDir, SUBDIR);
}
