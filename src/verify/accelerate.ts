// The one place that patches @sigstore/core process-wide (per thread: each worker has its
// own copy of the modules). Every patch is provably equivalent to the stock code and the
// conformance suite runs through them:
// - the byte-identical fast DER encoder (fast-der.ts), installed only when its self-test on
//   built-in samples and on this trust root's certificates agrees with the stock encoder;
// - the CA-chain memo (chain-memo.ts): a CA certificate's signature is checked once per run;
// - quiet ASN.1 parsing (below): the parser's errors carry no stack trace.
// Called from createVerifier, which every verification path of a thread goes through.
import { ASN1Obj } from '@sigstore/core';
import { installChainMemo } from './chain-memo.ts';
import { installFastDer, trustRootCertificates } from './fast-der.ts';

type ParseBuffer = typeof ASN1Obj.parseBuffer;
const stockParseBuffer: ParseBuffer = ASN1Obj.parseBuffer;

/**
 * @sigstore/core's ASN.1 parser tries to read every OCTET STRING as nested DER and throws
 * (and catches) an ASN1ParseError when it is not: ~17 times per Fulcio leaf certificate,
 * whose extensions hold plain strings, and a leaf is parsed several times per bundle. Each
 * throw captured a stack trace, 8% of a bundle's verification in a CPU profile (1,000
 * local-instance bundles, one thread). With `Error.stackTraceLimit` at 0 while the parser
 * runs, the same errors are thrown and caught, only without a stack: the parse result, and
 * the message of an error that escapes (a malformed certificate, reported by message), are
 * unchanged. Measured: see docs/performance.md "Cold runs".
 */
const quietParseBuffer: ParseBuffer = function (this: typeof ASN1Obj, buf) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return stockParseBuffer.call(this, buf);
  } finally {
    Error.stackTraceLimit = limit;
  }
};

/** Whether the quiet parser is installed (tests). */
export function isQuietParseInstalled(): boolean {
  return ASN1Obj.parseBuffer === quietParseBuffer;
}

/** Put the stock parser back (tests). */
export function uninstallQuietParse(): void {
  ASN1Obj.parseBuffer = stockParseBuffer;
}

/** Install the accelerations for this thread; idempotent. Returns whether the fast DER encoder passed its self-test. */
export function installAccelerations(trustedRoot: unknown): boolean {
  const fastDer = installFastDer(trustRootCertificates(trustedRoot));
  installChainMemo();
  ASN1Obj.parseBuffer = quietParseBuffer;
  return fastDer;
}
