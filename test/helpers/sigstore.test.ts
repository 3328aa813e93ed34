// Self-test of the local Sigstore instance: bundles it makes must verify with
// @sigstore/verify against its trusted root, and fail everywhere they should.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import type { VerifierOptions } from '@sigstore/verify';
import { TrustedRoot, PublicKeyDetails } from '@sigstore/protobuf-specs';
import { X509Certificate } from '@sigstore/core';
import {
  startLocalSigstore,
  publishStatement,
  generateTestKey,
  tamperBundle,
  CLAIM_OIDS,
  ISSUER_OID_V1,
  ISSUER_OID_V2,
  DEFAULT_SAN,
  GITHUB_ISSUER,
  PUBLISH_PREDICATE_TYPE,
} from './sigstore.ts';
import type { LocalSigstore, BundleJSON, TamperKind } from './sigstore.ts';

let ls: LocalSigstore;
before(async () => {
  ls = await startLocalSigstore();
});
after(async () => {
  await ls.close();
});

const statement = publishStatement({
  filename: 'foo-1.0-h0_0.conda',
  sha256: 'ab'.repeat(32),
  targetChannel: 'https://prefix.dev/test',
});

function verifier(root: object, keys?: Parameters<typeof toTrustMaterial>[1], opts?: VerifierOptions): Verifier {
  return new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root), keys), opts);
}
function verify(v: Verifier, bundle: BundleJSON, artifact?: Buffer) {
  return v.verify(toSignedEntity(bundleFromJSON(bundle), artifact));
}
function leafOf(bundle: BundleJSON): X509Certificate {
  const vm = bundle.verificationMaterial;
  const raw = vm.certificate?.rawBytes ?? vm.x509CertificateChain.certificates[0].rawBytes;
  return X509Certificate.parse(Buffer.from(raw, 'base64'));
}
/** Decode a DER UTF8String extension value (Fulcio v2 claims). */
function extString(cert: X509Certificate, oid: string): string | undefined {
  const ext = cert.extension(oid);
  if (!ext) return undefined;
  const v = ext.valueObj; // the OCTET STRING wrapping the claim
  const inner = v.subs.length ? v.subs[0] : v;
  return Buffer.from(inner.value).toString('utf8');
}
function publicGoodRoot(): object {
  const require = createRequire(import.meta.url);
  const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
  const b64 = Object.values(seeds)[0].targets['trusted_root.json'];
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
}

test('attest: DSSE v0.3 bundle verifies against the trusted root written to disk', async () => {
  const bundle = await ls.attest(statement);
  assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  assert.deepEqual(JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()), statement);
  const root = JSON.parse(readFileSync(ls.trustedRootPath, 'utf8'));
  assert.deepEqual(root, ls.trustedRoot);
  const signer = verify(verifier(root), bundle);
  assert.equal(signer.identity?.subjectAlternativeName, DEFAULT_SAN);
  assert.equal(signer.identity?.extensions?.issuer, GITHUB_ISSUER);
  // One Rekor entry, logged in canonical `dsse` form (no envelope, hashes only).
  const entries = bundle.verificationMaterial.tlogEntries;
  assert.equal(entries.length, 1);
  assert.equal(entries[0].kindVersion.kind, 'dsse');
  const body = JSON.parse(Buffer.from(entries[0].canonicalizedBody, 'base64').toString());
  assert.deepEqual(Object.keys(body.spec).sort(), ['envelopeHash', 'payloadHash', 'signatures']);
});

test('attest: rejected by the Sigstore public-good root (adversarial: local bundles must not pass as real ones)', async () => {
  const bundle = await ls.attest(statement);
  assert.throws(() => verify(verifier(publicGoodRoot()), bundle));
});

test('trusted root: every authority has validFor.start, CA chain is intermediate then root', () => {
  const r = ls.trustedRoot as any;
  for (const list of [r.tlogs, r.ctlogs]) for (const t of list) assert.ok(Date.parse(t.publicKey.validFor.start) < Date.now());
  for (const list of [r.certificateAuthorities, r.timestampAuthorities]) {
    for (const ca of list) {
      assert.ok(Date.parse(ca.validFor.start) < Date.now());
      assert.equal(ca.certChain.certificates.length, 2);
    }
  }
  const [intermediate, root] = r.certificateAuthorities[0].certChain.certificates.map((c: any) => X509Certificate.parse(Buffer.from(c.rawBytes, 'base64')));
  assert.ok(root.isCA && intermediate.isCA);
  assert.ok(intermediate.verify(root));
});

test('identity: default GitHub claims are derived from the SAN, all as DER UTF8String', async () => {
  const cert = leafOf(await ls.attest(statement));
  assert.equal(cert.subjectAltName, DEFAULT_SAN);
  assert.equal(extString(cert, ISSUER_OID_V2), GITHUB_ISSUER);
  assert.equal(Buffer.from(cert.extension(ISSUER_OID_V1)!.valueObj.value).toString(), GITHUB_ISSUER);
  assert.equal(extString(cert, CLAIM_OIDS.buildSignerUri), DEFAULT_SAN);
  assert.equal(extString(cert, CLAIM_OIDS.sourceRepositoryUri), 'https://github.com/test-org/test-feedstock');
  assert.equal(extString(cert, CLAIM_OIDS.sourceRepositoryRef), 'refs/heads/main');
  assert.equal(extString(cert, CLAIM_OIDS.sourceRepositoryId), '1001');
  assert.equal(extString(cert, CLAIM_OIDS.sourceRepositoryOwnerUri), 'https://github.com/test-org');
  assert.equal(extString(cert, CLAIM_OIDS.sourceRepositoryOwnerId), '2001');
  assert.equal(extString(cert, CLAIM_OIDS.buildConfigUri), DEFAULT_SAN);
  assert.equal(extString(cert, CLAIM_OIDS.buildTrigger), 'push');
  assert.equal(extString(cert, CLAIM_OIDS.runnerEnvironment), 'github-hosted');
  assert.equal(extString(cert, CLAIM_OIDS.sourceRepositoryVisibility), 'public');
  assert.match(extString(cert, CLAIM_OIDS.sourceRepositoryDigest)!, /^[0-9a-f]{40}$/);
  // Every certificate carries an SCT from the CT log (checked by the verifier too).
  assert.equal(cert.extSCT?.signedCertificateTimestamps.length, 1);
});

test('identity: two signers get different certificates with the SAN and claims asked for', async () => {
  const other = 'https://github.com/evil-org/test-feedstock/.github/workflows/build.yml@refs/tags/v2';
  const a = await ls.attest(statement);
  const b = await ls.attest(statement, {
    san: other,
    claims: { sourceRepositoryId: '9999', runnerEnvironment: 'self-hosted', sourceRepositoryVisibility: null },
  });
  const v = verifier(ls.trustedRoot);
  assert.equal(verify(v, a).identity?.subjectAlternativeName, DEFAULT_SAN);
  assert.equal(verify(v, b).identity?.subjectAlternativeName, other);
  const cb = leafOf(b);
  assert.equal(extString(cb, CLAIM_OIDS.sourceRepositoryId), '9999');
  assert.equal(extString(cb, CLAIM_OIDS.runnerEnvironment), 'self-hosted');
  assert.equal(extString(cb, CLAIM_OIDS.sourceRepositoryOwnerUri), 'https://github.com/evil-org');
  assert.equal(extString(cb, CLAIM_OIDS.sourceRepositoryRef), 'refs/tags/v2');
  assert.equal(cb.extension(CLAIM_OIDS.sourceRepositoryVisibility), undefined);
  assert.notEqual(leafOf(a).publicKey.toString(), cb.publicKey.toString());
});

test('identity: email SAN (rfc822Name), custom issuer, issuer extension modes', async () => {
  const b = await ls.attest(statement, { san: 'alice@example.com', issuer: 'https://accounts.example.com' });
  const signer = verify(verifier(ls.trustedRoot), b);
  assert.equal(signer.identity?.subjectAlternativeName, 'alice@example.com');
  assert.equal(signer.identity?.extensions?.issuer, 'https://accounts.example.com');
  const cert = leafOf(b);
  assert.equal(cert.extension(CLAIM_OIDS.sourceRepositoryUri), undefined, 'no GitHub claims for an email identity');
  const v2only = leafOf(await ls.attest(statement, { issuerExtensions: 'v2' }));
  assert.equal(v2only.extension(ISSUER_OID_V1), undefined);
  assert.equal(extString(v2only, ISSUER_OID_V2), GITHUB_ISSUER);
  const legacy = leafOf(await ls.attest(statement, { issuerExtensions: 'legacy' }));
  assert.equal(legacy.extension(ISSUER_OID_V2), undefined);
  assert.ok(legacy.extension(ISSUER_OID_V1));
});

test('certificate reuse per identity, and freshCertificate forces a new one', async () => {
  const a = leafOf(await ls.attest(statement));
  const b = leafOf(await ls.attest(statement));
  const c = leafOf(await ls.attest(statement, { freshCertificate: true }));
  assert.deepEqual(a.serialNumber, b.serialNumber);
  assert.notDeepEqual(a.serialNumber, c.serialNumber);
});

test('signBlob: hashedrekord bundle verifies for the signed bytes only', async () => {
  const bytes = Buffer.from('package bytes');
  const bundle = await ls.signBlob(bytes);
  assert.ok(bundle.messageSignature);
  const v = verifier(ls.trustedRoot);
  verify(v, bundle, bytes);
  assert.throws(() => verify(v, bundle, Buffer.from('package bytez')));
});

test('options: TSA timestamp, no tlog, legacy intoto entry, v0.2 chain bundle', async () => {
  const v = verifier(ls.trustedRoot);
  const tsa = await ls.attest(statement, { tsa: true, tlog: false });
  assert.deepEqual(tsa.verificationMaterial.tlogEntries ?? [], []);
  assert.equal(tsa.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  verifier(ls.trustedRoot, undefined, { tlogThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(tsa)));
  assert.throws(() => verify(v, tsa), /tlog|timestamp/i, 'default verifier requires a tlog entry');
  const intoto = await ls.attest(statement, { entryType: 'intoto' });
  assert.equal(intoto.verificationMaterial.tlogEntries[0].kindVersion.kind, 'intoto');
  verify(v, intoto);
  const v02 = await ls.attest(statement, { bundleVersion: '0.2' });
  assert.equal(v02.mediaType, 'application/vnd.dev.sigstore.bundle+json;version=0.2');
  verify(v, v02);
});

test('self-managed key: publicKey hint, verifies with that key and not another (with and without Rekor)', async () => {
  const key = generateTestKey();
  const other = generateTestKey();
  const keys = (k: typeof key) => ({
    [key.fingerprint]: { rawBytes: k.publicKey.export({ format: 'der', type: 'spki' }), keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 },
  });
  const withTlog = await ls.attestWithKey(statement, { privateKey: key.privateKey });
  assert.equal(withTlog.verificationMaterial.publicKey.hint, key.fingerprint);
  assert.equal(withTlog.verificationMaterial.tlogEntries.length, 1);
  verify(verifier(ls.trustedRoot, keys(key)), withTlog);
  // Attacker signs with their own key but claims the trusted key's hint.
  const forged = await ls.attestWithKey(statement, { privateKey: other.privateKey, hint: key.fingerprint });
  assert.throws(() => verify(verifier(ls.trustedRoot, keys(key)), forged));
  assert.throws(() => verify(verifier(ls.trustedRoot, keys(other)), withTlog));

  const noTlog = await ls.attestWithKey(statement, { privateKey: key.privateKey, hint: 'my-key' }, { tlog: false });
  assert.deepEqual(noTlog.verificationMaterial.tlogEntries ?? [], []);
  assert.equal(noTlog.verificationMaterial.publicKey.hint, 'my-key');
  const noThresholds = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };
  const byHint = { 'my-key': keys(key)[key.fingerprint] };
  verify(verifier(ls.trustedRoot, byHint, noThresholds), noTlog);
  assert.throws(() => verify(verifier(ls.trustedRoot, byHint), noTlog), 'a tlog entry is required by default');
});

test('wrong instance: a different CA or Rekor is rejected by the trusted root, accepted by its own', async () => {
  const v = verifier(ls.trustedRoot);
  const wrongCa = await ls.attest(statement, { wrongInstance: { ca: true } });
  assert.throws(() => verify(v, wrongCa), /certificate chain/i);
  const wrongRekor = await ls.attest(statement, { wrongInstance: { rekor: true } });
  assert.throws(() => verify(v, wrongRekor), /inclusion|tlog|log/i);
  const allWrong = await ls.attest(statement, { wrongInstance: { ca: true, rekor: true } });
  assert.throws(() => verify(v, allWrong));
  verify(verifier(ls.wrongTrustedRoot), allWrong); // proves the bundle itself is well-formed
});

test('tamperBundle: every tampering is caught by the verifier', async () => {
  const v = verifier(ls.trustedRoot);
  const good = await ls.attest(statement);
  verify(v, good);
  const kinds: TamperKind[] = ['signature', 'payload', 'set', 'inclusion-proof', 'checkpoint', 'tlog-body', 'certificate'];
  for (const kind of kinds) {
    assert.throws(() => verify(v, tamperBundle(good, kind)), Error, `tamper ${kind} must fail`);
  }
  const blob = Buffer.from('x');
  const msg = await ls.signBlob(blob);
  assert.throws(() => verify(v, tamperBundle(msg, 'signature'), blob));
  // The original is untouched (deep copy).
  verify(v, good);
});

test('publishStatement: CEP 27 shape and variants', () => {
  assert.deepEqual(publishStatement({ filename: 'a-1-0.conda', sha256: 'cd'.repeat(32) }), {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'a-1-0.conda', digest: { sha256: 'cd'.repeat(32) } }],
    predicateType: PUBLISH_PREDICATE_TYPE,
    predicate: {},
  });
  const s = publishStatement({
    filename: 'a',
    sha256: 'x',
    targetChannel: null,
    predicateType: 'https://slsa.dev/provenance/v1',
    extraSubjects: [{ name: 'b', digest: { sha256: 'y' } }],
  }) as any;
  assert.equal(s.predicate, null);
  assert.equal(s.subject.length, 2);
  assert.equal(s.predicateType, 'https://slsa.dev/provenance/v1');
});

test('signing: signatures reuse the CA and keys and each lands in the log (reports ms per signature)', async (t) => {
  const n = 50;
  const start = performance.now();
  for (let i = 0; i < n; i++) await ls.attest(statement);
  const perSig = (performance.now() - start) / n;
  t.diagnostic(`attest: ${perSig.toFixed(2)} ms per signature (sequential, tlog on)`);
  assert.ok((ls.requestCounts()['POST /api/v1/log/entries'] ?? 0) >= n);
});
