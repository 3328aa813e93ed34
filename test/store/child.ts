// Child process for test/store/store.test.ts: starts an atomic write and is interrupted
// (SIGINT, handled like the CLI: exit 130) once the temp file exists.
// Usage: node child.ts TARGET
//        node child.ts --streams DIR: one streamed write committed, two left in flight, then SIGINT
import { join } from 'node:path';
import { openAtomicWrite, writeFileAtomic } from '../../src/store/atomic.ts';

const [target, dir] = process.argv.slice(2);
process.on('SIGINT', () => process.exit(130));
if (target === '--streams') {
  const done = await openAtomicWrite(join(dir!, 'committed.json'), { durable: false, followLinks: false });
  done.stream.end('{"done":true}');
  await new Promise((r) => done.stream.once('finish', r));
  await done.commit();
  // Two temp files in flight at once, under the one exit hook of src/store/atomic.ts.
  for (const name of ['a.json', 'b.json']) {
    const w = await openAtomicWrite(join(dir!, name), { durable: false, followLinks: false });
    w.stream.write('{"partial":');
    await new Promise((r) => w.stream.once('ready', r));
  }
  process.stdout.write('in flight\n');
  process.kill(process.pid, 'SIGINT');
  await new Promise(() => setInterval(() => {}, 1000)); // the signal ends the process
} else {
  await writeFileAtomic(target!, 'new content\n', {
    onTempCreated: async (tmp) => {
      process.stdout.write(`temp ${tmp}\n`);
      process.kill(process.pid, 'SIGINT');
      await new Promise(() => setInterval(() => {}, 1000)); // the signal ends the process
    },
  });
}
