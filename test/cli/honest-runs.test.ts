// "Never a silent pass": every run says what it checked. The README quick start, end to end,
// on a lock whose channel is named like conda.anaconda.org/conda-forge (a loopback channel
// served under /conda-forge): first CHANNEL_UNUSED with the exact `mirrors` entry and
// NOTHING_VERIFIED, then, with that mirror added, verified packages and pinned identities.
// Plus the run-level errors: NO_CONFIG, LOCK_MISSING, a broken trust root path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startLocalSigstore } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { makeWorkspace, runCli, verifyJson } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { simpleSpec as spec } from '../helpers/conda.ts';

const FEEDSTOCK_SAN = (name: string) => `https://github.com/conda-forge/${name}-feedstock/.github/workflows/build.yml@refs/heads/main`;

let sig: LocalSigstore;
let ch: FixtureChannel;

before(async () => {
  sig = await startLocalSigstore();
  ch = await startFixtureChannel({
    sigstore: sig,
    name: 'conda-forge',
    packages: [
      { spec: spec('zlib', 'linux-64'), signOptions: { san: FEEDSTOCK_SAN('zlib') } },
      { spec: spec('tzdata'), signOptions: { san: FEEDSTOCK_SAN('tzdata') } },
    ],
  });
});

after(async () => {
  await ch?.close();
  await sig?.close();
});

/** A pixi.lock v7 of the two packages plus one PyPI wheel and one source package. */
function pixiV7(): string {
  const zlib = ch.get('zlib-1.0-h0_0.conda');
  const tzdata = ch.get('tzdata-1.0-h0_0.conda');
  const wheel = 'https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl';
  return `version: 7
platforms:
- name: linux-64
  virtual-packages:
  - __unix=0=0
  - __glibc=2.28
environments:
  default:
    channels:
    - url: ${ch.url}/
    indexes:
    - https://pypi.org/simple
    packages:
      linux-64:
      - conda: ${zlib.url}
      - conda: ${tzdata.url}
      - pypi: ${wheel}
      - conda_source: mytool[0a1b2c3d] @ ./tools/mytool
packages:
- conda: ${zlib.url}
  sha256: ${zlib.sha256}
  md5: ${zlib.md5}
  size: ${zlib.size}
- conda: ${tzdata.url}
  sha256: ${tzdata.sha256}
  size: ${tzdata.size}
- conda_source: mytool[0a1b2c3d] @ ./tools/mytool
  version: 0.1.0
  build: h0_0
  subdir: linux-64
- pypi: ${wheel}
  name: requests
  version: 2.32.3
`;
}

/** The README quick-start config (a local trust root instead of public-good: tests stay on loopback). */
function quickStartConfig(mirror?: string): string {
  return `trust_root: ${JSON.stringify(sig.trustedRootPath)}
channels:
  "https://prefix.dev/conda-forge":
    require: error
    trusted_identities:
      - "https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main"
${mirror ? `    mirrors: [${JSON.stringify(mirror)}]\n` : ''}`;
}

function workspace(t: { after: (fn: () => void) => void }): Workspace {
  const ws = makeWorkspace('conda-attest-honest-');
  t.after(() => ws.cleanup());
  return ws;
}

test('README quick start on a conda.anaconda.org-style lock: CHANNEL_UNUSED with the mirrors line, NOTHING_VERIFIED; with the mirror it verifies and pins', async (t) => {
  const ws = workspace(t);
  ws.write('pixi.lock', pixiV7());
  ws.write('.conda-attestrc.yaml', quickStartConfig());

  // Text: one `CODE message` line per notice with its hint, before the counts; no "all passed".
  const text = await runCli(ws, ['verify']);
  assert.equal(text.code, 0, text.stderr);
  const out = text.stdout;
  const mirrorLine = `channels["https://prefix.dev/conda-forge"].mirrors: ["${ch.url}"]`;
  assert.match(out, /^CHANNEL_UNUSED The configured channel https:\/\/prefix\.dev\/conda-forge matches no package of this run; the packages come from http:\/\/127\.0\.0\.1:\d+\/conda-forge\.$/m);
  assert.ok(out.includes(mirrorLine), `the hint proposes the exact mirrors entry:\n${out}`);
  assert.match(out, /^NOTHING_VERIFIED No package was verified: all 2 packages were skipped/m);
  assert.ok(out.indexOf('NOTHING_VERIFIED') < out.indexOf('2 packages:'), 'notices come before the counts');
  assert.match(out, /^1 PyPI package and 1 source package \(built locally\) in this lock are not covered by conda attestations$/m);
  assert.doesNotMatch(out, /all passed/);
  assert.match(out, /nothing verified/);

  // JSON: the same findings, structured; the inputs named.
  const j = await verifyJson(ws, []);
  assert.equal(j.code, 0);
  const report = j.report as unknown as Record<string, any>;
  assert.deepEqual(report.notices.map((n: { code: string }) => n.code), ['CHANNEL_UNUSED', 'NOTHING_VERIFIED']);
  assert.ok(report.notices[0].hint.includes(mirrorLine));
  assert.deepEqual(report.summary.not_covered, { pypi: 1, source: 1, local: 0 });
  assert.deepEqual(report.inputs, { targets: [ws.path('pixi.lock')], config: ws.path('.conda-attestrc.yaml') });
  assert.deepEqual(report.lockfile, { path: ws.path('conda-attest.lock'), written: false, pinned: 0 });

  // With the proposed mirror: every package is verified under the canonical channel's policy.
  ws.write('.conda-attestrc.yaml', quickStartConfig(ch.url));
  const fixed = await runCli(ws, ['verify']);
  assert.equal(fixed.code, 0, fixed.stderr + fixed.stdout);
  assert.match(fixed.stdout, /2 packages: 2 verified/);
  assert.match(fixed.stdout, /all passed/);
  assert.doesNotMatch(fixed.stdout, /CHANNEL_UNUSED|NOTHING_VERIFIED/);
  assert.ok(fixed.stdout.includes(`pinned 2 new signer identities in ${ws.path('conda-attest.lock')}: commit it`), fixed.stdout);
  assert.ok(existsSync(ws.path('conda-attest.lock')));

  // CI: --frozen against the committed lockfile passes and writes nothing.
  const frozen = await verifyJson(ws, ['--frozen']);
  assert.equal(frozen.code, 0);
  const fr = frozen.report as unknown as Record<string, any>;
  assert.equal(fr.summary.verified, 2);
  assert.deepEqual(fr.notices, []);
  assert.deepEqual(fr.lockfile, { path: ws.path('conda-attest.lock'), written: false, pinned: 0 });
  for (const p of frozen.report.packages) assert.equal(p.channel, 'https://prefix.dev/conda-forge', 'judged under the canonical channel');
});

test('first run JSON: lockfile path, written and pinned count', async (t) => {
  const ws = workspace(t);
  ws.write('pixi.lock', pixiV7());
  ws.write('.conda-attestrc.yaml', quickStartConfig(ch.url));
  const { code, report } = await verifyJson(ws, []);
  assert.equal(code, 0);
  assert.deepEqual((report as unknown as Record<string, any>).lockfile, { path: ws.path('conda-attest.lock'), written: true, pinned: 2 });
});

test('NO_CONFIG: no config file found and no --config is exit 2, one line with a hint, nothing on stdout', async (t) => {
  const ws = workspace(t);
  ws.write('pixi.lock', pixiV7());
  for (const args of [['verify'], ['verify', '--json']]) {
    const r = await runCli(ws, args);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^conda-attest: NO_CONFIG: No conda-attest configuration was found .* \(hint: Create one with `conda-attest init`, write \.conda-attestrc\.yaml as in the README quick start, or pass --config PATH\.\)$/);
  }
  // A config that exists but enables nothing is a valid choice: it runs, and says it checked nothing.
  ws.writeConfig({});
  const { code, report } = await verifyJson(ws, []);
  assert.equal(code, 0);
  assert.equal(report.summary.skipped, 2);
  assert.deepEqual((report as unknown as Record<string, any>).notices.map((n: { code: string }) => n.code), ['NOTHING_VERIFIED']);
});

test('LOCK_MISSING: --frozen without the identity lockfile is one error, exit 2', async (t) => {
  const ws = workspace(t);
  ws.write('pixi.lock', pixiV7());
  ws.write('.conda-attestrc.yaml', quickStartConfig(ch.url));
  const r = await runCli(ws, ['verify', '--json', '--frozen']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^conda-attest: LOCK_MISSING: --frozen needs the identity lockfile .*conda-attest\.lock, which does not exist\. \(hint: /);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one error, not one row per package');
  // Every channel disabled: nothing is pinned or checked against the lockfile, so its
  // absence is no error; the run says it checked nothing, and writes no lockfile.
  ws.write('.conda-attestrc.yaml', '{}\n');
  const off = await runCli(ws, ['verify', '--json', '--frozen']);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stderr, /LOCK_MISSING/);
  assert.ok((JSON.parse(off.stdout) as { notices: { code: string }[] }).notices.some((n) => n.code === 'NOTHING_VERIFIED'));
  assert.equal(existsSync(ws.path('conda-attest.lock')), false);
});

test('attack: a broken trust root file is exit 2 naming the file, even when no signature needed it', async (t) => {
  const ws = workspace(t);
  ws.write('pixi.lock', pixiV7());
  ws.write('broken-root.json', '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": 7}');
  // Every channel disabled: no package would ever need the trust root.
  ws.writeConfig({ trust_root: 'broken-root.json' });
  for (const args of [['verify', '--json'], ['verify', '--json', '--trusted-root', 'broken-root.json']]) {
    const r = await runCli(ws, args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^conda-attest: TRUST_ROOT_[A-Z_]+: .*broken-root\.json/);
  }
});
