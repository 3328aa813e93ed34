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
import type { Arbitrary } from 'fast-check';

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

test('property: the text a writer checks without parsing it back (serializeForWrite) is serializeLock, and what it says is read is what parseLock reads', async (t) => {
  const { serializeForWrite } = await import('../../src/lock/text.ts');
  const { checkProperty, fc } = await import('../helpers/fuzz.ts');
  // Mostly locks a reader accepts, each part sometimes one it refuses.
  const mostly = <T,>(good: Arbitrary<T>, bad: Arbitrary<T>): Arbitrary<T> => fc.oneof({ arbitrary: good, weight: 60 }, { arbitrary: bad, weight: 1 });
  const text = mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''));
  const identity: Arbitrary<Record<string, unknown>> = fc.oneof(
    fc.record({ kind: fc.constantFrom('github', 'gitlab'), issuer: text, repository: text, workflow: text, repository_id: fc.option(text, { nil: undefined }) }, { requiredKeys: ['kind', 'issuer', 'repository', 'workflow'] }),
    fc.record({ kind: fc.constant('email'), issuer: text, email: text }),
    fc.record({ kind: fc.constant('key'), key_fingerprint: mostly(fc.constantFrom('1'.repeat(64), '2'.repeat(64)), fc.constantFrom('A'.repeat(64), 'x')) }),
  );
  const seen = fc.record({ version: text, date: mostly(fc.constantFrom('2026-01-01', '2025-12-31'), fc.constant('2026-1-1')) });
  const entry = fc.record({ identities: mostly(fc.array(identity, { minLength: 1, maxLength: 3 }), fc.constant([] as Record<string, unknown>[])), first_seen: seen, last_seen: seen });
  const name = mostly(fc.constantFrom('numpy', 'py-lib_2', 'a.b+c', '__proto__'), fc.constantFrom('../x', '', 'bad name'));
  const channel = mostly(fc.constantFrom(CH, 'https://conda.example.org/other'), fc.constantFrom('not a url', 'https://trailing/'));
  const lock = fc.dictionary(channel, fc.dictionary(name, entry, { maxKeys: 3 }), { maxKeys: 2 }).map((channels) => ({ version: 1 as const, channels }) as unknown as Lock);
  let accepted = 0;
  let refused = 0;
  await checkProperty(
    t,
    'serializeForWrite = serializeLock + parseLock',
    [lock],
    (l) => {
      const expected = serializeLock(l);
      let read: Lock | LockError;
      try {
        read = parseLock(expected, 'x (about to be written)');
      } catch (e) {
        read = e as LockError;
      }
      let got: { text: string; lock: Lock } | LockError;
      try {
        got = serializeForWrite(l, 'x (about to be written)');
      } catch (e) {
        got = e as LockError;
      }
      if (read instanceof LockError) {
        assert.ok(got instanceof LockError, 'refused to be written as the reader would refuse it');
        assert.equal(got.code, read.code);
        assert.equal(got.message, read.message);
        assert.deepEqual(got.details, read.details, 'every failing path named, as the reader names them');
        refused++;
      } else {
        assert.ok(!(got instanceof LockError), `accepted as the reader accepts it: ${String(got)}`);
        assert.equal(got.text, expected);
        assert.deepEqual(got.lock, read);
        if (Object.keys(read.channels).length > 0) accepted++;
      }
    },
    { runs: 300 },
  );
  assert.ok(accepted > 50 && refused > 50, `both sides exercised (${accepted} pinning locks accepted, ${refused} refused)`);
});

test('a lock that is not plain JSON data is parsed back before it is written, and an invalid one is never written', async (t) => {
  const { serializeForWrite } = await import('../../src/lock/text.ts');
  const entry = { identities: [{ kind: 'key', key_fingerprint: '1'.repeat(64) }], first_seen: { version: '1.0', date: '2026-01-01' }, last_seen: { version: '1.0', date: '2026-01-01' } };
  // A value JSON leaves out (undefined) or turns into another (a Date, NaN): the text decides, as the reader's does.
  const undef = { version: 1, channels: { [CH]: { a: { ...entry, identities: [{ ...entry.identities[0], key_name: undefined }] } } } } as unknown as Lock;
  assert.equal(serializeForWrite(undef, 'x').text, serializeLock(undef));
  assert.deepEqual(serializeForWrite(undef, 'x').lock, parseLock(serializeLock(undef), 'x'));
  const dated = { version: 1, channels: { [CH]: { a: { ...entry, first_seen: { version: '1.0', date: new Date(0) } } } } } as unknown as Lock;
  assert.throws(() => serializeForWrite(dated, 'x (about to be written)'), (e: unknown) => e instanceof LockError && e.code === 'LOCK_CORRUPT' && /about to be written.*date/.test(e.message));
  // Through updateLock: the file on disk is left as it was.
  const path = join(tempDir(t), 'conda-attest.lock');
  await updateLock(path, add('a'));
  const before = readFileSync(path, 'utf8');
  await assert.rejects(
    updateLock(path, (cur) => ({ ...cur, channels: { ...cur.channels, [CH]: { ...cur.channels[CH], 'bad name!': entry as never } } })),
    (e: unknown) => e instanceof LockError && e.code === 'LOCK_CORRUPT' && /about to be written/.test(e.message),
  );
  assert.equal(readFileSync(path, 'utf8'), before);
});
