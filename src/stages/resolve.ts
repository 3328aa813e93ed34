// Stage 1, resolve: a package record and the digest its caller knows → the package as the
// run judges it: its canonical channel and that channel's policy. Pure.
import { policyFor } from '../policy/channel.ts';
import { effectivePolicy } from '../policy/packages.ts';
import type { PackageDigest } from '../session-types.ts';
import type { ChannelPolicy, DenyEntry, PackageRecord, ResolvedConfig } from '../types.ts';

export interface ResolvedPackage {
  record: PackageRecord;
  /** Canonical channel URL the package is judged under (the configured channel for a mirror). */
  canonical: string;
  /** The policy for this package: the channel's, with a matching `packages:` rule applied. */
  policy: ChannelPolicy;
  /** The channel's own policy (where its exceptions live). */
  channelPolicy: ChannelPolicy;
  /** The digest the caller gave (lockfile record, host download), or null: hash the bytes. */
  given: PackageDigest | null;
  /**
   * Channels a CEP 27 `predicate.targetChannel` may name: it SHOULD equal the channel the
   * package came from; a mirror of a configured channel may carry the canonical name.
   */
  acceptedChannels: string[];
  /** The deny entries that apply: the top-level ones, then the channel's own (src/policy/deny.ts). */
  deny: DenyEntry[];
}

export function resolvePackage(config: ResolvedConfig, record: PackageRecord, given: PackageDigest | null): ResolvedPackage {
  const lookup = policyFor(config, record.channel);
  const { canonical } = lookup;
  // A `packages:` rule of the channel may override require / trusted identities / keys.
  const policy = effectivePolicy(lookup.policy, record.name);
  const deny = [...config.deny, ...(lookup.policy.deny ?? [])];
  return { record, canonical, policy, channelPolicy: lookup.policy, given, acceptedChannels: [...new Set([canonical, record.channel])], deny };
}
