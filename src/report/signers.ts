// Who signed the verified packages of a run, grouped, as `gh attestation verify` names the
// signer on success: per repository and workflow for CI identities
// (`github.com/conda-forge/numpy-feedstock (release.yml)`), and one glob-like form when many
// repositories of one owner share a workflow and a name pattern
// (`github.com/conda-forge/*-feedstock (release.yml)`). Pure; plain text (callers escape).
import type { PackageReport, SignerIdentity } from '../types.ts';

/** A publisher: repository (or e-mail, URI, key) and the workflow file that signed. */
interface Publisher {
  /** `github.com/owner` for CI identities; undefined for others (never collapsed). */
  owner?: string;
  /** The repository name under `owner`, or the whole label for other identities. */
  name: string;
  /** `release.yml`, `.gitlab-ci.yml`. */
  workflow?: string;
}

/** `https://github.com/o/r/.github/workflows/w.yml@refs/…` → repo `github.com/o/r`, workflow `w.yml`. */
const CI_SAN = /^https:\/\/([^/]+)\/([^/]+)\/(.+?)\/{1,2}(?:\.github\/workflows\/)?([^/@]+)@/;

function publisherOf(id: SignerIdentity): Publisher {
  if (id.kind === 'key') return { name: `key ${id.keyName ?? id.keyFingerprint?.slice(0, 16) ?? 'unknown'}` };
  const san = id.san ?? '';
  if (id.kind === 'github' || id.kind === 'gitlab') {
    const m = CI_SAN.exec(san);
    if (m) return { owner: `${m[1]}/${m[2]}`, name: m[3]!, workflow: m[4]! };
  }
  return { name: san || '(no SAN)' };
}

/** Repositories of one owner and workflow from this many on are written as one glob-like form. */
const COLLAPSE_FROM = 3;

function commonPrefix(names: readonly string[]): string {
  let p = names[0] ?? '';
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p;
}

function commonSuffix(names: readonly string[]): string {
  let s = names[0] ?? '';
  for (const n of names) while (!n.endsWith(s)) s = s.slice(1);
  return s;
}

/**
 * The name pattern of several repositories: what they share at the start and the end around
 * a `*` (`*-feedstock`, `lib*`, or `*` when they share nothing). Each part is trimmed to a
 * separator (`-`, `_`, `.`) when it holds one, so `pandas-feedstock` and `scipys-feedstock`
 * read `*-feedstock`, not `*s-feedstock`; the pattern still matches every name.
 */
function namePattern(names: readonly string[]): string {
  const prefix = commonPrefix(names);
  const suffix = commonSuffix(names.map((n) => n.slice(prefix.length)));
  const head = /[-_.]/.test(prefix) ? prefix.slice(0, Math.max(...['-', '_', '.'].map((c) => prefix.lastIndexOf(c))) + 1) : prefix;
  const tail = suffix.search(/[-_.]/) >= 0 ? suffix.slice(suffix.search(/[-_.]/)) : suffix;
  return `${head}*${tail}`;
}

export interface SignerGroup {
  /** `github.com/conda-forge/*-feedstock (release.yml)`. */
  label: string;
  /** Verified packages it signed. */
  packages: number;
}

/**
 * The signers of the verified rows, grouped: repositories of one owner and workflow are one
 * group when there are at least COLLAPSE_FROM of them; larger groups first, then by label.
 */
export function groupSigners(rows: readonly PackageReport[]): SignerGroup[] {
  // owner + workflow → repository name → packages
  const ci = new Map<string, { owner: string; workflow: string; repos: Map<string, number> }>();
  const other = new Map<string, number>();
  for (const row of rows) {
    if (row.status !== 'verified' || !row.identity) continue;
    const p = publisherOf(row.identity);
    if (p.owner !== undefined && p.workflow !== undefined) {
      const key = `${p.owner}\u0000${p.workflow}`;
      let g = ci.get(key);
      if (!g) ci.set(key, (g = { owner: p.owner, workflow: p.workflow, repos: new Map() }));
      g.repos.set(p.name, (g.repos.get(p.name) ?? 0) + 1);
    } else other.set(p.name, (other.get(p.name) ?? 0) + 1);
  }
  const out: SignerGroup[] = [];
  for (const g of ci.values()) {
    const names = [...g.repos.keys()].sort();
    if (names.length >= COLLAPSE_FROM) {
      out.push({ label: `${g.owner}/${namePattern(names)} (${g.workflow})`, packages: [...g.repos.values()].reduce((a, b) => a + b, 0) });
    } else for (const n of names) out.push({ label: `${g.owner}/${n} (${g.workflow})`, packages: g.repos.get(n)! });
  }
  for (const [label, packages] of other) out.push({ label, packages });
  return out.sort((a, b) => b.packages - a.packages || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/** Signer groups listed by name before "+N more". */
export const SIGNERS_LISTED = 3;

/**
 * The success line(s): `12 packages verified, signed by github.com/conda-forge/*-feedstock
 * (release.yml)`; with several signers, one indented line each (at most SIGNERS_LISTED,
 * then `+N more signers`). Nothing when no package was verified.
 */
export function signerLines(rows: readonly PackageReport[]): string[] {
  const groups = groupSigners(rows);
  const total = groups.reduce((a, g) => a + g.packages, 0);
  if (total === 0) return [];
  const head = `${total} package${total === 1 ? '' : 's'} verified, signed by`;
  if (groups.length === 1) return [`${head} ${groups[0]!.label}`];
  const shown = groups.slice(0, SIGNERS_LISTED);
  const lines = [head, ...shown.map((g) => `    ${g.label}: ${g.packages} package${g.packages === 1 ? '' : 's'}`)];
  const more = groups.length - shown.length;
  if (more > 0) lines.push(`    +${more} more signer${more === 1 ? '' : 's'} (--verbose names the signer of each package)`);
  return lines;
}
