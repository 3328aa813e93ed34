// A faster, byte-identical DER re-encoder for @sigstore/core's ASN.1 objects (docs/performance.md:
// "work that sigstore-js repeats per bundle").
//
// Measured (bench/means.ts, local Sigstore bundles): @sigstore/verify spends ~75% of a
// bundle's verification in `ASN1Obj.toDER()`. Certificates are re-encoded to DER for every
// comparison (`X509Certificate.equals` while deduplicating, sorting and path building the
// CA chain), every signature check over a TBS certificate and every SCT check — and the
// encoder allocates two zero-filled 1 KiB buffers per ASN.1 node (`ByteStream` grows in 1
// KiB blocks), so one certificate costs hundreds of KiB of allocation each time.
//
// This module replaces `ASN1Obj.prototype.toDER` with an encoder that computes the sizes
// first and writes into one buffer. It is a pure re-implementation of the same function of
// the same state — tag byte, DER length, then the value or the concatenated encodings of
// the sub-objects — so every caller gets the same bytes (in a fresh buffer, as before);
// nothing is cached, so the verification checks themselves are exactly the same. As a
// safety net against a future @sigstore/core changing the encoding, `installFastDer`
// compares both encoders on sample DER first and installs nothing on any difference.
import { ASN1Obj, X509Certificate } from '@sigstore/core';

interface Node {
  tag: { toDER(): number };
  value: Buffer;
  subs: Node[];
}

type ToDer = (this: Node) => Buffer;

const proto = ASN1Obj.prototype as unknown as { toDER: ToDer };
const original: ToDer = proto.toDER;

/** Bytes needed for the DER length of `n`: short form below 128, else 0x80|k + k bytes. */
function lengthSize(n: number): number {
  if (n < 128) return 1;
  let k = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) k++;
  return 1 + k;
}

function writeLength(n: number, buf: Buffer, off: number): number {
  if (n < 128) {
    buf[off] = n;
    return off + 1;
  }
  const k = lengthSize(n) - 1;
  buf[off] = 0x80 | k;
  for (let i = k; i >= 1; i--) {
    buf[off + i] = n % 256;
    n = Math.floor(n / 256);
  }
  return off + 1 + k;
}

/** Content length of every node below (and including) `node`, memoised for this call only. */
function contentSize(node: Node, sizes: Map<Node, number>): number {
  let size = 0;
  if (node.subs.length > 0) {
    for (const s of node.subs) {
      const c = contentSize(s, sizes);
      size += 1 + lengthSize(c) + c;
    }
  } else {
    size = node.value.length;
  }
  sizes.set(node, size);
  return size;
}

function write(node: Node, buf: Buffer, off: number, sizes: Map<Node, number>): number {
  // Same byte as ByteStream.appendChar(tag.toDER()): a Uint8 store keeps the low 8 bits.
  buf[off] = node.tag.toDER() & 0xff;
  off = writeLength(sizes.get(node)!, buf, off + 1);
  if (node.subs.length > 0) {
    for (const s of node.subs) off = write(s, buf, off, sizes);
  } else {
    node.value.copy(buf, off);
    off += node.value.length;
  }
  return off;
}

/**
 * Whether `node`'s stock encoding is its tag byte, its DER length and its `value` as they
 * are: true when it has no sub-objects (the stock encoder writes `value` itself), or when
 * its sub-objects lie in `value`, in order and back to back, each at the place where its
 * tag byte and minimal DER length are followed by its own `value` (the same memory, not a
 * copy) and each as intact in turn, with nothing left over. That is what @sigstore/core's
 * parser builds (it slices every value out of the parsed buffer and accepts minimal lengths
 * only); a tree changed afterwards (sigstore-js removes the SCT extension from a clone of the
 * leaf before re-encoding its TBS) fails the check wherever it was changed, and is encoded
 * node by node as before. Only indices and lengths are compared: no allocation.
 */
function intact(node: Node): boolean {
  const subs = node.subs;
  if (subs.length === 0) return true;
  const v = node.value;
  let at = 0;
  for (const s of subs) {
    const sv = s.value;
    const n = sv.length;
    if (v[at] !== (s.tag.toDER() & 0xff)) return false;
    let h = 2;
    if (n < 128) {
      if (v[at + 1] !== n) return false;
    } else {
      const k = lengthSize(n) - 1;
      if (v[at + 1] !== (0x80 | k)) return false;
      for (let i = k, m = n; i >= 1; i--, m = Math.floor(m / 256)) if (v[at + 1 + i] !== m % 256) return false;
      h += k;
    }
    if (sv.buffer !== v.buffer || sv.byteOffset !== v.byteOffset + at + h || !intact(s)) return false;
    at += h + n;
  }
  return at === v.length;
}

/**
 * DER encoding of `node`, identical to @sigstore/core's `toDER()`. An intact node (above)
 * is its header and its value copied once; another is encoded node by node. Measured
 * (docs/performance.md "Cold runs, round 4"): a bench leaf certificate (122 ASN.1 nodes)
 * 38 → 17 µs, an `X509Certificate.equals` (two encodings) 55 → 23 µs, warm; with `fastEquals`
 * below, the worker's handler over 1,000 bench bundles once (as a worker verifies them),
 * 8 interleaved process pairs: 1.46 → 1.17 ms CPU per bundle (median).
 */
function fastToDER(this: Node): Buffer {
  if (intact(this)) {
    const n = this.value.length;
    const buf = Buffer.allocUnsafe(1 + lengthSize(n) + n);
    buf[0] = this.tag.toDER() & 0xff;
    this.value.copy(buf, writeLength(n, buf, 1));
    return buf;
  }
  const sizes = new Map<Node, number>();
  const c = contentSize(this, sizes);
  const buf = Buffer.allocUnsafe(1 + lengthSize(c) + c);
  write(this, buf, 0, sizes);
  return buf;
}

/** The original encoder (tests compare against it). */
export function originalToDER(obj: ASN1Obj): Buffer {
  return original.call(obj as unknown as Node);
}

/** The fast encoder, callable without installing it (tests compare it with the original). */
export function fastDER(obj: ASN1Obj): Buffer {
  return fastToDER.call(obj as unknown as Node);
}

export function isFastDerInstalled(): boolean {
  return proto.toDER === fastToDER && certProto.equals === fastEquals;
}

/**
 * Install the fast encoder process-wide (per thread: each worker installs its own).
 * `samples`: DER blobs (e.g. the trust root's certificates) on which both encoders must
 * agree; the built-in samples always run. Returns whether the fast encoder is installed.
 */
export function installFastDer(samples: Uint8Array[] = []): boolean {
  if (isFastDerInstalled()) return true;
  for (const der of [...BUILTIN_SAMPLES, ...samples]) {
    let obj: ASN1Obj;
    try {
      obj = ASN1Obj.parseBuffer(Buffer.from(der));
    } catch {
      continue; // not parseable by @sigstore/core: says nothing about the encoder
    }
    if (!originalToDER(obj).equals(fastDER(obj))) return false;
    // The same tree changed after parsing (its last sub-object dropped, as sigstore-js
    // drops the SCT extension): not intact any more, so encoded node by node.
    const changed = changedCopy(obj);
    if (changed && !originalToDER(changed).equals(fastDER(changed))) return false;
  }
  proto.toDER = fastToDER;
  certProto.equals = fastEquals;
  return true;
}

/** `obj` with the last sub-object of its first constructed node dropped, or null when it has none. */
function changedCopy(obj: ASN1Obj): ASN1Obj | null {
  if (obj.subs.length === 0) return null;
  const inner = changedCopy(obj.subs[0]!);
  const subs = inner ? [inner, ...obj.subs.slice(1)] : obj.subs.slice(0, -1);
  return new ASN1Obj(obj.tag, obj.value, subs);
}

type Equals = (this: { root: Node }, other: { root: Node }) => boolean;
const certProto = X509Certificate.prototype as unknown as { equals: Equals };
const originalEquals: Equals = certProto.equals;

/**
 * `X509Certificate.equals`: the stock method compares the two certificates' DER
 * re-encodings; @sigstore/verify calls it ~6 times per bundle while it deduplicates the
 * chain and builds the path (`CertificateChainVerifier`), on the leaf, the intermediate and
 * the root. When both trees are intact (above), their encodings are equal exactly when
 * their tag bytes and their values are (the header follows from the tag and the value's
 * length), so no encoding is built; otherwise both are encoded, as before. Measured with
 * the encoder above (docs/performance.md "Cold runs, round 4").
 */
const fastEquals: Equals = function (this: { root: Node }, other: { root: Node }): boolean {
  const a = this.root;
  const b = other.root;
  if (intact(a) && intact(b)) return (a.tag.toDER() & 0xff) === (b.tag.toDER() & 0xff) && a.value.equals(b.value);
  return fastToDER.call(a).equals(fastToDER.call(b));
};

/** Whether two certificates are equal by the fast comparison (tests compare it with the stock one). */
export function fastCertEquals(a: X509Certificate, b: X509Certificate): boolean {
  return fastEquals.call(a as unknown as { root: Node }, b as unknown as { root: Node });
}

/** The CA certificates of a trusted_root.json object: self-test samples for installFastDer. */
export function trustRootCertificates(trustedRoot: unknown): Buffer[] {
  const out: Buffer[] = [];
  const cas = (trustedRoot as { certificateAuthorities?: unknown } | null)?.certificateAuthorities;
  if (!Array.isArray(cas)) return out;
  for (const ca of cas) {
    const certs = (ca as { certChain?: { certificates?: unknown } } | null)?.certChain?.certificates;
    if (!Array.isArray(certs)) continue;
    for (const c of certs) {
      const raw = (c as { rawBytes?: unknown } | null)?.rawBytes;
      if (typeof raw === 'string') out.push(Buffer.from(raw, 'base64'));
    }
  }
  return out;
}

/** Put the original encoder back (tests). */
export function uninstallFastDer(): void {
  proto.toDER = original;
  certProto.equals = originalEquals;
}

// Built-in self-test inputs: short and long (2- and 3-byte) lengths, nested constructed
// types, context-specific tags, an empty value, and DER inside an OCTET STRING (as in an
// X.509 extnValue, which @sigstore/core parses into children). The long sample's bytes are
// 0x84, which ends that nested parse at once (a length beyond the buffer): 70,000 bytes of
// 0x01 were parsed as 35,000 BOOLEANs, ~80 ms of CPU in every thread that verifies, before
// its first bundle (measured: parseBuffer 74-88 ms → 0.3-0.9 ms; docs/performance.md
// "Downloads and the proxy").
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const BUILTIN_SAMPLES: Buffer[] = [
  tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([1])), tlv(0x04, Buffer.alloc(0)), tlv(0xa0, tlv(0x06, Buffer.from([0x2a, 0x86, 0x48])))])),
  tlv(0x30, Buffer.concat([tlv(0x04, Buffer.alloc(200, 7)), tlv(0x30, tlv(0x04, Buffer.alloc(300, 9)))])),
  tlv(0x30, tlv(0x04, tlv(0x04, Buffer.alloc(70_000, 0x84)))),
];
