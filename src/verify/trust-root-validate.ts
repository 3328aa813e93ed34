// Trust-root validation (pure): a custom or refreshed trusted_root.json is checked before
// use, by every host alike (the CLI, the plugin, the browser build). Node's X.509 under
// Node (loading @sigstore/core here would cost ~18 ms of start-up on runs answered from the
// verdict cache); the browser build binds `node:crypto` to src/crypto/browser.ts.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { TrustRootError } from '../errors.ts';
import { DuplicateKeyError, JsonTooDeepError, parseStrictJson } from '../util/json-strict.ts';
import type { CheckedTexts } from '../lock/checked.ts';

export interface LoadedTrustRoot {
  /** Where the root came from, for reports. */
  source: string;
  /** SHA-256 hex of the trusted_root.json bytes (part of verdict-cache keys). */
  digest: string;
  /**
   * How old the root material is, in whole days since `asOf`: taken from the content, never
   * from when a file was written (re-exporting an old root does not make it young).
   */
  ageDays: number | null;
  /**
   * The newest date the content vouches for, not in the future (ISO 8601): for the
   * public-good root the signing date of its TUF metadata (./tuf-check.ts), for any root the
   * newest `validFor.start` of its entries (the root cannot predate its newest key). Null
   * when neither says.
   */
  asOf?: string | null;
  /** The trusted_root.json object (validated). */
  json: unknown;
  /** Its bytes as read (what `digest` is over; what `trust-root export` writes). */
  bytes?: Buffer;
  /** Non-fatal problems met while loading (e.g. TUF unreachable, fell back to the snapshot). */
  warnings?: string[];
}

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
export function rootAge(starts: readonly EntryStart[], now: Date, source: string): { ageDays: number | null; asOf: string | null; warnings: string[] } {
  const past = starts.filter((s) => s.start <= now.getTime());
  const future = starts.filter((s) => s.start > now.getTime());
  const newest = past.length ? Math.max(...past.map((s) => s.start)) : Number.NaN;
  const warnings = future.length
    ? [
        `TRUST_ROOT_SUSPICIOUS: the trust root ${source} has ${future.length === 1 ? 'an entry' : `${future.length} entries`} whose validity starts in the future (${future.map((f) => `${f.where} from ${new Date(f.start).toISOString().slice(0, 10)}`).join(', ')}); ${future.length === 1 ? 'it is' : 'they are'} ignored for the root's age. Check where this trusted_root.json came from.`,
      ]
    : [];
  if (Number.isNaN(newest)) return { ageDays: null, asOf: null, warnings };
  return { ageDays: Math.floor((now.getTime() - newest) / DAY_MS), asOf: new Date(newest).toISOString(), warnings };
}

/**
 * How a root is named in one-line messages: "public-good of 2026-10-07", "/etc/root.json of
 * 2025-11-02" (the date it dates from, see `asOf`), or "... (date unknown)".
 */
export function trustRootLabel(root: { source: string; asOf?: string | null }): string {
  const name = root.source.startsWith('public-good') ? 'public-good' : root.source;
  return root.asOf ? `${name} of ${root.asOf.slice(0, 10)}` : `${name} (date unknown)`;
}

/**
 * Date a loaded root by signed metadata that vouches for it (the TUF signing date of the
 * public-good root): taken when it is newer than what the root's own entries say and not
 * in the future (a future date would make the root look young for as long as it likes).
 */
export function datedBy(root: LoadedTrustRoot, date: number | null, now: Date): LoadedTrustRoot {
  if (date === null || date > now.getTime()) return root;
  if (root.asOf && Date.parse(root.asOf) >= date) return root;
  root.asOf = new Date(date).toISOString();
  root.ageDays = Math.floor((now.getTime() - date) / DAY_MS);
  return root;
}

/**
 * Parses and validates trusted_root.json bytes. With `checked` (the Node host's memo,
 * src/lock/checked.ts), bytes validated before are not checked again: the memo keeps, per
 * SHA-256 of the bytes and under the cache key's MAC, the validity starts the check found
 * (all the age needs), and the object is parsed only when verification needs it. A run whose
 * verdicts are all cached never does: it needs only the digest (part of every verdict key)
 * and the age (measured: the strict parse and the check were ~10 ms of CPU per run).
 */
export function parseTrustedRoot(bytes: Buffer, source: string, now: Date = new Date(), checked?: CheckedTexts): LoadedTrustRoot {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const tag = checked?.digest(`trusted_root.json ${digest}`);
  const known = tag === undefined ? undefined : rememberedStarts(checked!.result(tag));
  if (known) {
    let json: unknown;
    const lazy = { get json(): unknown { return (json ??= JSON.parse(bytes.toString('utf8'))); } };
    return withAge(Object.assign(lazy, { source, digest, bytes }), known, now);
  }
  let json: unknown;
  try {
    // Duplicate keys refused: a reviewer of a custom root reads the first, JSON.parse keeps the last.
    json = parseStrictJson(bytes.toString('utf8'));
  } catch (e) {
    const why = e instanceof DuplicateKeyError || e instanceof JsonTooDeepError ? `: ${e.message}` : '';
    throw new TrustRootError('TRUST_ROOT_MALFORMED', `Trusted root ${source} is not valid JSON${why}.`, {
      hint: 'Check that the file is a complete trusted_root.json.',
      cause: e,
    });
  }
  const starts = validateAndStarts(json);
  if (tag !== undefined) void checked!.add(tag, JSON.stringify(starts));
  return withAge({ source, digest, json, bytes }, starts, now);
}

/** The root with its age (rootAge) and warnings. */
function withAge<T extends Pick<LoadedTrustRoot, 'source' | 'digest' | 'json' | 'bytes'>>(root: T, starts: readonly EntryStart[], now: Date): T & LoadedTrustRoot {
  const { ageDays, asOf, warnings } = rootAge(starts, now, root.source);
  return Object.assign(root, { ageDays, asOf }, warnings.length ? { warnings } : {});
}

/** A memo's result as validity starts, or undefined when it is not one. */
function rememberedStarts(text: string | undefined): EntryStart[] | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((s) => isObj(s) && typeof s.where === 'string' && typeof s.start === 'number')) return v as EntryStart[];
  } catch {
    // not one: the full check
  }
  return undefined;
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
