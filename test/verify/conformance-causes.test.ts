// Regression tests for the causes behind the public sigstore-conformance bundle-verify
// cases that are not in ../shared/conformance ("fix the cause, never the
// case"). Every bundle here is built with our own local Sigstore instance, so the
// tests run in a fresh clone and use no fetched fixture. Case names in comments only
// say which public case exercises the same rule.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import type { webcrypto as NodeWebCrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { RFC3161Timestamp } from '@sigstore/core';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, RekorWitness } from '@sigstore/sign';
import type { Signer } from '@sigstore/sign';
import { initializeTSA } from '@sigstore/mock/dist/timestamp/tsa.js';
import { TrustRootError, VerifyError } from '../../src/errors.ts';
import { parseTrustedRoot } from '../../src/verify/trust-root.ts';
import { type ArtifactRef, createVerifier, parseGeneralizedTime } from '../../src/verify/verifier.ts';
import { type BundleJSON, type LocalSigstore, type TrustedRootJSON, DEFAULT_SAN, generateTestKey, startLocalSigstore } from '../helpers/sigstore.ts';

const INTOTO = 'application/vnd.in-toto+json';
const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_TSA_POLICY = '1.3.6.1.4.1.57264.2';

let sig: LocalSigstore;
before(async () => {
  sig = await startLocalSigstore();
});
after(async () => {
  await sig.close();
});

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const rootOf = (json: TrustedRootJSON | object) => parseTrustedRoot(Buffer.from(JSON.stringify(json)), 'test root');
const clone = <T>(v: T): T => structuredClone(v);

function verify(bundle: BundleJSON, artifact: ArtifactRef | null, root: object = sig.trustedRoot, trustedKeys = [] as { pem: string; source: string; name?: string }[]) {
  return createVerifier({ trustRoot: rootOf(root), trustedKeys }).verify(bundle, artifact);
}
function rejects(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VerifyError || e instanceof TrustRootError, `expected an AttestError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** DSSE v1 pre-authentication encoding: what a DSSE signature covers. */
function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

function statementFor(artifact: Buffer, extra: object = {}): object {
  return { _type: STATEMENT_V1, subject: [{ name: 'a.txt', digest: { sha256: sha256(artifact) } }], predicateType: 'https://example.com/test', predicate: {}, ...extra };
}

/** genTime of the bundle's first RFC 3161 timestamp, to the millisecond (TSTInfo field 5). */
function genTimeOf(b: BundleJSON): Date {
  const ts = RFC3161Timestamp.parse(Buffer.from(b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64'));
  const t = parseGeneralizedTime(ts.tstInfo.root.subs[4]!.value.toString('latin1'));
  assert.ok(t);
  return t;
}

/** An extra, separately keyed TSA whose clock can be set (the local one always says "now"). */
async function extraTsa(clock?: Date) {
  const tsa = await initializeTSA(generateKeyPairSync('ec', { namedCurve: 'P-256' }), clock);
  const entry = {
    subject: { organization: 'sigstore.mock', commonName: 'tsa-extra' },
    uri: 'https://tsa-extra.invalid',
    certChain: { certificates: [{ rawBytes: Buffer.from(tsa.intCertificate as Uint8Array).toString('base64') }, { rawBytes: Buffer.from(tsa.rootCertificate as Uint8Array).toString('base64') }] },
    validFor: { start: '2020-01-01T00:00:00Z' },
  };
  const stamp = async (signature: Buffer) =>
    Buffer.from(
      (await tsa.timestamp({ artifactHash: createHash('sha256').update(signature).digest(), hashAlgorithmOID: OID_SHA256, nonce: 1, policyOID: OID_TSA_POLICY })) as Uint8Array,
    ).toString('base64');
  return { entry, stamp };
}

test('hashedrekord-over-DSSE: a DSSE envelope logged as hashedrekord of SHA256(PAE) verifies; swapped signature or envelope fails (dsse-with-hashedrekord-*)', async () => {
  const artifact = Buffer.from('dsse over hashedrekord\n');
  const payload = Buffer.from(JSON.stringify(statementFor(artifact)));
  // A message signature over PAE bytes is exactly a DSSE signature, and its Rekor entry
  // is a hashedrekord committing to SHA256(PAE): move it into a DSSE envelope.
  const asDsse = (b: BundleJSON, body: Buffer): BundleJSON => {
    const { messageSignature, ...rest } = clone(b);
    return { ...rest, dsseEnvelope: { payload: body.toString('base64'), payloadType: INTOTO, signatures: [{ sig: messageSignature.signature, keyid: '' }] } };
  };
  const first = await sig.signBlob(pae(INTOTO, payload));
  const good = asDsse(first, payload);
  assert.equal(verify(good, { bytes: artifact }).identity.san, DEFAULT_SAN);
  assert.equal(verify(good, { sha256: sha256(artifact) }).identity.san, DEFAULT_SAN);

  // Same statement signed again with the same key and certificate: ECDSA gives another
  // valid signature, but it is not the one in the log.
  const second = await sig.signBlob(pae(INTOTO, payload));
  assert.notEqual(second.messageSignature.signature, first.messageSignature.signature);
  const swappedSig = clone(good);
  swappedSig.dsseEnvelope.signatures[0].sig = second.messageSignature.signature;
  rejects(() => verify(swappedSig, { bytes: artifact }), 'SIGSTORE_VERIFICATION_FAILED');

  // Another statement, validly signed by the same certificate, in place of the logged one.
  const otherPayload = Buffer.from(JSON.stringify(statementFor(artifact, { predicate: { note: 'B' } })));
  const other = await sig.signBlob(pae(INTOTO, otherPayload));
  const swappedEnvelope = clone(good);
  swappedEnvelope.dsseEnvelope = asDsse(other, otherPayload).dsseEnvelope;
  rejects(() => verify(swappedEnvelope, { bytes: artifact }), 'SIGSTORE_VERIFICATION_FAILED');
});

test('every RFC 3161 timestamp must fall inside the certificate validity, not just the earliest (rekor2-multiple-timestamps-one-outside-cert-validity)', async () => {
  const artifact = Buffer.from('two timestamps\n');
  const b = await sig.signBlob(artifact, { tsa: true, freshCertificate: true });
  const signature = Buffer.from(b.messageSignature.signature, 'base64');
  // A second trusted TSA, once with a clock inside the 10-minute certificate and once
  // two hours later (after the certificate expired).
  const inside = await extraTsa(new Date(Date.now() + 60_000));
  const late = await extraTsa(new Date(Date.now() + 2 * 3600_000));
  const root = clone(sig.trustedRoot);
  root.timestampAuthorities.push(inside.entry, late.entry);
  const withStamp = (s: string) => {
    const x = clone(b);
    x.verificationMaterial.timestampVerificationData.rfc3161Timestamps.push({ signedTimestamp: s });
    return x;
  };
  // Control: the extra TSA is trusted, and a second in-range timestamp is fine.
  assert.equal(verify(withStamp(await inside.stamp(signature)), { bytes: artifact }, root).tlog, true);
  // Attack: one valid in-range timestamp must not launder a second one from after expiry.
  const laundered = withStamp(await late.stamp(signature));
  rejects(() => verify(laundered, { bytes: artifact }, root), 'SIGSTORE_VERIFICATION_FAILED', /CERTIFICATE_ERROR/);
});

test('a TSA validity window is only lent by the TSA that signed the timestamp (rekor2-timestamp-wrong-tsa-validity-borrow)', async () => {
  const artifact = Buffer.from('borrowed validity\n');
  const b = await sig.signBlob(artifact, { tsa: true });
  const genTime = genTimeOf(b);
  assert.equal(verify(b, { bytes: artifact }).tlog, true);

  // The signing TSA's trusted window ends before the timestamp ...
  const expired = clone(sig.trustedRoot) as TrustedRootJSON & { timestampAuthorities: { validFor: { start: string; end?: string } }[] };
  expired.timestampAuthorities[0]!.validFor.end = new Date(genTime.getTime() - 60_000).toISOString();
  rejects(() => verify(b, { bytes: artifact }, expired), 'SIGSTORE_VERIFICATION_FAILED', /TIMESTAMP/);
  // ... and an unrelated, well-formed TSA whose window covers it does not rescue it.
  const unrelated = await extraTsa();
  const borrow = clone(expired);
  borrow.timestampAuthorities.push({ ...unrelated.entry, validFor: { start: new Date(genTime.getTime() - 3600_000).toISOString(), end: new Date(genTime.getTime() + 3600_000).toISOString() } });
  rejects(() => verify(b, { bytes: artifact }, borrow), 'SIGSTORE_VERIFICATION_FAILED', /TIMESTAMP/);
  // An entry with no certificates at all cannot authenticate anything: the root is malformed.
  const empty = clone(expired);
  empty.timestampAuthorities.push({ subject: { organization: 'x', commonName: 'x' }, uri: 'https://x.invalid', certChain: { certificates: [] }, validFor: { start: '2020-01-01T00:00:00Z' } } as never);
  rejects(() => verify(b, { bytes: artifact }, empty), 'TRUST_ROOT_INVALID', /timestampAuthorities\[1\] has no certificates/);
});

test('TSA validity is a closed interval: a timestamp equal to validFor.end verifies, one after it does not (trust-root-tsa-validity-end-inclusive)', async () => {
  const artifact = Buffer.from('end inclusive\n');
  const b = await sig.signBlob(artifact, { tsa: true });
  const genTime = genTimeOf(b);
  const withEnd = (end: Date) => {
    const r = clone(sig.trustedRoot) as TrustedRootJSON & { timestampAuthorities: { validFor: { start: string; end?: string } }[] };
    r.timestampAuthorities[0]!.validFor.end = end.toISOString();
    return r;
  };
  assert.equal(verify(b, { bytes: artifact }, withEnd(genTime)).tlog, true);
  rejects(() => verify(b, { bytes: artifact }, withEnd(new Date(genTime.getTime() - 1000))), 'SIGSTORE_VERIFICATION_FAILED', /TIMESTAMP/);
});

test('SCT issuer comes from the verified chain, not a Subject-name lookup: a same-named decoy CA does not break verification (sct-duplicate-intermediate-name)', async () => {
  const artifact = Buffer.from('decoy intermediate\n');
  const b = await sig.signBlob(artifact);
  const genuine = (sig.trustedRoot.certificateAuthorities[0] as { certChain: { certificates: { rawBytes: string }[] } }).certChain.certificates[0]!.rawBytes;
  const subject = new x509.X509Certificate(Buffer.from(genuine, 'base64')).subject;
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as NodeWebCrypto.CryptoKeyPair;
  const decoy = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '7e',
      name: subject,
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2035-01-01T00:00:00Z'),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    },
    crypto,
  );
  assert.equal(decoy.subject, subject);
  const root = clone(sig.trustedRoot);
  // First in the list, so a "first name match wins" resolver would pick it.
  root.certificateAuthorities.unshift({
    subject: { organization: 'conda-attest.test', commonName: 'decoy' },
    uri: 'https://decoy.invalid',
    certChain: { certificates: [{ rawBytes: Buffer.from(decoy.rawData).toString('base64') }] },
    validFor: { start: '2020-01-01T00:00:00Z' },
  });
  assert.equal(verify(b, { bytes: artifact }, root).identity.san, DEFAULT_SAN);
});

test('DSSE statement type must be a known in-toto Statement: missing or unknown _type is rejected (dsse-statement-missing-type, dsse-statement-unknown-type)', async () => {
  const key = generateTestKey();
  const keys = [{ pem: key.publicKeyPem, source: 'key.pub', name: 'k' }];
  const artifact = Buffer.from('statement type\n');
  const good = await sig.attestWithKey(statementFor(artifact), { privateKey: key.privateKey });
  assert.equal(verify(good, { bytes: artifact }, sig.trustedRoot, keys).identity.kind, 'key');
  const { _type: _drop, ...untyped } = statementFor(artifact) as { _type: string };
  for (const statement of [untyped, statementFor(artifact, { _type: 'https://in-toto.io/Statement/v2' })]) {
    const b = await sig.attestWithKey(statement, { privateKey: key.privateKey });
    // The signature and log entry are valid: only the statement type is wrong.
    assert.equal(verify(b, null, sig.trustedRoot, keys).identity.kind, 'key');
    rejects(() => verify(b, { bytes: artifact }, sig.trustedRoot, keys), 'INTOTO_STATEMENT_INVALID');
    rejects(() => verify(b, { sha256: sha256(artifact) }, sig.trustedRoot, keys), 'INTOTO_STATEMENT_INVALID');
  }
});

test('managed key + intoto v0.0.2 entry without payload, proof only and no trusted time: verifies (intoto-canonical-log-entry)', async () => {
  const key = generateTestKey();
  const keys = [{ pem: key.publicKeyPem, source: 'key.pub' }];
  const artifact = Buffer.from('canonical intoto\n');
  const signer: Signer = {
    sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, key.privateKey), key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.fingerprint } }),
  };
  // The local Rekor stores intoto entries canonically: payload dropped, payloadHash kept.
  const builder = new DSSEBundleBuilder({ signer, witnesses: [new RekorWitness({ rekorBaseURL: sig.url, entryType: 'intoto', retry: 0, timeout: 10_000 })] });
  const b = bundleToJSON(await builder.create({ data: Buffer.from(JSON.stringify(statementFor(artifact))), type: INTOTO })) as BundleJSON;
  const entry = b.verificationMaterial.tlogEntries[0];
  const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8'));
  assert.equal(body.kind, 'intoto');
  assert.equal(body.spec.content.envelope.payload, undefined);
  assert.ok(body.spec.content.payloadHash);
  // No SET and no integrated time: the inclusion proof + signed checkpoint is the log
  // evidence, and a configured key needs no trusted time (it has no validity window).
  delete entry.inclusionPromise;
  entry.integratedTime = '0';
  assert.equal(verify(b, { bytes: artifact }, sig.trustedRoot, keys).tlog, true);
  // The proof is still checked: a broken checkpoint signature fails.
  const broken = clone(b);
  const env: string = broken.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope;
  broken.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = env.replace(/ (\S+)\n$/, (_m, s: string) => ` ${Buffer.from(Buffer.from(s, 'base64').map((x, i, a) => (i === a.length - 1 ? x ^ 1 : x))).toString('base64')}\n`);
  rejects(() => verify(broken, { bytes: artifact }, sig.trustedRoot, keys), 'SIGSTORE_VERIFICATION_FAILED');
});

test('a tlog entry swapped in from another signing is rejected; legacy cosign bundles are not Sigstore bundles (cve-2022-36056-swapped-tlog-entry)', async () => {
  const artifact = Buffer.from('swapped tlog entry\n');
  const one = await sig.signBlob(artifact, { freshCertificate: true });
  const two = await sig.signBlob(artifact, { freshCertificate: true });
  assert.equal(verify(one, { bytes: artifact }).tlog, true);
  const swapped = clone(one);
  swapped.verificationMaterial.tlogEntries = clone(two.verificationMaterial.tlogEntries);
  rejects(() => verify(swapped, { bytes: artifact }), 'SIGSTORE_VERIFICATION_FAILED');
  // The pre-bundle cosign format (base64Signature / cert / rekorBundle) has no media type.
  const legacy = { base64Signature: one.messageSignature.signature, cert: 'x', rekorBundle: { SignedEntryTimestamp: 'x', Payload: {} } };
  rejects(() => verify(legacy as BundleJSON, { bytes: artifact }), 'BUNDLE_UNSUPPORTED_MEDIA_TYPE');
});

test('parseGeneralizedTime: DER GeneralizedTime with or without a fraction; impossible times are undefined', () => {
  assert.equal(parseGeneralizedTime('20250612120220Z')?.toISOString(), '2025-06-12T12:02:20.000Z');
  // DER drops trailing fraction zeros: all of these are valid genTime encodings.
  assert.equal(parseGeneralizedTime('20250612120220.5Z')?.toISOString(), '2025-06-12T12:02:20.500Z');
  assert.equal(parseGeneralizedTime('20250612120220.05Z')?.toISOString(), '2025-06-12T12:02:20.050Z');
  assert.equal(parseGeneralizedTime('20250612120220.123Z')?.toISOString(), '2025-06-12T12:02:20.123Z');
  assert.equal(parseGeneralizedTime('20250612120220.1239Z')?.toISOString(), '2025-06-12T12:02:20.123Z');
  for (const bad of ['20251312120220Z', '20250230120220Z', '20250612250220Z', '20250612120260Z', '20250612120220', '20250612120220+0100', '250612120220Z', '20250612120220.Z', ' 20250612120220Z', '20250612120220Zx']) {
    assert.equal(parseGeneralizedTime(bad), undefined, bad);
  }
});

test('a TSA genTime with a short DER fraction (.5Z, .05Z) verifies, to the millisecond', async () => {
  // @sigstore/core only parses exactly three fraction digits: such a genuine timestamp
  // used to fail with "invalid time". The local TSA clock is set so the fraction is short.
  const artifact = Buffer.from('short fraction\n');
  const b = await sig.signBlob(artifact, { tsa: false, freshCertificate: true });
  const signature = Buffer.from(b.messageSignature.signature, 'base64');
  const second = Math.floor(Date.now() / 1000) * 1000 + 2000;
  for (const ms of [500, 50]) {
    const tsa = await extraTsa(new Date(second + ms));
    const root = clone(sig.trustedRoot);
    root.timestampAuthorities.push(tsa.entry);
    const x = clone(b);
    x.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: await tsa.stamp(signature) }] };
    const genTime = genTimeOf(x);
    assert.equal(genTime.getTime(), second + ms);
    assert.equal(verify(x, { bytes: artifact }, root).tlog, true);
    // Millisecond precision: a TSA window ending 1 ms before genTime does not cover it
    // (truncating the fraction would have said it does).
    const ended = clone(root) as TrustedRootJSON & { timestampAuthorities: { validFor: { start: string; end?: string } }[] };
    ended.timestampAuthorities[1]!.validFor.end = new Date(second + ms - 1).toISOString();
    rejects(() => verify(x, { bytes: artifact }, ended), 'SIGSTORE_VERIFICATION_FAILED', /TIMESTAMP/);
  }
});

test('attacker: a timestamp whose genTime is not a real time fails closed', async () => {
  const artifact = Buffer.from('bad genTime\n');
  const b = await sig.signBlob(artifact, { tsa: true });
  const der = Buffer.from(b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64');
  // The TSTInfo genTime: GeneralizedTime tag 0x18, then YYYYMMDD...; make the month 13.
  const at = der.findIndex((x, i) => x === 0x18 && /^\d{14}/.test(der.subarray(i + 2, i + 16).toString('latin1')));
  assert.ok(at > 0);
  der.write('13', at + 2 + 4, 'latin1');
  const x = clone(b);
  x.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp = der.toString('base64');
  rejects(() => verify(x, { bytes: artifact }), 'SIGSTORE_VERIFICATION_FAILED', /genTime is not a valid GeneralizedTime/);
});
