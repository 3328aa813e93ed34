// The published shape: every `exports` / `bin` target is built from a source that exists,
// the `files` whitelist ships them, and the public entry points export the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  files: string[];
  engines: { node: string };
};

/**
 * dist/src/x.js (or .d.ts) → src/x.ts: what tsc -p tsconfig.build.json turns into it;
 * dist/browser/index.* is esbuild's bundle of src/browser/index.ts (scripts/bundle-browser.ts).
 */
const sourceOf = (target: string) =>
  target.replace(/^\.\/dist\/browser\//, './src/browser/').replace(/^\.\/dist\//, './').replace(/\.d\.ts$|\.js$/, '.ts');

test('every exports target is built from an existing source or shipped as is', () => {
  for (const [name, value] of Object.entries(pkg.exports)) {
    for (const target of typeof value === 'string' ? [value] : Object.values(value)) {
      if (target.includes('*')) continue;
      const path = target.startsWith('./dist/') ? sourceOf(target) : target;
      assert.ok(existsSync(new URL(path, root)), `${name} → ${target}: ${path} is missing`);
      assert.ok(pkg.files.some((f) => target.slice(2).startsWith(f.replace(/\/$/, ''))) || target === './package.json', `${target} is not in "files"`);
    }
  }
  for (const bin of Object.values(pkg.bin)) assert.ok(existsSync(new URL(bin, root)), bin);
  assert.match(pkg.engines.node, />=\s*22\.22/);
});

test('the public entry points export the API', async () => {
  const core = await import('../src/index.ts');
  for (const name of ['createSession', 'loadConfig', 'loadTargets', 'createVerifier', 'verifyAttestations', 'readLock', 'diffLocks', 'renderJson', 'AttestError', 'main']) {
    assert.equal(typeof (core as Record<string, unknown>)[name], 'function', name);
  }
  const plugin = await import('../plugin/index.ts');
  for (const name of ['createCondaAttestPlugin', 'loadPlugins', 'wrapUntarjs', 'wrapFetch', 'PackageBlockedError', 'default']) {
    assert.equal(typeof (plugin as Record<string, unknown>)[name], 'function', name);
  }
});

test('conda-attest/plugin exports exactly its public API (docs/plugin.md "Public API"): no archive readers or internals', async () => {
  const plugin = await import('../plugin/index.ts');
  assert.deepEqual(Object.keys(plugin).sort(), [
    'PackageBlockedError',
    'PluginError',
    'composePlugins',
    'createCondaAttestPlugin',
    'createNodeUntar',
    'default',
    'loadPlugins',
    'wrapFetch',
    'wrapUntarjs',
  ]);
});
