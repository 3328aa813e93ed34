import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

// Every test works in its own directory under one temp root; the upward search stops
// at that root and the user-global config directory points into it, so nothing on the
// machine (a stray ~/.config/conda-attest) can leak in.
let root: string;
let savedXdgConfig: string | undefined;
let n = 0;

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'ca-load-')));
  savedXdgConfig = process.env.XDG_CONFIG_HOME;
  process.env.XDG_CONFIG_HOME = join(root, 'xdg-config');
});
after(() => {
  if (savedXdgConfig === undefined) delete process.env.XDG_CONFIG_HOME;
  else process.env.XDG_CONFIG_HOME = savedXdgConfig;
  rmSync(root, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const dir = join(root, `p${++n}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

const env = { HOME: '/home/u' };
const load = (cwd: string, configPath?: string) => loadConfig({ cwd, configPath, env: { ...env, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME }, stopDir: root });

const CH = 'https://prefix.dev/conda-forge';
const YAML_CFG = `channels:\n  "${CH}":\n    require: warn\n`;
const JSON_CFG = JSON.stringify({ channels: { [CH]: { require: 'warn' } } });

async function expectWarnChannel(dir: string, file: string, explicit = false): Promise<void> {
  const c = await load(dir, explicit ? file : undefined);
  assert.equal(c.source, join(dir, file));
  assert.equal(c.channels.length, 1);
  assert.equal(c.channels[0].channel, CH);
  assert.equal(c.channels[0].require, 'warn');
  assert.equal(c.lockfile, join(dir, 'conda-attest.lock'));
}

test('package.json `conda-attest` key', async () => {
  const dir = project({ 'package.json': JSON.stringify({ name: 'x', 'conda-attest': JSON.parse(JSON_CFG) }) });
  await expectWarnChannel(dir, 'package.json');
});

test('.conda-attestrc as JSON and as YAML', async () => {
  await expectWarnChannel(project({ '.conda-attestrc': JSON_CFG }), '.conda-attestrc');
  await expectWarnChannel(project({ '.conda-attestrc': YAML_CFG }), '.conda-attestrc');
});

test('.conda-attestrc.json, .yaml, .yml', async () => {
  await expectWarnChannel(project({ '.conda-attestrc.json': JSON_CFG }), '.conda-attestrc.json');
  await expectWarnChannel(project({ '.conda-attestrc.yaml': YAML_CFG }), '.conda-attestrc.yaml');
  await expectWarnChannel(project({ '.conda-attestrc.yml': YAML_CFG }), '.conda-attestrc.yml');
});

test('--config conda-attest.config.ts (types stripped by Node, no typescript package needed), .mjs, .cjs, .js', async () => {
  const ts = `type Require = 'error' | 'warn' | 'ignore';\nconst require: Require = 'warn';\nexport default { channels: { '${CH}': { require } } };\n`;
  await expectWarnChannel(project({ 'conda-attest.config.ts': ts }), 'conda-attest.config.ts', true);
  await expectWarnChannel(project({ 'conda-attest.config.mjs': `export default ${JSON_CFG};\n` }), 'conda-attest.config.mjs', true);
  await expectWarnChannel(project({ 'conda-attest.config.cjs': `module.exports = ${JSON_CFG};\n` }), 'conda-attest.config.cjs', true);
  await expectWarnChannel(project({ 'conda-attest.config.js': `export default ${JSON_CFG};\n` }), 'conda-attest.config.js', true);
});

test('.ts configs go through Node type stripping, not a TypeScript compiler (an enum is not erasable)', async () => {
  // With cosmiconfig's default TS loader (the `typescript` package) this would load.
  const dir = project({ 'conda-attest.config.ts': `enum R { warn = 'warn' }\nexport default { channels: { '${CH}': { require: R.warn } } };\n` });
  await assert.rejects(load(dir, 'conda-attest.config.ts'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_PARSE_FAILED');
});

test('a JS config without a default export is a parse failure', async () => {
  const dir = project({ 'conda-attest.config.mjs': 'export const channels = {};\n' });
  await assert.rejects(load(dir, 'conda-attest.config.mjs'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_PARSE_FAILED' && /default export/.test(e.message));
});

test('upward search from a subdirectory; relative paths resolve against the config file, not the cwd', async () => {
  const dir = project({
    '.conda-attestrc.yaml': `lockfile: locks/identities.lock\ntrust_root: ./root.json\n${YAML_CFG}`,
    'a/b/c/.keep': '',
  });
  const c = await load(join(dir, 'a', 'b', 'c'));
  assert.equal(c.source, join(dir, '.conda-attestrc.yaml'));
  assert.equal(c.lockfile, join(dir, 'locks', 'identities.lock'));
  assert.equal(c.trustRoot, join(dir, 'root.json'));
});

test('the nearest configuration wins; a package.json without the key does not stop the search', async () => {
  const dir = project({
    '.conda-attestrc.json': JSON.stringify({ channels: { [CH]: { require: 'ignore' } } }),
    'sub/package.json': JSON.stringify({ name: 'no-key' }),
    'sub/inner/.conda-attestrc.json': JSON_CFG,
  });
  assert.equal((await load(join(dir, 'sub', 'inner'))).channels[0].require, 'warn');
  assert.equal((await load(join(dir, 'sub'))).channels[0].require, 'ignore');
});

test('the user-global config directory is found after the upward search', async () => {
  const globalDir = join(process.env.XDG_CONFIG_HOME!, 'conda-attest');
  mkdirSync(globalDir, { recursive: true });
  writeFileSync(join(globalDir, 'config.yaml'), YAML_CFG);
  try {
    const c = await load(project({}));
    assert.equal(c.source, join(globalDir, 'config.yaml'));
    assert.equal(c.channels[0].require, 'warn');
  } finally {
    rmSync(globalDir, { recursive: true, force: true });
  }
});

test('nothing found → built-in defaults: every channel disabled, source undefined, paths from the cwd', async () => {
  const dir = project({});
  const c = await load(dir);
  assert.equal(c.source, undefined);
  assert.equal(c.default.enabled, false);
  assert.deepEqual(c.channels, []);
  assert.equal(c.lockfile, join(dir, 'conda-attest.lock'));
  assert.equal(c.cacheDir, '/home/u/.cache/conda-attest');
});

test('--config PATH: relative to the cwd, any name, no search; missing file → CONFIG_NOT_FOUND', async () => {
  const dir = project({ 'cfg/policy.yaml': YAML_CFG, '.conda-attestrc.json': JSON.stringify({ concurrency: 2 }) });
  const c = await load(dir, 'cfg/policy.yaml');
  assert.equal(c.source, join(dir, 'cfg', 'policy.yaml'));
  assert.equal(c.lockfile, join(dir, 'cfg', 'conda-attest.lock'));
  assert.equal(c.channels[0].require, 'warn');
  assert.equal(c.concurrency, 8, 'the rc file next to it was not merged in');
  await assert.rejects(load(dir, 'nope.yaml'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_NOT_FOUND');
  await assert.rejects(load(dir, 'cfg'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_NOT_FOUND');
  await assert.rejects(load(project({ 'package.json': '{"name":"x"}' }), 'package.json'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_NOT_FOUND');
  // An empty file is an empty configuration (defaults), still named as the source.
  const empty = project({ 'empty.yaml': '' });
  assert.equal((await load(empty, 'empty.yaml')).source, join(empty, 'empty.yaml'));
});

test('syntax errors → CONFIG_PARSE_FAILED naming the file; YAML duplicate keys are errors', async () => {
  const bad = project({ '.conda-attestrc.json': '{ "channels": ' });
  await assert.rejects(load(bad), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_PARSE_FAILED' && e.message.includes(join(bad, '.conda-attestrc.json')));
  // Attacker or accident: a second `require:` must not silently override the first.
  const dup = project({ '.conda-attestrc.yaml': `channels:\n  "${CH}":\n    require: error\n    require: ignore\n` });
  await assert.rejects(load(dup), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_PARSE_FAILED');
  await assert.rejects(load(dup, '.conda-attestrc.yaml'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_PARSE_FAILED');
});

test('an invalid configuration found by the search reports every failing path and the file', async () => {
  const dir = project({ '.conda-attestrc.yaml': `concurency: 2\nchannels:\n  "${CH}":\n    require: fatal\n` });
  await assert.rejects(load(dir), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.ok(e.message.includes(join(dir, '.conda-attestrc.yaml')));
    assert.equal((e.details as string[]).length, 2);
    return true;
  });
});

test('attack: a config document that is JSON null or YAML ~ is an error (must be a mapping), never "defaults, every check off"', async () => {
  const isNotMapping = (e: unknown): boolean => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.code, 'CONFIG_INVALID', e.message);
    assert.match((e.details as string[]).join('\n'), /must be a mapping/);
    return true;
  };
  // An outer config that would enable checks: a null file nearer to the cwd must not hide it
  // either (cosmiconfig reads a bare null as "no configuration here" and searches on).
  for (const [name, content] of [
    ['.conda-attestrc.json', 'null'],
    ['.conda-attestrc.yaml', '~\n'],
    ['.conda-attestrc.yml', 'null # nothing\n'],
    ['.conda-attestrc', '~'],
    ['package.json', '{"name":"x","conda-attest":null}'],
    ['conda-attest.config.mjs', 'export default null;\n'],
  ] as const) {
    const dir = project({ [`inner/${name}`]: content, '.conda-attestrc.json': JSON.stringify({ channels: { [CH]: {} } }) });
    if (!name.endsWith('.mjs')) await assert.rejects(load(join(dir, 'inner')), isNotMapping, name);
    await assert.rejects(load(dir, `inner/${name}`), isNotMapping, `--config ${name}`);
  }
  // [] and 42 were already errors; they stay errors.
  await assert.rejects(load(project({ '.conda-attestrc.json': '[]' })), isNotMapping);
  await assert.rejects(load(project({ '.conda-attestrc.yaml': '42' })), isNotMapping);
});

test('an empty file (or YAML comments only) is an empty configuration: defaults, the file is the source, the search stops there', async () => {
  for (const content of ['', '\n  \n', '# conda-attest: defaults for now\n']) {
    const dir = project({ 'inner/.conda-attestrc.yaml': content, '.conda-attestrc.json': JSON.stringify({ channels: { [CH]: {} } }) });
    const c = await load(join(dir, 'inner'));
    assert.equal(c.source, join(dir, 'inner', '.conda-attestrc.yaml'));
    assert.equal(c.channels.length, 0, 'the outer config was not used');
    assert.equal(c.default.enabled, false);
    assert.equal((await load(dir, 'inner/.conda-attestrc.yaml')).source, join(dir, 'inner', '.conda-attestrc.yaml'));
  }
});

const importFailed = (re: RegExp) => (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_IMPORT_FAILED' && re.test(e.message) && /\$import names JSON or YAML/.test(e.hint ?? '');

test('$import: JSON and YAML files merged under the importing file (mappings by key, lists replaced), relative to it, nested', async () => {
  const dir = project({
    'base/org.yaml': `$import: common.json\nchannels:\n  "${CH}":\n    require: warn\n    trusted_identities: ["https://github.com/org/*"]\n`,
    'base/common.json': JSON.stringify({ concurrency: 3, channels: { 'https://x.example/c': { require: 'ignore' } } }),
    '.conda-attestrc.yaml': `$import: [base/org.yaml]\nchannels:\n  "${CH}":\n    trusted_identities: ["https://github.com/org/repo/*"]\n`,
  });
  const c = await load(dir);
  assert.equal(c.concurrency, 3);
  const forge = c.channels.find((x) => x.channel === CH)!;
  assert.equal(forge.require, 'warn', 'merged from the import');
  assert.deepEqual(forge.trustedIdentities.map((i) => i.identity), ['https://github.com/org/repo/*'], 'a list is replaced, never extended by the base');
  assert.ok(c.channels.some((x) => x.channel === 'https://x.example/c'));
});

test('attack: $import of a FIFO, a cycle, a huge file, a too-deep chain or a missing file → CONFIG_IMPORT_FAILED, at once', async () => {
  const fifo = project({ '.conda-attestrc.json': JSON.stringify({ $import: 'pipe.json' }) });
  execFileSync('mkfifo', [join(fifo, 'pipe.json')]);
  await assert.rejects(load(fifo), importFailed(/pipe\.json is not a regular file/));
  await assert.rejects(
    load(project({ '.conda-attestrc.yaml': '$import: a.yaml\n', 'a.yaml': '$import: b.yaml\n', 'b.yaml': '$import: a.yaml\n' })),
    importFailed(/a\.yaml → .*b\.yaml → .*a\.yaml: an import cycle/),
  );
  await assert.rejects(load(project({ '.conda-attestrc.yaml': '$import: .conda-attestrc.yaml\n' })), importFailed(/import cycle/));
  await assert.rejects(
    load(project({ '.conda-attestrc.json': JSON.stringify({ $import: 'huge.json' }), 'huge.json': `{"x":"${'a'.repeat(2 << 20)}"}` })),
    importFailed(/more than the 1048576-byte cap/),
  );
  const deep: Record<string, string> = { '.conda-attestrc.yaml': '$import: d1.yaml\n' };
  for (let i = 1; i < 8; i++) deep[`d${i}.yaml`] = `$import: d${i + 1}.yaml\n`;
  deep['d8.yaml'] = 'concurrency: 2\n';
  await assert.rejects(load(project(deep)), importFailed(/nest more than 4 levels/));
  await assert.rejects(load(project({ '.conda-attestrc.json': JSON.stringify({ $import: 'nope.json' }) })), importFailed(/does not exist/));
  await assert.rejects(load(project({ '.conda-attestrc.json': JSON.stringify({ $import: 42 }) })), importFailed(/must be a file path/));
  await assert.rejects(load(project({ '.conda-attestrc.json': JSON.stringify({ $import: 'n.yaml' }), 'n.yaml': '~\n' })), importFailed(/must be a mapping/));
  // The same through --config and a package.json key.
  await assert.rejects(load(project({ 'c.json': JSON.stringify({ $import: 'huge.json' }), 'huge.json': `{"x":"${'a'.repeat(2 << 20)}"}` }), 'c.json'), importFailed(/1048576-byte cap/));
  await assert.rejects(load(project({ 'package.json': JSON.stringify({ name: 'x', 'conda-attest': { $import: 'nope.yaml' } }) })), importFailed(/does not exist/));
});

test('attack: $import of an absolute path, a `..` escape, a symlink out of the tree, an extensionless file or a module → CONFIG_INVALID, foreign content never shown', async () => {
  // The foreign file holds a key and a value an attacker would like to read back.
  const outside = project({ 'secret.yaml': 'SECRET_KEY_NAME: hunter2-secret-value\n', 'secret': 'SECRET_KEY_NAME: hunter2-secret-value\n' });
  const refused = (why: RegExp) => (e: unknown): boolean => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.code, 'CONFIG_INVALID', e.message);
    assert.match(e.message, why);
    const shown = `${e.message}\n${e.hint}\n${JSON.stringify(e.details ?? null)}`;
    assert.doesNotMatch(shown, /SECRET_KEY_NAME|hunter2/);
    return true;
  };
  const attempt = (spec: string, extra: Record<string, string> = {}) => project({ 'inner/.conda-attestrc.yaml': `$import: ${JSON.stringify(spec)}\n`, ...extra });
  await assert.rejects(load(join(attempt(join(outside, 'secret.yaml')), 'inner')), refused(/is an absolute path/));
  await assert.rejects(load(join(attempt('../../' + basename(outside) + '/secret.yaml'), 'inner')), refused(/leads outside its directory/));
  await assert.rejects(load(join(attempt('../.conda-attestrc.yaml', { '.conda-attestrc.yaml': 'concurrency: 2\n' }), 'inner')), refused(/leads outside/));
  await assert.rejects(load(join(attempt('sub/../../x.yaml'), 'inner')), refused(/leads outside/));
  await assert.rejects(load(join(attempt('secret'), 'inner')), refused(/does not end in \.json, \.yaml or \.yml/));
  await assert.rejects(load(join(attempt('x.mjs', { 'inner/x.mjs': 'export default {}' }), 'inner')), refused(/does not end in/));
  const linked = attempt('link.yaml');
  symlinkSync(join(outside, 'secret.yaml'), join(linked, 'inner', 'link.yaml'));
  await assert.rejects(load(join(linked, 'inner')), refused(/symbolic link/));
  // Nested: an imported file cannot climb out of its own directory either.
  const nested = project({ '.conda-attestrc.yaml': '$import: base/org.yaml\n', 'base/org.yaml': '$import: ../other.yaml\n', 'other.yaml': 'concurrency: 2\n' });
  await assert.rejects(load(nested), refused(/leads outside/));
  // Inside the tree, imports still work.
  const ok = project({ '.conda-attestrc.yaml': '$import: policy/base.yaml\n', 'policy/base.yaml': 'concurrency: 3\n' });
  assert.equal((await load(ok)).concurrency, 3);
});

test('$import: a "__proto__" key in an imported file is data, never a prototype', async () => {
  const dir = project({ '.conda-attestrc.json': JSON.stringify({ $import: 'b.json', channels: {} }), 'b.json': '{"__proto__": {"polluted": true}, "concurrency": 2}' });
  await assert.rejects(load(dir), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
