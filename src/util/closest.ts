// "Did you mean": the known word closest to a mistyped one (config keys, commands, options).
// Pure: the edit distance is handed in, so a host loads fastest-levenshtein only when a
// hint is needed (./edit-distance.ts under Node; the browser build bundles it).

/** Edit distance for "did you mean" hints (the host loads it: only a hint needs it). */
export type EditDistance = (a: string, b: string) => number;

/** `-` and `_` are the same to a reader (`--no_cache`, `idle-timeout-ms`), and so is case. */
const norm = (s: string): string => s.toLowerCase().replace(/-/g, '_');

/** The candidate the user most likely meant, or undefined when none is close. */
export function closest(word: string, candidates: readonly string[], distance: EditDistance): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = norm(word);
  // `timeout` → `timeout_ms`: a known key that extends what was written is the likeliest intent.
  const extended = w.length < 3 ? undefined : (candidates.find((c) => norm(c).startsWith(w)) ?? candidates.find((c) => norm(c).includes(w)));
  if (extended) return extended;
  for (const c of candidates) {
    const d = distance(w, norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
