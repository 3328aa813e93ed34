// Run-level findings: what a whole run did or did not check, as stable codes with one
// sentence and a hint each (the `notices` of the report). Pure functions over the report
// rows and the resolved configuration.
//
// "Never pass silently": a run in which no package was verified must say so, and a
// configured channel that matched nothing is almost always a channel URL that differs from
// the one the lockfile uses (same channel, another host), which would otherwise disable
// every check without a word.
import type { PackageReport, Reason, ResolvedConfig } from '../types.ts';

/** One run-level finding. */
export type Notice = Reason;

/** The last non-empty path segment of a channel URL (`conda-forge` for `https://prefix.dev/conda-forge`). */
export function channelName(url: string): string | undefined {
  try {
    return new URL(url).pathname.split('/').filter(Boolean).pop();
  } catch {
    return undefined;
  }
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function listOf(channels: string[]): string {
  return channels.length === 0 ? 'no channel' : channels.join(', ');
}

/**
 * CHANNEL_UNUSED: a channel listed in the config that no package of the run was judged
 * under (directly or through one of its mirrors). When a channel the run did use has the
 * same name on another host (`https://conda.anaconda.org/conda-forge` for a configured
 * `https://prefix.dev/conda-forge`), the hint gives the exact `mirrors` entry to add.
 */
export function unusedChannelNotices(config: Pick<ResolvedConfig, 'channels'>, rows: readonly PackageReport[]): Notice[] {
  const used = sortedUnique(rows.map((r) => r.channel));
  const configured = new Set(config.channels.map((c) => c.channel));
  // Channels the run used that no configured entry claims: the candidates for a mirror.
  const unclaimed = used.filter((u) => !configured.has(u));
  const notices: Notice[] = [];
  for (const policy of config.channels) {
    if (used.includes(policy.channel)) continue;
    const name = channelName(policy.channel);
    const sameName = unclaimed.filter((u) => name !== undefined && channelName(u) === name);
    const message =
      rows.length === 0
        ? `The configured channel ${policy.channel} matches no package: the run has no conda packages.`
        : `The configured channel ${policy.channel} matches no package of this run; the packages come from ${listOf(used)}.`;
    const hint =
      sameName.length > 0
        ? `If ${sameName.join(' and ')} serve${sameName.length === 1 ? 's' : ''} the same packages, add ${sameName.length === 1 ? 'it' : 'them'} as a mirror: ` +
          `channels["${policy.channel}"].mirrors: [${sameName.map((s) => JSON.stringify(s)).join(', ')}]`
        : 'Channel URLs must match the lockfile exactly (or be listed under the channel\'s mirrors); check the URL in the config.';
    notices.push({ code: 'CHANNEL_UNUSED', message, hint });
  }
  return notices;
}

/**
 * NOTHING_VERIFIED: no package was verified and none was blocked or warned about, so the
 * run "passed" without checking anything. The exit code stays 0 (the policy allowed it);
 * the report must not read as if packages were verified.
 */
export function nothingVerifiedNotice(rows: readonly PackageReport[]): Notice | undefined {
  if (rows.some((r) => r.status === 'verified' || r.action !== 'pass')) return undefined;
  const channels = sortedUnique(rows.map((r) => r.channel));
  if (rows.length === 0) {
    return {
      code: 'NOTHING_VERIFIED',
      message: 'No package was verified: the targets hold no conda package from a channel.',
      hint: 'Check that the target is the environment you meant (PyPI and source packages are not covered by conda attestations).',
    };
  }
  const skipped = rows.filter((r) => r.status === 'skipped').length;
  const n = rows.length;
  if (skipped === n) {
    return {
      code: 'NOTHING_VERIFIED',
      message: `No package was verified: ${n === 1 ? 'the only package was' : `all ${n} packages were`} skipped because no enabled channel policy covers ${listOf(channels)}.`,
      hint: 'Add these channels to the config under channels (or as mirrors of a configured channel), or set default.enabled: true.',
    };
  }
  return {
    code: 'NOTHING_VERIFIED',
    message: `No package was verified: ${n - skipped} package${n - skipped === 1 ? ' has' : 's have'} no attestation their channel policy requires (require: ignore) and ${skipped} ${skipped === 1 ? 'was' : 'were'} skipped (channels: ${listOf(channels)}).`,
    hint: 'Set require: warn or error for these channels to be told about unattested packages.',
  };
}

/** Every run-level notice the rows and the configuration give, in a stable order. */
export function runNotices(config: Pick<ResolvedConfig, 'channels'>, rows: readonly PackageReport[]): Notice[] {
  const out = unusedChannelNotices(config, rows);
  const nothing = nothingVerifiedNotice(rows);
  if (nothing) out.push(nothing);
  return out;
}
