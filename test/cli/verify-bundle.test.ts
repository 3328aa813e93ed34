import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyBundleCommand } from '../../src/cli/verify-bundle.ts';
import { runInProcess, type InProcessResult } from '../helpers/cli-io.ts';
import { X509Certificate } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020.js';
import reportSchema from '../../schema/report.schema.json' with { type: 'json' };

// The one result type of verify-bundle (and the browser build's verifyBundle): schema/report.schema.json#/$defs/bundle_result.
const AjvClass = ((Ajv2020 as unknown as { default?: unknown }).default ?? Ajv2020) as unknown as typeof Ajv2020.default;
const ajv = new AjvClass({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addSchema(reportSchema as object);
const validateResult = ajv.getSchema('https://conda-attest.dev/schema/report.schema.json#/$defs/bundle_result')!;
function assertBundleResult(o: unknown): void {
  assert.ok(validateResult(o), ajv.errorsText(validateResult.errors));
}

const shared = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared');
const skip = existsSync(shared) ? false : 'needs ../shared (absent in a fresh clone)';
const conf = (c: string, f: string) => join(shared, 'conformance', c, f);
const BEACON = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const GHA = 'https://token.actions.githubusercontent.com';

async function run(argv: string[]): Promise<InProcessResult> {
  const home = mkdtempSync(join(tmpdir(), 'conda-attest-vb-'));
  try {
    return await runInProcess(verifyBundleCommand, argv, { env: { HOME: home, XDG_CACHE_HOME: join(home, 'c') }, cwd: home });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function oneLine(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.ok(lines[0]!.startsWith(`${code}: `), stderr);
}

test('usage: --key together with a certificate identity is refused (exit 2)', { skip }, async () => {
  const r = await run(['--bundle', conf('managed-key-happy-path', 'bundle.sigstore.json'), '--key', conf('managed-key-happy-path', 'key.pub'), '--certificate-identity', BEACON, '--certificate-oidc-issuer', GHA, join(shared, 'conformance', 'a.txt')]);
  assert.equal(r.code, 2);
  oneLine(r.stderr, 'USAGE_INVALID_ARGUMENT');
});

test('usage: identity without issuer, missing bundle, no artifact', async () => {
  oneLine((await run(['--bundle', 'b.json', '--certificate-identity', BEACON, 'a.txt'])).stderr, 'USAGE_INVALID_ARGUMENT');
  oneLine((await run(['--key', 'k.pem', 'a.txt'])).stderr, 'USAGE_MISSING_ARGUMENT');
  oneLine((await run(['--bundle', 'b.json', '--key', 'k.pem'])).stderr, 'USAGE_INVALID_ARGUMENT');
});

test('artifact: neither a file nor sha256:<64 hex> → TARGET_NOT_FOUND', async () => {
  const r = await run(['--bundle', 'b.json', '--key', 'k.pem', 'sha256:abc']);
  assert.equal(r.code, 2);
  oneLine(r.stderr, 'TARGET_NOT_FOUND');
});

test('happy path prints OK and exits 0; identity and issuer are compared exactly', { skip }, async () => {
  const base = ['--bundle', conf('happy-path-v0.3', 'bundle.sigstore.json'), join(shared, 'conformance', 'a.txt')];
  const ok = await run(['--certificate-identity', BEACON, '--certificate-oidc-issuer', GHA, ...base]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^OK: verified/);
  // Attacker-style near misses: a prefix of the SAN, another ref, another issuer.
  for (const [id, iss] of [[BEACON.replace('@refs/heads/main', ''), GHA], [BEACON.replace('main', 'evil'), GHA], [BEACON, 'https://accounts.google.com']]) {
    const r = await run(['--certificate-identity', id!, '--certificate-oidc-issuer', iss!, ...base]);
    assert.equal(r.code, 1);
    oneLine(r.stderr, 'IDENTITY_MISMATCH');
  }
});

test('--key on a certificate-signed bundle is not a key verification', { skip }, async () => {
  const r = await run(['--bundle', conf('happy-path-v0.3', 'bundle.sigstore.json'), '--key', conf('managed-key-happy-path', 'key.pub'), join(shared, 'conformance', 'a.txt')]);
  assert.equal(r.code, 1);
  oneLine(r.stderr, 'KEY_UNTRUSTED');
});

test('a file named like a digest is read as a file', { skip }, async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-vb-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const name = 'sha256:' + '0'.repeat(64);
  writeFileSync(join(d, name), readFileSync(join(shared, 'conformance', 'a.txt')));
  const r = await run(['--bundle', conf('happy-path-v0.3', 'bundle.sigstore.json'), '--certificate-identity', BEACON, '--certificate-oidc-issuer', GHA, join(d, name)]);
  assert.equal(r.code, 0, r.stderr);
});

test('the interop publish attestation verifies through verify-bundle (DSSE subject = package)', { skip }, async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-vb-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const sigs = JSON.parse(readFileSync(join(shared, 'interop', 'signed-package-2.1.0-hb0f4dca_0.conda.sigs'), 'utf8'));
  writeFileSync(join(d, 'b.json'), JSON.stringify(sigs[0]));
  const id = 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main';
  const ok = await run(['--bundle', join(d, 'b.json'), '--certificate-identity', id, '--certificate-oidc-issuer', GHA, join(shared, 'interop', 'signed-package-2.1.0-hb0f4dca_0.conda')]);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await run(['--bundle', join(d, 'b.json'), '--certificate-identity', id, '--certificate-oidc-issuer', GHA, join(shared, 'conformance', 'a.txt')]);
  assert.equal(bad.code, 1);
  oneLine(bad.stderr, 'ARTIFACT_DIGEST_MISMATCH');
});

test('--format json prints one object {verified, code, message, identity, evidence} for every outcome; --json is its alias', { skip }, async () => {
  const base = ['--bundle', conf('happy-path-v0.3', 'bundle.sigstore.json'), join(shared, 'conformance', 'a.txt')];
  const ok = await run(['--format', 'json', '--certificate-identity', BEACON, '--certificate-oidc-issuer', GHA, ...base]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '');
  const o = JSON.parse(ok.stdout);
  assert.deepEqual(Object.keys(o), ['verified', 'code', 'message', 'identity', 'evidence']);
  assertBundleResult(o);
  assert.equal(o.verified, true);
  assert.equal(o.code, null);
  assert.equal(o.identity.san, BEACON);
  assert.equal(o.identity.issuer, GHA);
  // A mismatch still names the identity that did sign (the reviewer needs it).
  const bad = await run(['--json', '--certificate-identity', BEACON.replace('main', 'evil'), '--certificate-oidc-issuer', GHA, ...base]);
  assert.equal(bad.code, 1);
  const b = JSON.parse(bad.stdout);
  assert.equal(b.verified, false);
  assert.equal(b.code, 'IDENTITY_MISMATCH');
  assert.equal(b.identity.san, BEACON);
  assert.equal(bad.stderr, '');
  assertBundleResult(b);
  // Sigstore passed, the identity did not: the checks say exactly that.
  assert.equal(b.evidence.checks.signature, true);
  assert.equal(b.evidence.checks.identity_policy, false);
});

test('--format json on an input error is still one object (exit 2); an unknown format is a usage error', async () => {
  const r = await run(['--format', 'json', '--bundle', 'b.json', '--key', 'k.pem', 'sha256:abc']);
  assert.equal(r.code, 2);
  assert.deepEqual(JSON.parse(r.stdout), { verified: false, code: 'TARGET_NOT_FOUND', message: 'The artifact sha256:abc is neither a file nor a sha256:<64 hex> digest.', identity: null, evidence: null });
  const u = await run(['--format', 'yaml', '--bundle', 'b.json', '--key', 'k.pem', 'a.txt']);
  assert.equal(u.code, 2);
  oneLine(u.stderr, 'USAGE_INVALID_ARGUMENT');
});

test('interop evidence: log index, inclusion-proof origin and tree size, integrated time and validity window equal the bundle\'s own fields and its certificate\'s; all 16 claims present', { skip }, async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-vb-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const bundle = JSON.parse(readFileSync(join(shared, 'interop', 'signed-package-2.1.0-hb0f4dca_0.conda.sigs'), 'utf8'))[0];
  writeFileSync(join(d, 'b.json'), JSON.stringify(bundle));
  const id = 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main';
  const r = await run(['--format', 'json', '--bundle', join(d, 'b.json'), '--certificate-identity', id, '--certificate-oidc-issuer', GHA, join(shared, 'interop', 'signed-package-2.1.0-hb0f4dca_0.conda')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const o = JSON.parse(r.stdout);
  assertBundleResult(o);
  const entry = bundle.verificationMaterial.tlogEntries[0];
  const ev = o.evidence;
  // The transparency-log entry, as the bundle carries it (the fields rattler reports from).
  assert.equal(ev.tlog.log_index, entry.logIndex);
  assert.equal(ev.tlog.integrated_time, new Date(Number(entry.integratedTime) * 1000).toISOString());
  assert.equal(ev.tlog.log_id, Buffer.from(entry.logId.keyId, 'base64').toString('hex'));
  assert.deepEqual(ev.tlog.kind_version, entry.kindVersion);
  assert.equal(ev.tlog.inclusion_proof.origin, entry.inclusionProof.checkpoint.envelope.split('\n')[0]);
  assert.equal(ev.tlog.inclusion_proof.origin, 'rekor.sigstore.dev - 1193050959916656506');
  assert.equal(ev.tlog.inclusion_proof.tree_size, entry.inclusionProof.treeSize);
  assert.equal(ev.tlog.inclusion_proof.log_index, entry.inclusionProof.logIndex);
  assert.equal(ev.tlog.inclusion_proof.root_hash, Buffer.from(entry.inclusionProof.rootHash, 'base64').toString('hex'));
  assert.equal(ev.tlog.inclusion_promise, true);
  // The validity window and issuer, read independently with Node's own X.509 parser.
  const cert = new X509Certificate(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'));
  assert.equal(ev.certificate.not_before, new Date(cert.validFrom).toISOString());
  assert.equal(ev.certificate.not_after, new Date(cert.validTo).toISOString());
  assert.equal(ev.certificate.serial, cert.serialNumber.toLowerCase());
  assert.deepEqual(ev.certificate.issuer_dn.split(',').sort(), cert.issuer.split('\n').sort());
  assert.deepEqual(ev.timestamps, []);
  // Every check that ran passed; the CEP 27 checks are not verify-bundle's.
  for (const k of ['bundle_format', 'timestamp', 'certificate_chain', 'sct', 'tlog_inclusion', 'signature', 'subject_digest', 'identity_policy']) assert.equal(ev.checks[k], true, k);
  for (const k of ['subject_name', 'predicate_type', 'target_channel', 'claims_policy']) assert.equal(ev.checks[k], null, k);
  // All 16 claims, null when absent.
  const claims = ['build_signer_uri', 'build_signer_digest', 'runner_environment', 'source_repository_uri', 'source_repository_digest', 'source_repository_ref', 'source_repository_id', 'source_repository_owner_uri', 'source_repository_owner_id', 'build_config_uri', 'build_config_digest', 'build_trigger', 'run_invocation_uri', 'source_repository_visibility', 'deployment_environment', 'token_subject'];
  for (const c of claims) assert.ok(Object.hasOwn(o.identity, c), c);
  assert.equal(o.identity.source_repository_id, '1048392115');
  assert.equal(o.identity.source_repository_owner_id, '111356225');
  assert.equal(o.identity.deployment_environment, null);
  const sha = o.identity.source_repository_digest;
  assert.deepEqual(ev.links, {
    commit: `https://github.com/prefix-dev/sigstore-example/commit/${sha}`,
    workflow: `https://github.com/prefix-dev/sigstore-example/blob/${sha}/.github/workflows/action.yaml`,
    run: o.identity.run_invocation_uri,
  });
});
