// Trust root provider (specs §6): the Sigstore public-good root from the snapshot that
// @sigstore/tuf ships (works offline out of the box), refreshed through TUF when online
// and cached in cacheDir, or a custom trusted_root.json validated before use.
// `validateTrustedRoot` is pure; `loadTrustRoot` is the thin I/O adapter around it.
// Node's own X.509 (OpenSSL) for validating a root: loading @sigstore/core here would cost
// ~18 ms of start-up on runs that are answered from the verdict cache.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TrustRootError, describeError } from '../errors.ts';
import { writeFileAtomicSync } from '../store/atomic.ts';
import { cachedRootProblem } from './tuf-check.ts';
import { DuplicateKeyError, parseStrictJson } from '../util/json-strict.ts';

export interface LoadedTrustRoot {
  /** Where the root came from, for reports. */
  source: string;
  /** SHA-256 hex of the trusted_root.json bytes (part of verdict-cache keys). */
  digest: string;
  /**
   * How old the root material is, in whole days. TUF cache: days since the last
   * successful refresh. Embedded snapshot and custom files: days since the newest
   * `validFor.start` in the root, an upper bound (the root cannot predate its newest key).
   */
  ageDays: number | null;
  /** The trusted_root.json object (validated). */
  json: unknown;
  /** Its bytes as read (what `digest` is over; what `trust-root export` writes). */
  bytes?: Buffer;
  /** Non-fatal problems met while loading (e.g. TUF unreachable, fell back to the snapshot). */
  warnings?: string[];
}

export interface LoadTrustRootOptions {
  /** Never contact the TUF repository. */
  offline?: boolean;
  cacheDir: string;
  /** Overall budget for a TUF refresh (default 5000 ms). */
  tufTimeoutMs?: number;
  /** TUF mirror (default the public-good CDN); tests point it at an unreachable loopback port. */
  tufMirrorUrl?: string;
  /** Clock for age computation (tests). */
  now?: Date;
  /**
   * The TUF root every cached refresh must chain to (default: the public-good TUF root
   * embedded in @sigstore/tuf); tests give the root of their own loopback TUF repository.
   */
  tufRoot?: Buffer;
}

export const PUBLIC_GOOD = 'public-good';
const PUBLIC_GOOD_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';
const TRUSTED_ROOT_TARGET = 'trusted_root.json';
const MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v0\.\d+)?\+json(;\s*version=0\.\d+)?$/;
const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------
// Validation (pure)

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new TrustRootError('TRUST_ROOT_INVALID', `Trusted root ${where} ${what}.`, {
    hint: 'Regenerate the trusted_root.json from its Sigstore deployment, or fix the named entry.',
  });
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** protobuf-JSON bytes: standard or URL-safe base64; anything that does not round-trip is rejected. */
function decodeBase64Strict(v: unknown, where: string): Buffer {
  if (typeof v !== 'string' || v.length === 0) fail(where, 'is missing or empty');
  if (!/^[A-Za-z0-9+/\-_]+={0,2}$/.test(v)) fail(where, 'is not valid base64');
  const std = v.replace(/-/g, '+').replace(/_/g, '/');
  const buf = Buffer.from(std, 'base64');
  if (buf.length === 0 || buf.toString('base64').replace(/=+$/, '') !== std.replace(/=+$/, '')) {
    fail(where, 'is not valid base64');
  }
  return buf;
}

function parseTime(v: unknown, where: string): number {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
    fail(where, 'is not an RFC 3339 timestamp');
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) fail(where, 'is not an RFC 3339 timestamp');
  return t;
}

/**
 * A validity range. `start` is REQUIRED (sigstore-conformance
 * trust-root-*-missing-validity-start): a missing start must not mean "since forever".
 * `end` is optional (open-ended); null is protobuf-JSON for absent.
 */
function checkValidFor(v: unknown, where: string): { start: number; end: number | null } {
  if (!isObj(v)) fail(where, 'has no validFor range');
  if (v.start === undefined || v.start === null) fail(`${where}.validFor`, 'has no start');
  const start = parseTime(v.start, `${where}.validFor.start`);
  if (v.end === undefined || v.end === null) return { start, end: null };
  const end = parseTime(v.end, `${where}.validFor.end`);
  if (end < start) fail(`${where}.validFor`, 'ends before it starts');
  return { start, end };
}

const PKCS1_KEY_DETAILS = new Set(['PKCS1_RSA_PKCS1V5', 'PKCS1_RSA_PSS']);

function checkLog(e: unknown, where: string, seen: Map<string, string>): number {
  if (!isObj(e)) fail(where, 'is not an object');
  if (typeof e.baseUrl !== 'string' || e.baseUrl === '') fail(where, 'has no baseUrl');
  const pk = e.publicKey;
  if (!isObj(pk)) fail(where, 'has no publicKey');
  const raw = decodeBase64Strict(pk.rawBytes, `${where}.publicKey.rawBytes`);
  if (typeof pk.keyDetails !== 'string' || pk.keyDetails === '') fail(`${where}.publicKey`, 'has no keyDetails');
  try {
    createPublicKey({ key: raw, format: 'der', type: PKCS1_KEY_DETAILS.has(pk.keyDetails) ? 'pkcs1' : 'spki' });
  } catch {
    fail(`${where}.publicKey.rawBytes`, 'is not a public key');
  }
  const { start } = checkValidFor(pk.validFor, `${where}.publicKey`);
  if (!isObj(e.logId)) fail(where, 'has no logId');
  const id = decodeBase64Strict(e.logId.keyId, `${where}.logId.keyId`).toString('hex');
  if (e.checkpointKeyId !== undefined && e.checkpointKeyId !== null) {
    if (!isObj(e.checkpointKeyId)) fail(`${where}.checkpointKeyId`, 'is not an object');
    decodeBase64Strict(e.checkpointKeyId.keyId, `${where}.checkpointKeyId.keyId`);
  }
  // Inconsistent: one log ID naming two different keys would make log selection ambiguous.
  const keyHex = raw.toString('hex');
  const prev = seen.get(id);
  if (prev !== undefined && prev !== keyHex) fail(where, 'reuses the log ID of another entry with a different key');
  seen.set(id, keyHex);
  return start;
}

function checkAuthority(e: unknown, where: string): number {
  if (!isObj(e)) fail(where, 'is not an object');
  const chain = e.certChain;
  if (!isObj(chain) || !Array.isArray(chain.certificates) || chain.certificates.length === 0) {
    fail(where, 'has no certificates');
  }
  const certs = chain.certificates.map((c: unknown, i: number) => {
    const w = `${where}.certChain.certificates[${i}]`;
    if (!isObj(c)) fail(w, 'is not an object');
    const der = decodeBase64Strict(c.rawBytes, `${w}.rawBytes`);
    try {
      return new X509Certificate(der);
    } catch {
      return fail(w, 'is not an X.509 certificate');
    }
  });
  // Ordered leaf → root: each certificate must be signed by the next one.
  for (let i = 0; i + 1 < certs.length; i++) {
    let ok = false;
    try {
      ok = certs[i]!.verify(certs[i + 1]!.publicKey);
    } catch {
      ok = false;
    }
    if (!ok) fail(`${where}.certChain`, `is inconsistent: certificate ${i} is not signed by certificate ${i + 1}`);
  }
  return checkValidFor(e.validFor, where).start;
}

/** One entry's validity start (epoch ms) and where the entry is, for messages. */
interface EntryStart {
  where: string;
  start: number;
}

function checkList(root: Obj, key: string, check: (e: unknown, where: string) => number): EntryStart[] {
  const v = root[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(key, 'is not a list');
  return v.map((e, i) => ({ where: `${key}[${i}]`, start: check(e, `${key}[${i}]`) }));
}

/** Every entry's validity start (the basis of the root's age), after validating the root. */
function validateAndStarts(json: unknown): EntryStart[] {
  if (!isObj(json)) fail('document', 'is not a JSON object');
  if (typeof json.mediaType !== 'string' || !MEDIA_TYPE.test(json.mediaType)) {
    fail('mediaType', `is ${JSON.stringify(json.mediaType)}, not a Sigstore trusted root media type`);
  }
  const tlogIds = new Map<string, string>();
  const ctlogIds = new Map<string, string>();
  const tlogs = checkList(json, 'tlogs', (e, w) => checkLog(e, w, tlogIds));
  const cas = checkList(json, 'certificateAuthorities', checkAuthority);
  const starts = [
    ...tlogs,
    ...cas,
    ...checkList(json, 'ctlogs', (e, w) => checkLog(e, w, ctlogIds)),
    ...checkList(json, 'timestampAuthorities', checkAuthority),
  ];
  // Nothing to anchor trust in: every bundle would fail with a confusing error later.
  if (tlogs.length === 0 && cas.length === 0) fail('document', 'has no transparency logs and no certificate authorities');
  return starts;
}

/** Throws TrustRootError (TRUST_ROOT_INVALID) naming the first bad entry. */
export function validateTrustedRoot(json: unknown): void {
  validateAndStarts(json);
}

/**
 * The root's age in whole days: since the newest validity start that is not in the future
 * (null when there is none). A start in the future cannot be the date the root was made:
 * one such entry (2099) would otherwise make any root look brand new and defeat
 * trust_root_max_age_days. Such entries are named in a TRUST_ROOT_SUSPICIOUS warning.
 */
export function rootAge(starts: readonly EntryStart[], now: Date, source: string): { ageDays: number | null; warnings: string[] } {
  const past = starts.filter((s) => s.start <= now.getTime());
  const future = starts.filter((s) => s.start > now.getTime());
  const newest = past.length ? Math.max(...past.map((s) => s.start)) : Number.NaN;
  const warnings = future.length
    ? [
        `TRUST_ROOT_SUSPICIOUS: the trust root ${source} has ${future.length === 1 ? 'an entry' : `${future.length} entries`} whose validity starts in the future (${future.map((f) => `${f.where} from ${new Date(f.start).toISOString().slice(0, 10)}`).join(', ')}); ${future.length === 1 ? 'it is' : 'they are'} ignored for the root's age. Check where this trusted_root.json came from.`,
      ]
    : [];
  return { ageDays: Number.isNaN(newest) ? null : Math.floor((now.getTime() - newest) / DAY_MS), warnings };
}

/** Parses and validates trusted_root.json bytes. */
export function parseTrustedRoot(bytes: Buffer, source: string, now: Date = new Date()): LoadedTrustRoot {
  let json: unknown;
  try {
    // Duplicate keys refused: a reviewer of a custom root reads the first, JSON.parse keeps the last.
    json = parseStrictJson(bytes.toString('utf8'));
  } catch (e) {
    const why = e instanceof DuplicateKeyError ? `: ${e.message}` : '';
    throw new TrustRootError('TRUST_ROOT_MALFORMED', `Trusted root ${source} is not valid JSON${why}.`, {
      hint: 'Check that the file is a complete trusted_root.json.',
      cause: e,
    });
  }
  const { ageDays, warnings } = rootAge(validateAndStarts(json), now, source);
  return {
    source,
    digest: createHash('sha256').update(bytes).digest('hex'),
    ageDays,
    json,
    bytes,
    ...(warnings.length ? { warnings } : {}),
  };
}

// ---------------------------------------------------------------------------------
// Loading (I/O)

interface TufSeed {
  'root.json': string;
  targets: Record<string, string>;
}

let snapshotCache: { root: Buffer; trustedRoot: Buffer } | undefined;

/** The public-good TUF root and trusted_root.json embedded in @sigstore/tuf's seeds.json. */
function embeddedSnapshot(): { root: Buffer; trustedRoot: Buffer } {
  if (!snapshotCache) {
    const require = createRequire(import.meta.url);
    const seeds = require('@sigstore/tuf/seeds.json') as Record<string, TufSeed>;
    const seed = seeds[PUBLIC_GOOD_TUF_URL];
    const target = seed?.targets[TRUSTED_ROOT_TARGET];
    if (!seed || !target) {
      throw new TrustRootError('TRUST_ROOT_NOT_FOUND', 'The installed @sigstore/tuf has no embedded public-good trusted root.', {
        hint: 'Reinstall conda-attest, or pass a trusted_root.json path.',
      });
    }
    snapshotCache = { root: Buffer.from(seed['root.json'], 'base64'), trustedRoot: Buffer.from(target, 'base64') };
  }
  return snapshotCache;
}

interface CacheMeta {
  fetchedAt: string;
  mirror: string;
}

function cachePaths(cacheDir: string): { root: string; meta: string; tuf: string } {
  const dir = join(cacheDir, 'trust-root');
  return { root: join(dir, TRUSTED_ROOT_TARGET), meta: join(dir, 'meta.json'), tuf: join(dir, 'tuf') };
}

/** Where @sigstore/tuf keeps the TUF metadata of `mirror` under our cache (its own layout). */
function tufMetadataDir(cacheDir: string, mirror: string): string {
  const url = new URL(mirror);
  const tufDir = join(cachePaths(cacheDir).tuf, createHash('sha256').update(mirror).digest('hex').slice(0, 16));
  return join(tufDir, encodeURIComponent(url.host + url.pathname.replace(/\/$/, '')));
}

/** Clock skew tolerated before a refresh time counts as "in the future". */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

/**
 * The cached refresh, re-checked against its signed TUF metadata on every load (./tuf-check.ts).
 * `problem` says why a cache that is there was not used (a warning; the embedded snapshot
 * or a refresh takes over).
 */
function readCached(cacheDir: string, now: Date, anchor: Buffer): { loaded: LoadedTrustRoot } | { problem?: string } {
  const p = cachePaths(cacheDir);
  let bytes: Buffer;
  let meta: CacheMeta;
  try {
    bytes = readFileSync(p.root);
    meta = JSON.parse(readFileSync(p.meta, 'utf8')) as CacheMeta;
  } catch {
    return {};
  }
  const fetched = typeof meta?.fetchedAt === 'string' ? Date.parse(meta.fetchedAt) : Number.NaN;
  if (Number.isNaN(fetched)) return { problem: 'its meta.json has no refresh time' };
  // A refresh time in the future would make a planted root look fresh (age 0) for as long as it likes.
  if (fetched > now.getTime() + FUTURE_SKEW_MS) return { problem: `its refresh time ${meta.fetchedAt} is in the future` };
  let problem: string | undefined;
  try {
    const dir = tufMetadataDir(cacheDir, typeof meta.mirror === 'string' ? meta.mirror : PUBLIC_GOOD_TUF_URL);
    problem = cachedRootProblem({
      anchorRoot: JSON.parse(anchor.toString('utf8')),
      root: JSON.parse(readFileSync(join(dir, 'root.json'), 'utf8')),
      targets: JSON.parse(readFileSync(join(dir, 'targets.json'), 'utf8')),
      trustedRoot: bytes,
      targetName: TRUSTED_ROOT_TARGET,
    });
  } catch (e) {
    problem = `its TUF metadata cannot be read (${describeError(e)})`;
  }
  if (problem) return { problem };
  try {
    const loaded = parseTrustedRoot(bytes, `public-good (TUF cache, refreshed ${meta.fetchedAt})`, now);
    loaded.ageDays = Math.max(0, Math.floor((now.getTime() - fetched) / DAY_MS));
    return { loaded };
  } catch (e) {
    return { problem: describeError(e) }; // a damaged cache is ignored, the snapshot still works
  }
}

function cacheWarning(problem: string): string {
  return `TRUST_ROOT_INVALID: the cached public-good trusted root is not used: ${problem.replace(/\.$/, '')}.`;
}

const RETRY_AFTER_FAILURE_MS = 60 * 60 * 1000;

function lastFailure(cacheDir: string): number | null {
  try {
    const t = Date.parse(readFileSync(join(cacheDir, 'trust-root', 'last-refresh-failure'), 'utf8').trim());
    return Number.isNaN(t) ? null : t;
  } catch {
    return null;
  }
}

function recordFailure(cacheDir: string, now: Date): void {
  try {
    mkdirSync(join(cacheDir, 'trust-root'), { recursive: true });
    writeAtomic(join(cacheDir, 'trust-root', 'last-refresh-failure'), now.toISOString() + '\n');
  } catch {
    // an unwritable cache only means the next run tries again
  }
}

/** True when the cached TUF refresh is younger than a day. */
function isFresh(cacheDir: string, now: Date): boolean {
  try {
    const meta = JSON.parse(readFileSync(cachePaths(cacheDir).meta, 'utf8')) as CacheMeta;
    const age = now.getTime() - Date.parse(meta.fetchedAt);
    return age >= 0 && age < DAY_MS;
  } catch {
    return false;
  }
}

function writeAtomic(path: string, data: string | Buffer): void {
  writeFileAtomicSync(path, data);
}

async function refreshViaTuf(opts: LoadTrustRootOptions, now: Date): Promise<LoadedTrustRoot> {
  const mirror = opts.tufMirrorUrl ?? PUBLIC_GOOD_TUF_URL;
  const p = cachePaths(opts.cacheDir);
  const tufDir = join(p.tuf, createHash('sha256').update(mirror).digest('hex').slice(0, 16));
  mkdirSync(tufDir, { recursive: true });
  // A mirror other than the CDN has no seed in @sigstore/tuf: start it from the embedded TUF root.
  let rootPath: string | undefined;
  if (mirror !== PUBLIC_GOOD_TUF_URL || opts.tufRoot) {
    rootPath = join(tufDir, 'seed-root.json');
    writeAtomic(rootPath, opts.tufRoot ?? embeddedSnapshot().root);
  }
  const timeoutMs = opts.tufTimeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    const text = await Promise.race([
      (async () => {
        // Loaded only when refreshing: @sigstore/tuf and its HTTP stack cost start-up time.
        const { initTUF } = await import('@sigstore/tuf');
        // forceInit: every refresh starts again from the anchor root, so a root.json planted in
        // the cache cannot become the root the refresh trusts.
        const client = await initTUF({ cachePath: tufDir, mirrorURL: mirror, rootPath, timeout: timeoutMs, retry: 0, forceInit: true });
        return client.getTarget(TRUSTED_ROOT_TARGET);
      })(),
      timeout,
    ]);
    const bytes = Buffer.from(text, 'utf8');
    const fetchedAt = now.toISOString();
    const loaded = parseTrustedRoot(bytes, `public-good (TUF, refreshed ${fetchedAt})`, now);
    loaded.ageDays = 0;
    mkdirSync(join(opts.cacheDir, 'trust-root'), { recursive: true });
    writeAtomic(p.root, bytes);
    writeAtomic(p.meta, JSON.stringify({ fetchedAt, mirror } satisfies CacheMeta) + '\n');
    // What every later load checks, checked now: a refresh whose cache would not load is a failed refresh.
    const check = readCached(opts.cacheDir, now, opts.tufRoot ?? embeddedSnapshot().root);
    if (!('loaded' in check)) throw new Error(`the refreshed root does not match its TUF metadata: ${check.problem ?? 'not found'}`);
    return loaded;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `public-good`: TUF refresh unless offline; on failure (or offline) the cached refresh,
 * else the embedded snapshot (a warning says which). Any other spec is a file path.
 */
export async function loadTrustRoot(spec: string, opts: LoadTrustRootOptions): Promise<LoadedTrustRoot> {
  const now = opts.now ?? new Date();
  if (spec !== PUBLIC_GOOD) return loadTrustRootFile(spec, now);
  const warnings: string[] = [];
  const anchor = opts.tufRoot ?? embeddedSnapshot().root;
  // A root refreshed through TUF less than a day ago is fresh enough: no network round
  // trip on every run (TUF timestamp metadata itself is re-signed about daily).
  const first = readCached(opts.cacheDir, now, anchor);
  if ('loaded' in first && !opts.offline && isFresh(opts.cacheDir, now)) return first.loaded;
  // After a failed refresh (an air-gapped machine), do not wait for the TUF timeout on
  // every run: try again after an hour; meanwhile use the cached or embedded root.
  const failedAt = lastFailure(opts.cacheDir);
  const recentlyFailed = failedAt !== null && now.getTime() - failedAt >= 0 && now.getTime() - failedAt < RETRY_AFTER_FAILURE_MS;
  if (!opts.offline && !recentlyFailed) {
    try {
      return await refreshViaTuf(opts, now);
    } catch (e) {
      recordFailure(opts.cacheDir, now);
      warnings.push(`TRUST_ROOT_REFRESH_FAILED: could not refresh the public-good trusted root through TUF (${describeError(e)}); using the cached or embedded root.`);
    }
  } else if (!opts.offline) {
    warnings.push(`TRUST_ROOT_REFRESH_FAILED: the last TUF refresh of the public-good trusted root failed less than an hour ago; using the cached or embedded root (--offline silences this).`);
  }
  // A failed refresh left the cache as it was: what was read above still stands.
  if ('problem' in first && first.problem) warnings.push(cacheWarning(first.problem));
  const loaded = 'loaded' in first ? first.loaded : parseTrustedRoot(embeddedSnapshot().trustedRoot, 'public-good (embedded snapshot)', now);
  if (warnings.length) loaded.warnings = [...warnings, ...(loaded.warnings ?? [])];
  return loaded;
}

function loadTrustRootFile(path: string, now: Date): LoadedTrustRoot {
  let bytes: Buffer;
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    bytes = readFileSync(path);
  } catch (e) {
    throw new TrustRootError('TRUST_ROOT_NOT_FOUND', `Trusted root file ${path} cannot be read.`, {
      hint: 'Check the path given as trust_root / --trusted-root.',
      cause: e,
    });
  }
  try {
    return parseTrustedRoot(bytes, path, now);
  } catch (e) {
    // Name the file: a run that fails on its trust root must say which file to fix.
    if (e instanceof TrustRootError && !e.message.includes(path)) {
      throw new TrustRootError(e.code, `Trusted root file ${path} is unusable: ${e.message}`, { hint: e.hint, cause: e });
    }
    throw e;
  }
}

/**
 * Refresh the public-good trusted root through TUF now, whatever the cache says (the
 * `trust-root refresh` command). Throws TRUST_ROOT_REFRESH_FAILED when TUF cannot be
 * reached or its metadata does not verify.
 */
export async function refreshTrustRoot(opts: LoadTrustRootOptions): Promise<LoadedTrustRoot> {
  const now = opts.now ?? new Date();
  try {
    return await refreshViaTuf(opts, now);
  } catch (e) {
    recordFailure(opts.cacheDir, now);
    if (e instanceof TrustRootError) throw e;
    throw new TrustRootError('TRUST_ROOT_REFRESH_FAILED', `Could not refresh the public-good trusted root through TUF (${opts.tufMirrorUrl ?? PUBLIC_GOOD_TUF_URL}): ${describeError(e)}.`, {
      hint: 'Check the network (and proxy settings); on an air-gapped machine, copy a root written by `conda-attest trust-root export FILE` elsewhere and point trust_root at it.',
      cause: e,
    });
  }
}

/** One validity window of a trust-root entry (CA, transparency log, CT log, TSA). */
interface TrustRootWindow {
  kind: 'certificate-authority' | 'tlog' | 'ctlog' | 'timestamp-authority';
  /** URI / base URL of the service. */
  name: string;
  start: string | null;
  end: string | null;
}

/** The validity windows of every entry of a (validated) trusted_root.json, in file order. Pure. */
export function trustRootWindows(json: unknown): TrustRootWindow[] {
  const out: TrustRootWindow[] = [];
  const root = isObj(json) ? json : {};
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const lists: [string, TrustRootWindow['kind'], (e: Obj) => { name: unknown; validFor: unknown }][] = [
    ['certificateAuthorities', 'certificate-authority', (e) => ({ name: e.uri, validFor: e.validFor })],
    ['tlogs', 'tlog', (e) => ({ name: e.baseUrl, validFor: isObj(e.publicKey) ? e.publicKey.validFor : undefined })],
    ['ctlogs', 'ctlog', (e) => ({ name: e.baseUrl, validFor: isObj(e.publicKey) ? e.publicKey.validFor : undefined })],
    ['timestampAuthorities', 'timestamp-authority', (e) => ({ name: e.uri, validFor: e.validFor })],
  ];
  for (const [key, kind, pick] of lists) {
    const list = root[key];
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      if (!isObj(e)) continue;
      const { name, validFor } = pick(e);
      const v = isObj(validFor) ? validFor : {};
      out.push({ kind, name: str(name) ?? '(unnamed)', start: str(v.start), end: str(v.end) });
    }
  }
  return out;
}
