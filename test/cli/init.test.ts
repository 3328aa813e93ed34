// `conda-attest init` end to end: the real CLI against loopback channels signed by the
// local Sigstore instance, with signers from two repositories on one channel and a second
// channel without attestations; online and offline; never overwriting a configuration.
// Then the five-minute path: the written file drives `verify` as is.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { startLocalSigstore, type LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel, type FixtureChannel } from '../helpers/channel.ts';
import { makeWorkspace, runCli, verifyJson, type Workspace } from '../helpers/e2e.ts';
import { closedPort } from '../helpers/loopback.ts';
import { loadConfig } from '../../src/config/load.ts';
import { simpleSpec as spec } from '../helpers/conda.ts';

const SAN = (repo: string) => `https://github.com/test-org/${repo}/.github/workflows/build.yml@refs/heads/main`;

let sig: LocalSigstore;
let forge: FixtureChannel;
let plain: FixtureChannel;
const workspaces: Workspace[] = [];

before(async () => {
  sig = await startLocalSigstore();
  forge = await startFixtureChannel({
    sigstore: sig,
    name: 'forge',
    packages: [
      { spec: spec('alpha'), signOptions: { san: SAN('alpha-feedstock') } },
      { spec: spec('alpha-lib'), signOptions: { san: SAN('alpha-feedstock') } },
      { spec: spec('beta'), signOptions: { san: SAN('beta-feedstock'), claims: { sourceRepositoryId: '1002' } } },
    ],
  });
  plain = await startFixtureChannel({ sigstore: sig, name: 'plain', packages: [{ spec: spec('loose'), attest: false }] });
});

after(async () => {
  await forge?.close();
  await plain?.close();
  await sig?.close();
  for (const w of workspaces) w.cleanup();
});

/** A project with a pixi.lock over both channels (two environments files in one lock is pixi's shape). */
function project(): Workspace {
  const ws = makeWorkspace('conda-attest-init-');
  workspaces.push(ws);
  const a = forge.pixiLock({ platform: 'linux-64' });
  const b = plain.pixiLock({ platform: 'linux-64' });
  // Merge the two generated locks: environments' package lists and the top-level packages.
  const la = parseYaml(a);
  const lb = parseYaml(b);
  la.environments.default.channels.push(...lb.environments.default.channels);
  la.environments.default.packages['linux-64'].push(...lb.environments.default.packages['linux-64']);
  la.packages.push(...lb.packages);
  ws.write('pixi.lock', JSON.stringify(la, null, 1));
  return ws;
}

test('online: one entry per channel, identities from both repositories with package counts, require: warn for the unattested channel; verify then passes with it', async () => {
  const ws = project();
  const r = await runCli(ws, ['init', '--trusted-root', sig.trustedRootPath]);
  assert.equal(r.code, 0, r.stderr);
  const text = ws.read('.conda-attestrc.yaml');
  assert.match(text, /^# conda-attest configuration, written by `conda-attest init` from pixi\.lock/);
  // $schema is the schema the package ships, where a project that installs it has it.
  assert.match(text, /^\$schema: \.\/node_modules\/conda-attest\/schema\/config\.schema\.json$/m);
  assert.doesNotMatch(text + r.stdout, /fallback/i, 'mirrors are the same channel, not a fallback');
  // Each repository entry is pinned to the repository ID its certificates carried, with a
  // comment naming the repository (a first install must not trust whoever holds the name).
  assert.match(text, /# 2 packages: alpha, alpha-lib\n\s+- identity: github:test-org\/alpha-feedstock@refs\/heads\/main\n\s+repository_id: "1001" # ID of https:\/\/github\.com\/test-org\/alpha-feedstock, from its certificates$/m);
  assert.match(text, /# 1 package: beta\n\s+- identity: github:test-org\/beta-feedstock@refs\/heads\/main\n\s+repository_id: "1002" # ID of https:\/\/github\.com\/test-org\/beta-feedstock, from its certificates$/m);
  assert.match(text, /# 1 package in the environment; none has attestations \(checked on \d{4}-\d\d-\d\d\), so require: warn\./);
  const doc = parseYaml(text);
  assert.deepEqual(Object.keys(doc.channels).sort(), [forge.url, plain.url].sort());
  assert.deepEqual(doc.channels[forge.url], {
    require: 'error',
    trusted_identities: [
      { identity: 'github:test-org/alpha-feedstock@refs/heads/main', repository_id: '1001' },
      { identity: 'github:test-org/beta-feedstock@refs/heads/main', repository_id: '1002' },
    ],
  });
  assert.deepEqual(doc.channels[plain.url], { require: 'warn' });
  assert.equal(doc.trust_root, sig.trustedRootPath);
  // The file is a valid configuration found by the normal search.
  const config = await loadConfig({ cwd: ws.dir, env: ws.env, stopDir: ws.dir });
  assert.equal(config.source, ws.path('.conda-attestrc.yaml'));
  // Next steps name verify, the commit, CI and the diff driver line.
  assert.match(r.stdout, /2 channels \(1 with attestations, 1 without attestations \(require: warn\)\), 2 trusted identities proposed/);
  assert.match(r.stdout, /conda-attest verify/);
  assert.match(r.stdout, /git add \.conda-attestrc\.yaml conda-attest\.lock/);
  assert.match(r.stdout, /echo 'conda-attest\.lock diff=conda-attest' >> \.gitattributes/);
  // init pins nothing; the first verify does, and passes (the unattested package only warns).
  assert.throws(() => ws.read('conda-attest.lock'));
  const v = await verifyJson(ws, []);
  assert.equal(v.code, 0, JSON.stringify(v.report.summary));
  assert.equal(v.report.summary.verified, 3);
  assert.equal(v.report.summary.warned, 1);
  const frozen = await verifyJson(ws, ['--frozen']);
  assert.equal(frozen.code, 0);
});

test('offline: the same file without identities, saying why; an existing config is never replaced without --force', async () => {
  const ws = project();
  forge.clearRequests();
  const r = await runCli(ws, ['init', '--offline', '--trusted-root', sig.trustedRootPath]);
  assert.equal(r.code, 0, r.stderr);
  const text = ws.read('.conda-attestrc.yaml');
  assert.match(text, /# No trusted_identities were proposed: --offline was given/);
  const doc = parseYaml(text);
  assert.deepEqual(doc.channels[forge.url], { require: 'error' });
  assert.deepEqual(doc.channels[plain.url], { require: 'error' });
  assert.match(r.stdout, /No trusted identities were proposed: --offline was given/);
  // Offline, nothing was verified and nothing pinned: no lockfile to commit is mentioned.
  assert.ok(
    r.stdout.endsWith(
      [
        'Next steps:',
        '  1. When the channels can be reached, propose the signers (or add trusted_identities by hand):',
        '       conda-attest init --force',
        '  2. Then verify the environment: the first run pins its signers in conda-attest.lock;',
        '     commit that file with .conda-attestrc.yaml.',
        '',
      ].join('\n'),
    ),
    r.stdout,
  );
  assert.doesNotMatch(r.stdout, /git add/);
  assert.doesNotMatch(text, /commit this file with conda-attest\.lock/);
  assert.equal(forge.requests.length, 0, 'offline: nothing fetched');

  const again = await runCli(ws, ['init', '--offline']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /CONFIG_EXISTS: A configuration already exists here: \.conda-attestrc\.yaml\. \(hint: Edit it, or pass --force/);
  assert.equal(ws.read('.conda-attestrc.yaml'), text, 'unchanged');
  const forced = await runCli(ws, ['init', '--force', '--trusted-root', sig.trustedRootPath]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(ws.read('.conda-attestrc.yaml'), /test-org\/alpha-feedstock/);

  // Another config file in the directory: init refuses even with --force (it would shadow or duplicate it).
  const other = project();
  other.writeConfig({ channels: {} });
  const shadow = await runCli(other, ['init', '--force', '--offline']);
  assert.equal(shadow.code, 2);
  assert.match(shadow.stderr, /CONFIG_EXISTS: .*\.conda-attestrc\.json/);
});

test('init --sigs: a local package and its sidecar, offline, give the proposal', async () => {
  const ws = makeWorkspace('conda-attest-init-sigs-');
  workspaces.push(ws);
  const p = forge.get(forge.packages.find((x) => x.filename.startsWith('beta-'))!.filename);
  const file = ws.write(p.filename, p.bytes);
  ws.write('beta.sigs', JSON.stringify(p.bundles));
  forge.clearRequests();
  const r = await runCli(ws, ['init', '--offline', '--trusted-root', sig.trustedRootPath, '--channel', `${forge.url}/${p.subdir}`, '--sigs', 'beta.sigs', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(parseYaml(ws.read('.conda-attestrc.yaml')).channels[forge.url], {
    require: 'error',
    trusted_identities: [{ identity: 'github:test-org/beta-feedstock@refs/heads/main', repository_id: '1002' }],
  });
  assert.match(r.stdout, /^Wrote \.conda-attestrc\.yaml: 1 channel \(1 with attestations\), 1 trusted identity proposed\.$/m);
  assert.equal(forge.requests.length, 0, 'nothing fetched');
  // --sigs is the sidecar of one package.
  ws.write('two.txt', `@EXPLICIT\n${forge.packages[0]!.url}\n${forge.packages[1]!.url}\n`);
  const two = await runCli(ws, ['init', '--force', '--offline', '--sigs', 'beta.sigs', 'two.txt']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /USAGE_INVALID_ARGUMENT: --sigs gives the sidecar of one package, but the targets hold 2\./);
});

test('unreachable channels: written without identities, and the reason names the failure', async () => {
  const ws = makeWorkspace('conda-attest-init-down-');
  workspaces.push(ws);
  // A port that was just free: nothing listens there.
  const port = await closedPort();
  ws.write('env.txt', `@EXPLICIT\nhttp://127.0.0.1:${port}/gone/noarch/x-1.0-h0_0.conda#${'ab'.repeat(32)}\n`);
  const r = await runCli(ws, ['init', '--trusted-root', sig.trustedRootPath, 'env.txt']);
  assert.equal(r.code, 0, r.stderr);
  const text = ws.read('.conda-attestrc.yaml');
  assert.match(text, /No trusted_identities were proposed: the channels could not be reached \((HTTP|REPODATA)_/);
  assert.deepEqual(parseYaml(text).channels[`http://127.0.0.1:${port}/gone`], { require: 'error' });
});

test('usage: no lockfile here is USAGE_NO_TARGET; a missing trust root is TRUST_ROOT_NOT_FOUND', async () => {
  const ws = makeWorkspace('conda-attest-init-empty-');
  workspaces.push(ws);
  const r = await runCli(ws, ['init']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /USAGE_NO_TARGET/);
  const t = await runCli(project(), ['init', '--trusted-root', 'nope.json']);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /TRUST_ROOT_NOT_FOUND/);
});
