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
import type { PackageRecord, PackageReport, Reason, Report, ResolvedConfig } from './types.ts';
import { existsSync } from 'node:fs';
import { LockError, TrustRootError } from './errors.ts';
import { runNotices as findRunNotices } from './report/notices.ts';
import { createHttpClient, type HttpRunFindings } from './http/client.ts';
import { createRepodataStore, type StaleRepodata } from './channel/repodata.ts';
import { trustRootFreshness } from './policy/trust-root-age.ts';
import { loadTrustRoot, type LoadedTrustRoot } from './verify/trust-root.ts';
import type { VerifyPool } from './verify/pool.ts';
import { loadVerdictKey, openVerdictCache } from './cache/verdict-cache.ts';
import { openSidecarCache } from './cache/sidecar-cache.ts';
import { packageVersion } from './version.ts';
import { applyDecisions, type LockDecision } from './lock/decide.ts';
import { firstUseKey } from './lock/judge.ts';
import { readLock, updateLock } from './lock/file.ts';
import { openCheckedLockTexts } from './lock/checked.ts';
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
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export async function createSession(options: VerifySessionOptions): Promise<PipelineSession> {
  const lockPath = options.lockfile ?? options.config.lockfile;
  requireFrozenLockfile(options, lockPath);
  const run = openResources(options);
  // A trust root given as a path is loaded and validated now, before any package: a broken
  // file is an input error even in a run where no signature would have needed it.
  if (options.config.trustRoot !== 'public-good') {
    try {
      await run.loadTrustRoot();
    } catch (e) {
      await run.close();
      throw e;
    }
  }
  // Lockfile texts validated before are not validated again (src/lock/checked.ts); the
  // memo lives with the caches, so --no-cache skips it too.
  const checked = options.noCache ? undefined : openCheckedLockTexts(options.config.cacheDir, loadVerdictKey());
  const judging: JudgeContext = { lock: await readLock(lockPath, { checked }), date: today(), frozen: Boolean(options.frozen), lockPath };
  const ledger = openLedger(judging.frozen);

  /** resolve → retrieve → verify → judge, for one package. */
  async function examine({ record, digest }: PackageInput): Promise<Judged> {
    const pkg = resolvePackage(run.resources.config, record, digest);
    const retrieved = await verifyStage(await retrievePackage(pkg, run.resources), run.resources);
    return judgePackage(retrieved, judging);
  }

  async function finish(): Promise<Report> {
    // --frozen: the lockfile must not change. Otherwise write it once, merging into
    // what is on disk now so a concurrent run loses nothing.
    const { decisions } = ledger;
    const written = !judging.frozen && decisions.some((d) => d.kind !== 'unchanged' || d.touch);
    if (written) await updateLock(lockPath, (current) => applyDecisions(current, decisions), { checked });
    const closed = await run.close();
    const lockfile = { path: lockPath, written, pinned: pinnedCount(decisions, judging.frozen) };
    return assembleReport(ledger, closed, options.config, lockfile);
  }

  return {
    // A host streaming packages one at a time: the row is judged against the files of the
    // same package seen before it (the first pins; a later disagreeing one is refused).
    verifyPackage: async (record, digest) => ledger.settle([await examine({ record, digest })])[0]!,
    async verifyPackages(inputs, { concurrency, onDone }) {
      // Repodata keeps only the records of these packages (src/channel/repodata.ts).
      run.resources.repodata.want?.(inputs.map((i) => i.record));
      let done = 0;
      const judged = await mapLimit(inputs, concurrency, async (input) => {
        const j = await examine(input);
        onDone?.(++done);
        return j;
      });
      return ledger.settle(judged);
    },
    finish,
    lockDecisions: () => [...ledger.observed],
    lockPath,
  };
}

/**
 * --frozen checks against a committed lockfile: without one there is nothing to check
 * against, which is one input error for the run, not one refusal per package. With every
 * channel disabled nothing is ever pinned or checked, so there is nothing to miss.
 */
export function requireFrozenLockfile(options: VerifySessionOptions, lockPath: string): void {
  if (!options.frozen || existsSync(lockPath)) return;
  const { config } = options;
  if (!config.default.enabled && !config.channels.some((c) => c.enabled)) return;
  throw new LockError('LOCK_MISSING', `--frozen needs the identity lockfile ${lockPath}, which does not exist.`, {
    hint: 'Run `conda-attest verify` once without --frozen (it pins the signer identities) and commit the lockfile, or point --lockfile at it.',
  });
}

/** What the run has settled so far: final rows, lock decisions and run-level notices. */
interface Ledger {
  /** Every row returned, final. */
  readonly rows: readonly PackageReport[];
  /** Every lock decision of the run (what `accept` chooses from)… */
  readonly observed: readonly LockDecision[];
  /** …and those a normal run writes. */
  readonly decisions: readonly LockDecision[];
  /** Run-level notices (EXCEPTION_EXPIRED), once each, by message. */
  readonly notices: ReadonlyMap<string, Reason>;
  /** Settle first use across `judged`, record the final rows and decisions; rows in input order. */
  settle(judged: readonly Judged[]): PackageReport[];
}

function openLedger(frozen: boolean): Ledger {
  const rows: PackageReport[] = [];
  const observed: LockDecision[] = [];
  const decisions: LockDecision[] = [];
  const notices = new Map<string, Reason>();
  // First-use decisions already settled in this run, by (channel, name): later files of
  // the same package are judged against them (src/lock/judge.ts settleFirstUse).
  const firstUse = new Map<string, LockDecision[]>();
  return {
    rows,
    observed,
    decisions,
    notices,
    settle(judged) {
      const final = settleJudged(judged, frozen, (d) => firstUse.get(firstUseKey(d)) ?? []);
      for (const { row, decision, exempt, notice } of final) {
        rows.push(row);
        if (notice) notices.set(notice.message, notice);
        if (!decision) continue;
        observed.push(decision);
        // An exception never changes what is pinned: its packages' decisions are not written.
        if (exempt && decision.kind !== 'unchanged') continue;
        decisions.push(decision);
        if (decision.kind === 'new') firstUse.set(firstUseKey(decision), [...(firstUse.get(firstUseKey(decision)) ?? []), decision]);
      }
      return final.map((j) => j.row);
    },
  };
}

/** The run's report: the settled rows, the run-level notices and warnings, the lockfile's fate. Pure. */
function assembleReport(
  ledger: Ledger,
  closed: { root: LoadedTrustRoot | undefined; warnings: string[]; notices: Reason[] },
  config: ResolvedConfig,
  lockfile: NonNullable<Report['lockfile']>,
): Report {
  const report = buildReport(ledger.rows, closed.root);
  // Run-level notices (EXCEPTION_EXPIRED, REPODATA_CACHED), once each, sorted for deterministic output.
  const byMessage = new Map([...ledger.notices, ...closed.notices.map((n) => [n.message, n] as const)]);
  const notices = [...byMessage.values()].sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  // Kept as warning lines too, the form they had before `notices` existed.
  const extra = [...notices.map((n) => `${n.code}: ${n.message}${n.hint ? ` (hint: ${n.hint})` : ''}`), ...closed.warnings];
  if (extra.length) report.warnings = [...(report.warnings ?? []), ...extra];
  // Then the findings over the whole run (CHANNEL_UNUSED, NOTHING_VERIFIED).
  report.notices = [...notices, ...findRunNotices(config, report.packages)];
  report.lockfile = lockfile;
  return report;
}

/**
 * How a long-running host (`conda-attest serve`) differs from a run: no run deadline (each
 * request has its own), and a host's breaker half-opens after a cool-down instead of
 * staying open (docs/serve.md "Operations").
 */
export interface ServerTransport {
  /** The deadline of one upstream request, ms (replaces http.timeout_ms). */
  requestDeadlineMs: number;
  hostCoolDownMs: number;
  /** Upstream requests in flight at once (each streamed package holds one). */
  maxConcurrency: number;
}

/** The run's resources, opened lazily where they cost something, and closed once. */
export function openResources(
  options: VerifySessionOptions,
  server?: ServerTransport,
): {
  resources: RunResources;
  /** Load the trust root now (it does not count as used by a verdict). */
  loadTrustRoot(): Promise<LoadedTrustRoot>;
  close(): Promise<{ root: LoadedTrustRoot | undefined; warnings: string[]; notices: Reason[] }>;
} {
  const { config } = options;
  const http = createHttpClient({
    connectTimeoutMs: config.http.connectTimeoutMs,
    totalTimeoutMs: server?.requestDeadlineMs ?? config.http.totalTimeoutMs,
    idleTimeoutMs: config.http.idleTimeoutMs,
    retries: config.http.retries,
    ...(server
      ? { maxConcurrency: server.maxConcurrency, hostCoolDownMs: server.hostCoolDownMs }
      : {
          maxConcurrency: config.concurrency,
          // No stall is unbounded: after this, requests fail and unfinished packages are retrieval-failed.
          deadline: Date.now() + config.deadlineMs,
          deadlineLabel: `${config.deadlineMs / 1000} s`,
        }),
  });
  // Loaded once per run, lazily: a run where every channel is disabled never needs it.
  let trustRootPromise: Promise<LoadedTrustRoot> | undefined;
  const trustRoot = (): Promise<LoadedTrustRoot> =>
    (trustRootPromise ??= loadTrustRoot(config.trustRoot, { offline: options.offline, cacheDir: config.cacheDir }).then((root) =>
      checkTrustRootAge(root, config),
    ));
  // The report names the trust root only when a verdict depended on it (a file root is
  // loaded up front to validate it, which alone is not a use).
  let trustRootUsed = false;
  const usedTrustRoot = (): Promise<LoadedTrustRoot> => {
    trustRootUsed = true;
    return trustRoot();
  };
  // One pool per run: in-process for small runs, worker threads (trust material built once
  // per worker) when enough bundles are expected. sigstore-js loads only when a bundle
  // actually has to be verified.
  let poolPromise: Promise<VerifyPool> | undefined;
  const pool = (): Promise<VerifyPool> =>
    (poolPromise ??= Promise.all([usedTrustRoot(), import('./verify/pool.ts')]).then(([root, { createVerifyPool }]) =>
      createVerifyPool({ trustRoot: root, expectedBundles: options.expectedPackages, fastDer: true }),
    ));
  const repodata = createRepodataStore({ http, cacheDir: config.cacheDir });
  const resources: RunResources = {
    config,
    http,
    repodata,
    verdicts: options.noCache ? null : openVerdictCache(config.cacheDir, { key: loadVerdictKey() }),
    sidecars: options.noCache ? undefined : openSidecarCache(config.cacheDir, { maxBytes: config.maxSidecarBytes }),
    sigs: options.sigs,
    trustRoot: usedTrustRoot,
    pool,
    productVersion: packageVersion(),
  };
  return {
    resources,
    loadTrustRoot: trustRoot,
    async close() {
      const root = trustRootUsed && trustRootPromise ? await trustRootPromise.catch(() => undefined) : undefined;
      const { verdicts, sidecars } = resources;
      // The workers go first: their heaps are freed before the caches build their files
      // (measured, cold 1,000-package run, peak RSS median of 4: 234 → 207 MB with the
      // sidecar cache writing one bucket at a time).
      if (poolPromise) await (await poolPromise.catch(() => undefined))?.close();
      await Promise.all([verdicts?.flush(), sidecars?.flush()]);
      http.close();
      const cache = [...(verdicts?.warnings ?? []), ...(sidecars?.warnings ?? [])].map((w) => `cache: ${w}`);
      return { root, warnings: cache, notices: [...repodata.stale().map(staleRepodataNotice), ...httpNotices(http.findings())] };
    },
  };
}

/**
 * Trust-root freshness: older than `trust_root_max_age_days` stops the run
 * (TRUST_ROOT_STALE, exit 2: a run-level configuration error, not a package verdict);
 * without the setting, a root older than 180 days is reported, never silent.
 */
function checkTrustRootAge(root: LoadedTrustRoot, config: ResolvedConfig): LoadedTrustRoot {
  const f = trustRootFreshness(root, config.trustRoot, config.trustRootMaxAgeDays);
  if (f.kind === 'stale') throw new TrustRootError('TRUST_ROOT_STALE', f.reason.message, { hint: f.reason.hint });
  if (f.kind === 'old') root.warnings = [...(root.warnings ?? []), `${f.reason.code}: ${f.reason.message} (hint: ${f.reason.hint})`];
  return root;
}

/** How long ago, in words: "3 minutes", "5 hours", "2 days". */
export function ageInWords(ms: number): string {
  const unit = (n: number, u: string): string => `${n} ${u}${n === 1 ? '' : 's'}`;
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'less than a minute';
  if (min < 60) return unit(min, 'minute');
  const h = Math.floor(min / 60);
  if (h < 48) return unit(h, 'hour');
  return unit(Math.floor(h / 24), 'day');
}

/** The notice for a subdir whose repodata came from the cache because its channel was unreachable. */
function staleRepodataNotice(s: StaleRepodata): Reason {
  return {
    code: 'REPODATA_CACHED',
    message:
      `${s.channel} (${s.subdir}) could not be reached, so its repodata cached ${ageInWords(s.ageMs)} ago was used ` +
      `(${s.cause.replace(/\.$/, '')}). Sidecars are content-addressed and every bundle is still verified against the package digest; ` +
      `packages published since then are not in it.`,
    hint: 'Check the network or proxy settings for this channel; run again once it can be reached to see packages published since.',
  };
}

/**
 * Run-level findings of the transport: a host cut off after repeated stalls or connection
 * failures (its packages keep that cause, once each), and the run's deadline passing.
 */
function httpNotices(f: HttpRunFindings): Reason[] {
  const notices: Reason[] = f.hostsCutOff.map((h) => ({
    code: 'HOST_CUT_OFF',
    message: h.message,
    hint: h.hint ?? 'Check the network, proxy settings and the host; run again once it answers.',
  }));
  if (f.deadline) {
    notices.push({
      code: 'RUN_DEADLINE',
      message: `The run's deadline (${f.deadline}) passed: requests still to be made were not sent, and the packages that needed them are retrieval-failed.`,
      hint: 'Raise deadline_ms in the config (or --deadline SECONDS), or try again when the channel is faster.',
    });
  }
  return notices;
}

/** Packages this run pinned for the first time (written to the lockfile unless frozen). */
function pinnedCount(decisions: readonly LockDecision[], frozen: boolean): number {
  if (frozen) return 0;
  return decisions.filter((d) => d.kind === 'new' && d.identities.length > 0).length;
}
