// Ctrl-C on a real terminal: the spinner leaves the terminal in cooked mode with ISIG (so
// Ctrl-C is SIGINT), the run exits 130 promptly, the identity lockfile is untouched and no
// temporary files are left behind. NO_COLOR keeps the spinner (colour only is removed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { CLI, NODE, makeWorkspace } from '../helpers/e2e.ts';
import { startLoopback } from '../helpers/loopback.ts';
import { hasPython3Pty, runInPty } from '../helpers/pty.ts';

const skip = hasPython3Pty() ? false : 'needs python3 with the pty and termios modules';

for (const noColor of [false, true]) {
  test(`Ctrl-C in a pseudo-terminal during a stalled download: exit 130, lockfile untouched${noColor ? ' (NO_COLOR: spinner kept)' : ''}`, { skip }, async () => {
    // A channel that accepts the request and never answers: the run would wait 30 s per attempt.
    const stall = await startLoopback(() => {
      /* never answers */
    });
    const ws = makeWorkspace('conda-attest-pty-');
    try {
      const channel = `${stall.url}/forge`;
      ws.writeConfig({ lockfile: 'conda-attest.lock', channels: { [channel]: {} } });
      const before = '{"version": 1, "channels": {}}\n';
      ws.write('conda-attest.lock', before);
      const env: NodeJS.ProcessEnv = { ...ws.env, TERM: 'xterm-256color', ...(noColor ? { NO_COLOR: '1' } : {}) };
      const r = await runInPty({
        argv: [NODE, CLI, 'verify', '--no-tuf-refresh', `${channel}/noarch/stuck-1.0-0.conda`],
        env,
        cwd: ws.dir,
        waitFor: 'verifying 0/1',
        keys: '\x03',
      });
      assert.ok(r.seen, `the spinner appeared on the terminal:\n${JSON.stringify(r.output)}`);
      assert.deepEqual(r.modes, { isig: true, icanon: true }, 'the terminal stays in cooked mode with ISIG: Ctrl-C is a signal');
      assert.equal(r.code, 130, r.output);
      assert.match(r.output, /interrupted \(SIGINT\)/);
      if (noColor) assert.doesNotMatch(r.output, /\u001b\[3\dm/, 'no colour codes under NO_COLOR');
      else assert.match(r.output, /\u001b\[3\dm/, 'a coloured spinner on a terminal');
      assert.equal(ws.read('conda-attest.lock'), before);
      assert.deepEqual(readdirSync(ws.dir).filter((f) => f.endsWith('.tmp') || /\.lock\.\d+$/.test(f) || f.endsWith('.lock.lock')), []);
      // For the record (not asserted: no timing assertions in npm test).
      console.log(`# Ctrl-C → exit after ${r.exitAfterSeconds.toFixed(2)} s`);
    } finally {
      ws.cleanup();
      await stall.close();
    }
  });
}

test('a terminal of 0 columns (docker -t, script): no spinner, progress lines instead, and Ctrl-C exits 130', { skip }, async () => {
  const stall = await startLoopback(() => {
    /* never answers */
  });
  const ws = makeWorkspace('conda-attest-pty0-');
  try {
    const channel = `${stall.url}/forge`;
    ws.writeConfig({ lockfile: 'conda-attest.lock', channels: { [channel]: {} } });
    const r = await runInPty({
      argv: [NODE, CLI, 'verify', '--no-tuf-refresh', `${channel}/noarch/stuck-1.0-0.conda`],
      env: { ...ws.env, TERM: 'xterm-256color' },
      cwd: ws.dir,
      cols: 0,
      // The off-terminal progress line (after its 10 s interval) shows the run is waiting.
      waitFor: 'conda-attest: verifying 0/1 packages',
      keys: '\x03',
    });
    assert.ok(r.seen, `progress lines on a 0-column terminal:\n${JSON.stringify(r.output)}`);
    assert.equal(r.code, 130, `the run exits on Ctrl-C (null: it hung):\n${JSON.stringify(r.output)}`);
    assert.match(r.output, /interrupted \(SIGINT\)/);
    assert.doesNotMatch(r.output, /verifying 0\/1(?! packages)/, 'no spinner frame');
    console.log(`# 0 columns: Ctrl-C → exit after ${r.exitAfterSeconds.toFixed(2)} s`);
  } finally {
    ws.cleanup();
    await stall.close();
  }
});
