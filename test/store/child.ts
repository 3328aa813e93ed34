// Child process for test/store/store.test.ts: starts an atomic write and is interrupted
// (SIGINT, handled like the CLI: exit 130) once the temp file exists.
// Usage: node child.ts TARGET
import { writeFileAtomic } from '../../src/store/atomic.ts';

const [target] = process.argv.slice(2);
process.on('SIGINT', () => process.exit(130));
await writeFileAtomic(target!, 'new content\n', {
  onTempCreated: async (tmp) => {
    process.stdout.write(`temp ${tmp}\n`);
    process.kill(process.pid, 'SIGINT');
    await new Promise(() => setInterval(() => {}, 1000)); // the signal ends the process
  },
});
