// Repodata store: fetches `<channel>/<subdir>/repodata.json` once per (channel, subdir) per
// run — concurrent callers share one in-flight promise, and a failure is remembered for
// the run too — and keeps only a compact index. On disk (cacheDir/repodata/) it stores that
// index with the ETag / Last-Modified / max-age of the answer, so the next run sends a
// conditional request and a 304 costs no parsing at all.
//
// Errors: 404 → REPODATA_UNAVAILABLE whose `cause` is the HTTP_NOT_FOUND HttpError
// (`isRepodataMissing`): the channel publishes no repodata here, so nothing is advertised
// through it and discovery goes on with the probe methods. Any other failure (5xx after
// retries, timeout, oversized, malformed) is also REPODATA_UNAVAILABLE / REPODATA_MALFORMED
// and is a retrieval failure: we cannot tell whether attestations are advertised.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpError, isAttestError, RepodataError } from '../errors.ts';
import type { CacheValidators, HttpClient } from '../http/client.ts';
import { indexRepodata, type RawRepodataEntry, type RepodataIndex } from './repodata-index.ts';

export interface RepodataEntry {
  /** CEP 50 `attestations_sha256`, validated: 64 lowercase hex. */
  attestationsSha256?: string;
  sha256?: string;
  size?: number;
  md5?: string;
}

export interface RepodataStore {
  /**
   * The package's record, or undefined when repodata has no such package. Throws
   * RepodataError (see module comment), including REPODATA_INVALID_ATTESTATIONS_SHA256
   * for this package only.
   */
  lookup(channel: string, subdir: string, filename: string): Promise<RepodataEntry | undefined>;
  /** Repodata documents requested from the network this run (304s included). */
  readonly stats: { fetches: number; notModified: number };
}

export interface RepodataStoreOptions {
  http: HttpClient;
  /** Directory for the on-disk cache; no disk cache when absent. */
  cacheDir?: string;
  /** Cap on one repodata.json (decoded), default 1 GiB. */
  maxBytes?: number;
}

const ATTESTATIONS_SHA256_RE = /^[0-9a-f]{64}$/;
const CACHE_FORMAT = 1;

interface CacheFile {
  format: number;
  url: string;
  validators: CacheValidators;
  packages: Record<string, RawRepodataEntry>;
  conda: Record<string, RawRepodataEntry>;
}

export function repodataUrl(channel: string, subdir: string): string {
  return `${channel.replace(/\/+$/, '')}/${subdir}/repodata.json`;
}

/** True when the error says the channel has no repodata.json at all (HTTP 404). */
export function isRepodataMissing(e: unknown): boolean {
  return e instanceof RepodataError && e.code === 'REPODATA_UNAVAILABLE' && e.cause instanceof HttpError && e.cause.code === 'HTTP_NOT_FOUND';
}

/** Pure: validate one raw entry into what callers may use. */
export function entryFromRaw(raw: RawRepodataEntry, filename: string, url: string): RepodataEntry {
  const e: RepodataEntry = {};
  if (raw.sha256 !== undefined) e.sha256 = raw.sha256;
  if (raw.md5 !== undefined) e.md5 = raw.md5;
  if (raw.size !== undefined) e.size = raw.size;
  if (raw.att !== undefined) {
    // CEP 50: exactly 64 lowercase hex, rejected before any URL is built from it.
    if (typeof raw.att !== 'string' || !ATTESTATIONS_SHA256_RE.test(raw.att)) {
      throw new RepodataError(
        'REPODATA_INVALID_ATTESTATIONS_SHA256',
        `${url} gives ${filename} the invalid attestations_sha256 ${JSON.stringify(raw.att).slice(0, 100)}.`,
        { hint: 'attestations_sha256 must be 64 lowercase hex characters; report this to the channel.' },
      );
    }
    e.attestationsSha256 = raw.att;
  }
  return e;
}

export function createRepodataStore(opts: RepodataStoreOptions): RepodataStore {
  const maxBytes = opts.maxBytes ?? 1 << 30;
  const inflight = new Map<string, Promise<RepodataIndex>>();
  const stats = { fetches: 0, notModified: 0 };

  function cachePath(url: string): string | undefined {
    if (!opts.cacheDir) return undefined;
    return join(opts.cacheDir, 'repodata', createHash('sha256').update(url).digest('hex').slice(0, 32) + '.json');
  }

  async function readCache(path: string | undefined, url: string): Promise<CacheFile | undefined> {
    if (!path) return undefined;
    try {
      const c = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
      // A cache from another format or for another URL (hash collision) is ignored, not trusted.
      if (c.format !== CACHE_FORMAT || c.url !== url || typeof c.packages !== 'object' || typeof c.conda !== 'object') return undefined;
      return c;
    } catch {
      return undefined;
    }
  }

  async function writeCache(path: string | undefined, c: CacheFile): Promise<void> {
    if (!path) return;
    // The cache is an optimisation: failing to write it must not fail verification.
    try {
      await mkdir(join(path, '..'), { recursive: true });
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, JSON.stringify(c));
      await rename(tmp, path);
    } catch {
      /* best effort */
    }
  }

  async function load(channel: string, subdir: string): Promise<RepodataIndex> {
    const url = repodataUrl(channel, subdir);
    const path = cachePath(url);
    const cached = await readCache(path, url);
    stats.fetches++;
    let res;
    try {
      res = await opts.http.getCached(url, cached?.validators, { maxBytes });
    } catch (e) {
      const status = e instanceof HttpError ? e.status : undefined;
      throw new RepodataError('REPODATA_UNAVAILABLE', `${url} could not be fetched: ${isAttestError(e) ? e.message : String(e)}`, {
        hint: 'Check the channel URL and the network; without repodata the advertised attestations cannot be known.',
        cause: e,
        details: status === undefined ? undefined : { status },
      });
    }
    if (res.notModified && cached) {
      stats.notModified++;
      if (res.validators.expiresAt !== cached.validators.expiresAt) await writeCache(path, { ...cached, validators: res.validators });
      return { tarBz2: new Map(Object.entries(cached.packages)), conda: new Map(Object.entries(cached.conda)) };
    }
    const index = indexRepodata(res.body ?? Buffer.alloc(0), url);
    await writeCache(path, {
      format: CACHE_FORMAT,
      url,
      validators: res.validators,
      packages: Object.fromEntries(index.tarBz2),
      conda: Object.fromEntries(index.conda),
    });
    return index;
  }

  return {
    stats,
    async lookup(channel, subdir, filename) {
      const key = repodataUrl(channel, subdir);
      let p = inflight.get(key);
      if (!p) {
        p = load(channel, subdir);
        inflight.set(key, p);
      }
      const index = await p;
      const map = filename.endsWith('.conda') ? index.conda : index.tarBz2;
      const raw = map.get(filename);
      return raw === undefined ? undefined : entryFromRaw(raw, filename, key);
    },
  };
}
