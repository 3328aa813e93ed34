// `conda-attest/browser`: the browser host of the shared verification core (docs/browser.md).
// One ES module with no Node built-ins: the core is the same source the CLI runs; only the
// adapters differ (crypto: src/crypto/browser.ts, bound at bundle time; transport: the
// page's fetch; storage: a lockfile adapter given by the page).
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { TargetError, TrustRootError, UsageError } from '../errors.ts';
import { type BundleVerdict, bundleVerdict, failedVerdict } from '../verify/bundle-outcome.ts';
import { type LoadedTrustRoot, parseTrustedRoot } from '../verify/trust-root-validate.ts';
import { type ArtifactRef, createVerifier } from '../verify/verifier.ts';

export type { BundleVerdict } from '../verify/bundle-outcome.ts';

/** The Sigstore public-good trusted root embedded in the build (no TUF refresh in the browser). */
const PUBLIC_GOOD_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';

let publicGood: LoadedTrustRoot | undefined;

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

export interface VerifyBundleInput {
  /** The Sigstore bundle: a JSON object or its text. */
  bundle: unknown;
  /** The artifact's bytes… */
  artifact?: Uint8Array;
  /** …or its digest, `sha256:<64 hex>`. */
  digest?: string;
  /** A trusted_root.json object (default: the public-good root embedded in the build). */
  trustedRoot?: unknown;
  /** Expected certificate SAN and OIDC issuer (compared exactly)… */
  identity?: string;
  issuer?: string;
  /** …or the expected signing public key (PEM). */
  key?: string;
}

const DIGEST_RE = /^sha256:([0-9a-fA-F]{64})$/;

/**
 * Verify one Sigstore bundle: the same object `conda-attest verify-bundle --format json`
 * prints for the same input ({ verified, code, message, identity }). Never throws.
 */
export async function verifyBundle(input: VerifyBundleInput): Promise<BundleVerdict> {
  try {
    const { identity, issuer, key } = input;
    if (key !== undefined && (identity !== undefined || issuer !== undefined)) {
      throw new UsageError('USAGE_INVALID_ARGUMENT', 'key cannot be combined with identity / issuer.', { hint: 'Give identity and issuer, or key.' });
    }
    if (key === undefined && (identity === undefined || issuer === undefined)) {
      throw new UsageError('USAGE_MISSING_ARGUMENT', 'Give identity and issuer, or key.', { hint: 'A bundle is verified against an expected signer.' });
    }
    const artifact = artifactRef(input);
    const root = loadBrowserTrustRoot(input.trustedRoot);
    const trustedKeys = key === undefined ? [] : [{ name: undefined, pem: key, source: 'the key given' }];
    const verifier = createVerifier({ trustRoot: root, trustedKeys, requireTlog: true });
    const bundle = typeof input.bundle === 'string' ? input.bundle : JSON.stringify(input.bundle);
    return bundleVerdict(verifier, bundle, artifact, key !== undefined ? { kind: 'key' } : { kind: 'certificate', identity: identity!, issuer: issuer! }).verdict;
  } catch (e) {
    return failedVerdict(e);
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
