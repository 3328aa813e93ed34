// `conda-attest init`: from the signers observed on a channel to proposed
// `trusted_identities`. Pure. The rule is "never wider than what was seen":
//
// - A CI identity whose certificate names its source repository (Fulcio OID .12, with the
//   provider's issuer) becomes `github:owner/repo` / `gitlab:group/project`, with the ref
//   that was seen (`@refs/heads/main`), `@refs/tags/*` when every build came from a tag
//   (tags change per release, docs/lockfile.md), or one entry per ref otherwise.
// - Repositories of one owner collapse into `github:owner/*-feedstock` only when at least
//   MIN_COLLAPSE of them were seen, ALL of them share that affix, and they share the ref
//   part; otherwise each repository is listed.
// - Any other identity (email, other URIs, a CI certificate without the repository claim)
//   is proposed exactly as seen: its SAN and issuer, no pattern.
// - Key-signed bundles are not identities: they are counted for a comment only.
import type { SignerIdentity } from '../types.ts';
import { escapeRegexSource } from './glob.ts';
import { isShorthand } from './shorthand.ts';

/** Repositories needed before an owner-level affix pattern is proposed. */
const MIN_COLLAPSE = 3;

const PROVIDERS = {
  github: { issuer: 'https://token.actions.githubusercontent.com', base: 'https://github.com/', segments: 2 },
  gitlab: { issuer: 'https://gitlab.com', base: 'https://gitlab.com/', segments: 0 },
} as const;
type Provider = keyof typeof PROVIDERS;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** One package and the signers of its verified publish attestations. */
export interface SignerObservation {
  package: string;
  identities: readonly SignerIdentity[];
}

/** A trusted_identities mapping entry: exact SAN + issuer, or a shorthand pinned to numeric IDs. */
export interface ProposedEntry {
  identity: string;
  issuer?: string;
  repository_id?: string;
  owner_id?: string;
}

export interface ProposedIdentity {
  /**
   * What goes into trusted_identities: a shorthand string, `{identity, issuer}`, or a
   * shorthand with the `repository_id` / `owner_id` its certificates carried.
   */
  entry: string | ProposedEntry;
  /** Where a pinned ID came from, for a comment beside it: the repository (or repositories) whose certificates carried it. */
  idSource?: { repository_id?: string; owner_id?: string };
  /** Distinct packages signed by an identity this entry covers. */
  packages: number;
  /** A few of those package names (sorted), for the comment. */
  examples: string[];
}

interface Repo {
  provider: Provider;
  /** `owner/repo` or `group/…/project`. */
  path: string;
  refs: Map<string, Set<string>>; // ref → packages
  /** Source Repository Identifier / Owner Identifier claims seen ('' = a certificate without it). */
  repositoryIds: Set<string>;
  ownerIds: Set<string>;
}

/** The one ID every certificate carried, or undefined (none, or several: nothing safe to pin). */
function onlyId(ids: ReadonlySet<string>): string | undefined {
  if (ids.size !== 1) return undefined;
  const [id] = ids;
  return id && /^[0-9]+$/.test(id) ? id : undefined;
}

function repoOf(id: SignerIdentity): { provider: Provider; path: string } | null {
  for (const provider of Object.keys(PROVIDERS) as Provider[]) {
    const p = PROVIDERS[provider];
    if (id.issuer !== p.issuer || !id.sourceRepositoryUri?.startsWith(p.base)) continue;
    const path = id.sourceRepositoryUri.slice(p.base.length);
    const segs = path.split('/');
    if (p.segments && segs.length !== p.segments) return null;
    if (segs.length < 2 || segs.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) return null;
    return { provider, path };
  }
  return null;
}

function validRef(ref: string | undefined): ref is string {
  return ref !== undefined && ref.startsWith('refs/') && ref.length > 5 && !/[\s*]/.test(ref);
}

/** The ref parts of a repository: one when all refs agree, `refs/tags/*` for all-tags, else each. */
function refParts(refs: Map<string, Set<string>>): { ref: string | undefined; packages: Set<string> }[] {
  const all = new Set<string>();
  for (const s of refs.values()) for (const p of s) all.add(p);
  const keys = [...refs.keys()];
  if (keys.length === 1) return [{ ref: validRef(keys[0]) ? keys[0] : undefined, packages: all }];
  if (keys.every((k) => validRef(k) && k.startsWith('refs/tags/'))) return [{ ref: 'refs/tags/*', packages: all }];
  // Mixed refs: one entry per ref seen. A missing/odd ref claim cannot be pinned: that
  // entry names the repository alone (the repository is still exactly what was seen).
  return keys.sort().map((k) => ({ ref: validRef(k) ? k : undefined, packages: refs.get(k)! }));
}

/** The longest `-suffix` or `prefix-` all names share (at least one char besides the dash), or null. */
export function commonAffix(names: readonly string[]): { pattern: string } | null {
  if (names.length === 0) return null;
  const suffixes = names.map((n) => (n.lastIndexOf('-') > 0 ? n.slice(n.lastIndexOf('-')) : null));
  if (suffixes.every((s) => s !== null && s === suffixes[0] && s.length > 1)) return { pattern: `*${suffixes[0]}` };
  const prefixes = names.map((n) => (n.indexOf('-') > 0 && n.indexOf('-') < n.length - 1 ? n.slice(0, n.indexOf('-') + 1) : null));
  if (prefixes.every((s) => s !== null && s === prefixes[0])) return { pattern: `${prefixes[0]}*` };
  return null;
}

function entryIdentity(e: ProposedIdentity['entry']): string {
  return typeof e === 'string' ? e : e.identity;
}

/**
 * A repository entry pinned to its repository ID, an owner-wide entry to its owner ID,
 * when the certificates seen all carried the same one (docs/lockfile.md: numeric IDs survive
 * renames and cannot be re-registered, so a first install does not trust whoever holds
 * the name today). Shorthand entries only: a SAN glob stays as it is.
 */
function pinned(p: ProposedIdentity, form: EntryForm, ids: { repository_id?: string | undefined; owner_id?: string | undefined }, source: string): ProposedIdentity {
  if (form !== 'shorthand' || typeof p.entry !== 'string') return p;
  const entry: ProposedEntry = { identity: p.entry };
  const idSource: NonNullable<ProposedIdentity['idSource']> = {};
  if (ids.repository_id) {
    entry.repository_id = ids.repository_id;
    idSource.repository_id = source;
  }
  if (ids.owner_id) {
    entry.owner_id = ids.owner_id;
    idSource.owner_id = source;
  }
  return Object.keys(idSource).length ? { ...p, entry, idSource } : p;
}

function proposal(entry: ProposedIdentity['entry'], packages: Set<string>): ProposedIdentity {
  const sorted = [...packages].sort();
  return { entry, packages: sorted.length, examples: sorted.slice(0, 5) };
}

/**
 * How a repository entry is written: the `github:owner/repo@ref` shorthand, or the same
 * repository as an anchored SAN glob (`https://github.com/owner/repo/**@ref`: any workflow
 * file of that repository, at that ref).
 */
export type EntryForm = 'shorthand' | 'san';

function shorthand(provider: Provider, path: string, ref: string | undefined, form: EntryForm = 'shorthand'): string {
  if (form === 'san') return `${PROVIDERS[provider].base}${path}/**${ref ? `@${ref}` : ''}`;
  return `${provider}:${path}${ref ? `@${ref}` : ''}`;
}

interface IdentityProposals {
  identities: ProposedIdentity[];
  /** Packages signed with a self-managed key (no identity to propose). */
  keySigned: number;
}

/**
 * A `trusted_identities` pattern that matches exactly `san` and nothing else. A SAN is
 * written as seen unless the pattern syntax (docs/configuration.md: `*`/`**` globs, a leading
 * `re:`, `github:`/`gitlab:` shorthands) would read part of it as a pattern: then it is an
 * anchored `re:` with every metacharacter escaped. Copying `re:.*` or `https://x/*` as
 * seen would trust any SAN (or any path) instead of the one observed.
 */
export function exactIdentity(san: string): string {
  if (!san.includes('*') && !san.startsWith('re:') && !isShorthand(san)) return san;
  return `re:${escapeRegexSource(san)}`;
}

/** Proposals for one channel, sorted by entry text (deterministic output). */
export function proposeIdentities(observations: readonly SignerObservation[], form: EntryForm = 'shorthand'): IdentityProposals {
  const repos = new Map<string, Repo>();
  const exact = new Map<string, { identity: string; issuer: string; packages: Set<string> }>();
  const keyPackages = new Set<string>();
  for (const o of observations) {
    for (const id of o.identities) {
      if (id.kind === 'key') {
        keyPackages.add(o.package);
        continue;
      }
      const repo = repoOf(id);
      if (repo) {
        const k = `${repo.provider}:${repo.path}`;
        let r = repos.get(k);
        if (!r) repos.set(k, (r = { ...repo, refs: new Map(), repositoryIds: new Set(), ownerIds: new Set() }));
        r.repositoryIds.add(id.sourceRepositoryId ?? '');
        r.ownerIds.add(id.sourceRepositoryOwnerId ?? '');
        const ref = id.sourceRepositoryRef ?? '';
        let set = r.refs.get(ref);
        if (!set) r.refs.set(ref, (set = new Set()));
        set.add(o.package);
        continue;
      }
      if (id.san === undefined || id.issuer === undefined) continue; // not pinnable: verify reports it
      const k = JSON.stringify([id.san, id.issuer]);
      let e = exact.get(k);
      if (!e) exact.set(k, (e = { identity: id.san, issuer: id.issuer, packages: new Set() }));
      e.packages.add(o.package);
    }
  }

  const out: ProposedIdentity[] = [];
  // Group repository parts by (provider, owner, ref part) for the owner-level collapse.
  const groups = new Map<string, { provider: Provider; owner: string; ref: string | undefined; names: string[]; packages: Set<string>; ownerIds: Set<string>; repos: string[] }>();
  for (const r of repos.values()) {
    for (const part of refParts(r.refs)) {
      const slash = r.path.lastIndexOf('/');
      const owner = r.path.slice(0, slash);
      const name = r.path.slice(slash + 1);
      const k = JSON.stringify([r.provider, owner, part.ref ?? null]);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { provider: r.provider, owner, ref: part.ref, names: [], packages: new Set(), ownerIds: new Set(), repos: [] }));
      g.names.push(name);
      for (const p of part.packages) g.packages.add(p);
      for (const o of r.ownerIds) g.ownerIds.add(o);
      g.repos.push(`${PROVIDERS[r.provider].base}${r.path}`);
      out.push(pinned(proposal(shorthand(r.provider, r.path, part.ref, form), part.packages), form, { repository_id: onlyId(r.repositoryIds) }, `${PROVIDERS[r.provider].base}${r.path}`));
    }
  }
  for (const g of groups.values()) {
    if (g.names.length < MIN_COLLAPSE) continue;
    const affix = commonAffix(g.names);
    if (!affix) continue;
    const members = new Set(g.names.map((n) => shorthand(g.provider, `${g.owner}/${n}`, g.ref, form)));
    for (let i = out.length - 1; i >= 0; i--) if (members.has(entryIdentity(out[i]!.entry))) out.splice(i, 1);
    const source = g.repos.length === 1 ? g.repos[0]! : `${g.repos.length} repositories (${g.repos.sort().slice(0, 3).join(', ')}${g.repos.length > 3 ? ', …' : ''})`;
    out.push(pinned(proposal(shorthand(g.provider, `${g.owner}/${affix.pattern}`, g.ref, form), g.packages), form, { owner_id: onlyId(g.ownerIds) }, source));
  }
  for (const e of exact.values()) out.push(proposal({ identity: exactIdentity(e.identity), issuer: e.issuer }, e.packages));
  const text = (p: ProposedIdentity) => (typeof p.entry === 'string' ? p.entry : `${p.entry.identity} ${p.entry.issuer ?? ''}`);
  out.sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
  return { identities: out, keySigned: keyPackages.size };
}
