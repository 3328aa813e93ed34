// The one place that patches @sigstore/core process-wide (per thread: each worker has its
// own copy of the modules). Every patch is provably equivalent to the stock code and the
// conformance suite runs through them:
// - the byte-identical fast DER encoder (fast-der.ts), installed only when its self-test on
//   built-in samples and on this trust root's certificates agrees with the stock encoder;
// - the CA-chain memo (chain-memo.ts): a CA certificate's signature is checked once per run;
// - quiet ASN.1 parsing (below): the parser's errors carry no stack trace;
// - quiet public-key import (below): Node's own type probes inside it capture no stack trace;
// - OIDs decoded once per distinct encoding (below).
// Called from createVerifier, which every verification path of a thread goes through.
import { ASN1Obj, crypto as sigstoreCrypto } from '@sigstore/core';
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
 * unchanged. Measured in-process (1,000 bundles, one thread, warm, 2 interleaved runs):
 * 1.41–1.51 → 1.28–1.33 ms CPU per bundle (docs/performance.md "Cold runs").
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

type CreatePublicKey = typeof sigstoreCrypto.createPublicKey;
const stockCreatePublicKey: CreatePublicKey = sigstoreCrypto.createPublicKey;

/**
 * @sigstore/verify turns every bundle's leaf key into a KeyObject (`getSigner`:
 * `crypto.createPublicKey(cert.publicKey)`, a DER SubjectPublicKeyInfo). Node 24's
 * `createPublicKey` first asks `isKeyObject` and `isCryptoKey` of its argument, each a
 * private-field read inside a try/catch: for the `{ key, format, type }` object it is given,
 * both throw a TypeError, and each captures a stack trace (node:internal/crypto/keys). In a
 * CPU profile of 1,000 bench bundles, those two probes were half of the import and ~4% of a
 * bundle's verification. With `Error.stackTraceLimit` at 0 while it runs, the same probes
 * throw and catch the same errors without a stack: the key, and the message of an error that
 * escapes (an unreadable key), are unchanged. Measured (docs/performance.md "Cold runs,
 * round 5: the worker").
 */
const quietCreatePublicKey: CreatePublicKey = function (key, type) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return stockCreatePublicKey(key, type);
  } finally {
    Error.stackTraceLimit = limit;
  }
};

/** Whether the quiet key import is installed (tests). */
export function isQuietKeyImportInstalled(): boolean {
  return sigstoreCrypto.createPublicKey === quietCreatePublicKey;
}

/** Put the stock key import back (tests). */
export function uninstallQuietKeyImport(): void {
  sigstoreCrypto.createPublicKey = stockCreatePublicKey;
}

type ToOid = (this: ASN1Obj) => string;
const oidProto = ASN1Obj.prototype as unknown as { toOID: ToOid };
const stockToOid: ToOid = oidProto.toOID;
/** Bounded: a run sees a few dozen distinct OIDs; the bound only guards against misuse. */
const MAX_OIDS = 4096;
const oids = new Map<string, string>();

/**
 * @sigstore/verify decodes the OID of every extension of the leaf for each bundle (the
 * signer it returns lists them all, `getSigner`), and `X509Certificate.extension()` decodes
 * them again per lookup; the decoder builds each arc with BigInt arithmetic. A CPU profile
 * of a worker verifying ~500 bench bundles put 4.5% of its time in `parseOID`. The decoded
 * string is a pure function of the value's bytes, so it is kept per exact byte string
 * (latin1: one char per byte, so two encodings share a key only when they are equal). The
 * tag check runs first, as in the stock method, so a value that is not an OID still throws
 * the same error. Measured (docs/performance.md "Cold runs").
 */
const memoToOid: ToOid = function (this: ASN1Obj): string {
  if (!this.tag.isOID()) return stockToOid.call(this);
  const key = this.value.toString('latin1');
  let oid = oids.get(key);
  if (oid === undefined) {
    oid = stockToOid.call(this);
    if (oids.size >= MAX_OIDS) oids.delete(oids.keys().next().value as string);
    oids.set(key, oid);
  }
  return oid;
};

/** Whether the OID memo is installed (tests). */
export function isOidMemoInstalled(): boolean {
  return oidProto.toOID === memoToOid;
}

/** Put the stock OID decoder back and forget what was decoded (tests). */
export function uninstallOidMemo(): void {
  oidProto.toOID = stockToOid;
  oids.clear();
}

/** Install the accelerations for this thread; idempotent. Returns whether the fast DER encoder passed its self-test. */
export function installAccelerations(trustedRoot: unknown): boolean {
  const fastDer = installFastDer(trustRootCertificates(trustedRoot));
  installChainMemo();
  ASN1Obj.parseBuffer = quietParseBuffer;
  sigstoreCrypto.createPublicKey = quietCreatePublicKey;
  oidProto.toOID = memoToOid;
  return fastDer;
}
