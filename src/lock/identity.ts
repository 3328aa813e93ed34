// From a decoded certificate (or key) identity to the fields the lockfile pins, and the
// canonical ordering of pinned identities. Pure.
import { LockError } from '../errors.ts';
import type { SignerIdentity } from '../types.ts';
import type { LockIdentity } from './types.ts';
import { CLAIMS } from '../claims.ts';

/** Pinned fields in their fixed on-disk order (also the field order of diffs). */
export const IDENTITY_FIELDS = [
  'kind',
  'issuer',
  'repository',
  ...CLAIMS.flatMap((c) => ('lock' in c ? [c.lock] : [])),
  'workflow',
  'email',
  'uri',
  'key_fingerprint',
  'key_name',
] as const satisfies readonly (keyof LockIdentity)[];

export type IdentityField = (typeof IDENTITY_FIELDS)[number];

/** The fields that make two identities the same signer. `key_name` is a configured label, not a fact about the signer. */
export const COMPARED_FIELDS: readonly IdentityField[] = IDENTITY_FIELDS.filter((f) => f !== 'key_name');

/**
 * Drop the `@ref` suffix of a URI SAN (docs/lockfile.md: `...FILE.yml@refs/heads/main`; the ref
 * changes every release). Only an `@` in the PATH counts, so `https://user@host/x` keeps
 * its userinfo.
 */
export function stripRef(uri: string): string {
  const scheme = uri.indexOf('://');
  const pathStart = scheme >= 0 ? uri.indexOf('/', scheme + 3) : 0;
  if (pathStart < 0) return uri;
  // A git ref (`@refs/heads/…`, `@refs/tags/…`) is cut where it starts, so a workflow
  // file whose name contains `@` keeps its full name (`a@x.yml@refs/…` ≠ `a@y.yml@refs/…`);
  // other SANs lose what follows their last `@`.
  const ref = uri.indexOf('@refs/', pathStart);
  const at = ref >= 0 ? ref : uri.lastIndexOf('@');
  return at < pathStart ? uri : uri.slice(0, at);
}

/** `https://github.com/OWNER/REPO/...` → `https://github.com/OWNER/REPO` (fallback when claim .12 is absent). */
function repositoryFromSan(san: string, kind: 'github' | 'gitlab'): string | undefined {
  let url: URL;
  try {
    url = new URL(stripRef(san));
  } catch {
    return undefined;
  }
  // GitHub workflow paths live under `/.github/`, GitLab CI configs after `//` (project path may have subgroups).
  const path = url.pathname;
  const cut = kind === 'github' ? path.indexOf('/.github/') : path.indexOf('//');
  const repoPath = cut > 0 ? path.slice(0, cut) : path.split('/').slice(0, 3).join('/');
  return repoPath.length > 1 ? `${url.origin}${repoPath}` : undefined;
}

function requireField(value: string | undefined, what: string, kind: string): string {
  if (value === undefined || value === '') {
    throw new LockError('LOCK_IDENTITY_INCOMPLETE', `A ${kind} signer identity without ${what} cannot be pinned.`, {
      hint: 'The certificate lacks a claim every Fulcio certificate should carry; report the bundle to its publisher.',
    });
  }
  return value;
}

/**
 * Derive the pinned, ref-independent identity from a verified signer identity.
 * Same SAN with another `@ref` gives the same result; another repository, repository
 * ID, owner ID, workflow or issuer does not.
 */
export function stableIdentity(id: SignerIdentity): LockIdentity {
  switch (id.kind) {
    case 'key': {
      const out: LockIdentity = {
        kind: 'key',
        key_fingerprint: requireField(id.keyFingerprint, 'a key fingerprint', 'key').toLowerCase(),
      };
      if (id.keyName) out.key_name = id.keyName;
      return out;
    }
    case 'email':
      return {
        kind: 'email',
        issuer: requireField(id.issuer, 'an issuer', 'email'),
        email: requireField(id.san, 'an email address', 'email'),
      };
    case 'uri':
      return {
        kind: 'uri',
        issuer: requireField(id.issuer, 'an issuer', 'uri'),
        uri: stripRef(requireField(id.san, 'a SAN', 'uri')),
      };
    case 'github':
    case 'gitlab': {
      const issuer = requireField(id.issuer, 'an issuer', id.kind);
      // The SAN is the signing workflow (for reusable workflows: the called one, claim .9);
      // the source repository (.12) is the repository that ran it.
      const san = requireField(id.san ?? id.buildSignerUri, 'a SAN', id.kind);
      const out: LockIdentity = {
        kind: id.kind,
        issuer,
        repository: requireField(
          id.sourceRepositoryUri ?? repositoryFromSan(san, id.kind),
          'a source repository',
          id.kind,
        ),
      };
      // The numeric IDs src/claims.ts pins (they survive renames and cannot be re-registered).
      for (const c of CLAIMS) if ('lock' in c && id[c.field]) out[c.lock] = id[c.field];
      out.workflow = stripRef(san);
      return out;
    }
  }
}

/** Canonical comparison key: equal keys = same signer. Fixed field order, absent = ''. */
export function identityKey(id: LockIdentity): string {
  return JSON.stringify(COMPARED_FIELDS.map((f) => id[f] ?? ''));
}

/** Copy with the fields in their fixed on-disk order (deterministic serialisation). */
function orderedIdentity(id: LockIdentity): LockIdentity {
  const out: Record<string, string> = {};
  for (const f of IDENTITY_FIELDS) {
    const v = id[f];
    if (v !== undefined) out[f] = v;
  }
  return out as unknown as LockIdentity;
}

/** Code-point order: locale-independent, so every machine sorts the lockfile the same way. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted by identityKey (code-point order, locale-independent), duplicates dropped (first one wins). */
export function normalizeIdentities(ids: readonly LockIdentity[]): LockIdentity[] {
  const byKey = new Map<string, LockIdentity>();
  for (const id of ids) {
    const k = identityKey(id);
    if (!byKey.has(k)) byKey.set(k, orderedIdentity(id));
  }
  return [...byKey.entries()].sort((x, y) => compareStrings(x[0], y[0])).map(([, v]) => v);
}

/** The one value a reviewer recognises an identity by (workflow, email, URI or key). */
export function identityLabel(id: LockIdentity): string {
  switch (id.kind) {
    case 'github':
    case 'gitlab':
      return `${id.kind} ${id.workflow ?? id.repository ?? '?'}`;
    case 'email':
      return `email ${id.email ?? '?'}`;
    case 'uri':
      return `uri ${id.uri ?? '?'}`;
    case 'key':
      return `key ${id.key_fingerprint ?? '?'}${id.key_name ? ` (${id.key_name})` : ''}`;
  }
}
