// A persistent cache of verification outcomes (docs/performance.md): unchanged inputs are never
// re-verified, and any change to an input re-verifies.
//
// What is cached: the `BundleOutcome[]` of verifying one sidecar for one package (Sigstore
// + CEP 27 checks). What is NOT cached: the judgement (trusted identities, identity
// lockfile, require mode) — that always runs, on the cached outcomes.
//
// The key covers everything the outcomes depend on (`verdictKey`): the sidecar's SHA-256
// (CEP 50 sidecars are content-addressed, so the hash stands for the bytes), the package's
// SHA-256 and filename (CEP 27 subject), the canonical channel and accepted channels
// (targetChannel check), the trust root's digest, the policy's digest (trusted keys,
// require_tlog, ...) and the product version (a new release may check more). Sigstore
// verification checks certificates at the signing time recorded in the log, not at "now",
// so an outcome does not expire with the clock; a trust root update changes its digest.
//
// Layout: 16 bucket files `verdicts-v2/<first hex char of key>.json` in the bucket store
// shared with the sidecar cache (src/store/buckets.ts). A 1,000-package run reads and
// rewrites ~16 files, while a one-package run reads ~1/16 of the cache. Buckets are loaded
// lazily on first `get`, written at `flush()` only when changed, each atomically, merged
// with what is on disk at that moment, under the store's lock so that two runs flushing at
// once merge one after the other and neither loses the other's verdicts.
//
// Bucket file (format 3): a header line `{"format":3,"mac":"<hex>"}`, then the entries as
// one JSON object `{"<key>":{"o":[outcomes],"t":<last used>},…}`; the MAC is HMAC-SHA-256
// of that second line's bytes under this machine's verdict-cache key. Reading a bucket is
// one read, one MAC and one parse: format 1 kept each entry's outcomes as a JSON string with
// its own checksum, so every hit hashed and parsed again, and the strings' escaping made the
// bucket itself slower to parse (measured, 1,000 hits from a fresh process, CPU time,
// median of 5: 33 → 21 ms).
//
// Integrity and forgery: a cached verdict can turn into a pass, so whoever can write the
// cache directory must not be able to write one. Format 2 had a plain SHA-256, which an
// attacker recomputes; a cache directory is also not private in practice (a CI cache
// restored from another run by key prefix, a shared or mounted cache_dir). So the MAC key
// lives outside the cache directory (`loadVerdictKey`: `$XDG_STATE_HOME/conda-attest/`,
// mode 0600, made on first use), and a bucket without a valid MAC under it — planted,
// edited, torn, or written on another machine or runner — is ignored whole: its packages
// are verified again, it is reported, and rewritten at the next flush. Each entry's
// outcomes are also checked for shape on every `get`. Someone who can read that key file
// can forge entries; they are the user (docs/caches.md).
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { jsonObjectPieces, openBucketStore } from '../store/buckets.ts';
import { isJsonData } from '../util/json-strict.ts';
import { FORMAT } from './verdict-key.ts';

export { policyDigest, verdictKey, type VerdictKeyParts } from './verdict-key.ts';
import type { BundleOutcome, ChannelPolicy } from '../types.ts';

const SUBDIR = `verdicts-v${FORMAT}`;
/** Entries kept per bucket (~160,000 in all); least recently used go first. */
const DEFAULT_MAX_PER_BUCKET = 10_000;



// ---------------------------------------------------------------------------------

/** One stored entry. */
interface Entry {
  /** The BundleOutcome[] (shape checked at `get`: read from disk, it is only JSON). */
  o: unknown;
  /** Last used, ms since epoch (eviction order). */
  t: number;
}

/** The header line of a bucket file. */
interface BucketHeader {
  format: number;
  /** HMAC-SHA-256 hex of the entries line under the verdict-cache key. */
  mac: string;
}

interface Bucket {
  entries: Map<string, Entry>;
  /** Keys set (or refreshed) in this run: written at flush. */
  changed: Set<string>;
  /** The file on disk is unreadable or holds bad entries: rewrite it at flush. */
  rewrite: boolean;
}

export interface VerdictCache {
  /** The cached outcomes, or undefined on a miss (including a corrupt entry). */
  get(key: string): BundleOutcome[] | undefined;
  set(key: string, outcomes: BundleOutcome[]): void;
  /**
   * Write changed buckets atomically. Never rejects: a cache that cannot be written only
   * costs speed next time; the reasons land in `warnings`.
   */
  flush(): Promise<void>;
  /** Whether `flush` has anything to write (a warm run that only read has not). */
  readonly dirty: boolean;
  /** Problems met while reading or writing (for --verbose / debug output). */
  readonly warnings: string[];
}

export interface VerdictCacheOptions {
  /**
   * The MAC key (`loadVerdictKey`). Without one, a key of this process only: entries
   * written by another process are never trusted (tests, benchmarks).
   */
  key?: Buffer;
  /** Entries kept per bucket file (16 buckets). Default 10,000. */
  maxEntriesPerBucket?: number;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * JSON.parse(JSON.stringify(v)) for plain data, sharing the strings instead of copying them
 * (a string cannot change): only the objects and arrays are new. Every verdict of a run is
 * held here until the flush, beside the report row holding the same outcomes; with copied
 * strings that was two copies of every claim, URL and digest of every bundle (measured, cold
 * 1,000 packages, heap snapshot at the end of the run: 29.9 → 28.2 MB live, strings 8.9 → 7.2 MB).
 */
export function jsonCopy(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON: () => unknown }).toJSON();
  if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null;
  if (v === null || typeof v !== 'object') return v === null || typeof v === 'string' || typeof v === 'boolean' ? v : undefined;
  if (Array.isArray(v)) return v.map((x) => jsonCopy(x) ?? null);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = jsonCopy((v as Record<string, unknown>)[k]);
    if (x !== undefined) Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * `v` as JSON has it: `v` itself when it is that already (the verify stage's outcomes, as
 * the workers send them), else its jsonCopy. Shared with the report row instead of copied,
 * as the outcomes a `get` returns already are (src/stages/judge.ts copies before it changes
 * one): the copies of every new verdict held until the flush were 11.5 MB of objects in a
 * cold 10,000-package run (heap snapshot); its peak RSS, 3 interleaved runs: 259 (229–264) →
 * 244 (229–249) MB.
 */
export function asJson(v: unknown): unknown {
  return isJsonData(v) ? v : jsonCopy(v);
}

/** The key of a process that was given none: its own entries only. */
const processKey = randomBytes(32);

function macHex(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/**
 * The text of a bucket file holding `entries` (sorted by key: deterministic files), in
 * pieces: the MAC is computed over the entries line as it is made, then the line is made
 * again as it is written, so the text never exists whole. Sixteen bucket texts built whole
 * at the end of a cold run were garbage that only a full collection frees, and the run's
 * peak (measured, cold 10,000 packages, phase marks: +21–24 MB of RSS for the flush before,
 * none after; docs/performance.md "Memory, round 4").
 */
function bucketPieces(list: readonly [string, Entry][], key: Buffer): Iterable<string> {
  // The last-used times as they are now: a `get` while the file is written must not make the
  // text differ from what the MAC covers.
  const entries = list.map(([k, e]): [string, Entry] => [k, { o: e.o, t: e.t }]);
  const mac = createHmac('sha256', key);
  for (const piece of jsonObjectPieces(entries)) mac.update(piece);
  const header: BucketHeader = { format: FORMAT, mac: mac.digest('hex') };
  return (function* () {
    yield `${JSON.stringify(header)}\n`;
    yield* jsonObjectPieces(entries);
  })();
}

/** conda-attest's state directory: `$XDG_STATE_HOME/conda-attest` (default `~/.local/state`). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(state, 'conda-attest');
}

/**
 * This machine's verdict-cache key: 32 random bytes in `$XDG_STATE_HOME/conda-attest/
 * verdict-cache.key` (default `~/.local/state`), made on first use with mode 0600. It is
 * deliberately not in the cache directory, which may be shared or restored from elsewhere.
 * Undefined when it can be neither read nor made (the cache then trusts only this process).
 */
export function loadVerdictKey(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const dir = stateDir(env);
  const file = join(dir, 'verdict-cache.key');
  const read = (): Buffer | undefined => {
    const hex = readFileSync(file, 'utf8').trim();
    return /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
  };
  try {
    return read();
  } catch {
    // absent: make it below
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // `wx`: of two runs making it at once, one wins and both then read the winner's key.
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
  } catch {
    // lost the race, or unwritable: read what is there
  }
  try {
    return read();
  } catch {
    return undefined;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Structural check of a decoded entry: a checksum collision is not the only failure mode. */
function isOutcomeList(v: unknown): v is BundleOutcome[] {
  return (
    Array.isArray(v) &&
    v.every(
      (o) =>
        typeof o === 'object' &&
        o !== null &&
        typeof (o as BundleOutcome).index === 'number' &&
        typeof (o as BundleOutcome).publish === 'boolean' &&
        typeof (o as BundleOutcome).verified === 'boolean' &&
        Array.isArray((o as BundleOutcome).reasons),
    )
  );
}

function isEntry(v: unknown): v is Entry {
  return typeof v === 'object' && v !== null && typeof (v as Entry).t === 'number' && 'o' in v;
}

/** Parse a bucket file; anything unreadable, of another format or without a valid MAC yields null (treated as empty and rewritten). */
function parseBucket(text: string, key: Buffer): Map<string, Entry> | null {
  const nl = text.indexOf('\n');
  if (nl < 0) return null;
  const body = text.slice(nl + 1);
  let header: BucketHeader;
  let entries: unknown;
  try {
    header = JSON.parse(text.slice(0, nl)) as BucketHeader;
    if (typeof header !== 'object' || header === null || header.format !== FORMAT || typeof header.mac !== 'string' || header.mac !== macHex(key, body)) return null;
    entries = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) return null;
  const out = new Map<string, Entry>();
  for (const [k, e] of Object.entries(entries)) if (HEX64.test(k) && isEntry(e)) out.set(k, e);
  return out;
}

type BucketStore = ReturnType<typeof openBucketStore>;

/** Bucket `b` as stored; corrupt when its MAC or shape is wrong (then it is rewritten). */
function readDisk(store: BucketStore, b: string, macKey: Buffer, warnings: string[]): { entries: Map<string, Entry>; corrupt: boolean } {
  let text: string | undefined;
  try {
    // Sync on purpose (see the bucket store): `get` sits on the verification path.
    text = store.readSync(b);
  } catch (e) {
    warnings.push(`verdict cache ${store.fileOf(b)} unreadable: ${(e as Error).message}`);
    return { entries: new Map(), corrupt: false };
  }
  if (text === undefined) return { entries: new Map(), corrupt: false };
  const entries = parseBucket(text, macKey);
  if (entries === null) {
    warnings.push(`verdict cache ${store.fileOf(b)} is corrupt; it is ignored and rewritten`);
    return { entries: new Map(), corrupt: true };
  }
  return { entries, corrupt: false };
}

/** Write `bucket` merged with the file as it is now, the newest `maxPerBucket` entries kept. */
async function writeBucket(store: BucketStore, macKey: Buffer, maxPerBucket: number, b: string, bucket: Bucket): Promise<void> {
  // What this write covers: `set` may run again while the file is being written.
  const covered = new Map([...bucket.changed].map((k) => [k, bucket.entries.get(k)]));
  const wasRewrite = bucket.rewrite;
  // Merge with the file as it is now: another run may have flushed since we read it.
  let onDisk: Map<string, Entry> | null = null;
  try {
    const text = await store.read(b);
    onDisk = text === undefined ? null : parseBucket(text, macKey);
  } catch {
    onDisk = null;
  }
  const merged = new Map<string, Entry>();
  // Only a bucket that passed its MAC is merged: a corrupt file is never carried over.
  if (onDisk) for (const [k, e] of onDisk) merged.set(k, e);
  for (const [k, e] of bucket.entries) {
    const other = merged.get(k);
    if (bucket.changed.has(k) || !other || other.t < e.t) merged.set(k, e);
  }
  let list = [...merged.entries()];
  if (list.length > maxPerBucket) {
    list.sort((a, b) => b[1].t - a[1].t || (a[0] < b[0] ? -1 : 1));
    list = list.slice(0, maxPerBucket);
  }
  list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); // deterministic file
  await store.write(b, bucketPieces(list, macKey));
  for (const [k, e] of list) if (!bucket.entries.has(k)) bucket.entries.set(k, e);
  for (const [k, e] of covered) if (bucket.entries.get(k) === e) bucket.changed.delete(k);
  if (wasRewrite) bucket.rewrite = false;
}

/**
 * Open (lazily: no I/O until the first get/set of a bucket) the verdict cache under
 * `<cacheDir>/verdicts-v2/`.
 */
export function openVerdictCache(cacheDir: string, opts: VerdictCacheOptions = {}): VerdictCache {
  const store = openBucketStore(join(cacheDir, SUBDIR));
  const macKey = opts.key ?? processKey;
  const maxPerBucket = opts.maxEntriesPerBucket ?? DEFAULT_MAX_PER_BUCKET;
  const now = opts.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  const warnings: string[] = [];
  let flushing: Promise<void> = Promise.resolve();

  function bucketOf(key: string): Bucket {
    const b = key[0]!;
    let bucket = buckets.get(b);
    if (!bucket) {
      const { entries, corrupt } = readDisk(store, b, macKey, warnings);
      bucket = { entries, changed: new Set(), rewrite: corrupt };
      buckets.set(b, bucket);
    }
    return bucket;
  }

  function get(key: string): BundleOutcome[] | undefined {
    if (!HEX64.test(key)) return undefined;
    const bucket = bucketOf(key);
    const e = bucket.entries.get(key);
    if (!e) return undefined;
    const outcomes = e.o;
    if (!isOutcomeList(outcomes)) {
      // Never trusted: dropped now, replaced when the caller sets the fresh verdict.
      bucket.entries.delete(key);
      bucket.rewrite = true;
      return undefined;
    }
    // Recently used entries survive eviction; refreshing `t` is cheap (written only if
    // the bucket is written anyway, or at most once a day per entry).
    if (now() - e.t > 86_400_000) {
      e.t = now();
      bucket.changed.add(key);
    }
    return outcomes;
  }

  function set(key: string, outcomes: BundleOutcome[]): void {
    if (!HEX64.test(key)) throw new TypeError('verdict cache key must be a SHA-256 hex string (use verdictKey)');
    const bucket = bucketOf(key);
    // A copy as JSON has it: what a later `get` in this run returns is what the file will hold.
    bucket.entries.set(key, { o: asJson(outcomes), t: now() });
    bucket.changed.add(key);
  }

  async function doFlush(): Promise<void> {
    const dirty = [...buckets.entries()].filter(([, b]) => b.changed.size > 0 || b.rewrite);
    if (dirty.length === 0) return;
    try {
      await store.ensureDir();
    } catch (e) {
      warnings.push(`verdict cache directory ${store.dir} cannot be created: ${(e as Error).message}`);
      return;
    }
    // One bucket at a time: each bucket's text exists only while it is written, instead of
    // all sixteen at once (the end of a cold run is its peak of memory; docs/performance.md).
    // Under the store's lock: a run flushing at the same moment merges after this one, not
    // over it (src/store/buckets.ts `locked`).
    await store.locked(
      async () => {
        for (const [b, bucket] of dirty) {
          await writeBucket(store, macKey, maxPerBucket, b, bucket).catch((e: unknown) => {
            warnings.push(`verdict cache ${store.fileOf(b)} not written: ${(e as Error).message}`);
          });
        }
      },
      (why) => warnings.push(`verdict cache ${store.dir} ${why}`),
    );
  }

  return {
    get,
    set,
    // Flushes of one cache object run one after the other (no two writers of one temp name).
    flush: () => (flushing = flushing.then(doFlush)),
    get dirty() {
      for (const b of buckets.values()) if (b.changed.size > 0 || b.rewrite) return true;
      return false;
    },
    warnings,
  };
}

/** The directory the verdict cache of `cacheDir` lives in (tests and tools). */
export function verdictCacheDir(cacheDir: string): string {
  return join(cacheDir, SUBDIR);
}
