// The effective policy, as `conda-attest policy` shows it: per channel, what is enforced
// (shorthands expanded, constraints listed, per-package rules, exceptions with days left).
// Pure: config (and the channels of a target) in, plain data out; rendering to text is
// here too, output to a stream is the command's job.
import type { ChannelPolicy, DenyEntry, DenyWritten, IdentityPattern, ResolvedConfig, TrustedKey } from '../types.ts';
import { CONSTRAINTS } from './constraints.ts';
import { describeShorthand, parseShorthand } from './shorthand.ts';
import { daysLeft } from './packages.ts';
import { keyFingerprint } from './identity.ts';
import { policyFor } from './channel.ts';
import { escapeText } from '../text/escape.ts';

export interface IdentityView {
  identity: string;
  issuer: string;
  /** For a shorthand: what it means, in words. */
  expands_to?: string;
  /** Claim constraints by config key (only those given). */
  constraints: Record<string, string | string[]>;
}

export interface KeyView {
  name: string | null;
  fingerprint: string;
  source: string;
}

export interface RuleView {
  pattern: string;
  require?: string;
  trusted_identities?: IdentityView[];
  trusted_keys?: KeyView[];
}

export interface ExceptionView {
  package: string;
  until: string;
  reason: string | null;
  /** Days from today to `until` (0 on the last day); negative once expired. */
  days_left: number;
  expired: boolean;
}

/** A deny entry as `policy` shows it: its form's fields, its reason, where it is configured. */
export interface DenyView extends DenyWritten {
  at: string;
}

export interface ChannelView {
  /** The channel as configured (canonical URL), or `default`. */
  channel: string;
  /** For channels of a target: the URLs of the target that this policy applies to. */
  seen_as?: string[];
  enabled: boolean;
  require: string;
  trusted_identities: IdentityView[];
  trusted_keys: KeyView[];
  require_tlog: boolean;
  mirrors: string[];
  discovery: string[];
  packages: RuleView[];
  exceptions: ExceptionView[];
  /** This channel's own deny entries (the top-level ones apply too). */
  deny: DenyView[];
}

export interface PolicyView {
  config: string | null;
  trust_root: string;
  trust_root_max_age_days: number | null;
  /** Top-level deny entries: they apply to every channel. */
  deny: DenyView[];
  channels: ChannelView[];
}

function denyView(d: DenyEntry): DenyView {
  if ('sha256' in d) return { at: d.at, sha256: d.sha256, reason: d.reason };
  if ('package' in d) return { at: d.at, package: d.package, versions: d.versions, reason: d.reason };
  return {
    at: d.at,
    identity: d.identity,
    ...(d.signedAfter !== undefined ? { signed_after: d.signedAfter } : {}),
    ...(d.signedBefore !== undefined ? { signed_before: d.signedBefore } : {}),
    reason: d.reason,
  };
}

function denyLines(list: DenyView[], indent: string): string[] {
  return list.map((d) => {
    let what: string;
    if (d.sha256 !== undefined) what = `file sha256 ${d.sha256}`;
    else if (d.package !== undefined) what = `${d.package} ${d.versions}`;
    else what = `signer ${d.identity}${d.signed_after ? ` signed from ${d.signed_after}` : ''}${d.signed_before ? ` signed before ${d.signed_before}` : ''}`;
    return `${indent}- ${what}: ${d.reason}  (${d.at})`;
  });
}

function identityView(p: IdentityPattern): IdentityView {
  let expands: string | undefined;
  try {
    const sh = parseShorthand(p.identity);
    if (sh) expands = describeShorthand(sh);
  } catch {
    // Resolution validated it; nothing to expand otherwise.
  }
  const constraints: Record<string, string | string[]> = {};
  for (const spec of CONSTRAINTS) {
    const v = p.constraints?.[spec.field];
    if (v !== undefined) constraints[spec.key] = Array.isArray(v) ? [...v] : v;
  }
  return { identity: p.identity, issuer: p.issuer, ...(expands ? { expands_to: expands } : {}), constraints };
}

function keyView(k: TrustedKey): KeyView {
  return { name: k.name ?? null, fingerprint: k.fingerprint ?? keyFingerprint(k.pem), source: k.source };
}

function channelView(p: ChannelPolicy, today: string): ChannelView {
  return {
    channel: p.channel,
    enabled: p.enabled,
    require: p.require,
    trusted_identities: p.trustedIdentities.map(identityView),
    trusted_keys: p.trustedKeys.map(keyView),
    require_tlog: p.requireTlog,
    mirrors: [...p.mirrors],
    discovery: [...p.discovery],
    packages: (p.packages ?? []).map((r) => ({
      pattern: r.pattern,
      ...(r.require !== undefined ? { require: r.require } : {}),
      ...(r.trustedIdentities !== undefined ? { trusted_identities: r.trustedIdentities.map(identityView) } : {}),
      ...(r.trustedKeys !== undefined ? { trusted_keys: r.trustedKeys.map(keyView) } : {}),
    })),
    exceptions: (p.exceptions ?? [])
      .map((e) => {
        const left = daysLeft(e.until, today);
        return { package: e.package, until: e.until, reason: e.reason ?? null, days_left: left, expired: left < 0 };
      })
      .sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : a.until < b.until ? -1 : a.until > b.until ? 1 : 0)),
    deny: (p.deny ?? []).map(denyView),
  };
}

/**
 * The effective policy of every channel in `channelUrls` (the channels a target's packages
 * come from; a mirror shows the policy of the channel it mirrors, an unlisted channel the
 * `default` policy), or, without `channelUrls`, of every configured channel and `default`.
 * Sorted by channel; `default` last.
 */
export function effectivePolicyView(config: ResolvedConfig, today: string, channelUrls?: readonly string[]): PolicyView {
  let views: ChannelView[];
  if (channelUrls === undefined) {
    views = [...config.channels.map((p) => channelView(p, today)), channelView(config.default, today)];
  } else {
    const byPolicy = new Map<ChannelPolicy, { canonical: string; seen: Set<string> }>();
    const unlisted = new Map<string, Set<string>>();
    for (const url of channelUrls) {
      const lookup = policyFor(config, url);
      if (lookup.policy === config.default) {
        // Each unlisted channel is shown on its own, under the default policy.
        let seen = unlisted.get(lookup.canonical);
        if (!seen) unlisted.set(lookup.canonical, (seen = new Set()));
        seen.add(url);
        continue;
      }
      let entry = byPolicy.get(lookup.policy);
      if (!entry) byPolicy.set(lookup.policy, (entry = { canonical: lookup.canonical, seen: new Set() }));
      entry.seen.add(url);
    }
    views = [...byPolicy.entries()].map(([p, e]) => ({ ...channelView(p, today), seen_as: [...e.seen].sort() }));
    for (const [canonical, seen] of unlisted) {
      views.push({ ...channelView(config.default, today), channel: canonical, seen_as: [...seen].sort() });
    }
    views.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  }
  return {
    config: config.source ?? null,
    trust_root: config.trustRoot,
    trust_root_max_age_days: config.trustRootMaxAgeDays ?? null,
    deny: config.deny.map(denyView),
    channels: views,
  };
}

function identityLines(list: IdentityView[], indent: string): string[] {
  if (list.length === 0) return [`${indent}(none: any verified signer, pinned per package in the identity lockfile)`];
  const out: string[] = [];
  for (const i of list) {
    out.push(`${indent}- ${i.identity}`);
    out.push(`${indent}    issuer ${i.issuer}`);
    if (i.expands_to) out.push(`${indent}    = ${i.expands_to}`);
    for (const spec of CONSTRAINTS) {
      const v = i.constraints[spec.key];
      if (v === undefined) continue;
      const shown = Array.isArray(v) ? (v.length === 1 ? v[0] : `one of ${v.join(', ')}`) : v;
      out.push(`${indent}    ${spec.key}: ${shown}  (${spec.claimName}, OID ${spec.oid})`);
    }
  }
  return out;
}

function keyLines(list: KeyView[], indent: string): string[] {
  return list.map((k) => `${indent}- ${k.name ?? k.fingerprint} (SHA-256 ${k.fingerprint}, ${k.source})`);
}

/**
 * The policy view as text (what `conda-attest policy` prints). Every line goes through
 * escapeText: channel URLs of a target and config strings must not drive the terminal.
 */
export function renderPolicyText(view: PolicyView): string {
  const lines: string[] = [];
  lines.push(`config: ${view.config ?? '(none found: built-in defaults)'}`);
  lines.push(
    `trust root: ${view.trust_root}${view.trust_root_max_age_days !== null ? ` (at most ${view.trust_root_max_age_days} days old)` : ''}`,
  );
  if (view.deny.length > 0) {
    lines.push('deny (every channel; blocks whatever else is found):');
    lines.push(...denyLines(view.deny, '  '));
  }
  for (const ch of view.channels) {
    lines.push('');
    lines.push(`${ch.channel}${ch.channel === 'default' ? ' (channels not listed in the configuration)' : ''}`);
    if (ch.seen_as && (ch.seen_as.length > 1 || ch.seen_as[0] !== ch.channel)) lines.push(`  used for: ${ch.seen_as.join(', ')}`);
    lines.push(`  enabled: ${ch.enabled}`);
    if (ch.deny.length > 0) {
      lines.push('  deny (blocks whatever else is found):');
      lines.push(...denyLines(ch.deny, '    '));
    }
    if (!ch.enabled) continue;
    lines.push(`  require: ${ch.require}`);
    lines.push('  trusted identities:');
    lines.push(...identityLines(ch.trusted_identities, '    '));
    if (ch.trusted_keys.length > 0) {
      lines.push(`  trusted keys (require_tlog: ${ch.require_tlog}):`);
      lines.push(...keyLines(ch.trusted_keys, '    '));
    }
    if (ch.mirrors.length > 0) lines.push(`  mirrors: ${ch.mirrors.join(', ')}`);
    if (ch.packages.length > 0) {
      lines.push('  package rules (exact name over glob, longer glob over shorter):');
      for (const r of ch.packages) {
        lines.push(`    ${r.pattern}:`);
        if (r.require !== undefined) lines.push(`      require: ${r.require}`);
        if (r.trusted_identities !== undefined) {
          lines.push('      trusted identities:');
          lines.push(...identityLines(r.trusted_identities, '        '));
        }
        if (r.trusted_keys !== undefined) {
          lines.push('      trusted keys:');
          lines.push(...keyLines(r.trusted_keys, '        '));
        }
      }
    }
    if (ch.exceptions.length > 0) {
      lines.push('  exceptions:');
      for (const e of ch.exceptions) {
        const left = e.expired ? `EXPIRED ${-e.days_left} day${e.days_left === -1 ? '' : 's'} ago` : `${e.days_left} day${e.days_left === 1 ? '' : 's'} left`;
        lines.push(`    - ${e.package} until ${e.until} (${left})${e.reason ? `: ${e.reason}` : ''}`);
      }
    }
  }
  return lines.map((l) => escapeText(l)).join('\n') + '\n';
}
