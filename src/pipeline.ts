// The one path every package goes through, whoever calls it (CLI or plugin layer), as
// stages over plain data:
//
//   resolve (src/stages/resolve.ts)    record → canonical channel + policy          pure
//   retrieve (src/stages/retrieve.ts)  digest + sidecar (CEP 50), one repodata lookup  I/O
//   verify (src/stages/verify.ts)      bundles → outcomes (Sigstore + CEP 27)         I/O (pool)
//   judge (src/stages/judge.ts)        outcomes → verdict, lock decision, first use    pure
//   report (src/report/build.ts)       rows → report                                   pure
//
// The session only wires the stages and owns the run's resources (HTTP client, repodata,
// caches, trust root, verification pool, identity lockfile). A row is final when returned.
import type { PackageDigest, VerifySession, VerifySessionOptions } from './session-types.ts';
import type { PackageRecord, PackageReport, Report } from './types.ts';
import { createHttpClient } from './http/client.ts';
import { createRepodataStore } from './channel/repodata.ts';
import { loadTrustRoot, type LoadedTrustRoot } from './verify/trust-root.ts';
import type { VerifyPool } from './verify/pool.ts';
import { openVerdictCache } from './cache/verdict-cache.ts';
import { openSidecarCache } from './cache/sidecar-cache.ts';
import { packageVersion } from './version.ts';
import { applyDecisions, type LockDecision } from './lock/decide.ts';
import { firstUseKey } from './lock/judge.ts';
import { readLock, updateLock } from './lock/file.ts';
import { mapLimit } from './util/concurrency.ts';
import { buildReport } from './report/build.ts';
import { resolvePackage } from './stages/resolve.ts';
import { retrievePackage } from './stages/retrieve.ts';
import { verifyPackage as verifyStage } from './stages/verify.ts';
import { judgePackage, settleJudged, type JudgeContext, type Judged } from './stages/judge.ts';
import type { RunResources } from './stages/resources.ts';

/** One package for verifyPackages: its record and the digest the caller knows (null: hash the bytes). */
export interface PackageInput {
  record: PackageRecord;
  digest: PackageDigest | null;
}

/** The pipeline's session: the public contract plus what the CLI needs. */
export interface PipelineSession extends VerifySession {
  /**
   * Verify packages together, at most `concurrency` at once: all files of one package name
   * are judged together (first-use consistency), so every returned row is final. Rows in
   * input order.
   */
  verifyPackages(inputs: readonly PackageInput[], opts: { concurrency: number; onDone?: (done: number) => void }): Promise<PackageReport[]>;
  /** The identity-lockfile decisions of every package verified so far. */
  lockDecisions(): LockDecision[];
  /** The lockfile path this session reads and writes. */
  readonly lockPath: string;
}

/** Today's date as YYYY-MM-DD (UTC), the granularity of the lockfile's first/last seen. */
function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export async function createSession(options: VerifySessionOptions): Promise<PipelineSession> {
  const lockPath = options.lockfile ?? options.config.lockfile;
  const run = openResources(options);
  const judging: JudgeContext = { lock: await readLock(lockPath), date: today(), frozen: Boolean(options.frozen), lockPath };
  const rows: PackageReport[] = [];
  const decisions: LockDecision[] = [];
  // First-use decisions already settled in this run, by (channel, name): later files of
  // the same package are judged against them (src/lock/judge.ts settleFirstUse).
  const firstUse = new Map<string, LockDecision[]>();

  /** resolve → retrieve → verify → judge, for one package. */
  async function examine({ record, digest }: PackageInput): Promise<Judged> {
    const pkg = resolvePackage(run.resources.config, record, digest);
    const retrieved = await verifyStage(await retrievePackage(pkg, run.resources), run.resources);
    return judgePackage(retrieved, judging);
  }

  /** Settle first use across `judged`, record the final rows and decisions. */
  function settle(judged: readonly Judged[]): PackageReport[] {
    const final = settleJudged(judged, judging.frozen, (d) => firstUse.get(firstUseKey(d)) ?? []);
    for (const { row, decision } of final) {
      rows.push(row);
      if (!decision) continue;
      decisions.push(decision);
      if (decision.kind === 'new') firstUse.set(firstUseKey(decision), [...(firstUse.get(firstUseKey(decision)) ?? []), decision]);
    }
    return final.map((j) => j.row);
  }

  async function finish(): Promise<Report> {
    // --frozen: the lockfile must not change. Otherwise write it once, merging into
    // what is on disk now so a concurrent run loses nothing.
    if (!judging.frozen && decisions.some((d) => d.kind !== 'unchanged' || d.touch)) {
      await updateLock(lockPath, (current) => applyDecisions(current, decisions));
    }
    const { root, warnings } = await run.close();
    const report = buildReport(rows, root);
    if (warnings.length) report.warnings = [...(report.warnings ?? []), ...warnings];
    return report;
  }

  return {
    // A host streaming packages one at a time: the row is judged against the files of the
    // same package seen before it (the first pins; a later disagreeing one is refused).
    verifyPackage: async (record, digest) => settle([await examine({ record, digest })])[0]!,
    async verifyPackages(inputs, { concurrency, onDone }) {
      let done = 0;
      const judged = await mapLimit(inputs, concurrency, async (input) => {
        const j = await examine(input);
        onDone?.(++done);
        return j;
      });
      return settle(judged);
    },
    finish,
    lockDecisions: () => [...decisions],
    lockPath,
  };
}

/** The run's resources, opened lazily where they cost something, and closed once. */
function openResources(options: VerifySessionOptions): {
  resources: RunResources;
  close(): Promise<{ root: LoadedTrustRoot | undefined; warnings: string[] }>;
} {
  const { config } = options;
  const http = createHttpClient({
    connectTimeoutMs: config.http.connectTimeoutMs,
    totalTimeoutMs: config.http.totalTimeoutMs,
    retries: config.http.retries,
    maxConcurrency: config.concurrency,
  });
  // Loaded once per run, lazily: a run where every channel is disabled never needs it.
  let trustRootPromise: Promise<LoadedTrustRoot> | undefined;
  const trustRoot = (): Promise<LoadedTrustRoot> =>
    (trustRootPromise ??= loadTrustRoot(config.trustRoot, { offline: options.offline, cacheDir: config.cacheDir }));
  // One pool per run: in-process for small runs, worker threads (trust material built once
  // per worker) when enough bundles are expected. sigstore-js loads only when a bundle
  // actually has to be verified.
  let poolPromise: Promise<VerifyPool> | undefined;
  const pool = (): Promise<VerifyPool> =>
    (poolPromise ??= Promise.all([trustRoot(), import('./verify/pool.ts')]).then(([root, { createVerifyPool }]) =>
      createVerifyPool({ trustRoot: root, expectedBundles: options.expectedPackages, fastDer: true }),
    ));
  const resources: RunResources = {
    config,
    http,
    repodata: createRepodataStore({ http, cacheDir: config.cacheDir }),
    verdicts: options.noCache ? null : openVerdictCache(config.cacheDir),
    sidecars: options.noCache ? undefined : openSidecarCache(config.cacheDir, { maxBytes: config.maxSidecarBytes }),
    sigs: options.sigs,
    trustRoot,
    pool,
    productVersion: packageVersion(),
  };
  return {
    resources,
    async close() {
      const root = trustRootPromise ? await trustRootPromise.catch(() => undefined) : undefined;
      const { verdicts, sidecars } = resources;
      await Promise.all([verdicts?.flush(), sidecars?.flush()]);
      if (poolPromise) await (await poolPromise.catch(() => undefined))?.close();
      http.close();
      const warnings = [...(verdicts?.warnings ?? []), ...(sidecars?.warnings ?? [])].map((w) => `cache: ${w}`);
      return { root, warnings };
    },
  };
}
