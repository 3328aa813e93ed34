// Red-team: where the configuration comes from (docs/config-search.md). A file an attacker
// can add to a pull request, or drop into a shared parent directory, must neither run code
// nor replace the project's policy. The real CLI as a child process (cosmiconfig's meta
// configuration is read from the process's working directory), plus loadConfig directly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { runNode } from '../helpers/e2e.ts';

const CLI = new URL('../cli/run-cli.ts', import.meta.url).pathname;
const root = realpathSync(mkdtempSync(join(tmpdir(), 'ca-attack-config-')));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory under the temp root with `files` written into it. */
function tree(files: Record<string, string>): string {
  const dir = join(root, `t${++n}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const STRICT = 'https://strict.example/forge';
const STRICT_YAML = `channels:\n  "${STRICT}":\n    require: error\n`;
const EVIL = JSON.stringify({ channels: { [STRICT]: { require: 'ignore' } } });
/** A JS module that, if it ever runs, leaves a marker file and returns an "allow everything" policy. */
function evilModule(marker: string, cjs = false): string {
  const write = `writeFileSync(${JSON.stringify(marker)}, 'ran');\n`;
  return cjs
    ? `const { writeFileSync } = require('node:fs');\n${write}module.exports = ${EVIL};\n`
    : `import { writeFileSync } from 'node:fs';\n${write}export default ${EVIL};\n`;
}

async function policyJson(cwd: string, home: string, args: string[] = []): Promise<{ code: number | null; config?: string; require?: string; stderr: string }> {
  const r = await runNode(CLI, ['policy', '--format', 'json', ...args], { cwd, env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'xdg'), XDG_CACHE_HOME: join(home, 'cache') } });
  if (r.code !== 0) return { code: r.code, stderr: r.stderr };
  const out = JSON.parse(r.stdout) as { config: string; channels: { channel: string; require: string }[] };
  return { code: r.code, config: out.config, require: out.channels.find((c) => c.channel === STRICT)?.require, stderr: r.stderr };
}

test("attack: cosmiconfig's meta config (.config/config.js|mjs|cjs|ts) in the working directory never runs, with or without --config", async () => {
  for (const [name, cjs] of [['config.js', false], ['config.mjs', false], ['config.cjs', true], ['config.ts', false]] as const) {
    const dir = tree({ '.conda-attestrc.yaml': STRICT_YAML, 'policy.yaml': STRICT_YAML });
    const marker = join(dir, `ran-${name}`);
    mkdirSync(join(dir, '.config'));
    writeFileSync(join(dir, '.config', name), evilModule(marker, cjs));
    for (const args of [[], ['--config', 'policy.yaml']]) {
      const r = await policyJson(dir, dir, args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.require, 'error', `${name} ${args.join(' ')}: the project's policy is enforced`);
      assert.equal(existsSync(marker), false, `${name} ${args.join(' ')}: the meta config was executed`);
    }
  }
});

test('attack: an undocumented .config/config.{yaml,yml,json} with a conda-attest key, or a `cosmiconfig` key in package.json, never replaces the policy', async () => {
  for (const [name, body] of [
    ['.config/config.yaml', `conda-attest:\n  channels:\n    "${STRICT}":\n      require: ignore\n`],
    ['.config/config.yml', `conda-attest:\n  channels:\n    "${STRICT}":\n      require: ignore\n`],
    ['.config/config.json', JSON.stringify({ 'conda-attest': JSON.parse(EVIL) })],
  ] as const) {
    const dir = tree({ '.conda-attestrc.yaml': STRICT_YAML, [name]: body });
    const r = await policyJson(dir, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.config, join(dir, '.conda-attestrc.yaml'), name);
    assert.equal(r.require, 'error', name);
  }
  // cosmiconfig's meta config in package.json may add search places ("evil.yaml").
  const dir = tree({ 'sub/.conda-attestrc.yaml': STRICT_YAML, 'sub/evil.yaml': EVIL, 'sub/package.json': JSON.stringify({ name: 'x', cosmiconfig: { searchPlaces: ['evil.yaml'] } }) });
  const r = await policyJson(join(dir, 'sub'), dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.config, join(dir, 'sub', '.conda-attestrc.yaml'));
  assert.equal(r.require, 'error');
});

test('attack: a conda-attest.config.js|mjs|cjs|ts met by the search is not run and not skipped for a policy further up: CONFIG_CODE_NOT_LOADED names it and --config (exit 2)', async () => {
  for (const ext of ['js', 'mjs', 'cjs', 'ts']) {
    const dir = tree({ '.conda-attestrc.yaml': STRICT_YAML });
    const marker = join(dir, `ran-${ext}`);
    const file = join(dir, 'project', `conda-attest.config.${ext}`);
    mkdirSync(dirname(file));
    writeFileSync(file, evilModule(marker, ext === 'cjs'));
    const r = await policyJson(join(dir, 'project'), dir);
    assert.equal(r.code, 2, ext);
    assert.match(r.stderr, /CONFIG_CODE_NOT_LOADED/);
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.ok(r.stderr.includes(`--config ${file}`), r.stderr);
    assert.equal(existsSync(marker), false, `${ext}: the module ran`);
    // Named explicitly, the user chose to run it (the README says so).
    const explicit = await policyJson(join(dir, 'project'), dir, ['--config', `conda-attest.config.${ext}`]);
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.equal(existsSync(marker), true, `${ext}: --config runs the module`);
  }
  // In the user-wide directory too.
  const home = tree({ 'xdg/conda-attest/config.mjs': 'export default {};\n' });
  await assert.rejects(loadConfig({ cwd: join(home), env: { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') } }), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_CODE_NOT_LOADED');
});

test('attack: two documented configuration files in one directory are CONFIG_AMBIGUOUS naming both, never one picked silently', async () => {
  const cases: Record<string, string>[] = [
    { '.conda-attestrc.yaml': STRICT_YAML, '.conda-attestrc.json': EVIL },
    { '.conda-attestrc': STRICT_YAML, '.conda-attestrc.yml': EVIL },
    { 'package.json': JSON.stringify({ name: 'x', 'conda-attest': JSON.parse(EVIL) }), '.conda-attestrc.yaml': STRICT_YAML },
    { '.conda-attestrc.yaml': STRICT_YAML, 'conda-attest.config.mjs': `export default ${EVIL};\n` },
  ];
  for (const files of cases) {
    const dir = tree(files);
    await assert.rejects(loadConfig({ cwd: dir, env: { HOME: dir } }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.code, 'CONFIG_AMBIGUOUS');
      for (const name of Object.keys(files)) assert.ok(e.message.includes(join(dir, name)), `${e.message} names ${name}`);
      return true;
    });
  }
  // A package.json without the key is not a configuration: no ambiguity.
  const dir = tree({ 'package.json': '{"name":"x"}', '.conda-attestrc.yaml': STRICT_YAML });
  assert.equal((await loadConfig({ cwd: dir, env: { HOME: dir } })).source, join(dir, '.conda-attestrc.yaml'));
});

test('attack: a policy in a shared parent outside $HOME and any git repository is never read; the search stops at the git root or $HOME', async () => {
  // /shared/.conda-attestrc.json allows everything; the project below has no config of its own.
  const shared = tree({ '.conda-attestrc.json': EVIL, 'home/.keep': '' });
  const home = join(shared, 'home');
  mkdirSync(join(shared, 'proj', 'sub'), { recursive: true });
  const noConfig = async (cwd: string, h = home) => assert.equal((await loadConfig({ cwd, env: { HOME: h } })).source, undefined, cwd);
  // Neither a git root nor $HOME above: only the starting directory is read.
  await noConfig(join(shared, 'proj', 'sub'));
  await noConfig(join(shared, 'proj'));
  // A git root: read up to and including it, never above.
  mkdirSync(join(shared, 'proj', '.git'));
  await noConfig(join(shared, 'proj', 'sub'));
  writeFileSync(join(shared, 'proj', '.conda-attestrc.yaml'), STRICT_YAML);
  assert.equal((await loadConfig({ cwd: join(shared, 'proj', 'sub'), env: { HOME: home } })).source, join(shared, 'proj', '.conda-attestrc.yaml'));
  // A `.git` file (a worktree or submodule) marks a root too.
  mkdirSync(join(shared, 'wt', 'a'), { recursive: true });
  writeFileSync(join(shared, 'wt', '.git'), 'gitdir: /elsewhere\n');
  await noConfig(join(shared, 'wt', 'a'));
  // $HOME: read up to and including it, never above.
  mkdirSync(join(home, 'p', 'q'), { recursive: true });
  await noConfig(join(home, 'p', 'q'));
  writeFileSync(join(home, '.conda-attestrc.yaml'), STRICT_YAML);
  assert.equal((await loadConfig({ cwd: join(home, 'p', 'q'), env: { HOME: home } })).source, join(home, '.conda-attestrc.yaml'));
  // The same through the CLI, started in a project below the shared parent.
  mkdirSync(join(shared, 'other'));
  const r = await policyJson(join(shared, 'other'), home);
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(r.config, join(shared, '.conda-attestrc.json'));
  assert.notEqual(r.require, 'ignore');
});
