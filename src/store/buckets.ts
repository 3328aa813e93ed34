// One store of keyed bucket files under a directory, shared by the sidecar cache and the
// verdict cache: keys are SHA-256 hex strings, bucket `<first hex digit>` holds every key
// that starts with it, in `<dir>/<digit>.json`. Sixteen files instead of one per entry: a
// cold 1,000-package run creates 16 files rather than 1,000 (measured ~1 s for the
// 1,000 creations, a few ms for 16), and a one-package run reads a sixteenth of the cache.
//
// The store moves text; what a bucket holds (and how entries are checked) is the cache's.
// Reads are synchronous on purpose: a bucket is read once per run, on the verification
// path, where an await per package would cost more than the read. Writes are atomic
// (writeFileAtomic) but not fsynced: a cache write lost to a power cut costs a re-fetch
// or a re-verification, never correctness. A symbolic link planted where a bucket file
// belongs is replaced, never written through.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { acquireFileLock } from './lock.ts';
import { isSha256Hex } from '../util/sha256.ts';


interface BucketStore {
  readonly dir: string;
  /** The bucket a key belongs to (undefined for a key that is not SHA-256 hex). */
  bucketOf(key: string): string | undefined;
  /** The file of bucket `id`. */
  fileOf(id: string): string;
  /**
   * A bucket file's text; undefined when it does not exist. Throws (with a message fit for
   * a warning) when it cannot be read or is larger than `maxFileBytes`.
   */
  readSync(id: string): string | undefined;
  /** The same, without blocking (for the merge at write time). */
  read(id: string): Promise<string | undefined>;
  /** Create the store's directory (call before a round of writes). */
  ensureDir(): Promise<void>;
  /**
   * Replace bucket `id` atomically. Given in pieces, the text is written as they come and
   * never exists whole (the caches' flushes: docs/performance.md "Memory, round 4").
   */
  write(id: string, text: string | Iterable<string>): Promise<void>;
  /**
   * Run `fn` (a flush: read each bucket, merge, write it) holding the store's lock, so that
   * two runs flushing at once merge one after the other. Without it both read a bucket before
   * either wrote it, and the second rename dropped the first run's entries: its packages were
   * verified again by the next warm run although nothing had changed (docs/performance.md
   * "Warm runs, round 6"). When the lock cannot be had (held past `LOCK_WAIT_MS`, or not
   * creatable) `fn` runs anyway and `unlocked` says why: a lost entry costs a re-verification,
   * never a wrong hit (every bucket is still written whole and under its MAC). Cost: the
   * lock taken and released, ~0.4 ms of CPU per flush (median of 50); a warm run flushes nothing.
   */
  locked<T>(fn: () => Promise<T>, unlocked: (why: string) => void): Promise<T>;
}

interface BucketStoreOptions {
  /** A bucket file larger than this is not read: a planted huge file must not be slurped. */
  maxFileBytes?: number;
}

/**
 * `JSON.stringify` of `entries` as one object, byte for byte, one entry at a time, `value`
 * giving each entry's JSON value as it is reached: a bucket's text never exists whole (the
 * caches' flushes, docs/performance.md "Memory, round 4").
 */
export function* jsonObjectPieces<V>(entries: readonly (readonly [string, V])[], value: (v: V) => unknown = (v) => v): Generator<string> {
  yield '{';
  for (let i = 0; i < entries.length; i++) yield `${i === 0 ? '' : ','}${JSON.stringify(entries[i]![0])}:${JSON.stringify(value(entries[i]![1]))}`;
  yield '}';
}

/** No such file, or a path through a non-directory (the cache directory is a file): nothing stored. */
const absent = (e: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
/** How long a flush waits for another run's (a cold 10,000-package run's flushes take ~1 s). */
const LOCK_WAIT_MS = 15_000;
/** A flush lock older than this is stale even if its holder's pid lives (pid reuse, another host). */
const LOCK_STALE_MS = 120_000;

export function openBucketStore(dir: string, o: BucketStoreOptions = {}): BucketStore {
  const max = o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const fileOf = (id: string) => join(dir, `${id}.json`);
  const tooLarge = (id: string) => new Error(`${fileOf(id)} is larger than ${max} bytes`);
  return {
    dir,
    bucketOf: (key) => (isSha256Hex(key) ? key[0] : undefined),
    fileOf,
    readSync(id) {
      let fd: number;
      try {
        fd = openSync(fileOf(id), 'r');
      } catch (e) {
        if (absent(e)) return undefined;
        throw e;
      }
      try {
        if (fstatSync(fd).size > max) throw tooLarge(id);
        return readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    },
    async read(id) {
      let fh;
      try {
        fh = await open(fileOf(id), 'r');
      } catch (e) {
        if (absent(e)) return undefined;
        throw e;
      }
      try {
        if ((await fh.stat()).size > max) throw tooLarge(id);
        return await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    },
    async ensureDir() {
      await mkdir(dir, { recursive: true });
    },
    async write(id, text) {
      await writeFileAtomic(fileOf(id), text, { durable: false, followLinks: false });
    },
    async locked(fn, unlocked) {
      let lock;
      try {
        lock = await acquireFileLock(join(dir, 'flush'), {
          waitMs: LOCK_WAIT_MS,
          staleMs: LOCK_STALE_MS,
          busy: (path, holder) => new Error(`${path} is held${holder ? ` by pid ${holder.pid} on ${holder.host}` : ''}`),
          cannotCreate: (path, e) => new Error(`${path} cannot be created: ${(e as Error).message}`),
        });
      } catch (e) {
        unlocked(`written without its lock (${(e as Error).message}): a run flushing at the same moment may drop some of its entries`);
        return fn();
      }
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    },
  };
}
