// One error base class for the whole product. Every rejection carries a stable
// `code` (API: never rename or reuse one), one clear sentence as `message`, and a
// `hint` saying what to do about it. `cause` keeps the underlying error.
//
// Codes are grouped by domain as string unions so that each adapter can only
// raise the codes of its own domain.

/** Usage / command-line errors (exit code 2). */
export type UsageErrorCode =
  | 'USAGE_INVALID_ARGUMENT'
  | 'USAGE_MISSING_ARGUMENT'
  | 'USAGE_UNKNOWN_OPTION'
  | 'USAGE_UNKNOWN_COMMAND'
  | 'USAGE_NO_TARGET'
  /** A file the user asked for (e.g. `--report-file`) cannot be written. */
  | 'USAGE_OUTPUT_UNWRITABLE';

/** Configuration errors (exit code 2). */
export type ConfigErrorCode =
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_PARSE_FAILED'
  | 'CONFIG_INVALID'
  | 'CONFIG_KEY_INVALID'
  /** No config file was found and none was given: no policy, no pass. */
  | 'NO_CONFIG'
  /** `init` found a configuration it would replace (or shadow). */
  | 'CONFIG_EXISTS';

/** Target (pixi.lock, conda-lock.yml, explicit file, URL, package file) errors. */
export type TargetErrorCode =
  | 'TARGET_NOT_FOUND'
  | 'TARGET_UNREADABLE'
  | 'TARGET_PARSE_FAILED'
  | 'TARGET_UNSUPPORTED'
  | 'TARGET_INVALID_URL'
  | 'TARGET_INVALID_FILENAME'
  | 'TARGET_NO_CHANNEL'
  | 'TARGET_NO_SUBDIR';

/** HTTP transport errors. */
export type HttpErrorCode =
  | 'HTTP_STATUS'
  | 'HTTP_NOT_FOUND'
  | 'HTTP_TIMEOUT'
  | 'HTTP_CONNECTION_FAILED'
  | 'HTTP_TOO_LARGE'
  | 'HTTP_OFFLINE'
  | 'HTTP_BAD_URL'
  | 'HTTP_WRITE_FAILED';

/** Repodata errors. */
export type RepodataErrorCode =
  | 'REPODATA_UNAVAILABLE'
  | 'REPODATA_MALFORMED'
  | 'REPODATA_INVALID_ATTESTATIONS_SHA256'
  /** A CEP 16 shard named by the shard index could not be fetched (404 included). */
  | 'REPODATA_SHARD_UNAVAILABLE'
  /** A CEP 16 shard's bytes do not hash to the SHA-256 the shard index names. */
  | 'REPODATA_SHARD_MISMATCH';

/** Sidecar retrieval errors (CEP 50): all map to status `retrieval-failed`. */
export type SidecarErrorCode =
  | 'SIDECAR_UNAVAILABLE'
  | 'SIDECAR_NOT_FOUND'
  | 'SIDECAR_TOO_LARGE'
  | 'SIDECAR_HASH_MISMATCH'
  | 'SIDECAR_MALFORMED'
  | 'SIDECAR_EMPTY'
  /** More bundles than a sidecar may hold (MAX_SIDECAR_BUNDLES): refused before any verification. */
  | 'SIDECAR_TOO_MANY_BUNDLES';

/** Trust root errors. */
export type TrustRootErrorCode =
  | 'TRUST_ROOT_NOT_FOUND'
  | 'TRUST_ROOT_MALFORMED'
  | 'TRUST_ROOT_INVALID'
  | 'TRUST_ROOT_REFRESH_FAILED'
  /** The trust root in use is older than trust_root_max_age_days (also the >180-day notice). */
  | 'TRUST_ROOT_STALE';

/** Bundle / attestation verification errors (status `invalid` or `untrusted`). */
export type VerifyErrorCode =
  | 'BUNDLE_MALFORMED'
  | 'BUNDLE_UNSUPPORTED_MEDIA_TYPE'
  | 'SIGSTORE_VERIFICATION_FAILED'
  | 'ARTIFACT_DIGEST_MISMATCH'
  | 'CEP27_NOT_DSSE'
  | 'CEP27_PAYLOAD_TYPE'
  | 'CEP27_STATEMENT_MALFORMED'
  | 'CEP27_STATEMENT_TYPE'
  | 'CEP27_PREDICATE_TYPE'
  | 'CEP27_SUBJECT_COUNT'
  | 'CEP27_SUBJECT_NAME'
  | 'CEP27_SUBJECT_DIGEST'
  | 'CEP27_PREDICATE_MALFORMED'
  | 'CEP27_TARGET_CHANNEL_MISMATCH'
  | 'IDENTITY_MISMATCH'
  | 'KEY_UNTRUSTED'
  | 'TLOG_REQUIRED'
  | 'INTOTO_STATEMENT_INVALID'
  /** A verification worker thread (src/verify/pool.ts) died or the pool was closed mid-call. */
  | 'VERIFY_WORKER_FAILED';

/** Policy-level reasons attached to package verdicts. */
export type PolicyErrorCode =
  | 'NO_ATTESTATIONS'
  | 'NO_PUBLISH_ATTESTATION'
  | 'IDENTITY_UNTRUSTED'
  | 'IDENTITY_CHANGED'
  | 'IDENTITY_ADDED'
  | 'ATTESTATIONS_REMOVED'
  | 'IDENTITY_REMOVED'
  /** Issue 4 within one run: observations of one unpinned package disagree on its signers. */
  | 'IDENTITY_INCONSISTENT'
  | 'LOCK_ENTRY_MISSING'
  | 'PACKAGE_DIGEST_MISMATCH'
  | 'CHANNEL_DISABLED'
  /** The plugin layer cannot judge a package URL (query string, not a conda package file name). */
  | 'PACKAGE_URL_UNSUPPORTED'
  /** A configured exception for the package has expired: it was judged normally. */
  | 'EXCEPTION_EXPIRED';

/** Identity lockfile errors. */
export type LockErrorCode =
  | 'LOCK_CORRUPT'
  | 'LOCK_UNSUPPORTED_VERSION'
  | 'LOCK_WRITE_FAILED'
  | 'LOCK_BUSY'
  | 'LOCK_FROZEN'
  | 'LOCK_NOT_FOUND'
  | 'LOCK_IDENTITY_INCOMPLETE'
  | 'LOCK_UNREADABLE'
  /** `--frozen` (CI) without the identity lockfile on disk. */
  | 'LOCK_MISSING';

/** Plugin / host integration errors. */
export type PluginErrorCode =
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_INVALID'
  | 'PLUGIN_HOOK_FAILED'
  | 'PLUGIN_BAD_RETURN'
  | 'PACKAGE_BLOCKED'
  | 'ARCHIVE_MALFORMED'
  | 'ARCHIVE_UNSAFE_PATH';

/**
 * Run-level notices (the report's `notices`): findings about the whole run rather than one
 * package. They never change the exit code by themselves.
 */
export type RunNoticeCode =
  /** A channel listed in the config matched no package of the run. */
  | 'CHANNEL_UNUSED'
  /** No package was verified, and none was blocked or warned about. */
  | 'NOTHING_VERIFIED';

export type ErrorCode =
  | UsageErrorCode
  | ConfigErrorCode
  | TargetErrorCode
  | HttpErrorCode
  | RepodataErrorCode
  | SidecarErrorCode
  | TrustRootErrorCode
  | VerifyErrorCode
  | PolicyErrorCode
  | LockErrorCode
  | PluginErrorCode;

export interface AttestErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra structured detail for --json output (e.g. every failing config path). */
  details?: unknown;
}

/** Base class of every error conda-attest raises on purpose. */
export class AttestError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(code: C, message: string, options: AttestErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AttestError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A one-line rendering: `CODE: message (hint: ...)`. */
  toLine(): string {
    return `${this.code}: ${this.message}${this.hint ? ` (hint: ${this.hint})` : ''}`;
  }
}

export class UsageError extends AttestError<UsageErrorCode> {
  override name = 'UsageError';
}
export class ConfigError extends AttestError<ConfigErrorCode> {
  override name = 'ConfigError';
}
export class TargetError extends AttestError<TargetErrorCode> {
  override name = 'TargetError';
}
export class HttpError extends AttestError<HttpErrorCode> {
  override name = 'HttpError';
  /** HTTP status when the server answered. */
  status?: number;
}
export class RepodataError extends AttestError<RepodataErrorCode> {
  override name = 'RepodataError';
}
export class SidecarError extends AttestError<SidecarErrorCode> {
  override name = 'SidecarError';
}
export class TrustRootError extends AttestError<TrustRootErrorCode> {
  override name = 'TrustRootError';
}
export class VerifyError extends AttestError<VerifyErrorCode> {
  override name = 'VerifyError';
}
export class LockError extends AttestError<LockErrorCode> {
  override name = 'LockError';
}
export class PluginError extends AttestError<PluginErrorCode> {
  override name = 'PluginError';
}

export function isAttestError(e: unknown): e is AttestError {
  return e instanceof AttestError;
}

/** A short description of any thrown value, for wrapping foreign errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
