// Red-team: trust on first use and the verdict cache. An attacker who
// gets a second signer into the very first run, who edits the lockfile in a pull request,
// or who hopes a cached `verified` outlives a policy change; and a sidecar flooded with
// bundles to burn CPU. Through the pipeline against a local Sigstore and loopback channels.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { startLocalSigstore, publishStatement, tamperBundle, DEFAULT_SAN, GITHUB_ISSUER, TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel, sidecarBytes } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { codes, makeWorkspace, resolveIn, runCli, runSession, verifyJson } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { recordFromUrl } from '../../src/targets/index.ts';
import { createSession } from '../../src/pipeline.ts';
import type { PackageRecord } from '../../src/types.ts';

const OTHER = 'https://github.com/test-org/other-feedstock/.github/workflows/build.yml@refs/heads/main';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;

const spec = (name: string, subdir = 'noarch') => ({ name, version: '1.0', build: 'h0_0', subdir, files: { [`share/${name}-${subdir}.txt`]: `${name} ${subdir}\n` } });

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace('conda-attest-attack-tofu-');
  ch = await startFixtureChannel({
    sigstore: sig,
    name: 'forge',
    packages: [
      // One package name, two platforms, two (individually trusted) signers.
      { spec: spec('split', 'linux-64') },
      { spec: spec('split', 'osx-64'), signOptions: { san: OTHER } },
      // Same name on two platforms, same signer: no conflict.
      { spec: spec('same', 'linux-64') },
      { spec: spec('same', 'osx-64') },
      // One platform attested, the other stripped of its attestations.
      { spec: spec('half', 'linux-64') },
      { spec: spec('half', 'osx-64'), attest: false },
      { spec: spec('cached') },
      { spec: spec('flood'), attest: false },
    ],
  });
});

after(async () => {
  await ch?.close();
  await sig?.close();
  ws?.cleanup();
});

let n = 0;
function config(channelOver: Record<string, unknown> = {}, cacheDir = `cache-${++n}`) {
  return resolveIn(ws, {
    trust_root: sig.trustedRootPath,
    cache_dir: cacheDir,
    http: { retries: 0, timeout_ms: 20000 },
    channels: { [ch.url]: { trusted_identities: TRUSTED, ...channelOver } },
  });
}
function recs(name: string): PackageRecord[] {
  return ch.packages.filter((p) => p.filename === fn(name)).map((p) => ({ ...recordFromUrl(p.url), sha256: p.sha256 }));
}
const bySubdir = (report: Awaited<ReturnType<typeof runSession>>, subdir: string) => {
  const rows = report.packages.filter((p) => p.url.includes(`/${subdir}/`));
  assert.equal(rows.length, 1);
  return rows[0]!;
};

test('attack: two signers for one package within the FIRST run are a change ("a new additional identity is a change too"), nothing pinned', async () => {
  const lock = ws.path('split.lock');
  const report = await runSession(config(), recs('split'), { lockfile: lock });
  for (const subdir of ['linux-64', 'osx-64']) {
    const p = bySubdir(report, subdir);
    assert.deepEqual([p.status, p.action], ['identity-changed', 'block'], `${subdir}: ${JSON.stringify(p.reasons)}`);
    assert.ok(codes(p).includes('IDENTITY_INCONSISTENT'), JSON.stringify(p.reasons));
    assert.ok(p.identity_diff, 'the disagreeing identities are shown');
  }
  // Nothing is pinned until a human accepts one of them (or both).
  let text = '';
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    /* not written at all: fine */
  }
  assert.doesNotMatch(text, /split/);
  // Under warn the same run warns and still pins nothing.
  const warned = await runSession(config({ require: 'warn' }), recs('split'), { lockfile: lock });
  assert.deepEqual(warned.packages.map((p) => [p.status, p.action]), [['identity-changed', 'warn'], ['identity-changed', 'warn']]);
});

test('CLI: the first-run verdict equals what two separate runs give (one pins, the other is a change); nothing pinned by the conflicting run', async () => {
  const cli = makeWorkspace('conda-attest-attack-tofu-cli-');
  try {
    cli.writeConfig({ trust_root: sig.trustedRootPath, lockfile: 'conda-attest.lock', http: { retries: 0 }, channels: { [ch.url]: { trusted_identities: TRUSTED } } });
    const [linux, osx] = ['linux-64', 'osx-64'].map((s) => ch.packages.find((p) => p.filename === fn('split') && p.subdir === s)!);
    cli.write('both.txt', `@EXPLICIT\n${linux.url}#${linux.sha256}\n${osx.url}#${osx.sha256}\n`);
    cli.write('linux.txt', `@EXPLICIT\n${linux.url}#${linux.sha256}\n`);
    cli.write('osx.txt', `@EXPLICIT\n${osx.url}#${osx.sha256}\n`);
    const both = await verifyJson(cli, ['both.txt']);
    assert.equal(both.code, 1);
    assert.deepEqual(both.report.packages.map((p) => p.status), ['identity-changed', 'identity-changed']);
    assert.match(both.report.packages[0]!.reasons.at(-1)!.message, /other-feedstock/, 'names the other signer');
    assert.ok(!existsSync(cli.path('conda-attest.lock')) || !cli.read('conda-attest.lock').includes('"split"'), 'nothing pinned');
    // Two separate runs: the first pins linux-64's signer, the second sees osx-64's as a change.
    assert.equal((await verifyJson(cli, ['linux.txt'])).code, 0);
    const second = await verifyJson(cli, ['osx.txt']);
    assert.deepEqual([second.code, second.report.packages[0]!.status], [1, 'identity-changed']);
  } finally {
    cli.cleanup();
  }
});

test('attack: a host streaming packages one at a time: the first file pins, a later disagreeing file is refused, returned rows never change', async () => {
  const lock = ws.path('split-stream.lock');
  const session = await createSession({ config: config(), lockfile: lock });
  const [linux, osx] = ['linux-64', 'osx-64'].map((s) => recs('split').find((r) => r.subdir === s)!);
  const first = await session.verifyPackage(linux, { sha256: linux.sha256!, source: 'lockfile' });
  const snapshot = structuredClone(first);
  assert.deepEqual([first.status, first.notes], ['verified', ['recorded']]);
  const second = await session.verifyPackage(osx, { sha256: osx.sha256!, source: 'lockfile' });
  assert.deepEqual([second.status, second.action], ['identity-changed', 'block']);
  assert.ok(second.reasons.some((r) => r.code === 'IDENTITY_INCONSISTENT'), JSON.stringify(second.reasons));
  assert.match(second.reasons.at(-1)!.message, /test-feedstock/, 'names the signer the earlier file showed');
  // The same package again with the first signer agrees with what was pinned.
  const again = await session.verifyPackage(linux, { sha256: linux.sha256!, source: 'lockfile' });
  assert.equal(again.status, 'verified');
  const report = await session.finish();
  assert.deepEqual(first, snapshot, 'a returned row is final');
  assert.deepEqual(report.packages.map((p) => p.status).sort(), ['identity-changed', 'verified', 'verified']);
  // As two consecutive runs would: the first file's signer is pinned.
  const pinned = JSON.parse(readFileSync(lock, 'utf8')).channels[ch.url].split.identities;
  assert.deepEqual(pinned.map((i: { repository?: string }) => i.repository), ['https://github.com/test-org/test-feedstock']);
});

test('one package on two platforms with the same signer: verified, recorded once', async () => {
  const lock = ws.path('same.lock');
  const report = await runSession(config(), recs('same'), { lockfile: lock });
  assert.deepEqual(report.packages.map((p) => p.status), ['verified', 'verified']);
  const pinned = JSON.parse(readFileSync(lock, 'utf8')).channels[ch.url].same.identities;
  assert.equal(pinned.length, 1);
});

test('attack: one platform stripped of its attestations in the first run is a downgrade under ignore (warned, not silent)', async () => {
  const report = await runSession(config({ require: 'ignore' }), recs('half'), { lockfile: ws.path('half.lock') });
  const stripped = bySubdir(report, 'osx-64');
  assert.deepEqual([stripped.status, stripped.action], ['identity-changed', 'warn'], JSON.stringify(stripped.reasons));
  assert.ok(codes(stripped).includes('IDENTITY_INCONSISTENT'));
});

test('verdict cache: a cached verified outcome is judged again under the CURRENT policy and lockfile', async () => {
  const cacheDir = 'cache-shared';
  const lock = ws.path('cached.lock');
  const first = await runSession(config({}, cacheDir), recs('cached'), { lockfile: lock });
  assert.equal(first.packages[0]!.status, 'verified');
  // Same cache, trusted_identities narrowed to another repository: untrusted, not verified.
  const narrowed = await runSession(
    config({ trusted_identities: [{ identity: 'https://github.com/other-org/*/.github/workflows/*.yml@refs/heads/main', issuer: GITHUB_ISSUER }] }, cacheDir),
    recs('cached'),
    { lockfile: lock },
  );
  assert.equal(narrowed.packages[0]!.status, 'untrusted');
  // A pull request rewrites the pin to an attacker's repository: the warm run still compares.
  const text = readFileSync(lock, 'utf8');
  assert.ok(text.includes('test-org/test-feedstock'));
  writeFileSync(lock, text.replaceAll('test-org/test-feedstock', 'evil-org/test-feedstock'));
  const edited = await runSession(config({}, cacheDir), recs('cached'), { lockfile: lock });
  assert.deepEqual([edited.packages[0]!.status, edited.packages[0]!.action], ['identity-changed', 'block']);
  // A different trust root never reuses outcomes verified under this one.
  const wrongRoot = ws.write('wrong-root.json', JSON.stringify(sig.wrongTrustedRoot));
  const other = await runSession(
    resolveIn(ws, { trust_root: wrongRoot, cache_dir: cacheDir, http: { retries: 0 }, channels: { [ch.url]: { trusted_identities: TRUSTED } } }),
    recs('cached'),
    { lockfile: ws.path('cached-2.lock') },
  );
  assert.equal(other.packages[0]!.status, 'invalid');
});

test('attack: a sidecar flooded with forged copies of a real bundle (up to the size cap) is refused (time reported, measured by the bench)', async () => {
  const p = ch.get(fn('flood'));
  const real = await sig.attest(publishStatement({ filename: p.filename, sha256: p.sha256, targetChannel: ch.url }), { san: DEFAULT_SAN });
  const one = sidecarBytes([tamperBundle(real, 'signature')]).length;
  const count = Math.floor((1024 * 1024) / one); // ~1 MiB of forged bundles
  const forged = Array.from({ length: count }, () => tamperBundle(real, 'signature'));
  ch.appendBundles(p.filename, forged);
  const started = Date.now();
  const report = await runSession(config({}, `cache-flood`), recs('flood'), { lockfile: ws.path('flood.lock') });
  const ms = Date.now() - started;
  const r = report.packages[0]!;
  // More bundles than any real sidecar holds: refused before a single signature check.
  assert.ok(count > 64, `${count} bundles`);
  assert.deepEqual([r.status, r.action, r.reasons[0]?.code], ['retrieval-failed', 'block', 'SIDECAR_TOO_MANY_BUNDLES']);
  console.log(`# ${count} forged bundles (${one} bytes each) refused in ${ms} ms`);
});
