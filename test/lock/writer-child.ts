// Child process for test/lock/file.test.ts (real concurrent writers, a killed writer).
// Usage: node writer-child.ts add LOCKFILE PREFIX COUNT
//        node writer-child.ts pause LOCKFILE NAME   (prints "paused <tmp>" once the temp file exists, then hangs)
import { updateLock } from '../../src/lock/file.ts';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import type { Lock } from '../../src/lock/types.ts';
import { CH, gh } from './fixtures.ts';

const [mode, path, a, b] = process.argv.slice(2);

function add(name: string) {
  return (cur: Lock): Lock =>
    applyDecisions(cur, [decide(cur, { channel: CH, name, version: '1.0' }, [gh({ repo: `forge/${name}-feedstock` })], '2026-01-01')]);
}

if (mode === 'add') {
  for (let i = 0; i < Number(b); i++) await updateLock(path, add(`${a}-${i}`));
  process.stdout.write('done\n');
} else if (mode === 'pause') {
  await updateLock(path, add(a), {
    hooks: {
      afterTempCreated: async (tmp) => {
        process.stdout.write(`paused ${tmp}\n`);
        await new Promise(() => setInterval(() => {}, 1000)); // wait to be killed
      },
    },
  });
} else {
  throw new Error(`unknown mode ${mode}`);
}
