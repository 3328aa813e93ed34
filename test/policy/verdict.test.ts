import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { actionFor, judgeAttestations, type RetrievalState } from '../../src/policy/verdict.ts';
import { keyFingerprint } from '../../src/policy/identity.ts';
import type { BundleOutcome, ChannelPolicy, PackageAction, PackageStatus, RequireMode, SignerIdentity } from '../../src/types.ts';
import { channelPolicy } from './fixtures.ts';

const PUBLISH = 'https://schemas.conda.org/attestations-publish-1.schema.json';
const SLSA = 'https://slsa.dev/provenance/v1';
const GH = 'https://token.actions.githubusercontent.com';

test('actionFor: the full status × require table', () => {
  const table: Record<PackageStatus, Record<RequireMode, PackageAction>> = {
    verified: { error: 'pass', warn: 'pass', ignore: 'pass' },
    skipped: { error: 'pass', warn: 'pass', ignore: 'pass' },
    missing: { error: 'block', warn: 'warn', ignore: 'pass' },
    'retrieval-failed': { error: 'block', warn: 'warn', ignore: 'warn' },
    invalid: { error: 'block', warn: 'warn', ignore: 'warn' },
    untrusted: { error: 'block', warn: 'warn', ignore: 'warn' },
    'identity-changed': { error: 'block', warn: 'warn', ignore: 'warn' },
  };
  let n = 0;
  for (const [status, row] of Object.entries(table) as [PackageStatus, Record<RequireMode, PackageAction>][]) {
    for (const [mode, action] of Object.entries(row) as [RequireMode, PackageAction][]) {
      assert.equal(actionFor(status, mode), action, `${status} under require: ${mode}`);
      n++;
    }
  }
  assert.equal(n, 21);
});

function policy(over: Partial<ChannelPolicy> = {}): ChannelPolicy {
  return channelPolicy({ trustedIdentities: [{ identity: 'https://github.com/conda-forge/*-feedstock/**', issuer: GH }], ...over });
}

const trustedId: SignerIdentity = {
  kind: 'github',
  san: 'https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main',
  issuer: GH,
};
const evilId: SignerIdentity = {
  kind: 'github',
  san: 'https://github.com/conda-forge-evil/numpy-feedstock/.github/workflows/build.yml@refs/heads/main',
  issuer: GH,
};

function outcome(index: number, over: Partial<BundleOutcome>): BundleOutcome {
  return { index, predicateType: PUBLISH, publish: true, verified: true, reasons: [], ...over };
}
const bundles = (...outcomes: BundleOutcome[]): RetrievalState => ({ kind: 'bundles', outcomes });
const codes = (r: { reasons: { code: string }[] }): string[] => r.reasons.map((x) => x.code);

test('disabled channel → skipped', () => {
  const r = judgeAttestations({ policy: policy({ enabled: false }), retrieval: bundles(outcome(0, { identity: trustedId })) });
  assert.equal(r.status, 'skipped');
  assert.deepEqual(codes(r), ['CHANNEL_DISABLED']);
  assert.equal(judgeAttestations({ policy: policy(), retrieval: { kind: 'disabled' } }).status, 'skipped');
});

test('nothing advertised → missing; empty sidecar → missing', () => {
  const none = judgeAttestations({ policy: policy(), retrieval: { kind: 'none' } });
  assert.equal(none.status, 'missing');
  assert.deepEqual(codes(none), ['NO_ATTESTATIONS']);
  assert.equal(judgeAttestations({ policy: policy(), retrieval: bundles() }).status, 'missing');
});

test('retrieval failure → retrieval-failed (CEP 50: never missing), reasons kept or supplied', () => {
  const reasons = [{ code: 'SIDECAR_HASH_MISMATCH' as const, message: 'hash differs' }];
  const r = judgeAttestations({ policy: policy(), retrieval: { kind: 'failed', reasons } });
  assert.equal(r.status, 'retrieval-failed');
  assert.deepEqual(r.reasons, reasons);
  assert.deepEqual(codes(judgeAttestations({ policy: policy(), retrieval: { kind: 'failed', reasons: [] } })), ['SIDECAR_UNAVAILABLE']);
});

test('a verified publish bundle from a trusted identity → verified, with that identity', () => {
  const r = judgeAttestations({ policy: policy(), retrieval: bundles(outcome(0, { identity: trustedId })) });
  assert.equal(r.status, 'verified');
  assert.equal(r.identity, trustedId);
  assert.deepEqual(r.trustedIdentities, [trustedId]);
  assert.deepEqual(r.reasons, []);
});

test('attacker: a verified bundle from a look-alike identity → untrusted, naming SAN, issuer and patterns', () => {
  const r = judgeAttestations({ policy: policy(), retrieval: bundles(outcome(0, { identity: evilId })) });
  assert.equal(r.status, 'untrusted');
  assert.equal(r.identity, null);
  assert.deepEqual(r.trustedIdentities, []);
  assert.deepEqual(codes(r), ['IDENTITY_UNTRUSTED']);
  assert.match(r.reasons[0].message, /conda-forge-evil/);
  assert.match(r.reasons[0].message, /token\.actions\.githubusercontent\.com/);
  assert.match(r.reasons[0].message, /\*-feedstock/);
  assert.match(r.reasons[0].hint ?? '', /channels\["https:\/\/prefix\.dev\/conda-forge"\]\.trusted_identities/);
});

test('empty trusted_identities accepts any verified signer', () => {
  const r = judgeAttestations({ policy: policy({ trustedIdentities: [] }), retrieval: bundles(outcome(0, { identity: evilId })) });
  assert.equal(r.status, 'verified');
});

test('several bundles: one trusted publish bundle verifies the package; invalid and untrusted siblings are still reported', () => {
  const r = judgeAttestations({
    policy: policy(),
    retrieval: bundles(
      outcome(0, { verified: false, reasons: [{ code: 'CEP27_SUBJECT_DIGEST', message: 'digest differs.' }] }),
      outcome(1, { identity: evilId }),
      outcome(2, { identity: trustedId }),
      outcome(3, { identity: trustedId }),
    ),
  });
  assert.equal(r.status, 'verified');
  assert.equal(r.identity, trustedId);
  assert.deepEqual(r.trustedIdentities, [trustedId], 'deduplicated');
  assert.deepEqual(codes(r).sort(), ['CEP27_SUBJECT_DIGEST', 'IDENTITY_UNTRUSTED']);
  assert.ok(r.reasons.some((x) => x.message.startsWith('bundle 0: ')));
});

test('attacker: a verified SLSA provenance bundle from a trusted identity never satisfies the publish check', () => {
  const r = judgeAttestations({
    policy: policy(),
    retrieval: bundles(outcome(0, { predicateType: SLSA, publish: false, identity: trustedId })),
  });
  assert.equal(r.status, 'missing');
  assert.deepEqual(codes(r), ['NO_PUBLISH_ATTESTATION']);
  assert.deepEqual(r.trustedIdentities, []);
});

test('only other predicate types, one of them invalid → missing, invalid sibling still reported', () => {
  const r = judgeAttestations({
    policy: policy(),
    retrieval: bundles(
      outcome(0, { predicateType: SLSA, publish: false, identity: trustedId }),
      outcome(1, { predicateType: SLSA, publish: false, verified: false, reasons: [{ code: 'SIGSTORE_VERIFICATION_FAILED', message: 'bad sig.' }] }),
    ),
  });
  assert.equal(r.status, 'missing');
  assert.deepEqual(codes(r), ['NO_PUBLISH_ATTESTATION', 'SIGSTORE_VERIFICATION_FAILED']);
  assert.match(r.reasons[1].message, /^bundle 1: /);
});

test('no verified publish bundle, a failed one → invalid with every failing bundle listed', () => {
  const r = judgeAttestations({
    policy: policy(),
    retrieval: bundles(
      outcome(0, { verified: false, reasons: [{ code: 'CEP27_SUBJECT_NAME', message: 'name differs.' }] }),
      outcome(1, { verified: false, reasons: [] }),
    ),
  });
  assert.equal(r.status, 'invalid');
  assert.deepEqual(codes(r), ['CEP27_SUBJECT_NAME', 'SIGSTORE_VERIFICATION_FAILED']);
  assert.match(r.reasons[0].message, /^bundle 0: /);
  assert.match(r.reasons[1].message, /^bundle 1: /);
});

test('attacker: a malformed bundle (predicate type unknown) next to SLSA counts as a failed publish attestation → invalid, not missing', () => {
  const r = judgeAttestations({
    policy: policy(),
    retrieval: bundles(
      outcome(0, { predicateType: undefined, publish: false, verified: false, reasons: [{ code: 'BUNDLE_MALFORMED', message: 'bad json.' }] }),
      outcome(1, { predicateType: SLSA, publish: false, identity: trustedId }),
    ),
  });
  assert.equal(r.status, 'invalid');
});

test('untrusted beats invalid when a verified publish bundle exists', () => {
  const r = judgeAttestations({
    policy: policy(),
    retrieval: bundles(outcome(0, { verified: false, reasons: [{ code: 'CEP27_SUBJECT_DIGEST', message: 'x.' }] }), outcome(1, { identity: evilId })),
  });
  assert.equal(r.status, 'untrusted');
  assert.deepEqual(codes(r), ['IDENTITY_UNTRUSTED', 'CEP27_SUBJECT_DIGEST']);
});

test('key-signed bundles: trusted key verifies; other key untrusted; require_tlog enforced', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const fp = keyFingerprint(pem);
  const keyPolicy = policy({ trustedKeys: [{ pem, source: 'inline', name: 'release', fingerprint: fp }] });
  const keyId: SignerIdentity = { kind: 'key', keyFingerprint: fp, keyName: 'release' };

  const ok = judgeAttestations({ policy: keyPolicy, retrieval: bundles(outcome(0, { identity: keyId, tlog: true })) });
  assert.equal(ok.status, 'verified');

  const other: SignerIdentity = { kind: 'key', keyFingerprint: 'ab'.repeat(32) };
  const bad = judgeAttestations({ policy: keyPolicy, retrieval: bundles(outcome(0, { identity: other, tlog: true })) });
  assert.equal(bad.status, 'untrusted');
  assert.deepEqual(codes(bad), ['KEY_UNTRUSTED']);

  // Defence in depth: a verifier that let a log-less key signature through under require_tlog.
  const noLog = judgeAttestations({ policy: keyPolicy, retrieval: bundles(outcome(0, { identity: keyId, tlog: false })) });
  assert.equal(noLog.status, 'invalid');
  assert.deepEqual(codes(noLog), ['TLOG_REQUIRED']);
  const allowed = judgeAttestations({
    policy: { ...keyPolicy, requireTlog: false },
    retrieval: bundles(outcome(0, { identity: keyId, tlog: false })),
  });
  assert.equal(allowed.status, 'verified');
});
