// A generated conda channel served on 127.0.0.1 with CEP 16 sharded repodata
// (`repodata_shards.msgpack.zst` + per-name shards), `repodata.json.zst` and
// `repodata.json` — each can be switched off — plus a request log. Records are given
// as in repodata.json (hex digests); the generator converts `sha256` / `md5` to bytes
// for the shards as CEP 16 does. Any route can be replaced (`lb.route(path, handler)`)
// to inject faults.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { encode } from '@msgpack/msgpack';
import { startLoopback, type Loopback } from './loopback.ts';

export type RepodataRecord = Record<string, unknown>;

export interface SubdirSpec {
  packages?: Record<string, RepodataRecord>;
  'packages.conda'?: Record<string, RepodataRecord>;
}

export interface ShardedChannelOptions {
  /** Path segment of the channel (default `sc`). */
  name?: string;
  subdirs: Record<string, SubdirSpec>;
  /** Which documents are served (default: all). Others answer 404. */
  serve?: { shards?: boolean; zst?: boolean; json?: boolean };
  /** `info.shards_base_url` (default `./shards/`); `null` leaves it out (shards next to the index). */
  shardsBaseUrl?: string | null;
  /** What the index's shard hashes cover (default `compressed`, the file as served). */
  hashOf?: 'compressed' | 'msgpack';
  /** Write `attestations_sha256` as 32 bytes in shards when it is 64 hex (default false: as given). */
  attestationsAsBytes?: boolean;
  /** Extra keys of the index top level (e.g. `version: 2`). */
  indexExtra?: Record<string, unknown>;
}

export interface ShardedChannel {
  /** `http://127.0.0.1:PORT/<name>`. */
  url: string;
  lb: Loopback;
  /** Request paths so far, in order. */
  paths(): string[];
  /** Path of the shard index of a subdir. */
  indexPath(subdir: string): string;
  /** Path of a package name's shard. */
  shardPath(subdir: string, name: string): string;
  /** The shard file as served (zstd). */
  shardBytes(subdir: string, name: string): Buffer;
  /** Hex SHA-256 the index names for a package name. */
  shardHash(subdir: string, name: string): string;
  /** Encode a shard document like the generator does (msgpack + zstd). */
  encodeShard(doc: unknown): Buffer;
  close(): Promise<void>;
}

function hexToBytes(v: unknown, len: number): unknown {
  return typeof v === 'string' && new RegExp(`^[0-9a-fA-F]{${len * 2}}$`).test(v) ? Buffer.from(v, 'hex') : v;
}

function nameOf(filename: string, rec: RepodataRecord): string {
  if (typeof rec.name === 'string') return rec.name;
  const stem = filename.replace(/\.(conda|tar\.bz2)$/, '');
  return stem.split('-').slice(0, -2).join('-');
}

export function encodeZstdMsgpack(doc: unknown): Buffer {
  return zlib.zstdCompressSync(Buffer.from(encode(doc)));
}

/** A handler serving a body with an ETag, answering If-None-Match with 304. */
function etagged(body: Buffer, extra: Record<string, string> = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  return (req, res) => {
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { etag, 'content-length': String(body.length), ...extra }).end(body);
  };
}

export async function startShardedChannel(opts: ShardedChannelOptions): Promise<ShardedChannel> {
  const lb = await startLoopback();
  const name = opts.name ?? 'sc';
  const url = `${lb.url}/${name}`;
  const serve = { shards: true, zst: true, json: true, ...opts.serve };
  const base = opts.shardsBaseUrl === undefined ? './shards/' : opts.shardsBaseUrl;
  const shardFiles = new Map<string, { path: string; bytes: Buffer; hash: string }>();

  for (const [subdir, spec] of Object.entries(opts.subdirs)) {
    const dir = `/${name}/${subdir}`;
    const repodata = { info: { subdir }, packages: spec.packages ?? {}, 'packages.conda': spec['packages.conda'] ?? {}, removed: [], repodata_version: 1 };
    const json = Buffer.from(JSON.stringify(repodata));
    if (serve.json) lb.route(`${dir}/repodata.json`, etagged(json));
    if (serve.zst) lb.route(`${dir}/repodata.json.zst`, etagged(zlib.zstdCompressSync(json)));

    // Group records by package name, converting digests to bytes (CEP 16).
    const byName = new Map<string, { packages: Record<string, RepodataRecord>; 'packages.conda': Record<string, RepodataRecord>; removed: string[] }>();
    for (const key of ['packages', 'packages.conda'] as const) {
      for (const [filename, rec] of Object.entries(spec[key] ?? {})) {
        const n = nameOf(filename, rec);
        if (!byName.has(n)) byName.set(n, { packages: {}, 'packages.conda': {}, removed: [] });
        const packed: RepodataRecord = { ...rec, sha256: hexToBytes(rec.sha256, 32), md5: hexToBytes(rec.md5, 16) };
        if (rec.sha256 === undefined) delete packed.sha256;
        if (rec.md5 === undefined) delete packed.md5;
        if (opts.attestationsAsBytes && 'attestations_sha256' in rec) {
          const a = rec.attestations_sha256;
          packed.attestations_sha256 = typeof a === 'string' && /^[0-9a-f]{64}$/.test(a) ? Buffer.from(a, 'hex') : a;
        }
        byName.get(n)![key][filename] = packed;
      }
    }
    const shards: Record<string, Buffer> = {};
    for (const [n, doc] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      const msgpack = Buffer.from(encode(doc));
      const bytes = zlib.zstdCompressSync(msgpack);
      const hash = createHash('sha256').update(opts.hashOf === 'msgpack' ? msgpack : bytes).digest('hex');
      shards[n] = Buffer.from(hash, 'hex');
      const shardBase = new URL(base ?? './', `${lb.url}${dir}/repodata_shards.msgpack.zst`);
      const path = `${shardBase.pathname}${hash}.msgpack.zst`;
      shardFiles.set(`${subdir}/${n}`, { path, bytes, hash });
      if (serve.shards) lb.route(path, etagged(bytes, { 'cache-control': 'public, max-age=31536000, immutable' }));
    }
    const info: Record<string, unknown> = { base_url: './', subdir, created_at: '2026-01-01T00:00:00Z' };
    if (base !== null) info.shards_base_url = base;
    const index = encodeZstdMsgpack({ version: 1, info, shards, ...opts.indexExtra });
    if (serve.shards) lb.route(`${dir}/repodata_shards.msgpack.zst`, etagged(index));
  }

  const shard = (subdir: string, n: string) => {
    const s = shardFiles.get(`${subdir}/${n}`);
    if (!s) throw new Error(`no shard for ${subdir}/${n}`);
    return s;
  };
  return {
    url,
    lb,
    paths: () => lb.requests.map((r) => r.path),
    indexPath: (subdir) => `/${name}/${subdir}/repodata_shards.msgpack.zst`,
    shardPath: (subdir, n) => shard(subdir, n).path,
    shardBytes: (subdir, n) => shard(subdir, n).bytes,
    shardHash: (subdir, n) => shard(subdir, n).hash,
    encodeShard: encodeZstdMsgpack,
    close: () => lb.close(),
  };
}
