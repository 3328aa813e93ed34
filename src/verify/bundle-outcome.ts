// One bundle against an expected signer: the verdict object of `verify-bundle --format
// json` (stable API, the `bundleResult` of schema/report.schema.json) and of the browser
// build's `verifyBundle`, built by this one function so both hosts answer alike
// (sigstore-conformance verify protocol). Pure over its inputs: the hosts read the files,
// load the trust root and build the verifier.
import { AttestError, VerifyError, describeError } from '../errors.ts';
import { identityToJson } from '../report/json.ts';
import type { Code } from '../codes.ts';
import type { SignerIdentity } from '../types.ts';
import { failedCheck } from './attestations.ts';
import { type BundleEvidence, type Checks, bundleEvidence, sigstoreChecks } from './evidence.ts';
import type { ArtifactRef, BundleVerifier, VerifiedBundle } from './verifier.ts';

/** The outcome as `verify-bundle --format json` prints it: one object, stable API. */
export interface BundleVerdict {
  verified: boolean;
  code: Code | null;
  message: string;
  identity: Record<string, string | null> | null;
  /** Null only when the command failed before it read a bundle (usage or input error). */
  evidence: BundleEvidence | null;
}

/** Who must have signed: a certificate identity (SAN and issuer, compared exactly) or the verifier's trusted key. */
export type ExpectedSigner = { kind: 'certificate'; identity: string; issuer: string } | { kind: 'key' };

/** The bundle as JSON for the evidence (the verifier reports a bundle that is not JSON). */
export function bundleJsonOf(bundle: string | Uint8Array): unknown {
  try {
    return JSON.parse(typeof bundle === 'string' ? bundle : new TextDecoder().decode(bundle));
  } catch {
    return null;
  }
}

/**
 * Verify `bundle` (its text) over `artifact` and compare the signer; every failure becomes
 * `{ verified: false, code }`. `rejected`: the bundle failed verification (a VerifyError),
 * as opposed to an input or internal error (the CLI's exit 1 versus 2).
 */
export function bundleVerdict(verifier: BundleVerifier, bundle: string | Uint8Array, artifact: ArtifactRef, expected: ExpectedSigner): { verdict: BundleVerdict; rejected: boolean } {
  const bundleJson = bundleJsonOf(bundle);
  let observed: SignerIdentity | null = null;
  let checks: Checks | undefined;
  const evidence = (): BundleEvidence => bundleEvidence({ bundle: bundleJson, identity: observed, checks: checks ?? {} });
  try {
    let result: VerifiedBundle;
    try {
      result = verifier.verify(bundle, artifact);
    } catch (e) {
      checks = sigstoreChecks({ failed: failedCheck(e) });
      throw e;
    }
    observed = result.identity;
    // Sigstore passed, and the artifact matched the bundle (message digest or statement subject).
    checks = { ...sigstoreChecks({ passed: true, keySigned: result.identity.kind === 'key', tlog: result.tlog }), subject_digest: true, identity_policy: false };
    if (expected.kind === 'key') {
      if (result.identity.kind !== 'key') throw new VerifyError('KEY_UNTRUSTED', 'The bundle is signed with a certificate, not with the given key.');
    } else if (result.identity.san !== expected.identity || result.identity.issuer !== expected.issuer) {
      throw new VerifyError('IDENTITY_MISMATCH', `The bundle was signed by ${result.identity.san ?? '(no SAN)'} (issuer ${result.identity.issuer ?? 'none'}), not by ${expected.identity} (issuer ${expected.issuer}).`);
    }
    checks.identity_policy = true;
    const who = result.identity.kind === 'key' ? `key ${result.identity.keyFingerprint}` : `${result.identity.san} (${result.identity.issuer})`;
    const message = `verified, signed by ${who}${result.tlog ? '' : ' (no transparency-log entry)'}`;
    return { verdict: { verified: true, code: null, message, identity: identityToJson(result.identity), evidence: evidence() }, rejected: false };
  } catch (e) {
    return { verdict: failedVerdict(e, observed, evidence()), rejected: e instanceof VerifyError };
  }
}

/** A failure as a verdict: an AttestError keeps its code; anything else is INTERNAL_ERROR (no evidence). */
export function failedVerdict(e: unknown, observed: SignerIdentity | null = null, evidence: BundleEvidence | null = null): BundleVerdict {
  if (e instanceof AttestError) return { verified: false, code: e.code, message: e.message, identity: identityToJson(observed), evidence };
  return { verified: false, code: 'INTERNAL_ERROR', message: describeError(e).split('\n')[0]!, identity: null, evidence: null };
}
