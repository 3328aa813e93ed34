// A symlinked identity lockfile is updated THROUGH the link (atomically, at its target):
// the link stays a link and the file it names gets the new pins. Replacing the link with a
// regular file would silently detach the real lockfile (e.g. one shared across checkouts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linkTarget, readLock, serializeLock, updateLock } from '../../src/lock/file.ts';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { LockError } from '../../src/errors.ts';
import { CH, gh } from './fixtures.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-link-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function add(name: string) {
  return (cur: Lock): Lock => applyDecisions(cur, [decide(cur, { channel: CH, name, version: '1.0' }, [gh({ repo: `forge/${name}-feedstock` })], '2026-01-01')]);
}

test('attack/accident: an update through a symlinked lockfile writes the target and keeps the link', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'shared'));
  mkdirSync(join(dir, 'project'));
  const real = join(dir, 'shared', 'conda-attest.lock');
  writeFileSync(real, serializeLock(add('first')(emptyLock())));
  const link = join(dir, 'project', 'conda-attest.lock');
  symlinkSync('../shared/conda-attest.lock', link); // relative, like a dotfile manager makes them
  const r = await updateLock(link, add('second'));
  assert.equal(r.written, true);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced by a regular file');
  assert.equal(readlinkSync(link), '../shared/conda-attest.lock');
  const names = Object.keys((await readLock(real)).channels[CH] ?? {}).sort();
  assert.deepEqual(names, ['first', 'second'], 'the target got the new pin');
  // No temp or lock files left next to either.
  assert.deepEqual(readdirSync(join(dir, 'project')), ['conda-attest.lock']);
  assert.deepEqual(readdirSync(join(dir, 'shared')), ['conda-attest.lock']);
});

test('a chain of links is followed to the end; a dangling link creates its target; a loop is a clear LOCK_WRITE_FAILED', async (t) => {
  const dir = tempDir(t);
  const real = join(dir, 'real.lock');
  symlinkSync(real, join(dir, 'b.lock'));
  symlinkSync(join(dir, 'b.lock'), join(dir, 'a.lock'));
  assert.equal(await linkTarget(join(dir, 'a.lock')), real);
  // Dangling: the target does not exist yet and is created, the links stay.
  await updateLock(join(dir, 'a.lock'), add('x'));
  assert.ok(existsSync(real) && !lstatSync(real).isSymbolicLink());
  assert.ok(lstatSync(join(dir, 'a.lock')).isSymbolicLink() && lstatSync(join(dir, 'b.lock')).isSymbolicLink());
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(real, 'utf8')).channels[CH]), ['x']);
  symlinkSync(join(dir, 'loop2'), join(dir, 'loop1'));
  symlinkSync(join(dir, 'loop1'), join(dir, 'loop2'));
  await assert.rejects(updateLock(join(dir, 'loop1'), add('y')), (e: unknown) => e instanceof LockError && e.code === 'LOCK_WRITE_FAILED' && /symbolic links/.test(e.message));
  assert.ok(lstatSync(join(dir, 'loop1')).isSymbolicLink());
});
