// Stage 1, resolve (src/stages/resolve.ts): record → canonical channel and policy. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePackage } from '../../src/stages/resolve.ts';
import { CH, MIRROR, config, record, sha } from './memory.ts';

test('a package from a mirror is judged under its canonical channel, and targetChannel may name either', () => {
  const pkg = resolvePackage(config({ mirrors: [MIRROR] }), record('pkg', MIRROR), null);
  assert.equal(pkg.canonical, CH);
  assert.equal(pkg.policy.require, 'error');
  assert.deepEqual(pkg.acceptedChannels, [CH, MIRROR]);
});

test('a look-alike of the channel is not the channel: it gets the default policy (disabled)', () => {
  const pkg = resolvePackage(config(), record('pkg', `${CH}-evil`), null);
  assert.equal(pkg.canonical, `${CH}-evil`);
  assert.equal(pkg.policy.enabled, false);
  assert.deepEqual(pkg.acceptedChannels, [`${CH}-evil`]);
});

test('a packages: rule overrides require for its names only; deny entries: top-level first, then the channel\'s', () => {
  const cfg = config(
    { packages: { 'legacy-*': { require: 'warn' } }, deny: [{ package: 'pkg', versions: '*', reason: 'channel incident' }] },
    { deny: [{ package: 'pkg', versions: '*', reason: 'global incident' }] },
  );
  const legacy = resolvePackage(cfg, record('legacy-tool'), null);
  assert.equal(legacy.policy.require, 'warn');
  assert.equal(legacy.channelPolicy.require, 'error', 'the channel policy itself is unchanged');
  const pkg = resolvePackage(cfg, record('pkg'), { sha256: sha('x'), source: 'lockfile' });
  assert.equal(pkg.policy.require, 'error');
  assert.deepEqual(pkg.deny.map((d) => d.reason), ['global incident', 'channel incident']);
  assert.deepEqual(pkg.given, { sha256: sha('x'), source: 'lockfile' });
});
