// End to end: the identity lockfile through the real CLI (`conda-attest verify`
// spawned as a child process) against a fixture channel on 127.0.0.1 whose attestations
// are signed by a local Sigstore instance under controlled identities.
//
// The channel holds, per scenario, a package whose 1.0 is signed by the "good" identity
// (forge/<name>-feedstock, build.yml, repository ID 1001, owner ID 2001) and whose 2.0 is
// signed by the identity under test. One run over every 1.0 pins the good identities
// (PINNED); each test copies that lockfile into its own project and verifies a 2.0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { startLocalSigstore, publishStatement, GITHUB_ISSUER } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel, FixturePackage } from '../helpers/channel.ts';
import { parseLock, serializeLock } from '../../src/lock/file.ts';
import { FORGE, OTHER_ISSUER, type CliResult, type Project, makeProject, reportOf, san, validateLockSchema } from './lock-env.ts';

let ls: LocalSigstore;
let ch: FixtureChannel;
const projects: Project[] = [];

const good = (name: string) => ({ san: san(`${name}-feedstock`) });

/** Every 1.0 that the base lockfile pins. */
const PINNED_NAMES = ['added', 'downgrade', 'gone', 'issuer', 'mail', 'ref', 'repo', 'repoid', 'workflow'];
const MAIL = 'release@forge.example.org';
const MAIL_ISSUER_1 = 'https://accounts.google.com';
const MAIL_ISSUER = 'https://github.com/login/oauth';

const PACKAGES: FixturePackage[] = [
  ...PINNED_NAMES.map((name) => ({
    spec: { name, version: '1.0', subdir: name === 'gone' ? 'linux-64' : 'noarch' },
    signOptions: name === 'mail' ? { san: MAIL, issuer: MAIL_ISSUER_1 } : good(name),
  })),
  // An email identity, same address, another issuer.
  { spec: { name: 'mail', version: '2.0' }, signOptions: { san: MAIL, issuer: MAIL_ISSUER } },
  // Same SAN, another ref (a new release tag): the same identity.
  { spec: { name: 'ref', version: '2.0' }, signOptions: { san: san('ref-feedstock', { ref: 'refs/tags/v2' }) } },
  // Another repository (a fork under another owner) with the same workflow file.
  { spec: { name: 'repo', version: '2.0' }, signOptions: { san: san('repo-feedstock', { owner: 'forge-fork' }) } },
  // Same SAN, another repository ID: the repository was deleted and its name re-registered by someone else.
  { spec: { name: 'repoid', version: '2.0' }, signOptions: { san: san('repoid-feedstock'), claims: { sourceRepositoryId: '666' } } },
  // Same repository, another workflow.
  { spec: { name: 'workflow', version: '2.0' }, signOptions: { san: san('workflow-feedstock', { workflow: 'release.yml' }) } },
  // Same SAN, another OIDC issuer (no longer GitHub Actions: the kind changes with it).
  { spec: { name: 'issuer', version: '2.0' }, signOptions: { san: san('issuer-feedstock'), issuer: OTHER_ISSUER } },
  // The next release arrives without attestations.
  { spec: { name: 'downgrade', version: '2.0' }, attest: false },
  // A package name that is a JavaScript prototype key (valid for conda and the lockfile schema).
  { spec: { name: '__proto__', version: '1.0' }, signOptions: good('proto') },
  { spec: { name: '__proto__', version: '2.0' }, signOptions: { san: san('proto-feedstock', { owner: 'evil' }) } },
  // Never pinned (for --frozen).
  { spec: { name: 'fresh', version: '1.0' }, signOptions: good('fresh') },
  { spec: { name: 'fresh2', version: '1.0' }, signOptions: good('fresh2') },
];

let PINNED = '';
let pinRun: CliResult;
let pinProject: Project;

function project(require: 'error' | 'warn' = 'error', withPinned = true): Project {
  const p = makeProject(ls, ch, require);
  projects.push(p);
  if (withPinned) writeFileSync(p.lockfile, PINNED);
  return p;
}

before(async () => {
  ls = await startLocalSigstore();
  ch = await startFixtureChannel({ sigstore: ls, subdirs: ['linux-64'], packages: PACKAGES });
  pinProject = project('error', false);
  pinProject.envFile('v1.lock', PINNED_NAMES.map((n) => `${n}-1.0-h0_0.conda`));
  pinRun = await pinProject.cli(['verify', '--json', 'v1.lock']);
  PINNED = existsSync(pinProject.lockfile) ? pinProject.readLock() : '';
});

after(async () => {
  for (const p of projects) p.cleanup();
  await ch?.close();
  await ls?.close();
});

function assertUnchanged(p: Project, before: string, mtimeMs: number, what: string): void {
  assert.equal(p.readLock(), before, `${what}: lockfile bytes unchanged`);
  assert.equal(statSync(p.lockfile).mtimeMs, mtimeMs, `${what}: lockfile not rewritten`);
}

test('first verified attestation: status verified, note recorded, lockfile written deterministic and schema-valid', () => {
  assert.equal(pinRun.code, 0, pinRun.stderr + pinRun.stdout);
  const { rows, summary } = reportOf(pinRun);
  assert.equal(summary.verified, PINNED_NAMES.length);
  for (const n of PINNED_NAMES) {
    const row = rows.get(`${n}-1.0`);
    assert.equal(row.status, 'verified', n);
    assert.deepEqual(row.notes, ['recorded'], n);
  }
  const data = JSON.parse(PINNED);
  assert.deepEqual(validateLockSchema(data), { ok: true, errors: null });
  // Deterministic: the bytes are the canonical serialisation (sorted, fixed key order, 2 spaces, final newline).
  assert.equal(PINNED, serializeLock(parseLock(PINNED, 'x')));
  assert.ok(PINNED.endsWith('}\n'));
  assert.deepEqual(Object.keys(data), ['version', 'channels']);
  assert.deepEqual(Object.keys(data.channels), [ch.url], 'keyed by the canonical channel URL');
  assert.deepEqual(Object.keys(data.channels[ch.url]), [...PINNED_NAMES].sort());
  const today = new Date().toISOString().slice(0, 10);
  assert.deepEqual(data.channels[ch.url].repoid, {
    identities: [
      {
        kind: 'github',
        issuer: GITHUB_ISSUER,
        repository: `${FORGE}/repoid-feedstock`,
        repository_id: '1001',
        owner_id: '2001',
        // The workflow without its @ref: refs change every release.
        workflow: `${FORGE}/repoid-feedstock/.github/workflows/build.yml`,
      },
    ],
    first_seen: { version: '1.0', date: today },
    last_seen: { version: '1.0', date: today },
  });
  // One fact per line (a readable git diff).
  assert.match(PINNED, /\n {12}"repository_id": "1001",\n/);
});

test('a second identical run does not rewrite the lockfile (bytes and mtime unchanged), and records nothing', async () => {
  const p = pinProject;
  const mtime = statSync(p.lockfile).mtimeMs;
  const again = await p.cli(['verify', '--json', 'v1.lock']);
  assert.equal(again.code, 0, again.stderr);
  for (const row of reportOf(again).rows.values()) {
    assert.equal(row.status, 'verified');
    assert.deepEqual(row.notes, [], 'nothing recorded the second time');
  }
  assertUnchanged(p, PINNED, mtime, 'identical run');
  // No lock or temp files left behind.
  assert.deepEqual(readdirSync(p.dir).filter((x) => x.includes('conda-attest.lock')), ['conda-attest.lock']);
});

test('same SAN with a new ref (@refs/tags/v2) is NOT a change: verified, only last_seen moves', async () => {
  const p = project();
  p.envFile('v2.lock', ['ref-2.0-h0_0.conda']);
  const r = await p.cli(['verify', '--json', 'v2.lock']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const row = reportOf(r).rows.get('ref-2.0');
  assert.equal(row.status, 'verified');
  assert.equal(row.identity.source_repository_ref, 'refs/tags/v2', 'the certificate really carries the new ref');
  assert.equal(row.identity_diff, undefined);
  const before = JSON.parse(PINNED).channels[ch.url].ref;
  const now = JSON.parse(p.readLock()).channels[ch.url].ref;
  assert.deepEqual(now.identities, before.identities);
  assert.deepEqual(now.first_seen, before.first_seen);
  assert.equal(now.last_seen.version, '2.0');
});

const CHANGED = ['issuer', 'mail', 'repo', 'repoid', 'workflow'];
const W = (repo: string, file = 'build.yml', owner = 'forge') => `https://github.com/${owner}/${repo}/.github/workflows/${file}`;
const EXPECTED_FIELDS: Record<string, { field: string; old: string | null; new: string | null }[]> = {
  // A github.com SAN from another issuer is not a GitHub Actions identity at all: every GitHub field goes.
  issuer: [
    { field: 'kind', old: 'github', new: 'uri' },
    { field: 'issuer', old: GITHUB_ISSUER, new: OTHER_ISSUER },
    { field: 'repository', old: `${FORGE}/issuer-feedstock`, new: null },
    { field: 'repository_id', old: '1001', new: null },
    { field: 'owner_id', old: '2001', new: null },
    { field: 'workflow', old: W('issuer-feedstock'), new: null },
    { field: 'uri', old: null, new: W('issuer-feedstock') },
  ],
  mail: [{ field: 'issuer', old: MAIL_ISSUER_1, new: MAIL_ISSUER }],
  repo: [
    { field: 'repository', old: `${FORGE}/repo-feedstock`, new: 'https://github.com/forge-fork/repo-feedstock' },
    { field: 'workflow', old: W('repo-feedstock'), new: W('repo-feedstock', 'build.yml', 'forge-fork') },
  ],
  // The attacker re-registered the deleted repository name: same SAN, same repository URL; only the ID tells.
  repoid: [{ field: 'repository_id', old: '1001', new: '666' }],
  workflow: [{ field: 'workflow', old: W('workflow-feedstock'), new: W('workflow-feedstock', 'release.yml') }],
};

test('another repository, repository ID (same SAN), workflow or issuer: identity-changed with a field diff, blocked under require: error', async () => {
  const p = project('error');
  p.envFile('v2.lock', CHANGED.map((n) => `${n}-2.0-h0_0.conda`));
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await p.cli(['verify', '--json', 'v2.lock']);
  assert.equal(r.code, 1, r.stderr);
  const { rows, summary } = reportOf(r);
  assert.equal(summary['identity-changed'], CHANGED.length);
  assert.equal(summary.blocked, CHANGED.length);
  for (const n of CHANGED) {
    const row = rows.get(`${n}-2.0`);
    assert.equal(row.status, 'identity-changed', n);
    assert.equal(row.action, 'block', n);
    assert.deepEqual(row.reasons.map((x: { code: string }) => x.code), ['IDENTITY_CHANGED'], n);
    assert.match(row.reasons[0].hint, new RegExp(`conda-attest accept ${n}`));
    const changes = row.identity_diff.changes;
    assert.equal(changes.length, 1, n);
    assert.equal(changes[0].type, 'identity-changed', n);
    assert.deepEqual(changes[0].fields, EXPECTED_FIELDS[n], n);
    assert.deepEqual(row.identity_diff.pinned, JSON.parse(PINNED).channels[ch.url][n].identities, n);
  }
  // A blocked change never moves the pin.
  assertUnchanged(p, PINNED, mtime, 'blocked change');

  const text = await p.cli(['verify', 'v2.lock']);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /✖ blocked repoid-2\.0-h0_0\.conda .* identity-changed/);
  // The change is said once: the reason line names the package, the fields follow on their own lines.
  assert.match(text.stdout, /IDENTITY_CHANGED .*repoid 2\.0 .*signed by another identity than the lockfile pins:$/m);
  assert.doesNotMatch(text.stdout, /repository_id 1001 -> 666/);
  assert.match(text.stdout, /^ {6}repository_id: 1001 → 666$/m);
  assert.match(text.stdout, new RegExp(`^ {6}issuer: ${GITHUB_ISSUER} → ${OTHER_ISSUER}$`, 'm'));
  assert.match(text.stdout, new RegExp(`^ {6}issuer: ${MAIL_ISSUER_1} → ${MAIL_ISSUER}$`, 'm'));
  assert.match(text.stdout, /^ {6}repository: https:\/\/github\.com\/forge\/repo-feedstock → https:\/\/github\.com\/forge-fork\/repo-feedstock$/m);
  assert.match(text.stdout, /^ {6}workflow: \S+\/build\.yml → \S+\/release\.yml$/m);
  assert.match(text.stdout, /5 blocked/);
  assertUnchanged(p, PINNED, mtime, 'blocked change (text run)');
});

test('the same changes under require: warn are warned (exit 0) and still not pinned', async () => {
  const p = project('warn');
  p.envFile('v2.lock', CHANGED.map((n) => `${n}-2.0-h0_0.conda`));
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await p.cli(['verify', '--json', 'v2.lock']);
  assert.equal(r.code, 0, r.stderr);
  const { rows, summary } = reportOf(r);
  assert.equal(summary.warned, CHANGED.length);
  for (const n of CHANGED) {
    assert.equal(rows.get(`${n}-2.0`).status, 'identity-changed');
    assert.equal(rows.get(`${n}-2.0`).action, 'warn');
  }
  const text = await p.cli(['verify', 'v2.lock']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /▲ warning repoid-2\.0-h0_0\.conda/);
  assert.match(text.stdout, /repository_id: 1001 → 666/);
  assert.match(text.stdout, /passed with 5 warnings/);
  assertUnchanged(p, PINNED, mtime, 'warned change');
});

test('an additional identity appended to the sidecar is a change (IDENTITY_ADDED)', async () => {
  const p = project('error');
  const pkg = ch.get('added-1.0-h0_0.conda');
  // CEP 50: attestations appended = new sidecar bytes, new attestations_sha256 in repodata.
  ch.appendBundles(pkg.filename, [
    await ls.attest(publishStatement({ filename: pkg.filename, sha256: pkg.sha256, targetChannel: ch.url }), {
      san: 'https://github.com/someone/else/.github/workflows/sign.yml@refs/heads/main',
    }),
  ]);
  p.envFile('v1.lock', ['added-1.0-h0_0.conda']);
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await p.cli(['verify', '--json', 'v1.lock']);
  assert.equal(r.code, 1, r.stderr);
  const row = reportOf(r).rows.get('added-1.0');
  assert.equal(row.status, 'identity-changed');
  assert.equal(row.bundles.length, 2, 'both bundles verified');
  assert.deepEqual(row.reasons.map((x: { code: string }) => x.code), ['IDENTITY_ADDED']);
  assert.deepEqual(
    row.identity_diff.changes.map((c: { type: string; identity?: { repository?: string } }) => [c.type, c.identity?.repository]),
    [['identity-added', 'https://github.com/someone/else']],
  );
  assertUnchanged(p, PINNED, mtime, 'added identity');
});

test('an attested package arriving without attestations is a downgrade: identity-changed (next release unattested, or the sidecar removed)', async () => {
  const p = project('error');
  // (1) the next release has no attestations.
  p.envFile('v2.lock', ['downgrade-2.0-h0_0.conda']);
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await p.cli(['verify', '--json', 'v2.lock']);
  assert.equal(r.code, 1, r.stderr);
  const row = reportOf(r).rows.get('downgrade-2.0');
  assert.equal(row.status, 'identity-changed');
  assert.ok(row.reasons.some((x: { code: string }) => x.code === 'ATTESTATIONS_REMOVED'), JSON.stringify(row.reasons));
  assert.deepEqual(row.identity_diff.observed, []);
  assert.equal(row.identity_diff.changes[0].type, 'identity-removed');

  // (2) the same file, but the channel stops advertising its sidecar (attestations_sha256 dropped from repodata).
  const repodata = ch.repodata('linux-64');
  delete repodata['packages.conda']['gone-1.0-h0_0.conda'].attestations_sha256;
  ch.setFault(`${ch.url}/linux-64/repodata.json`, { kind: 'body', body: JSON.stringify(repodata) });
  // ... and removes the sidecar files (otherwise discovery's `.sigs` probe would still find them).
  const gone = ch.get('gone-1.0-h0_0.conda');
  for (const u of Object.values(gone.sidecarUrls)) ch.setFault(u, { kind: 'status', status: 404 });
  try {
    p.envFile('gone.lock', ['gone-1.0-h0_0.conda']);
    const g = await p.cli(['verify', '--json', 'gone.lock']);
    assert.equal(g.code, 1, g.stderr);
    const grow = reportOf(g).rows.get('gone-1.0');
    assert.equal(grow.status, 'identity-changed');
    assert.equal(grow.sidecar, null, 'really no sidecar this time');
    assert.ok(grow.reasons.some((x: { code: string }) => x.code === 'ATTESTATIONS_REMOVED'));
    const text = await p.cli(['verify', 'gone.lock']);
    assert.match(text.stdout, /ATTESTATIONS_REMOVED .*gone 1\.0 .*arrived without attestations/);
  } finally {
    ch.clearFaults();
  }
  assertUnchanged(p, PINNED, mtime, 'downgrade');
});

test('--frozen without a lockfile: one LOCK_MISSING error (exit 2), not one blocked row per package; nothing is written', async () => {
  const p = project('error', false);
  p.envFile('env.lock', ['fresh-1.0-h0_0.conda', 'fresh2-1.0-h0_0.conda']);
  for (const args of [['verify', '--frozen', '--json', 'env.lock'], ['verify', '--frozen', 'env.lock']]) {
    const r = await p.cli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^conda-attest: LOCK_MISSING: --frozen needs the identity lockfile .*conda-attest\.lock, which does not exist\. \(hint: Run `conda-attest verify` once without --frozen/);
  }
  assert.equal(existsSync(p.lockfile), false, 'an absent lockfile stays absent');
  assert.deepEqual(readdirSync(p.dir).filter((x) => x.includes('conda-attest.lock')), [], 'no lock or temp files either');
});

test('--frozen with a lockfile: missing and changed entries blocked, warned under warn, the file byte-identical', async () => {
  const p = project('error');
  // fresh: not pinned; repoid 2.0: changed; ref 2.0: same identity (only last_seen would move).
  p.envFile('env.lock', ['fresh-1.0-h0_0.conda', 'repoid-2.0-h0_0.conda', 'ref-2.0-h0_0.conda']);
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await p.cli(['verify', '--frozen', '--json', 'env.lock']);
  assert.equal(r.code, 1, r.stderr);
  const { rows } = reportOf(r);
  assert.deepEqual(rows.get('fresh-1.0').reasons.map((x: { code: string }) => x.code), ['LOCK_ENTRY_MISSING']);
  assert.equal(rows.get('repoid-2.0').status, 'identity-changed');
  assert.equal(rows.get('ref-2.0').status, 'verified');
  assertUnchanged(p, PINNED, mtime, '--frozen');

  const w = await p.cli(['verify', '--frozen', '--config', p.config('warn.json', 'warn'), '--json', 'env.lock']);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(reportOf(w).rows.get('fresh-1.0').action, 'warn');
  assertUnchanged(p, PINNED, mtime, '--frozen under warn');
});

test('corrupt lockfile (truncated JSON, unknown version): verify exits 2 with LOCK_CORRUPT / LOCK_UNSUPPORTED_VERSION, file untouched', async () => {
  const p = project('error');
  p.envFile('v1.lock', ['ref-1.0-h0_0.conda', 'fresh-1.0-h0_0.conda']);
  const cases: [string, string][] = [
    [PINNED.slice(0, Math.floor(PINNED.length / 2)), 'LOCK_CORRUPT'],
    [PINNED.replace('"version": 1', '"version": 99'), 'LOCK_UNSUPPORTED_VERSION'],
    ['', 'LOCK_CORRUPT'],
    // Schema-invalid: an identity without its issuer must not be "repaired" by rewriting.
    [PINNED.replace(/"issuer": "[^"]*",\n/, ''), 'LOCK_CORRUPT'],
  ];
  for (const [content, code] of cases) {
    writeFileSync(p.lockfile, content);
    const mtime = statSync(p.lockfile).mtimeMs;
    for (const args of [['verify', 'v1.lock'], ['verify', '--json', 'v1.lock'], ['accept', '--all', '--yes', '--target', 'v1.lock']]) {
      const r = await p.cli(args);
      assert.equal(r.code, 2, `${code} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`conda-attest: ${code}: .*${p.lockfile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.match(r.stderr, /hint: /);
      assertUnchanged(p, content, mtime, `${code} ${args.join(' ')}`);
    }
  }
});

test('concurrent verify runs in separate processes on different environments sharing one lockfile: every entry present', async () => {
  const p = project('error', false);
  const groups = [
    ['ref', 'repo'],
    ['repoid', 'workflow'],
    ['issuer', 'added'],
    ['fresh', 'fresh2'],
  ];
  groups.forEach((g, i) => p.envFile(`env${i}.lock`, g.map((n) => `${n}-1.0-h0_0.conda`)));
  // `added` has an extra bundle after the test above: do not depend on the order of tests.
  const results = await Promise.all(groups.map((_, i) => p.cli(['verify', '--json', `env${i}.lock`])));
  for (const r of results) assert.notEqual(r.code, 2, r.stderr);
  const lock = JSON.parse(p.readLock());
  assert.deepEqual(validateLockSchema(lock).ok, true);
  assert.deepEqual(Object.keys(lock.channels[ch.url]), groups.flat().sort(), 'no run lost another run\'s entries');
  assert.equal(p.readLock(), serializeLock(parseLock(p.readLock(), 'x')));
  assert.deepEqual(readdirSync(p.dir).filter((x) => x.includes('conda-attest.lock')), ['conda-attest.lock'], 'lock released');
});

test('adversarial: a package named __proto__ is pinned as an ordinary entry and its identity change is caught', async () => {
  const p = project('error', false);
  p.envFile('v1.lock', ['__proto__-1.0-h0_0.conda', 'ref-1.0-h0_0.conda']);
  const first = await p.cli(['verify', '--json', 'v1.lock']);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.deepEqual(reportOf(first).rows.get('__proto__-1.0').notes, ['recorded']);
  const text = p.readLock();
  assert.deepEqual(validateLockSchema(JSON.parse(text)).ok, true);
  assert.deepEqual(Object.keys(JSON.parse(text).channels[ch.url]), ['__proto__', 'ref']);
  assert.match(text, /\n {6}"__proto__": \{\n {8}"identities"/);
  const mtime = statSync(p.lockfile).mtimeMs;
  const again = await p.cli(['verify', '--json', 'v1.lock']);
  assert.deepEqual(reportOf(again).rows.get('__proto__-1.0').notes, [], 'read back as pinned');
  p.envFile('v2.lock', ['__proto__-2.0-h0_0.conda']);
  const changed = await p.cli(['verify', '--json', 'v2.lock']);
  assert.equal(changed.code, 1);
  const row = reportOf(changed).rows.get('__proto__-2.0');
  assert.equal(row.status, 'identity-changed');
  assert.deepEqual(row.identity_diff.changes[0].fields.map((x: { field: string }) => x.field), ['repository', 'workflow']);
  assertUnchanged(p, text, mtime, '__proto__');
});
