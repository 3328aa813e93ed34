// Stage 3, verify: a retrieved sidecar's bundles → one outcome per bundle (sigstore-js +
// CEP 27 checks, in the run's verification pool), cached by verdict key. Other evidence
// passes through unchanged.
import { TrustRootError, reasonFromError } from '../errors.ts';
import type { Retrieved } from './retrieve.ts';
import type { RunResources } from './resources.ts';
import { internStrings } from '../util/intern.ts';

/** Throws only TrustRootError: an unusable trust root is a configuration error for the whole run (exit 2). */
export async function verifyPackage(retrieved: Retrieved, res: RunResources): Promise<Retrieved> {
  const { evidence, pkg } = retrieved;
  if (evidence.kind !== 'sidecar') return retrieved;
  let outcomes = evidence.key ? res.verdicts?.get(evidence.key) : undefined;
  if (!outcomes) {
    const expectation = { filename: pkg.record.filename, sha256: evidence.packageSha256, acceptedChannels: pkg.acceptedChannels };
    try {
      const policy = { trustedKeys: pkg.policy.trustedKeys, requireTlog: pkg.policy.requireTlog };
      // Kept until the report (and in the verdict cache until its flush): one copy of each
      // repeated string (src/util/intern.ts).
      outcomes = internStrings(await (await res.pool()).verifyAttestations(evidence.bundles, expectation, policy, evidence.bytes));
    } catch (e) {
      if (e instanceof TrustRootError) throw e;
      return { ...retrieved, evidence: { kind: 'rejected', status: 'invalid', reasons: [reasonFromError(e, 'SIGSTORE_VERIFICATION_FAILED')] } };
    }
    if (evidence.key) res.verdicts?.set(evidence.key, outcomes);
  }
  return { ...retrieved, evidence: { kind: 'bundles', outcomes } };
}
