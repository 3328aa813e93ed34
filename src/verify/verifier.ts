// The one bundle verification path (sigstore-conformance: `verify-bundle` and package
// verification share it). @sigstore/verify does the standard Sigstore checks; around it,
// bundle-checks.ts makes the checks other conformant clients make that sigstore-js does not
// (and verifies from a digest when only `sha256:<hex>` is known), signing-time.ts gives it
// the trusted times (RFC 3161), keys.ts selects self-managed keys by hint, and identity.ts
// decodes the signer. Trust material is built once per verifier.
import { installAccelerations } from './accelerate.ts';
import type { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TrustMaterial, VerificationError, Verifier, type SignedEntity, toTrustMaterial } from '@sigstore/verify';
import { VerifyError, describeError } from '../errors.ts';
import type { SignerIdentity, TrustedKey } from '../types.ts';
import { certificateIdentity, keyIdentity } from './identity.ts';
import type { LoadedTrustRoot } from './trust-root.ts';
import type { CheckName } from './evidence.ts';
import { fail, failCheck } from './fail.ts';
import { finish, leafCertificate, parseBundle, prepare } from './bundle-checks.ts';
import { prepareKeys, selectKeys } from './keys.ts';

export { parseGeneralizedTime } from './evidence.ts';
export { INTOTO_PAYLOAD_TYPE } from './bundle-checks.ts';

export type ArtifactRef = { bytes: Buffer } | { sha256: string };

export interface VerifiedBundle {
  identity: SignerIdentity;
  /** A transparency-log entry was present and verified (inclusion + body match). */
  tlog: boolean;
  mediaType: string;
  /** Parsed in-toto statement for DSSE bundles with an in-toto payload. */
  statement?: unknown;
  payloadType?: string;
  /** The signing certificate as parsed for verification (evidence reads it instead of parsing it again). */
  leaf?: X509Certificate;
}

export interface BundleVerifier {
  /** Throws VerifyError. `artifact` null = DSSE bundle checked by its statement's subject instead. */
  verify(bundle: unknown, artifact: ArtifactRef | null): VerifiedBundle;
}

export interface CreateVerifierOptions {
  /**
   * Install the equivalent fast paths (fast DER encoder, CA-chain memo) before verifying.
   * Default true; false only for tests and benchmarks that compare against stock sigstore-js.
   */
  accelerate?: boolean;
  trustRoot: LoadedTrustRoot;
  trustedKeys?: TrustedKey[];
  /** Key-signed bundles need a verified tlog entry (`require_tlog`, default true). */
  requireTlog?: boolean;
}

/** The check a sigstore-js VerificationError code stands for (the order of Verifier.verify). */
function sigstoreCheck(e: VerificationError): CheckName {
  switch (e.code) {
    case 'TIMESTAMP_ERROR':
      return 'timestamp';
    case 'CERTIFICATE_ERROR':
      return /\bSCTs?\b/.test(e.message) ? 'sct' : 'certificate_chain';
    case 'PUBLIC_KEY_ERROR':
    case 'SIGNATURE_ERROR':
      return 'signature';
    default:
      return 'tlog_inclusion';
  }
}

export function createVerifier(opts: CreateVerifierOptions): BundleVerifier {
  const requireTlog = opts.requireTlog ?? true;
  // Every verification path (verify, verify-bundle, the pool's workers) runs on the same
  // engine: @sigstore/verify with the byte-identical DER encoder (installed only if its
  // self-test on this root's certificates agrees with the stock one) and the CA-chain
  // memo. Both are provably equivalent; the conformance suite runs through them.
  if (opts.accelerate !== false) installAccelerations(opts.trustRoot.json);
  let root: TrustedRoot;
  let base: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(opts.trustRoot.json);
    base = toTrustMaterial(root);
  } catch (e) {
    return fail('SIGSTORE_VERIFICATION_FAILED', `The trusted root ${opts.trustRoot.source} cannot be used: ${describeError(e)}.`, undefined, e);
  }
  const keys = prepareKeys(opts.trustedKeys ?? [], base);
  // Certificates always need one SCT, one tlog entry and one trusted time (defaults).
  const strict = new Verifier(base);

  return {
    verify(input: unknown, artifact: ArtifactRef | null): VerifiedBundle {
      const bundle = parseBundle(input);
      const { entity, mediaType, leaf } = prepare(bundle, artifact);
      const vm = bundle.verificationMaterial.content;
      let identity: SignerIdentity;
      if (vm.$case === 'publicKey') {
        const hasTlog = entity.tlogEntries.length > 0;
        if (!hasTlog && requireTlog) {
          fail('TLOG_REQUIRED', 'The key-signed bundle has no transparency-log entry, and this channel requires one.', 'Publish key signatures to Rekor, or set require_tlog: false for this channel.');
        }
        const candidates = selectKeys(keys, vm.publicKey.hint, entity, artifact);
        const k = candidates[0]!;
        // A configured key has no validity window, so no trusted time is needed (unlike a
        // short-lived certificate; conformance intoto-canonical-log-entry has none). The log
        // entry, when present, is still verified in full; signature-only mode when absent.
        const v = new Verifier(k.material, { tlogThreshold: hasTlog ? 1 : 0, timestampThreshold: 0 });
        runSigstore(v, entity);
        identity = keyIdentity(k.spki, k.name);
        return finish(bundle, mediaType, identity, hasTlog, artifact);
      }
      runSigstore(strict, entity);
      const cert = leaf ?? leafCertificate(bundle);
      identity = certificateIdentity(cert);
      return { ...finish(bundle, mediaType, identity, true, artifact), leaf: cert };
    },
  };
}

function runSigstore(v: Verifier, entity: SignedEntity): void {
  try {
    v.verify(entity);
  } catch (e) {
    if (e instanceof VerifyError) throw e;
    if (!(e instanceof VerificationError)) fail('SIGSTORE_VERIFICATION_FAILED', `Sigstore verification failed: ${describeError(e)}.`, undefined, e);
    failCheck(sigstoreCheck(e), 'SIGSTORE_VERIFICATION_FAILED', `Sigstore verification failed: ${e.code}: ${describeError(e)}.`, undefined, e);
  }
}

