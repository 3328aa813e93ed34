// The contract between a host installer (mambajs, a fetch-based downloader, any Node code
// that installs conda packages) and the plugins it loads. The host owns the download step
// and the run; plugins wrap the download step and report at the end of the run.
//
// Why this shape (pnpm / yarn-berry style optional async hooks): a host only has to call
// what exists, a plugin only implements what it needs, and wrapping `next` lets a plugin
// see the exact bytes the host is about to extract — verification happens on those bytes,
// before extraction (the hook contract), with no second pass over them.
import { escapeText } from '../src/text/escape.ts';
import { AttestError } from '../src/errors.ts';
import { checkDigest } from '../src/policy/digest.ts';
import type { PackageRecord, PackageReport, Reason, Report } from '../src/types.ts';

/** One package the host is about to download. */
export interface DownloadRequest {
  /**
   * What the host knows about the package: `url`, `filename`, `channel`, `subdir`, and when
   * it has them the expected `sha256` / `size` (from its lockfile) and `attestationsSha256`
   * (from repodata). Plugins receive it frozen: a hook that tries to modify it fails with
   * `PLUGIN_HOOK_FAILED` (the loader enforces this).
   */
  readonly record: Readonly<PackageRecord>;
}

/** The downloaded bytes of one package. */
export interface Downloaded {
  /** The package bytes, exactly as the host will extract them. */
  bytes: Uint8Array;
  /**
   * Lowercase hex SHA-256 of `bytes`, computed WHILE the bytes streamed in (no second
   * pass). The innermost download function computes it; a plugin that returns other bytes
   * than it was given must return their digest too.
   */
  sha256: string;
}

/** The host's download step, and what every `wrapDownload` returns. */
export type DownloadFn = (req: DownloadRequest) => Promise<Downloaded>;

/**
 * A conda installer plugin. Every hook is optional; the host calls the ones present.
 *
 * Error handling, for every hook: a hook that throws (anything, even a non-Error), returns
 * the wrong shape, or modifies the package record is reported by the loader as a
 * `PluginError` naming the plugin and the hook (`PLUGIN_HOOK_FAILED`, `PLUGIN_BAD_RETURN`),
 * and the host's run fails. The one intended rejection is {@link PackageBlockedError}: it
 * passes through every layer unchanged so the host can show the package and the reasons.
 */
export interface CondaInstallerPlugin {
  /** Non-empty name, shown in every error about this plugin. */
  name: string;
  /**
   * Wrap the host's download step. Called ONCE per run, when the host composes the plugins
   * (first listed plugin outermost), with the next function in the chain (the host's own
   * download for the innermost plugin). Must return a function of the same shape; that
   * function is called once per package, may call `next` (usually exactly once), and must
   * resolve to `{ bytes: Uint8Array, sha256: <64 lowercase hex> }` — checked at call time
   * (`PLUGIN_BAD_RETURN`). To refuse a package, reject with a {@link PackageBlockedError};
   * the host then extracts nothing of it.
   */
  wrapDownload?(next: DownloadFn): DownloadFn;
  /**
   * Called once at the end of the run, in plugin order, after every package was downloaded
   * (also when the run failed part-way, so that what was seen is still reported). May
   * return a {@link Report} (conda-attest returns its verification report and writes its
   * identity lockfile here, once) or nothing. Every plugin's `afterInstall` runs even when
   * an earlier one failed; the first failure is then thrown.
   */
  afterInstall?(): Promise<Report | void>;
}

/** What the host gets back from the end-of-run hooks: each plugin's report, in order. */
export interface PluginRunResult {
  plugin: string;
  report: Report | undefined;
}

/** Options of {@link PackageBlockedError}. */
export interface PackageBlockedOptions {
  hint?: string;
  cause?: unknown;
  /** The full report row, when the verification pipeline produced one. */
  report?: PackageReport;
}

/**
 * A package was refused under the policy (or its bytes did not match what the host
 * expected). Thrown from the download step BEFORE the host extracts anything of the
 * package. Carries the package record and every reason, each with its own stable code
 * (e.g. `NO_ATTESTATIONS`, `IDENTITY_UNTRUSTED`, `PACKAGE_DIGEST_MISMATCH`).
 */
export class PackageBlockedError extends AttestError<'PACKAGE_BLOCKED'> {
  override name = 'PackageBlockedError';
  readonly record: Readonly<PackageRecord>;
  readonly reasons: readonly Reason[];
  readonly report: PackageReport | undefined;

  constructor(record: Readonly<PackageRecord>, reasons: readonly Reason[], options: PackageBlockedOptions = {}) {
    const codes = reasons.map((r) => r.code).join(', ') || 'no reason given';
    // Escaped: a host prints this message on its terminal, and both values come from outside.
    super('PACKAGE_BLOCKED', `Package ${escapeText(record.filename)} from ${escapeText(record.channel)} was blocked (${escapeText(codes)}).`, {
      hint:
        options.hint ??
        reasons.find((r) => r.hint)?.hint ??
        'Run `conda-attest verify` on the package for details, or adjust the channel policy if this package is expected.',
      cause: options.cause,
      details: { record, reasons },
    });
    this.record = Object.freeze({ ...record });
    this.reasons = Object.freeze(reasons.map((r) => Object.freeze({ ...r })));
    this.report = options.report;
  }
}

/**
 * The reason given when a package's bytes are not what the host expected (its lockfile's
 * sha256 or size): refused before any attestation is consulted.
 */
export function digestMismatchReason(message: string): Reason {
  return {
    code: 'PACKAGE_DIGEST_MISMATCH',
    message,
    hint: 'The download was altered or the host lockfile is stale; re-lock from a trusted source.',
  };
}

/**
 * The one sha256 rule of the plugin layer (src/policy/digest.ts compares): why bytes of
 * SHA-256 `sha256` are not the package the host locked (`record.sha256`), or undefined.
 */
export function lockedDigestReason(record: Readonly<PackageRecord>, sha256: string): Reason | undefined {
  if (!record.sha256) return undefined;
  const refusal = checkDigest(record, { sha256, source: 'artifact' });
  return refusal ? digestMismatchReason(`${record.filename} downloaded with SHA-256 ${sha256}, but the host expects ${record.sha256}.`) : undefined;
}

/** Lowercase hex SHA-256, as every digest in the contract is spelled. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The reason given for a package URL the plugin layer cannot judge (a query string or
 * fragment, a path that is not `<channel>/<subdir>/<file>`, a name that is not a conda
 * package): refused before it is fetched, never passed on unverified.
 */
export function unsupportedUrlReason(message: string, hint?: string): Reason {
  return {
    code: 'PACKAGE_URL_UNSUPPORTED',
    message,
    hint: hint ?? 'Download packages from plain channel URLs (<channel>/<subdir>/<file>.conda); signed or parameterised URLs cannot be matched to their attestations.',
  };
}

/** The file name a URL's path ends in, decoded when it can be (else as written). */
export function urlFilename(url: string): string {
  const path = url.split(/[?#]/)[0]!;
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** A record for an URL that could not be parsed into one (only for the refusal itself). */
export function placeholderRecord(url: string): PackageRecord {
  return { url, filename: urlFilename(url), channel: '', subdir: '', name: '', version: '', build: '' };
}
