// A close approximation of conda's VersionOrder, used ONLY to decide whether a package
// version is newer than the lockfile's `last_seen` (so `last_seen` moves forward and never
// flip-flops when a run sees several versions of one package, e.g. one per environment).
// It never decides trust. Rules (conda docs, "Package match specifications"):
// optional `N!` epoch, optional `+local` part, components split on `.`, `_`, `-`; each
// component is a run of numbers and words; a component starting with a word gets an
// implicit leading 0; missing parts count as 0;
// `dev` < other words (alphabetical, case-insensitive) < numbers < `post`.

type Token = number | string;

function tokens(component: string): Token[] {
  const out: Token[] = [];
  for (const m of component.matchAll(/\d+|[^\d]+/g)) out.push(/^\d/.test(m[0]) ? Number(m[0]) : m[0]);
  if (out.length === 0 || typeof out[0] === 'string') out.unshift(0);
  return out;
}

function components(s: string): Token[][] {
  return s === '' ? [] : s.split(/[._-]/).map(tokens);
}

function rank(t: Token): number {
  if (typeof t === 'number') return 2;
  if (t === 'dev') return 0;
  if (t === 'post') return 3;
  return 1;
}

function compareToken(a: Token, b: Token): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function compareParts(a: Token[][], b: Token[][]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a[i] ?? [0];
    const cb = b[i] ?? [0];
    const m = Math.max(ca.length, cb.length);
    for (let j = 0; j < m; j++) {
      const c = compareToken(ca[j] ?? 0, cb[j] ?? 0);
      if (c !== 0) return c;
    }
  }
  return 0;
}

function split(v: string): { epoch: number; main: Token[][]; local: Token[][] } {
  let s = v.trim().toLowerCase();
  let epoch = 0;
  const bang = s.indexOf('!');
  if (bang >= 0) {
    epoch = Number(s.slice(0, bang)) || 0;
    s = s.slice(bang + 1);
  }
  const plus = s.indexOf('+');
  const local = plus >= 0 ? s.slice(plus + 1) : '';
  if (plus >= 0) s = s.slice(0, plus);
  return { epoch, main: components(s), local: components(local) };
}

/** Negative when a < b, positive when a > b, 0 when equal in conda's ordering (ties broken by the raw string). */
export function compareVersions(a: string, b: string): number {
  // The same spelling is the same version: the usual case of a warm run (a package seen at
  // the version the lockfile already has), answered without tokenising either side.
  if (a === b) return 0;
  const pa = split(a);
  const pb = split(b);
  const c = pa.epoch - pb.epoch || compareParts(pa.main, pb.main) || compareParts(pa.local, pb.local);
  if (c !== 0) return c;
  // Equal in conda's order but spelled differently (1.0 vs 1.0.0): still a total order.
  return a < b ? -1 : a > b ? 1 : 0;
}
