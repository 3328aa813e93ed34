// Pins that survive re-registration (specs §4: numeric repository and owner IDs cannot be
// re-registered by someone else), end to end with certificates issued by the local
// Sigstore instance under chosen claims:
// - with an identity lockfile: the same SAN with a new repository ID, or a new owner ID,
//   is IDENTITY_CHANGED and says "repository re-created: same URL, new ID A → B" /
//   "owner transferred or re-created (owner ID A → B)" with a hint, in JSON, text and the
//   reviewer diff that `accept` shows;
// - without one (a first install): `init` on a loopback channel pins repository_id and
//   owner_id from the certificates it saw, so the re-created repository or the owner that
//   changed hands is refused (IDENTITY_UNTRUSTED) with the same words.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { startLocalSigstore, type LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel, type FixtureChannel } from '../helpers/channel.ts';
import { makeWorkspace, runCli, verifyJson, type Workspace } from '../helpers/e2e.ts';
import { type Project, makeProject, reportOf, san } from './lock-env.ts';

const RECREATED = 'repository re-created: same URL, new ID 1001 → 999';
const MOVED = 'owner transferred or re-created (owner ID 2001 → 333)';

let ls: LocalSigstore;
/** Two repositories of one owner: each gets its own entry (and repository_id) from init. */
let ch: FixtureChannel;
/** Three feedstocks of one owner: init proposes one owner-wide glob (and owner_id). */
let org: FixtureChannel;
const projects: Project[] = [];
const workspaces: Workspace[] = [];
const f = (name: string, version: string) => `${name}-${version}-h0_0.conda`;

before(async () => {
  ls = await startLocalSigstore();
  // Defaults of the local Fulcio for these SANs: repository ID 1001, owner ID 2001.
  ch = await startFixtureChannel({
    sigstore: ls,
    name: 'forge',
    subdirs: ['linux-64'],
    packages: [
      { spec: { name: 'recreated', version: '1.0' }, signOptions: { san: san('recreated-feedstock') } },
      { spec: { name: 'recreated', version: '2.0' }, signOptions: { san: san('recreated-feedstock'), claims: { sourceRepositoryId: '999' } } },
      { spec: { name: 'moved', version: '1.0' }, signOptions: { san: san('moved-feedstock') } },
      { spec: { name: 'moved', version: '2.0' }, signOptions: { san: san('moved-feedstock'), claims: { sourceRepositoryOwnerId: '333' } } },
    ],
  });
  org = await startFixtureChannel({
    sigstore: ls,
    name: 'org',
    subdirs: ['linux-64'],
    packages: [
      ...['p', 'q', 'r'].map((n) => ({ spec: { name: n, version: '1.0' }, signOptions: { san: san(`${n}-feedstock`) } })),
      { spec: { name: 'r', version: '2.0' }, signOptions: { san: san('r-feedstock'), claims: { sourceRepositoryOwnerId: '333' } } },
    ],
  });
});

after(async () => {
  for (const p of projects) p.cleanup();
  for (const w of workspaces) w.cleanup();
  await ch?.close();
  await org?.close();
  await ls?.close();
});

test('with a lockfile: a re-created repository and a transferred owner are named in JSON, text and the reviewer diff, with a hint', async () => {
  const p = makeProject(ls, ch, 'error');
  projects.push(p);
  p.envFile('v1.lock', [f('recreated', '1.0'), f('moved', '1.0')]);
  const pin = await p.cli(['verify', '--json', 'v1.lock']);
  assert.equal(pin.code, 0, pin.stderr);
  copyFileSync(p.lockfile, `${p.lockfile}.pinned`);

  p.envFile('v2.lock', [f('recreated', '2.0'), f('moved', '2.0')]);
  const r = await p.cli(['verify', '--json', 'v2.lock']);
  assert.equal(r.code, 1, r.stderr);
  const { rows } = reportOf(r);
  for (const [name, words, kind] of [['recreated', RECREATED, 'repository-recreated'], ['moved', MOVED, 'owner-changed']] as const) {
    const row = rows.get(`${name}-2.0`);
    assert.equal(row.status, 'identity-changed', name);
    assert.equal(row.reasons[0].code, 'IDENTITY_CHANGED', name);
    assert.ok(row.reasons[0].message.includes(words), row.reasons[0].message);
    // The hint says what it means before how to accept it.
    assert.match(row.reasons[0].hint, kind === 'repository-recreated' ? /deleted and created again/ : /owns the repository is not the one pinned/);
    assert.match(row.reasons[0].hint, new RegExp(`conda-attest accept ${name}`));
    const change = row.identity_diff.changes[0];
    assert.deepEqual(change.reregistered.map((x: { kind: string; message: string }) => [x.kind, x.message]), [[kind, words]], name);
  }

  const text = await p.cli(['verify', 'v2.lock']);
  assert.equal(text.code, 1);
  assert.match(text.stdout, new RegExp(`^ {6}${RECREATED.replace(/[()]/g, '\\$&')}$`, 'm'));
  assert.match(text.stdout, new RegExp(`^ {6}${MOVED.replace(/[()]/g, '\\$&')}$`, 'm'));
  assert.match(text.stdout, /^ {6}repository_id: 1001 → 999$/m);

  // The reviewer diff `accept` shows before it pins, and `diff` after.
  const acc = await p.cli(['accept', 'recreated', 'moved', '--yes', '--target', 'v2.lock']);
  assert.equal(acc.code, 0, acc.stderr);
  assert.ok(acc.stdout.includes(`! ${RECREATED}`), acc.stdout);
  assert.ok(acc.stdout.includes(`! ${MOVED}`), acc.stdout);
  const diff = await p.cli(['diff', '--json', `${p.lockfile}.pinned`, p.lockfile]);
  const changes = JSON.parse(diff.stdout).changes.filter((c: { type: string }) => c.type === 'identity-changed');
  assert.deepEqual(changes.flatMap((c: { reregistered?: { message: string }[] }) => (c.reregistered ?? []).map((x) => x.message)).sort(), [RECREATED, MOVED].sort());
  const md = await p.cli(['diff', '--format', 'markdown', `${p.lockfile}.pinned`, p.lockfile]);
  assert.ok(md.stdout.includes(`**${RECREATED}**`), md.stdout);
});

test('a changed ID is only called a re-creation when both sides have one: an ID absent from the pin is a plain field change', async () => {
  const p = makeProject(ls, ch, 'error');
  projects.push(p);
  p.envFile('v1.lock', [f('recreated', '1.0')]);
  assert.equal((await p.cli(['verify', '--json', 'v1.lock'])).code, 0);
  // An older pin without repository_id (written before IDs were pinned).
  const lock = JSON.parse(p.readLock());
  for (const id of lock.channels[ch.url].recreated.identities) delete id.repository_id;
  writeFileSync(p.lockfile, JSON.stringify(lock, null, 2) + '\n');
  p.envFile('v2.lock', [f('recreated', '2.0')]);
  const r = await p.cli(['verify', '--json', 'v2.lock']);
  const row = reportOf(r).rows.get('recreated-2.0');
  assert.equal(row.status, 'identity-changed');
  assert.ok(!row.reasons[0].message.includes('re-created'), row.reasons[0].message);
  assert.equal(row.identity_diff.changes[0].reregistered, undefined);
});

test('without a lockfile: init pins repository_id per repository and owner_id for the owner-wide glob, so a first install refuses the re-created repository and the transferred owner', async () => {
  const ws = makeWorkspace('conda-attest-rereg-');
  workspaces.push(ws);
  const a = parseYaml(ch.pixiLock({ filenames: [f('recreated', '1.0'), f('moved', '1.0')], platform: 'linux-64' }));
  const b = parseYaml(org.pixiLock({ filenames: ['p', 'q', 'r'].map((n) => f(n, '1.0')), platform: 'linux-64' }));
  a.environments.default.channels.push(...b.environments.default.channels);
  a.environments.default.packages['linux-64'].push(...b.environments.default.packages['linux-64']);
  a.packages.push(...b.packages);
  ws.write('pixi.lock', JSON.stringify(a, null, 1));
  const init = await runCli(ws, ['init', '--trusted-root', ls.trustedRootPath]);
  assert.equal(init.code, 0, init.stderr);
  const text = ws.read('.conda-attestrc.yaml');
  const doc = parseYaml(text);
  assert.deepEqual(doc.channels[ch.url].trusted_identities, [
    { identity: 'github:forge/moved-feedstock@refs/heads/main', repository_id: '1001' },
    { identity: 'github:forge/recreated-feedstock@refs/heads/main', repository_id: '1001' },
  ]);
  assert.deepEqual(doc.channels[org.url].trusted_identities, [{ identity: 'github:forge/*-feedstock@refs/heads/main', owner_id: '2001' }]);
  assert.match(text, /repository_id: "1001" # ID of https:\/\/github\.com\/forge\/recreated-feedstock, from its certificates$/m);
  assert.match(text, /owner_id: "2001" # owner of 3 repositories \(https:\/\/github\.com\/forge\/p-feedstock, /m);

  // The written config as is, no lockfile yet: 1.0 passes; the new IDs do not.
  const v1 = await verifyJson(ws, ['--lockfile', 'first.lock', 'pixi.lock']);
  assert.equal(v1.code, 0, JSON.stringify(v1.report.packages.map((x) => x.reasons)));
  const env2 = parseYaml(ch.pixiLock({ filenames: [f('recreated', '2.0')], platform: 'linux-64' }));
  const org2 = parseYaml(org.pixiLock({ filenames: [f('r', '2.0')], platform: 'linux-64' }));
  env2.environments.default.channels.push(...org2.environments.default.channels);
  env2.environments.default.packages['linux-64'].push(...org2.environments.default.packages['linux-64']);
  env2.packages.push(...org2.packages);
  ws.write('v2.lock', JSON.stringify(env2, null, 1));
  const v2 = await verifyJson(ws, ['--lockfile', 'none-yet.lock', 'v2.lock']);
  assert.equal(v2.code, 1);
  const rec = v2.report.packages.find((x) => x.name === 'recreated')!;
  const moved = v2.report.packages.find((x) => x.name === 'r')!;
  for (const [row, words] of [[rec, RECREATED], [moved, MOVED]] as const) {
    assert.equal(row.status, 'untrusted', row.name);
    assert.equal(row.reasons[0]!.code, 'IDENTITY_UNTRUSTED');
    assert.ok(row.reasons[0]!.message.includes(words), row.reasons[0]!.message);
    assert.match(row.reasons[0]!.hint ?? '', /Confirm with the publisher/);
  }
  const checks = (rec.bundles[0] as unknown as { evidence: { checks: Record<string, boolean | null> } }).evidence.checks;
  assert.equal(checks.identity_policy, true);
  assert.equal(checks.claims_policy, false);
  const txt = await runCli(ws, ['verify', '--lockfile', 'none-yet.lock', 'v2.lock']);
  assert.ok(txt.stdout.includes(RECREATED) && txt.stdout.includes(MOVED), txt.stdout);
});
