// Repodata store: answers `lookup(channel, subdir, filename)` from the cheapest source the
// channel publishes for that subdir, in this order of preference:
//
//   1. CEP 16 sharded repodata: `<subdir>/repodata_shards.msgpack.zst` (name → shard
//      SHA-256), then only the shards of the package NAMES looked up,
//      `<shards_base_url><sha256>.msgpack.zst`;
//   2. `<subdir>/repodata.json.zst`;
//   3. `<subdir>/repodata.json`.
//
// A source counts as "not published" only on 404 (or 403, which S3-style hosts send for
// a missing key) for the two optional formats; every other failure is reported, because
// then we cannot tell what is advertised (CEP 50: a retrieval failure, never "none").
// The three sources are equally authoritative (same channel), so falling back is never a
// downgrade an attacker could exploit.
//
// Once per run: each (channel, subdir) resolves its source once — concurrent callers
// share one in-flight promise and a failure is remembered for the run — and each shard
// is fetched once. Probing is per subdir (CEP 16 and `.zst` are published per subdir,
// and a probe is one small request); which source answered is remembered on disk for
// `probeTtlMs` (default 1 h), so a warm run goes straight to it instead of re-probing.
//
// Memory: a repodata.json(.zst) is scanned as it streams in (zstd decoded on the way,
// ./repodata-index.ts), keeping only the records of the files this run looks up (`want`,
// and lookups made before the download starts); every record goes to the record list on
// disk, from which any later lookup is answered. So peak memory does not grow with the
// document: a 200 MB repodata.json, or a bomb of valid records up to the decode cap, costs
// the same as a small one. Without a disk cache every record is kept (compact).
//
// On disk (cacheDir/repodata/):
//   - `<key>.records`       every record of a repodata.json(.zst), compact, one per line
//                           (./records-file.ts), and `<key>.meta.json` its ETag/Last-Modified;
//   - `<key>.shards.json`   the shard index (compressed bytes) + ETag/Last-Modified;
//   - `shards/<sha256>.msgpack.zst`  shards, content-addressed: reused without any
//     request, and re-hashed on every read (a corrupt entry is ignored, never trusted);
//   - `<key>.source.json`   which source answered last, and when.
//
// Errors: repodata.json 404 (after the optional formats were absent too) →
// REPODATA_UNAVAILABLE whose `cause` is the HTTP_NOT_FOUND HttpError (`isRepodataMissing`):
// the channel publishes no repodata here, so discovery goes on with the probe methods. A
// shard named by the index that cannot be fetched (404 included) is
// REPODATA_SHARD_UNAVAILABLE and one whose bytes do not hash to the index's SHA-256 is
// REPODATA_SHARD_MISMATCH: the index says the package has a record, so both are retrieval
// failures, never "missing".
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { couldNotFetch, HttpError, outageOf, RepodataError } from '../errors.ts';
import type { CacheValidators, HttpClient } from '../http/client.ts';
import { parsePackageFilename } from '../targets/package-url.ts';
import { describe, emptyIndex, entryFromRaw, isRepodataMissing, RepodataScanner, sectionOf, type RawRepodataEntry, type RepodataEntry, type RepodataIndex } from './repodata-index.ts';

export { entryFromRaw, isRepodataMissing } from './repodata-index.ts';
import { indexRecords, openRecordsWriter, readRecords, readRecordsAt, RECORDS_FORMAT, type RecordOffsets } from './records-file.ts';
import type { ShardIndex } from './shards.ts';
import { decompressZstd, zstdChunks } from './zstd.ts';
import { writeFileAtomic } from '../store/atomic.ts';

/** Where a subdir's records came from. */
type RepodataSource = 'shards' | 'zst' | 'json';

interface RepodataStats {
  /** Repodata documents (shard index, repodata.json.zst, repodata.json) requested, 304s and 404 probes included. */
  fetches: number;
  notModified: number;
  /** Shards downloaded. */
  shardFetches: number;
  /** Shards answered from the disk cache. */
  shardCacheHits: number;
  /** Body bytes received for repodata documents and shards (as transferred, before zstd). */
  bytes: number;
  /** Whole passes over a record list on disk for lookups the first read did not keep. */
  recordListScans: number;
}

/** Repodata served from the disk cache because the channel could not be reached. */
export interface StaleRepodata {
  channel: string;
  subdir: string;
  /** The document the cached copy is of. */
  url: string;
  /** Age of the cached copy (since it was downloaded), ms. */
  ageMs: number;
  /** Why the channel could not be reached (the HTTP error's message). */
  cause: string;
}

export interface RepodataStore {
  /**
   * The package's record, or undefined when repodata has no such package. Throws
   * RepodataError (see module comment), including REPODATA_INVALID_ATTESTATIONS_SHA256
   * for this package only.
   */
  lookup(channel: string, subdir: string, filename: string): Promise<RepodataEntry | undefined>;
  /**
   * The packages this run will look up, before the first lookup: a repodata document is
   * read once, keeping only these records (and the lookups made meanwhile). A lookup of
   * any other file is answered from the disk cache's record list (or a new download).
   */
  want?(records: readonly { channel: string; subdir: string; filename: string }[]): void;
  /** The source that answered for (channel, subdir) this run, once it is known. */
  sourceOf(channel: string, subdir: string): RepodataSource | undefined;
  readonly stats: RepodataStats;
  /** Subdirs answered from the disk cache because their channel was unreachable, this run. */
  stale(): StaleRepodata[];
}

export interface RepodataStoreOptions {
  http: HttpClient;
  /** Directory for the on-disk cache; no disk cache when absent. */
  cacheDir?: string;
  /** Cap on one repodata.json (decoded; also the decompressed repodata.json.zst), default 1 GiB. */
  maxBytes?: number;
  /** Cap on one shard index or shard, downloaded and decompressed, default 64 MiB. */
  maxShardBytes?: number;
  /** How long the source that answered is trusted to still be the best one, default 1 h. */
  probeTtlMs?: number;
  /** Use CEP 16 shards when published (default true). */
  shards?: boolean;
  /** Use repodata.json.zst when published (default true). */
  zst?: boolean;
  /** Clock, for tests. */
  now?: () => number;
}

const CACHE_FORMAT = 1;

/**
 * `<key>.meta.json`: validators of the record list `<key>.records` (./records-file.ts)
 * of one download, which `id` names in both files.
 */
interface MetaFile {
  format: number;
  url: string;
  id: string;
  validators: CacheValidators;
}

interface ShardIndexCacheFile {
  format: number;
  url: string;
  validators: CacheValidators;
  /** The index as downloaded (zstd), base64. */
  body: string;
}

interface SourceMemo {
  format: number;
  key: string;
  source: RepodataSource;
  at: number;
}

/** A repodata.json(.zst): the records kept in memory, and where the others can be read. */
interface FullSource {
  kind: 'full';
  from: 'zst' | 'json';
  url: string;
  index: RepodataIndex;
  /** Filenames whose lookups `index` answers (present or not); undefined: every record is kept. */
  covered?: Set<string>;
  /** The complete record list on disk, when it was written. */
  records?: { path: string; url: string; id: string };
  /** Lookups not covered, waiting for the next read of the record list. */
  missing: Set<string>;
  refill?: Promise<void>;
  /** Where each record of `records` is, from the first read after a miss (see indexRecords). */
  offsets?: Promise<RecordOffsets | undefined>;
}

type Source = FullSource | { kind: 'sharded'; url: string; index: ShardIndex };

/** A probe for an optional format found nothing: try the next source. */
class Absent {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

function repodataUrl(channel: string, subdir: string): string {
  return `${channel.replace(/\/+$/, '')}/${subdir}/repodata.json`;
}

function repodataZstUrl(channel: string, subdir: string): string {
  return `${repodataUrl(channel, subdir)}.zst`;
}

function shardIndexUrl(channel: string, subdir: string): string {
  return `${channel.replace(/\/+$/, '')}/${subdir}/repodata_shards.msgpack.zst`;
}

/** `<shards_base_url><sha256 hex>.msgpack.zst` (CEP 16). */
export function shardUrl(index: ShardIndex, sha256Hex: string): string {
  return `${index.shardsBaseUrl}${sha256Hex}.msgpack.zst`;
}

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// The msgpack decoder is loaded only for channels that publish shards (start-up time).
let shardsModule: Promise<typeof import('./shards.ts')> | undefined;
const loadShardsModule = (): Promise<typeof import('./shards.ts')> => (shardsModule ??= import('./shards.ts'));


/** Pure: the package name a lookup needs to find its shard, or undefined for a name no repodata can hold. */
function packageNameOf(filename: string): string | undefined {
  try {
    return parsePackageFilename(filename).name;
  } catch {
    return undefined;
  }
}

function unavailable(url: string, e: unknown): RepodataError | HttpError {
  if (e instanceof RepodataError) return e;
  // Offline mode sent nothing: the row says so with its own code, not as a channel failure.
  if (e instanceof HttpError && e.code === 'HTTP_OFFLINE') return e;
  const status = e instanceof HttpError ? e.status : undefined;
  return new RepodataError('REPODATA_UNAVAILABLE', couldNotFetch(url, e), {
    hint: 'Check the channel URL and the network; without repodata the advertised attestations cannot be known.',
    cause: e,
    details: status === undefined ? undefined : { status },
  });
}

/**
 * The channel could not be reached (connection failure, stall, timeout, 5xx, 408/429, or
 * offline mode): then cached repodata may answer. Sound because the cache holds what the channel served
 * earlier, sidecars are content-addressed (CEP 50 attestations_sha256) and every bundle is
 * still verified against the package digest; a 404 or a malformed answer is not an outage.
 */
function unreachable(e: unknown): boolean {
  if (!(e instanceof HttpError)) return false;
  if (e.code === 'HTTP_CONNECTION_FAILED' || e.code === 'HTTP_TIMEOUT' || e.code === 'HTTP_OFFLINE') return true;
  return e.code === 'HTTP_STATUS' && e.status !== undefined && (e.status >= 500 || e.status === 408 || e.status === 429);
}

/** 404, or 403 (S3 answers 403 for a key that does not exist when listing is not allowed). */
function notPublished(e: unknown): boolean {
  return e instanceof HttpError && (e.code === 'HTTP_NOT_FOUND' || e.status === 403);
}

export function createRepodataStore(opts: RepodataStoreOptions): RepodataStore {
  const maxBytes = opts.maxBytes ?? 1 << 30;
  const maxShardBytes = opts.maxShardBytes ?? 64 << 20;
  const probeTtlMs = opts.probeTtlMs ?? 3_600_000;
  const now = opts.now ?? Date.now;
  const preference: RepodataSource[] = [...(opts.shards === false ? [] : ['shards' as const]), ...(opts.zst === false ? [] : ['zst' as const]), 'json'];
  const sources = new Map<string, Promise<Source>>();
  const resolved = new Map<string, RepodataSource>();
  const shardLoads = new Map<string, Promise<RepodataIndex>>();
  /** Per (channel, subdir): the files this run looks up (see `want`). */
  const wanted = new Map<string, Set<string>>();
  const stats: RepodataStats = { fetches: 0, notModified: 0, shardFetches: 0, shardCacheHits: 0, bytes: 0, recordListScans: 0 };
  const staleServed: StaleRepodata[] = [];

  const cacheRoot = opts.cacheDir ? join(opts.cacheDir, 'repodata') : undefined;
  const keyOf = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);
  const cachePath = (url: string, suffix: string): string | undefined => (cacheRoot ? join(cacheRoot, keyOf(url) + suffix) : undefined);

  async function readJson<T>(path: string | undefined, ok: (c: T) => boolean): Promise<T | undefined> {
    if (!path) return undefined;
    try {
      const c = JSON.parse(await readFile(path, 'utf8')) as T;
      return ok(c) ? c : undefined;
    } catch {
      return undefined;
    }
  }

  async function writeAtomic(path: string | undefined, data: string | Uint8Array | Iterable<string>): Promise<void> {
    if (!path) return;
    // The cache is an optimisation: failing to write it must not fail verification.
    try {
      await writeFileAtomic(path, data, { mkdirs: true, durable: false, followLinks: false });
    } catch {
      /* best effort */
    }
  }

  const subdirKey = (channel: string, subdir: string): string => `${channel.replace(/\/+$/, '')}/${subdir}`;
  const wantedOf = (key: string): Set<string> => {
    let w = wanted.get(key);
    if (!w) wanted.set(key, (w = new Set()));
    return w;
  };
  /**
   * Which records a read of (channel, subdir) keeps: the files wanted so far. Without a disk
   * cache there is no record list to come back to, so every record is kept (compact).
   */
  const keepFor = (key: string) => (): Set<string> | undefined => (cacheRoot ? new Set(wantedOf(key)) : undefined);
  const metaOk = (url: string) => (m: MetaFile): boolean =>
    m.format === RECORDS_FORMAT && m.url === url && typeof m.id === 'string' && typeof m.validators === 'object' && m.validators !== null;

  /**
   * One download of a repodata.json(.zst), scanned as it streams in (zstd decoded on the
   * way): the records of `keep` (all when undefined) are kept, every record goes to the
   * record list on disk. Neither the document nor its records exist whole in memory.
   */
  async function scanDocument(
    body: AsyncIterable<Buffer>,
    from: 'zst' | 'json',
    url: string,
    keep: Set<string> | undefined,
    recordsPath: string | undefined,
    id: string,
  ): Promise<{ index: RepodataIndex; written: boolean }> {
    const index = emptyIndex();
    if (recordsPath) await mkdir(join(recordsPath, '..'), { recursive: true }).catch(() => {});
    const writer = recordsPath ? await openRecordsWriter(recordsPath, { url, id }) : undefined;
    const scanner = new RepodataScanner(url, (section, filename, entry) => {
      writer?.add(section, filename, entry);
      if (!keep || (keep.has(filename) && sectionOf(filename) === section)) index[section].set(filename, entry);
    });
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const c of body) {
        stats.bytes += c.length;
        yield c;
      }
    }
    try {
      for await (const chunk of from === 'zst' ? zstdChunks(counted(), maxBytes, url) : counted()) {
        scanner.push(chunk);
        if (writer) await writer.drain();
      }
      scanner.end();
    } catch (e) {
      await writer?.abort();
      throw e;
    }
    return { index, written: writer ? await writer.commit() : false };
  }

  /**
   * repodata.json or repodata.json.zst → the records wanted (see keepFor), revalidated
   * against the disk cache's validators. `fresh`: ignore the disk cache (it was unreadable).
   */
  async function loadFull(channel: string, subdir: string, from: 'zst' | 'json', fresh = false): Promise<FullSource | Absent> {
    const url = from === 'zst' ? repodataZstUrl(channel, subdir) : repodataUrl(channel, subdir);
    const keep = keepFor(subdirKey(channel, subdir));
    const metaPath = cachePath(url, '.meta.json');
    const recordsPath = cachePath(url, '.records');
    // A cache of another format or for another URL (hash collision) is ignored, not trusted.
    const meta = fresh ? undefined : await readJson<MetaFile>(metaPath, metaOk(url));
    stats.fetches++;
    const id = randomUUID();
    let res;
    let names: Set<string> | undefined;
    try {
      res = await opts.http.getCachedStream(url, meta?.validators, { maxBytes }, (body) => {
        names = keep();
        return scanDocument(body, from, url, names, recordsPath, id);
      });
    } catch (e) {
      if (from === 'zst' && notPublished(e)) return new Absent(e);
      throw unavailable(url, e);
    }
    if (res.notModified) {
      stats.notModified++;
      names = keep();
      const index = meta && recordsPath ? await readRecords(recordsPath, meta, names ?? []) : undefined;
      // Our own cached copy is unreadable: fetch the document again, once.
      if (!index || !meta || !recordsPath) return loadFull(channel, subdir, from, true);
      if (res.validators.expiresAt !== meta.validators.expiresAt) await writeAtomic(metaPath, JSON.stringify({ ...meta, validators: res.validators }));
      return { kind: 'full', from, url, index, covered: names, records: { path: recordsPath, url, id: meta.id }, missing: new Set() };
    }
    const { index, written } = res.value;
    if (written && recordsPath) {
      await writeAtomic(metaPath, JSON.stringify({ format: RECORDS_FORMAT, url, id, validators: res.validators } satisfies MetaFile));
      // The single-file cache of earlier versions (the whole index as one JSON document).
      const legacy = cachePath(url, '.json');
      if (legacy) await unlink(legacy).catch(() => {});
    }
    return { kind: 'full', from, url, index, covered: names, records: written && recordsPath ? { path: recordsPath, url, id } : undefined, missing: new Set() };
  }

  /**
   * Lookups of files the source's records were not read for: read them from the record
   * list on disk (or, when it cannot be read, download the document again), in one pass
   * for every lookup made meanwhile.
   */
  async function cover(src: FullSource, channel: string, subdir: string, filename: string): Promise<void> {
    while (src.covered && !src.covered.has(filename)) {
      src.missing.add(filename);
      src.refill ??= refill(src, channel, subdir).finally(() => (src.refill = undefined));
      await src.refill;
    }
  }

  async function refill(src: FullSource, channel: string, subdir: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const names = new Set(src.missing);
    src.missing.clear();
    for (const n of names) wantedOf(subdirKey(channel, subdir)).add(n);
    // The first miss reads the whole list once and keeps where each record is; every later
    // miss (a plugin host asks package by package) is then one positioned read per record.
    let found: RepodataIndex | undefined;
    if (src.records) {
      const records = src.records;
      src.offsets ??= (stats.recordListScans++, indexRecords(records.path, records));
      const offsets = await src.offsets;
      found = offsets ? await readRecordsAt(records.path, offsets, names) : undefined;
      if (!found) src.offsets = undefined;
    }
    if (!found) {
      const again = await loadFull(channel, subdir, src.from, true);
      if (again instanceof Absent) throw unavailable(src.url, again.error);
      found = again.index;
      src.records = again.records;
      src.offsets = undefined;
    }
    for (const section of ['tarBz2', 'conda'] as const) for (const [f, e] of found[section]) src.index[section].set(f, e);
    for (const n of names) src.covered!.add(n);
  }

  /**
   * The cached copy of one source, without any request (the channel is unreachable), or
   * undefined. Its age is the cache file's modification time: when it was last downloaded.
   */
  async function fromCacheOnly(channel: string, subdir: string, s: RepodataSource): Promise<{ source: Source; ageMs: number } | undefined> {
    const url = s === 'shards' ? shardIndexUrl(channel, subdir) : s === 'zst' ? repodataZstUrl(channel, subdir) : repodataUrl(channel, subdir);
    // Its age is that of the download: the record list (or shard index) file.
    const path = cachePath(url, s === 'shards' ? '.shards.json' : '.records');
    if (!path) return undefined;
    const mtime = await stat(path).then((st) => st.mtimeMs, () => undefined);
    if (mtime === undefined) return undefined;
    const ageMs = Math.max(0, now() - mtime);
    if (s === 'shards') {
      const c = await readJson<ShardIndexCacheFile>(path, (c) => c.format === CACHE_FORMAT && c.url === url && typeof c.body === 'string');
      if (!c) return undefined;
      try {
        const { parseShardIndex } = await loadShardsModule();
        const parsed = parseShardIndex(await decompressZstd(Buffer.from(c.body, 'base64'), maxShardBytes, url), url, subdir);
        return parsed.ok ? { source: { kind: 'sharded', url, index: parsed.index }, ageMs } : undefined;
      } catch {
        return undefined;
      }
    }
    const meta = await readJson<MetaFile>(cachePath(url, '.meta.json'), metaOk(url));
    if (!meta) return undefined;
    const names = keepFor(subdirKey(channel, subdir))();
    const index = await readRecords(path, meta, names ?? []);
    if (!index) return undefined;
    return { source: { kind: 'full', from: s, url, index, covered: names, records: { path, url, id: meta.id }, missing: new Set() }, ageMs };
  }

  /** The CEP 16 shard index (cached as downloaded, with validators). */
  async function loadShardIndex(channel: string, subdir: string): Promise<Source | Absent> {
    const url = shardIndexUrl(channel, subdir);
    const path = cachePath(url, '.shards.json');
    let cached = await readJson<ShardIndexCacheFile>(path, (c) => c.format === CACHE_FORMAT && c.url === url && typeof c.body === 'string');
    for (;;) {
      stats.fetches++;
      let res;
      try {
        res = await opts.http.getCached(url, cached?.validators, { maxBytes: maxShardBytes });
      } catch (e) {
        if (notPublished(e)) return new Absent(e);
        throw unavailable(url, e);
      }
      let body: Buffer;
      if (res.notModified && cached) {
        stats.notModified++;
        body = Buffer.from(cached.body, 'base64');
      } else {
        body = res.body ?? Buffer.alloc(0);
        stats.bytes += body.length;
      }
      let parsed;
      try {
        const { parseShardIndex } = await loadShardsModule();
        parsed = parseShardIndex(await decompressZstd(body, maxShardBytes, url), url, subdir);
      } catch (e) {
        // Our own cached copy is unreadable: ignore it and fetch the index again, once.
        if (res.notModified && cached) {
          cached = undefined;
          continue;
        }
        throw e;
      }
      if (!parsed.ok) return new Absent(new RepodataError('REPODATA_MALFORMED', `${url} has unsupported version ${describe(parsed.unsupportedVersion)}.`));
      if (!res.notModified || res.validators.expiresAt !== cached?.validators.expiresAt) {
        await writeAtomic(path, JSON.stringify({ format: CACHE_FORMAT, url, validators: res.validators, body: body.toString('base64') } satisfies ShardIndexCacheFile));
      }
      return { kind: 'sharded', url, index: parsed.index };
    }
  }

  async function resolveSource(channel: string, subdir: string): Promise<Source> {
    const key = `${channel.replace(/\/+$/, '')}/${subdir}`;
    const memoPath = cachePath(key, '.source.json');
    const memo = await readJson<SourceMemo>(memoPath, (m) => m.format === CACHE_FORMAT && m.key === key && preference.includes(m.source) && typeof m.at === 'number');
    const age = memo ? now() - memo.at : -1;
    const fresh = memo && age >= 0 && age < probeTtlMs ? memo : undefined;
    // The source that answered last time first (when recent), then the rest in order of preference.
    const order = fresh ? [fresh.source, ...preference.filter((s) => s !== fresh.source)] : preference;
    let jsonError: unknown;
    for (const s of order) {
      let r: Source | Absent;
      try {
        r = s === 'shards' ? await loadShardIndex(channel, subdir) : await loadFull(channel, subdir, s);
      } catch (e) {
        // repodata.json itself is absent: keep going only if an optional format remains.
        if (s === 'json' && isRepodataMissing(e)) {
          jsonError = e;
          continue;
        }
        // The channel cannot be reached: what an earlier run cached still answers (the
        // source that answered last first), with a notice naming the channel and the age.
        const cause = e instanceof RepodataError ? e.cause : e;
        if (unreachable(cause)) {
          for (const c of [s, ...order.filter((o) => o !== s)]) {
            const hit = await fromCacheOnly(channel, subdir, c);
            if (!hit) continue;
            resolved.set(key, c);
            staleServed.push({ channel: channel.replace(/\/+$/, ''), subdir, url: hit.source.url, ageMs: hit.ageMs, cause: outageOf(cause)?.cause ?? (cause as Error).message });
            return hit.source;
          }
        }
        throw e;
      }
      if (r instanceof Absent) continue;
      const source: RepodataSource = r.kind === 'sharded' ? 'shards' : r.from;
      resolved.set(key, source);
      if (fresh?.source !== source) await writeAtomic(memoPath, JSON.stringify({ format: CACHE_FORMAT, key, source, at: now() } satisfies SourceMemo));
      return r;
    }
    throw jsonError;
  }

  /** Verify (against the index's SHA-256), decompress and parse one shard's bytes. */
  async function openShard(bytes: Uint8Array, expected: string, url: string): Promise<RepodataIndex> {
    let msgpack: Buffer | undefined;
    if (sha256Hex(bytes) !== expected) {
      // CEP 16 names shards by "the hash of their content": current producers hash the
      // compressed file, early conda-index the msgpack inside. Either binds the content
      // (passing needs a SHA-256 preimage), so both are accepted — nothing is parsed
      // before one of them matched.
      try {
        msgpack = await decompressZstd(bytes, maxShardBytes, url);
      } catch {
        msgpack = undefined;
      }
      if (!msgpack || sha256Hex(msgpack) !== expected) {
        throw new RepodataError('REPODATA_SHARD_MISMATCH', `${url} does not have the SHA-256 ${expected} its shard index names.`, {
          hint: 'The shard was altered or substituted (a mirror or proxy may be tampering); its records are not used.',
        });
      }
    }
    const { parseShard } = await loadShardsModule();
    return parseShard(msgpack ?? (await decompressZstd(bytes, maxShardBytes, url)), url);
  }

  async function loadShard(index: ShardIndex, hex: string): Promise<RepodataIndex> {
    const url = shardUrl(index, hex);
    const path = cacheRoot ? join(cacheRoot, 'shards', `${hex}.msgpack.zst`) : undefined;
    if (path) {
      // Content-addressed: a cached shard needs no request, but is re-verified on every
      // read — a corrupt or planted file is ignored and replaced, never trusted.
      const bytes = await readFile(path).catch(() => undefined);
      if (bytes && bytes.length <= maxShardBytes) {
        const parsed = await openShard(bytes, hex, url).catch(() => undefined);
        if (parsed) {
          stats.shardCacheHits++;
          return parsed;
        }
      }
    }
    stats.shardFetches++;
    let bytes: Buffer;
    try {
      bytes = (await opts.http.get(url, { maxBytes: maxShardBytes })).body;
    } catch (e) {
      const status = e instanceof HttpError ? e.status : undefined;
      throw new RepodataError('REPODATA_SHARD_UNAVAILABLE', `A shard named by the shard index: ${couldNotFetch(url, e)}`, {
        hint: 'The shard index lists this package, so its record (and any advertised attestations) cannot be known without the shard; try again later or report it to the channel.',
        cause: e,
        details: status === undefined ? undefined : { status },
      });
    }
    stats.bytes += bytes.length;
    const parsed = await openShard(bytes, hex, url);
    await writeAtomic(path, bytes);
    return parsed;
  }

  return {
    stats,
    stale: () => [...staleServed],
    sourceOf(channel, subdir) {
      return resolved.get(`${channel.replace(/\/+$/, '')}/${subdir}`);
    },
    want(records) {
      for (const r of records) wantedOf(subdirKey(r.channel, r.subdir)).add(r.filename);
    },
    async lookup(channel, subdir, filename) {
      const key = subdirKey(channel, subdir);
      wantedOf(key).add(filename);
      let p = sources.get(key);
      if (!p) {
        p = resolveSource(channel, subdir);
        sources.set(key, p);
      }
      const src = await p;
      let index: RepodataIndex;
      let where: string;
      if (src.kind === 'full') {
        await cover(src, channel, subdir, filename);
        index = src.index;
        where = src.url;
      } else {
        const name = packageNameOf(filename);
        if (name === undefined) return undefined;
        // conda package names are lowercase; tolerate a filename that is not.
        const hex = src.index.shards.get(name) ?? src.index.shards.get(name.toLowerCase());
        if (hex === undefined) return undefined;
        where = shardUrl(src.index, hex);
        let s = shardLoads.get(where);
        if (!s) {
          s = loadShard(src.index, hex);
          shardLoads.set(where, s);
        }
        index = await s;
      }
      const raw = (filename.endsWith('.conda') ? index.conda : index.tarBz2).get(filename);
      return raw === undefined ? undefined : entryFromRaw(raw, filename, where);
    },
  };
}
