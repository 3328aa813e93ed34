// The evidence core (src/verify/evidence.ts): pure over the bundle JSON; links never built
// from claims that are not what they say; checks in sigstore-js's order; the module has no
// Node built-ins (the browser build calls it as is); a seeded property over hostile bundle
// JSON: never throws, always the schema's shape. Verbose text lines (src/report/evidence-text.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { Chalk } from 'chalk';
import type { X509Certificate } from '@sigstore/core';
import reportSchema from '../../schema/report.schema.json' with { type: 'json' };
import { CHECK_NAMES, bundleEvidence, claimLinks, formatDistinguishedName, sigstoreChecks } from '../../src/verify/evidence.ts';
import { evidenceLines } from '../../src/report/evidence-text.ts';
import type { PackageReport, SignerIdentity } from '../../src/types.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

const AjvClass = ((Ajv2020 as unknown as { default?: unknown }).default ?? Ajv2020) as unknown as typeof Ajv2020.default;
const ajv = new AjvClass({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addSchema(reportSchema as object);
const validateEvidence = ajv.getSchema('https://conda-attest.dev/schema/report.schema.json#/$defs/evidence')!;

const SHA = 'ab'.repeat(20);
const gh = (over: Partial<SignerIdentity> = {}): SignerIdentity => ({
  kind: 'github',
  san: 'https://github.com/org/repo/.github/workflows/build.yml@refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  sourceRepositoryUri: 'https://github.com/org/repo',
  sourceRepositoryDigest: SHA,
  buildConfigUri: 'https://github.com/org/repo/.github/workflows/build.yml@refs/heads/main',
  buildConfigDigest: SHA,
  runInvocationUri: 'https://github.com/org/repo/actions/runs/7/attempts/1',
  ...over,
});

test('the evidence module imports no Node built-in (the browser build calls it unchanged)', () => {
  const src = readFileSync(new URL('../../src/verify/evidence.ts', import.meta.url), 'utf8');
  assert.doesNotMatch(src, /from ['"]node:/);
  assert.doesNotMatch(src, /from ['"](fs|path|crypto|os|url|util|module)['"]/);
});

test('links: GitHub and GitLab commit, workflow file at that commit, run', () => {
  assert.deepEqual(claimLinks(gh()), {
    commit: `https://github.com/org/repo/commit/${SHA}`,
    workflow: `https://github.com/org/repo/blob/${SHA}/.github/workflows/build.yml`,
    run: 'https://github.com/org/repo/actions/runs/7/attempts/1',
  });
  const gl: SignerIdentity = {
    kind: 'gitlab',
    issuer: 'https://gitlab.com',
    sourceRepositoryUri: 'https://gitlab.com/group/sub/project',
    sourceRepositoryDigest: SHA,
    buildConfigUri: 'https://gitlab.com/group/sub/project//.gitlab-ci.yml@refs/heads/main',
    runInvocationUri: 'https://gitlab.com/group/sub/project/-/jobs/42',
  };
  assert.deepEqual(claimLinks(gl), {
    commit: `https://gitlab.com/group/sub/project/-/commit/${SHA}`,
    workflow: `https://gitlab.com/group/sub/project/-/blob/${SHA}/.gitlab-ci.yml`,
    run: 'https://gitlab.com/group/sub/project/-/jobs/42',
  });
});

test('adversarial links: a claim that is not what it says gives no link', () => {
  const none = { commit: null, workflow: null, run: null };
  // Another host, a non-hex digest, a path escaping the repository, a config of another repository, markup.
  assert.deepEqual(claimLinks(gh({ sourceRepositoryUri: 'https://evil.example/org/repo', runInvocationUri: 'https://evil.example/run' })), { ...none });
  assert.equal(claimLinks(gh({ sourceRepositoryDigest: 'main"><script>' })).commit, null);
  assert.equal(claimLinks(gh({ buildConfigDigest: 'zz', sourceRepositoryDigest: 'zz' })).workflow, null);
  assert.equal(claimLinks(gh({ buildConfigUri: 'https://github.com/org/repo/../other/x.yml@refs/heads/main' })).workflow, null);
  assert.equal(claimLinks(gh({ buildConfigUri: 'https://github.com/org/repository-other/.github/workflows/x.yml@refs/heads/main' })).workflow, null);
  assert.equal(claimLinks(gh({ runInvocationUri: 'https://github.com/org/repo/actions/runs/1 <b>' })).run, null);
  // Only the two providers' identities: an email or key signer has no links.
  assert.deepEqual(claimLinks({ ...gh(), kind: 'uri' }), none);
  assert.deepEqual(claimLinks({ kind: 'key', keyFingerprint: 'a'.repeat(64) }), none);
  assert.deepEqual(claimLinks(null), none);
});

test('checks: all Sigstore checks passed; a failure passes the earlier ones and leaves the later ones not run', () => {
  const ok = sigstoreChecks({ passed: true, keySigned: false, tlog: true });
  for (const k of ['bundle_format', 'timestamp', 'certificate_chain', 'sct', 'tlog_inclusion', 'signature'] as const) assert.equal(ok[k], true, k);
  assert.equal(ok.subject_digest, null);
  const key = sigstoreChecks({ passed: true, keySigned: true, tlog: false });
  assert.equal(key.certificate_chain, null);
  assert.equal(key.sct, null);
  assert.equal(key.tlog_inclusion, null);
  assert.equal(key.signature, true);
  const sct = sigstoreChecks({ failed: 'sct' });
  assert.deepEqual([sct.bundle_format, sct.timestamp, sct.certificate_chain, sct.sct, sct.tlog_inclusion, sct.signature], [true, true, true, false, null, null]);
  const digest = sigstoreChecks({ failed: 'subject_digest' });
  assert.equal(digest.signature, true);
  assert.equal(digest.subject_digest, false);
  assert.deepEqual(Object.keys(sigstoreChecks({ failed: null })), [...CHECK_NAMES]);
});

test('issuer DN: RFC 4514 order and escaping', () => {
  // SEQUENCE OF SET { SEQUENCE { OID 2.5.4.10, UTF8String "a,b" } }, SET { ... OID 2.5.4.3 "CA" }
  const atv = (oid: number[], v: string) => {
    const val = Buffer.from(v, 'utf8');
    const o = Buffer.from([0x06, oid.length, ...oid]);
    const s = Buffer.concat([o, Buffer.from([0x0c, val.length]), val]);
    const seq = Buffer.concat([Buffer.from([0x30, s.length]), s]);
    return Buffer.concat([Buffer.from([0x31, seq.length]), seq]);
  };
  const contents = Buffer.concat([atv([0x55, 0x04, 0x0a], 'a,b'), atv([0x55, 0x04, 0x03], ' CA')]);
  assert.equal(formatDistinguishedName(contents), 'CN=\\ CA,O=a\\,b');
  assert.equal(formatDistinguishedName(Buffer.from([0x31, 0x05, 0x01])), null);

  // The evidence keeps each issuer's name per exact bytes: leaves of different issuers, asked
  // in turn and again, each get their own issuer's name (and an unreadable one stays null).
  const leafOf = (issuer: Buffer) =>
    ({ issuer, notBefore: new Date(0), notAfter: new Date(1000), serialNumber: Buffer.from([1]) }) as unknown as X509Certificate;
  const a = Buffer.concat([atv([0x55, 0x04, 0x03], 'issuer a')]);
  const b = Buffer.concat([atv([0x55, 0x04, 0x03], 'issuer b')]);
  const bad = Buffer.from([0x31, 0x05, 0x01]);
  for (const pass of [1, 2]) {
    const names = [a, b, contents, bad].map((dn) => bundleEvidence({ bundle: {}, leaf: leafOf(dn) }).certificate?.issuer_dn);
    assert.deepEqual(names, ['CN=issuer a', 'CN=issuer b', 'CN=\\ CA,O=a\\,b', ''], `pass ${pass}`);
  }
});

test('a bundle that is not one gives empty evidence, never a throw', () => {
  for (const b of [null, 'x', 42, [], {}, { verificationMaterial: { tlogEntries: [{ logIndex: '-1' }], certificate: { rawBytes: 'AAAA' } } }]) {
    const e = bundleEvidence({ bundle: b });
    assert.equal(e.tlog, null);
    assert.equal(e.certificate, null);
    assert.deepEqual(e.timestamps, []);
    assert.ok(validateEvidence(e), ajv.errorsText(validateEvidence.errors));
  }
});

test('property: hostile bundle JSON (seeded) never throws and always gives the schema\'s shape', async (t) => {
  const num = fc.oneof(fc.stringMatching(/^[0-9]{1,20}$/), fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null));
  const b64 = fc.oneof(fc.base64String({ maxLength: 80 }), fc.string({ maxLength: 20 }), fc.constant(null));
  const entry = fc.record(
    {
      logIndex: num,
      integratedTime: num,
      logId: fc.oneof(fc.record({ keyId: b64 }), fc.jsonValue({ maxDepth: 1 })),
      kindVersion: fc.oneof(fc.record({ kind: fc.string({ maxLength: 8 }), version: fc.string({ maxLength: 8 }) }), fc.jsonValue({ maxDepth: 1 })),
      inclusionPromise: fc.oneof(fc.record({ signedEntryTimestamp: b64 }), fc.jsonValue({ maxDepth: 1 })),
      inclusionProof: fc.oneof(fc.record({ logIndex: num, treeSize: num, rootHash: b64, checkpoint: fc.record({ envelope: fc.string({ maxLength: 60 }) }) }), fc.jsonValue({ maxDepth: 1 })),
    },
    { requiredKeys: [] },
  );
  const bundle = fc.record(
    {
      mediaType: fc.string({ maxLength: 10 }),
      verificationMaterial: fc.oneof(
        fc.record(
          {
            tlogEntries: fc.oneof(fc.array(entry, { maxLength: 2 }), fc.jsonValue({ maxDepth: 1 })),
            certificate: fc.oneof(fc.record({ rawBytes: b64 }), fc.jsonValue({ maxDepth: 1 })),
            x509CertificateChain: fc.record({ certificates: fc.array(fc.record({ rawBytes: b64 }), { maxLength: 2 }) }),
            timestampVerificationData: fc.record({ rfc3161Timestamps: fc.array(fc.record({ signedTimestamp: b64 }), { maxLength: 2 }) }),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    },
    { requiredKeys: [] },
  );
  await checkProperty(
    t,
    'bundle evidence',
    [bundle],
    (b) => {
      const e = bundleEvidence({ bundle: b, identity: gh() });
      assert.ok(validateEvidence(e), `${ajv.errorsText(validateEvidence.errors)} for ${JSON.stringify(b)}`);
    },
    { runs: 300 },
  );
});

test('verbose lines: signer, commit, run, log index (linked only under public-good), validity window; values escaped', () => {
  const evidence = bundleEvidence({ bundle: { verificationMaterial: { tlogEntries: [{ logIndex: '42', integratedTime: '1700000000' }] } }, identity: gh() });
  evidence.certificate = { not_before: '2023-11-14T22:13:20.000Z', not_after: '2023-11-14T22:23:20.000Z', serial: '01', issuer_dn: 'CN=x' };
  const row = {
    verified_by: 1,
    bundles: [
      { index: 0, publish: true, verified: false, reasons: [], evidence: bundleEvidence({ bundle: null }) },
      { index: 1, publish: true, verified: true, reasons: [], identity: gh({ san: 'https://github.com/org/repo/x\u001b[2J' }), evidence },
    ],
  } as unknown as PackageReport;
  const c = new Chalk({ level: 0 });
  const pg = evidenceLines(row, c, true).join('\n');
  assert.match(pg, /signer: +https:\/\/github\.com\/org\/repo\/x\\u001b\[2J \(issuer https:\/\/token\.actions\.githubusercontent\.com\) \[bundle 1\]/);
  assert.match(pg, new RegExp(`commit: +https://github\\.com/org/repo/commit/${SHA}`));
  assert.match(pg, /run: +https:\/\/github\.com\/org\/repo\/actions\/runs\/7\/attempts\/1/);
  assert.match(pg, /log index: 42 \(integrated 2023-11-14T22:13:20\.000Z\) {2}https:\/\/search\.sigstore\.dev\/\?logIndex=42/);
  assert.match(pg, /valid: +2023-11-14T22:13:20\.000Z – 2023-11-14T22:23:20\.000Z/);
  assert.doesNotMatch(pg, /\u001b/);
  // Another trust root: its log is not the public one, so no link to it.
  const other = evidenceLines(row, c, false).join('\n');
  assert.match(other, /log index: 42 \(integrated [^)]+\)$/m);
  assert.doesNotMatch(other, /search\.sigstore\.dev/);
  assert.deepEqual(evidenceLines({ ...row, verified_by: null, bundles: [] } as PackageReport, c, true), []);
});

test('local Sigstore: an RFC 3161 timestamp gives its signing time; a key-signed bundle has no certificate', async (t) => {
  const { startLocalSigstore, publishStatement, generateTestKey } = await import('../helpers/sigstore.ts');
  const sig = await startLocalSigstore();
  t.after(() => sig.close());
  const before = Date.now() - 60_000;
  const statement = publishStatement({ filename: 'x-1.0-h0_0.conda', sha256: 'a'.repeat(64) });
  const tsa = bundleEvidence({ bundle: await sig.attest(statement, { tsa: true, freshCertificate: true }) });
  assert.equal(tsa.timestamps.length, 1);
  const when = Date.parse(tsa.timestamps[0]!.signing_time!);
  assert.ok(when >= before && when <= Date.now() + 60_000, tsa.timestamps[0]!.signing_time!);
  assert.ok(tsa.certificate && Date.parse(tsa.certificate.not_before) <= when && when <= Date.parse(tsa.certificate.not_after), 'timestamp inside the validity window');
  const key = generateTestKey();
  const keyed = bundleEvidence({ bundle: await sig.attestWithKey(statement, { privateKey: key.privateKey }) });
  assert.equal(keyed.certificate, null);
  assert.ok(keyed.tlog && /^[0-9]+$/.test(keyed.tlog.log_index));
  assert.ok(validateEvidence(tsa) && validateEvidence(keyed), ajv.errorsText(validateEvidence.errors));
});
