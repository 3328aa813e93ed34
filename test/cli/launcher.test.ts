// The launcher (bin/conda-attest.js): on a Node older than the engines floor every entry
// point says so in one line and exits 2, instead of failing with a SyntaxError from
// modern code; on a supported Node it answers `--version` and runs the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const launcher = join(root, 'bin', 'conda-attest.js');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
const floor = /^>=\s*(\d+\.\d+\.\d+)$/.exec(pkg.engines.node)?.[1];

function older(v: string, f: string): boolean {
  const a = v.split('.').map(Number);
  const b = f.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** A `node` on PATH that is not the repository's own (node_modules) and is older than the floor. */
function findOldNode(): { path: string; version: string } | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.split(sep).includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
      if (floor && older(version, floor)) return { path: candidate, version };
    } catch {
      // not runnable: try the next
    }
  }
  return null;
}

test('the launcher checks the same floor as package.json "engines"', () => {
  assert.ok(floor, `engines.node is not of the form ">=X.Y.Z": ${pkg.engines.node}`);
  assert.match(readFileSync(launcher, 'utf8'), new RegExp(`var FLOOR = '${floor!.replace(/\./g, '\\.')}';`));
});

const old = findOldNode();
const skipOld = old ? false : `no Node older than ${floor} on PATH outside node_modules to run the launcher with`;

test('on an old Node every entry point prints one line and exits 2', { skip: skipOld }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-oldnode-'));
  try {
    const lock = join(dir, 'conda-attest.lock');
    writeFileSync(lock, '{}\n');
    const expected = `conda-attest needs Node.js >= ${floor} (this is ${old!.version})\n`;
    for (const args of [[], ['--version'], ['--help'], ['verify', 'pixi.lock'], ['diff', '--textconv', lock], ['accept', '--all']]) {
      const r = spawnSync(old!.path, [launcher, ...args], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.stderr, expected, `stderr of ${JSON.stringify(args)}`);
      assert.equal(r.stdout, '', `stdout of ${JSON.stringify(args)}`);
      assert.equal(r.status, 2, `exit code of ${JSON.stringify(args)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('as the git textconv driver on an old Node, git shows the one line', { skip: skipOld || (spawnSync('git', ['--version']).status !== 0 && 'git is not installed') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-oldnode-git-'));
  try {
    // `node` on PATH is the old one, as for a user whose default Node is old: the launcher's
    // `#!/usr/bin/env node` line picks it.
    const env = { ...process.env, PATH: [join(old!.path, '..'), process.env.PATH].join(delimiter), GIT_CONFIG_NOSYSTEM: '1', HOME: dir };
    const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, env, encoding: 'utf8' });
    git('init', '-q');
    git('config', 'user.email', 't@example.invalid');
    git('config', 'user.name', 't');
    git('config', 'diff.conda-attest.textconv', `${launcher} diff --textconv`);
    writeFileSync(join(dir, '.gitattributes'), 'conda-attest.lock diff=conda-attest\n');
    writeFileSync(join(dir, 'conda-attest.lock'), '{}\n');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    writeFileSync(join(dir, 'conda-attest.lock'), '{ }\n');
    const r = git('diff');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`^conda-attest needs Node\\.js >= ${floor!.replace(/\./g, '\\.')} \\(this is ${old!.version.replace(/\./g, '\\.')}\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /SyntaxError/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on a supported Node, --version and -v print the package version', () => {
  for (const flag of ['--version', '-v']) {
    const r = spawnSync(process.execPath, [launcher, flag], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
    assert.equal(r.stderr, '');
  }
});

const built = existsSync(join(root, 'dist', 'cli', 'main.js'));
test('on a supported Node, the launcher runs the built CLI', { skip: !built && 'dist/ is not built (npm run build)' }, () => {
  const r = spawnSync(process.execPath, [launcher, 'no-such-command'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /USAGE_UNKNOWN_COMMAND/);
});

test('in a clone before `npm run build`, the launcher says so in one line and exits 2', () => {
  // A copy of bin/ and package.json without dist/, as a fresh clone before any build.
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-nodist-'));
  try {
    mkdirSync(join(dir, 'bin'));
    for (const f of ['conda-attest.js', 'launch.js']) copyFileSync(join(root, 'bin', f), join(dir, 'bin', f));
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    const r = spawnSync(process.execPath, [join(dir, 'bin', 'conda-attest.js'), 'verify'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.stderr, 'conda-attest: dist/ is missing: run `npm run build`\n');
    assert.equal(r.stdout, '');
    assert.equal(r.status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('package.json: npm ci in a clone builds dist/; a packed tarball carries no script npm would run or flag on install', () => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  // `dependencies` runs after npm changes the project's own node_modules, never for a dependency.
  assert.equal(scripts.dependencies, 'npm run build');
  assert.equal(scripts.prepack, 'npm run build');
  // npm runs or reviews these when it installs a package from a tarball: none may exist.
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(scripts[s], undefined, s);
});
