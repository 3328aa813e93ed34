// Sidecar cache by content hash (issue 6). CEP 50 sidecars are content-addressed: the
// repodata's `attestations_sha256` names the exact bytes, and a changed hash means new
// attestations were appended. So a sidecar fetched once never needs fetching again — as
// long as the bytes read back are the bytes named: every `get` re-hashes (CEP 50: check the
// SHA-256 before parsing), and a file that does not match is deleted and reported as a
// miss, never returned.
//
// Layout: `<cacheDir>/sidecars-v1/<sha[0..2]>/<sha256>` (256-way fan-out keeps
// directories small at 10,000+ sidecars). Written atomically (temp file + rename), so a
// reader sees the whole file or none; two writers of the same hash write the same bytes.
// The same threat model as the verdict cache: whoever can write to cache_dir is out of
// scope, but the re-hash means even they can only make us re-fetch, never accept other bytes.
import { createHash, randomBytes } from 'node:crypto';
import { openSync, closeSync, fstatSync, readSync, rmSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SUBDIR = 'sidecars-v1';
const HEX64 = /^[0-9a-f]{64}$/;
/** Same default as config `max_sidecar_bytes`. */
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

export interface SidecarCache {
  /** The sidecar bytes whose SHA-256 is `sha256`, or undefined (absent, unreadable, or not matching). */
  get(sha256: string): Buffer | undefined;
  /**
   * Store `bytes` under their hash. Throws TypeError when `sha256` is not their SHA-256 (a
   * caller bug: the cache must never hold bytes under another name). I/O failures are
   * swallowed into `warnings`: a cache that cannot be written only costs a re-fetch.
   */
  put(sha256: string, bytes: Buffer): void;
  /**
   * Wait for the writes `put` started. Writes run in the background (a few at a time) so
   * that a cold run's file-system latency overlaps with its network and verification work
   * instead of blocking the event loop. Never rejects.
   */
  flush(): Promise<void>;
  readonly warnings: string[];
}

/** Background writes in flight at once. */
const WRITE_CONCURRENCY = 4;

export interface SidecarCacheOptions {
  /** Files larger than this are not read (and are deleted). Default 10 MiB. */
  maxBytes?: number;
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function openSidecarCache(cacheDir: string, opts: SidecarCacheOptions = {}): SidecarCache {
  const root = join(cacheDir, SUBDIR);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const warnings: string[] = [];
  const made = new Set<string>();
  // Puts not yet on disk (served from memory meanwhile), the write queue and its waiters.
  const pending = new Map<string, Buffer>();
  const queue: string[] = [];
  const idle: (() => void)[] = [];
  let running = 0;
  const pathOf = (sha: string) => join(root, sha.slice(0, 2), sha);

  function drop(path: string, why: string): undefined {
    warnings.push(`sidecar cache ${path} ${why}; it is ignored and removed`);
    try {
      rmSync(path, { force: true });
    } catch {
      /* read-only cache: the re-hash still protects every read */
    }
    return undefined;
  }

  const cache: SidecarCache = {
    warnings,
    get(sha256) {
      if (!HEX64.test(sha256)) return undefined;
      const unwritten = pending.get(sha256);
      if (unwritten) return unwritten;
      const path = pathOf(sha256);
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch {
        return undefined;
      }
      try {
        // Size check before reading: a planted huge file must not be slurped into memory.
        const size = fstatSync(fd).size;
        if (size > maxBytes) return drop(path, `is larger than ${maxBytes} bytes`);
        const buf = Buffer.allocUnsafe(size);
        let off = 0;
        while (off < size) {
          const n = readSync(fd, buf, off, size - off, off);
          if (n === 0) break;
          off += n;
        }
        const bytes = off === size ? buf : buf.subarray(0, off);
        if (sha256Hex(bytes) !== sha256) return drop(path, 'does not match its SHA-256');
        return bytes;
      } catch (e) {
        warnings.push(`sidecar cache ${path} unreadable: ${(e as Error).message}`);
        return undefined;
      } finally {
        closeSync(fd);
      }
    },
    put(sha256, bytes) {
      if (!HEX64.test(sha256) || sha256Hex(bytes) !== sha256) {
        throw new TypeError('sidecar cache: the bytes do not have the given SHA-256');
      }
      if (bytes.length > maxBytes || pending.has(sha256)) return;
      pending.set(sha256, bytes);
      queue.push(sha256);
      pump();
    },
    async flush() {
      while (pending.size > 0 || running > 0) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
  return cache;

  function pump(): void {
    while (running < WRITE_CONCURRENCY && queue.length > 0) {
      const sha = queue.shift()!;
      running++;
      void write(sha, pending.get(sha)!).finally(() => {
        pending.delete(sha);
        running--;
        pump();
        if (running === 0 && queue.length === 0) for (const wake of idle.splice(0)) wake();
      });
    }
  }

  async function write(sha256: string, bytes: Buffer): Promise<void> {
    const path = pathOf(sha256);
    const dir = join(root, sha256.slice(0, 2));
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    } catch (e) {
      warnings.push(`sidecar cache ${path} not written: ${(e as Error).message}`);
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}

/** The directory the sidecar cache of `cacheDir` lives in (tests and tools). */
export function sidecarCacheDir(cacheDir: string): string {
  return join(cacheDir, SUBDIR);
}
