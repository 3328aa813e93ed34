// The repodata store's disk cache (cacheDir/repodata/): files named by a hash of the URL
// they hold, JSON files checked before they are trusted, and writes that never fail a run
// (the cache is an optimisation). Layout: the module comment of ./repodata.ts.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';
import { sha256Hex } from '../util/sha256.ts';

/** Format of the JSON files the store writes (shard index, source memo). */
export const CACHE_FORMAT = 1;

export interface RepodataDisk {
  /** False without a disk cache: nothing is read or written. */
  readonly enabled: boolean;
  /** `<root>/<hash of key><suffix>`; undefined without a disk cache. */
  path(key: string, suffix: string): string | undefined;
  /** A content-addressed shard: `<root>/shards/<sha256>.msgpack.zst`. */
  shardPath(hex: string): string | undefined;
  /** A JSON file, when it exists, parses and passes `ok`. */
  readJson<T>(path: string | undefined, ok: (c: T) => boolean): Promise<T | undefined>;
  /** Write atomically, best effort. */
  write(path: string | undefined, data: string | Uint8Array | Iterable<string>): Promise<void>;
  /** Milliseconds since the file was last written (its download), or undefined. */
  ageMs(path: string): Promise<number | undefined>;
}

export function openRepodataDisk(cacheDir: string | undefined, now: () => number): RepodataDisk {
  const root = cacheDir ? join(cacheDir, 'repodata') : undefined;
  return {
    enabled: root !== undefined,
    path: (key, suffix) => (root ? join(root, sha256Hex(key).slice(0, 32) + suffix) : undefined),
    shardPath: (hex) => (root ? join(root, 'shards', `${hex}.msgpack.zst`) : undefined),
    async readJson<T>(path: string | undefined, ok: (c: T) => boolean) {
      if (!path) return undefined;
      try {
        const c = JSON.parse(await readFile(path, 'utf8')) as T;
        return ok(c) ? c : undefined;
      } catch {
        return undefined;
      }
    },
    async write(path, data) {
      if (!path) return;
      // The cache is an optimisation: failing to write it must not fail verification.
      await writeFileAtomic(path, data, { mkdirs: true, durable: false, followLinks: false }).catch(() => {});
    },
    ageMs: (path) => stat(path).then((st) => Math.max(0, now() - st.mtimeMs), () => undefined),
  };
}
