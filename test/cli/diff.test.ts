import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { runInProcess } from '../helpers/cli-io.ts';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import { serializeLock } from '../../src/lock/file.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { CH, FP1, gh, key } from '../lock/fixtures.ts';

const RUN_CLI = fileURLToPath(new URL('./run-cli.ts', import.meta.url));

function lockOf(entries: [string, Parameters<typeof decide>[2]][]): string {
  const lock: Lock = applyDecisions(
    emptyLock(),
    entries.map(([name, ids]) => decide(emptyLock(), { channel: CH, name, version: '1.0' }, ids, '2026-01-01')),
  );
  return serializeLock(lock);
}

const OLD = lockOf([
  ['numpy', [gh()]],
  ['scipy', [gh({ repo: 'forge/scipy-feedstock' })]],
]);
const NEW = lockOf([
  ['numpy', [gh({ sourceRepositoryId: '666' })]],
  ['scipy', [gh({ repo: 'forge/scipy-feedstock' }), key(FP1, 'channel')]],
]);

/** An isolated environment for git (no user/system config) and the CLI (no colour unless asked). */
function envFor(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: join(home, '.gitconfig'),
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.org',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.org',
    NO_COLOR: '1',
  };
}

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  git: (...args: string[]) => string;
  cli: (...argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
}

function setup(t: { after: (fn: () => void) => void }, withRepo = true): Ctx {
  const root = mkdtempSync(join(tmpdir(), 'conda-attest-diff-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'project');
  mkdirSync(dir);
  const env = envFor(root);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' });
  if (withRepo) git('init', '-q', '-b', 'main');
  const cli = (...argv: string[]) => runInProcess(main, ['diff', ...argv], { env, cwd: dir });
  return { dir, env, git, cli };
}

function commitOld(c: Ctx): void {
  writeFileSync(join(c.dir, 'conda-attest.lock'), OLD);
  c.git('add', 'conda-attest.lock');
  c.git('commit', '-q', '-m', 'pin');
  writeFileSync(join(c.dir, 'conda-attest.lock'), NEW);
}

test('default: committed lockfile (HEAD) vs working tree, plain text without colour', async (t) => {
  const c = setup(t);
  commitOld(c);
  const r = await c.cli();
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\u001b\[/);
  assert.match(r.stdout, new RegExp(`^numpy from ${CH}\\n  ~ identity changed`, 'm'));
  assert.match(r.stdout, /repository_id:\n\s+- 100\n\s+\+ 666/);
  assert.match(r.stdout, new RegExp(`^scipy from ${CH}\\n  \\+ identity added: key ${FP1} \\(channel\\)`, 'm'));
});

test('--exit-code: 1 with identity changes, 0 without; plain diff exits 0 either way', async (t) => {
  const c = setup(t);
  commitOld(c);
  assert.equal((await c.cli('--exit-code')).code, 1);
  writeFileSync(join(c.dir, 'conda-attest.lock'), OLD);
  const same = await c.cli('--exit-code');
  assert.equal(same.code, 0);
  assert.equal(same.stdout, 'No signer identity changes.\n');
});

test('--format markdown / json / --json', async (t) => {
  const c = setup(t);
  commitOld(c);
  const md = await c.cli('--format', 'markdown');
  assert.equal(md.code, 0);
  assert.match(md.stdout, /\| repository_id \| <code>100<\/code> \| <code>666<\/code> \|/);
  const j1 = await c.cli('--json');
  const j2 = await c.cli('--format', 'json');
  assert.equal(j1.stdout, j2.stdout);
  const data = JSON.parse(j1.stdout);
  assert.equal(data.version, 1);
  assert.equal(data.identity_changes, 2);
  assert.deepEqual(
    data.changes.map((x: { name: string; type: string }) => `${x.name}:${x.type}`),
    ['numpy:identity-changed', 'scipy:identity-added'],
  );
});

test('--color forces ANSI colours even with NO_COLOR and no TTY', async (t) => {
  const c = setup(t);
  commitOld(c);
  assert.match((await c.cli('--color')).stdout, /\u001b\[31m/);
});

test('explicit OLD and NEW files; one argument = OLD vs working tree', async (t) => {
  const c = setup(t, false);
  writeFileSync(join(c.dir, 'old.lock'), OLD);
  writeFileSync(join(c.dir, 'new.lock'), NEW);
  const two = await c.cli('--json', 'old.lock', 'new.lock');
  assert.equal(JSON.parse(two.stdout).identity_changes, 2);
  writeFileSync(join(c.dir, 'conda-attest.lock'), NEW);
  const one = await c.cli('--json', 'old.lock');
  assert.equal(one.stdout, two.stdout);
  const reversed = JSON.parse((await c.cli('--json', 'new.lock', 'old.lock')).stdout);
  assert.deepEqual(
    reversed.changes.map((x: { type: string }) => x.type),
    ['identity-changed', 'identity-removed'],
  );
});

test('lockfile absent at HEAD (or no commit yet): everything shows as pinned', async (t) => {
  const c = setup(t);
  writeFileSync(join(c.dir, 'conda-attest.lock'), NEW);
  const noCommit = JSON.parse((await c.cli('--json')).stdout);
  assert.deepEqual(
    noCommit.changes.map((x: { type: string }) => x.type),
    ['package-added', 'package-added'],
  );
  writeFileSync(join(c.dir, 'README'), 'x');
  c.git('add', 'README');
  c.git('commit', '-q', '-m', 'init');
  assert.equal((await c.cli('--json')).stdout, JSON.stringify(noCommit, null, 2) + '\n');
});

test('--lockfile in a subdirectory and --base REV', async (t) => {
  const c = setup(t);
  mkdirSync(join(c.dir, 'env'));
  writeFileSync(join(c.dir, 'env', 'x.lock'), OLD);
  c.git('add', '.');
  c.git('commit', '-q', '-m', 'one');
  writeFileSync(join(c.dir, 'env', 'x.lock'), NEW);
  c.git('commit', '-q', '-am', 'two');
  const head = await c.cli('--json', '--lockfile', 'env/x.lock');
  assert.equal(JSON.parse(head.stdout).identity_changes, 0, 'HEAD equals the working tree');
  const base = await c.cli('--json', '--lockfile', 'env/x.lock', '--base', 'HEAD~1');
  assert.equal(JSON.parse(base.stdout).identity_changes, 2);
});

test('errors exit 2 with a code: no git repository, corrupt file, missing OLD, bad options', async (t) => {
  const c = setup(t, false);
  writeFileSync(join(c.dir, 'conda-attest.lock'), NEW);
  const noRepo = await c.cli();
  assert.equal(noRepo.code, 2);
  assert.match(noRepo.stderr, /LOCK_NOT_FOUND: .*not inside a git work tree.*hint: Pass the old lockfile explicitly/);

  writeFileSync(join(c.dir, 'bad.lock'), '{"version": 1, "channels": {');
  const corrupt = await c.cli('bad.lock');
  assert.equal(corrupt.code, 2);
  assert.match(corrupt.stderr, /LOCK_CORRUPT/);

  assert.match((await c.cli('missing.lock')).stderr, /LOCK_NOT_FOUND/);
  assert.match((await c.cli('--frobnicate')).stderr, /USAGE_UNKNOWN_OPTION/);
  assert.match((await c.cli('--format', 'html')).stderr, /USAGE_INVALID_ARGUMENT/);
  assert.match((await c.cli('a', 'b', 'c')).stderr, /USAGE_INVALID_ARGUMENT/);
});

test('adversarial: --base cannot smuggle options into git', async (t) => {
  const c = setup(t);
  commitOld(c);
  const target = join(c.dir, 'pwned');
  const r = await c.cli(`--base=--output=${target}`);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /USAGE_INVALID_ARGUMENT/);
  assert.equal(existsSync(target), false);
});

test('--textconv prints one fact per line; a corrupt side is shown raw, not fatal', async (t) => {
  const c = setup(t, false);
  writeFileSync(join(c.dir, 'a.lock'), NEW);
  const r = await c.cli('--textconv', 'a.lock');
  assert.equal(r.code, 0);
  assert.match(r.stdout, new RegExp(`^${CH} numpy \\[github \\S+/build.yml\\] repository_id 666$`, 'm'));
  writeFileSync(join(c.dir, 'conflict.lock'), '<<<<<<< HEAD\n{}\n=======\n');
  const raw = await c.cli('--textconv', 'conflict.lock');
  assert.equal(raw.code, 0);
  assert.match(raw.stdout, /^# conda-attest: LOCK_CORRUPT/);
  assert.match(raw.stdout, /<<<<<<< HEAD\n\{\}\n=======\n$/);
});

test('as a real git textconv driver: `git diff` shows the changed fact as one -/+ pair', async (t) => {
  const c = setup(t);
  commitOld(c);
  writeFileSync(join(c.dir, '.gitattributes'), 'conda-attest.lock diff=conda-attest\n');
  c.git('config', 'diff.conda-attest.textconv', `'${process.execPath}' '${RUN_CLI}' diff --textconv`);
  const out = c.git('diff', '--no-color', '--', 'conda-attest.lock');
  const minus = out.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  const plus = out.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
  assert.deepEqual(minus, [`-${CH} numpy [github https://github.com/forge/numpy-feedstock/.github/workflows/build.yml] repository_id 100`]);
  assert.ok(plus.includes(`+${CH} numpy [github https://github.com/forge/numpy-feedstock/.github/workflows/build.yml] repository_id 666`));
  assert.ok(plus.includes(`+${CH} scipy [key ${FP1} (channel)] key_fingerprint ${FP1}`));
});
