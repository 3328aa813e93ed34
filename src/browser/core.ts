// The verification part of `conda-attest/browser`, loaded by the entry (src/browser/index.ts)
// on first use with import(): the Sigstore verification core, the crypto adapter, the
// embedded trust root and the page's session. A page that only checks its config or wraps
// its installer loads it when the first package (or verifyBundle) needs it.
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { TargetError, TrustRootError, UsageError } from '../errors.ts';
import { type BundleVerdict, bundleJsonOf, bundleVerdict, failedVerdict } from '../verify/bundle-outcome.ts';
import { bundleEvidence } from '../verify/evidence.ts';
import { type LoadedTrustRoot, parseTrustedRoot } from '../verify/trust-root-validate.ts';
import { type ArtifactRef, type BundleVerifier, createVerifier } from '../verify/verifier.ts';
import type { VerifyBundleInput } from './index.ts';

export { createBrowserSession } from './session.ts';

/** The Sigstore public-good trusted root embedded in the build (no TUF refresh in the browser). */
const PUBLIC_GOOD_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';

let publicGood: LoadedTrustRoot | undefined;
let publicGoodVerifier: BundleVerifier | undefined;

/** The embedded public-good root, or the page's own trusted_root.json (validated as under Node). */
export function loadBrowserTrustRoot(trustedRoot?: unknown): LoadedTrustRoot {
  if (trustedRoot === undefined) {
    const target = (seeds as Record<string, { targets: Record<string, string> }>)[PUBLIC_GOOD_TUF_URL]?.targets['trusted_root.json'];
    if (!target) throw new TrustRootError('TRUST_ROOT_NOT_FOUND', 'This build has no embedded public-good trusted root.', { hint: 'Pass trustedRoot (a trusted_root.json object).' });
    return (publicGood ??= parseTrustedRoot(Buffer.from(target, 'base64'), 'public-good (embedded in the build)'));
  }
  const text = typeof trustedRoot === 'string' ? trustedRoot : JSON.stringify(trustedRoot);
  return parseTrustedRoot(Buffer.from(text, 'utf8'), 'trustedRoot (given by the page)');
}

const DIGEST_RE = /^sha256:([0-9a-fA-F]{64})$/;

/** verifyBundle of the entry (src/browser/index.ts). Never throws. */
export async function verifyBundleNow(input: VerifyBundleInput): Promise<BundleVerdict> {
  // Known once the bundle is: a failure after that (e.g. an unusable trust root) still shows it, as in the CLI.
  let bundleJson: unknown;
  try {
    const { identity, issuer, key } = input;
    if (key !== undefined && (identity !== undefined || issuer !== undefined)) {
      throw new UsageError('USAGE_INVALID_ARGUMENT', 'key cannot be combined with identity / issuer.', { hint: 'Give identity and issuer, or key.' });
    }
    if (key === undefined && (identity === undefined || issuer === undefined)) {
      throw new UsageError('USAGE_MISSING_ARGUMENT', 'Give identity and issuer, or key.', { hint: 'A bundle is verified against an expected signer.' });
    }
    const artifact = artifactRef(input);
    const bundle = typeof input.bundle === 'string' ? input.bundle : JSON.stringify(input.bundle);
    bundleJson = bundleJsonOf(bundle);
    const root = loadBrowserTrustRoot(input.trustedRoot);
    const trustedKeys = key === undefined ? [] : [{ name: undefined, pem: key, source: 'the key given' }];
    // The embedded root's verifier is built once per page, as the CLI builds one per run
    // (its trust material parsed once); a root or key given by the page gets its own.
    const verifier =
      input.trustedRoot === undefined && key === undefined
        ? (publicGoodVerifier ??= createVerifier({ trustRoot: root, trustedKeys: [], requireTlog: true }))
        : createVerifier({ trustRoot: root, trustedKeys, requireTlog: true });
    return bundleVerdict(verifier, bundle, artifact, key !== undefined ? { kind: 'key' } : { kind: 'certificate', identity: identity!, issuer: issuer! }).verdict;
  } catch (e) {
    return failedVerdict(e, null, bundleJson === undefined ? null : bundleEvidence({ bundle: bundleJson, identity: null, checks: {} }));
  }
}

function artifactRef(input: VerifyBundleInput): ArtifactRef {
  if (input.artifact !== undefined) {
    if (!(input.artifact instanceof Uint8Array)) throw new UsageError('USAGE_INVALID_ARGUMENT', 'artifact must be a Uint8Array.', { hint: 'Pass the bytes, e.g. new Uint8Array(await response.arrayBuffer()).' });
    return { bytes: Buffer.from(input.artifact.buffer, input.artifact.byteOffset, input.artifact.byteLength) };
  }
  const m = typeof input.digest === 'string' ? DIGEST_RE.exec(input.digest) : null;
  if (m) return { sha256: m[1]!.toLowerCase() };
  throw new TargetError('TARGET_NOT_FOUND', `The artifact is missing, and ${JSON.stringify(input.digest)} is not a sha256:<64 hex> digest.`, { hint: 'Pass artifact (bytes) or digest (sha256:<hex>).' });
}

