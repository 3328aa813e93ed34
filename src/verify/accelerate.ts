// The one place that patches @sigstore/core process-wide (per thread: each worker has its
// own copy of the modules). Both patches are provably equivalent to the stock code and the
// conformance suite runs through them:
// - the byte-identical fast DER encoder (fast-der.ts), installed only when its self-test on
//   built-in samples and on this trust root's certificates agrees with the stock encoder;
// - the CA-chain memo (chain-memo.ts): a CA certificate's signature is checked once per run.
// Called from createVerifier, which every verification path of a thread goes through.
import { installChainMemo } from './chain-memo.ts';
import { installFastDer, trustRootCertificates } from './fast-der.ts';

/** Install both accelerations for this thread; idempotent. Returns whether the fast DER encoder passed its self-test. */
export function installAccelerations(trustedRoot: unknown): boolean {
  const fastDer = installFastDer(trustRootCertificates(trustedRoot));
  installChainMemo();
  return fastDer;
}
