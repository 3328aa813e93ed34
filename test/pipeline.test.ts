// End-to-end through the pipeline (createSession) against a local Sigstore instance and
// loopback fixture channels: every status × action, each discovery method and
// its order, each retrieval failure (CEP 50), mirrors and targetChannel, TOFU changes.
// Every report is round-tripped through the published JSON and checked against
// schema/report.schema.json (test/helpers/e2e.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startLocalSigstore, publishStatement, tamperBundle, DEFAULT_SAN, GITHUB_ISSUER, TEST_ORG_WORKFLOWS as TRUSTED } from './helpers/sigstore.ts';
import type { LocalSigstore } from './helpers/sigstore.ts';
import { startFixtureChannel, sidecarBytes } from './helpers/channel.ts';
import type { FixtureChannel, FixturePackage } from './helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from './helpers/conda.ts';
import { codes, makeWorkspace, resolveIn, row, runSession } from './helpers/e2e.ts';
import type { JsonReport, Workspace } from './helpers/e2e.ts';
import { recordFromUrl } from '../src/targets/index.ts';
import type { PackageRecord, RequireMode } from '../src/types.ts';

const STRANGER = 'https://github.com/evil-org/test-feedstock/.github/workflows/build.yml@refs/heads/main';
const OTHER_FEEDSTOCK = 'https://github.com/test-org/other-feedstock/.github/workflows/build.yml@refs/heads/main';
const SLSA = 'https://slsa.dev/provenance/v1';

let sig: LocalSigstore;
let forge: FixtureChannel;
let mirror: FixtureChannel;
let ws: Workspace;

/** Packages whose bundles need the channel URL (or their own digest) are signed after start. */
const LATE: Record<string, (filename: string, sha256: string) => Promise<object[]>> = {
  otherbytes: async (f) => [await sig.attest(publishStatement({ filename: f, sha256: createHash('sha256').update('other bytes').digest('hex'), targetChannel: forge.url }))],
  subjname: async (_f, s) => [await sig.attest(publishStatement({ filename: fn('somethingelse'), sha256: s, targetChannel: forge.url }))],
  twosubj: async (f, s) =>
    [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: forge.url, extraSubjects: [{ name: fn('extra'), digest: { sha256: s } }] }))],
  slsa: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, predicateType: SLSA, predicate: { buildDefinition: {} } }))],
  tamperedsig: async (f, s) => [tamperBundle(await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: forge.url })), 'signature')],
};

/** Expected status under every require mode (the channel-level verdict does not depend on it). */
const MATRIX: Record<string, { status: string; code?: string }> = {
  good: { status: 'verified' },
  bare: { status: 'missing', code: 'NO_ATTESTATIONS' },
  otherbytes: { status: 'invalid', code: 'CEP27_SUBJECT_DIGEST' },
  subjname: { status: 'invalid', code: 'CEP27_SUBJECT_NAME' },
  twosubj: { status: 'invalid', code: 'CEP27_SUBJECT_COUNT' },
  // A sidecar holding only SLSA provenance has no publish attestation: `missing`
  // (NO_PUBLISH_ATTESTATION), never verified; blocked under `error` (src/policy/verdict.ts).
  slsa: { status: 'missing', code: 'NO_PUBLISH_ATTESTATION' },
  elsewhere: { status: 'invalid', code: 'CEP27_TARGET_CHANNEL_MISMATCH' },
  tamperedsig: { status: 'invalid', code: 'SIGSTORE_VERIFICATION_FAILED' },
  stranger: { status: 'untrusted', code: 'IDENTITY_UNTRUSTED' },
  badissuer: { status: 'untrusted', code: 'IDENTITY_UNTRUSTED' },
};

const EXPECTED_ACTION: Record<RequireMode, Record<string, string>> = {
  error: { verified: 'pass', missing: 'block', invalid: 'block', untrusted: 'block', 'identity-changed': 'block', 'retrieval-failed': 'block', skipped: 'pass' },
  warn: { verified: 'pass', missing: 'warn', invalid: 'warn', untrusted: 'warn', 'identity-changed': 'warn', 'retrieval-failed': 'warn', skipped: 'pass' },
  ignore: { verified: 'pass', missing: 'pass', invalid: 'warn', untrusted: 'warn', 'identity-changed': 'warn', 'retrieval-failed': 'warn', skipped: 'pass' },
};

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace();
  const packages: FixturePackage[] = [
    { spec: spec('good') },
    { spec: spec('bare'), attest: false },
    ...Object.keys(LATE).map((name) => ({ spec: spec(name), attest: false })),
    { spec: spec('elsewhere'), targetChannel: 'https://prefix.dev/some-other-channel' },
    { spec: spec('stranger'), signOptions: { san: STRANGER } },
    { spec: spec('badissuer'), signOptions: { san: DEFAULT_SAN, issuer: 'https://issuer.evil.example' } },
    // retrieval failures (faults are set per test)
    ...['r404', 'r500', 'rbig', 'rmismatch', 'rtruncated', 'rtimeout'].map((name) => ({ spec: spec(name) })),
    { spec: spec('rmalformed'), sidecarBody: '[{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", ' },
    { spec: spec('rbadhash'), advertisedSha256: 'ABCDEF'.padEnd(64, '0') },
    // discovery
    { spec: spec('viasigs'), advertise: false, serve: ['sigs'] },
    { spec: spec('viav0'), advertise: false, serve: ['v0'] },
    { spec: spec('emptysigs'), advertise: false, sidecarBody: '[]', serve: ['sigs'] },
    // identity change across runs (served at .sigs only, so a fault can swap the signer)
    { spec: spec('rot'), advertise: false, serve: ['sigs'] },
    { spec: spec('grows') },
  ];
  forge = await startFixtureChannel({ sigstore: sig, name: 'forge', packages });
  await Promise.all(
    Object.entries(LATE).map(async ([name, make]) => {
      const p = forge.get(fn(name));
      forge.appendBundles(p.filename, (await make(p.filename, p.sha256)) as never[]);
    }),
  );
  // A mirror serving the same bytes, attested for the canonical channel (CEP 27 targetChannel).
  mirror = await startFixtureChannel({ sigstore: sig, name: 'mirror', packages: [{ spec: spec('good'), targetChannel: forge.url }] });
  assert.equal(mirror.get(fn('good')).sha256, forge.get(fn('good')).sha256, 'mirror must serve the same bytes');
});

after(async () => {
  await forge?.close();
  await mirror?.close();
  await sig?.close();
  ws?.cleanup();
});

let lockN = 0;
/** A fresh identity lockfile per run unless one is given (TOFU state must not leak between tests). */
const freshLock = () => ws.path(`lock-${++lockN}.json`);

function config(channelOver: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  return resolveIn(ws, {
    trust_root: sig.trustedRootPath,
    cache_dir: 'cache',
    http: { retries: 2, timeout_ms: 3000, connect_timeout_ms: 2000 },
    channels: { [forge.url]: { trusted_identities: TRUSTED, ...channelOver } },
    ...top,
  });
}

/** A lockfile-style record (URL + sha256), as pixi.lock or an explicit file would give. */
function rec(ch: FixtureChannel, name: string, withSha = true): PackageRecord {
  const p = ch.get(fn(name));
  return { ...recordFromUrl(p.url), ...(withSha ? { sha256: p.sha256 } : {}) };
}

async function verifyNames(names: string[], cfg = config(), opts: Parameters<typeof runSession>[2] = {}): Promise<JsonReport> {
  return runSession(cfg, names.map((n) => rec(forge, n)), { lockfile: freshLock(), ...opts });
}

for (const require of ['error', 'warn', 'ignore'] as const) {
  test(`status × action under require: ${require}`, async () => {
    const report = await verifyNames(Object.keys(MATRIX), config({ require }));
    for (const [name, want] of Object.entries(MATRIX)) {
      const p = row(report, fn(name));
      assert.equal(p.status, want.status, `${name}: ${JSON.stringify(p.reasons)}`);
      assert.equal(p.action, EXPECTED_ACTION[require][want.status], `${name} under ${require}`);
      if (want.code) assert.ok(codes(p).includes(want.code), `${name}: expected ${want.code} in ${codes(p)}`);
      // Only the verified row carries an identity; nothing else may look verified.
      if (want.status === 'verified') {
        assert.equal(p.identity?.san, DEFAULT_SAN);
        assert.equal(p.identity?.issuer, GITHUB_ISSUER);
        assert.equal(p.digest_source, 'lockfile');
        assert.deepEqual(p.notes, ['recorded']);
      } else {
        assert.equal(p.identity, null, name);
      }
    }
    const s = report.summary;
    assert.equal(s.total, Object.keys(MATRIX).length);
    assert.equal(s.verified, 1);
    assert.equal(s.blocked, require === 'error' ? s.total - 1 : 0);
    // ignore: missing packages (bare, slsa) pass silently, every other failure warns.
    assert.equal(s.warned, require === 'warn' ? s.total - 1 : require === 'ignore' ? s.total - 3 : 0);
    // Rows are sorted (deterministic output whatever order verification finished in).
    const names = report.packages.map((p) => p.filename);
    assert.deepEqual(names, [...names].sort());
  });
}

test('SLSA provenance next to a good publish attestation is listed but does not count; alone it never verifies', async () => {
  const report = await verifyNames(['slsa', 'good']);
  const slsa = row(report, fn('slsa'));
  assert.equal(slsa.bundles.length, 1);
  assert.equal(slsa.bundles[0]!.publish, false);
  assert.equal(slsa.bundles[0]!.verified, true, 'the SLSA bundle itself is a valid signature');
  assert.equal(slsa.status, 'missing');
  assert.equal(slsa.action, 'block');
});

test('tampered package bytes (hashed from the download) → invalid, not verified', async () => {
  const good = forge.get(fn('good'));
  const altered = Buffer.from(good.bytes);
  altered[altered.length - 10] ^= 0x01;
  forge.setFault(good.url, { kind: 'body', body: altered, contentType: 'application/octet-stream' });
  try {
    // A package URL target: no lockfile digest, so the bytes are hashed.
    const report = await runSession(config(), [rec(forge, 'good', false)], { lockfile: freshLock() });
    const p = row(report, fn('good'));
    assert.equal(p.digest_source, 'artifact');
    assert.equal(p.sha256, createHash('sha256').update(altered).digest('hex'));
    assert.equal(p.status, 'invalid');
    assert.equal(p.action, 'block');
    assert.ok(codes(p).includes('CEP27_SUBJECT_DIGEST'), JSON.stringify(p.reasons));
    // With the lockfile's sha256 and --download semantics: the mismatch is caught before attestations.
    const pinned = await runSession(config(), [rec(forge, 'good')], { lockfile: freshLock(), download: true });
    const q = row(pinned, fn('good'));
    assert.equal(q.status, 'invalid');
    assert.deepEqual(codes(q), ['PACKAGE_DIGEST_MISMATCH']);
    assert.equal(q.action, 'block');
  } finally {
    forge.clearFaults();
  }
  // Untampered: the same download verifies with digest_source artifact.
  const clean = await runSession(config(), [rec(forge, 'good', false)], { lockfile: freshLock() });
  assert.equal(row(clean, fn('good')).status, 'verified');
  assert.equal(row(clean, fn('good')).digest_source, 'artifact');
});

test('mirrors: a configured mirror is judged by the canonical channel and its targetChannel is accepted', async () => {
  const withMirror = config({ mirrors: [mirror.url] });
  const report = await runSession(withMirror, [rec(mirror, 'good')], { lockfile: freshLock() });
  const p = row(report, fn('good'));
  assert.equal(p.channel, forge.url, 'reported under the canonical channel');
  assert.equal(p.url, mirror.get(fn('good')).url);
  assert.equal(p.status, 'verified', JSON.stringify(p.reasons));
  assert.ok(p.sidecar!.url.startsWith(mirror.url), 'sidecar fetched from where the package is fetched');

  // Attacker: the same mirror without a mirror rule, checked under the default policy →
  // the attestation names another channel: invalid, blocked.
  const noRule = config({}, { default: { enabled: true, trusted_identities: TRUSTED } });
  const r2 = await runSession(noRule, [rec(mirror, 'good')], { lockfile: freshLock() });
  const q = row(r2, fn('good'));
  assert.equal(q.channel, mirror.url);
  assert.equal(q.status, 'invalid');
  assert.ok(codes(q).includes('CEP27_TARGET_CHANNEL_MISMATCH'), JSON.stringify(q.reasons));
  assert.equal(q.action, 'block');
});

test('skipped: enabled: false and unlisted channels fetch NOTHING', async () => {
  forge.clearRequests();
  mirror.clearRequests();
  const off = config({ enabled: false });
  // Even with downloads requested: a disabled channel is never contacted.
  const report = await runSession(off, [rec(forge, 'good'), rec(forge, 'bare', false), rec(mirror, 'good')], { lockfile: freshLock(), download: true });
  for (const p of report.packages) {
    assert.equal(p.status, 'skipped');
    assert.equal(p.action, 'pass');
    assert.equal(p.sidecar, null);
    assert.deepEqual(codes(p), ['CHANNEL_DISABLED'], 'the skip says why');
  }
  assert.equal(report.summary.skipped, 3);
  assert.deepEqual(forge.requests, [], 'disabled channel was contacted');
  assert.deepEqual(mirror.requests, [], 'unlisted channel (default disabled) was contacted');
  assert.equal(report.trust_root, null, 'no trust root needed when nothing is verified');
});

test('retrieval failures of an advertised sidecar are retrieval-failed, never missing, and discovery stops', async () => {
  const cfg = config({ require: 'error' }, { max_sidecar_bytes: 65536, http: { retries: 2, timeout_ms: 800, connect_timeout_ms: 800 } });
  const hashUrl = (name: string) => forge.get(fn(name)).sidecarUrls.hash;
  forge.setFault(hashUrl('r404'), { kind: 'status', status: 404 });
  forge.setFault(hashUrl('r500'), { kind: 'status', status: 500 });
  forge.setFault(hashUrl('rbig'), { kind: 'oversized', bytes: 70_000 });
  forge.setFault(hashUrl('rmismatch'), { kind: 'mismatch' });
  forge.setFault(hashUrl('rtruncated'), { kind: 'malformed' });
  forge.setFault(hashUrl('rtimeout'), { kind: 'hang' });
  forge.clearRequests();
  const names = ['r404', 'r500', 'rbig', 'rmismatch', 'rtruncated', 'rtimeout', 'rmalformed', 'rbadhash'];
  let report: JsonReport;
  try {
    report = await verifyNames(names, cfg);
  } finally {
    forge.clearFaults();
  }
  const want: Record<string, string> = {
    r404: 'SIDECAR_NOT_FOUND',
    r500: 'SIDECAR_UNAVAILABLE',
    rbig: 'SIDECAR_TOO_LARGE',
    rmismatch: 'SIDECAR_HASH_MISMATCH',
    // Truncated body: the hash is checked before parsing (CEP 50), so it is a hash mismatch.
    rtruncated: 'SIDECAR_HASH_MISMATCH',
    rtimeout: 'SIDECAR_UNAVAILABLE',
    // Advertised hash matches but the body is not JSON.
    rmalformed: 'SIDECAR_MALFORMED',
    rbadhash: 'REPODATA_INVALID_ATTESTATIONS_SHA256',
  };
  for (const [name, code] of Object.entries(want)) {
    const p = row(report, fn(name));
    assert.equal(p.status, 'retrieval-failed', `${name}: ${JSON.stringify(p.reasons)}`);
    assert.equal(p.action, 'block', name);
    assert.deepEqual(codes(p), [code], name);
    // Attacker (downgrade): after a failed advertised sidecar, the mutable URLs are not tried.
    const pk = forge.get(fn(name));
    assert.equal(forge.requestsTo(pk.sidecarUrls.sigs).length, 0, `${name}: fell back to .sigs`);
    assert.equal(forge.requestsTo(pk.sidecarUrls.v0).length, 0, `${name}: fell back to .v0.sigs`);
  }
  // Bounded retries on 5xx only: 1 + 2; a 404 is not retried.
  assert.equal(forge.requestsTo(hashUrl('r500')).length, 3);
  assert.equal(forge.requestsTo(hashUrl('r404')).length, 1);
  // An invalid attestations_sha256 is rejected before any sidecar URL is built.
  assert.equal(forge.requests.filter((r) => r.path.includes(`${fn('rbadhash')}.`)).length, 0);

  // The same failures under warn: a warning, and the run passes.
  const warned = await verifyNames(['rmalformed', 'rbadhash'], config({ require: 'warn' }));
  for (const p of warned.packages) assert.deepEqual([p.status, p.action], ['retrieval-failed', 'warn']);
});

test('discovery: repodata → .sigs.<sha>, then sigs, then v0-sigs; probes that 404 or are empty mean missing', async () => {
  forge.clearRequests();
  const report = await verifyNames(['good', 'viasigs', 'viav0', 'emptysigs', 'bare']);
  const good = row(report, fn('good'));
  assert.equal(good.sidecar!.method, 'repodata');
  assert.equal(good.sidecar!.url, forge.get(fn('good')).sidecarUrls.hash);
  assert.equal(good.sidecar!.sha256, forge.get(fn('good')).sidecarSha256);
  assert.equal(forge.requestsTo(forge.get(fn('good')).sidecarUrls.sigs).length, 0, 'found by repodata: no probing');
  assert.equal(row(report, fn('viasigs')).sidecar!.method, 'sigs');
  assert.equal(row(report, fn('viasigs')).status, 'verified');
  assert.equal(row(report, fn('viav0')).sidecar!.method, 'v0-sigs');
  assert.equal(row(report, fn('viav0')).status, 'verified');
  // A v0 probe happened for viav0 only after .sigs answered 404.
  assert.equal(forge.requestsTo(forge.get(fn('viav0')).sidecarUrls.sigs).length, 1);
  for (const name of ['emptysigs', 'bare']) {
    const p = row(report, fn(name));
    assert.equal(p.status, 'missing', name);
    assert.deepEqual(codes(p), ['NO_ATTESTATIONS']);
  }
  // All three probed for bare.
  const bare = forge.get(fn('bare'));
  assert.equal(forge.requestsTo(bare.sidecarUrls.sigs).length, 1);
  assert.equal(forge.requestsTo(bare.sidecarUrls.v0).length, 1);
});

test('discovery order is the configured one, and unlisted methods are never tried', async () => {
  forge.clearRequests();
  const v0First = await verifyNames(['good'], config({ discovery: ['v0-sigs', 'sigs', 'repodata'] }));
  assert.equal(row(v0First, fn('good')).sidecar!.method, 'v0-sigs');
  assert.equal(forge.requestsTo(`/forge/noarch/repodata.json`).length, 0, 'repodata consulted although v0-sigs came first');

  const sigsFirst = await verifyNames(['good'], config({ discovery: ['sigs', 'repodata'] }));
  assert.equal(row(sigsFirst, fn('good')).sidecar!.method, 'sigs');

  forge.clearRequests();
  const onlyRepodata = await verifyNames(['viasigs'], config({ discovery: ['repodata'] }));
  const p = row(onlyRepodata, fn('viasigs'));
  assert.equal(p.status, 'missing');
  assert.equal(forge.requestsTo(forge.get(fn('viasigs')).sidecarUrls.sigs).length, 0, '.sigs probed although not configured');
});

test('identity-changed: the second run sees another signer than the lockfile pinned', async () => {
  const lock = freshLock();
  const first = await verifyNames(['rot', 'grows'], config(), { lockfile: lock });
  assert.equal(row(first, fn('rot')).status, 'verified');
  assert.equal(row(first, fn('grows')).status, 'verified');
  const lockText = readFileSync(lock, 'utf8');
  assert.ok(lockText.includes('rot') && lockText.includes(DEFAULT_SAN.replace(/@.*$/, '')), 'first run pinned the signer');

  // rot: re-signed by another (still trusted) workflow; grows: a second signer appended (CEP 50 append).
  const rot = forge.get(fn('rot'));
  const resigned = await sig.attest(publishStatement({ filename: rot.filename, sha256: rot.sha256, targetChannel: forge.url }), { san: OTHER_FEEDSTOCK });
  forge.setFault(rot.sidecarUrls.sigs, { kind: 'body', body: sidecarBytes([resigned]) });
  const grows = forge.get(fn('grows'));
  const extra = await sig.attest(publishStatement({ filename: grows.filename, sha256: grows.sha256, targetChannel: forge.url }), { san: OTHER_FEEDSTOCK });
  forge.appendBundles(grows.filename, [extra]);
  try {
    for (const [require, action] of [['warn', 'warn'], ['error', 'block']] as const) {
      const second = await verifyNames(['rot', 'grows'], config({ require }), { lockfile: lock, frozen: true });
      const r = row(second, fn('rot'));
      assert.equal(r.status, 'identity-changed', JSON.stringify(r.reasons));
      assert.equal(r.action, action);
      assert.deepEqual(codes(r), ['IDENTITY_CHANGED']);
      assert.ok(r.identity_diff, 'the diff is reported');
      const g = row(second, fn('grows'));
      assert.equal(g.status, 'identity-changed');
      assert.deepEqual(codes(g), ['IDENTITY_ADDED']);
    }
    // Frozen runs did not touch the lockfile.
    assert.equal(readFileSync(lock, 'utf8'), lockText);
  } finally {
    forge.clearFaults();
  }
});
