// Per-package rules (`packages:`) and time-limited exceptions (`exceptions:`) of a
// channel policy. Pure functions over the resolved configuration.
//
// Precedence: an exact package name over any glob, then the glob with more literal
// characters (its specificity: stars do not count, so padding a pattern with `*` never
// makes it win: `to*` beats `**o**`). Two globs of equal specificity that can both match
// one name would make the winner depend on the order of keys in a file, so configuration
// resolution refuses them (globTies); ruleFor never has to break a tie.
import type { ChannelPolicy, PackageRule, PolicyException, Reason } from '../types.ts';

/** True when the key is a glob (holds `*`), false for an exact package name. */
function isPackageGlob(pattern: string): boolean {
  return pattern.includes('*');
}

const packageGlobs = new Map<string, RegExp>();

/** Anchored match of a package name against an exact name or a `*` glob (`*`: any run of characters). */
export function packageMatches(pattern: string, name: string): boolean {
  if (!isPackageGlob(pattern)) return pattern === name;
  let re = packageGlobs.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[\\^$.+?()[\]{}|]/g, '\\$&')).join('.*')}$`);
    packageGlobs.set(pattern, re);
  }
  return re.test(name);
}

/** A rule key's specificity: its number of literal (non-`*`) characters. */
export function specificity(pattern: string): number {
  return pattern.replaceAll('*', '').length;
}

/**
 * Whether two `*` globs can match a common name (a name both accept). Dynamic programming
 * over suffix pairs: O(|a|·|b|), keys are short.
 */
export function globsOverlap(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const k = i * (b.length + 1) + j;
    const m = memo.get(k);
    if (m !== undefined) return m;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    else if (i < a.length && a[i] === '*') r = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (j < b.length && b[j] === '*') r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else r = i < a.length && j < b.length && a[i] === b[j] && go(i + 1, j + 1);
    memo.set(k, r);
    return r;
  };
  return go(0, 0);
}

/** Pairs of rule keys that are equally specific and can match the same name (a configuration error). */
export function globTies(patterns: string[]): [string, string][] {
  const globs = [...new Set(patterns.filter(isPackageGlob))].sort();
  const out: [string, string][] = [];
  for (let i = 0; i < globs.length; i++) {
    for (let j = i + 1; j < globs.length; j++) {
      const a = globs[i]!;
      const b = globs[j]!;
      if (specificity(a) === specificity(b) && globsOverlap(a, b)) out.push([a, b]);
    }
  }
  return out;
}

/** The most specific rule for a package name, or undefined. */
export function ruleFor(rules: readonly PackageRule[] | undefined, name: string): PackageRule | undefined {
  if (!rules || rules.length === 0) return undefined;
  let best: PackageRule | undefined;
  for (const r of rules) {
    if (!packageMatches(r.pattern, name)) continue;
    if (!isPackageGlob(r.pattern)) return r; // exact name: nothing is more specific
    if (!best || specificity(r.pattern) > specificity(best.pattern)) best = r;
  }
  return best;
}

// Effective policies are cached per (channel policy, rule) so that everything cached per
// policy object downstream (compiled matchers, policy digests) is built once per rule.
const effective = new WeakMap<ChannelPolicy, Map<PackageRule, ChannelPolicy>>();

/**
 * The policy a package is judged by: its channel's, with the `require`,
 * `trusted_identities` and `trusted_keys` of the most specific matching `packages:` rule
 * (what the rule does not set is inherited). Returns the channel policy itself when no
 * rule matches.
 */
export function effectivePolicy(policy: ChannelPolicy, name: string): ChannelPolicy {
  const rule = ruleFor(policy.packages, name);
  if (!rule) return policy;
  let byRule = effective.get(policy);
  if (!byRule) effective.set(policy, (byRule = new Map()));
  let p = byRule.get(rule);
  if (!p) {
    p = {
      ...policy,
      require: rule.require ?? policy.require,
      trustedIdentities: rule.trustedIdentities ?? policy.trustedIdentities,
      trustedKeys: rule.trustedKeys ?? policy.trustedKeys,
      rule: rule.pattern,
    };
    byRule.set(rule, p);
  }
  return p;
}

/** An exception that matched a package: active (the package passes) or expired (a notice). */
export interface ExceptionMatch {
  exception: PolicyException;
  expired: boolean;
}

/**
 * The exception for a package on `today` (YYYY-MM-DD, UTC): the active matching one with
 * the latest `until` (inclusive), else the expired matching one with the latest `until`,
 * else null.
 */
export function exceptionFor(
  exceptions: readonly PolicyException[] | undefined,
  name: string,
  today: string,
): ExceptionMatch | null {
  if (!exceptions || exceptions.length === 0) return null;
  let active: PolicyException | undefined;
  let expired: PolicyException | undefined;
  for (const e of exceptions) {
    if (!packageMatches(e.package, name)) continue;
    if (e.until >= today) {
      if (!active || e.until > active.until) active = e;
    } else if (!expired || e.until > expired.until) {
      expired = e;
    }
  }
  if (active) return { exception: active, expired: false };
  if (expired) return { exception: expired, expired: true };
  return null;
}

/** Whole days from `today` to the end of `until` (0 on the last day, negative once expired). */
export function daysLeft(until: string, today: string): number {
  return Math.round((Date.parse(`${until}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isCalendarDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
}

/** What an exception does to one package's row. */
interface ExceptionEffect {
  /** An active exception: the row's action becomes `pass` (status and reasons kept). */
  pass: boolean;
  /** `exception: {until, reason}` for the report row (active exceptions only). */
  exception?: { until: string; reason?: string };
  /** Note for the text output. */
  note?: string;
  /** An expired exception: the package was judged normally; this notice names it. */
  notice?: Reason;
}

/** The effect of an exception match (see exceptionFor) on the package `name` of `channel`. */
export function exceptionEffect(match: ExceptionMatch | null, name: string, channel: string, today: string): ExceptionEffect {
  if (!match) return { pass: false };
  const { exception: e } = match;
  const why = e.reason !== undefined ? `: ${e.reason}` : '';
  if (!match.expired) {
    const left = daysLeft(e.until, today);
    return {
      pass: true,
      exception: { until: e.until, ...(e.reason !== undefined ? { reason: e.reason } : {}) },
      note: `exception until ${e.until} (${left} day${left === 1 ? '' : 's'} left)${why}`,
    };
  }
  const where = channel === 'default' ? 'default.exceptions' : `channels["${channel}"].exceptions`;
  return {
    pass: false,
    notice: {
      code: 'EXCEPTION_EXPIRED',
      message: `The exception for ${name} (${where}, package "${e.package}") expired after ${e.until}; the package was judged normally.`,
      hint: `Remove the exception, or extend its until date if the reason${why ? ` (${e.reason})` : ''} still holds.`,
    },
  };
}
