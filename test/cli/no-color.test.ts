// NO_COLOR (https://no-color.org): any non-empty value turns colour off. Tested through the
// real CLI in a pseudo-terminal (test/helpers/pty.ts), where colour would otherwise be on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasPython3Pty, runInPty } from '../helpers/pty.ts';
import { CLI, makeWorkspace, NODE } from '../helpers/e2e.ts';

test('NO_COLOR (any non-empty value) turns colour off in a real terminal; unset or empty leaves it on', { skip: hasPython3Pty() ? false : 'python3 with the pty module is not available' }, async () => {
  const ws = makeWorkspace('conda-attest-nocolor-');
  try {
    // `verify` of an explicit file without packages: no network, and the text report (whose
    // `0 verified` and verdict are coloured on a terminal) runs through the real renderer.
    ws.writeConfig({ default: { enabled: false } });
    ws.write('empty.txt', '@EXPLICIT\n');
    const run = async (env: NodeJS.ProcessEnv) =>
      (await runInPty({ argv: [NODE, CLI, 'verify', 'empty.txt'], cwd: ws.dir, env: { ...ws.env, TERM: 'xterm-256color', ...env }, waitFor: 'nothing verified|passed|blocked', keys: '', exitSeconds: 60 })).output;
    const coloured = await run({});
    assert.match(coloured, /\u001b\[3\dm/, `colour on a terminal:\n${JSON.stringify(coloured)}`);
    assert.match(await run({ NO_COLOR: '' }), /\u001b\[3\dm/, 'an empty NO_COLOR does not count (no-color.org)');
    for (const value of ['1', 'true', '0']) {
      const plain = await run({ NO_COLOR: value });
      assert.doesNotMatch(plain, /\u001b\[3\dm/, `NO_COLOR=${value}:\n${JSON.stringify(plain)}`);
      assert.match(plain, /0 verified/);
    }
  } finally {
    ws.cleanup();
  }
});
