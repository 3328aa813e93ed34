import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from '@sigstore/core';
import { certificateIdentity, decodeDerUtf8String, keyFingerprint, keyIdentity } from '../../src/verify/identity.ts';

const shared = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared');
const skip = existsSync(shared) ? false : 'needs ../shared (absent in a fresh clone)';

function leafOf(bundle: any): X509Certificate {
  const vm = bundle.verificationMaterial;
  const raw = vm.certificate?.rawBytes ?? vm.x509CertificateChain.certificates[0].rawBytes;
  return X509Certificate.parse(Buffer.from(raw, 'base64'));
}

test('interop certificate: GitHub identity with decoded v2 claims', { skip }, () => {
  const sigs = JSON.parse(readFileSync(join(shared, 'interop', 'signed-package-2.1.0-hb0f4dca_0.conda.sigs'), 'utf8'));
  const id = certificateIdentity(leafOf(sigs[0]));
  assert.equal(id.kind, 'github');
  assert.equal(id.san, 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main');
  assert.equal(id.issuer, 'https://token.actions.githubusercontent.com');
  assert.equal(id.buildSignerUri, id.san);
  assert.equal(id.sourceRepositoryUri, 'https://github.com/prefix-dev/sigstore-example');
  assert.equal(id.sourceRepositoryRef, 'refs/heads/main');
  // Claims are strings, not DER bytes: numeric IDs are decimal digits, digests hex.
  assert.match(id.sourceRepositoryId!, /^\d+$/);
  assert.match(id.sourceRepositoryOwnerId!, /^\d+$/);
  assert.match(id.sourceRepositoryDigest!, /^[0-9a-f]{40}$/);
  assert.ok(['github-hosted', 'self-hosted'].includes(id.runnerEnvironment!));
  assert.ok(!/[\u0000-\u001f]/.test(JSON.stringify(Object.values(id))), 'no DER length bytes leak into strings');
});

test('conformance certificates: beacon identity', { skip }, () => {
  for (const c of ['happy-path-v0.3', 'happy-path-v0.2', 'rekor2-happy-path']) {
    const b = JSON.parse(readFileSync(join(shared, 'conformance', c, 'bundle.sigstore.json'), 'utf8'));
    const id = certificateIdentity(leafOf(b));
    assert.equal(id.kind, 'github', c);
    assert.equal(id.san, 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main');
    assert.equal(id.issuer, 'https://token.actions.githubusercontent.com');
    assert.equal(id.sourceRepositoryUri, 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon');
  }
});

test('DER UTF8String decoding: short and long form; anything else is absent', () => {
  assert.equal(decodeDerUtf8String(Buffer.from([0x0c, 0x02, 0x68, 0x69])), 'hi');
  const long = 'x'.repeat(200);
  assert.equal(decodeDerUtf8String(Buffer.concat([Buffer.from([0x0c, 0x81, 200]), Buffer.from(long)])), long);
  assert.equal(decodeDerUtf8String(Buffer.from([0x04, 0x02, 0x68, 0x69])), undefined, 'OCTET STRING is not a UTF8String');
  assert.equal(decodeDerUtf8String(Buffer.from([0x0c, 0x05, 0x68])), undefined, 'length past the end');
  assert.equal(decodeDerUtf8String(Buffer.from([0x0c, 0x01, 0x68, 0x69])), undefined, 'trailing bytes');
});

test('key identity: SHA-256 fingerprint of the SPKI DER, name defaults to it', () => {
  const spki = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004' + '11'.repeat(64), 'hex');
  const fp = keyFingerprint(spki);
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.deepEqual(keyIdentity(spki, 'release-key'), { kind: 'key', keyFingerprint: fp, keyName: 'release-key' });
  assert.equal(keyIdentity(spki).keyName, fp);
});
