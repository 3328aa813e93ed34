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

/** Answer requests on `port` with `handle`. */
export function serveRequests(port: MessagePort, handle: (req: WireRequest) => VerifyResponse): void {
  port.on('message', (req: WireRequest) => port.postMessage(handle(req)));
}

// Serve only when this module is the worker's entry point: a test worker that imports it
// to wrap the handler must not get a second listener.
const data = workerData as (WorkerInit & { role?: string; entry?: string }) | null;
if (parentPort && data?.role === 'conda-attest-verify-pool' && data.entry === import.meta.url) {
  serveRequests(parentPort, createRequestHandler(data));
}
