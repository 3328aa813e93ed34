// Off a terminal (CI logs) progress is a short line at most every interval (10 s by
// default), none before the first interval, none after stop; no spinner, no escape codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliIO } from '../../src/cli/io.ts';
import { startProgress } from '../../src/cli/progress.ts';
import { CLI, NODE, makeWorkspace } from '../helpers/e2e.ts';
import { startLoopback } from '../helpers/loopback.ts';
import { hasPython3Pty, runInPty } from '../helpers/pty.ts';

function io(env: NodeJS.ProcessEnv = {}): { io: CliIO; text: () => string } {
  const err = new PassThrough();
  let text = '';
  err.on('data', (d) => (text += d));
  return { io: { stdout: new PassThrough(), stderr: err, stdin: new PassThrough(), env, cwd: '/' }, text: () => text };
}

test('off a TTY: a progress line per interval, counting done packages; nothing after stop', async () => {
  const t = io();
  let now = 0;
  const p = await startProgress(t.io, 10, { intervalMs: 30, now: () => now });
  assert.equal(t.text(), '', 'nothing at the start (a short run prints no progress)');
  p.update(3);
  now = 12_000;
  await sleep(100);
  p.stop();
  const lines = t.text().trim().split('\n');
  assert.ok(lines.length >= 1);
  assert.equal(lines[0], 'conda-attest: verifying 3/10 packages (12 s)');
  assert.doesNotMatch(t.text(), /\u001b/);
  const after = t.text();
  await sleep(100);
  assert.equal(t.text(), after, 'no line after stop');
});

test('the default interval is 10 s: a run shorter than that prints no progress line', async () => {
  const t = io();
  const p = await startProgress(t.io, 2);
  p.update(2);
  await sleep(50);
  p.stop();
  assert.equal(t.text(), '');
});

/** A stream that says it is a terminal, of `columns` columns. */
function tty(columns: number): { io: CliIO; text: () => string; stream: PassThrough & { isTTY: boolean; columns: number } } {
  const t = io({ TERM: 'xterm' });
  const s = Object.assign(t.io.stderr as PassThrough, {
    isTTY: true,
    columns,
    // The tty.WriteStream cursor methods ora uses, as plain writes.
    cursorTo: (x: number) => s.write(`\u001b[${x + 1}G`),
    moveCursor: (_dx: number, dy: number) => s.write(dy < 0 ? `\u001b[${-dy}A` : ''),
    clearLine: () => s.write('\u001b[2K'),
  });
  return { ...t, stream: s };
}

test('a terminal that reports 0 columns gets the off-terminal lines, never a spinner (whose stop would never return)', async () => {
  const t = tty(0);
  let now = 0;
  const p = await startProgress(t.io, 4, { intervalMs: 30, now: () => now });
  now = 11_000;
  await sleep(100);
  p.stop();
  assert.match(t.text(), /^conda-attest: verifying 0\/4 packages \(11 s\)\n/);
  assert.doesNotMatch(t.text(), /\u001b/, 'no spinner frames or cursor codes');
});

test('a spinner whose terminal shrinks to 0 columns while it runs still stops', async () => {
  const t = tty(80);
  const p = await startProgress(t.io, 4);
  p.update(1);
  await sleep(120);
  t.stream.columns = 0;
  await sleep(120);
  p.stop();
  assert.match(t.text(), /verifying 1\/4/);
});

test('a request with no answer is named in the progress line while it waits, with how long; gone once it ends', async () => {
  const t = io();
  let now = 0;
  const p = await startProgress(t.io, 4, { intervalMs: 30, now: () => now });
  p.update(1);
  p.waiting({ id: 7, host: '127.0.0.1:18765', since: 0, done: false });
  now = 20_000;
  await sleep(150);
  p.waiting({ id: 8, host: 'prefix.dev', since: 15_000, done: false });
  await sleep(150);
  p.waiting({ id: 7, host: '127.0.0.1:18765', since: 0, done: true });
  p.waiting({ id: 8, host: 'prefix.dev', since: 15_000, done: true });
  await sleep(150);
  p.stop();
  const lines = [...new Set(t.text().trim().split('\n'))];
  assert.deepEqual(lines, [
    'conda-attest: verifying 1/4 packages (20 s); waiting on 127.0.0.1:18765: no data for 20 s',
    'conda-attest: verifying 1/4 packages (20 s); waiting on 127.0.0.1:18765: no data for 20 s (and 1 more request)',
    'conda-attest: verifying 1/4 packages (20 s)',
  ]);
});

test('in a pseudo-terminal: the spinner names the stalled host while verify waits on it', { skip: hasPython3Pty() ? false : 'needs python3 with the pty and termios modules' }, async () => {
  const stall = await startLoopback(() => {
    /* accepts, never answers */
  });
  const ws = makeWorkspace('conda-attest-pty-wait-');
  try {
    const channel = `${stall.url}/forge`;
    ws.writeConfig({ lockfile: 'conda-attest.lock', channels: { [channel]: {} } });
    const host = new URL(stall.url).host;
    const r = await runInPty({
      argv: [NODE, CLI, 'verify', '--no-tuf-refresh', `${channel}/noarch/stuck-1.0-0.conda`],
      env: { ...ws.env, TERM: 'xterm-256color', NO_COLOR: '1' },
      cwd: ws.dir,
      waitFor: `verifying 0/1; waiting on ${host.replace(/\./g, '\\.')}: no data for \\d+ s`,
      keys: '\x03',
    });
    assert.ok(r.seen, `the waiting host on the terminal:\n${JSON.stringify(r.output)}`);
    assert.equal(r.code, 130, r.output);
  } finally {
    ws.cleanup();
    await stall.close();
  }
});
