// The V8 collector, called where a phase of a run leaves a known mass of garbage behind
// (docs/performance.md "Memory"). It is there only when the launcher exposed it (bin/launch.js
// sets --expose-gc before start-up; library code never sets V8 flags: Node documents changing
// them at run time as unpredictable); otherwise a call changes nothing.
import { createRequire } from 'node:module';

type Collect = (opts?: { type: 'minor' | 'major' }) => void;
let collect: Collect | null | undefined;

/** Collect now: `minor` the young generation only, `major` (default) the whole heap. No-op without an exposed collector. */
export function collectGarbage(type: 'minor' | 'major' = 'major'): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: unknown }).gc;
    if (typeof exposed === 'function') collect = exposed as Collect;
    else {
      try {
        // A launcher that sets --expose-gc through v8.setFlagsFromString exposes it to new contexts only.
        // node:vm loaded here only: most runs never collect by hand.
        const { runInNewContext } = createRequire(import.meta.url)('node:vm') as typeof import('node:vm');
        collect = runInNewContext('gc') as Collect;
      } catch {
        collect = null;
      }
    }
  }
  collect?.({ type });
}
