// `npm run fuzz [-- SECONDS [FILTER]]`: run every property of the test suite (tests named
// "property: …", which use test/helpers/fuzz.ts) for SECONDS each (default 30) from a fresh
// seed, and print cases per second. `npm test` runs the same properties, seeded and bounded.
// CONDA_ATTEST_FUZZ_SEED=N replays one seed.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const seconds = Number(process.argv[2] ?? 30);
const filter = process.argv[3];
if (!(seconds > 0)) {
  process.stderr.write('usage: npm run fuzz -- [SECONDS] [FILE-FILTER]\n');
  process.exit(2);
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}
const files = testFiles(join(root, 'test'))
  .filter((f) => readFileSync(f, 'utf8').includes('checkProperty('))
  .map((f) => relative(root, f))
  .filter((f) => filter === undefined || f.includes(filter))
  .sort();
process.stdout.write(`fuzzing ${files.length} file(s), ${seconds} s per property\n`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-name-pattern=^property:', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CONDA_ATTEST_FUZZ_SECONDS: String(seconds) },
});
process.exit(r.status ?? 1);
