// End to end: `conda-attest accept` and `conda-attest diff` on lockfiles made by real
// `verify` runs. The CLI is spawned (`node src/cli/run.ts`) in a project
// directory against a fixture channel on 127.0.0.1 signed by a local Sigstore instance.
//
// Channel: a/b/c/d 1.0 signed by their feedstocks (pinned by the first run), then
// a 2.0 from the same SAN with another repository ID, b 2.0 from another workflow,
// c 2.0 without attestations, d 2.0 by the same identity, and `bad` whose attestation
// is over other bytes (does not verify).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hasPython3Pty, runInPty } from '../helpers/pty.ts';
import { join } from 'node:path';
import { startLocalSigstore, publishStatement } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { parseLock, serializeLock } from '../../src/lock/file.ts';
import { RUN_TS, type Project, configFor, makeProject, reportOf, san, validateLockSchema } from './lock-env.ts';

let ls: LocalSigstore;
let ch: FixtureChannel;
let PINNED = '';
const projects: Project[] = [];

const V1 = ['a', 'b', 'c', 'd'].map((n) => `${n}-1.0-h0_0.conda`);
const V2 = [...['a', 'b', 'c', 'd'].map((n) => `${n}-2.0-h0_0.conda`), 'bad-1.0-h0_0.conda'];

before(async () => {
  ls = await startLocalSigstore();
  // `bad`: a genuine signature over a statement for OTHER bytes (a tampered download).
  const badBundle = await ls.attest(
    publishStatement({ filename: 'bad-1.0-h0_0.conda', sha256: '0'.repeat(63) + '1', targetChannel: null }),
    { san: san('bad-feedstock') },
  );
  ch = await startFixtureChannel({
    sigstore: ls,
    packages: [
      ...['a', 'b', 'c', 'd'].map((name) => ({ spec: { name, version: '1.0' }, signOptions: { san: san(`${name}-feedstock`) } })),
      { spec: { name: 'a', version: '2.0' }, signOptions: { san: san('a-feedstock'), claims: { sourceRepositoryId: '666' } } },
      { spec: { name: 'b', version: '2.0' }, signOptions: { san: san('b-feedstock', { workflow: 'release.yml' }) } },
      { spec: { name: 'c', version: '2.0' }, attest: false },
      { spec: { name: 'd', version: '2.0' }, signOptions: { san: san('d-feedstock', { ref: 'refs/tags/v2' }) } },
      { spec: { name: 'bad', version: '1.0' }, bundles: [badBundle] },
    ],
  });
  const p = project(false);
  const r = await p.cli(['verify', '--json', p.envFile('v1.lock', V1)]);
  assert.equal(r.code, 0, r.stderr);
  PINNED = p.readLock();
});

after(async () => {
  for (const p of projects) p.cleanup();
  await ch?.close();
  await ls?.close();
});

function project(withPinned = true): Project {
  const p = makeProject(ls, ch, 'error');
  projects.push(p);
  if (withPinned) writeFileSync(p.lockfile, PINNED);
  p.envFile('v1.lock', V1);
  p.envFile('v2.lock', V2);
  p.envFile('v2ok.lock', V2.filter((f) => !f.startsWith('bad-')));
  return p;
}

const entry = (lockText: string, name: string) => JSON.parse(lockText).channels[ch.url][name];

function assertUnchanged(p: Project, mtimeMs: number, what: string): void {
  assert.equal(p.readLock(), PINNED, `${what}: lockfile bytes unchanged`);
  assert.equal(statSync(p.lockfile).mtimeMs, mtimeMs, `${what}: lockfile not rewritten`);
}

test('accept PKG --yes: shows the diff, then pins the new identity of that package only; the next verify passes for it', async () => {
  const p = project();
  const r = await p.cli(['accept', 'a', '--yes', '--target', 'v2.lock']);
  assert.equal(r.code, 0, r.stderr);
  // The diff comes first, the write after it.
  const diffAt = r.stdout.indexOf('repository_id:');
  const writtenAt = r.stdout.indexOf(`Updated ${p.lockfile}.`);
  assert.ok(diffAt >= 0 && writtenAt > diffAt, r.stdout);
  assert.match(r.stdout, new RegExp(`a from ${ch.url}\\n  ~ identity changed: github https://github.com/forge/a-feedstock/.github/workflows/build.yml\\n    ! repository re-created: same URL, new ID 1001 → 666\\n      hint: [^\\n]+\\n\\s+repository_id:\\n\\s+- 1001\\n\\s+\\+ 666`));
  assert.doesNotMatch(r.stdout, /release\.yml/, 'b was not selected');
  // bad did not verify, but it was not asked for: no note about it.
  assert.doesNotMatch(r.stderr, /did not verify/, 'no note about packages that were not selected');

  const lock = p.readLock();
  assert.deepEqual(validateLockSchema(JSON.parse(lock)).ok, true);
  assert.equal(lock, serializeLock(parseLock(lock, 'x')), 'canonical bytes');
  assert.equal(entry(lock, 'a').identities[0].repository_id, '666');
  assert.deepEqual(entry(lock, 'a').first_seen.version, '2.0', 'the accepted identity starts its own history');
  assert.deepEqual(entry(lock, 'b'), entry(PINNED, 'b'), 'b keeps its pin');

  const v = await p.cli(['verify', '--json', 'v2ok.lock']);
  const { rows } = reportOf(v);
  assert.equal(rows.get('a-2.0').status, 'verified');
  assert.equal(rows.get('b-2.0').status, 'identity-changed');
  assert.equal(v.code, 1);
});

test('accept --all --yes: every observed identity is taken, but a package now unattested keeps its pin; the next verify has no other identity change', async () => {
  const p = project();
  const r = await p.cli(['accept', '--all', '--yes', '--target', 'v2.lock']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^b from \S+\n  ~ identity changed/m);
  assert.doesNotMatch(r.stdout, /^c from/m, 'c is not part of the accepted changes');
  assert.match(r.stderr, /kept the pins of 1 package\(s\) that arrived without attestations \(ATTESTATIONS_REMOVED\): \S+::c; accept never drops a pin/);
  // --all covers bad too: it is named as not accepted.
  assert.match(r.stderr, /\d package\(s\) did not verify and are not accepted/, 'bad is reported, not accepted');
  const lock = p.readLock();
  assert.equal(entry(lock, 'a').identities[0].repository_id, '666');
  assert.match(entry(lock, 'b').identities[0].workflow, /release\.yml$/);
  assert.deepEqual(entry(lock, 'c'), entry(PINNED, 'c'), 'the downgrade protection stays');
  assert.equal(entry(lock, 'bad'), undefined, 'a package that did not verify is never pinned');
  assert.equal(entry(lock, 'd').last_seen.version, '2.0');

  const v = await p.cli(['verify', '--json', 'v2ok.lock']);
  const { rows, summary } = reportOf(v);
  assert.equal(summary['identity-changed'], 1);
  for (const n of ['a', 'b', 'd']) assert.equal(rows.get(`${n}-2.0`).status, 'verified', n);
  // c: still pinned, so still a downgrade.
  assert.equal(rows.get('c-2.0').status, 'identity-changed');
  assert.deepEqual(rows.get('c-2.0').reasons.map((x: { code: string }) => x.code), ['NO_ATTESTATIONS', 'ATTESTATIONS_REMOVED']);
});

test('attack: `accept c` after c arrived without attestations (ATTESTATIONS_REMOVED) would delete the pin and the downgrade protection: refused (exit 2), the hint names the documented way, nothing written', async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  const v = await p.cli(['verify', '--json', '--frozen', 'v2ok.lock']);
  const row = reportOf(v).rows.get('c-2.0');
  const removed = row.reasons.find((x: { code: string }) => x.code === 'ATTESTATIONS_REMOVED');
  assert.match(removed.hint, /delete its entry from the identity lockfile by hand/);
  assert.doesNotMatch(removed.hint, /conda-attest accept/, 'the hint does not suggest a command that refuses');
  for (const names of [['c'], [`${ch.url}::c`], ['a', 'c']]) {
    const r = await p.cli(['accept', ...names, '--yes', '--target', 'v2.lock']);
    assert.equal(r.code, 2, `${names}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /USAGE_INVALID_ARGUMENT: Nothing accepted: "[^"]*::c" arrived without attestations \(ATTESTATIONS_REMOVED\), and accepting that would delete its pin/);
    assert.match(r.stderr, /delete its entry from the identity lockfile by hand and commit that change/);
    assertUnchanged(p, mtime, names.join(' '));
  }
});

test('accept without --yes on a non-TTY: exit 2, the diff shown, the lockfile unchanged', async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  for (const args of [['accept', 'a', '--target', 'v2.lock'], ['accept', '--all', '--json', '--target', 'v2.lock']]) {
    const r = await p.cli(args, { input: 'y\n' }); // input on a pipe is not a confirmation
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /USAGE_MISSING_ARGUMENT: Refusing to change the identity lockfile without confirmation/);
    assert.match(r.stdout, /repository_id/, 'the diff is shown for review');
    assertUnchanged(p, mtime, args.join(' '));
  }
});

test('accept of a package that did not verify, or of an unknown name: error, nothing written (not even the other names)', async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  for (const names of [['bad'], ['nope'], ['a', 'nope'], ['other-channel::a']]) {
    const r = await p.cli(['accept', ...names, '--yes', '--target', 'v2.lock']);
    assert.equal(r.code, 2, `${names}: ${r.stdout}${r.stderr}`);
    const wrong = names.find((n) => n !== 'a');
    assert.match(
      r.stderr,
      wrong === 'bad'
        ? /USAGE_INVALID_ARGUMENT: Nothing accepted: "bad" did not verify \((untrusted|invalid|missing|retrieval-failed)[^)]*\)\./
        : new RegExp(`USAGE_INVALID_ARGUMENT: Nothing accepted: "${wrong}" is not a package of the environment\\.`),
    );
    assertUnchanged(p, mtime, names.join(' '));
  }
  const usage = await p.cli(['accept', '--yes', '--target', 'v2.lock']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /USAGE_MISSING_ARGUMENT/);
  assertUnchanged(p, mtime, 'no package named');
});

test('accept when the lock already pins the observed identities: nothing to accept, file untouched; CHANNEL::NAME selects', async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await p.cli(['accept', `${ch.url}::d`, '--target', 'v1.lock']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Nothing to accept/);
  assertUnchanged(p, mtime, 'nothing to accept');
  const j = await p.cli(['accept', 'test-channel::a', '--yes', '--json', '--target', 'v2.lock']);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout);
  assert.equal(out.written, true);
  assert.equal(out.identity_changes, 1);
  assert.deepEqual(out.changes.find((c: { type: string }) => c.type === 'identity-changed').fields, [
    { field: 'repository_id', old: '1001', new: '666' },
  ]);
  assert.equal(entry(p.readLock(), 'a').identities[0].repository_id, '666');
});

const hasScript = spawnSync('script', ['--version']).status === 0;

test('accept on a terminal asks: "n" declines (exit 1, unchanged), "y" writes', { skip: hasScript ? false : 'needs util-linux `script` for a pseudo-terminal' }, async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  // `script -qec CMD /dev/null` runs CMD on a pseudo-terminal, relays our stdin to it and
  // returns its exit code. The answer is typed only once the prompt is on the screen.
  const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, RUN_TS, 'accept', 'a', '--target', 'v2.lock'].map(q).join(' ');
  const onTty = (answer: string) =>
    new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: p.dir, env: p.env, stdio: ['pipe', 'pipe', 'inherit'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      let stdout = '';
      let typed = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (!typed && stdout.includes('[y/N]')) {
          typed = true;
          child.stdin.write(answer);
        }
      });
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        child.stdin.destroy();
        resolve({ status, stdout });
      });
    });

  const no = await onTty('n\r');
  assert.equal(no.status, 1, no.stdout);
  assert.match(no.stdout, /repository_id:[\s\S]*Write these changes to .*conda-attest\.lock\? \[y\/N\][\s\S]*Declined; the lockfile is unchanged\./);
  assertUnchanged(p, mtime, 'declined');

  const yes = await onTty('y\r');
  assert.equal(yes.status, 0, yes.stdout);
  assert.match(yes.stdout, /Updated .*conda-attest\.lock\./);
  assert.equal(entry(p.readLock(), 'a').identities[0].repository_id, '666');
});

// ---- diff on lockfiles written by verify / accept ---------------------------------------

/**
 * A project whose lockfile is `before.lock` (PINNED) and, after `accept --all` and c's pin
 * dropped by hand (the documented way, docs/lockfile.md), the working tree.
 */
async function acceptedProject(): Promise<Project> {
  const p = project();
  writeFileSync(join(p.dir, 'before.lock'), PINNED);
  const r = await p.cli(['accept', '--all', '--yes', '--target', 'v2.lock']);
  assert.equal(r.code, 0, r.stderr);
  const lock = parseLock(p.readLock(), 'accepted');
  delete lock.channels[ch.url]!.c;
  writeFileSync(p.lockfile, serializeLock(lock));
  return p;
}

test('diff OLD NEW in text, --format markdown and --json, on lockfiles written by verify and accept', async () => {
  const p = await acceptedProject();
  const text = await p.cli(['diff', 'before.lock', 'conda-attest.lock']);
  assert.equal(text.code, 0, text.stderr);
  assert.doesNotMatch(text.stdout, /\u001b\[/, 'NO_COLOR');
  assert.match(text.stdout, new RegExp(`^a from ${ch.url}\\n  ~ identity changed: github \\S+/a-feedstock/\\.github/workflows/build\\.yml\\n    ! repository re-created: same URL, new ID 1001 → 666\\n      hint: [^\\n]+\\n      repository_id:\\n        - 1001\\n        \\+ 666$`, 'm'));
  assert.match(text.stdout, /^b from \S+\n  ~ identity changed: [^\n]+\n      workflow:\n        - \S+\/build\.yml\n        \+ \S+\/release\.yml/m);
  assert.match(text.stdout, /^c from \S+\n  - package no longer pinned\n    - github \S+\/c-feedstock\//m);
  assert.match(text.stdout, /^d from \S+\n    last_seen: 1\.0 \(\d{4}-\d\d-\d\d\) -> 2\.0/m);

  const md = await p.cli(['diff', '--format', 'markdown', 'before.lock', 'conda-attest.lock']);
  assert.equal(md.code, 0);
  assert.match(md.stdout, /^### conda-attest: signer identity changes\n\n3 identity change\(s\) to review\./);
  assert.match(md.stdout, /\| repository_id \| <code>1001<\/code> \| <code>666<\/code> \|/);
  assert.match(md.stdout, /#### <code>c<\/code> from <code>http:&#8203;\/\/127\.0\.0\.1:\d+\/test-channel<\/code>\n\n\*\*Pin removed\*\*/);

  const json = await p.cli(['diff', '--json', '--exit-code', 'before.lock', 'conda-attest.lock']);
  assert.equal(json.code, 1, '--exit-code: identity changes');
  const data = JSON.parse(json.stdout);
  assert.equal(data.identity_changes, 3);
  assert.deepEqual(
    data.changes.map((c: { name: string; type: string }) => `${c.name}:${c.type}`),
    ['a:identity-changed', 'a:seen-changed', 'a:seen-changed', 'b:identity-changed', 'b:seen-changed', 'b:seen-changed', 'c:package-removed', 'd:seen-changed'],
  );
  assert.deepEqual(data.changes[0].fields, [{ field: 'repository_id', old: '1001', new: '666' }]);
});

test('diff default mode (git HEAD vs working tree) uses the config\'s lockfile; git textconv driver shows identity lines', async () => {
  const p = project(false);
  // The config names a lockfile in a subdirectory: `diff` without --lockfile must use it.
  mkdirSync(join(p.dir, 'locks'));
  writeFileSync(join(p.dir, '.conda-attestrc.json'), JSON.stringify(configFor(ls, ch, join(p.root, 'cache'), 'error', 'locks/ids.lock')));
  const lockfile = join(p.dir, 'locks', 'ids.lock');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: p.dir, env: p.env, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  assert.equal((await p.cli(['verify', 'v1.lock'])).code, 0);
  assert.ok(existsSync(lockfile), 'verify wrote the configured lockfile');
  assert.equal(existsSync(p.lockfile), false);
  git('add', 'locks/ids.lock');
  git('commit', '-q', '-m', 'pin signers');
  assert.equal((await p.cli(['accept', 'a', '--yes', '--target', 'v2.lock'])).code, 0);

  const d = await p.cli(['diff', '--json']);
  assert.equal(d.code, 0, d.stderr);
  const data = JSON.parse(d.stdout);
  assert.equal(data.identity_changes, 1);
  assert.equal(data.changes[0].name, 'a');
  assert.deepEqual(data.changes[0].fields, [{ field: 'repository_id', old: '1001', new: '666' }]);
  // --lockfile still wins over the config.
  writeFileSync(join(p.dir, 'other.lock'), readFileSync(lockfile));
  assert.equal(JSON.parse((await p.cli(['diff', '--json', '--lockfile', 'other.lock'])).stdout).identity_changes, 4, 'other.lock is not in git: all pinned');

  // git textconv driver, configured as documented in src/cli/diff.ts.
  writeFileSync(join(p.dir, '.gitattributes'), 'locks/ids.lock diff=conda-attest\n');
  git('config', 'diff.conda-attest.textconv', `'${process.execPath}' '${RUN_TS}' diff --textconv`);
  const out = git('diff', '--no-color', '--', 'locks/ids.lock');
  const minus = out.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  const plus = out.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
  const id = `${ch.url} a [github https://github.com/forge/a-feedstock/.github/workflows/build.yml]`;
  assert.ok(minus.includes(`-${id} repository_id 1001`), out);
  assert.ok(plus.includes(`+${id} repository_id 666`), out);
  // Only a's identity changed (d's last_seen moved to 2.0: accept also keeps the normal bookkeeping).
  assert.deepEqual(
    minus.filter((l) => !l.startsWith(`-${ch.url} a `)).map((l) => l.split(' ').slice(1, 3).join(' ')),
    ['d last_seen'],
    out,
  );
  // Without the driver git shows raw JSON: the driver is what makes the lines readable.
  assert.doesNotMatch(git('diff', '--no-color', '--no-textconv', '--', 'locks/ids.lock'), /repository_id 666/);
});

test('diff OLD NEW needs no config: a broken config does not stop it', async () => {
  const p = await acceptedProject();
  writeFileSync(join(p.dir, '.conda-attestrc.json'), '{ broken');
  const r = await p.cli(['diff', '--json', 'before.lock', 'conda-attest.lock']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).identity_changes, 3);
  // Where the lockfile path comes from the config, the broken config is reported.
  const one = await p.cli(['diff', 'before.lock']);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /CONFIG_PARSE_FAILED/);
});

test('accept with only first/last-seen bookkeeping to change: "nothing to accept", exit 0, no confirmation needed, nothing written', async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  // d 2.0: same identity (new ref), so only last_seen would move.
  const r = await p.cli(['accept', 'd', '--target', 'v2.lock']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Nothing to accept/);
  const j = await p.cli(['accept', 'd', '--json', '--yes', '--target', 'v2.lock']);
  assert.equal(j.code, 0, j.stderr);
  assert.equal(JSON.parse(j.stdout).written, false);
  assertUnchanged(p, mtime, 'bookkeeping only');
});

// At the confirmation prompt on a real terminal (python3's pty): readline holds the
// terminal in raw mode, so Ctrl-C arrives as a keypress; it must still be the interrupt it
// is everywhere else (exit 130, nothing written, no temporary file left).
const ptySkip = hasPython3Pty() ? false : 'needs python3 with the pty and termios modules';
test('accept at the prompt on a terminal, Ctrl-C: exit 130, nothing written', { skip: ptySkip }, async () => {
  const p = project();
  const mtime = statSync(p.lockfile).mtimeMs;
  const r = await runInPty({
    argv: [process.execPath, RUN_TS, 'accept', 'a', '--target', 'v2.lock'],
    env: { ...p.env, TERM: 'xterm-256color' },
    cwd: p.dir,
    waitFor: 'Write these changes to',
    keys: '\x03',
  });
  assert.ok(r.seen, `the prompt appeared:\n${r.output}`);
  assert.equal(r.code, 130, r.output);
  assertUnchanged(p, mtime, 'Ctrl-C at the prompt');
  assert.deepEqual(readdirSync(p.dir).filter((f) => f.includes('.tmp') || f.endsWith('.lock.lock')), [], 'no temporary files left');
});
