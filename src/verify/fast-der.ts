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
import { ASN1Obj } from '@sigstore/core';

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

/** DER encoding of `node`, identical to @sigstore/core's `toDER()`. */
function fastToDER(this: Node): Buffer {
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
  return proto.toDER === fastToDER;
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
  }
  proto.toDER = fastToDER;
  return true;
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
