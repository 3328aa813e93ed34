import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLock, readLock, serializeLock, updateLock } from '../../src/lock/file.ts';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { LockError } from '../../src/errors.ts';
import { CH, gh } from './fixtures.ts';

const CHILD = fileURLToPath(new URL('./writer-child.ts', import.meta.url));

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function add(name: string, version = '1.0') {
  return (cur: Lock): Lock =>
    applyDecisions(cur, [decide(cur, { channel: CH, name, version }, [gh({ repo: `forge/${name}-feedstock` })], '2026-01-01')]);
}

function run(args: string[]): { done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>; child: ReturnType<typeof spawn> } {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { done, child };
}

const isLockError = (code: string) => (e: unknown) => e instanceof LockError && e.code === code;

test('a missing lockfile reads as empty, and a no-op update does not create it', async (t) => {
  const path = join(tempDir(t), 'conda-attest.lock');
  assert.deepEqual(await readLock(path), emptyLock());
  const r = await updateLock(path, (cur) => cur);
  assert.equal(r.written, false);
  assert.equal(existsSync(path), false);
  assert.equal(existsSync(`${path}.lock`), false, 'lock released');
});

test('deterministic: same content → byte-identical file, no rewrite (mtime unchanged)', async (t) => {
  const path = join(tempDir(t), 'conda-attest.lock');
  assert.equal((await updateLock(path, add('b'))).written, true);
  assert.equal((await updateLock(path, add('a'))).written, true);
  const bytes = readFileSync(path, 'utf8');
  assert.ok(bytes.endsWith('}\n'));
  assert.ok(bytes.indexOf('"a"') < bytes.indexOf('"b"'), 'packages sorted');
  const past = new Date('2020-01-01T00:00:00Z');
  utimesSync(path, past, past);
  const r = await updateLock(path, add('a')); // same identity, same version: nothing changes
  assert.equal(r.written, false);
  assert.equal(statSync(path).mtimeMs, past.getTime());
  // Built in another order, the same lock serialises to the same bytes.
  const other = add('b')(add('a')(emptyLock()));
  assert.equal(serializeLock(other), bytes);
  assert.deepEqual(readdirSync(join(path, '..')), ['conda-attest.lock'], 'no temp or lock files left behind');
});

test('the file mode of an existing lockfile is kept across rewrites', async (t) => {
  const path = join(tempDir(t), 'conda-attest.lock');
  await updateLock(path, add('a'));
  chmodSync(path, 0o640);
  await updateLock(path, add('b'));
  assert.equal(statSync(path).mode & 0o777, 0o640);
});

const CORRUPT: [string, string, string][] = [
  ['truncated JSON', '{"version": 1, "channels": {', 'LOCK_CORRUPT'],
  ['empty file', '', 'LOCK_CORRUPT'],
  ['unknown version', '{"version": 2, "channels": {}}\n', 'LOCK_UNSUPPORTED_VERSION'],
  ['missing version', '{"channels": {}}\n', 'LOCK_CORRUPT'],
  ['extra property (schema violation)', '{"version": 1, "channels": {}, "trust_everything": true}\n', 'LOCK_CORRUPT'],
  [
    'identity without workflow (schema violation)',
    JSON.stringify({
      version: 1,
      channels: {
        [CH]: {
          numpy: {
            identities: [{ kind: 'github', issuer: 'https://i', repository: 'https://github.com/a/b' }],
            first_seen: { version: '1', date: '2026-01-01' },
            last_seen: { version: '1', date: '2026-01-01' },
          },
        },
      },
    }),
    'LOCK_CORRUPT',
  ],
  [
    'empty identity list (would pin nothing)',
    JSON.stringify({
      version: 1,
      channels: { [CH]: { numpy: { identities: [], first_seen: { version: '1', date: '2026-01-01' }, last_seen: { version: '1', date: '2026-01-01' } } } },
    }),
    'LOCK_CORRUPT',
  ],
];

for (const [what, text, code] of CORRUPT) {
  test(`corrupt lockfile (${what}) → ${code}, never replaced`, async (t) => {
    const path = join(tempDir(t), 'conda-attest.lock');
    writeFileSync(path, text);
    const past = new Date('2020-01-01T00:00:00Z');
    utimesSync(path, past, past);
    await assert.rejects(readLock(path), isLockError(code));
    await assert.rejects(
      updateLock(path, () => add('x')(emptyLock())),
      (e: unknown) => isLockError(code)(e) && typeof (e as LockError).hint === 'string',
    );
    assert.equal(readFileSync(path, 'utf8'), text, 'untouched');
    assert.equal(statSync(path).mtimeMs, past.getTime());
    assert.equal(existsSync(`${path}.lock`), false, 'lock released after the error');
  });
}

test('two concurrent writer PROCESSES adding different packages: nothing is lost', async (t) => {
  const path = join(tempDir(t), 'conda-attest.lock');
  const n = 20;
  const [a, b] = [run(['add', path, 'alpha', String(n)]), run(['add', path, 'beta', String(n)])];
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const lock = await readLock(path);
  const names = Object.keys(lock.channels[CH]);
  assert.equal(names.length, 2 * n);
  for (let i = 0; i < n; i++) {
    assert.ok(names.includes(`alpha-${i}`) && names.includes(`beta-${i}`), `entry ${i} present`);
  }
  assert.deepEqual(readdirSync(join(path, '..')), ['conda-attest.lock']);
});

test('a writer killed (SIGKILL) with its temp file on disk: old file intact, stale lock and temp file recovered', async (t) => {
  const path = join(tempDir(t), 'conda-attest.lock');
  await updateLock(path, add('before'));
  const old = readFileSync(path, 'utf8');
  const w = run(['pause', path, 'during']);
  const tmp = await new Promise<string>((res, rej) => {
    w.child.stdout?.on('data', (d: Buffer) => {
      const m = /paused (\S+)/.exec(String(d));
      if (m) res(m[1]);
    });
    w.child.on('close', () => rej(new Error('writer exited before pausing')));
  });
  assert.ok(existsSync(tmp), 'temp file exists');
  w.child.kill('SIGKILL');
  const r = await w.done;
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(readFileSync(path, 'utf8'), old, 'previous lockfile intact');
  assert.ok(existsSync(`${path}.lock`), 'the dead writer left its lock behind');
  // The lock is seconds old and the age limit is a minute: within waitMs only the dead pid
  // can have freed it (recovered by pid liveness, not by waiting out the age limit).
  const res = await updateLock(path, add('after'), { waitMs: 5000, staleMs: 60_000 });
  assert.equal(res.written, true);
  const names = Object.keys((await readLock(path)).channels[CH]).sort();
  assert.deepEqual(names, ['after', 'before'], 'the killed write never landed; the next one did');
  assert.deepEqual(readdirSync(join(path, '..')), ['conda-attest.lock'], 'dead writer temp file cleaned up');
});

function writeOwner(path: string, owner: { pid: number; host: string; time: number }): void {
  writeFileSync(`${path}.lock`, JSON.stringify({ ...owner, token: 'x' }));
}

test('a live holder makes the writer wait, then LOCK_BUSY (bounded), file untouched', async (t) => {
  const path = join(tempDir(t), 'conda-attest.lock');
  await updateLock(path, add('a'));
  const before = readFileSync(path, 'utf8');
  writeOwner(path, { pid: process.pid, host: hostname(), time: Date.now() });
  await assert.rejects(updateLock(path, add('b'), { waitMs: 300 }), (e: unknown) => {
    return isLockError('LOCK_BUSY')(e) && (e as LockError).message.includes(String(process.pid));
  });
  assert.equal(readFileSync(path, 'utf8'), before);
  assert.ok(existsSync(`${path}.lock`), "someone else's live lock is not removed");
});

test('stale locks: dead pid, old lock from another host, ownerless old file → recovered; recent foreign lock → busy', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'conda-attest.lock');
  // A pid that certainly is dead: a child that has exited.
  const dead = run(['add', join(dir, 'other.lock'), 'x', '0']);
  const pid = dead.child.pid as number;
  await dead.done;
  writeOwner(path, { pid, host: hostname(), time: Date.now() });
  assert.equal((await updateLock(path, add('a'), { waitMs: 1000 })).written, true);

  writeOwner(path, { pid: 1, host: 'another-host.example', time: Date.now() - 3_600_000 });
  assert.equal((await updateLock(path, add('b'), { waitMs: 1000 })).written, true);

  writeFileSync(`${path}.lock`, '');
  const past = new Date(Date.now() - 60_000);
  utimesSync(`${path}.lock`, past, past);
  assert.equal((await updateLock(path, add('c'), { waitMs: 1000 })).written, true);

  writeOwner(path, { pid: 1, host: 'another-host.example', time: Date.now() });
  await assert.rejects(updateLock(path, add('d'), { waitMs: 200 }), isLockError('LOCK_BUSY'));
  assert.deepEqual(Object.keys((await readLock(path)).channels[CH]), ['a', 'b', 'c']);
});

test('parseLock normalises a hand-edited file (unsorted, duplicate identities) to the canonical form', () => {
  const canonical = serializeLock(add('b')(add('a')(emptyLock())));
  const data = JSON.parse(canonical);
  const shuffled = { channels: { [CH]: { b: data.channels[CH].b, a: data.channels[CH].a } }, version: 1 };
  shuffled.channels[CH].a.identities.push(shuffled.channels[CH].a.identities[0]);
  assert.equal(serializeLock(parseLock(JSON.stringify(shuffled), 'mem')), canonical);
});
