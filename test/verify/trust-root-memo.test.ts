// Trust roots validated before (src/verify/trust-root-validate.ts with the memo of
// src/lock/checked.ts): the same root file loads to the same digest, age and object without
// the check; a root changed by one byte, or a memo entry made without the cache key, gets
// the full check, and an invalid root is still refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { TrustRootError } from '../../src/errors.ts';
import { loadTrustRoot, parseTrustedRoot } from '../../src/verify/trust-root.ts';
import { openCheckedTexts } from '../../src/lock/checked.ts';

const require = createRequire(import.meta.url);
const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
const good = Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!, 'base64');
const KEY = Buffer.alloc(32, 3);
const now = new Date('2026-12-01T00:00:00Z');

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-tr-memo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const memoFile = join(dir, 'trust-root-checked-v1.json');
  const file = join(dir, 'trusted_root.json');
  const load = async (bytes: Buffer, key = KEY) => {
    writeFileSync(file, bytes);
    const root = await loadTrustRoot(file, { cacheDir: dir, offline: true, now, checked: openCheckedTexts(memoFile, key) });
    // The memo is written in the background: wait for it (bounded) before looking at it.
    for (let i = 0; i < 200 && !existsSync(memoFile); i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 25));
    return root;
  };
  return { dir, file, memoFile, load };
}

const plain = (r: { source: string; digest: string; ageDays: number | null; asOf?: string | null; json: unknown; warnings?: string[] }) =>
  ({ source: r.source, digest: r.digest, ageDays: r.ageDays, asOf: r.asOf, json: r.json, warnings: r.warnings });

test('a root validated before loads to the same digest, age and object, from the memo', async (t) => {
  const { load, memoFile, file } = setup(t);
  const fresh = parseTrustedRoot(good, file, now);
  const first = await load(good);
  const entries = JSON.parse(readFileSync(memoFile, 'utf8')) as unknown[];
  assert.equal(entries.length, 1, 'remembered once validated');
  const second = await load(good);
  assert.deepEqual(plain(first), plain(fresh));
  assert.deepEqual(plain(second), plain(fresh));
  assert.equal((JSON.parse(readFileSync(memoFile, 'utf8')) as unknown[]).length, 1);
});

test('a root changed by one byte is checked again: an invalid one is refused, a memo entry made without the key does not help', async (t) => {
  const { load, memoFile } = setup(t);
  await load(good);
  const bad = Buffer.from(good.toString('utf8').replace('"mediaType": "application/vnd.dev.sigstore.trustedroot', '"mediaType": "application/vnd.dev.sigstore.trustedrooX'));
  assert.notDeepEqual(bad, good, 'the fixture edit applied');
  await assert.rejects(load(bad), (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_INVALID');

  // Entries for the bad root's digest, under another key and with a plain SHA-256.
  const sha = createHash('sha256').update(bad).digest('hex');
  const forge = (key: Buffer) => {
    const mac = (s: string) => createHmac('sha256', key).update(s).digest('hex');
    const d = mac(`trusted_root.json ${sha}`);
    const result = JSON.stringify([{ where: 'tlogs[0]', start: Date.parse('2026-01-01') }]);
    return [d, result, mac(`${d}\n${result}`)];
  };
  writeFileSync(memoFile, JSON.stringify([forge(Buffer.alloc(32, 9))]));
  await assert.rejects(load(bad), (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_INVALID');
  // Control: the same entry under the cache key is taken (the forged entry was well-formed).
  writeFileSync(memoFile, JSON.stringify([forge(KEY)]));
  const taken = await load(bad);
  assert.equal(taken.asOf, '2026-01-01T00:00:00.000Z');
});

test('a damaged memo is ignored: the root is checked and loads as without a memo', async (t) => {
  const { load, memoFile, file } = setup(t);
  const fresh = parseTrustedRoot(good, file, now);
  for (const junk of ['nope', '[["' + 'a'.repeat(64) + '","[]","' + 'b'.repeat(64) + '"]]', '{}']) {
    writeFileSync(memoFile, junk);
    assert.deepEqual(plain(await load(good)), plain(fresh));
  }
  // A result that is not a list of starts is not used, even under the right MAC.
  const d = createHmac('sha256', KEY).update(`trusted_root.json ${fresh.digest}`).digest('hex');
  writeFileSync(memoFile, JSON.stringify([[d, '"x"', createHmac('sha256', KEY).update(`${d}\n"x"`).digest('hex')]]));
  assert.deepEqual(plain(await load(good)), plain(fresh));
});
