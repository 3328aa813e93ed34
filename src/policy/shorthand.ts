// `github:owner/repo[@ref]` and `gitlab:group/project[@ref]` trusted-identity shorthands
// (the spelling of the conda `publishers:` draft for source attestations). Pure functions.
//
// A shorthand means "a build of exactly that repository, by the provider's OIDC issuer,
// optionally only from that ref". It is checked against the certificate's Source
// Repository URI (Fulcio OID 1.3.6.1.4.1.57264.1.12) and Source Repository Ref (.14),
// NOT against the SAN: the SAN of a GitHub Actions certificate names the workflow file
// that ran, and a public reusable workflow of `acme/tool` can be called by anyone's
// repository, so a SAN inside `acme/tool` does not mean the build was of `acme/tool`.
//
// Matching is at repository boundaries: every path segment is matched on its own, `*`
// stays inside one segment, and the claim must have exactly as many segments, so
// `github:acme/tool` never matches `acme/tool-evil`, `acme/tool/../x` or `acme/tool.git`.
import { claim } from '../claims.ts';

export type ShorthandProvider = 'github' | 'gitlab';

interface ProviderInfo {
  /** OIDC issuer of the provider's CI tokens. */
  issuer: string;
  /** Prefix of the Source Repository URI claim. */
  repositoryBase: string;
}

export const PROVIDERS: Readonly<Record<ShorthandProvider, ProviderInfo>> = {
  github: { issuer: 'https://token.actions.githubusercontent.com', repositoryBase: 'https://github.com/' },
  gitlab: { issuer: 'https://gitlab.com', repositoryBase: 'https://gitlab.com/' },
};

export interface Shorthand {
  provider: ShorthandProvider;
  /** `owner/repo` (GitHub) or `group[/subgroup…]/project` (GitLab); segments may hold `*`. */
  repository: string;
  /** Source Repository Ref glob, e.g. `refs/heads/main` or `refs/tags/v*`. */
  ref?: string;
}

/** Thrown by parseShorthand for a `github:` / `gitlab:` string that is not a valid shorthand. */
export class ShorthandError extends Error {
  override name = 'ShorthandError';
}

const SHORTHAND_PREFIX = /^(github|gitlab):/;
// GitHub owner and repository names, GitLab group and project paths: letters, digits,
// `.`, `_`, `-` (and `*` as a glob within the segment). `.` and `..` alone are refused
// below so that a path can never step out of the repository.
const SEGMENT = /^[A-Za-z0-9._*-]+$/;

/** True when the string is written as a shorthand (whether or not it is a valid one). */
export function isShorthand(s: string): boolean {
  return SHORTHAND_PREFIX.test(s);
}

/**
 * `github:owner/repo[@ref]` / `gitlab:group/project[@ref]` → parts; null when the string
 * is not a shorthand at all. Throws ShorthandError (with the reason) for a malformed one.
 */
export function parseShorthand(s: string): Shorthand | null {
  const m = SHORTHAND_PREFIX.exec(s);
  if (!m) return null;
  const provider = m[1] as ShorthandProvider;
  const rest = s.slice(m[0].length);
  const at = rest.indexOf('@');
  const repository = at === -1 ? rest : rest.slice(0, at);
  const ref = at === -1 ? undefined : rest.slice(at + 1);
  const example = provider === 'github' ? 'github:owner/repo@refs/heads/main' : 'gitlab:group/project@refs/heads/main';
  const segments = repository.split('/');
  if (provider === 'github' && segments.length !== 2) {
    throw new ShorthandError(`"${s}" must name exactly one GitHub repository as owner/repo (e.g. ${example})`);
  }
  if (provider === 'gitlab' && segments.length < 2) {
    throw new ShorthandError(`"${s}" must name a GitLab project as group/project (e.g. ${example})`);
  }
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..' || !SEGMENT.test(seg) || seg.includes('**')) {
      throw new ShorthandError(
        `"${s}" has an invalid repository path segment "${seg}" (letters, digits, ".", "_", "-" and a "*" glob within one segment)`,
      );
    }
  }
  if (ref !== undefined) {
    if (!ref.startsWith('refs/') || ref.length === 5 || /\s/.test(ref)) {
      throw new ShorthandError(`"${s}" has ref "${ref}", which is not a full git ref (e.g. ${example} or @refs/tags/v*)`);
    }
  }
  return { provider, repository, ...(ref !== undefined ? { ref } : {}) };
}

/** The shorthand text of parts (inverse of parseShorthand). */
export function formatShorthand(sh: Shorthand): string {
  return `${sh.provider}:${sh.repository}${sh.ref !== undefined ? `@${sh.ref}` : ''}`;
}

/**
 * The shorthand naming the repository a certificate identity was built from (for
 * proposing trusted identities, e.g. `conda-attest init`): from the issuer and the
 * Source Repository URI claim; with `withRef`, also its Source Repository Ref. Null when
 * the issuer is not a known provider or the claim is absent or not a repository URL.
 */
export function shorthandFromIdentity(
  identity: { issuer?: string; sourceRepositoryUri?: string; sourceRepositoryRef?: string },
  options: { withRef?: boolean } = {},
): string | null {
  for (const provider of Object.keys(PROVIDERS) as ShorthandProvider[]) {
    const info = PROVIDERS[provider];
    if (identity.issuer !== info.issuer) continue;
    const uri = identity.sourceRepositoryUri;
    if (uri === undefined || !uri.startsWith(info.repositoryBase)) return null;
    const repository = uri.slice(info.repositoryBase.length);
    const ref = options.withRef ? identity.sourceRepositoryRef : undefined;
    const text = formatShorthand({ provider, repository, ...(ref ? { ref } : {}) });
    try {
      // Only propose what parses back: a claim with `*` or odd segments is not a name.
      return parseShorthand(text) !== null && !repository.includes('*') ? text : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** What the shorthand expands to, in words (for `conda-attest policy`); the issuer is said once, by the identity's own `issuer`. */
export function describeShorthand(sh: Shorthand): string {
  const info = PROVIDERS[sh.provider];
  const named = (c: { claimName: string; oid: string }): string => `${c.claimName}, OID ${c.oid}`;
  return `builds of ${info.repositoryBase}${sh.repository} (${named(claim('sourceRepositoryUri'))})${
    sh.ref !== undefined ? ` from ref ${sh.ref} (${named(claim('sourceRepositoryRef'))})` : ''
  }`;
}
