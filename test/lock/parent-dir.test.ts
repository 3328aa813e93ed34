// A lockfile configured in a directory that does not exist yet is created there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateLock, readLock } from '../../src/lock/file.ts';

test('updateLock creates the missing parent directory of the lockfile', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-lockdir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'locks', 'nested', 'conda-attest.lock');
  const entry = {
    identities: [{ kind: 'email' as const, issuer: 'https://accounts.example.com', email: 'dev@example.com' }],
    first_seen: { version: '1.0', date: '2026-11-22' },
    last_seen: { version: '1.0', date: '2026-11-22' },
  };
  const res = await updateLock(path, (lock) => ({ ...lock, channels: { 'https://example.com/ch': { pkg: entry } } }));
  assert.equal(res.written, true);
  assert.match(readFileSync(path, 'utf8'), /dev@example\.com/);
  assert.deepEqual((await readLock(path)).channels['https://example.com/ch']!.pkg!.identities, entry.identities);
});
