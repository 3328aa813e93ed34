// Text given in many small pieces, joined into chunks of about 64 K characters: one write per
// chunk instead of one per piece (a string → Buffer conversion, and a stream write or a system
// call, each), while what a chunk holds stays bounded.
//
// Measured: the JSON report written one package per write was ~8% of a warm 1,000-package
// run's CPU (CPU profile); a cache bucket written one entry per stream write, flush of 1,000
// new verdicts in a warm process, median of 6: 45 -> 30 ms CPU, 59 -> 35 ms wall
// (docs/performance.md "Cold runs, round 5").
const BATCH = 64 * 1024;

export function* batched(pieces: Iterable<string>): Generator<string> {
  let pending = '';
  for (const piece of pieces) {
    pending += piece;
    if (pending.length < BATCH) continue;
    yield pending;
    pending = '';
  }
  if (pending) yield pending;
}
