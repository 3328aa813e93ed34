// The browser crypto adapter: the part of `node:crypto` that the shared verification core
// and sigstore-js call, synchronously and exactly, for the browser build (docs/browser.md).
// The browser bundle (scripts/bundle-browser.ts) binds `crypto` / `node:crypto` to this
// module; under Node the same core gets Node's own crypto. Nothing is patched at runtime.
//
// Why synchronous pure JS and not WebCrypto: @sigstore/core's `crypto.verify` and
// `Verifier.verify` are synchronous all the way down, and WebCrypto is async-only. Every
// signature is checked here, on the first pass, with @noble/curves (ECDSA P-256/384/521,
// Ed25519) and BigInt RSA (public data only: no secret, so no constant-time concern).
//
// Semantics follow Node's (OpenSSL's) for the calls made: `verify(undefined, …)` hashes
// with SHA-256 for ECDSA and RSA (OpenSSL's default digest) and signs the message itself
// for Ed25519; ECDSA signatures are DER, high-S accepted (OpenSSL does not enforce low-S);
// Ed25519 is strict RFC 8032 (no ZIP-215 leniency); RSA is PKCS#1 v1.5 (RFC 8017 §8.2).
// test/browser/crypto-adapter.test.ts checks each answer against node:crypto.
import { Buffer } from 'buffer';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';

type Bytes = Uint8Array;
type HashName = 'sha256' | 'sha384' | 'sha512';

const HASHES: Record<HashName, { create(): { update(b: Bytes): unknown; digest(): Bytes } }> = { sha256, sha384, sha512 };

function hashName(alg: string): HashName {
  const n = alg.toLowerCase().replace(/^rsa-/, '').replace('-', '') as HashName;
  if (!(n in HASHES)) throw new Error(`Digest method not supported: ${alg}`);
  return n;
}

function toBytes(data: string | Bytes, encoding?: string): Bytes {
  return typeof data === 'string' ? Buffer.from(data, (encoding ?? 'utf8') as BufferEncoding) : data;
}

class Hash {
  readonly #h: { update(b: Bytes): unknown; digest(): Bytes };
  constructor(alg: string) {
    this.#h = HASHES[hashName(alg)].create();
  }
  update(data: string | Bytes, encoding?: string): this {
    this.#h.update(toBytes(data, encoding));
    return this;
  }
  digest(): Buffer;
  digest(encoding: string): string;
  digest(encoding?: string): Buffer | string {
    const out = Buffer.from(this.#h.digest());
    return encoding ? out.toString(encoding as BufferEncoding) : out;
  }
}

export function createHash(alg: string): Hash {
  return new Hash(alg);
}

export function timingSafeEqual(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) throw new RangeError('Input buffers must have the same byte length');
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

// ---------------------------------------------------------------------------------
// DER (X.690) reading: just enough for SPKI, PKCS#1 RSA keys and X.509 certificates.

interface Tlv {
  tag: number;
  /** Start of the whole element (tag byte). */
  start: number;
  /** Start and end of the contents. */
  body: number;
  end: number;
}

function tlv(buf: Bytes, off: number, limit = buf.length): Tlv {
  const tag = buf[off];
  let len = buf[off + 1];
  if (tag === undefined || len === undefined) throw new Error('DER: truncated');
  let body = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: unsupported length');
    len = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[body++];
      if (b === undefined) throw new Error('DER: truncated');
      len = len * 256 + b;
    }
  }
  if (body + len > limit) throw new Error('DER: element overruns its container');
  return { tag, start: off, body, end: body + len };
}

function children(buf: Bytes, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.body; off < parent.end; ) {
    const c = tlv(buf, off, parent.end);
    out.push(c);
    off = c.end;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number): Tlv {
  if (!t || t.tag !== tag) throw new Error(`DER: expected tag 0x${tag.toString(16)}`);
  return t;
}

function oid(buf: Bytes, t: Tlv): string {
  const b = buf.subarray(expect(t, 0x06).body, t.end);
  const parts: number[] = [];
  let v = 0;
  for (const x of b) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function bigint(b: Bytes): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const ED25519 = '1.3.101.112';
const CURVES = {
  '1.2.840.10045.3.1.7': { name: 'prime256v1', impl: p256 },
  '1.3.132.0.34': { name: 'secp384r1', impl: p384 },
  '1.3.132.0.35': { name: 'secp521r1', impl: p521 },
} as const;
type CurveOid = keyof typeof CURVES;

/** A public key, as much of Node's KeyObject as the core reads. */
export class KeyObject {
  readonly type = 'public';
  readonly asymmetricKeyType: 'ec' | 'rsa' | 'ed25519';
  readonly asymmetricKeyDetails: { namedCurve?: string; modulusLength?: number };
  /** SPKI DER. */
  readonly #spki: Buffer;
  /** EC point / Ed25519 key bytes; RSA modulus and exponent. */
  readonly point: Bytes | undefined;
  readonly rsa: { n: bigint; e: bigint; size: number } | undefined;

  constructor(spki: Bytes) {
    const top = expect(tlv(spki, 0), 0x30);
    if (top.end !== spki.length) throw new Error('DER: trailing data after the public key');
    const [alg, bits] = children(spki, top);
    const algParts = children(spki, expect(alg, 0x30));
    const algOid = oid(spki, algParts[0]!);
    const key = spki.subarray(expect(bits, 0x03).body + 1, bits!.end); // skip the unused-bits byte
    this.#spki = Buffer.from(spki);
    if (algOid === EC_PUBLIC_KEY) {
      const curve = CURVES[oid(spki, algParts[1]!) as CurveOid];
      if (!curve) throw new Error('Unsupported EC curve');
      curve.impl.Point.fromBytes(key).assertValidity(); // a point on the curve, as OpenSSL requires
      this.asymmetricKeyType = 'ec';
      this.asymmetricKeyDetails = { namedCurve: curve.name };
      this.point = key;
    } else if (algOid === ED25519) {
      if (key.length !== 32) throw new Error('Invalid Ed25519 key');
      this.asymmetricKeyType = 'ed25519';
      this.asymmetricKeyDetails = {};
      this.point = key;
    } else if (algOid === RSA_ENCRYPTION) {
      this.asymmetricKeyType = 'rsa';
      this.rsa = parsePkcs1(key);
      this.asymmetricKeyDetails = { modulusLength: this.rsa.size * 8 };
    } else {
      throw new Error(`Unsupported key type ${algOid}`);
    }
  }

  export(opts: { format: string; type?: string }): Buffer | Record<string, string> {
    if (opts.format === 'der' && (opts.type ?? 'spki') === 'spki') return Buffer.from(this.#spki);
    if (opts.format === 'jwk' && this.asymmetricKeyType === 'ec' && this.point) {
      const n = (this.point.length - 1) / 2;
      const b64url = (b: Bytes): string => Buffer.from(b).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      const crv = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[this.asymmetricKeyDetails.namedCurve!]!;
      return { kty: 'EC', crv, x: b64url(this.point.subarray(1, 1 + n)), y: b64url(this.point.subarray(1 + n)) };
    }
    throw new Error(`Key export to ${opts.format} is not available in the browser build`);
  }
}

function parsePkcs1(der: Bytes): { n: bigint; e: bigint; size: number } {
  const seq = expect(tlv(der, 0), 0x30);
  const [n, e] = children(der, seq);
  const nb = der.subarray(expect(n, 0x02).body, n!.end);
  const nBytes = nb[0] === 0 ? nb.subarray(1) : nb;
  return { n: bigint(nb), e: bigint(der.subarray(expect(e, 0x02).body, e!.end)), size: nBytes.length };
}

/** A PKCS#1 RSAPublicKey as SPKI, so that one KeyObject constructor reads both. */
function pkcs1ToSpki(der: Bytes): Bytes {
  const len = (n: number): number[] => (n < 128 ? [n] : n < 256 ? [0x81, n] : n < 65536 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  const wrap = (tag: number, body: Bytes): Bytes => Uint8Array.from([tag, ...len(body.length), ...body]);
  const alg = Uint8Array.from([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
  const bits = wrap(0x03, Uint8Array.from([0, ...der]));
  return wrap(0x30, Uint8Array.from([...alg, ...bits]));
}

function fromPem(pem: string): { der: Bytes; label: string } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new Error('Invalid PEM');
  return { label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') };
}

type KeyInput = string | Bytes | KeyObject | { key: string | Bytes; format?: string; type?: string };

export function createPublicKey(input: KeyInput): KeyObject {
  if (input instanceof KeyObject) return input;
  if (typeof input === 'string' || input instanceof Uint8Array) input = { key: input, format: 'pem' };
  const { key, format = 'pem', type = 'spki' } = input;
  let der: Bytes;
  let pkcs1 = type === 'pkcs1';
  if (format === 'pem' || typeof key === 'string') {
    const pem = fromPem(typeof key === 'string' ? key : Buffer.from(key).toString('utf8'));
    if (pem.label !== 'PUBLIC KEY' && pem.label !== 'RSA PUBLIC KEY') throw new Error(`Unsupported PEM ${pem.label}`);
    der = pem.der;
    pkcs1 = pem.label === 'RSA PUBLIC KEY';
  } else {
    der = key;
  }
  return new KeyObject(pkcs1 ? pkcs1ToSpki(der) : der);
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

/** RSA public operation and PKCS#1 v1.5 type-1 unpadding (RFC 8017 §8.2.2, §9.2): the DigestInfo, or null. */
function rsaRecover(key: KeyObject, sig: Bytes): Bytes | null {
  const { n, e, size } = key.rsa!;
  if (sig.length !== size) return null;
  const s = bigint(sig);
  if (s >= n) return null;
  let m = modPow(s, e, n);
  const em = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--, m >>= 8n) em[i] = Number(m & 0xffn);
  if (em[0] !== 0 || em[1] !== 1) return null;
  let i = 2;
  while (i < size && em[i] === 0xff) i++;
  if (i < 10 || em[i] !== 0) return null; // at least 8 bytes of 0xff padding
  return em.subarray(i + 1);
}

const DIGEST_INFO: Record<HashName, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

export const constants = { RSA_PKCS1_PADDING: 1 } as const;

/** RSA public-key "decryption" with PKCS#1 v1.5 padding (what prehashed verification uses). */
export function publicDecrypt(opts: { key: KeyObject; padding?: number }, sig: Bytes): Buffer {
  if (opts.key.asymmetricKeyType !== 'rsa') throw new Error('publicDecrypt needs an RSA key');
  const out = rsaRecover(opts.key, sig);
  if (!out) throw new Error('RSA padding check failed');
  return Buffer.from(out);
}

/** `crypto.verify(algorithm, data, key, signature)` for ECDSA, Ed25519 and RSA PKCS#1 v1.5. */
export function verify(algorithm: string | null | undefined, data: Bytes, keyInput: KeyInput, signature: Bytes): boolean {
  const key = createPublicKey(keyInput);
  if (key.asymmetricKeyType === 'ed25519') {
    if (algorithm) throw new Error('Ed25519 signs the message itself: no digest algorithm');
    return ed25519.verify(signature, data, key.point!, { zip215: false });
  }
  const hash = hashName(algorithm ?? 'sha256');
  const digest = HASHES[hash].create();
  digest.update(data);
  const d = digest.digest();
  if (key.asymmetricKeyType === 'rsa') {
    const info = rsaRecover(key, signature);
    return info !== null && Buffer.from(info).equals(Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), d]));
  }
  return verifyEcdsaDigest(key, d, signature);
}

/**
 * Keys that verify again and again (the Fulcio intermediate for every leaf certificate, the
 * transparency log and CT log keys for every entry) get a precomputed window table from their
 * second use on; a leaf key, used once, is not worth the table. By KeyObject: the verifier
 * and the CA-chain memo keep one per key.
 */
const reused = new WeakMap<KeyObject, { uses: number; point?: unknown }>();
const TABLE_WINDOW = 6;

type EcCurve = (typeof CURVES)[CurveOid]['impl'];

/**
 * ECDSA verification (SEC 1 v2 §4.1.4) over a digest already computed: e is the digest's
 * leftmost n-bit-length bits mod n (FIPS 186-4 §6.4), r and s must lie in [1, n−1] (noble's
 * strict DER parser checks that, and the encoding), R = (e·s⁻¹)·G + (r·s⁻¹)·Q must not be
 * the identity, and R.x mod n must equal r. The same steps noble's `verify` takes, with the
 * two products computed separately so that each can use a precomputed table (G always; Q
 * when it is reused). High-S signatures are accepted, as OpenSSL accepts them.
 */
function ecdsaVerify(curve: EcCurve, key: KeyObject, digest: Bytes, derSignature: Bytes): boolean {
  const { Point, Signature } = curve;
  const Fn = Point.Fn;
  const { r, s } = Signature.fromBytes(derSignature, 'der');
  const state = reused.get(key) ?? { uses: 0 };
  reused.set(key, state);
  state.uses++;
  let Q = state.point as InstanceType<typeof Point> | undefined;
  if (!Q) {
    Q = Point.fromBytes(key.point!);
    if (state.uses >= 2) state.point = Q.precompute(TABLE_WINDOW);
  }
  if (Q.is0()) return false;
  let e = bigint(digest);
  const excess = digest.length * 8 - Fn.BITS;
  if (excess > 0) e >>= BigInt(excess);
  const sInv = Fn.inv(s);
  const u1 = Fn.create(Fn.create(e) * sInv);
  const u2 = Fn.create(r * sInv);
  const R = Point.BASE.multiplyUnsafe(u1).add(Q.multiplyUnsafe(u2));
  if (R.is0()) return false;
  return Fn.create(R.toAffine().x) === r;
}

/** ECDSA over a digest already computed (the digest is truncated to the order's bit length, FIPS 186-4 §6.4). */
export function verifyEcdsaDigest(key: KeyObject, digest: Bytes, derSignature: Bytes): boolean {
  const curve = Object.values(CURVES).find((c) => c.name === key.asymmetricKeyDetails.namedCurve);
  if (!curve) return false;
  try {
    return ecdsaVerify(curve.impl, key, digest, derSignature);
  } catch {
    return false; // malformed DER or out-of-range r, s: not a valid signature (OpenSSL answers false too)
  }
}

// ---------------------------------------------------------------------------------
// X.509: what trust-root validation calls (`new X509Certificate(der)`, `.publicKey`,
// `.verify(issuerKey)`, RFC 5280 §4.1).

const SIG_ALGS: Record<string, { hash: HashName | null }> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256' },
  '1.2.840.10045.4.3.3': { hash: 'sha384' },
  '1.2.840.10045.4.3.4': { hash: 'sha512' },
  '1.2.840.113549.1.1.11': { hash: 'sha256' },
  '1.2.840.113549.1.1.12': { hash: 'sha384' },
  '1.2.840.113549.1.1.13': { hash: 'sha512' },
  '1.3.101.112': { hash: null },
};

export class X509Certificate {
  readonly publicKey: KeyObject;
  readonly #tbs: Bytes;
  readonly #sigAlg: string;
  readonly #sig: Bytes;

  constructor(input: Bytes | string) {
    const der = typeof input === 'string' ? fromPem(input).der : input;
    const top = expect(tlv(der, 0), 0x30);
    if (top.end !== der.length) throw new Error('X.509: trailing data');
    const [tbs, alg, sig] = children(der, top);
    if (!tbs || !alg || !sig) throw new Error('X.509: not a certificate');
    const fields = children(der, expect(tbs, 0x30));
    const at = fields[0]?.tag === 0xa0 ? 1 : 0; // explicit version [0]
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    const spki = expect(fields[at + 5], 0x30);
    expect(fields[at], 0x02);
    this.publicKey = new KeyObject(der.subarray(spki.start, spki.end));
    this.#tbs = der.subarray(tbs.start, tbs.end);
    this.#sigAlg = oid(der, children(der, expect(alg, 0x30))[0]!);
    const bits = expect(sig, 0x03);
    this.#sig = der.subarray(bits.body + 1, bits.end);
  }

  verify(key: KeyObject): boolean {
    const alg = SIG_ALGS[this.#sigAlg];
    if (!alg) return false;
    return verify(alg.hash, this.#tbs, key, this.#sig);
  }
}

export default { createHash, createPublicKey, verify, timingSafeEqual, publicDecrypt, constants, X509Certificate, KeyObject };
