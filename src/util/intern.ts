// One copy of each repeated string in the data a run keeps until its report (docs/performance.md
// "Memory"). Outcomes come back from the verification workers as structured clones: every
// string is a new copy, so the issuer, log ID, media and predicate types, target channel and
// the claims that repeat a workflow URL or a commit digest were held once per package (a
// cold 10,000-package run held 16 MB of such duplicates among 34 MB of strings).
//
// The table is bounded: cleared when full, so strings that repeat across the whole run keep
// one copy per generation, strings that never repeat pass through, and the table never grows
// with the run.
const MAX_ENTRIES = 8192;
/** Longer strings are rare and unlikely to repeat: left alone. */
const MAX_LENGTH = 512;
const table = new Map<string, string>();

function canonical(s: string): string {
  if (s.length > MAX_LENGTH) return s;
  const known = table.get(s);
  if (known !== undefined) return known;
  if (table.size >= MAX_ENTRIES) table.clear();
  table.set(s, s);
  return s;
}

/** Replace, in place, every string value inside plain objects and arrays by its one copy; returns `v`. */
export function internStrings<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string') v[i] = canonical(x);
      else internStrings(x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x === 'string') o[k] = canonical(x);
    else internStrings(x);
  }
  return v;
}
