// Per-bundle evidence: what a reviewer needs to audit a verdict or cross-check it against
// the public transparency log — the log entry (index, integrated time, inclusion proof
// with its checkpoint origin and tree size), RFC 3161 timestamps, the signing
// certificate's validity window, which checks ran and how they ended, and links to the
// commit, workflow file and run named by the certificate's claims.
//
// ONE pure function builds it from the bundle JSON (the same fields rattler's
// `verify-attestation` reports from) and the verifier's findings; `verify --json`,
// `verify-bundle --format json` and the browser build all call it, so they print the
// same object. No I/O and no Node built-ins: it runs unchanged in a browser bundle
// (@sigstore/core's DER parsers are portable; `Buffer` is the one global it needs, which
// sigstore-js needs anyway).
import { ASN1Obj, RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import type { SignerIdentity } from '../types.ts';

/**
 * The checks a verdict is made of, in the order they run (sigstore-js's Verifier first,
 * then CEP 27 §Verification, then the channel policy). `true` passed, `false` failed,
 * `null` did not run (an earlier check failed) or does not apply (e.g. `sct` for a
 * key-signed bundle, `target_channel` when the predicate names none).
 */
export const CHECK_NAMES = [
  'bundle_format',
  'timestamp',
  'certificate_chain',
  'sct',
  'tlog_inclusion',
  'signature',
  'subject_digest',
  'subject_name',
  'predicate_type',
  'target_channel',
  'identity_policy',
  'claims_policy',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];
export type Checks = Record<CheckName, boolean | null>;

/** The Sigstore checks in sigstore-js's order (Verifier.verify: timestamps, signing key, tlogs, signature). */
const SIGSTORE_ORDER: readonly CheckName[] = ['bundle_format', 'timestamp', 'certificate_chain', 'sct', 'tlog_inclusion', 'signature'];
const CERTIFICATE_ONLY: ReadonlySet<CheckName> = new Set(['certificate_chain', 'sct']);

export interface TlogEvidence {
  log_index: string;
  /** ISO 8601; null for entries without one (Rekor v2 entries carry no integrated time). */
  integrated_time: string | null;
  /** Hex of the log's key ID. */
  log_id: string | null;
  kind_version: { kind: string; version: string } | null;
  inclusion_proof: { origin: string | null; tree_size: string; root_hash: string; log_index: string } | null;
  inclusion_promise: boolean;
}

export interface BundleEvidence {
  /** The first transparency-log entry of the bundle (the one sigstore-js requires). */
  tlog: TlogEvidence | null;
  /** RFC 3161 timestamps: the signing time each one attests (null when unreadable). */
  timestamps: { signing_time: string | null }[];
  certificate: { not_before: string; not_after: string; serial: string; issuer_dn: string } | null;
  checks: Checks;
  links: { commit: string | null; workflow: string | null; run: string | null };
}

/** All checks not run: the start of every bundle's record. */
export function emptyChecks(): Checks {
  return Object.fromEntries(CHECK_NAMES.map((n) => [n, null])) as Checks;
}

/**
 * The Sigstore part of the checks: all passed, or the one that failed with the earlier
 * ones passed and the later ones not run. `keySigned`: no certificate, so no chain and no
 * SCT; `tlog`: whether the bundle had a log entry (a key-signed bundle may have none).
 */
export function sigstoreChecks(outcome: { failed: CheckName | null } | { passed: true; keySigned: boolean; tlog: boolean }): Checks {
  const out = emptyChecks();
  if ('passed' in outcome) {
    for (const n of SIGSTORE_ORDER) out[n] = outcome.keySigned && CERTIFICATE_ONLY.has(n) ? null : true;
    if (!outcome.tlog) out.tlog_inclusion = null;
    return out;
  }
  if (outcome.failed === null) return out;
  const at = SIGSTORE_ORDER.indexOf(outcome.failed);
  if (at < 0) {
    // A later (CEP 27 or policy) check failed: every Sigstore check before it passed.
    for (const n of SIGSTORE_ORDER) out[n] = true;
  } else {
    for (const n of SIGSTORE_ORDER.slice(0, at)) out[n] = true;
  }
  out[outcome.failed] = false;
  return out;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function b64hex(v: unknown): string | null {
  const s = str(v);
  return s === undefined ? null : Buffer.from(s, 'base64').toString('hex');
}

const UINT = /^\d+$/;

/** Seconds since the epoch (a protobuf int64 as a JSON string) to ISO 8601; null for 0 / absent / nonsense. */
function isoSeconds(v: unknown): string | null {
  const s = typeof v === 'number' ? String(v) : str(v);
  if (s === undefined || !UINT.test(s) || s === '0' || s.length > 12) return null;
  return new Date(Number(s) * 1000).toISOString();
}

/** The checkpoint's origin line (C2SP tlog-checkpoint: the first line of the note). */
function checkpointOrigin(envelope: unknown): string | null {
  const e = str(envelope);
  if (!e) return null;
  const line = e.split('\n', 1)[0];
  return line ? line : null;
}

function tlogOf(material: Record<string, unknown>): TlogEvidence | null {
  const entries = material.tlogEntries;
  if (!Array.isArray(entries) || !isObj(entries[0])) return null;
  const e = entries[0];
  const logIndex = str(e.logIndex) ?? (typeof e.logIndex === 'number' ? String(e.logIndex) : undefined);
  if (logIndex === undefined || !UINT.test(logIndex)) return null;
  const kv = isObj(e.kindVersion) && str(e.kindVersion.kind) !== undefined && str(e.kindVersion.version) !== undefined
    ? { kind: e.kindVersion.kind as string, version: e.kindVersion.version as string }
    : null;
  const p = e.inclusionProof;
  const proof = isObj(p) && UINT.test(str(p.treeSize) ?? '') && UINT.test(str(p.logIndex) ?? '')
    ? {
        origin: checkpointOrigin(isObj(p.checkpoint) ? p.checkpoint.envelope : undefined),
        tree_size: p.treeSize as string,
        root_hash: b64hex(p.rootHash) ?? '',
        log_index: p.logIndex as string,
      }
    : null;
  return {
    log_index: logIndex,
    integrated_time: isoSeconds(e.integratedTime),
    log_id: isObj(e.logId) ? b64hex(e.logId.keyId) : null,
    kind_version: kv,
    inclusion_proof: proof,
    inclusion_promise: isObj(e.inclusionPromise) && str(e.inclusionPromise.signedEntryTimestamp) !== undefined,
  };
}

/**
 * RFC 3161 §2.4.2: genTime is a DER GeneralizedTime, `YYYYMMDDHHMMSS[.f*]Z`, and DER
 * (X.690 §11.7) drops trailing zeros of the fraction, so `.5Z` is as valid as `.123Z`.
 * @sigstore/core accepts exactly three fraction digits (and then ignores them), so a TSA
 * that writes `.5Z` or `.05Z` made genuine timestamps fail with "invalid time". Pure:
 * returns the instant (fraction kept to the millisecond, truncated beyond), or undefined
 * for anything that is not a real calendar time.
 */
export function parseGeneralizedTime(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, sec, ms);
  // Date rolls over out-of-range fields (month 13, 25:00): such a time is malformed.
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || t.getUTCHours() !== h || t.getUTCMinutes() !== mi || t.getUTCSeconds() !== sec) return undefined;
  return t;
}

const ASN1_GENERALIZED_TIME = 0x18;

/** genTime (TSTInfo field 5) of one RFC 3161 timestamp token, read with our own parser (see above). */
export function timestampSigningTime(ts: RFC3161Timestamp): Date | undefined {
  try {
    const genTime = ts.tstInfo.root.subs[4];
    if (genTime && genTime.tag.number === ASN1_GENERALIZED_TIME && genTime.tag.class === 0) return parseGeneralizedTime(genTime.value.toString('latin1'));
  } catch {
    // fall through: unreadable
  }
  return undefined;
}

function timestampsOf(material: Record<string, unknown>): { signing_time: string | null }[] {
  const tvd = material.timestampVerificationData;
  const list = isObj(tvd) && Array.isArray(tvd.rfc3161Timestamps) ? tvd.rfc3161Timestamps : [];
  return list.map((t: unknown) => {
    const der = isObj(t) ? str(t.signedTimestamp) : undefined;
    if (der === undefined) return { signing_time: null };
    try {
      const time = timestampSigningTime(RFC3161Timestamp.parse(Buffer.from(der, 'base64')));
      return { signing_time: time ? time.toISOString() : null };
    } catch {
      return { signing_time: null };
    }
  });
}

/** Short names of RFC 4514 §3 plus the usual extras; other attributes print as their OID. */
const DN_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** RFC 4514 §2.4 escaping of an attribute value. */
function escapeDnValue(v: string): string {
  return v
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** DER length octets (X.690 §8.1.3). */
function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return [0x80 | bytes.length, ...bytes];
}

/**
 * The contents of a DER Name (RFC 5280 §4.1.2.4: the RDN sets, as @sigstore/core's
 * `X509Certificate.issuer` gives them) as an RFC 4514 string: RDNs last-first, attributes
 * of one RDN joined with `+`. Null when it is not a Name.
 */
export function formatDistinguishedName(contents: Uint8Array): string | null {
  try {
    const name = ASN1Obj.parseBuffer(Buffer.from([0x30, ...derLength(contents.length), ...contents]));
    const rdns = name.subs.map((rdn) =>
      rdn.subs
        .map((atv) => {
          const [type, value] = atv.subs;
          if (!type || !value) throw new Error('attribute without type or value');
          const oid = type.toOID();
          return `${DN_NAMES[oid] ?? oid}=${escapeDnValue(value.value.toString('utf8'))}`;
        })
        .join('+'),
    );
    return rdns.reverse().join(',');
  } catch {
    return null;
  }
}

function leafDer(material: Record<string, unknown>): string | undefined {
  if (isObj(material.certificate)) return str(material.certificate.rawBytes);
  const chain = material.x509CertificateChain;
  if (isObj(chain) && Array.isArray(chain.certificates) && isObj(chain.certificates[0])) return str(chain.certificates[0].rawBytes);
  return undefined;
}

/** Issuer names as formatted, by their exact DER bytes (latin1: one char per byte); bounded against misuse. */
const issuerNames = new Map<string, string | null>();
const MAX_ISSUER_NAMES = 256;

/**
 * formatDistinguishedName of a certificate's issuer, kept per exact bytes: it is a pure
 * function of them, and every leaf of a run names one of a few issuing CAs (the DN was
 * parsed again for each bundle's evidence).
 */
function issuerName(contents: Buffer): string | null {
  const key = contents.toString('latin1');
  let name = issuerNames.get(key);
  if (name === undefined) {
    name = formatDistinguishedName(contents);
    if (issuerNames.size >= MAX_ISSUER_NAMES) issuerNames.clear();
    issuerNames.set(key, name);
  }
  return name;
}

function certificateOf(material: Record<string, unknown>, parsed: X509Certificate | undefined): BundleEvidence['certificate'] {
  const raw = parsed ? '' : leafDer(material);
  if (raw === undefined) return null;
  try {
    const cert = parsed ?? X509Certificate.parse(Buffer.from(raw, 'base64'));
    const issuer = issuerName(cert.issuer);
    return {
      not_before: cert.notBefore.toISOString(),
      not_after: cert.notAfter.toISOString(),
      // DER INTEGER (X.690 §8.3): a leading zero octet only keeps the number positive.
      serial: cert.serialNumber.toString('hex').replace(/^(?:00)+(?=[0-9a-f]{2})/, ''),
      issuer_dn: issuer ?? '',
    };
  } catch {
    return null;
  }
}

const HEX_DIGEST = /^[0-9a-f]{40,64}$/;

/** A claim that is an https URL under `base`, without trailing slash, or undefined. */
function underBase(v: string | undefined, base: string): string | undefined {
  if (v === undefined || !v.startsWith(base) || /[\s"<>\\^`{|}]/.test(v)) return undefined;
  return v.replace(/\/+$/, '');
}

/**
 * Commit, workflow-file-at-that-commit and run links from a GitHub or GitLab
 * certificate's claims (Fulcio OIDs .12 repository, .13 digest, .18/.19 build config,
 * .21 run invocation). Only for the two providers' own hosts and issuers, and only with a
 * hex commit digest: a link is never built from text that is not what it claims to be.
 */
export function claimLinks(id: SignerIdentity | null | undefined): BundleEvidence['links'] {
  const none = { commit: null, workflow: null, run: null };
  if (!id || (id.kind !== 'github' && id.kind !== 'gitlab')) return none;
  const base = id.kind === 'github' ? 'https://github.com/' : 'https://gitlab.com/';
  const sep = id.kind === 'github' ? '/' : '/-/';
  const repo = underBase(id.sourceRepositoryUri, base);
  const digest = id.sourceRepositoryDigest?.toLowerCase();
  const commit = repo && digest && HEX_DIGEST.test(digest) ? `${repo}${sep}commit/${digest}` : null;
  let workflow: string | null = null;
  // Build Config URI: `<repo>/<path>@<ref>` (GitHub), `<repo>//<path>@<ref>` (GitLab).
  const config = underBase(id.buildConfigUri, base);
  const configDigest = (id.buildConfigDigest ?? id.sourceRepositoryDigest)?.toLowerCase();
  if (repo && config && configDigest && HEX_DIGEST.test(configDigest) && config.startsWith(`${repo}/`)) {
    const at = config.indexOf('@', repo.length);
    const path = (at < 0 ? config.slice(repo.length) : config.slice(repo.length, at)).replace(/^\/+/, '');
    if (path && !path.split('/').includes('..')) workflow = `${repo}${sep}blob/${configDigest}/${path}`;
  }
  const run = underBase(id.runInvocationUri, base) ?? null;
  return { commit, workflow, run };
}

export interface EvidenceInput {
  /** The bundle as parsed from the sidecar (protobuf JSON form). */
  bundle: unknown;
  /** The signer identity, when the certificate could be read. */
  identity?: SignerIdentity | null;
  /** The checks as far as they ran (missing keys: not run). */
  checks?: Partial<Checks>;
  /** The bundle's leaf certificate as verification parsed it from this same bundle, if it did. */
  leaf?: X509Certificate;
}

/**
 * The evidence of one bundle. For a bundle that did not verify, `tlog`, `timestamps` and
 * `certificate` are what the bundle claims (`checks` says what failed), so a reviewer can
 * still look the entry up.
 */
export function bundleEvidence(input: EvidenceInput): BundleEvidence {
  const bundle = isObj(input.bundle) ? input.bundle : {};
  const material = isObj(bundle.verificationMaterial) ? bundle.verificationMaterial : {};
  return {
    tlog: tlogOf(material),
    timestamps: timestampsOf(material),
    certificate: certificateOf(material, input.leaf),
    checks: { ...emptyChecks(), ...input.checks },
    links: claimLinks(input.identity),
  };
}

/** The public-good Rekor's search page for one log index (text output links only for that log). */
export function publicLogEntryUrl(logIndex: string): string {
  return `https://search.sigstore.dev/?logIndex=${encodeURIComponent(logIndex)}`;
}
