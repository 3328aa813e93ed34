// conda-attest as a host plugin, whoever hosts it: verify every downloaded package under
// the channel policy before the host extracts it, and report (and pin identities) once at
// the end of the run. The session comes from the host (plugin/sigstore.ts under Node,
// src/browser/ in the browser build).
import type { PackageRecord, PackageReport, Reason, Report } from '../src/types.ts';
import type { VerifySession } from '../src/session-types.ts';
import { buildReport } from '../src/report/build.ts';
import { HttpError } from '../src/errors.ts';
import { isPackageFilename } from '../src/targets/package-url.ts';
import { PackageBlockedError, digestMismatchReason, unsupportedUrlReason } from './contract.ts';
import type { CondaInstallerPlugin, DownloadFn, DownloadRequest, Downloaded } from './contract.ts';

/** The plugin's name, as shown in errors and in the host's list of plugin reports. */
export const PLUGIN_NAME = 'conda-attest';

/**
 * conda-attest as a plugin over a session that `open` opens ONCE, on the host's first
 * download (every host: the Node plugin, the browser build).
 */
export function attestPlugin(open: () => Promise<VerifySession>): CondaInstallerPlugin {
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
  const inFlight = new Set<Promise<unknown>>();
  let downloads = 0;
  let finished: Promise<Report | void> | undefined;

  async function finish(): Promise<Report | void> {
    // Hosts download in parallel (mambajs uses Promise.all): when one package is blocked
    // the host's run fails at once while other verifications are still running. Wait for
    // them so the report lists every package the host downloaded.
    await Promise.allSettled([...inFlight]);
    if (!sessionPromise) return refused.length ? mergeRows(undefined, refused) : undefined;
    if (!downloads) {
      // A run that downloaded no package bytes has nothing to report; its setup is still
      // checked (a broken config fails here), and the session is closed writing nothing.
      await (await sessionPromise).finish();
      return refused.length ? mergeRows(undefined, refused) : undefined;
    }
    const report = await (await sessionPromise).finish();
    return refused.length ? mergeRows(report, refused) : report;
  }

  return {
    name: PLUGIN_NAME,
    wrapDownload(next: DownloadFn): DownloadFn {
      // The host composes the plugins once, before its first download: load the config, the
      // trust root (when it is a file) and the identity lockfile now, so that a bad setup
      // fails before anything is fetched.
      void session();
      const handle = async (req: DownloadRequest): Promise<Downloaded> => {
        const { record } = req;
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
            const row = mismatchRow(record, null, `${record.filename} is larger than the ${record.size} bytes the host expects.`);
            refused.push(row);
            throw new PackageBlockedError(record, row.reasons, { report: row, cause: e });
          }
          throw e;
        }
        downloads++;
        // The host's expected digest (its lockfile) is checked first: bytes that are not the
        // package the host locked are refused whatever the channel policy says.
        if (record.sha256 && record.sha256.toLowerCase() !== downloaded.sha256) {
          const row = mismatchRow(
            record,
            downloaded.sha256,
            `${record.filename} downloaded with SHA-256 ${downloaded.sha256}, but the host expects ${record.sha256}.`,
          );
          refused.push(row);
          throw new PackageBlockedError(record, row.reasons, { report: row });
        }
        const row = await verifier.verifyPackage({ ...record }, { sha256: downloaded.sha256, source: 'artifact' });
        if (row.action === 'block') throw new PackageBlockedError(record, row.reasons, { report: row });
        return downloaded;
      };
      return (req) => {
        const running = handle(req);
        inFlight.add(running);
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
  if (!isPackageFilename(record.filename)) {
    return unsupportedUrlReason(
      `conda-attest cannot judge "${record.filename}": it is not a conda package file name (.conda or .tar.bz2).`,
      'Only conda packages carry CEP 27 attestations; let the host handle other files without this plugin.',
    );
  }
  return undefined;
}

/** The report row of a package whose bytes are not what the host expected (never reached the pipeline). */
function mismatchRow(record: Readonly<PackageRecord>, actual: string | null, message: string): PackageReport {
  return refusedRow(record, actual, digestMismatchReason(message));
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

function mergeRows(report: Report | undefined, rows: PackageReport[]): Report {
  const merged = buildReport([...(report?.packages ?? []), ...rows]);
  if (report?.trust_root) merged.trust_root = report.trust_root;
  if (report?.warnings) merged.warnings = report.warnings;
  if (report?.lockfile) merged.lockfile = report.lockfile;
  // A refused package is a block: "nothing verified" no longer describes the run.
  merged.notices = (report?.notices ?? []).filter((n) => n.code !== 'NOTHING_VERIFIED');
  return merged;
}
