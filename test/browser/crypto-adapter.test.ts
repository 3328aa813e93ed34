// The browser build's crypto adapter (src/crypto/browser.ts) must answer every ECDSA
// verification exactly as node:crypto (OpenSSL) does, the reference the CLI runs on: keys of
// P-256, P-384 and P-521 made and used for signing by node:crypto, then genuine signatures,
// signatures of other data, bit-flipped, high-S, truncated, re-encoded and swapped ones,
// each asked of both, with every digest (a digest longer than the order is truncated,
// FIPS 186-4 §6.4). Keys are used several times so the precomputed-table path (from a key's
// second use) is checked as well as the first-use one. Runs under Node: no browser needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodeCrypto from 'node:crypto';
import * as adapter from '../../src/crypto/browser.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

const CURVES = [
  { name: 'prime256v1', order: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551') },
  { name: 'secp384r1', order: BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973') },
  { name: 'secp521r1', order: BigInt('0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409') },
] as const;
const HASHES = ['sha256', 'sha384', 'sha512'] as const;

// Three keys per curve, made once: the property reuses them, as a verifier reuses its keys.
const KEYS = CURVES.flatMap((c) =>
  [0, 1, 2].map(() => {
    const { publicKey, privateKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: c.name });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    return { curve: c, publicKey, privateKey, spki, adapterKey: adapter.createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
  }),
);

function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}
function derSig(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([body.length < 128 ? Buffer.from([0x30, body.length]) : Buffer.from([0x30, 0x81, body.length]), body]);
}
function readSig(der: Buffer): { r: bigint; s: bigint } {
  const off = der[1]! & 0x80 ? 3 : 2;
  const rLen = der[off + 1]!;
  const r = BigInt(`0x${der.subarray(off + 2, off + 2 + rLen).toString('hex')}`);
  const sOff = off + 2 + rLen;
  const s = BigInt(`0x${der.subarray(sOff + 2, sOff + 2 + der[sOff + 1]!).toString('hex')}`);
  return { r, s };
}

type Mutation = 'none' | 'other-data' | 'flip' | 'high-s' | 'truncate' | 'swap' | 'r-zero' | 's-order' | 'other-key';
const MUTATIONS: Mutation[] = ['none', 'other-data', 'flip', 'high-s', 'truncate', 'swap', 'r-zero', 's-order', 'other-key'];

test('the browser crypto adapter answers ECDSA verifications exactly as node:crypto (P-256/384/521, every digest, genuine and mutated signatures)', async (t) => {
  let accepted = 0;
  let refused = 0;
  await checkProperty(
    t,
    'ecdsa adapter vs node:crypto',
    [fc.nat(KEYS.length - 1), fc.constantFrom(...HASHES), fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...MUTATIONS), fc.nat(4096)],
    (k, hash, data, mutation, at) => {
      const key = KEYS[k]!;
      const n = key.curve.order;
      let sig: Buffer = nodeCrypto.sign(hash, data, key.privateKey);
      let signed = Buffer.from(data);
      let verifyKey = key;
      const { r, s } = readSig(sig);
      if (mutation === 'other-data') signed = Buffer.concat([signed, Buffer.from([at & 0xff])]);
      if (mutation === 'flip') {
        sig = Buffer.from(sig);
        sig[at % sig.length] ^= 1 << (at % 8);
      }
      if (mutation === 'high-s') sig = derSig(r, n - s); // the same signature with s negated: valid for OpenSSL
      if (mutation === 'truncate') sig = sig.subarray(0, at % sig.length);
      if (mutation === 'swap') sig = derSig(s, r);
      if (mutation === 'r-zero') sig = derSig(0n, s);
      if (mutation === 's-order') sig = derSig(r, s + n);
      if (mutation === 'other-key') verifyKey = KEYS[(k + 1) % KEYS.length]!;
      let expected: boolean;
      try {
        expected = nodeCrypto.verify(hash, signed, verifyKey.publicKey, sig);
      } catch {
        expected = false;
      }
      const got = adapter.verify(hash, signed, verifyKey.adapterKey, sig);
      assert.equal(got, expected, `${key.curve.name} ${hash} ${mutation}`);
      if (got) accepted++;
      else refused++;
    },
    { runs: 300 },
  );
  assert.ok(accepted > 30 && refused > 30, `both answers exercised (${accepted} accepted, ${refused} refused)`);
});
