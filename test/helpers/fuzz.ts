// Seeded, bounded property runs for `npm test`, and long runs for `npm run fuzz`.
//
// In `npm test` every property runs a fixed number of cases from a fixed seed, so a failure
// reproduces exactly (fast-check prints the seed and the shrunk counterexample). With
// CONDA_ATTEST_FUZZ_SECONDS=N (`npm run fuzz` sets it) the same properties run for about N
// seconds each from a fresh seed (CONDA_ATTEST_FUZZ_SEED pins one) and report cases per
// second. Timing is only ever reported, never asserted.
import type { TestContext } from 'node:test';
import fc from 'fast-check';

export { fc };

/** Seconds per property in fuzz mode; 0 in `npm test`. */
export const FUZZ_SECONDS = Number(process.env.CONDA_ATTEST_FUZZ_SECONDS ?? 0) || 0;
const FIXED_SEED = 20261201;
// Small generated values (documents of a few entries, strings of a few dozen characters):
// hundreds of cases per second rather than a handful; fuzz mode gets its breadth from time.
fc.configureGlobal({ baseSize: 'small' });

function seed(): number {
  if (process.env.CONDA_ATTEST_FUZZ_SEED) return Number(process.env.CONDA_ATTEST_FUZZ_SEED);
  return FUZZ_SECONDS > 0 ? (Date.now() ^ (process.pid << 8)) | 0 : FIXED_SEED;
}

/**
 * Run `property` with `runs` cases (npm test) or for FUZZ_SECONDS (fuzz mode), then report the
 * number of cases and their rate as a test diagnostic.
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  t: TestContext,
  name: string,
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => boolean | void | Promise<boolean | void>,
  opts: { runs: number },
): Promise<void> {
  let cases = 0;
  const counted = async (...args: Ts): Promise<boolean | void> => {
    cases++;
    return predicate(...args);
  };
  const s = seed();
  const started = process.hrtime.bigint();
  const params: fc.Parameters<Ts> =
    FUZZ_SECONDS > 0
      ? { seed: s, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: FUZZ_SECONDS * 1000, markInterruptAsFailure: false }
      : { seed: s, numRuns: opts.runs };
  // In fuzz mode one untimed case first: a slow first case (a worker starting) must not
  // leave the timed run with zero cases, which fast-check reports as a failure.
  if (FUZZ_SECONDS > 0) await fc.assert(fc.asyncProperty(...arbitraries, counted), { seed: s, numRuns: 1 });
  await fc.assert(fc.asyncProperty(...arbitraries, counted), params);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.diagnostic(`fuzz ${name}: ${cases} cases in ${seconds.toFixed(2)} s (${Math.round(cases / Math.max(seconds, 1e-9))} cases/s, seed ${s})`);
}

/** Strings biased towards what attacks terminals and parsers: controls, escapes, bidi, separators. */
export function hostileString(maxLength = 40): fc.Arbitrary<string> {
  const pieces = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.constantFrom('\u001b[2K', '\u001b]0;pwned\u0007', '\r', '\n', '\t', '\u009b31m', '\u202e', '\u2066', '\u2028', '\u0000', '\u007f', '\ufeff', '\\', '/', '..', '%2e', '%2f', '%5c', '|', '`', '<b>', '&amp;', '[x](y)', '@', '\ud83d\ude00'),
    fc.string({ unit: 'binary', maxLength: 4 }),
  );
  return fc.array(pieces, { maxLength: Math.max(1, Math.floor(maxLength / 3)) }).map((a) => a.join('').slice(0, maxLength));
}
