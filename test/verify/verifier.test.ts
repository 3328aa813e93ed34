import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VerifyError } from '../../src/errors.ts';
import { loadTrustRoot, type LoadedTrustRoot } from '../../src/verify/trust-root.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import type { TrustedKey } from '../../src/types.ts';

const shared = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared');
const skip = existsSync(shared) ? false : 'needs ../shared (absent in a fresh clone)';
const conf = (c: string, f: string) => join(shared, 'conformance', c, f);
const interop = (f: string) => join(shared, 'interop', f);
const PKG = 'signed-package-2.1.0-hb0f4dca_0.conda';
const PKG_SHA = '54303491a8418fbed24344b513546182c29b43bf282ceb433af65e2299f9271f';
const CHANNEL = 'https://prefix.dev/sigstore-example';

let rootPromise: Promise<LoadedTrustRoot> | undefined;
function publicGood(): Promise<LoadedTrustRoot> {
  // Offline, empty private cache: the embedded snapshot (no network in tests).
  const cacheDir = mkdtempSync(join(tmpdir(), 'conda-attest-v-'));
  process.on('exit', () => rmSync(cacheDir, { recursive: true, force: true }));
  return (rootPromise ??= loadTrustRoot('public-good', { offline: true, cacheDir }));
}

function code(e: unknown): string {
  assert.ok(e instanceof VerifyError, `expected a VerifyError, got ${String(e)}`);
  return e.code;
}
function throwsCode(fn: () => unknown, c: string): void {
  assert.throws(fn, (e: unknown) => code(e) === c);
}

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const otherKey = (): TrustedKey => ({ name: 'other', source: 'test', pem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString() });
const managedKey = (): TrustedKey => ({ name: 'release', source: 'key.pub', pem: readFileSync(conf('managed-key-happy-path', 'key.pub'), 'utf8') });
const aTxt = () => readFileSync(join(shared, 'conformance', 'a.txt'));

test('interop: the real prefix.dev attestation verifies offline against public-good', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const bundles = json(interop(`${PKG}.sigs`));
  const sha = createHash('sha256').update(readFileSync(interop(PKG))).digest('hex');
  assert.equal(sha, PKG_SHA);
  const [o] = verifyAttestations(bundles, { filename: PKG, sha256: sha, acceptedChannels: [CHANNEL] }, verifier);
  assert.deepEqual(o!.reasons, []);
  assert.equal(o!.verified, true);
  assert.equal(o!.publish, true);
  assert.equal(o!.tlog, true);
  assert.equal(o!.targetChannel, CHANNEL);
  assert.equal(o!.identity?.san, 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main');
});

test('interop attacks: flipped byte, other filename, other channel, rewritten statement', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const bundles = json(interop(`${PKG}.sigs`));
  const bytes = readFileSync(interop(PKG));
  bytes[100] ^= 1;
  const flipped = createHash('sha256').update(bytes).digest('hex');
  const run = (pkg: { filename: string; sha256: string; acceptedChannels: string[] }, b = bundles) => verifyAttestations(b, pkg, verifier)[0]!;
  const r1 = run({ filename: PKG, sha256: flipped, acceptedChannels: [CHANNEL] });
  assert.equal(r1.verified, false);
  assert.deepEqual(r1.reasons.map((r) => r.code), ['CEP27_SUBJECT_DIGEST']);
  const r2 = run({ filename: 'signed-package-2.1.0-hb0f4dca_1.conda', sha256: PKG_SHA, acceptedChannels: [CHANNEL] });
  assert.deepEqual(r2.reasons.map((r) => r.code), ['CEP27_SUBJECT_NAME']);
  const r3 = run({ filename: PKG, sha256: PKG_SHA, acceptedChannels: ['https://prefix.dev/other'] });
  assert.deepEqual(r3.reasons.map((r) => r.code), ['CEP27_TARGET_CHANNEL_MISMATCH']);
  assert.equal(r3.verified, false);
  // Rewriting the signed statement to name the flipped package breaks the signature.
  const forged = structuredClone(bundles);
  const st = JSON.parse(Buffer.from(forged[0].dsseEnvelope.payload, 'base64').toString());
  st.subject[0].digest.sha256 = flipped;
  forged[0].dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
  const r4 = run({ filename: PKG, sha256: flipped, acceptedChannels: [CHANNEL] }, forged);
  assert.equal(r4.verified, false);
  assert.equal(r4.identity, undefined);
  assert.equal(r4.reasons[0]!.code, 'SIGSTORE_VERIFICATION_FAILED');
});

test('verifyAttestations never throws: garbage entries become reasons, one outcome each', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const out = verifyAttestations([null, 'x', { mediaType: 'application/json' }, { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }], { filename: PKG, sha256: PKG_SHA, acceptedChannels: [CHANNEL] }, verifier);
  assert.deepEqual(out.map((o) => [o.index, o.verified, o.reasons[0]?.code]), [
    [0, false, 'BUNDLE_MALFORMED'],
    [1, false, 'BUNDLE_MALFORMED'],
    [2, false, 'BUNDLE_UNSUPPORTED_MEDIA_TYPE'],
    [3, false, 'BUNDLE_MALFORMED'],
  ]);
});

test('a message-signature bundle is verified but never a publish attestation', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const [o] = verifyAttestations([json(conf('happy-path-v0.3', 'bundle.sigstore.json'))], { filename: PKG, sha256: PKG_SHA, acceptedChannels: [CHANNEL] }, verifier);
  assert.equal(o!.verified, false);
  assert.equal(o!.publish, false);
  // Needs its artifact, which a sidecar never has: fails closed.
  assert.equal(o!.reasons[0]!.code, 'ARTIFACT_DIGEST_MISMATCH');
});

test('managed key: selected by hint; identity is the key fingerprint and name', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood(), trustedKeys: [otherKey(), managedKey()] });
  const v = verifier.verify(json(conf('managed-key-happy-path', 'bundle.sigstore.json')), { bytes: aTxt() });
  assert.equal(v.identity.kind, 'key');
  assert.equal(v.identity.keyName, 'release');
  assert.equal(v.identity.keyFingerprint, '4cb32c4837c6dda8cfb1681efb3fef5f94ffce5b979e6bdb9139302c857af139');
  assert.equal(v.tlog, true);
});

test('managed key: a hint naming no configured key falls back to trying each key', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood(), trustedKeys: [otherKey(), managedKey()] });
  const b = json(conf('managed-key-happy-path', 'bundle.sigstore.json'));
  b.verificationMaterial.publicKey.hint = Buffer.alloc(32, 7).toString('base64');
  assert.equal(verifier.verify(b, { bytes: aTxt() }).identity.keyName, 'release');
});

test('attacker: key-signed bundle with only other keys trusted, or none → KEY_UNTRUSTED', { skip }, async () => {
  const root = await publicGood();
  const b = json(conf('managed-key-happy-path', 'bundle.sigstore.json'));
  throwsCode(() => createVerifier({ trustRoot: root, trustedKeys: [otherKey()] }).verify(b, { bytes: aTxt() }), 'KEY_UNTRUSTED');
  throwsCode(() => createVerifier({ trustRoot: root }).verify(b, { bytes: aTxt() }), 'KEY_UNTRUSTED');
  // A bundle that claims the trusted key's hint but was signed by another key.
  const forged = json(conf('managed-key-happy-path', 'bundle.sigstore.json'));
  forged.messageSignature.signature = json(conf('happy-path-v0.3', 'bundle.sigstore.json')).messageSignature.signature;
  throwsCode(() => createVerifier({ trustRoot: root, trustedKeys: [managedKey()] }).verify(forged, { bytes: aTxt() }), 'KEY_UNTRUSTED');
});

test('an unreadable trusted key is rejected when the verifier is built', { skip }, async () => {
  const root = await publicGood();
  throwsCode(() => createVerifier({ trustRoot: root, trustedKeys: [{ pem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', source: 'bad.pem' }] }), 'KEY_UNTRUSTED');
});

test('key-signed bundle without tlog entry: TLOG_REQUIRED by default, signature-only when allowed', { skip }, async () => {
  const root = await publicGood();
  const b = json(conf('managed-key-happy-path', 'bundle.sigstore.json'));
  b.verificationMaterial.tlogEntries = [];
  throwsCode(() => createVerifier({ trustRoot: root, trustedKeys: [managedKey()] }).verify(b, { bytes: aTxt() }), 'TLOG_REQUIRED');
  const v = createVerifier({ trustRoot: root, trustedKeys: [managedKey()], requireTlog: false }).verify(b, { bytes: aTxt() });
  assert.equal(v.tlog, false);
  assert.equal(v.identity.kind, 'key');
  // Signature-only mode still checks the signature: a wrong artifact or key fails.
  throwsCode(() => createVerifier({ trustRoot: root, trustedKeys: [managedKey()], requireTlog: false }).verify(b, { bytes: Buffer.from('other') }), 'ARTIFACT_DIGEST_MISMATCH');
  throwsCode(() => createVerifier({ trustRoot: root, trustedKeys: [otherKey()], requireTlog: false }).verify(b, { bytes: aTxt() }), 'KEY_UNTRUSTED');
});

test('digest-only artifacts: message signatures verify from sha256, wrong digest fails', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const b = json(conf('happy-path-v0.3', 'bundle.sigstore.json'));
  const sha = createHash('sha256').update(aTxt()).digest('hex');
  assert.equal(verifier.verify(b, { sha256: sha }).identity.kind, 'github');
  throwsCode(() => verifier.verify(b, { sha256: 'f'.repeat(64) }), 'ARTIFACT_DIGEST_MISMATCH');
});

test('DSSE with an artifact: it must be one of the statement subjects', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const b = json(conf('happy-path-intoto-in-dsse-v3', 'bundle.sigstore.json'));
  const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
  const subjectSha = st.subject[0].digest.sha256 as string;
  const ok = verifier.verify(b, { sha256: subjectSha });
  assert.equal((ok.statement as { _type: string })._type, 'https://in-toto.io/Statement/v1');
  throwsCode(() => verifier.verify(b, { sha256: 'e'.repeat(64) }), 'ARTIFACT_DIGEST_MISMATCH');
});

test('structural attacks beyond sigstore-js', { skip }, async () => {
  const verifier = createVerifier({ trustRoot: await publicGood() });
  const art = { bytes: aTxt() };
  // Negative log index.
  const neg = json(conf('happy-path-v0.3', 'bundle.sigstore.json'));
  neg.verificationMaterial.tlogEntries[0].logIndex = '-1';
  throwsCode(() => verifier.verify(neg, art), 'SIGSTORE_VERIFICATION_FAILED');
  // Inclusion proof whose own root hash disagrees with its checkpoint.
  const rh = json(conf('happy-path-v0.3', 'bundle.sigstore.json'));
  rh.verificationMaterial.tlogEntries[0].inclusionProof.rootHash = Buffer.alloc(32).toString('base64');
  assert.throws(() => verifier.verify(rh, art), (e: unknown) => code(e) === 'SIGSTORE_VERIFICATION_FAILED' && /checkpoint/.test((e as Error).message));
  // Two DSSE signatures: the second would be an unverified claim.
  const two = json(conf('happy-path-intoto-in-dsse-v3', 'bundle.sigstore.json'));
  two.dsseEnvelope.signatures.push(two.dsseEnvelope.signatures[0]);
  throwsCode(() => verifier.verify(two, null), 'BUNDLE_MALFORMED');
  // A root certificate appended to the chain (v0.1/v0.2 chains): rejected, anchors come from the trust root.
  const chain = json(conf('bundle-with-root-cert_fail', 'bundle.sigstore.json'));
  assert.throws(() => verifier.verify(chain, { bytes: readFileSync(conf('bundle-with-root-cert_fail', 'artifact')) }), (e: unknown) => code(e) === 'SIGSTORE_VERIFICATION_FAILED' && /root certificate/.test((e as Error).message));
  // Unknown bundle media type.
  throwsCode(() => verifier.verify({ ...json(conf('happy-path-v0.3', 'bundle.sigstore.json')), mediaType: 'application/vnd.dev.sigstore.bundle.v0.9+json' }, art), 'BUNDLE_UNSUPPORTED_MEDIA_TYPE');
});
