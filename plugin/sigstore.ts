// conda-attest as a host plugin: verify every downloaded package under the channel policy
// before the host extracts it, and report (and pin identities) once at the end of the run.
import type { PackageRecord, PackageReport, Report } from '../src/types.ts';
import type { VerifySession } from '../src/session-types.ts';
import { buildReport } from '../src/report/build.ts';
import { HttpError } from '../src/errors.ts';
import { PackageBlockedError, digestMismatchReason } from './contract.ts';
import type { CondaInstallerPlugin, DownloadFn, DownloadRequest, Downloaded } from './contract.ts';

export interface CondaAttestPluginOptions {
  /** Where to look for the conda-attest config (cosmiconfig search start). Default: process.cwd(). */
  cwd?: string;
  /** An explicit config file instead of searching. */
  configPath?: string;
  /** Never contact the TUF repository: use the cached or embedded trust root. */
  offline?: boolean;
  /** CI mode: the identity lockfile must not change. */
  frozen?: boolean;
  /** Override of the config's identity lockfile path. */
  lockfile?: string;
  /**
   * Use this session (or session factory) instead of loading the config and opening one.
   * For hosts that already run conda-attest, and for tests.
   */
  session?: VerifySession | (() => Promise<VerifySession>);
}

/** The plugin's name, as shown in errors and in the host's list of plugin reports. */
export const PLUGIN_NAME = 'conda-attest';

/**
 * Create the conda-attest plugin. Nothing is loaded until the first download: then the
 * config and the session (trust root, identity lockfile) are opened ONCE for the whole run.
 */
export function createCondaAttestPlugin(options: CondaAttestPluginOptions = {}): CondaInstallerPlugin {
  let sessionPromise: Promise<VerifySession> | undefined;
  const session = (): Promise<VerifySession> => (sessionPromise ??= openSession(options));
  // Packages refused before the pipeline saw them (bytes not what the host expected);
  // merged into the end-of-run report so that every refusal is listed.
  const refused: PackageReport[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let finished: Promise<Report | void> | undefined;

  async function finish(): Promise<Report | void> {
    // Hosts download in parallel (mambajs uses Promise.all): when one package is blocked
    // the host's run fails at once while other verifications are still running. Wait for
    // them so the report lists every package the host downloaded.
    await Promise.allSettled([...inFlight]);
    // A run that downloaded nothing opened no session: nothing to verify, nothing to write.
    if (!sessionPromise) return refused.length ? mergeRows(undefined, refused) : undefined;
    const report = await (await sessionPromise).finish();
    return refused.length ? mergeRows(report, refused) : report;
  }

  return {
    name: PLUGIN_NAME,
    wrapDownload(next: DownloadFn): DownloadFn {
      const handle = async (req: DownloadRequest): Promise<Downloaded> => {
        const { record } = req;
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
        const row = await (await session()).verifyPackage({ ...record }, { sha256: downloaded.sha256, source: 'artifact' });
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

async function openSession(options: CondaAttestPluginOptions): Promise<VerifySession> {
  if (options.session) return typeof options.session === 'function' ? options.session() : options.session;
  // Loaded on first use: a host that never downloads a package never pays for the pipeline.
  const [{ loadConfig }, { createSession }] = await Promise.all([
    import('../src/config/load.ts'),
    import('../src/pipeline.ts'),
  ]);
  const config = await loadConfig({ cwd: options.cwd ?? process.cwd(), configPath: options.configPath });
  return createSession({ config, offline: options.offline, frozen: options.frozen, lockfile: options.lockfile });
}

/** The report row of a package whose bytes are not what the host expected (never reached the pipeline). */
function mismatchRow(record: Readonly<PackageRecord>, actual: string | null, message: string): PackageReport {
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
    reasons: [digestMismatchReason(message)],
    notes: [],
    sidecar: null,
    bundles: [],
  };
}

function mergeRows(report: Report | undefined, rows: PackageReport[]): Report {
  const merged = buildReport([...(report?.packages ?? []), ...rows]);
  if (report?.trust_root) merged.trust_root = report.trust_root;
  return merged;
}
