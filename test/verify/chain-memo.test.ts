// The CA-chain memo (src/verify/chain-memo.ts) only skips recomputing the same answer for
// the same bytes: outcomes are identical with and without it, a leaf is always checked
// afresh, and a CA certificate that differs in any byte is never served from the memo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from '@sigstore/core';
import { uninstallQuietParse } from '../../src/verify/accelerate.ts';
import { installChainMemo, uninstallChainMemo, isChainMemoInstalled } from '../../src/verify/chain-memo.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import { parseTrustedRoot } from '../../src/verify/trust-root.ts';
import { uninstallFastDer } from '../../src/verify/fast-der.ts';
import { publishStatement, startLocalSigstore, tamperBundle, type LocalSigstore } from '../helpers/sigstore.ts';

let sig: LocalSigstore;
before(async () => {
  sig = await startLocalSigstore();
});
after(async () => {
  uninstallChainMemo();
  await sig?.close();
});

const FILE = 'memo-1.0-h0_0.conda';
const SHA = 'ab'.repeat(32);

function caCerts(): X509Certificate[] {
  const ca = (sig.trustedRoot.certificateAuthorities[0] as { certChain: { certificates: { rawBytes: string }[] } }).certChain;
  return ca.certificates.map((c) => X509Certificate.parse(Buffer.from(c.rawBytes, 'base64')));
}

test('outcomes are identical with and without the memo, for good and attacked bundles', async () => {
  const root = parseTrustedRoot(Buffer.from(JSON.stringify(sig.trustedRoot)), 'local');
  const good = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }));
  const fresh = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/r/.github/workflows/x.yml@refs/heads/main' });
  const wrongCa = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { wrongInstance: { ca: true } });
  const bundles = [good, fresh, wrongCa, tamperBundle(good, 'certificate'), tamperBundle(fresh, 'signature')];
  const pkg = { filename: FILE, sha256: SHA, acceptedChannels: [] };
  const run = (accelerate = true) => verifyAttestations(bundles, pkg, createVerifier({ trustRoot: root, accelerate })).map((o) => ({ verified: o.verified, codes: o.reasons.map((r) => r.code) }));
  uninstallChainMemo();
  uninstallQuietParse();
  uninstallFastDer();
  const stock = run(false);
  assert.equal(isChainMemoInstalled(), false);
  installChainMemo();
  assert.ok(isChainMemoInstalled());
  const memo1 = run();
  const memo2 = run(); // warm memo
  assert.deepEqual(memo1, stock);
  assert.deepEqual(memo2, stock);
  assert.deepEqual(stock.map((o) => o.verified), [true, true, false, false, false]);
});

test('attack: a CA certificate differing in one signature byte is not served from the memo', () => {
  installChainMemo();
  const [intermediate, rootCa] = caCerts();
  assert.ok(intermediate && rootCa && intermediate.isCA);
  assert.equal(intermediate.verify(rootCa), true);
  assert.equal(intermediate.verify(rootCa), true, 'memoised answer');
  const der = Buffer.from(intermediate.root.toDER());
  der[der.length - 3] ^= 0x01; // inside the signature value
  const forged = X509Certificate.parse(der);
  assert.equal(forged.verify(rootCa), false);
  // and the genuine one is still true afterwards
  assert.equal(intermediate.verify(rootCa), true);
});

test('attack: the right CA certificate checked against another issuer key is false, memo or not', () => {
  installChainMemo();
  const [intermediate] = caCerts();
  assert.ok(intermediate);
  assert.equal(intermediate.verify(intermediate), false, 'an intermediate does not sign itself');
  assert.equal(intermediate.verify(intermediate), false);
});
