// The worker side of src/verify/pool.ts: verifies the bundles of one sidecar per request
// with the product's one verification path (createVerifier + verifyAttestations), so a
// worker gives exactly the outcomes the main thread would. The trust material is built
// once per worker and policy (trusted keys, require_tlog), not per bundle.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { AttestError, describeError } from '../errors.ts';
import type { BundleOutcome, TrustedKey } from '../types.ts';
import { verifyAttestations } from './attestations.ts';
import type { PublishExpectation } from './cep27.ts';
import type { LoadedTrustRoot } from './trust-root.ts';
import { createVerifier, type BundleVerifier } from './verifier.ts';

export interface VerifyRequest {
  id: number;
  bundles: unknown[];
  pkg: PublishExpectation;
  /** Identifies the policy options below (computed once by the pool). */
  policyKey: string;
  trustedKeys: TrustedKey[];
  requireTlog: boolean;
}

/** A request as a worker receives it: the bundles, or the sidecar bytes they were parsed from (parsed again here). */
export type WireRequest = Omit<VerifyRequest, 'bundles'> & ({ bundles: unknown[]; raw?: undefined } | { bundles?: undefined; raw: Uint8Array });

export type VerifyResponse =
  | { id: number; ok: true; outcomes: BundleOutcome[] }
  | { id: number; ok: false; error: { code?: string; name?: string; message: string; hint?: string } };

export interface WorkerInit {
  trustRoot: LoadedTrustRoot;
  /** Install the @sigstore/core accelerations (src/verify/accelerate.ts) in this worker, through createVerifier. */
  fastDer?: boolean;
}

/**
 * The bundles of sidecar bytes the main thread has already checked and parsed
 * (src/sidecar/parse.ts): the same decoding and the same JSON.parse, so the same values.
 */
function bundlesOf(raw: Uint8Array): unknown[] {
  const doc: unknown = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  if (!Array.isArray(doc)) throw new Error('the sidecar bytes sent to the worker are not a JSON array');
  return doc;
}

/** Request handler (pure over its inputs apart from the verifier memo). */
export function createRequestHandler(init: WorkerInit): (req: WireRequest) => VerifyResponse {
  const verifiers = new Map<string, BundleVerifier>();
  return (req) => {
    try {
      let v = verifiers.get(req.policyKey);
      if (!v) {
        v = createVerifier({ trustRoot: init.trustRoot, trustedKeys: req.trustedKeys, requireTlog: req.requireTlog, accelerate: init.fastDer ?? false });
        verifiers.set(req.policyKey, v);
      }
      return { id: req.id, ok: true, outcomes: verifyAttestations(req.bundles ?? bundlesOf(req.raw), req.pkg, v) };
    } catch (e) {
      // createVerifier rejects an unusable root or key: carry code and hint across the thread.
      const err =
        e instanceof AttestError
          ? { code: e.code, name: e.name, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
          : { message: describeError(e) };
      return { id: req.id, ok: false, error: err };
    }
  };
}

/**
 * Answer requests on `port` with `handle`, in one message per turn of the event loop: the
 * requests that arrived together are answered together. Each message wakes the main thread,
 * and on a loaded machine each wake-up is a context switch (CPU profile of a cold 1,000-
 * package run at load ~6, one answer per message: 13.6% of the worker's samples in
 * postMessage). Measured (docs/performance.md "Cold runs, round 3"), cold 1,000 packages,
 * with IN_FLIGHT_PER_WORKER 2 → 8 in pool.ts, 5 interleaved runs at load 9–11: process CPU
 * 4.21 → 3.57 s, wall 12.1 → 6.8 s (median); per thread (3 runs, load ~8): main 2.0 → 1.2 s,
 * worker 2.5 → 1.8 s.
 */
export function serveRequests(port: MessagePort, handle: (req: WireRequest) => VerifyResponse): void {
  let answers: VerifyResponse[] = [];
  const flush = (): void => {
    const batch = answers;
    answers = [];
    port.postMessage(batch);
  };
  port.on('message', (req: WireRequest) => {
    if (answers.push(handle(req)) === 1) setImmediate(flush);
  });
}

// Serve only when this module is the worker's entry point: a test worker that imports it
// to wrap the handler must not get a second listener.
const data = workerData as (WorkerInit & { role?: string; entry?: string }) | null;
if (parentPort && data?.role === 'conda-attest-verify-pool' && data.entry === import.meta.url) {
  serveRequests(parentPort, createRequestHandler(data));
}
