// Signature verification over a digest instead of the message bytes (sigstore-conformance: the
// conformance protocol accepts `sha256:<hex>` in place of the artifact). Node's crypto
// always hashes the input itself, so ECDSA is checked here with plain BigInt arithmetic
// (public data only: no secret, so no constant-time concern) and RSA PKCS#1 v1.5 by
// recovering the DigestInfo with the public key. Pure.
import { type KeyObject, constants, publicDecrypt } from 'node:crypto';

interface Curve {
  p: bigint;
  n: bigint;
  a: bigint;
  gx: bigint;
  gy: bigint;
}

const CURVES: Record<string, Curve> = {
  prime256v1: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    a: -3n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  secp384r1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    a: -3n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  },
};

type Point = { x: bigint; y: bigint } | null; // null = point at infinity

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(c: Curve, P: Point, Q: Point): Point {
  if (P === null) return Q;
  if (Q === null) return P;
  let l: bigint;
  if (P.x === Q.x) {
    if (mod(P.y + Q.y, c.p) === 0n) return null;
    l = mod((3n * P.x * P.x + c.a) * inv(2n * P.y, c.p), c.p);
  } else {
    l = mod((Q.y - P.y) * inv(Q.x - P.x, c.p), c.p);
  }
  const x = mod(l * l - P.x - Q.x, c.p);
  return { x, y: mod(l * (P.x - x) - P.y, c.p) };
}

function mul(c: Curve, k: bigint, P: Point): Point {
  let R: Point = null;
  let A = P;
  while (k > 0n) {
    if (k & 1n) R = add(c, R, A);
    A = add(c, A, A);
    k >>= 1n;
  }
  return R;
}

function bigFrom(buf: Buffer): bigint {
  return buf.length === 0 ? 0n : BigInt('0x' + buf.toString('hex'));
}

/** DER ECDSA-Sig-Value → (r, s); null when malformed. */
function parseDerSignature(sig: Buffer): { r: bigint; s: bigint } | null {
  let off = 0;
  const len = (): number | null => {
    const b = sig[off++];
    if (b === undefined) return null;
    if (b < 0x80) return b;
    const n = b & 0x7f;
    if (n === 0 || n > 2) return null;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const x = sig[off++];
      if (x === undefined) return null;
      v = v * 256 + x;
    }
    return v;
  };
  if (sig[off++] !== 0x30) return null;
  const total = len();
  if (total === null || off + total !== sig.length) return null;
  const ints: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    if (sig[off++] !== 0x02) return null;
    const l = len();
    if (l === null || l === 0 || off + l > sig.length) return null;
    ints.push(bigFrom(sig.subarray(off, off + l)));
    off += l;
  }
  if (off !== sig.length) return null;
  return { r: ints[0]!, s: ints[1]! };
}

function verifyEcdsa(key: KeyObject, curveName: string, digest: Buffer, sig: Buffer): boolean {
  const c = CURVES[curveName];
  if (!c) return false;
  const rs = parseDerSignature(sig);
  if (!rs) return false;
  const { r, s } = rs;
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  const jwk = key.export({ format: 'jwk' });
  // base64url spelled as base64: the browser build's Buffer has no 'base64url' encoding.
  const b64 = (s: string): Buffer => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  const Q = { x: bigFrom(b64(jwk.x!)), y: bigFrom(b64(jwk.y!)) };
  // FIPS 186-4 §6.4: use the leftmost bitlen(n) bits of the digest.
  const nBits = c.n.toString(2).length;
  let e = bigFrom(digest);
  if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
  const w = inv(s, c.n);
  const X = add(c, mul(c, mod(e * w, c.n), { x: c.gx, y: c.gy }), mul(c, mod(r * w, c.n), Q));
  return X !== null && mod(X.x, c.n) === r;
}

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1). */
const DIGEST_INFO: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function verifyRsaPkcs1(key: KeyObject, hash: string, digest: Buffer, sig: Buffer): boolean {
  const prefix = DIGEST_INFO[hash];
  if (!prefix) return false;
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
  } catch {
    return false;
  }
  return recovered.equals(Buffer.concat([Buffer.from(prefix, 'hex'), digest]));
}

/**
 * Verifies `sig` over a message known only by its `digest` (computed with `hash`).
 * Returns false for key types that cannot be checked from a digest (Ed25519 signs the
 * message itself): callers say so in their error.
 */
export function verifyPrehashed(key: KeyObject, hash: string, digest: Buffer, sig: Buffer): boolean {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return verifyEcdsa(key, key.asymmetricKeyDetails?.namedCurve ?? '', digest, sig);
    case 'rsa':
      return verifyRsaPkcs1(key, hash, digest, sig);
    default:
      return false;
  }
}

/** Whether `verifyPrehashed` can check signatures of this key type at all. */
export function supportsPrehashed(key: KeyObject): boolean {
  const t = key.asymmetricKeyType;
  return (t === 'ec' && (key.asymmetricKeyDetails?.namedCurve ?? '') in CURVES) || t === 'rsa';
}
