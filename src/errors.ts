// One error base class for the whole product. Every rejection carries a stable
// `code` (API: never rename or reuse one), one clear sentence as `message`, and a
// `hint` saying what to do about it. `cause` keeps the underlying error.
//
// Codes live in one typed registry (src/codes.ts), each with its domain and one-line
// meaning; an error class can only raise the codes of its own domain.
import type { Code, CodeIn } from './codes.ts';
import type { Outage, Reason } from './types.ts';

export type UsageErrorCode = CodeIn<'usage'>;
export type ConfigErrorCode = CodeIn<'config'>;
export type TargetErrorCode = CodeIn<'target'>;
export type HttpErrorCode = CodeIn<'http'>;
export type RepodataErrorCode = CodeIn<'repodata'>;
export type SidecarErrorCode = CodeIn<'sidecar'>;
export type TrustRootErrorCode = CodeIn<'trust-root'>;
export type VerifyErrorCode = CodeIn<'verify'>;
export type LockErrorCode = CodeIn<'lock'>;
export type PluginErrorCode = CodeIn<'plugin'>;
export type ErrorCode = Code;

export interface AttestErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra structured detail for --json output (e.g. every failing config path). */
  details?: unknown;
}

/**
 * The one plain-text form of a coded finding (an error, a reason, a notice) on one line:
 * `CODE: message (hint: …)`. Every output that prints a finding as a line uses it; callers
 * escape the result for their medium (src/text/escape.ts).
 */
export function findingLine(f: { code: string; message: string; hint?: string | undefined }): string {
  return `${f.code}: ${f.message}${f.hint ? ` (hint: ${f.hint})` : ''}`;
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
    return findingLine(this);
  }
}

export class UsageError extends AttestError<UsageErrorCode> { override name = 'UsageError'; }
export class ConfigError extends AttestError<ConfigErrorCode> { override name = 'ConfigError'; }
export class TargetError extends AttestError<TargetErrorCode> { override name = 'TargetError'; }
export interface HttpErrorOptions extends AttestErrorOptions {
  status?: number;
  outage?: Outage;
  retryable?: boolean;
  hostFailure?: boolean;
  retryAfterMs?: number;
  notSent?: boolean;
}
export class HttpError extends AttestError<HttpErrorCode> {
  override name = 'HttpError';
  /** HTTP status when the server answered. */
  status?: number;
  /** The host-level cause (connection failure, stall, 5xx, offline), for one line per outage. */
  outage?: Outage;
  /** Worth another attempt: 5xx, 408, 429, a stall or a connection failure (src/http/layers.ts retry). */
  readonly retryable: boolean;
  /** A stall or connection failure: counts towards the host's circuit breaker (src/http/layers.ts breaker). */
  readonly hostFailure: boolean;
  /** How long the server asked to wait (Retry-After, RFC 9110 §10.2.3), ms. */
  readonly retryAfterMs?: number;
  /** Refused before it was sent (breaker open, deadline passed): never the cause of a failure. */
  readonly notSent: boolean;

  constructor(code: HttpErrorCode, message: string, o: HttpErrorOptions = {}) {
    super(code, message, o);
    this.status = o.status;
    this.outage = o.outage;
    this.retryable = o.retryable ?? false;
    this.hostFailure = o.hostFailure ?? false;
    this.retryAfterMs = o.retryAfterMs;
    this.notSent = o.notSent ?? false;
  }
}
export class RepodataError extends AttestError<RepodataErrorCode> { override name = 'RepodataError'; }
export class SidecarError extends AttestError<SidecarErrorCode> { override name = 'SidecarError'; }
export class TrustRootError extends AttestError<TrustRootErrorCode> { override name = 'TrustRootError'; }
export class VerifyError extends AttestError<VerifyErrorCode> { override name = 'VerifyError'; }
export class LockError extends AttestError<LockErrorCode> { override name = 'LockError'; }
export class PluginError extends AttestError<PluginErrorCode> { override name = 'PluginError'; }

export function isAttestError(e: unknown): e is AttestError {
  return e instanceof AttestError;
}

/** The error classes by `name`: an error sent across a thread boundary is rebuilt as its own subclass. */
const CLASSES: Record<string, new (code: never, message: string, options?: AttestErrorOptions) => AttestError> = {
  UsageError,
  ConfigError,
  TargetError,
  HttpError,
  RepodataError,
  SidecarError,
  TrustRootError,
  VerifyError,
  LockError,
  PluginError,
};

/** Rebuild an AttestError from its plain form (`name`, `code`, `message`, `hint`), keeping its subclass. */
export function attestErrorFrom(plain: { name?: string; code: string; message: string; hint?: string }): AttestError {
  const Class = (plain.name !== undefined && Object.hasOwn(CLASSES, plain.name) ? CLASSES[plain.name] : AttestError) as new (
    code: string,
    message: string,
    options?: AttestErrorOptions,
  ) => AttestError;
  return new Class(plain.code, plain.message, { hint: plain.hint });
}

/**
 * The one rule for "not published" (CEP 50 probes, the optional repodata formats): 404, or
 * the 403 / 410 that object stores such as S3 answer for a key that does not exist (RFC
 * 9110 §15.5.4, §15.5.11). Never applied to something a channel advertises.
 */
export function notPublished(e: unknown): boolean {
  return e instanceof HttpError && (e.code === 'HTTP_NOT_FOUND' || notPublishedStatus(e.status));
}

/** The same rule on a status code (a proxy passing an upstream answer on). */
export function notPublishedStatus(status: number | undefined): boolean {
  return status === 404 || status === 403 || status === 410;
}

/** The transport cause of an error: the first HttpError in its cause chain that names one. */
export function outageOf(e: unknown): Outage | undefined {
  for (let cur = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if (cur instanceof HttpError && cur.outage) return cur.outage;
  }
  return undefined;
}

/** The report form of a thrown value: its own code, message and hint, or `fallbackCode` for a foreign error. */
export function reasonFromError(e: unknown, fallbackCode: ErrorCode): Reason {
  const outage = outageOf(e);
  if (e instanceof AttestError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(outage ? { outage } : {}) };
  return { code: fallbackCode, message: describeError(e) };
}

/**
 * `<url> could not be fetched: <cause>.`, saying the URL once however the transport worded
 * its error; a request that was never sent keeps saying so.
 */
export function couldNotFetch(url: string, e: unknown): string {
  const m = describeError(e).replace(/\.$/, '');
  if (m.startsWith(`${url} was not requested`)) return `${m}.`;
  const sent = `Request to ${url} failed: `;
  const rest = m.startsWith(sent) ? m.slice(sent.length) : m.startsWith(`${url} `) ? m.slice(url.length + 1) : m;
  return `${url} could not be fetched: ${rest}.`;
}

/** A short description of any thrown value, for wrapping foreign errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
