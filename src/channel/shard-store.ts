// CEP 16 sharded repodata: the shard index `<subdir>/repodata_shards.msgpack.zst` (package
// name → shard SHA-256), then only the shards of the package NAMES looked up,
// `<shards_base_url><sha256>.msgpack.zst`, each fetched once per run.
//
// On disk: `<key>.shards.json` the index as downloaded (zstd, base64) with its ETag /
// Last-Modified; `shards/<sha256>.msgpack.zst` shards, content-addressed: reused without
// any request, and re-hashed on every read (a corrupt entry is ignored, never trusted).
//
// A shard named by the index that cannot be fetched (404 included) is
// REPODATA_SHARD_UNAVAILABLE and one whose bytes do not hash to the index's SHA-256 is
// REPODATA_SHARD_MISMATCH: the index says the package has a record, so both are retrieval
// failures, never "missing".
import { readFile } from 'node:fs/promises';
import { couldNotFetch, HttpError, notPublished, RepodataError } from '../errors.ts';
import type { CacheValidators } from '../http/client.ts';
import { parsePackageFilename } from '../targets/package-url.ts';
import { sha256Hex } from '../util/sha256.ts';
import { CACHE_FORMAT } from './disk.ts';
import { describe, type RepodataIndex } from './repodata-index.ts';
import type { StoreContext } from './repodata.ts';
import type { ShardIndex } from './shards.ts';
import { Absent, sourceUrl, unavailable } from './sources.ts';
import { decompressZstd } from './zstd.ts';

export interface ShardedSource {
  kind: 'sharded';
  url: string;
  index: ShardIndex;
}

interface ShardIndexCacheFile {
  format: number;
  url: string;
  validators: CacheValidators;
  /** The index as downloaded (zstd), base64. */
  body: string;
}

/** `<shards_base_url><sha256 hex>.msgpack.zst` (CEP 16). */
export function shardUrl(index: ShardIndex, sha256Hex: string): string {
  return `${index.shardsBaseUrl}${sha256Hex}.msgpack.zst`;
}

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

const indexCacheOk = (url: string) => (c: ShardIndexCacheFile) => c.format === CACHE_FORMAT && c.url === url && typeof c.body === 'string';

/** The shard indexes and shards of a run, each fetched (or read from disk) once. */
export class ShardStore {
  readonly #ctx: StoreContext;
  readonly #shards = new Map<string, Promise<RepodataIndex>>();

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async #parseIndex(body: Buffer, url: string, subdir: string) {
    return (await loadShardsModule()).parseShardIndex(await decompressZstd(body, this.#ctx.maxShardBytes, url), url, subdir);
  }

  /** The shard index (cached as downloaded, with validators); Absent when not published or of an unknown version. */
  async loadIndex(channel: string, subdir: string): Promise<ShardedSource | Absent> {
    const { disk, stats, http, maxShardBytes } = this.#ctx;
    const url = sourceUrl(channel, subdir, 'shards');
    const path = disk.path(url, '.shards.json');
    let cached = await disk.readJson<ShardIndexCacheFile>(path, indexCacheOk(url));
    for (;;) {
      stats.fetches++;
      let res;
      try {
        res = await http.getCached(url, cached?.validators, { maxBytes: maxShardBytes });
      } catch (e) {
        if (notPublished(e)) return new Absent(e);
        throw unavailable(url, e);
      }
      const reused = res.notModified && cached !== undefined;
      const body = reused ? Buffer.from(cached!.body, 'base64') : (res.body ?? Buffer.alloc(0));
      if (reused) stats.notModified++;
      else stats.bytes += body.length;
      let parsed;
      try {
        parsed = await this.#parseIndex(body, url, subdir);
      } catch (e) {
        // Our own cached copy is unreadable: ignore it and fetch the index again, once.
        if (!reused) throw e;
        cached = undefined;
        continue;
      }
      if (!parsed.ok) return new Absent(new RepodataError('REPODATA_MALFORMED', `${url} has unsupported version ${describe(parsed.unsupportedVersion)}.`));
      if (!res.notModified || res.validators.expiresAt !== cached?.validators.expiresAt) {
        await disk.write(path, JSON.stringify({ format: CACHE_FORMAT, url, validators: res.validators, body: body.toString('base64') } satisfies ShardIndexCacheFile));
      }
      return { kind: 'sharded', url, index: parsed.index };
    }
  }

  /** The cached shard index, without any request; its age is that of the download. */
  async cachedIndex(channel: string, subdir: string): Promise<{ source: ShardedSource; ageMs: number } | undefined> {
    const { disk } = this.#ctx;
    const url = sourceUrl(channel, subdir, 'shards');
    const path = disk.path(url, '.shards.json');
    const ageMs = path ? await disk.ageMs(path) : undefined;
    const c = ageMs === undefined ? undefined : await disk.readJson<ShardIndexCacheFile>(path, indexCacheOk(url));
    if (ageMs === undefined || !c) return undefined;
    const parsed = await this.#parseIndex(Buffer.from(c.body, 'base64'), url, subdir).catch(() => undefined);
    return parsed?.ok ? { source: { kind: 'sharded', url, index: parsed.index }, ageMs } : undefined;
  }

  /** The records of the shard holding `filename`'s package name, and its URL; undefined when the index names none. */
  async shardOf(src: ShardedSource, filename: string): Promise<{ index: RepodataIndex; where: string } | undefined> {
    const name = packageNameOf(filename);
    if (name === undefined) return undefined;
    // conda package names are lowercase; tolerate a filename that is not.
    const hex = src.index.shards.get(name) ?? src.index.shards.get(name.toLowerCase());
    if (hex === undefined) return undefined;
    const where = shardUrl(src.index, hex);
    let s = this.#shards.get(where);
    if (!s) this.#shards.set(where, (s = this.#loadShard(src.index, hex)));
    return { index: await s, where };
  }

  /** Verify (against the index's SHA-256), decompress and parse one shard's bytes. */
  async #openShard(bytes: Uint8Array, expected: string, url: string): Promise<RepodataIndex> {
    const max = this.#ctx.maxShardBytes;
    let msgpack: Buffer | undefined;
    if (sha256Hex(bytes) !== expected) {
      // CEP 16 names shards by "the hash of their content": current producers hash the
      // compressed file, early conda-index the msgpack inside. Either binds the content
      // (passing needs a SHA-256 preimage), so both are accepted — nothing is parsed
      // before one of them matched.
      msgpack = await decompressZstd(bytes, max, url).catch(() => undefined);
      if (!msgpack || sha256Hex(msgpack) !== expected) {
        throw new RepodataError('REPODATA_SHARD_MISMATCH', `${url} does not have the SHA-256 ${expected} its shard index names.`, {
          hint: 'The shard was altered or substituted (a mirror or proxy may be tampering); its records are not used.',
        });
      }
    }
    const { parseShard } = await loadShardsModule();
    return parseShard(msgpack ?? (await decompressZstd(bytes, max, url)), url);
  }

  async #loadShard(index: ShardIndex, hex: string): Promise<RepodataIndex> {
    const { disk, stats, http, maxShardBytes } = this.#ctx;
    const url = shardUrl(index, hex);
    const path = disk.shardPath(hex);
    // Content-addressed: a cached shard needs no request, but is re-verified on every read
    // — a corrupt or planted file is ignored and replaced, never trusted.
    const cachedBytes = path ? await readFile(path).catch(() => undefined) : undefined;
    const fromCache = cachedBytes && cachedBytes.length <= maxShardBytes ? await this.#openShard(cachedBytes, hex, url).catch(() => undefined) : undefined;
    if (fromCache) {
      stats.shardCacheHits++;
      return fromCache;
    }
    stats.shardFetches++;
    let bytes: Buffer;
    try {
      bytes = (await http.get(url, { maxBytes: maxShardBytes })).body;
    } catch (e) {
      const status = e instanceof HttpError ? e.status : undefined;
      throw new RepodataError('REPODATA_SHARD_UNAVAILABLE', `A shard named by the shard index: ${couldNotFetch(url, e)}`, {
        hint: 'The shard index lists this package, so its record (and any advertised attestations) cannot be known without the shard; try again later or report it to the channel.',
        cause: e,
        details: status === undefined ? undefined : { status },
      });
    }
    stats.bytes += bytes.length;
    const parsed = await this.#openShard(bytes, hex, url);
    await disk.write(path, bytes);
    return parsed;
  }
}
