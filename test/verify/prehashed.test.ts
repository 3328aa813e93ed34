import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { supportsPrehashed, verifyPrehashed } from '../../src/verify/prehashed.ts';

const msg = Buffer.from('conda-attest');
const other = createHash('sha256').update('something else').digest();

for (const [label, type, opts] of [
  ['ECDSA P-256', 'ec', { namedCurve: 'P-256' }],
  ['ECDSA P-384', 'ec', { namedCurve: 'P-384' }],
  ['RSA 2048', 'rsa', { modulusLength: 2048 }],
] as const) {
  test(`${label}: a signature verifies from the digest alone; another digest or key does not`, () => {
    const { privateKey, publicKey } = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
    const wrong = generateKeyPairSync(type as 'ec', opts as { namedCurve: string }).publicKey;
    const sig = sign('sha256', msg, privateKey);
    const digest = createHash('sha256').update(msg).digest();
    assert.equal(supportsPrehashed(publicKey), true);
    assert.equal(verifyPrehashed(publicKey, 'sha256', digest, sig), true);
    assert.equal(verifyPrehashed(publicKey, 'sha256', other, sig), false);
    assert.equal(verifyPrehashed(wrong, 'sha256', digest, sig), false);
    const tampered = Buffer.from(sig);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(verifyPrehashed(publicKey, 'sha256', digest, tampered), false);
  });
}

test('malformed ECDSA signatures are rejected, not thrown', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const d = createHash('sha256').update(msg).digest();
  for (const sig of [Buffer.alloc(0), Buffer.from([0x30, 0x00]), Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01])]) {
    assert.equal(verifyPrehashed(publicKey, 'sha256', d, sig), false);
  }
});

test('Ed25519 cannot be checked from a digest', () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  assert.equal(supportsPrehashed(publicKey), false);
});
