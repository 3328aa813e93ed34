// Plain data types shared by the pure core and the adapters. No I/O here.
import type { Code } from './codes.ts';
import type { ClaimConstraintValues, ClaimValues } from './claims.ts';
import type { ChannelPolicy as ChannelPolicyWritten } from './generated/config-types.ts';
import type { BundleEvidence } from './verify/evidence.ts';
import type { IdentityDiff } from './lock/decide.ts';

/** A conda package to verify, however it was found (lockfile, explicit file, URL, host). */
export interface PackageRecord {
  /** Where the package bytes are (or would be) downloaded from. */
  url: string;
  /** The channel URL the package was found under, no trailing slash (may be a mirror). */
  channel: string;
  /** conda subdir, e.g. `linux-64`, `noarch`. */
  subdir: string;
  /** Full package filename, e.g. `numpy-1.24.3-py310h5f9d8e6_0.conda` (or `.tar.bz2`). */
  filename: string;
  /** Package name, version and build string, parsed from the filename or taken from metadata. */
  name: string;
  version: string;
  build: string;
  /** Expected SHA-256 of the package bytes (lowercase hex), when a lockfile records it. */
  sha256?: string;
  /** Expected MD5 (explicit files may only have that). */
  md5?: string;
  /** Expected size in bytes, when known. */
  size?: number;
  /** CEP 50 `attestations_sha256` when the caller already has the repodata record. */
  attestationsSha256?: string;
  /** A local file holding the package bytes (package file targets). */
  localPath?: string;
  /**
   * Why a local package file's own info/index.json could not be read when it was the one
   * source of its subdir (damaged archive): the package is invalid whatever its
   * attestations say, and its subdir is `unknown`.
   */
  unreadable?: Reason;
  /**
   * Where the package's entry is in the environment file it was read from: the file as
   * given on the command line and the 1-based line of the entry (pixi.lock `packages`
   * item, conda-lock.yml `package` item, explicit file URL line). For CI annotations.
   */
  source?: { file: string; line: number };
}

/** A stable code and one sentence; the unit of every rejection or note in a report. */
export interface Reason {
  /** A code of the registry (src/codes.ts): stable API. */
  code: Code;
  message: string;
  hint?: string;
  /**
   * The transport cause behind a retrieval failure (or a HOST_CUT_OFF notice), so that the
   * renderings show one line per cause instead of one per package. Not part of --json.
   */
  outage?: Outage;
}

/** One cause that makes requests to a host fail: what a user reads once for a whole outage. */
export interface Outage {
  /** `prefix.dev`, `127.0.0.1:8080`; `--offline` for requests offline mode did not send. */
  host: string;
  /** What failed, without the host: `DNS lookup failed (ENOTFOUND)`, `answered HTTP 503`. */
  cause: string;
  /** The first request to the host that failed this way in the run (nothing was sent offline). */
  url: string;
}

/** Declared once, in schema/config.schema.json (`channelPolicy`). */
export type RequireMode = ChannelPolicyWritten['require'];
export type DiscoveryMethod = ChannelPolicyWritten['discovery'][number];

/** Claim constraints of a trusted identity (src/claims.ts): each given one must hold against its Fulcio claim; a certificate without that claim does not satisfy it. */
export type ClaimConstraints = ClaimConstraintValues;

/** One entry of `trusted_identities` after normalisation (issuer inferred where allowed). */
export interface IdentityPattern {
  /** The pattern as written (glob, `re:` + regular expression, or `github:` / `gitlab:` shorthand). */
  identity: string;
  issuer: string;
  /** Claim constraints; absent or empty: the SAN pattern and issuer alone decide. */
  constraints?: ClaimConstraints;
}

/** One configured self-managed public key (`trusted_keys`). */
export interface TrustedKey {
  /** Name shown in reports; defaults to the fingerprint. */
  name?: string;
  /** PEM text of the public key. */
  pem: string;
  /** Where it came from (path or `inline`), for error messages. */
  source: string;
  /** SHA-256 (hex) of the key's SPKI DER; filled in by config resolution (the key is parsed there anyway). */
  fingerprint?: string;
}

/** One `packages:` rule of a channel policy (overrides for matching package names). */
export interface PackageRule {
  /** The key as written: an exact package name, or a glob with `*`. */
  pattern: string;
  require?: RequireMode;
  trustedIdentities?: IdentityPattern[];
  trustedKeys?: TrustedKey[];
}

/** One `exceptions:` entry: the matching packages pass until the end of `until` (UTC). */
export interface PolicyException {
  /** Package name, or a glob with `*`. */
  package: string;
  /** YYYY-MM-DD, inclusive. */
  until: string;
  reason?: string;
}

/**
 * One `deny` entry (incident response): a matching package is blocked with DENIED and
 * `reason`, whatever its attestations, `require` or exceptions say. Exactly one form.
 */
export type DenyEntry = DenyBySha256 | DenyByVersions | DenyByIdentity;
/** A `deny` entry as written in the config (schema/config.schema.json `denyEntry`), and as `policy` shows it back. */
export type { DenyEntry as DenyWritten } from './generated/config-types.ts';
interface DenyCommon {
  reason: string;
  /** Where it is configured, for messages: `deny[0]`, `channels["…"].deny[1]`. */
  at: string;
}
export interface DenyBySha256 extends DenyCommon {
  sha256: string;
}
export interface DenyByVersions extends DenyCommon {
  /** Package name or `*` glob, lowercase. */
  package: string;
  /** conda version spec. */
  versions: string;
}
export interface DenyByIdentity extends DenyCommon {
  /** SAN glob, `re:` expression, or github:/gitlab: shorthand (as in trusted_identities). */
  identity: string;
  /** ISO 8601 instants (normalised to UTC, `Z`). */
  signedAfter?: string;
  signedBefore?: string;
}

/** The effective policy for one canonical channel, defaults applied. */
export interface ChannelPolicy {
  /** Canonical channel URL (no trailing slash), or `default` for the fallback. */
  channel: string;
  enabled: boolean;
  require: RequireMode;
  trustedIdentities: IdentityPattern[];
  trustedKeys: TrustedKey[];
  requireTlog: boolean;
  mirrors: string[];
  discovery: DiscoveryMethod[];
  /** Per-package rules (absent: none). */
  packages?: PackageRule[];
  /** Time-limited exceptions (absent: none). */
  exceptions?: PolicyException[];
  /** This channel's own deny entries (absent: none); the top-level ones apply too. */
  deny?: DenyEntry[];
  /** On the effective policy of one package: the key of the `packages:` rule that applied. */
  rule?: string;
}

/** The whole configuration after validation and defaults. */
export interface ResolvedConfig {
  /** File the config came from, or undefined when built-in defaults were used. */
  source?: string;
  /** `public-good` or an absolute path to a trusted_root.json. */
  trustRoot: string;
  /** `trust_root_max_age_days`: an older trust root stops the run (TRUST_ROOT_STALE). */
  trustRootMaxAgeDays?: number;
  /** Absolute path of the identity lockfile. */
  lockfile: string;
  maxSidecarBytes: number;
  default: ChannelPolicy;
  channels: ChannelPolicy[];
  /** Top-level deny entries: they apply to every channel. */
  deny: DenyEntry[];
  /** Directory for caches (trust root, repodata, verdicts). */
  cacheDir: string;
  /** HTTP settings. */
  http: {
    connectTimeoutMs: number;
    totalTimeoutMs: number;
    /** No byte for this long fails an attempt (retried). */
    idleTimeoutMs: number;
    retries: number;
  };
  /** The run's deadline, from the session's start. */
  deadlineMs: number;
  concurrency: number;
  /** `serve:` (the verifying proxy), when configured. */
  serve?: {
    /** Route name → upstream channel URL, as written. */
    routes: Record<string, string>;
    listen?: string;
    requestDeadlineMs?: number;
    breakerCoolDownMs?: number;
    maxConnections?: number;
  };
}

/** Decoded signer identity of one verified bundle; its Fulcio claims (src/claims.ts) only those present. */
export interface SignerIdentity extends ClaimValues {
  /** `github`, `gitlab`, `email`, `uri` (other certificate identity) or `key` (self-managed key). */
  kind: 'github' | 'gitlab' | 'email' | 'uri' | 'key';
  /** Certificate SAN (URI or email). Absent for keys. */
  san?: string;
  /** OIDC issuer (OID 1.3.6.1.4.1.57264.1.8, legacy .1.1). */
  issuer?: string;
  /** For kind `key`: SHA-256 fingerprint (hex) of the SPKI DER, and the configured name. */
  keyFingerprint?: string;
  keyName?: string;
}

export type PackageStatus =
  | 'verified'
  | 'missing'
  | 'invalid'
  | 'untrusted'
  | 'identity-changed'
  | 'retrieval-failed'
  | 'skipped';

export type PackageAction = 'pass' | 'warn' | 'block';

export type DigestSource = 'artifact' | 'lockfile';

/** What verifying one bundle of a sidecar gave. */
export interface BundleOutcome {
  /** Position in the sidecar array. */
  index: number;
  mediaType?: string;
  /** in-toto predicateType when the bundle carries a statement. */
  predicateType?: string;
  /** True when this bundle is a CEP 27 publish attestation (by predicate type). */
  publish: boolean;
  /** Verified: Sigstore verification and (for publish attestations) CEP 27 checks passed. */
  verified: boolean;
  /** Signer identity when Sigstore verification succeeded. */
  identity?: SignerIdentity;
  /** `predicate.targetChannel` when present. */
  targetChannel?: string;
  /** Whether the bundle had a transparency-log entry that was verified. */
  tlog?: boolean;
  reasons: Reason[];
  /** Log entry, timestamps, certificate, checks and links (src/verify/evidence.ts), as published in JSON. */
  evidence?: BundleEvidence;
}

/** The verdict for one package: the report row. */
export interface PackageReport {
  filename: string;
  name: string;
  version: string;
  build: string;
  channel: string;
  subdir: string;
  url: string;
  sha256: string | null;
  digest_source: DigestSource | null;
  status: PackageStatus;
  action: PackageAction;
  /** The identity that satisfied the check (first trusted publish attestation), or null. */
  identity: SignerIdentity | null;
  /**
   * Sidecar index of the bundle whose identity is `identity` (CEP 50: bundle order carries
   * no meaning, any bundle that verifies under the policy makes the package verified), or null.
   */
  verified_by?: number | null;
  reasons: Reason[];
  /** Informational notes (e.g. `recorded` on first use). */
  notes: string[];
  /** Where the sidecar came from (URL or path), and which discovery method found it. */
  sidecar: { url: string; method: DiscoveryMethod | 'given'; sha256: string } | null;
  bundles: BundleOutcome[];
  /** For `identity-changed`: what the identity lockfile pinned, what was observed, and the changes. */
  identity_diff?: IdentityDiff;
  /** A configured exception applied: the action is `pass` whatever the status. */
  exception?: { until: string; reason?: string };
}

/** Entries of the targets that conda attestations do not cover (counted, never verified). */
export interface NotCoveredCounts {
  /** PyPI packages (pixi.lock, conda-lock.yml). */
  pypi: number;
  /** conda entries without a channel URL: source packages and local paths (pixi.lock). */
  source: number;
  /** `file://` packages (a channel on this machine): nothing is published to verify them with. */
  local?: number;
}

export interface ReportSummary {
  total: number;
  verified: number;
  missing: number;
  invalid: number;
  untrusted: number;
  'identity-changed': number;
  'retrieval-failed': number;
  skipped: number;
  blocked: number;
  warned: number;
  /** Always set by summarize(); optional so that hand-built summaries stay valid. */
  not_covered?: NotCoveredCounts;
}

export interface Report {
  version: 1;
  summary: ReportSummary;
  packages: PackageReport[];
  /** Trust root used: source and age. */
  trust_root?: { source: string; digest: string; age_days: number | null; as_of?: string | null };
  /** Run-level warnings (e.g. the trust root could not be refreshed). */
  warnings?: string[];
  /** Run-level findings, each with a stable code (e.g. CHANNEL_UNUSED, NOTHING_VERIFIED). */
  notices?: Reason[];
  /** What the run read: the target files (or URLs) and the config file. */
  inputs?: { targets: string[]; config: string | null };
  /** The identity lockfile: its path, whether this run wrote it, and how many packages it newly pinned. */
  lockfile?: { path: string; written: boolean; pinned: number };
}
