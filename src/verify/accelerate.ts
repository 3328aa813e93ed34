// The one place that patches @sigstore/core process-wide (per thread: each worker has its
// own copy of the modules). Every patch is provably equivalent to the stock code and the
// conformance suite runs through them:
// - the byte-identical fast DER encoder (fast-der.ts), installed only when its self-test on
//   built-in samples and on this trust root's certificates agrees with the stock encoder;
// - the CA-chain memo (chain-memo.ts): a CA certificate's signature is checked once per run;
// - ASN.1 parsing without exceptions (fast-parse.ts), installed only when it agrees with the
//   stock parser on built-in samples and on this trust root's certificates; where the stock
//   parser throws, it runs, quietly: its errors carry no stack trace (below);
// - quiet public-key import (below): Node's own type probes inside it capture no stack trace;
// - OIDs decoded once per distinct encoding (below);
// - single bytes read from a ByteStream without a one-byte Buffer view each (below).
// Called from createVerifier, which every verification path of a thread goes through.
import { ASN1Obj, ByteStream, crypto as sigstoreCrypto } from '@sigstore/core';
import { installChainMemo } from './chain-memo.ts';
import { installFastDer, trustRootCertificates } from './fast-der.ts';
import { fastParse, treeShape } from './fast-parse.ts';

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
  if (TagOf) {
    const fast = fastParse(buf, TagOf);
    if (fast) return fast;
  }
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return stockParseBuffer.call(this, buf);
  } finally {
    Error.stackTraceLimit = limit;
  }
};

type TagClass = new (enc: number) => ASN1Obj['tag'];
/** @sigstore/core's ASN1Tag class once the fast parser passed its self-test; null: stock parsing only. */
let TagOf: TagClass | null = null;

// Self-test inputs besides the trust root's certificates: DER inside an OCTET STRING (parsed
// into children), an OCTET STRING whose content is not DER (kept primitive), a constructed
// object whose content is not DER, trailing data, a non-minimal length, a long-form tag
// number, universal tag 0, an indefinite length, a length past the end, nothing at all, and
// SEQUENCEs nested to the depth bound and one deeper.
const hex = (h: string): Buffer => Buffer.from(h.replaceAll(' ', ''), 'hex');
function nested(levels: number): Buffer {
  let der = hex('05 00');
  for (let i = 1; i < levels; i++) {
    const n = der.length;
    der = Buffer.concat([n < 128 ? Buffer.from([0x30, n]) : Buffer.from([0x30, 0x81, n]), der]);
  }
  return der;
}
const PARSE_SAMPLES: Buffer[] = [
  hex('30 0c 04 05 02 03 01 00 01 04 03 0c 01 41'),
  hex('30 06 04 02 68 74 05 00'),
  hex('a0 01 05'),
  hex('30 02 05 00 00'),
  hex('30 81 02 05 00'),
  hex('1f 01 00'),
  hex('00 00'),
  hex('30 80 05 00 00 00'),
  hex('04 05 01 02'),
  Buffer.alloc(0),
  nested(101),
  nested(102),
];

/**
 * Whether the fast parser gives the stock parser's result on every sample: the same tree, or
 * null where the stock parser throws. Returns the ASN1Tag class to build with, or null.
 */
function checkFastParse(samples: Uint8Array[]): TagClass | null {
  const Tag = stockParseBuffer.call(ASN1Obj, Buffer.from([0x05, 0x00])).tag.constructor as TagClass;
  for (const der of [...PARSE_SAMPLES, ...samples]) {
    let stock: unknown = null;
    try {
      stock = treeShape(stockParseBuffer.call(ASN1Obj, Buffer.from(der)));
    } catch {
      // the fast parser must refuse it too
    }
    const fast = fastParse(Buffer.from(der), Tag);
    if (JSON.stringify(fast === null ? null : treeShape(fast)) !== JSON.stringify(stock)) return null;
  }
  return Tag;
}

/** Whether the quiet parser is installed (tests). */
export function isQuietParseInstalled(): boolean {
  return ASN1Obj.parseBuffer === quietParseBuffer;
}

/** Whether the parser without exceptions is in use (tests). */
export function isFastParseInstalled(): boolean {
  return isQuietParseInstalled() && TagOf !== null;
}

/** Put the stock parser back (tests). */
export function uninstallQuietParse(): void {
  ASN1Obj.parseBuffer = stockParseBuffer;
  TagOf = null;
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
 * escapes (an unreadable key), are unchanged. Measured with the leaf shared with sigstore-js
 * and the memo changes of the same round: the worker's handler over 1,000 bench bundles once,
 * fresh worker, 6 interleaved runs: 1,079 → 967 ms CPU (docs/performance.md "Cold runs,
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
interface OidEntry {
  bytes: Buffer;
  oid: string;
}
/** Decoded OIDs by a hash of their bytes; each entry keeps a copy of the bytes it was decoded from. */
const oids = new Map<number, OidEntry[]>();
let oidCount = 0;

function hashBytes(v: Buffer): number {
  let h = v.length;
  for (let i = 0; i < v.length; i++) h = (Math.imul(h, 31) + v[i]!) | 0;
  return h;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * @sigstore/verify decodes the OID of every extension of the leaf for each bundle (the
 * signer it returns lists them all, `getSigner`), and `X509Certificate.extension()` decodes
 * them again per lookup; the decoder builds each arc with BigInt arithmetic. A CPU profile
 * of a worker verifying ~500 bench bundles put 4.5% of its time in `parseOID`. The decoded
 * string is a pure function of the value's bytes, so it is kept per exact byte string: a
 * hash picks the candidates, and an entry answers only when its bytes equal the value's
 * byte for byte (so a collision costs a decode, never a wrong OID). The tag check runs
 * first, as in the stock method, so a value that is not an OID still throws the same error.
 * The memo was keyed by the bytes as a latin1 string at first: ~170 lookups per bundle, 27 kB
 * of strings per bundle (an allocation sampling of 1,000 bench bundles), now none.
 * Measured (docs/performance.md "Cold runs" and "Cold runs, round 5: the worker").
 */
const memoToOid: ToOid = function (this: ASN1Obj): string {
  if (!this.tag.isOID()) return stockToOid.call(this);
  const v = this.value;
  const h = hashBytes(v);
  const bucket = oids.get(h);
  if (bucket) for (const e of bucket) if (sameBytes(e.bytes, v)) return e.oid;
  const oid = stockToOid.call(this);
  if (oidCount >= MAX_OIDS) {
    oids.clear();
    oidCount = 0;
  }
  const entry = { bytes: Buffer.from(v), oid };
  if (bucket) bucket.push(entry);
  else oids.set(h, [entry]);
  oidCount++;
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
  oidCount = 0;
}

interface StreamLike {
  view: Buffer;
  start: number;
  getBlock(size: number): Buffer;
}
type ReadNumber = (this: StreamLike) => number;
const streamProto = ByteStream.prototype as unknown as { getUint8: ReadNumber; getUint16: ReadNumber };
const stockGetUint8: ReadNumber = streamProto.getUint8;
const stockGetUint16: ReadNumber = streamProto.getUint16;

/**
 * `ByteStream.getUint8()` is `getBlock(1)[0]`: a one-byte Buffer view for every byte read, and
 * the ASN.1 parser reads each tag and length byte that way. An allocation sampling of a worker
 * verifying 1,000 bench bundles put 66 of its 316 MB in those views (`getBlock`, `getUint8`).
 * These read the byte in place, with the same bounds check, the same error (an `Error`,
 * "request past end of buffer") and the same cursor move as `getBlock`. Measured with the OID
 * memo's hashing (above): the worker's handler over 1,000 bench bundles once, fresh worker, 6
 * interleaved runs: 1,176 → 1,049 ms CPU.
 */
const readUint8: ReadNumber = function (this: StreamLike): number {
  const at = this.start;
  if (at + 1 > this.view.length) throw new Error('request past end of buffer');
  this.start = at + 1;
  return this.view[at]!;
};
const readUint16: ReadNumber = function (this: StreamLike): number {
  const at = this.start;
  if (at + 2 > this.view.length) throw new Error('request past end of buffer');
  this.start = at + 2;
  return (this.view[at]! << 8) | this.view[at + 1]!;
};

/** Each read of both implementations over `bytes`, then one read past the end: values, cursor, error. */
function streamReads(bytes: Buffer, read8: ReadNumber, read16: ReadNumber): string {
  const stream = new ByteStream(bytes) as unknown as StreamLike;
  const out: (number | string)[] = [];
  for (let i = 0; i < bytes.length + 2; i++) {
    try {
      out.push((i % 3 === 2 ? read16 : read8).call(stream), stream.start);
    } catch (e) {
      out.push(`${(e as Error).constructor.name}: ${(e as Error).message}`, stream.start);
    }
  }
  return JSON.stringify(out);
}

/** Install the in-place reads when they agree with the stock ones on a sample; returns whether they are installed. */
function installStreamReads(): boolean {
  if (streamProto.getUint8 === readUint8) return true;
  const sample = Buffer.from([0x30, 0x82, 0x01, 0x00, 0xff, 0x7f, 0x80]);
  if (streamReads(sample, stockGetUint8, stockGetUint16) !== streamReads(sample, readUint8, readUint16)) return false;
  streamProto.getUint8 = readUint8;
  streamProto.getUint16 = readUint16;
  return true;
}

/** Whether the in-place stream reads are installed (tests). */
export function isStreamReadInstalled(): boolean {
  return streamProto.getUint8 === readUint8 && streamProto.getUint16 === readUint16;
}

/** Put the stock stream reads back (tests). */
export function uninstallStreamReads(): void {
  streamProto.getUint8 = stockGetUint8;
  streamProto.getUint16 = stockGetUint16;
}

/** Install the accelerations for this thread; idempotent. Returns whether the fast DER encoder passed its self-test. */
export function installAccelerations(trustedRoot: unknown): boolean {
  const certificates = trustRootCertificates(trustedRoot);
  const fastDer = installFastDer(certificates);
  installChainMemo();
  if (!isQuietParseInstalled()) {
    TagOf = checkFastParse(certificates);
    ASN1Obj.parseBuffer = quietParseBuffer;
  }
  sigstoreCrypto.createPublicKey = quietCreatePublicKey;
  oidProto.toOID = memoToOid;
  installStreamReads();
  return fastDer;
}
