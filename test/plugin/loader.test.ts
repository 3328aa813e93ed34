import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpError, PluginError } from '../../src/errors.ts';
import type { PackageRecord } from '../../src/types.ts';
import { PackageBlockedError } from '../../plugin/contract.ts';
import type { CondaInstallerPlugin, DownloadFn } from '../../plugin/contract.ts';
import { composePlugins, loadPlugins } from '../../plugin/loader.ts';

const record: PackageRecord = {
  url: 'http://127.0.0.1:1/ch/noarch/pkg-1.0-0.conda',
  channel: 'http://127.0.0.1:1/ch',
  subdir: 'noarch',
  filename: 'pkg-1.0-0.conda',
  name: 'pkg',
  version: '1.0',
  build: '0',
};
const bytes = new TextEncoder().encode('package bytes');
const sha256 = createHash('sha256').update(bytes).digest('hex');
const base: DownloadFn = async () => ({ bytes, sha256 });

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-loader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, ...mentions: string[]): Promise<PluginError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PluginError, `expected a PluginError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  for (const m of mentions) assert.match(caught.message, new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.ok(caught.hint, 'every plugin error carries a hint');
  return caught;
}

test('loads plugins by path relative to the config dir, factories get their options, first listed is outermost', async (t) => {
  const dir = tempDir(t);
  const order: string[] = [];
  (globalThis as Record<string, unknown>).__loaderOrder = order;
  writeFileSync(
    join(dir, 'outer.mjs'),
    `export default (opts) => ({ name: 'outer-' + opts.tag, wrapDownload: (next) => async (req) => { globalThis.__loaderOrder.push('outer:in'); const r = await next(req); globalThis.__loaderOrder.push('outer:out'); return r; } });`,
  );
  writeFileSync(
    join(dir, 'inner.mjs'),
    `export const plugin = { name: 'inner', wrapDownload: (next) => async (req) => { globalThis.__loaderOrder.push('inner:in'); const r = await next(req); globalThis.__loaderOrder.push('inner:out'); return r; } };`,
  );
  const loaded = await loadPlugins([['./outer.mjs', { tag: 'x' }], './inner.mjs'], { configDir: dir });
  assert.deepEqual(
    loaded.plugins.map((p) => p.name),
    ['outer-x', 'inner'],
  );
  const out = await loaded.wrapDownload(base)({ record });
  assert.equal(out.sha256, sha256);
  assert.deepEqual(order, ['outer:in', 'inner:in', 'inner:out', 'outer:out']);
  delete (globalThis as Record<string, unknown>).__loaderOrder;
});

test('resolves an ESM-only package by name from the config dir', async (t) => {
  const dir = tempDir(t);
  const pkg = join(dir, 'node_modules', 'esm-only-plugin');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'esm-only-plugin', type: 'module', exports: { '.': { import: './dist/index.js' } } }),
  );
  writeFileSync(join(pkg, 'dist', 'index.js'), `export default { name: 'esm-only' };`);
  const loaded = await loadPlugins(['esm-only-plugin'], { configDir: dir });
  assert.equal(loaded.plugins[0].name, 'esm-only');
});

test('package `exports` resolve as import() does: the first matching condition in the object\'s own key order', async (t) => {
  const dir = tempDir(t);
  const cases: [string, Record<string, unknown>][] = [
    // `require` listed before `import`: a require-style lookup would load the CommonJS file.
    ['require-first', { '.': { require: './wrong.cjs', import: './right.mjs' } }],
    // `import` before `node`: a fixed node → import → default order would pick `node`.
    ['import-before-node', { '.': { import: './right.mjs', node: './wrong.mjs' } }],
    // `default` before `import`: Node takes `default`, the first key that matches.
    ['default-first', { '.': { default: './right.mjs', import: './wrong.mjs' } }],
    // Nested conditions and a subpath.
    ['nested', { '.': './wrong.mjs', './plugin': { types: './x.d.ts', node: { require: './wrong.cjs', import: './right.mjs' }, default: './wrong.mjs' } }],
  ];
  for (const [name, exportsField] of cases) {
    const pkg = join(dir, 'node_modules', name);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, exports: exportsField }));
    writeFileSync(join(pkg, 'right.mjs'), `export default { name: 'right' };`);
    writeFileSync(join(pkg, 'wrong.mjs'), `export default { name: 'wrong' };`);
    writeFileSync(join(pkg, 'wrong.cjs'), `module.exports = { name: 'wrong' };`);
  }
  for (const id of ['require-first', 'import-before-node', 'default-first', 'nested/plugin']) {
    const loaded = await loadPlugins([id], { configDir: dir });
    assert.equal(loaded.plugins[0].name, 'right', id);
  }
  // A subpath the package does not export is not found (never a guess at a file).
  await rejectsWith(loadPlugins(['nested/wrong.mjs'], { configDir: dir }), 'PLUGIN_NOT_FOUND', 'nested/wrong.mjs');
});

test('a plugin that cannot be found is PLUGIN_NOT_FOUND, naming it', async (t) => {
  const dir = tempDir(t);
  await rejectsWith(loadPlugins(['./nope.mjs'], { configDir: dir }), 'PLUGIN_NOT_FOUND', './nope.mjs');
  await rejectsWith(loadPlugins(['no-such-conda-plugin-xyz'], { configDir: dir }), 'PLUGIN_NOT_FOUND', 'no-such-conda-plugin-xyz');
});

test('a module that throws while loading, or exports nothing usable, is reported with its name', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'boom.mjs'), `throw 'kaboom';`);
  writeFileSync(join(dir, 'empty.mjs'), `export const other = 1;`);
  writeFileSync(join(dir, 'factory-throws.mjs'), `export default () => { throw { weird: true }; };`);
  await rejectsWith(loadPlugins(['./boom.mjs'], { configDir: dir }), 'PLUGIN_HOOK_FAILED', './boom.mjs', 'kaboom');
  await rejectsWith(loadPlugins(['./empty.mjs'], { configDir: dir }), 'PLUGIN_INVALID', './empty.mjs');
  await rejectsWith(loadPlugins(['./factory-throws.mjs'], { configDir: dir }), 'PLUGIN_HOOK_FAILED', './factory-throws.mjs', 'factory');
});

test('a plugin missing `name` is PLUGIN_INVALID, naming where it came from', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'noname.mjs'), `export default { wrapDownload: (next) => next };`);
  await rejectsWith(loadPlugins(['./noname.mjs'], { configDir: dir }), 'PLUGIN_INVALID', './noname.mjs', 'name');
  await rejectsWith(() => composePlugins([{ name: '   ' }]), 'PLUGIN_INVALID', 'name');
  await rejectsWith(() => composePlugins([42]), 'PLUGIN_INVALID', 'not an object');
});

test('a hook that is not a function is PLUGIN_INVALID, naming plugin and hook', async () => {
  await rejectsWith(() => composePlugins([{ name: 'bad-hook', afterInstall: 'soon' }]), 'PLUGIN_INVALID', 'bad-hook', 'afterInstall');
  await rejectsWith(() => composePlugins([{ name: 'bad-wrap', wrapDownload: {} }]), 'PLUGIN_INVALID', 'bad-wrap', 'wrapDownload');
});

test('wrapDownload returning a non-function is PLUGIN_BAD_RETURN; throwing in it is PLUGIN_HOOK_FAILED', async () => {
  const loaded = composePlugins([{ name: 'returns-string', wrapDownload: () => 'not a function' }]);
  await rejectsWith(() => loaded.wrapDownload(base), 'PLUGIN_BAD_RETURN', 'returns-string', 'wrapDownload');
  const throwing = composePlugins([
    {
      name: 'throws-early',
      wrapDownload: () => {
        throw 7;
      },
    },
  ]);
  await rejectsWith(() => throwing.wrapDownload(base), 'PLUGIN_HOOK_FAILED', 'throws-early', 'wrapDownload');
});

test('a download returning the wrong shape is PLUGIN_BAD_RETURN, checked at call time', async () => {
  const cases: Array<[string, unknown]> = [
    ['garbage', 'lol'],
    ['array-bytes', { bytes: [1, 2, 3], sha256 }],
    ['upper-hex', { bytes, sha256: sha256.toUpperCase() }],
    ['short-hex', { bytes, sha256: sha256.slice(1) }],
    ['nothing', undefined],
  ];
  for (const [name, value] of cases) {
    const plugin: CondaInstallerPlugin = { name, wrapDownload: () => async () => value as never };
    await rejectsWith(composePlugins([plugin]).wrapDownload(base)({ record }), 'PLUGIN_BAD_RETURN', name, 'wrapDownload');
  }
  // The host's own download is held to the same contract.
  const hostBad: DownloadFn = async () => ({ bytes, sha256: 'nope' });
  await rejectsWith(composePlugins([]).wrapDownload(hostBad)({ record }), 'PLUGIN_BAD_RETURN', 'host download');
});

test('a hook that throws a non-Error is PLUGIN_HOOK_FAILED naming plugin and hook, keeping the thrown value', async () => {
  const thrown = { not: 'an error' };
  const loaded = composePlugins([
    {
      name: 'thrower',
      wrapDownload: () => async () => {
        throw thrown;
      },
    },
  ]);
  const err = await rejectsWith(loaded.wrapDownload(base)({ record }), 'PLUGIN_HOOK_FAILED', 'thrower', 'wrapDownload');
  assert.equal(err.cause, thrown);
});

test('a plugin that mutates the record is caught and reported; inner layers never see the change', async () => {
  const seen: string[] = [];
  const loaded = composePlugins([
    {
      name: 'mutator',
      wrapDownload: (next) => async (req) => {
        (req.record as PackageRecord).url = 'http://evil.example/pkg-1.0-0.conda';
        return next(req);
      },
    } satisfies CondaInstallerPlugin,
  ]);
  const hostBase: DownloadFn = async (req) => {
    seen.push(req.record.url);
    return { bytes, sha256 };
  };
  await rejectsWith(loaded.wrapDownload(hostBase)({ record: { ...record } }), 'PLUGIN_HOOK_FAILED', 'mutator', 'modify the package record');
  assert.deepEqual(seen, []);
});

test('calling next without a record is blamed on the plugin that did it', async () => {
  const loaded = composePlugins([{ name: 'forgetful', wrapDownload: (next) => async () => next(undefined as never) } satisfies CondaInstallerPlugin]);
  await rejectsWith(loaded.wrapDownload(base)({ record }), 'PLUGIN_HOOK_FAILED', 'forgetful');
});

test('errors from further down are not blamed on the plugins that only propagated them', async () => {
  const passthrough: CondaInstallerPlugin = { name: 'outer', wrapDownload: (next) => (req) => next(req) };
  const innerThrows: CondaInstallerPlugin = {
    name: 'inner',
    wrapDownload: () => async () => {
      throw new Error('inner broke');
    },
  };
  await rejectsWith(composePlugins([passthrough, innerThrows]).wrapDownload(base)({ record }), 'PLUGIN_HOOK_FAILED', 'inner');

  // The host's own failures reach the host unchanged (they are not plugin failures).
  const hostError = new HttpError('HTTP_NOT_FOUND', 'gone');
  const failingBase: DownloadFn = async () => {
    throw hostError;
  };
  await assert.rejects(composePlugins([passthrough]).wrapDownload(failingBase)({ record }), (e) => e === hostError);
  const plain = new TypeError('fetch failed');
  const plainBase: DownloadFn = async () => {
    throw plain;
  };
  await assert.rejects(composePlugins([passthrough]).wrapDownload(plainBase)({ record }), (e) => e === plain);
});

test('PackageBlockedError passes through every layer unchanged', async () => {
  const blocked = new PackageBlockedError(record, [{ code: 'NO_ATTESTATIONS', message: 'none' }]);
  const blocker: CondaInstallerPlugin = {
    name: 'blocker',
    wrapDownload: () => async () => {
      throw blocked;
    },
  };
  const outer: CondaInstallerPlugin = { name: 'outer', wrapDownload: (next) => (req) => next(req) };
  await assert.rejects(composePlugins([outer, blocker]).wrapDownload(base)({ record }), (e) => e === blocked);
  assert.equal(blocked.code, 'PACKAGE_BLOCKED');
  assert.deepEqual(blocked.reasons.map((r) => r.code), ['NO_ATTESTATIONS']);
  assert.match(blocked.message, /pkg-1\.0-0\.conda/);
});

test('afterInstall runs every plugin in order even when one fails, then reports the first failure', async () => {
  const calls: string[] = [];
  const report = { version: 1, summary: { total: 0 }, packages: [] };
  const ok = composePlugins([
    { name: 'a', afterInstall: async () => void calls.push('a') },
    { name: 'b', afterInstall: async () => (calls.push('b'), report as never) },
  ]);
  assert.deepEqual(await ok.afterInstall(), [
    { plugin: 'a', report: undefined },
    { plugin: 'b', report },
  ]);
  calls.length = 0;
  const failing = composePlugins([
    {
      name: 'first',
      afterInstall: async () => {
        calls.push('first');
        throw 'nope';
      },
    },
    { name: 'garbage', afterInstall: async () => (calls.push('garbage'), 'a report?' as never) },
    { name: 'last', afterInstall: async () => void calls.push('last') },
  ]);
  await rejectsWith(failing.afterInstall(), 'PLUGIN_HOOK_FAILED', 'first', 'afterInstall');
  assert.deepEqual(calls, ['first', 'garbage', 'last']);
  await rejectsWith(
    composePlugins([{ name: 'garbage', afterInstall: async () => 'x' as never }]).afterInstall(),
    'PLUGIN_BAD_RETURN',
    'garbage',
    'afterInstall',
  );
});

test('attack: a plugin entry named like a Node built-in (`events`, `fs`) or a bare file name never loads a file of that name; only `./x` does', async (t) => {
  const dir = tempDir(t);
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  // Planted in the config's directory (= the working directory here), under bare names.
  const evil = `globalThis.__pluginPlanted = (globalThis.__pluginPlanted ?? 0) + 1; export default { name: 'planted' };\n`;
  for (const name of ['events', 'fs', 'evil.mjs', 'crypto.js']) writeFileSync(join(dir, name), evil);
  mkdirSync(join(dir, 'node_modules', 'real'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'real', 'package.json'), JSON.stringify({ name: 'real', type: 'module', main: 'index.js' }));
  writeFileSync(join(dir, 'node_modules', 'real', 'index.js'), `export default { name: 'real' };\n`);
  for (const id of ['events', 'fs', 'node:fs', 'evil.mjs', 'crypto.js', '.evil.mjs', 'real/../../evil.mjs', 'real/./x']) {
    const e = await rejectsWith(loadPlugins([id], { configDir: dir }), 'PLUGIN_NOT_FOUND', id);
    assert.match(e.hint ?? '', /a plugin file needs an explicit path, e\.g\. "\.\//);
  }
  assert.equal((globalThis as Record<string, unknown>).__pluginPlanted, undefined, 'no planted file ran');
  // A package from the config's node_modules, and a file named by an explicit path, load.
  assert.equal((await loadPlugins(['real'], { configDir: dir })).plugins[0]!.name, 'real');
  assert.equal((await loadPlugins(['./evil.mjs'], { configDir: dir })).plugins[0]!.name, 'planted');
  assert.equal((globalThis as Record<string, unknown>).__pluginPlanted, 1);
  delete (globalThis as Record<string, unknown>).__pluginPlanted;
});
