// Signer identity matching against a channel's `trusted_identities` and `trusted_keys`
// (docs/configuration.md; self-managed keys). Pure functions; patterns are compiled once per policy.
//
// Patterns are anchored over the FULL certificate SAN: a pattern never matches a
// substring, so `https://github.com/org/*` cannot be satisfied by
// `https://evil.com/?https://github.com/org/x` or by a SAN with extra text appended.
import { createPublicKey } from 'node:crypto';
import { sha256Hex } from '../util/sha256.ts';
import type { ChannelPolicy, IdentityPattern, SignerIdentity, TrustedKey } from '../types.ts';
import { globToRegexSource } from './glob.ts';
import { claim } from '../claims.ts';
import { getOrMake } from '../util/memo.ts';
import { PROVIDERS, parseShorthand, type Shorthand } from './shorthand.ts';
import { checkConstraints, claimFailure, globMatches, type ConstraintFailure } from './constraints.ts';

export { globToRegexSource };

/** A trusted_identities entry turned into a regular expression (done once). */
export interface CompiledIdentityPattern {
  pattern: IdentityPattern;
  /** Over the SAN; for a shorthand, over the Source Repository URI claim. */
  regex: RegExp;
  /** Set for `github:` / `gitlab:` shorthands. */
  shorthand?: Shorthand;
}

/** Thrown by compileIdentityPattern for a `re:` pattern that is not a valid regular expression. */
export class IdentityPatternError extends Error {
  override name = 'IdentityPatternError';
}

/**
 * Compile one pattern. `re:` → anchored regular expression `^(?:…)$`; the user's
 * expression is first compiled on its own so that an unbalanced `)` cannot close our
 * anchoring group early (`re:x)|(.*` would otherwise match every SAN).
 */
export function compileIdentityPattern(p: IdentityPattern): CompiledIdentityPattern {
  let source: string;
  let shorthand: Shorthand | null;
  try {
    shorthand = parseShorthand(p.identity);
  } catch (e) {
    throw new IdentityPatternError((e as Error).message, { cause: e });
  }
  if (shorthand) {
    // Repository boundaries: the claim must be the provider's base URL followed by
    // exactly these segments (each glob stays inside its segment: parseShorthand refuses `**`).
    const base = PROVIDERS[shorthand.provider].repositoryBase;
    return { pattern: p, regex: new RegExp(`^(?:${globToRegexSource(base + shorthand.repository)})$`), shorthand };
  }
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
  return getOrMake(compiledCache, p, () => compileIdentityPattern(p));
}

/** A pattern whose SAN (or shorthand repository) and issuer matched but whose claims did not. */
export interface NearMiss {
  pattern: IdentityPattern;
  failures: ConstraintFailure[];
}

export interface IdentityMatch {
  /** True when the identity is accepted (matched a pattern, or the list is empty). */
  trusted: boolean;
  /** The pattern that matched; null when none did or when the list was empty. */
  matched: IdentityPattern | null;
  /** When not trusted: the patterns that failed only on claims (for the reason text). */
  nearMisses?: NearMiss[];
}

/**
 * One pattern against one certificate identity: null when the identity part (issuer and
 * SAN, or issuer and repository for a shorthand) does not match, else the failed claim
 * constraints (empty: the pattern matches).
 */
function evaluatePattern(c: CompiledIdentityPattern, identity: SignerIdentity): ConstraintFailure[] | null {
  const p = c.pattern;
  if (identity.issuer === undefined || p.issuer !== identity.issuer) return null;
  const failures: ConstraintFailure[] = [];
  if (c.shorthand) {
    const repo = identity.sourceRepositoryUri;
    if (repo === undefined || !c.regex.test(repo)) return null;
    if (c.shorthand.ref !== undefined) {
      const ref = identity.sourceRepositoryRef;
      if (ref === undefined || !globMatches(c.shorthand.ref, ref)) {
        failures.push(claimFailure('ref', c.shorthand.ref, ref, claim('sourceRepositoryRef')));
      }
    }
  } else if (identity.san === undefined || !c.regex.test(identity.san)) {
    return null;
  }
  failures.push(...checkConstraints(p.constraints, identity));
  return failures;
}

/**
 * Match a certificate identity against trusted_identities. The issuer is compared
 * exactly; the SAN against the anchored pattern. An empty list accepts any verified
 * signer (docs/configuration.md: the identity lockfile still pins it). Identities of kind `key` never
 * match identity patterns (they are judged against trusted keys, see createTrustMatcher).
 */
export function matchIdentity(identity: SignerIdentity, patterns: IdentityPattern[]): IdentityMatch {
  if (identity.kind === 'key') return { trusted: false, matched: null };
  if (patterns.length === 0) return { trusted: true, matched: null };
  if (identity.issuer === undefined) return { trusted: false, matched: null };
  const nearMisses: NearMiss[] = [];
  for (const p of patterns) {
    const failures = evaluatePattern(compiled(p), identity);
    if (failures === null) continue;
    if (failures.length === 0) return { trusted: true, matched: p };
    nearMisses.push({ pattern: p, failures });
  }
  return nearMisses.length > 0 ? { trusted: false, matched: null, nearMisses } : { trusted: false, matched: null };
}

/** SHA-256 (hex) of the SubjectPublicKeyInfo DER of a PEM public key (the key fingerprint of `trusted_keys`). */
export function keyFingerprint(pem: string): string {
  return sha256Hex(createPublicKey(pem).export({ type: 'spki', format: 'der' }));
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
