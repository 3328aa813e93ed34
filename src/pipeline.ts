// The Node host of the verification session (src/session.ts): the run's resources over
// Node's HTTP client, the disk caches, the TUF-backed trust root and the worker pool, and
// the identity lockfile as a file (written atomically under a file lock). The CLI and the
// Node plugin open sessions here; the browser build has its own host (src/browser/).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { VerifySessionOptions } from './session-types.ts';
import type { Reason } from './types.ts';
import { createHttpClient, type HttpClient, type HttpRunFindings } from './http/client.ts';
import { createRepodataStore, type StaleRepodata } from './channel/repodata.ts';
import { loadTrustRoot, type LoadedTrustRoot } from './verify/trust-root.ts';
import type { PoolPolicyOptions, VerifyPool } from './verify/pool.ts';
import { loadVerdictKey, openVerdictCache, verdictCacheDir } from './cache/verdict-cache.ts';
import { openSidecarCache } from './cache/sidecar-cache.ts';
import { packageVersion } from './version.ts';
import { collectGarbage } from './util/gc.ts';
import { readLock, updateLock } from './lock/file.ts';
import { type CheckedTexts, openCheckedLockTexts, openCheckedTexts } from './lock/checked.ts';
import type { RunResources } from './stages/resources.ts';
import { hashPackage } from './http/download.ts';
import { loadGivenSidecar } from './sidecar/given.ts';
import { sha256Hex } from './util/sha256.ts';
import { type LockStore, type OpenedResources, type PackageInput, type PipelineSession, checkTrustRootAge, createSessionOn, frozenLockfileProblem } from './session.ts';

/**
 * Heap in use above which the end phases of a run collect before they write (see close()):
 * below it a forced full collection finds little garbage, and on a single thread it only
 * delays the run's end. Measured: heap in use at those points, cold 1,000 packages 15-26 MB
 * (a collection freed ~2 MB and cost 15-35 ms of wall each, three of them, after the last
 * verdict or just before it); cold 10,000 ~56 MB live once verified (docs/performance.md
 * "Memory, round 4"), where they are what keeps the end of the run under its peak. 40 MB
 * sits between the two; one-package runs (9-13 MB) skipped them already.
 */
const LARGE_HEAP_BYTES = 40 << 20;

/**
 * A full collection before a phase that writes, only past LARGE_HEAP_BYTES (see close()): a
 * one-package `--download` paid two of ~15 ms each on a 9-13 MB heap, one when its sidecar
 * cache was written, one when the pool closed (measured with the close()'s, docs/performance.md
 * "Downloads and the proxy, round 5"); a cold 1,000-package run three (above).
 */
function collectIfLarge(): void {
  if (process.memoryUsage().heapUsed > LARGE_HEAP_BYTES) collectGarbage();
}

export type { PackageInput, PipelineSession } from './session.ts';
export { today } from './session.ts';

/** --frozen needs the identity lockfile to exist (src/session.ts frozenLockfileProblem); sync, for hosts that check up front. */
export function requireFrozenLockfile(options: VerifySessionOptions, lockPath: string): void {
  frozenLockfileProblem(options, lockPath, existsSync(lockPath));
}

/** `early`: packages to start on at once (src/session.ts hashEarly), e.g. the first downloads of a run. */
export function createSession(options: VerifySessionOptions, early?: readonly PackageInput[]): Promise<PipelineSession> {
  return createSessionOn(options, { openResources: () => openResources(options), lock: lockFile(options) }, early);
}

/** The identity lockfile as a file. */
function lockFile(options: VerifySessionOptions): LockStore {
  const path = options.lockfile ?? options.config.lockfile;
  // Lockfile texts validated before are not validated again (src/lock/checked.ts); the
  // memo lives with the caches, so --no-cache skips it too. Opened when first read.
  let checked: ReturnType<typeof openCheckedLockTexts> | undefined;
  const memo = (): ReturnType<typeof openCheckedLockTexts> | undefined => (options.noCache ? undefined : (checked ??= versioned(openCheckedLockTexts(options.config.cacheDir, loadVerdictKey()))));
  return {
    path,
    exists: async () => existsSync(path),
    read: () => readLock(path, { checked: memo() }),
    update: async (mutate) => (await updateLock(path, mutate, { checked: memo() })).written,
  };
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
export function openResources(options: VerifySessionOptions, server?: ServerTransport): OpenedResources & { http: HttpClient } {
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
    // --offline means no network at all (as in conda): caches, local files and --sigs only.
    offline: Boolean(options.offline),
    ...(options.onWait ? { onWait: options.onWait } : {}),
  });
  // A first run of many packages (no verdict cache on disk, or --no-cache) will verify them:
  // its pool's workers start as soon as the trust root is loaded (before any package for a
  // root file), so they load sigstore-js and build trust material while this thread fetches
  // repodata and sidecars, instead of after the first sidecar arrived. The pool starts them
  // only when enough bundles are expected (src/verify/pool.ts), and a run with every channel
  // disabled never does. Measured (docs/performance.md "Cold runs, round 3"), cold 1,000
  // packages: workers spawned at +0.18 s instead of +0.59 s; with the OID memo, 6
  // interleaved runs (load 6-12): wall 7.75 -> 5.96 s, CPU 5.42 -> 5.07 s (median).
  const coldStart =
    (options.expectedPackages ?? 0) > 0 &&
    (config.default.enabled || config.channels.some((c) => c.enabled)) &&
    (Boolean(options.noCache) || !existsSync(verdictCacheDir(config.cacheDir)));
  // Loaded once per run, lazily: a run where every channel is disabled never needs it.
  let trustRootPromise: Promise<LoadedTrustRoot> | undefined;
  const trustRoot = (): Promise<LoadedTrustRoot> =>
    (trustRootPromise ??= loadTrustRoot(config.trustRoot, {
      offline: Boolean(options.offline || options.noTufRefresh),
      cacheDir: config.cacheDir,
      // A root file validated before is not validated again (src/verify/trust-root-validate.ts);
      // the memo lives with the caches, as the lockfile's does, versioned as it is.
      ...(options.noCache ? {} : { checked: versioned(openCheckedTexts(join(config.cacheDir, 'trust-root-checked-v1.json'), loadVerdictKey())) }),
    }).then((root) => {
      checkTrustRootAge(root, config);
      if (coldStart) void loadPool().then((p) => (closing ? undefined : p.start?.()), () => {});
      return root;
    }));
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
  let closing = false;
  const loadPool = (): Promise<VerifyPool> =>
    (poolPromise ??= Promise.all([trustRoot(), import('./verify/pool.ts')]).then(([root, { createVerifyPool }]) =>
      createVerifyPool({ trustRoot: root, expectedBundles: options.expectedPackages, fastDer: true }),
    ));
  const pool = (): Promise<VerifyPool> => {
    trustRootUsed = true;
    return loadPool();
  };
  // Warmed while a package downloads (src/stages/retrieve.ts); never once the run is closing,
  // or a pool started then would outlive it. Its errors surface on first use, from pool().
  const warmPool = (policy: PoolPolicyOptions, skip?: (trustRootDigest: string) => boolean): void =>
    void trustRoot().then(
      (root) => void (closing || skip?.(root.digest) ? undefined : loadPool().then((p) => p.prepare?.(policy), () => {})),
      () => {},
    );
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
    warmPool,
    hashPackage: (record, onBytes, signal) => hashPackage(record, http, { onBytes, signal }),
    loadGivenSidecar: (pathOrUrl) => loadGivenSidecar(pathOrUrl, { http, maxBytes: config.maxSidecarBytes }),
    productVersion: packageVersion(),
  };
  // The workers go first: their heaps are freed before the lockfile and the caches build
  // their files (measured, cold 1,000-package run, peak RSS median of 4: 234 → 207 MB with
  // the sidecar cache writing one bucket at a time).
  const stopVerifying = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    if (!poolPromise) return;
    // The sidecar cache's write (started when the last package was retrieved) ends before the
    // lockfile write starts: overlapping, they were the peak of a cold 10,000-package run (7
    // interleaved runs: 257 (233–280) → 243 (232–261) MB, CPU the same within noise). The
    // workers are terminated meanwhile, not before it: in a cold 1,000-package run that write
    // was still under way when the last verdict came (it ended 60-130 ms later), and waiting
    // for the worker's exit first added its 7-20 ms to the end of the run.
    await Promise.all([poolPromise.then((p) => p.close(), () => undefined), sidecarsWritten]);
    // What verification left behind is collected before the lockfile is built and written:
    // that write became the peak of a cold run once the caches' flushes stopped adding
    // to it (cold 10,000 packages: ~30 MB of verification's garbage left when the pool closed;
    // with the cheaper lockfile write, 272 → 245 MB, docs/performance.md "Memory, round 4").
    collectIfLarge();
  };
  // The sidecar cache is written once every package has been retrieved: in a cold run the
  // workers are still verifying then, and this thread mostly waits for them, so the write
  // (~90 ms of CPU for 1,000 sidecars) no longer follows the last verdict. Measured
  // (docs/performance.md "Cold runs, round 4"), cold 1,000 packages, from the worker's last
  // CPU tick to the process's exit, median of 5 interleaved runs (load ~8): 0.73 → 0.58 s.
  let sidecarsWritten: Promise<void> | undefined;
  const writeSidecars = (): Promise<void> | undefined => {
    const { sidecars } = resources;
    if (!sidecars?.dirty || sidecarsWritten) return sidecarsWritten;
    collectIfLarge();
    return (sidecarsWritten = sidecars.flush());
  };
  return {
    resources,
    http,
    loadTrustRoot: trustRoot,
    stopVerifying,
    doneRetrieving: () => void writeSidecars(),
    async close() {
      await stopVerifying();
      const root = trustRootUsed && trustRootPromise ? await trustRootPromise.catch(() => undefined) : undefined;
      const { verdicts, sidecars } = resources;
      // Each end phase (the lockfile write, then each cache's files) leaves tens of MB of
      // text behind that V8 collects only when the heap has grown past its limit: collected
      // between them, and the caches written one after the other, the phases' garbage never
      // adds up (measured, GNU time %M, cold 10,000 packages, 2 interleaved runs each with the pool
      // freed before the lockfile write: 335/354 → 266/277 MB, CPU the same within noise).
      // The sidecar cache was written when the last package was retrieved (above), unless the
      // run stopped before: then it is written here with the verdicts.
      await sidecarsWritten;
      // Only before a phase that writes: a warm run has nothing to flush, and its two full
      // collections were a fifth of its CPU (measured, warm 1,000-package re-run, CPU
      // median of 7 interleaved runs: see docs/performance.md "Warm runs, round 5").
      // And only past LARGE_HEAP_BYTES: a forced full collection costs ~15 ms even on a small
      // heap, where there is no garbage worth it (measured, heap in use here: one-package
      // runs 9-13 MB, where the two collections were 29 ms of the 65 ms after a 64 MiB
      // --download's last byte; cold 1,000 packages 15-26 MB, now skipped too).
      for (const cache of [verdicts, sidecars]) {
        if (!cache?.dirty) continue;
        collectIfLarge();
        await cache.flush();
      }
      http.close();
      const cache = [...(verdicts?.warnings ?? []), ...(sidecars?.warnings ?? [])].map((w) => `cache: ${w}`);
      return { root, warnings: cache, notices: [...staleRepodataNotices(repodata.stale(), Boolean(options.offline)), ...httpNotices(http.findings())] };
    },
  };
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

/**
 * One REPODATA_CACHED notice per channel whose repodata came from the cache (its subdirs
 * listed, the oldest copy's age given), because the channel was unreachable or the run
 * was offline.
 */
function staleRepodataNotices(stale: readonly StaleRepodata[], offline: boolean): Reason[] {
  const byChannel = new Map<string, StaleRepodata[]>();
  for (const s of stale) byChannel.set(s.channel, [...(byChannel.get(s.channel) ?? []), s]);
  return [...byChannel].map(([channel, list]) => {
    const subdirs = [...new Set(list.map((s) => s.subdir))].sort().join(', ');
    const age = ageInWords(Math.max(...list.map((s) => s.ageMs)));
    const why = offline ? 'offline (--offline)' : `unreachable (${list[0]!.cause.replace(/\.$/, '')})`;
    return {
      code: 'REPODATA_CACHED',
      message:
        `${channel} (${subdirs}) was ${why}, so repodata cached up to ${age} ago was used; ` +
        'packages published since then are not in it (sidecars are content-addressed and every bundle is still verified).',
      hint: offline
        ? 'Run once without --offline to refresh the cache.'
        : 'Check the network or proxy settings for this channel; run again once it can be reached to see packages published since.',
    };
  });
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
    outage: h.outage,
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

/**
 * The lockfiles (pixi.lock, conda-lock.yml, explicit files) read before, with their contents
 * (src/targets/index.ts), in `cache_dir` with the other caches, versioned: a release that
 * reads lockfiles differently reads an unchanged one again. One small file per lockfile
 * path, holding its last two texts (a branch switched back and forth), so a run reads only
 * what concerns its own lockfile.
 */
export function openTargetsMemo(cacheDir: string): (path: string) => CheckedTexts {
  const key = loadVerdictKey();
  return (path) => versioned(openCheckedTexts(join(cacheDir, 'targets-read-v1', `${sha256Hex(path).slice(0, 32)}.json`), key, 2));
}

/**
 * The memo with this version in every digest: entries another release wrote do not match, so
 * a release whose check is stricter checks the same text again (the identity lockfile's and
 * the trust root's memos; the configuration's names the version itself, src/config/load.ts).
 */
function versioned<T extends Pick<CheckedTexts, 'digest'>>(memo: T): T {
  return { ...memo, digest: (...text) => memo.digest(`${packageVersion()}\n`, ...text) };
}
