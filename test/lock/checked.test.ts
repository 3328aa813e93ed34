// Lockfile texts already checked (src/lock/checked.ts): a text validated before is parsed
// without validating it again, to the same lock; any other text gets the full check, and
// nothing invalid or non-canonical is ever remembered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckedLockTexts, type CheckedLockTexts } from '../../src/lock/checked.ts';
import { parseLock, readLock, serializeLock, updateLock } from '../../src/lock/file.ts';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { LockError } from '../../src/errors.ts';
import { CH, gh } from './fixtures.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-checked-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const add = (name: string) => (cur: Lock): Lock =>
  applyDecisions(cur, [decide(cur, { channel: CH, name, version: '1.0' }, [gh({ repo: `forge/${name}-feedstock` })], '2026-01-01')]);

/** A memo that records which digests were asked for and added. */
function spy(inner: CheckedLockTexts): CheckedLockTexts & { hits: number; added: string[] } {
  const s = {
    hits: 0,
    added: [] as string[],
    digest: inner.digest,
    has(d: string) {
      const h = inner.has(d);
      if (h) s.hits++;
      return h;
    },
    async add(d: string) {
      s.added.push(d);
      await inner.add(d);
    },
  };
  return s;
}

test('a written lockfile is remembered; the next read skips the check and gives the same lock', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  const cache = join(dir, 'cache');
  const writer = spy(openCheckedLockTexts(cache));
  await updateLock(path, add('a'), { checked: writer });
  await updateLock(path, add('b'), { checked: writer });
  const text = readFileSync(path, 'utf8');
  assert.equal(writer.added.at(-1), writer.digest(text), 'the text written is remembered');

  const reader = spy(openCheckedLockTexts(cache)); // a later run
  const lock = await readLock(path, { checked: reader });
  assert.equal(reader.hits, 1);
  assert.deepEqual(lock, parseLock(text, path), 'the same lock as the full check gives');
  assert.deepEqual(Object.keys(lock.channels[CH]!), ['a', 'b']);
});

test('attack: an edited lockfile is checked in full (LOCK_CORRUPT) even though its previous text was remembered', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  const checked = openCheckedLockTexts(join(dir, 'cache'));
  await updateLock(path, add('a'), { checked });
  const text = readFileSync(path, 'utf8');
  // Same length, one identity field emptied (the schema's minLength 1 rejects it).
  writeFileSync(path, text.replace(/"workflow": "[^"]*"/, '"workflow": ""'));
  await assert.rejects(readLock(path, { checked }), (e: unknown) => e instanceof LockError && e.code === 'LOCK_CORRUPT');
  // And a planted memo that names the bad text's digest is useless without the exact bytes.
  writeFileSync(path, text);
  assert.deepEqual(await readLock(path, { checked }), parseLock(text, path));
});

test('a valid but hand-formatted lockfile is checked every time and never remembered', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  const canonical = serializeLock(add('a')(emptyLock()));
  writeFileSync(path, JSON.stringify(JSON.parse(canonical))); // valid, one line: not canonical
  const checked = spy(openCheckedLockTexts(join(dir, 'cache')));
  const first = await readLock(path, { checked });
  const second = await readLock(path, { checked });
  assert.equal(checked.hits, 0);
  assert.deepEqual(checked.added, []);
  assert.deepEqual(first, second);
  assert.deepEqual(first, parseLock(canonical, path), 'normalised as always');
});

test('an invalid lockfile is never remembered; a corrupt memo file is an empty memo', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  const cache = join(dir, 'cache');
  writeFileSync(path, '{"version": 1, "channels": {"not a url": {}}}\n');
  const checked = spy(openCheckedLockTexts(cache));
  await assert.rejects(readLock(path, { checked }), (e: unknown) => e instanceof LockError && e.code === 'LOCK_CORRUPT');
  assert.deepEqual(checked.added, []);
  assert.equal(existsSync(join(cache, 'lockfile-checked-v2.json')), false);

  const valid = serializeLock(add('a')(emptyLock()));
  writeFileSync(path, valid);
  mkdirSync(cache, { recursive: true });
  for (const junk of ['not json', '{"a": 1}', '[1, "zz", null]']) {
    writeFileSync(join(cache, 'lockfile-checked-v2.json'), junk);
    const fresh = spy(openCheckedLockTexts(cache));
    assert.deepEqual(await readLock(path, { checked: fresh }), parseLock(valid, path));
    assert.equal(fresh.hits, 0, `memo ${JSON.stringify(junk)} is ignored`);
    assert.deepEqual(fresh.added, [fresh.digest(valid)], 'and rewritten with the text just checked');
  }
});

test('attack: a memo entry planted by a writer of the cache directory (the SHA-256 of an invalid text) does not skip the check', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  const cache = join(dir, 'cache');
  const bad = '{\n  "version": 1,\n  "channels": {\n    "not a url": {}\n  }\n}\n';
  writeFileSync(path, bad);
  mkdirSync(cache, { recursive: true });
  const { createHash, createHmac } = await import('node:crypto');
  const sha = createHash('sha256').update(bad).digest('hex');
  const otherKey = createHmac('sha256', Buffer.alloc(32, 9)).update(bad).digest('hex');
  writeFileSync(join(cache, 'lockfile-checked-v2.json'), JSON.stringify([sha, otherKey]));
  const checked = spy(openCheckedLockTexts(cache, Buffer.alloc(32, 1)));
  await assert.rejects(readLock(path, { checked }), (e: unknown) => e instanceof LockError && e.code === 'LOCK_CORRUPT');
  assert.equal(checked.hits, 0);
});
