// Signer identity matching against a channel's `trusted_identities` and `trusted_keys`
// (the policy table; self-managed keys). Pure functions; patterns are compiled once per policy.
//
// Patterns are anchored over the FULL certificate SAN: a pattern never matches a
// substring, so `https://github.com/org/*` cannot be satisfied by
// `https://evil.com/?https://github.com/org/x` or by a SAN with extra text appended.
import { createHash, createPublicKey } from 'node:crypto';
import type { ChannelPolicy, IdentityPattern, SignerIdentity, TrustedKey } from '../types.ts';

/** A trusted_identities entry turned into a regular expression (done once). */
export interface CompiledIdentityPattern {
  pattern: IdentityPattern;
  regex: RegExp;
}

/** Thrown by compileIdentityPattern for a `re:` pattern that is not a valid regular expression. */
export class IdentityPatternError extends Error {
  override name = 'IdentityPatternError';
}

const REGEX_META = /[\\^$.*+?()[\]{}|/]/g;

/**
 * Glob → regex source: `**` matches anything (crosses `/`), `*` matches any run of
 * characters except `/`, every other character is literal (regex metacharacters escaped:
 * a `.` or `?` in a SAN pattern must not widen it).
 */
function globToRegexSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; ) {
    if (glob[i] === '*') {
      let run = 0;
      while (glob[i] === '*') {
        run++;
        i++;
      }
      // `**` (or longer runs) cross `/`; a single `*` stays within one path segment.
      out += run >= 2 ? '.*' : '[^/]*';
      continue;
    }
    out += glob[i].replace(REGEX_META, '\\$&');
    i++;
  }
  return out;
}

/**
 * Compile one pattern. `re:` → anchored regular expression `^(?:…)$`; the user's
 * expression is first compiled on its own so that an unbalanced `)` cannot close our
 * anchoring group early (`re:x)|(.*` would otherwise match every SAN).
 */
export function compileIdentityPattern(p: IdentityPattern): CompiledIdentityPattern {
  let source: string;
  if (p.identity.startsWith('re:')) {
    const user = p.identity.slice(3);
    try {
      new RegExp(user);
    } catch (e) {
      throw new IdentityPatternError(`"${p.identity}" is not a valid regular expression: ${(e as Error).message}`, {
        cause: e,
      });
    }
    source = user;
  } else {
    source = globToRegexSource(p.identity);
  }
  return { pattern: p, regex: new RegExp(`^(?:${source})$`) };
}

// Compiled forms cached per pattern object: a policy's patterns are compiled once for
// the whole run however many packages are matched against them.
const compiledCache = new WeakMap<IdentityPattern, CompiledIdentityPattern>();

function compiled(p: IdentityPattern): CompiledIdentityPattern {
  let c = compiledCache.get(p);
  if (!c) {
    c = compileIdentityPattern(p);
    compiledCache.set(p, c);
  }
  return c;
}

export interface IdentityMatch {
  /** True when the identity is accepted (matched a pattern, or the list is empty). */
  trusted: boolean;
  /** The pattern that matched; null when none did or when the list was empty. */
  matched: IdentityPattern | null;
}

/**
 * Match a certificate identity against trusted_identities. The issuer is compared
 * exactly; the SAN against the anchored pattern. An empty list accepts any verified
 * signer (the policy table: the identity lockfile still pins it). Identities of kind `key` never
 * match identity patterns (they are judged against trusted keys, see createTrustMatcher).
 */
export function matchIdentity(identity: SignerIdentity, patterns: IdentityPattern[]): IdentityMatch {
  if (identity.kind === 'key') return { trusted: false, matched: null };
  if (patterns.length === 0) return { trusted: true, matched: null };
  const { san, issuer } = identity;
  if (san === undefined || issuer === undefined) return { trusted: false, matched: null };
  for (const p of patterns) {
    const c = compiled(p);
    if (c.pattern.issuer === issuer && c.regex.test(san)) return { trusted: true, matched: p };
  }
  return { trusted: false, matched: null };
}

/** SHA-256 (hex) of the SubjectPublicKeyInfo DER of a PEM public key (the key fingerprint of `trusted_keys`). */
export function keyFingerprint(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

export interface TrustDecision extends IdentityMatch {
  /** For key identities: the trusted key whose fingerprint matched. */
  key?: TrustedKey;
}

/** One policy's identity patterns and trusted keys, compiled once. */
export interface TrustMatcher {
  match(identity: SignerIdentity): TrustDecision;
}

const matchers = new WeakMap<ChannelPolicy, TrustMatcher>();

/**
 * The matcher for a channel policy (cached per policy object). Certificate identities
 * are matched against trusted_identities; `key` identities by SHA-256 fingerprint
 * against trusted_keys — an empty trusted_keys list trusts no key (a key-signed bundle
 * has no identity to pin other than the key, so "any signer" would mean "anyone").
 */
export function createTrustMatcher(policy: ChannelPolicy): TrustMatcher {
  let m = matchers.get(policy);
  if (m) return m;
  for (const p of policy.trustedIdentities) compiled(p); // fail early on a bad pattern
  const byFingerprint = new Map<string, TrustedKey>();
  for (const k of policy.trustedKeys) byFingerprint.set(k.fingerprint ?? keyFingerprint(k.pem), k);
  m = {
    match(identity: SignerIdentity): TrustDecision {
      if (identity.kind !== 'key') return matchIdentity(identity, policy.trustedIdentities);
      const fp = identity.keyFingerprint?.toLowerCase();
      const key = fp === undefined ? undefined : byFingerprint.get(fp);
      return key ? { trusted: true, matched: null, key } : { trusted: false, matched: null };
    },
  };
  matchers.set(policy, m);
  return m;
}
