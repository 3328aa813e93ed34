// Trust root provider (docs/configuration.md "Trust root"): the Sigstore public-good root from the snapshot that
// @sigstore/tuf ships (works offline out of the box), refreshed through TUF when online
// and cached in cacheDir, or a custom trusted_root.json validated before use.
// `validateTrustedRoot` (trust-root-validate.ts) is pure; `loadTrustRoot` is the thin I/O
// adapter around it.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TrustRootError, describeError } from '../errors.ts';
import { writeFileAtomicSync } from '../store/atomic.ts';
import type { CheckedTexts } from '../lock/checked.ts';
import { type LoadedTrustRoot, datedBy, parseTrustedRoot, trustRootLabel } from './trust-root-validate.ts';

export { parseTrustedRoot, trustRootLabel, trustRootWindows, validateTrustedRoot } from './trust-root-validate.ts';
export type { LoadedTrustRoot } from './trust-root-validate.ts';
import { cachedRootDate, cachedRootProblem, tufRootDate } from './tuf-check.ts';

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
  /** Roots validated before (parseTrustedRoot); absent: every root is checked. */
  checked?: CheckedTexts;
}

export const PUBLIC_GOOD = 'public-good';
const PUBLIC_GOOD_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';
const TRUSTED_ROOT_TARGET = 'trusted_root.json';
const DAY_MS = 86_400_000;

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
  let signed: number | null = null;
  try {
    const dir = tufMetadataDir(cacheDir, typeof meta.mirror === 'string' ? meta.mirror : PUBLIC_GOOD_TUF_URL);
    const read = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));
    const optional = (name: string): unknown => {
      try {
        return read(name);
      } catch {
        return undefined;
      }
    };
    const root = read('root.json');
    const targets = read('targets.json');
    problem = cachedRootProblem({ anchorRoot: JSON.parse(anchor.toString('utf8')), root, targets, trustedRoot: bytes, targetName: TRUSTED_ROOT_TARGET });
    signed = cachedRootDate({ root, targets, snapshot: optional('snapshot.json'), timestamp: optional('timestamp.json') });
  } catch (e) {
    problem = `its TUF metadata cannot be read (${describeError(e)})`;
  }
  if (problem) return { problem };
  try {
    // Its age is the date of the signed TUF metadata, not the refresh time meta.json claims.
    return { loaded: datedBy(parseTrustedRoot(bytes, `public-good (TUF cache, refreshed ${meta.fetchedAt})`, now), signed, now) };
  } catch (e) {
    return { problem: describeError(e) }; // a damaged cache is ignored, the snapshot still works
  }
}

/** The embedded snapshot, dated by the signed TUF root that came with it. */
function embeddedRoot(now: Date): LoadedTrustRoot {
  const { root, trustedRoot } = embeddedSnapshot();
  return datedBy(parseTrustedRoot(trustedRoot, 'public-good (embedded snapshot)', now), tufRootDate(JSON.parse(root.toString('utf8'))), now);
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
    parseTrustedRoot(bytes, `public-good (TUF, refreshed ${fetchedAt})`, now);
    mkdirSync(join(opts.cacheDir, 'trust-root'), { recursive: true });
    writeAtomic(p.root, bytes);
    writeAtomic(p.meta, JSON.stringify({ fetchedAt, mirror } satisfies CacheMeta) + '\n');
    // What every later load checks, checked now: a refresh whose cache would not load is a failed refresh.
    const check = readCached(opts.cacheDir, now, opts.tufRoot ?? embeddedSnapshot().root);
    if (!('loaded' in check)) throw new Error(`the refreshed root does not match its TUF metadata: ${check.problem ?? 'not found'}`);
    return { ...check.loaded, source: `public-good (TUF, refreshed ${fetchedAt})` };
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
  if (spec !== PUBLIC_GOOD) return loadTrustRootFile(spec, now, opts.checked);
  const failures: string[] = [];
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
      failures.push(`could not refresh the public-good trusted root through TUF (${describeError(e).replace(/\.$/, '')})`);
    }
  } else if (!opts.offline) {
    failures.push('the last TUF refresh of the public-good trusted root failed less than an hour ago');
  }
  // A failed refresh left the cache as it was: what was read above still stands.
  const loaded = 'loaded' in first ? first.loaded : embeddedRoot(now);
  // One line per failed refresh, naming the root used instead (and its date).
  const warnings = failures.map((f) => `TRUST_ROOT_REFRESH_FAILED: ${f}; using ${trustRootLabel(loaded)} (--no-tuf-refresh skips the refresh).`);
  if ('problem' in first && first.problem) warnings.push(cacheWarning(first.problem));
  if (warnings.length) loaded.warnings = [...warnings, ...(loaded.warnings ?? [])];
  return loaded;
}

function loadTrustRootFile(path: string, now: Date, checked: CheckedTexts | undefined): LoadedTrustRoot {
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
    return parseTrustedRoot(bytes, path, now, checked);
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
