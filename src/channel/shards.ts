// Pure: CEP 16 sharded repodata, decompressed msgpack bytes → data.
//
// Index (`<channel>/<subdir>/repodata_shards.msgpack.zst`):
//   { version: 1, info: { base_url, shards_base_url, subdir, created_at?, ... },
//     shards: { <package name>: <SHA-256, 32-byte bin> } }
// Shard (`<shards_base_url><sha256 hex>.msgpack.zst`):
//   { packages: { <file>: record }, "packages.conda": { <file>: record }, removed: [...] }
// where a record's `sha256` / `md5` are bytes (CEP 16 converts the hex to bin) and
// `attestations_sha256` (CEP 50: a shard record may carry it) may be bytes or hex text.
//
// Unknown keys are ignored (CEP 16: implementers SHOULD). Everything we DO use is
// checked strictly: a wrong type is REPODATA_MALFORMED for the whole document, except
// `attestations_sha256`, which is kept raw and rejected for that package only when it
// is looked up (the same rule as repodata.json; see entryFromRaw). `info.base_url`
// (where the packages live) is not used: sidecar URLs are built from where the package
// is actually fetched (`record.channel`, possibly a mirror).
import { Decoder } from '@msgpack/msgpack';
import { RepodataError } from '../errors.ts';
import type { RawRepodataEntry, RepodataIndex } from './repodata-index.ts';

export interface ShardIndex {
  /** Absolute base URL of the shards, ending in `/`. */
  shardsBaseUrl: string;
  /** Package name → SHA-256 (lowercase hex) of its shard. */
  shards: Map<string, string>;
}

/** `unsupported`: a future index format; the caller falls back to repodata.json(.zst). */
type ParsedShardIndex = { ok: true; index: ShardIndex } | { ok: false; unsupportedVersion: unknown };

// No ext types, no bigint surprises; `__proto__` keys are refused by the decoder itself.
const decoder = new Decoder({ useBigInt64: false });

function malformed(where: string, why: string, cause?: unknown): RepodataError {
  return new RepodataError('REPODATA_MALFORMED', `${where} is not valid sharded repodata (${why}).`, {
    hint: 'The channel served a broken CEP 16 file; try again later or report it to the channel.',
    cause,
  });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function decode(bytes: Uint8Array, where: string): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw malformed(where, `msgpack: ${(e as Error).message}`, e);
  }
}

/**
 * Parse a decompressed shard index fetched from `indexUrl` for `subdir`. An index for
 * another subdir is refused: its records must not answer lookups for this one.
 */
export function parseShardIndex(bytes: Uint8Array, indexUrl: string, subdir: string): ParsedShardIndex {
  const doc = decode(bytes, indexUrl);
  if (!isMap(doc)) throw malformed(indexUrl, 'the index is not a map');
  // CEP 16 writes `version: 1`; some producers omit it. Anything else is a format we do
  // not know — not an attack (repodata.json from the same channel is just as
  // authoritative), so the caller falls back to it.
  if (doc.version !== undefined && doc.version !== 1) return { ok: false, unsupportedVersion: doc.version };
  const info = doc.info ?? {};
  if (!isMap(info)) throw malformed(indexUrl, '"info" is not a map');
  if (info.subdir !== undefined && info.subdir !== subdir) {
    throw malformed(indexUrl, `"info.subdir" is ${JSON.stringify(info.subdir).slice(0, 60)}, not "${subdir}"`);
  }
  // Older producers (conda-index) put the shards next to the index and write no
  // shards_base_url; CEP 16: relative URLs are resolved against the index URL.
  const rawBase = info.shards_base_url ?? './';
  if (typeof rawBase !== 'string') throw malformed(indexUrl, '"info.shards_base_url" is not a string');
  let base: URL;
  try {
    base = new URL(rawBase, indexUrl);
  } catch (e) {
    throw malformed(indexUrl, `"info.shards_base_url" ${JSON.stringify(rawBase).slice(0, 100)} is not a URL`, e);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw malformed(indexUrl, `"info.shards_base_url" uses ${base.protocol}`);
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  if (!isMap(doc.shards)) throw malformed(indexUrl, '"shards" is not a map');
  const shards = new Map<string, string>();
  for (const [name, digest] of Object.entries(doc.shards)) {
    if (!(digest instanceof Uint8Array) || digest.length !== 32) throw malformed(indexUrl, `the shard hash of "${name.slice(0, 100)}" is not 32 bytes`);
    shards.set(name, Buffer.from(digest.buffer, digest.byteOffset, 32).toString('hex'));
  }
  return { ok: true, index: { shardsBaseUrl: base.href, shards } };
}

/** Parse a decompressed shard into the same index shape as repodata.json. */
export function parseShard(bytes: Uint8Array, shardUrlForErrors: string): RepodataIndex {
  const doc = decode(bytes, shardUrlForErrors);
  if (!isMap(doc)) throw malformed(shardUrlForErrors, 'the shard is not a map');
  const index: RepodataIndex = { tarBz2: new Map(), conda: new Map() };
  for (const [key, target] of [
    ['packages', index.tarBz2],
    ['packages.conda', index.conda],
  ] as const) {
    const section = doc[key];
    if (section === undefined) continue;
    if (!isMap(section)) throw malformed(shardUrlForErrors, `"${key}" is not a map`);
    for (const [filename, rec] of Object.entries(section)) {
      if (!isMap(rec)) throw malformed(shardUrlForErrors, `the record of ${filename.slice(0, 100)} is not a map`);
      target.set(filename, compactShardRecord(rec));
    }
  }
  return index;
}

/** A digest of `bytes` bytes, raw or as hex in any case, as lowercase hex. */
function hexOf(v: unknown, bytes: number): string | undefined {
  if (v instanceof Uint8Array) return v.length === bytes ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex') : undefined;
  if (typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-f]+$/i.test(v)) return v.toLowerCase();
  return undefined;
}

/**
 * Keep the fields we use. Digests are informational and kept only when well-formed.
 * `attestations_sha256`: 32 bytes become lowercase hex; any other value is kept raw so
 * the lookup rejects it for this package (CEP 50: before any URL is built from it) —
 * including bytes of the wrong length and hex text that is not 64 lowercase digits.
 */
function compactShardRecord(r: Record<string, unknown>): RawRepodataEntry {
  const e: RawRepodataEntry = {};
  const sha256 = hexOf(r.sha256, 32);
  if (sha256 !== undefined) e.sha256 = sha256;
  const md5 = hexOf(r.md5, 16);
  if (md5 !== undefined) e.md5 = md5;
  if (typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0) e.size = r.size;
  if ('attestations_sha256' in r) {
    const a = r.attestations_sha256;
    e.att = a instanceof Uint8Array && a.length === 32 ? Buffer.from(a.buffer, a.byteOffset, 32).toString('hex') : a;
  }
  return e;
}
