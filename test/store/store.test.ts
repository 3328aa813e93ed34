// The persistence module: atomic writes (through symlinks, modes kept, temp files removed on
// error and on Ctrl-C), create-only writes, the bucket store of both caches, and the
// inter-process lock's clean-up of a dead holder's temp file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAtomicWrite, writeFileAtomic, writeFileAtomicSync } from '../../src/store/atomic.ts';
import { openBucketStore } from '../../src/store/buckets.ts';
import { acquireFileLock } from '../../src/store/lock.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('atomic write: replaces the content, keeps the mode, writes through a symlink (the link stays)', async (t) => {
  const dir = tempDir(t);
  const real = join(dir, 'real.json');
  writeFileSync(real, 'old');
  chmodSync(real, 0o640);
  symlinkSync('real.json', join(dir, 'link.json'));
  await writeFileAtomic(join(dir, 'link.json'), 'new');
  assert.equal(readFileSync(real, 'utf8'), 'new');
  assert.ok(lstatSync(join(dir, 'link.json')).isSymbolicLink());
  assert.equal(readlinkSync(join(dir, 'link.json')), 'real.json');
  assert.equal(statSync(real).mode & 0o777, 0o640);
  writeFileAtomicSync(real, Buffer.from('sync'));
  assert.equal(readFileSync(real, 'utf8'), 'sync');
  assert.equal(statSync(real).mode & 0o777, 0o640);
  assert.deepEqual(readdirSync(dir).sort(), ['link.json', 'real.json'], 'no temp files left');
});

test('atomic write: a failed write leaves the old file and no temp file', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'target-is-a-dir'));
  writeFileSync(join(dir, 'target-is-a-dir', 'inside'), 'x');
  await assert.rejects(writeFileAtomic(join(dir, 'target-is-a-dir'), 'new'));
  assert.deepEqual(readdirSync(dir), ['target-is-a-dir']);
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'file'), 'new'), /ENOENT/);
  await writeFileAtomic(join(dir, 'made', 'deep', 'file'), 'new', { mkdirs: true });
  assert.equal(readFileSync(join(dir, 'made', 'deep', 'file'), 'utf8'), 'new');
});

test('streamed writes: chunks are written whole or not at all; an aborted stream leaves the old file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'index.json');
  writeFileSync(path, 'old');
  await writeFileAtomic(path, ['{"a":', '1', '}'], { durable: false });
  assert.equal(readFileSync(path, 'utf8'), '{"a":1}');
  function* failing(): Generator<string> {
    yield 'partial';
    throw new Error('source failed');
  }
  await assert.rejects(writeFileAtomic(path, failing()), /source failed/);
  assert.equal(readFileSync(path, 'utf8'), '{"a":1}');
  const out = await openAtomicWrite(path);
  out.stream.write('never committed');
  await out.abort();
  assert.equal(readFileSync(path, 'utf8'), '{"a":1}');
  assert.deepEqual(readdirSync(dir), ['index.json'], 'no temp files left');
});

test('create-only write: EEXIST when the file exists (never replaced), staged file removed', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'config.yaml');
  await writeFileAtomic(path, 'first', { exclusive: true });
  await assert.rejects(writeFileAtomic(path, 'second', { exclusive: true }), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  assert.equal(readFileSync(path, 'utf8'), 'first');
  assert.deepEqual(readdirSync(dir), ['config.yaml']);
});

test('Ctrl-C during an atomic write: the process exits 130, the old file is intact, the temp file is removed', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  writeFileSync(path, 'old content\n');
  const r = spawnSync(process.execPath, [CHILD, path], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 130, r.stderr);
  const tmp = /temp (\S+)/.exec(r.stdout)?.[1];
  assert.ok(tmp, `the child reported its temp file: ${r.stdout}`);
  assert.equal(existsSync(tmp), false, 'temp file removed at exit');
  assert.equal(readFileSync(path, 'utf8'), 'old content\n');
  assert.deepEqual(readdirSync(dir), ['conda-attest.lock']);
});

test('Ctrl-C with streamed atomic writes in flight: every temp file is removed at exit, a committed file stays', (t) => {
  const dir = tempDir(t);
  const r = spawnSync(process.execPath, [CHILD, '--streams', dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 130, r.stderr);
  assert.match(r.stdout, /in flight/);
  assert.deepEqual(readdirSync(dir), ['committed.json'], 'both temp files removed, the committed file kept');
  assert.equal(readFileSync(join(dir, 'committed.json'), 'utf8'), '{"done":true}');
});

test('bucket store: keys map to 16 buckets; absent, oversized and blocked files', async (t) => {
  const dir = tempDir(t);
  const store = openBucketStore(join(dir, 'b'), { maxFileBytes: 64 });
  assert.equal(store.bucketOf('a'.repeat(64)), 'a');
  for (const bad of ['../x', 'A'.repeat(64), 'a'.repeat(63)]) assert.equal(store.bucketOf(bad), undefined);
  assert.equal(store.readSync('a'), undefined);
  assert.equal(await store.read('a'), undefined);
  await store.ensureDir();
  await store.write('a', '{"k":1}');
  assert.equal(store.readSync('a'), '{"k":1}');
  assert.equal(await store.read('a'), '{"k":1}');
  writeFileSync(store.fileOf('b'), 'x'.repeat(65));
  assert.throws(() => store.readSync('b'), /larger than 64 bytes/);
  await assert.rejects(store.read('b'), /larger than 64 bytes/);
  assert.deepEqual(readdirSync(store.dir).sort(), ['a.json', 'b.json']);
  // A file where the store's directory should be: nothing stored, nothing thrown on read.
  writeFileSync(join(dir, 'file'), 'x');
  const blocked = openBucketStore(join(dir, 'file'));
  assert.equal(blocked.readSync('a'), undefined);
  await assert.rejects(blocked.ensureDir());
});

test('attack: a symbolic link planted where a bucket file belongs is replaced, never written through', async (t) => {
  const dir = tempDir(t);
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'keep me');
  const store = openBucketStore(join(dir, 'cache'));
  await store.ensureDir();
  symlinkSync(victim, store.fileOf('a'));
  await store.write('a', '{"entries":{}}');
  assert.equal(readFileSync(victim, 'utf8'), 'keep me');
  assert.equal(lstatSync(store.fileOf('a')).isSymbolicLink(), false);
  assert.equal(readFileSync(store.fileOf('a'), 'utf8'), '{"entries":{}}');
  assert.deepEqual(readdirSync(store.dir), ['a.json'], 'no temp files left');
});

const lockOptions = {
  waitMs: 500,
  staleMs: 60_000,
  busy: () => new Error('busy'),
  cannotCreate: (_: string, e: unknown) => e as Error,
};

test("attack: a dead holder's lock record removes only that holder's own temp file, never another file", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  const victims = [join(dir, 'precious.txt'), join(dir, 'conda-attest.lock.bak'), join(tmpdir(), 'conda-attest.lock.123')];
  for (const v of victims) writeFileSync(v, 'keep me');
  t.after(() => rmSync(victims[2]!, { force: true }));
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
  for (const temp of [...victims, join(dir, 'conda-attest.lock.42')]) {
    writeFileSync(join(dir, 'conda-attest.lock.42'), 'dead temp');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: deadPid, host: hostname(), time: Date.now(), token: 'x', temp }));
    const held = await acquireFileLock(path, lockOptions);
    await held.release();
    assert.equal(existsSync(`${path}.lock`), false);
  }
  for (const v of victims) assert.equal(readFileSync(v, 'utf8'), 'keep me', v);
  assert.equal(existsSync(join(dir, 'conda-attest.lock.42')), false, "the dead holder's own temp file is removed");
});
