// Repodata store: answers `lookup(channel, subdir, filename)` from the cheapest source the
// channel publishes for that subdir — CEP 16 shards, repodata.json.zst or repodata.json,
// probed in that order once per run and remembered (./sources.ts) — from the shards of the
// names looked up (./shard-store.ts) or the records of a document scanned as it streams in
// (./record-list.ts), with a disk cache under cacheDir/repodata/ (./disk.ts).
//
// Errors: repodata.json 404 (after the optional formats were absent too) →
// REPODATA_UNAVAILABLE whose `cause` is the HTTP_NOT_FOUND HttpError (`isRepodataMissing`):
// the channel publishes no repodata here, so discovery goes on with the probe methods.
// A record whose attestations_sha256 is not 64 lowercase hex throws
// REPODATA_INVALID_ATTESTATIONS_SHA256 for that package only (CEP 50).
import type { HttpClient } from '../http/client.ts';
import { openRepodataDisk, type RepodataDisk } from './disk.ts';
import { RecordLists } from './record-list.ts';
import { entryFromRaw, type RepodataEntry, type RepodataIndex } from './repodata-index.ts';
import { ShardStore } from './shard-store.ts';
import { openSources, type RepodataSource } from './sources.ts';

export { entryFromRaw, isRepodataMissing } from './repodata-index.ts';
export { shardUrl } from './shard-store.ts';

export interface RepodataStats {
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

/** What the parts of the store share. */
export interface StoreContext {
  http: HttpClient;
  disk: RepodataDisk;
  maxBytes: number;
  maxShardBytes: number;
  stats: RepodataStats;
}

export function createRepodataStore(opts: RepodataStoreOptions): RepodataStore {
  const now = opts.now ?? Date.now;
  const stats: RepodataStats = { fetches: 0, notModified: 0, shardFetches: 0, shardCacheHits: 0, bytes: 0, recordListScans: 0 };
  const ctx: StoreContext = { http: opts.http, disk: openRepodataDisk(opts.cacheDir, now), maxBytes: opts.maxBytes ?? 1 << 30, maxShardBytes: opts.maxShardBytes ?? 64 << 20, stats };
  const lists = new RecordLists(ctx);
  const shards = new ShardStore(ctx);
  const sources = openSources({
    preference: [...(opts.shards === false ? [] : ['shards' as const]), ...(opts.zst === false ? [] : ['zst' as const]), 'json'],
    probeTtlMs: opts.probeTtlMs ?? 3_600_000,
    disk: ctx.disk,
    now,
    load: (channel, subdir, s) => (s === 'shards' ? shards.loadIndex(channel, subdir) : lists.load(channel, subdir, s)),
    cached: (channel, subdir, s) => (s === 'shards' ? shards.cachedIndex(channel, subdir) : lists.cached(channel, subdir, s)),
  });

  return {
    stats,
    stale: sources.stale,
    sourceOf: sources.sourceOf,
    want(records) {
      for (const r of records) lists.want(r.channel, r.subdir, r.filename);
    },
    async lookup(channel, subdir, filename) {
      lists.want(channel, subdir, filename);
      const src = await sources.of(channel, subdir);
      let found: { index: RepodataIndex; where: string } | undefined;
      if (src.kind === 'full') {
        await lists.cover(src, channel, subdir, filename);
        found = { index: src.index, where: src.url };
      } else found = await shards.shardOf(src, filename);
      const raw = found && (filename.endsWith('.conda') ? found.index.conda : found.index.tarBz2).get(filename);
      return raw === undefined ? undefined : entryFromRaw(raw, filename, found!.where);
    },
  };
}
