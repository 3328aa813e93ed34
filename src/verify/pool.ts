// Verification across cores (docs/performance.md): a worker_threads pool sized to the machine. Each
// worker builds the trust material once (per policy) and verifies whole sidecars with the
// same code path as the main thread (createVerifier + verifyAttestations), so the outcomes
// are identical; only where the CPU time is spent changes.
//
// Workers are started lazily and only when the run is big enough to pay for them: a worker
// costs ~WORKER_START_MS of start-up (loading sigstore-js and building trust material) while
// a bundle costs a few ms to verify, so small runs (one package, a handful) stay in-process.
//
// Robustness: a worker that dies (crash, out of memory, terminate) rejects only the calls
// it was running, with VERIFY_WORKER_FAILED, and is replaced. If workers keep dying before
// answering anything (e.g. the worker file is missing from a broken install), the pool
// stops starting them and verifies in-process instead.
import { getCompileCacheDir } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VerifyError, attestErrorFrom } from '../errors.ts';
import type { BundleOutcome, TrustedKey } from '../types.ts';
import type { PublishExpectation } from './cep27.ts';
import type { VerifyRequest, VerifyResponse, WireRequest } from './pool-worker.ts';
import type { LoadedTrustRoot } from './trust-root.ts';
import type { BundleVerifier } from './verifier.ts';
import { jsonShapeProblem } from '../util/json-bounds.ts';

/** Measured start-up of one worker on the dev machine (module load + trust material). */
export const WORKER_START_MS = 250;
/**
 * Bundles below which workers do not pay off: start-up ≈ WORKER_START_MS, verification
 * ≈ 7 ms/bundle in-process with stock @sigstore/core, so ~64 bundles is where a second core
 * starts to win.
 */
export const DEFAULT_MIN_BUNDLES = 64;
/**
 * With the fast DER encoder a bundle costs ≈ 1 ms in-process, so workers win only much later.
 * 512 → 256 once the pool had one worker started with the trust root and answering in
 * batches (docs/performance.md "Cold runs, round 3"): cold 300 packages, 5 interleaved runs
 * (load 7–8), in-process → one worker: wall 2.95 → 2.33 s, CPU 2.13 → 1.91 s, peak RSS 105
 * → 102 MB (median).
 */
export const FAST_DER_MIN_BUNDLES = 256;
/**
 * Requests in flight per worker: enough that a worker answers several in one message
 * (pool-worker.ts serveRequests); a crash fails at most these. Until a worker has answered
 * once, only FIRST_IN_FLIGHT: a worker that cannot start (a broken install) or dies on its
 * first request fails as few calls as before batching.
 */
const IN_FLIGHT_PER_WORKER = 8;
const FIRST_IN_FLIGHT = 2;
/** Consecutive worker deaths without a single answer before the pool gives up on workers. */
const MAX_BARREN_DEATHS = 3;

export interface VerifyPoolOptions {
  trustRoot: LoadedTrustRoot;
  /** Worker count. Default `os.availableParallelism()` − 1, at least 1 (see defaultPoolSize). */
  size?: number;
  /** Bundles submitted before workers are started; until then verification runs in-process. Default 64 (512 with fastDer). */
  minBundles?: number;
  /** Bundles the caller expects in all (e.g. packages × 1): at or above `minBundles`, workers start at the first call. */
  expectedBundles?: number;
  /**
   * Worker entry module. Default: `pool-worker` next to this module, with this module's
   * extension (`.ts` from source under Node's type stripping, `.js` in dist/).
   */
  workerUrl?: URL;
  /**
   * Use the byte-identical fast DER encoder (src/verify/fast-der.ts) in the workers and
   * for in-process verification through this pool. Default false until the lead enables it.
   */
  fastDer?: boolean;
}

/** Per-channel policy options that change verification (self-managed keys). */
export interface PoolPolicyOptions {
  trustedKeys?: TrustedKey[];
  requireTlog?: boolean;
}

export interface VerifyPool {
  /** Outcomes of verifying one sidecar's bundles for one package; same as verifyAttestations(). */
  /**
   * `bytes`: the sidecar bytes `bundles` were parsed from (src/sidecar/parse.ts), when they
   * are that JSON array: a worker is sent these instead of the objects.
   */
  verifyAttestations(bundles: unknown[], pkg: PublishExpectation, policy: PoolPolicyOptions, bytes?: Uint8Array): Promise<BundleOutcome[]>;
  /**
   * Ready the verifier a first call with `policy` will use (sigstore-js and the trust
   * material), ahead of it, e.g. while the package still downloads; never rejects (a
   * failure shows on that call).
   */
  prepare?(policy: PoolPolicyOptions): Promise<void>;
  /**
   * Start the workers now when the run expects enough bundles for them (`expectedBundles`
   * at or above `minBundles`), ahead of the first call: they load sigstore-js and build
   * the trust material while the caller still fetches. Otherwise nothing.
   */
  start?(): void;
  /** Terminate the workers; calls still pending reject with VERIFY_WORKER_FAILED. */
  close(): Promise<void>;
  /** Configured worker count. */
  readonly size: number;
  /** Counters for benchmarks and debug output. */
  readonly stats: { inProcess: number; inWorkers: number; workersStarted: number; workerDeaths: number; cloneFallbacks: number };
}

interface Job {
  req: VerifyRequest;
  /** The bytes req.bundles were parsed from, sent to a worker in their place. */
  raw?: Uint8Array;
  resolve: (o: BundleOutcome[]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inflight: Map<number, Job>;
  answered: boolean;
  lastError?: Error;
}

function defaultWorkerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./pool-worker${ext}`, import.meta.url);
}

function workerFailed(message: string, cause?: unknown, hint = 'Run the command again; if it keeps happening, report it (the other packages were verified normally).'): VerifyError {
  return new VerifyError('VERIFY_WORKER_FAILED', message, { hint, cause });
}
const CLOSED_HINT = 'The verification pool is closed only at the end of a run; verify packages before closing it.';

/** Rebuild an error sent across the thread boundary, keeping its subclass, code and hint. */
function errorFromWorker(e: { code?: string; name?: string; message: string; hint?: string }): Error {
  if (e.code) return attestErrorFrom({ name: e.name, code: e.code, message: e.message, hint: e.hint });
  return workerFailed(`Verification failed inside a worker: ${e.message}`);
}

const policyKeys = new WeakMap<TrustedKey[], Map<boolean, string>>();
const NO_KEYS: TrustedKey[] = [];

/** Stable identity of the policy options (memoised per trustedKeys array: hot path). */
function policyKeyOf(trustedKeys: TrustedKey[], requireTlog: boolean): string {
  let m = policyKeys.get(trustedKeys);
  if (!m) policyKeys.set(trustedKeys, (m = new Map()));
  let k = m.get(requireTlog);
  if (k === undefined) {
    k = JSON.stringify([requireTlog, trustedKeys.map((t) => [t.name ?? null, t.pem, t.source])]);
    m.set(requireTlog, k);
  }
  return k;
}

// In-process path: the heavy modules load on first use only (start-up time, docs/performance.md).
function inProcessVerifier(opts: VerifyPoolOptions, stats: VerifyPool['stats']): { verify: (req: VerifyRequest) => Promise<BundleOutcome[]>; prepare: (policy: PolicyOf) => Promise<BundleVerifier> } {
  let local: Promise<{ verify: typeof import('./attestations.ts').verifyAttestations; create: typeof import('./verifier.ts').createVerifier }> | undefined;
  const localVerifiers = new Map<string, BundleVerifier>();
  const load = () =>
    (local ??= Promise.all([import('./attestations.ts'), import('./verifier.ts')]).then(([a, v]) => ({
      verify: a.verifyAttestations,
      create: v.createVerifier,
    })));
  async function prepare({ policyKey, trustedKeys, requireTlog }: PolicyOf): Promise<BundleVerifier> {
    const { create } = await load();
    let v = localVerifiers.get(policyKey);
    if (!v) {
      // createVerifier installs the @sigstore/core accelerations (accelerate.ts) when asked.
      v = create({ trustRoot: opts.trustRoot, trustedKeys, requireTlog, accelerate: opts.fastDer ?? false });
      localVerifiers.set(policyKey, v);
    }
    return v;
  }
  return {
    prepare,
    async verify(req: VerifyRequest): Promise<BundleOutcome[]> {
      const v = await prepare(req);
      const { verify } = await load();
      stats.inProcess++;
      return verify(req.bundles, req.pkg, v);
    },
  };
}

type PolicyOf = Pick<VerifyRequest, 'policyKey' | 'trustedKeys' | 'requireTlog'>;

/** A pool's workers, its queue and what it has learnt about them. */
interface Pool {
  opts: VerifyPoolOptions;
  workerUrl: URL;
  stats: VerifyPool['stats'];
  slots: Set<Slot>;
  queue: Job[];
  useWorkers: boolean;
  closed: boolean;
  barrenDeaths: number;
  verifyInProcess: (req: VerifyRequest) => Promise<BundleOutcome[]>;
}

/**
 * The environment of a worker: this thread's, plus Node's compile cache when this thread has
 * one (the launcher enables it, bin/launch.js). `module.enableCompileCache()` applies to the
 * thread that calls it only, so a worker compiled sigstore-js and its own chunks from source
 * on every run; `NODE_COMPILE_CACHE` in its environment turns the cache on before its first
 * module is loaded. Measured (docs/performance.md "Cold runs, round 4"): a worker's first
 * answer, 8 interleaved pairs on 2 loaded cores, 167/180 → 152/151 ms (median of each run).
 */
function workerEnv(): NodeJS.ProcessEnv {
  const dir = getCompileCacheDir();
  return dir ? { ...process.env, NODE_COMPILE_CACHE: dirname(dir) } : process.env;
}

/** Start a worker; when it dies, fail its jobs and replace it, or fall back to in-process. */
function spawnWorker(p: Pool): void {
  const worker = new Worker(p.workerUrl, {
    env: workerEnv(),
    workerData: { role: 'conda-attest-verify-pool', entry: p.workerUrl.href, trustRoot: p.opts.trustRoot, fastDer: p.opts.fastDer ?? false },
  });
  const slot: Slot = { worker, inflight: new Map(), answered: false };
  p.slots.add(slot);
  p.stats.workersStarted++;
  worker.unref(); // referenced only while it has work (see post/settle)
  worker.on('message', (answers: VerifyResponse[]) => {
    for (const res of answers) {
      const job = slot.inflight.get(res.id);
      if (!job) continue;
      slot.inflight.delete(res.id);
      slot.answered = true;
      p.barrenDeaths = 0;
      p.stats.inWorkers++;
      if (res.ok) job.resolve(res.outcomes);
      else job.reject(errorFromWorker(res.error));
    }
    if (slot.inflight.size === 0) worker.unref();
    pump(p);
  });
  worker.on('error', (e: Error) => {
    slot.lastError = e;
  });
  worker.on('exit', (code: number) => {
    p.slots.delete(slot);
    if (p.closed) return;
    p.stats.workerDeaths++;
    const why = slot.lastError ? slot.lastError.message : `exit code ${code}`;
    const affected = [...slot.inflight.values()];
    slot.inflight.clear();
    for (const job of affected) {
      job.reject(workerFailed(`The verification worker stopped unexpectedly (${why}) while verifying ${job.req.pkg.filename}; its attestations were not verified.`, slot.lastError));
    }
    if (!slot.answered) p.barrenDeaths++;
    if (p.barrenDeaths >= MAX_BARREN_DEATHS) {
      // Workers cannot run here: verify what is left in-process rather than fail it all.
      p.useWorkers = false;
      for (const job of p.queue.splice(0)) p.verifyInProcess(job.req).then(job.resolve, job.reject);
      return;
    }
    spawnWorker(p);
    pump(p);
  });
}

/**
 * The request as a worker is sent it: with the sidecar's bytes in place of the parsed
 * bundles when the caller gave them. Structured cloning of the parsed bundles cost ~0.27 ms
 * per 8 kB sidecar on the main thread plus as much again in the worker, where copying the
 * bytes costs ~1 µs and parsing them again ~0.02 ms (node:v8 serialize vs JSON.parse, local
 * bundles). The bytes are copied out to their own buffer: a view into a larger one (a cache
 * bucket read in one piece) would clone the whole of it.
 */
function onTheWire(job: Job): WireRequest {
  if (!job.raw) return job.req;
  const { bundles: _parsed, ...rest } = job.req;
  // Bytes that fill their own buffer (a sidecar fetched or read back from the cache: larger
  // than Node's pooled allocations) are cloned as they are: the copy cost ~13 µs per
  // sidecar of a cold run's main thread (CPU profile, load ~7).
  const { raw } = job;
  const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
  return { ...rest, raw: whole ? raw : new Uint8Array(raw) };
}

/** Hand queued jobs to workers with room (FIRST_IN_FLIGHT, then IN_FLIGHT_PER_WORKER each). */
function pump(p: Pool): void {
  for (const slot of p.slots) {
    const room = slot.answered ? IN_FLIGHT_PER_WORKER : FIRST_IN_FLIGHT;
    while (p.queue.length > 0 && slot.inflight.size < room) {
      const job = p.queue.shift()!;
      if (slot.inflight.size === 0) slot.worker.ref();
      slot.inflight.set(job.req.id, job);
      try {
        slot.worker.postMessage(onTheWire(job));
      } catch (e) {
        // Structured cloning failed (a value that cannot be cloned, or one that exhausts
        // the stack): the same request is verified in-process instead, so the verdict is
        // the one the main thread gives, never an uncaught error.
        slot.inflight.delete(job.req.id);
        if (slot.inflight.size === 0) slot.worker.unref();
        p.stats.cloneFallbacks++;
        p.verifyInProcess(job.req).then(job.resolve, job.reject);
      }
    }
  }
}

/**
 * One worker per core but one: the main thread is busy too (requests, hashing, parsing,
 * caches: ~1.3 s of CPU in a cold 1,000-package run), and every worker pays its own start-up
 * and its own JIT compilation of sigstore-js. Measured on 2 cores, cold 1,000 packages, 5
 * interleaved runs (load 2–4): two workers → one, process CPU 4.16 → 3.71 s, peak RSS 157 →
 * 139 MB, wall 4.12 → 3.69 s (median); per thread (3 runs, load ~2.3): workers 1.9 → 1.5 s,
 * V8 background threads 0.86 → 0.71 s, main thread the same (docs/performance.md "Cold runs").
 */
export function defaultPoolSize(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

export function createVerifyPool(opts: VerifyPoolOptions): VerifyPool {
  const size = Math.max(1, opts.size ?? defaultPoolSize());
  const minBundles = opts.minBundles ?? (opts.fastDer ? FAST_DER_MIN_BUNDLES : DEFAULT_MIN_BUNDLES);
  const stats = { inProcess: 0, inWorkers: 0, workersStarted: 0, workerDeaths: 0, cloneFallbacks: 0 };
  const local = inProcessVerifier(opts, stats);
  const p: Pool = {
    opts,
    workerUrl: opts.workerUrl ?? defaultWorkerUrl(),
    stats,
    slots: new Set(),
    queue: [],
    useWorkers: false,
    closed: false,
    barrenDeaths: 0,
    verifyInProcess: local.verify,
  };
  let submitted = 0;
  let nextId = 1;

  function startWorkers(): void {
    p.useWorkers = true;
    while (p.slots.size < size) spawnWorker(p);
  }

  const policyOf = (policy: PoolPolicyOptions): PolicyOf => {
    const trustedKeys = policy.trustedKeys ?? NO_KEYS;
    const requireTlog = policy.requireTlog ?? true;
    return { policyKey: policyKeyOf(trustedKeys, requireTlog), trustedKeys, requireTlog };
  };

  return {
    size,
    stats,
    start() {
      if (!p.closed && !p.useWorkers && p.barrenDeaths < MAX_BARREN_DEATHS && (opts.expectedBundles ?? 0) >= minBundles) startWorkers();
    },
    async prepare(policy) {
      // Workers build their own verifiers; only a run verified in-process is readied here.
      if ((opts.expectedBundles ?? 0) >= minBundles) return;
      await local.prepare(policyOf(policy)).catch(() => {});
    },
    verifyAttestations(bundles, pkg, policy, bytes) {
      if (p.closed) return Promise.reject(workerFailed('The verification pool is closed.', undefined, CLOSED_HINT));
      const req: VerifyRequest = { id: nextId++, bundles, pkg, ...policyOf(policy) };
      submitted += bundles.length;
      if (!p.useWorkers && p.barrenDeaths < MAX_BARREN_DEATHS && (submitted >= minBundles || (opts.expectedBundles ?? 0) >= minBundles)) {
        startWorkers();
      }
      // A bundle whose shape verification rejects anyway (absurd depth or size) is never
      // cloned to a worker: the in-process path rejects it with the same outcome, cheaply.
      // With the sidecar's bytes nothing is cloned (the worker parses them and checks the
      // shape itself, verifyAttestations), so the walk is not made here: ~20 µs of this
      // thread's CPU per sidecar in a cold run, where the worker verifies every package.
      if (!p.useWorkers || (!bytes && bundles.some((b) => jsonShapeProblem(b) !== undefined))) return p.verifyInProcess(req);
      return new Promise<BundleOutcome[]>((resolve, reject) => {
        p.queue.push({ req, resolve, reject, ...(bytes ? { raw: bytes } : {}) });
        pump(p);
      });
    },
    async close() {
      if (p.closed) return;
      p.closed = true;
      const pending = [...p.queue.splice(0), ...[...p.slots].flatMap((s) => [...s.inflight.values()])];
      for (const job of pending) job.reject(workerFailed(`The verification pool was closed before ${job.req.pkg.filename} was verified.`, undefined, CLOSED_HINT));
      await Promise.all([...p.slots].map((s) => s.worker.terminate()));
      p.slots.clear();
    },
  };
}
