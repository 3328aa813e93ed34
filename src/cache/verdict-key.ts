// The verdict-cache key: everything one verdict depends on, hashed in a fixed order. Pure
// (shared by every host; only the Node host keeps a cache: ./verdict-cache.ts).
import { createHash } from 'node:crypto';
import type { ChannelPolicy } from '../types.ts';

/** Bump when the file format or the meaning of an entry changes: old buckets are then ignored. */
// 4: outcomes carry their evidence (src/verify/evidence.ts); a v3 entry has none.
export const FORMAT = 4;

/** Everything one verdict depends on. */
export interface VerdictKeyParts {
  /** SHA-256 of the sidecar bytes (CEP 50 `attestations_sha256`). */
  sidecarSha256: string;
  /** SHA-256 of the package bytes (CEP 27 subject digest). */
  packageSha256: string;
  /** Full package filename (CEP 27 subject name). */
  filename: string;
  /** Canonical channel URL. */
  channel: string;
  /** Channels a `predicate.targetChannel` may name (order and duplicates do not matter). */
  acceptedChannels: readonly string[];
  /** `LoadedTrustRoot.digest`. */
  trustRootDigest: string;
  /** `policyDigest(policy)`. */
  policyDigest: string;
  /** conda-attest's version: a new release may check more, so its verdicts start afresh. */
  productVersion: string;
}

/** The cache key: SHA-256 (hex) of the parts in a fixed order. */
export function verdictKey(parts: VerdictKeyParts): string {
  const accepted = [...new Set(parts.acceptedChannels)].sort();
  // An array, not an object: field order is fixed by the code, never by the caller.
  const canonical = JSON.stringify([
    `conda-attest-verdict-v${FORMAT}`,
    parts.sidecarSha256.toLowerCase(),
    parts.packageSha256.toLowerCase(),
    parts.filename,
    parts.channel,
    accepted,
    parts.trustRootDigest,
    parts.policyDigest,
    parts.productVersion,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

const policyDigests = new WeakMap<ChannelPolicy, string>();

/**
 * A stable digest of a channel policy, memoised per policy object (hot path: once per
 * package). Everything in the policy is included, not only what verification reads
 * (trusted keys with their names, require_tlog): a change to any setting re-verifies,
 * which costs time, never correctness. Key PEMs are compared by their base64 body so
 * line wrapping does not matter; lists whose order has no meaning are sorted.
 */
export function policyDigest(policy: ChannelPolicy): string {
  const memo = policyDigests.get(policy);
  if (memo) return memo;
  const normalised = [
    policy.channel,
    policy.enabled,
    policy.require,
    policy.requireTlog,
    policy.trustedIdentities.map((p) => [p.identity, p.issuer]).sort(cmpJson),
    policy.trustedKeys.map((k) => [k.name ?? null, k.pem.replace(/-----[^-]+-----|\s+/g, '')]).sort(cmpJson),
    [...policy.mirrors].sort(),
    policy.discovery, // order matters: it is the discovery order
  ];
  const d = createHash('sha256').update(JSON.stringify(normalised)).digest('hex');
  policyDigests.set(policy, d);
  return d;
}

function cmpJson(a: unknown, b: unknown): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
