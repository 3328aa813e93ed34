// The verification session, whoever hosts it (the Node CLI and plugin through
// src/pipeline.ts, the browser build through src/browser/session.ts), as stages over plain
// data:
//
//   resolve (src/stages/resolve.ts)    record → canonical channel + policy          pure
//   retrieve (src/stages/retrieve.ts)  digest + sidecar (CEP 50), one repodata lookup  I/O
//   verify (src/stages/verify.ts)      bundles → outcomes (Sigstore + CEP 27)         I/O (pool)
//   judge (src/stages/judge.ts)        outcomes → verdict, lock decision, first use    pure
//   report (src/report/build.ts)       rows → report                                   pure
//
// The session only wires the stages. Its I/O comes from the host: the run's resources
// (transport, repodata, caches, trust root, verification pool) and the identity-lockfile
// store, and its clock. No Node I/O module is imported here (test/core-imports.test.ts).
import type { PackageDigest, VerifySession, VerifySessionOptions } from './session-types.ts';
import type { PackageRecord, PackageReport, Reason, Report, ResolvedConfig } from './types.ts';
import { LockError, TrustRootError } from './errors.ts';
import { runNotices as findRunNotices } from './report/notices.ts';
import { trustRootFreshness } from './policy/trust-root-age.ts';
import type { LoadedTrustRoot } from './verify/trust-root-validate.ts';
import { applyDecisions, type LockDecision } from './lock/decide.ts';
import { firstUseKey } from './lock/judge.ts';
import type { Lock } from './lock/types.ts';
import { mapLimit } from './util/concurrency.ts';
import { buildReport } from './report/build.ts';
import { resolvePackage } from './stages/resolve.ts';
import { hashesBytes, retrievePackage } from './stages/retrieve.ts';
import { verifyPackage as verifyStage } from './stages/verify.ts';
import { judgePackage, settleJudged, type JudgeContext, type Judged } from './stages/judge.ts';
import type { RunResources } from './stages/resources.ts';

/** The run's resources as a host opens them: used by the stages, closed once at the end. */
export interface OpenedResources {
  resources: RunResources;
  /** Load the trust root now (it does not count as used by a verdict). */
  loadTrustRoot(): Promise<LoadedTrustRoot>;
  /** Nothing more will be verified: free what verification holds (the worker threads) before `close`. */
  stopVerifying?(): Promise<void>;
  /**
   * Every package of the run has been retrieved (some may still be verifying): what retrieval
   * gathered (the sidecar cache) can be written now, while the workers verify, instead of
   * after them. `close` still waits for it.
   */
  doneRetrieving?(): void;
  close(): Promise<{ root: LoadedTrustRoot | undefined; warnings: string[]; notices: Reason[] }>;
}

/** Where the identity lockfile lives: a file under Node, a page-given adapter in the browser. */
export interface LockStore {
  /** Its name in reports and messages. */
  readonly path: string;
  exists(): Promise<boolean>;
  /** The current lock (an empty lock when there is none yet). */
  read(): Promise<Lock>;
  /**
   * Apply `mutate` to the current lock and store the result (null: no change). True when
   * the stored bytes changed (the report's `lockfile.written`).
   */
  update(mutate: (current: Lock) => Lock | null): Promise<boolean>;
}

/** The host's clock (the lockfile's first/last seen dates); default: the system's. */
export type Clock = () => Date;

/** What a host gives the session. */
export interface SessionHost {
  openResources(): OpenedResources;
  lock: LockStore;
  clock?: Clock;
}

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
export function today(clock: Clock = () => new Date()): string {
  return clock().toISOString().slice(0, 10);
}

/** Packages under way per request in flight (verifyPackages). */
const AHEAD = 4;

export async function createSessionOn(options: VerifySessionOptions, host: SessionHost, earlyInputs: readonly PackageInput[] = []): Promise<PipelineSession> {
  const { lock } = host;
  const lockPath = lock.path;
  await requireFrozenLockfile(options, lock);
  const opened = host.openResources();
  const early = hashEarly(opened.resources, earlyInputs);
  const run = { ...opened, resources: early.resources };
  let current: Lock;
  try {
    // A trust root given as a path is loaded and validated now, before any package: a broken
    // file is an input error even in a run where no signature would have needed it.
    if (options.config.trustRoot !== 'public-good') await run.loadTrustRoot();
    current = await lock.read();
  } catch (e) {
    // No download started above outlives the session that failed.
    await early.abandon();
    await run.close();
    throw e;
  }
  const judging: JudgeContext = { lock: current, date: today(host.clock), frozen: Boolean(options.frozen), lockPath };
  const ledger = openLedger(judging.frozen);

  /** resolve → retrieve → verify → judge, for one package; `onRetrieved` between retrieve and verify. */
  async function examine({ record, digest }: PackageInput, onRetrieved?: () => void): Promise<Judged> {
    const pkg = resolvePackage(run.resources.config, record, digest);
    const found = await retrievePackage(pkg, run.resources);
    onRetrieved?.();
    const retrieved = await verifyStage(found, run.resources);
    return judgePackage(retrieved, judging);
  }

  async function finish(): Promise<Report> {
    // --frozen: the lockfile must not change. Otherwise write it once, merging into
    // what is on disk now so a concurrent run loses nothing.
    const { decisions } = ledger;
    // `written` is whether the file's bytes changed: a decision that merges into pins
    // another run already wrote, or re-serialises to the same text, writes nothing.
    const changes = !judging.frozen && decisions.some((d) => d.kind !== 'unchanged' || d.touch);
    // The workers' heaps are freed before the lockfile is built and written, not after
    // (docs/performance.md "Memory": they were the peak of a cold 1,000-package run).
    await run.stopVerifying?.();
    const written = changes && (await lock.update((current) => applyDecisions(current, decisions)));
    const closed = await run.close();
    const lockfile = { path: lockPath, written, pinned: pinnedCount(decisions, judging.frozen) };
    return assembleReport(ledger, closed, options, lockfile);
  }

  return {
    // A host streaming packages one at a time: the row is judged against the files of the
    // same package seen before it (the first pins; a later disagreeing one is refused).
    verifyPackage: async (record, digest) => ledger.settle([await examine({ record, digest })])[0]!,
    async verifyPackages(inputs, { concurrency, onDone }) {
      // Repodata keeps only the records of these packages (src/channel/repodata.ts).
      run.resources.repodata.want?.(inputs.map((i) => i.record));
      let done = 0;
      // `concurrency` bounds the requests in flight (the HTTP client's limit, src/http/client.ts),
      // not the packages: a package whose sidecar has arrived and now waits for the workers
      // holds no request, so AHEAD times as many packages are under way. With one slot per
      // package, the slots filled up with packages queued for verification while the
      // workers waited for sidecars (cold 1,000 profile: workers idle 10-30% of each 200 ms
      // after start-up, the main thread 20-30%). Measured (docs/performance.md "Cold runs,
      // round 3"), cold 1,000 packages behind a proxy adding 20 ms per request, 6 interleaved
      // runs (load 6-10): wall 8.58 -> 7.83 s (median), peak RSS 155 -> 173 MB; on loopback the
      // same within noise (the run is CPU-bound there).
      // The last retrieval lets the host write the sidecar cache while the workers verify
      // what is left: a cold run's main thread waits for them then (docs/performance.md "Cold
      // runs, round 4").
      let retrieved = 0;
      const lastRetrieved = (): void => {
        if (++retrieved === inputs.length) run.doneRetrieving?.();
      };
      const judged = await mapLimit(inputs, concurrency * AHEAD, async (input) => {
        const j = await examine(input, lastRetrieved);
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
async function requireFrozenLockfile(options: VerifySessionOptions, lock: LockStore): Promise<void> {
  if (options.frozen) frozenLockfileProblem(options, lock.path, await lock.exists());
}

/** Throws LOCK_MISSING when --frozen has no lockfile to check against (see requireFrozenLockfile). */
export function frozenLockfileProblem(options: VerifySessionOptions, lockPath: string, exists: boolean): void {
  if (!options.frozen || exists) return;
  const { config } = options;
  if (!config.default.enabled && !config.channels.some((c) => c.enabled)) return;
  throw new LockError('LOCK_MISSING', `--frozen needs the identity lockfile ${lockPath}, which does not exist.`, {
    hint: 'Run `conda-attest verify` once without --frozen (it pins the signer identities) and commit the lockfile, or point --lockfile at it.',
  });
}

/**
 * The packages whose bytes are hashed (`--download`) start downloading at once, while the
 * trust root and the identity lockfile are read: the transfer depends on neither. Retrieval
 * takes each digest from here when it reaches the package and runs every check on it as
 * before (the digest against the record, the sidecar, the signatures, the lockfile), so
 * nothing is judged earlier than it was. `abandon` aborts them when the session fails to open.
 */
function hashEarly(res: RunResources, inputs: readonly PackageInput[]): { resources: RunResources; abandon(): Promise<void> } {
  const started = new Map<PackageRecord, { digest: ReturnType<RunResources['hashPackage']>; bytes: Promise<void> }>();
  const abort = new AbortController();
  for (const { record, digest } of inputs) {
    if (started.has(record) || !hashesBytes(resolvePackage(res.config, record, digest))) continue;
    let arrived!: () => void;
    const bytes = new Promise<void>((r) => (arrived = r));
    const hashed = res.hashPackage(record, () => arrived(), abort.signal);
    hashed.catch(() => {}); // a failure is the package's: retrieval reports it when it takes the digest
    started.set(record, { digest: hashed, bytes });
  }
  if (started.size === 0) return { resources: res, abandon: async () => {} };
  const all = [...started.values()].map((s) => s.digest);
  return {
    resources: {
      ...res,
      hashPackage(record, onBytes, signal) {
        const s = started.get(record);
        if (!s) return res.hashPackage(record, onBytes, signal);
        started.delete(record);
        if (onBytes) void s.bytes.then(onBytes);
        return s.digest;
      },
    },
    async abandon() {
      abort.abort();
      await Promise.allSettled(all);
    },
  };
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
export function assembleReport(
  ledger: Ledger,
  closed: { root: LoadedTrustRoot | undefined; warnings: string[]; notices: Reason[] },
  options: Pick<VerifySessionOptions, 'config' | 'inputs' | 'notCovered'>,
  lockfile: NonNullable<Report['lockfile']>,
): Report {
  const { config } = options;
  const report = buildReport(ledger.rows, closed.root);
  // Complete when the session finishes: what the host read from the targets is part of it.
  if (options.notCovered) report.summary.not_covered = options.notCovered;
  if (options.inputs) report.inputs = options.inputs;
  // Run-level notices (EXCEPTION_EXPIRED, REPODATA_CACHED), once each, sorted for deterministic output.
  const byMessage = new Map([...ledger.notices, ...closed.notices.map((n) => [n.message, n] as const)]);
  const notices = [...byMessage.values()].sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  // A notice is reported once, under `notices`; `warnings` keeps what has no code (cache trouble).
  if (closed.warnings.length) report.warnings = [...(report.warnings ?? []), ...closed.warnings];
  // Then the findings over the whole run (CHANNEL_UNUSED, NOTHING_VERIFIED).
  report.notices = [...notices, ...findRunNotices(config, report.packages)];
  report.lockfile = lockfile;
  return report;
}

/**
 * Trust-root freshness: older than `trust_root_max_age_days` stops the run
 * (TRUST_ROOT_STALE, exit 2: a run-level configuration error, not a package verdict);
 * without the setting, a root older than 180 days is reported, never silent.
 */
export function checkTrustRootAge(root: LoadedTrustRoot, config: ResolvedConfig): LoadedTrustRoot {
  const f = trustRootFreshness(root, config.trustRoot, config.trustRootMaxAgeDays);
  if (f.kind === 'stale') throw new TrustRootError('TRUST_ROOT_STALE', f.reason.message, { hint: f.reason.hint });
  // An old root is one line; after a failed refresh, the line of that failure already names
  // the root used and its date, so the age is not said twice.
  const refreshFailed = (root.warnings ?? []).some((w) => w.startsWith('TRUST_ROOT_REFRESH_FAILED:'));
  if (f.kind === 'old' && !refreshFailed) root.warnings = [...(root.warnings ?? []), `${f.reason.code}: ${f.reason.message}; ${f.reason.hint}.`];
  return root;
}

/** Packages this run pinned for the first time (written to the lockfile unless frozen). */
function pinnedCount(decisions: readonly LockDecision[], frozen: boolean): number {
  if (frozen) return 0;
  return decisions.filter((d) => d.kind === 'new' && d.identities.length > 0).length;
}
