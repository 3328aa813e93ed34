// conda-attest as a host plugin, whoever hosts it: verify every downloaded package under
// the channel policy before the host extracts it, and report (and pin identities) once at
// the end of the run. The session comes from the host (plugin/conda-attest.ts under Node,
// src/browser/ in the browser build).
import type { PackageRecord, PackageReport, Reason, Report } from '../src/types.ts';
import type { VerifySession } from '../src/session-types.ts';
import { buildReport } from '../src/report/build.ts';
import { findingLine, HttpError } from '../src/errors.ts';
import { isValidPackageFilename } from '../src/targets/package-url.ts';
import { PackageBlockedError, digestMismatchReason, lockedDigestReason, unsupportedUrlReason } from './contract.ts';
import type { CondaInstallerPlugin, DownloadFn, DownloadRequest, Downloaded } from './contract.ts';

/** The plugin's name, as shown in errors and in the host's list of plugin reports. */
export const PLUGIN_NAME = 'conda-attest';

/** Default of `settleTimeoutMs`. */
const SETTLE_TIMEOUT_MS = 60_000;

/**
 * conda-attest as a plugin over a session that `open` opens ONCE, on the host's first
 * download (every host: the Node plugin, the browser build). `settleTimeoutMs`: how long
 * the end-of-run hook waits for downloads still in flight.
 */
export function attestPlugin(open: () => Promise<VerifySession>, settleTimeoutMs?: number): CondaInstallerPlugin {
  let sessionPromise: Promise<VerifySession> | undefined;
  const session = (): Promise<VerifySession> => {
    if (!sessionPromise) {
      sessionPromise = open();
      // A failure surfaces where the session is awaited (the first download, or afterInstall);
      // it must not also be an unhandled rejection while the host is still composing.
      sessionPromise.catch(() => {});
    }
    return sessionPromise;
  };
  // Packages refused before the pipeline saw them (bytes not what the host expected);
  // merged into the end-of-run report so that every refusal is listed.
  const refused: PackageReport[] = [];
  // Each download (and its verification) still running, with its package.
  const inFlight = new Map<Promise<unknown>, Readonly<PackageRecord>>();
  let downloads = 0;
  let finished: Promise<Report | void> | undefined;
  // Set once afterInstall stopped waiting: the report and the lockfile are being written,
  // so a download finishing now could never be reported or pinned — it is refused.
  let closed = false;
  const settleMs = settleTimeoutMs ?? SETTLE_TIMEOUT_MS;

  /**
   * Hosts download in parallel (mambajs uses Promise.all): when one package is blocked the
   * host's run fails at once while other verifications are still running. Wait for them,
   * so the report lists every package the host downloaded — but not for ever: a host
   * download or plugin that never settles must not keep the lockfile from being written.
   * Resolves to the packages still in flight after `settleMs`.
   */
  async function drain(): Promise<Readonly<PackageRecord>[]> {
    if (inFlight.size === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, settleMs, true)));
    const timedOut = await Promise.race([Promise.allSettled([...inFlight.keys()]).then(() => false), expired]);
    clearTimeout(timer);
    return timedOut ? [...inFlight.values()] : [];
  }

  async function finish(): Promise<Report | void> {
    const unsettled = await drain();
    closed = true;
    let report: Report | undefined;
    if (sessionPromise) {
      // A run that downloaded no package bytes has nothing to report; its setup is still
      // checked (a broken config fails here), and the session is closed writing nothing.
      const full = await (await sessionPromise).finish();
      if (downloads) report = full;
    }
    if (refused.length) report = mergeRows(report, refused);
    if (unsettled.length) report = withNotice(report ?? buildReport([]), unsettledNotice(unsettled, settleMs));
    return report;
  }

  /** A download that ends after the report was closed: never handed to the host. */
  const tooLate = (record: Readonly<PackageRecord>): PackageBlockedError =>
    new PackageBlockedError(record, [unsettledReason(record)]);

  return {
    name: PLUGIN_NAME,
    wrapDownload(next: DownloadFn): DownloadFn {
      // The host composes the plugins once, before its first download: load the config, the
      // trust root (when it is a file) and the identity lockfile now, so that a bad setup
      // fails before anything is fetched.
      void session();
      const handle = async (req: DownloadRequest): Promise<Downloaded> => {
        const { record } = req;
        if (closed) throw tooLate(record);
        // A URL this plugin cannot judge is refused before it is fetched (never passed on
        // unverified, never an undocumented exception).
        const unjudgeable = unjudgeableReason(record);
        if (unjudgeable) {
          const row = refusedRow(record, null, unjudgeable);
          refused.push(row);
          throw new PackageBlockedError(record, row.reasons, { report: row });
        }
        const verifier = await session();
        let downloaded: Downloaded;
        try {
          downloaded = await next(req);
        } catch (e) {
          // The host's download stops at the size its lockfile expects: more bytes than that
          // can never be the locked package, so this is a refusal, not a transport failure.
          if (e instanceof HttpError && e.code === 'HTTP_TOO_LARGE' && record.size !== undefined) {
            const row = refusedRow(record, null, digestMismatchReason(`${record.filename} is larger than the ${record.size} bytes the host expects.`));
            refused.push(row);
            throw new PackageBlockedError(record, row.reasons, { report: row, cause: e });
          }
          throw e;
        }
        if (closed) throw tooLate(record);
        downloads++;
        // The host's expected digest (its lockfile) is checked first, by the one sha256 rule
        // of every host: bytes that are not the package the host locked are refused whatever
        // the channel policy says.
        const mismatch = lockedDigestReason(record, downloaded.sha256);
        if (mismatch) {
          const row = refusedRow(record, downloaded.sha256, mismatch);
          refused.push(row);
          throw new PackageBlockedError(record, row.reasons, { report: row });
        }
        const row = await verifier.verifyPackage({ ...record }, { sha256: downloaded.sha256, source: 'artifact' });
        if (row.action === 'block') throw new PackageBlockedError(record, row.reasons, { report: row });
        if (closed) throw tooLate(record);
        return downloaded;
      };
      return (req) => {
        const running = handle(req);
        inFlight.set(running, req.record);
        const done = (): void => void inFlight.delete(running);
        running.then(done, done);
        return running;
      };
    },
    afterInstall(): Promise<Report | void> {
      // Once per run, however often a host calls it: the lockfile is written once.
      return (finished ??= finish());
    },
  };
}

/**
 * Why a package URL cannot be judged, or undefined. A query string or fragment (signed
 * download URLs) would end up in the sidecar URLs built from the path; a file name that is
 * not a conda package has no CEP 27 subject to compare.
 */
function unjudgeableReason(record: Readonly<PackageRecord>): Reason | undefined {
  let u: URL;
  try {
    u = new URL(record.url);
  } catch {
    return unsupportedUrlReason(`conda-attest cannot judge "${record.url}": it is not a URL.`, 'Give the package as an http(s) URL <channel>/<subdir>/<file>.conda.');
  }
  if (u.search || u.hash) {
    return unsupportedUrlReason(`conda-attest cannot judge ${record.filename}: its URL has a query string or fragment.`);
  }
  // The strict grammar (lowercase extension): a name a host may still unpack as a package
  // (`X.CONDA`) but that no attestation can name is refused, not passed on.
  if (!isValidPackageFilename(record.filename)) {
    return unsupportedUrlReason(
      `conda-attest cannot judge "${record.filename}": it is not a conda package file name (<name>-<version>-<build>.conda or .tar.bz2).`,
      'Only conda packages carry CEP 27 attestations; let the host handle other files without this plugin.',
    );
  }
  return undefined;
}

/** The report row of a package refused before the pipeline saw it. */
function refusedRow(record: Readonly<PackageRecord>, actual: string | null, reason: Reason): PackageReport {
  return {
    filename: record.filename,
    name: record.name,
    version: record.version,
    build: record.build,
    channel: record.channel,
    subdir: record.subdir,
    url: record.url,
    sha256: actual,
    digest_source: actual ? 'artifact' : null,
    status: 'invalid',
    action: 'block',
    identity: null,
    reasons: [reason],
    notes: [],
    sidecar: null,
    bundles: [],
  };
}

/** The reason a download still in flight when the run ended is refused (and reported). */
function unsettledReason(record: Readonly<PackageRecord>): Reason {
  return {
    code: 'DOWNLOAD_UNSETTLED',
    message: `${record.filename} was still being downloaded or verified when the host ended the run; it is not in the report or the identity lockfile.`,
    hint: 'Install it again in a new run.',
  };
}

/** The run-level notice naming every package still in flight after the end-of-run wait. */
function unsettledNotice(records: readonly Readonly<PackageRecord>[], ms: number): Reason {
  const names = [...new Set(records.map((r) => r.filename))].sort();
  return {
    code: 'DOWNLOAD_UNSETTLED',
    message: `${names.length} package download${names.length === 1 ? ' was' : 's were'} still in flight ${ms / 1000} s after the host ended the run: ${names.join(', ')}. ${names.length === 1 ? 'It is' : 'They are'} not in this report or the identity lockfile, and ${names.length === 1 ? 'is' : 'are'} refused if ${names.length === 1 ? 'it finishes' : 'they finish'} later.`,
    hint: 'A download that never settles is a stalled server or a bug in the host or a plugin; the settleTimeoutMs plugin option sets the wait.',
  };
}

function withNotice(report: Report, notice: Reason): Report {
  report.notices = [...(report.notices ?? []), notice];
  report.warnings = [...(report.warnings ?? []), findingLine(notice)];
  return report;
}

function mergeRows(report: Report | undefined, rows: PackageReport[]): Report {
  const merged = buildReport([...(report?.packages ?? []), ...rows]);
  if (report?.trust_root) merged.trust_root = report.trust_root;
  if (report?.warnings) merged.warnings = report.warnings;
  if (report?.lockfile) merged.lockfile = report.lockfile;
  // A refused package is a block: "nothing verified" no longer describes the run.
  merged.notices = (report?.notices ?? []).filter((n) => n.code !== 'NOTHING_VERIFIED');
  return merged;
}
