// Issue 7 end to end: channels that sign with their own long-lived keys. Config
// `trusted_keys` (PEM file and inline PEM, with names), `require_tlog`, key identities in
// the report and the identity lockfile, rotation, key → certificate moves, mixed channels.
// Local Sigstore instance (its Rekor logs the key-signed DSSE entries) + fixture channels.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DSSEBundleBuilder, RekorWitness } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { startLocalSigstore, publishStatement, generateTestKey, DEFAULT_SAN, GITHUB_ISSUER, INTOTO_PAYLOAD_TYPE, TEST_ORG_WORKFLOWS as TRUSTED } from './helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore, TestKey } from './helpers/sigstore.ts';
import { startFixtureChannel, sidecarBytes } from './helpers/channel.ts';
import type { FixtureChannel, FixturePackage } from './helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from './helpers/conda.ts';
import { codes, makeWorkspace, resolveIn, row, runCli, runSession, verifyJson } from './helpers/e2e.ts';
import type { JsonReport, Workspace } from './helpers/e2e.ts';
import { recordFromUrl } from '../src/targets/index.ts';
import type { PackageRecord } from '../src/types.ts';

/** A key pair in the shape of the sigstore helper's TestKey, for any algorithm. */
function keyOf(privateKey: KeyObject, publicKey: KeyObject): TestKey {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

let sig: LocalSigstore;
let priv: FixtureChannel;
let pub: FixtureChannel;
let ws: Workspace;
const keyA = generateTestKey(); // ECDSA P-256, trusted from a PEM file, named
const keyB = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return keyOf(privateKey, publicKey); // RSA, trusted inline, named
})();
const keyE = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return keyOf(privateKey, publicKey); // Ed25519, trusted from a file, no name
})();
const keyC = generateTestKey(); // never trusted

/**
 * Ed25519 signs the message itself (no pre-hash), which the helper's attestWithKey does
 * not support (it signs with sha256). Same builder, same local Rekor, own signer.
 */
async function attestEd25519(statement: object, key: TestKey, tlog = true): Promise<BundleJSON> {
  const builder = new DSSEBundleBuilder({
    signer: { sign: async (d: Buffer) => ({ signature: nodeSign(null, d, key.privateKey), key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.fingerprint } }) },
    witnesses: tlog ? [new RekorWitness({ rekorBaseURL: sig.url, entryType: 'dsse', retry: 0, timeout: 10_000 })] : [],
  });
  return bundleToJSON(await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: INTOTO_PAYLOAD_TYPE })) as BundleJSON;
}

/** Sign a package of the private channel with a key. */
async function keySigned(name: string, key: TestKey, tlog = true): Promise<BundleJSON> {
  const p = priv.get(fn(name));
  const st = publishStatement({ filename: p.filename, sha256: p.sha256, targetChannel: priv.url });
  return key === keyE ? attestEd25519(st, key, tlog) : sig.attestWithKey(st, { privateKey: key.privateKey }, { tlog });
}

const SIGNERS: Record<string, [TestKey, boolean]> = {
  ka: [keyA, true],
  knolog: [keyA, false],
  kwrong: [keyC, true],
  krsa: [keyB, true],
  ked: [keyE, true],
  krot: [keyA, true],
  kmove: [keyA, true],
};

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace('conda-attest-keys-');
  const packages: FixturePackage[] = Object.keys(SIGNERS).map((name) =>
    // krot / kmove: served at .sigs only, so a later run can be given another signer.
    name === 'krot' || name === 'kmove' ? { spec: spec(name), attest: false, advertise: false, serve: ['sigs'] } : { spec: spec(name), attest: false },
  );
  priv = await startFixtureChannel({ name: 'private', packages: [...packages, { spec: spec('nosig'), attest: false }] });
  await Promise.all(
    Object.entries(SIGNERS).map(async ([name, [key, tlog]]) => {
      priv.appendBundles(fn(name), [await keySigned(name, key, tlog)]);
    }),
  );
  pub = await startFixtureChannel({ sigstore: sig, name: 'public', packages: [{ spec: spec('pub') }] });
  ws.write('keys/a.pem', keyA.publicKeyPem);
  ws.write('keys/e.pem', keyE.publicKeyPem);
});

after(async () => {
  await priv?.close();
  await pub?.close();
  await sig?.close();
  ws?.cleanup();
});

function rawConfig(privOver: Record<string, unknown> = {}) {
  return {
    trust_root: sig.trustedRootPath,
    channels: {
      [priv.url]: {
        trusted_keys: [{ key: 'keys/a.pem', name: 'release-2025' }, { key: keyB.publicKeyPem, name: 'release-2026' }, 'keys/e.pem'],
        ...privOver,
      },
      [pub.url]: { trusted_identities: TRUSTED },
    },
  };
}

let lockN = 0;
const freshLock = () => ws.path(`lock-${++lockN}.json`);
const rec = (ch: FixtureChannel, name: string): PackageRecord => ({ ...recordFromUrl(ch.get(fn(name)).url), sha256: ch.get(fn(name)).sha256 });

async function run(names: string[], privOver: Record<string, unknown> = {}, lockfile = freshLock(), frozen = false): Promise<JsonReport> {
  return runSession(resolveIn(ws, rawConfig(privOver)), names.map((n) => rec(priv, n)), { lockfile, frozen });
}

test('key-signed bundles with a Rekor entry verify; identity is kind key with fingerprint and configured name', async () => {
  const report = await run(['ka', 'krsa', 'ked']);
  const want: [string, TestKey, string][] = [
    ['ka', keyA, 'release-2025'], // PEM file, named
    ['krsa', keyB, 'release-2026'], // inline PEM, named
    ['ked', keyE, keyE.fingerprint], // PEM file, unnamed: the name defaults to the fingerprint
  ];
  for (const [name, key, keyName] of want) {
    const p = row(report, fn(name));
    assert.equal(p.status, 'verified', `${name}: ${JSON.stringify(p.reasons)}`);
    assert.equal(p.action, 'pass');
    // A key has no certificate: every Fulcio claim key is present and null (the report
    // schema requires all 16, null when absent; see docs/evidence.md).
    const { kind, key_fingerprint, key_name, ...claims } = p.identity as unknown as Record<string, unknown>;
    assert.deepEqual({ kind, key_fingerprint, key_name }, { kind: 'key', key_fingerprint: key.fingerprint, key_name: keyName });
    assert.equal(Object.keys(claims).length, 16);
    assert.ok(Object.values(claims).every((v) => v === null), JSON.stringify(claims));
    assert.equal(p.bundles[0]!.tlog, true);
  }
});

test('require_tlog: without a Rekor entry → invalid (TLOG_REQUIRED) by default; verified and reported signature-only when false', async () => {
  const strict = await run(['knolog']);
  const s = row(strict, fn('knolog'));
  assert.equal(s.status, 'invalid');
  assert.equal(s.action, 'block');
  assert.ok(codes(s).includes('TLOG_REQUIRED'), JSON.stringify(s.reasons));
  assert.equal(s.identity, null);

  const relaxed = await run(['knolog', 'ka'], { require_tlog: false });
  const r = row(relaxed, fn('knolog'));
  assert.equal(r.status, 'verified', JSON.stringify(r.reasons));
  assert.equal(r.identity!.key_fingerprint, keyA.fingerprint);
  assert.equal(r.bundles[0]!.tlog, false, 'the bundle is reported without a log entry');
  assert.ok(r.notes.some((n) => /signature-only/.test(n)), `signature-only not reported: ${JSON.stringify(r.notes)}`);
  // A bundle that does have a log entry is not labelled signature-only.
  assert.ok(!row(relaxed, fn('ka')).notes.some((n) => /signature-only/.test(n)));
});

test('attacker: a bundle signed with a key that is not trusted → untrusted (KEY_UNTRUSTED), under require_tlog false too', async () => {
  for (const over of [{}, { require_tlog: false }]) {
    const report = await run(['kwrong'], over);
    const p = row(report, fn('kwrong'));
    assert.equal(p.status, 'untrusted', JSON.stringify(p.reasons));
    assert.equal(p.action, 'block');
    assert.ok(codes(p).includes('KEY_UNTRUSTED'), JSON.stringify(p.reasons));
    assert.equal(p.identity, null);
  }
  // Attacker: an untrusted key's signature carrying the hint of a trusted key.
  const p = priv.get(fn('kwrong'));
  const forged = await sig.attestWithKey(publishStatement({ filename: p.filename, sha256: p.sha256, targetChannel: priv.url }), { privateKey: keyC.privateKey, hint: keyA.fingerprint });
  priv.setFault(p.sidecarUrls.sigs, { kind: 'body', body: sidecarBytes([forged]) });
  try {
    const r = await run(['kwrong'], { discovery: ['sigs'] });
    assert.equal(row(r, fn('kwrong')).status, 'untrusted', 'a borrowed key hint does not make a signature trusted');
  } finally {
    priv.clearFaults();
  }
});

test('key selection: a stale or foreign hint falls back to trying each trusted key', async () => {
  const p = priv.get(fn('kwrong'));
  const st = publishStatement({ filename: p.filename, sha256: p.sha256, targetChannel: priv.url });
  // Signed with trusted key B, but hinting at key A (e.g. a publisher's tooling bug).
  const misHinted = await sig.attestWithKey(st, { privateKey: keyB.privateKey, hint: keyA.fingerprint });
  priv.setFault(p.sidecarUrls.sigs, { kind: 'body', body: sidecarBytes([misHinted]) });
  try {
    const r = row(await run(['kwrong'], { discovery: ['sigs'] }), fn('kwrong'));
    assert.equal(r.status, 'verified', JSON.stringify(r.reasons));
    // The identity is the key that verified, not the one the hint named.
    assert.equal(r.identity!.key_fingerprint, keyB.fingerprint);
    assert.equal(r.identity!.key_name, 'release-2026');
  } finally {
    priv.clearFaults();
  }
});

test('key rotation: re-signed with the second trusted key → identity-changed against the lockfile', async () => {
  const lock = freshLock();
  const first = await run(['krot'], {}, lock);
  assert.equal(row(first, fn('krot')).status, 'verified');
  const pinned = readFileSync(lock, 'utf8');
  assert.ok(pinned.includes(keyA.fingerprint), 'the first run pinned key A');

  const krot = priv.get(fn('krot'));
  priv.setFault(krot.sidecarUrls.sigs, { kind: 'body', body: sidecarBytes([await keySigned('krot', keyB)]) });
  try {
    const second = await run(['krot'], {}, lock, true);
    const p = row(second, fn('krot'));
    assert.equal(p.status, 'identity-changed', JSON.stringify(p.reasons));
    assert.equal(p.action, 'block');
    assert.deepEqual(codes(p), ['IDENTITY_CHANGED']);
    assert.equal(p.identity!.key_fingerprint, keyB.fingerprint);
    const diff = JSON.stringify(p.identity_diff);
    assert.ok(diff.includes(keyA.fingerprint) && diff.includes(keyB.fingerprint), `diff names both keys: ${diff}`);
    assert.equal(readFileSync(lock, 'utf8'), pinned, 'frozen run left the lockfile alone');
  } finally {
    priv.clearFaults();
  }
});

test('a package moving from a key to a certificate identity is an identity change', async () => {
  const lock = freshLock();
  assert.equal(row(await run(['kmove'], {}, lock), fn('kmove')).status, 'verified');
  const kmove = priv.get(fn('kmove'));
  const certSigned = await sig.attest(publishStatement({ filename: kmove.filename, sha256: kmove.sha256, targetChannel: priv.url }));
  priv.setFault(kmove.sidecarUrls.sigs, { kind: 'body', body: sidecarBytes([certSigned]) });
  try {
    // No trusted_identities on this channel: any verified certificate signer is accepted,
    // and only the identity lockfile notices the change.
    const p = row(await run(['kmove'], {}, lock), fn('kmove'));
    assert.equal(p.status, 'identity-changed', JSON.stringify(p.reasons));
    assert.equal(p.identity!.kind, 'github');
    assert.equal(p.identity!.san, DEFAULT_SAN);
    // With trusted_identities that do not cover it, the certificate is simply untrusted.
    const q = row(await run(['kmove'], { trusted_identities: [{ identity: 'https://github.com/private-org/**', issuer: GITHUB_ISSUER }] }, freshLock()), fn('kmove'));
    assert.equal(q.status, 'untrusted');
  } finally {
    priv.clearFaults();
  }
});

test('CLI: mixed channels (keyless and key-signed) in one run; exit 0 and both identities reported', async () => {
  ws.writeConfig(rawConfig());
  ws.write('env/explicit.txt', `@EXPLICIT\n${pub.get(fn('pub')).url}#${pub.get(fn('pub')).sha256}\n${priv.get(fn('ka')).url}#${priv.get(fn('ka')).sha256}\n${priv.get(fn('nosig')).url}#${priv.get(fn('nosig')).sha256}\n`);
  const { code, report } = await verifyJson(ws, ['--lockfile', 'mixed.lock', 'env/explicit.txt']);
  assert.equal(code, 1, 'nosig is missing on the key-signed channel');
  assert.equal(row(report, fn('pub')).status, 'verified');
  assert.equal(row(report, fn('pub')).identity!.kind, 'github');
  assert.equal(row(report, fn('ka')).status, 'verified');
  assert.equal(row(report, fn('ka')).identity!.kind, 'key');
  assert.equal(row(report, fn('ka')).identity!.key_name, 'release-2025');
  assert.deepEqual([row(report, fn('nosig')).status, row(report, fn('nosig')).action], ['missing', 'block']);
  const lock = ws.read('mixed.lock');
  assert.ok(lock.includes(keyA.fingerprint) && lock.includes('test-org/test-feedstock'), 'both kinds pinned in the lockfile');

  const ok = await verifyJson(ws, ['--lockfile', 'mixed.lock', '--frozen', pub.get(fn('pub')).url, priv.get(fn('ka')).url]);
  assert.equal(ok.code, 0);
});

test('CLI: an unusable trusted key is a config error (exit 2) naming the entry', async () => {
  ws.write('keys/garbage.pem', '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n');
  ws.write('keys/private.pem', keyC.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  const cfg = ws.writeConfig(
    { trust_root: sig.trustedRootPath, channels: { [priv.url]: { trusted_keys: [{ key: 'keys/a.pem', name: 'ok' }, 'keys/garbage.pem', { key: 'keys/private.pem', name: 'oops' }] } } },
    'badkeys.json',
  );
  const r = await runCli(ws, ['verify', '--json', '--config', cfg, priv.get(fn('ka')).url]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /CONFIG_KEY_INVALID/);
  assert.ok(r.stderr.includes(`channels["${priv.url}"].trusted_keys[1]`), r.stderr);
  assert.ok(r.stderr.includes(`channels["${priv.url}"].trusted_keys[2]`), r.stderr);
  assert.match(r.stderr, /PRIVATE key/);
  assert.ok(!r.stderr.includes('trusted_keys[0]'), 'the good key is not reported');
});
