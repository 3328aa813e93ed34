// The verdict for one package: what its attestations amount to under its channel's
// policy (status + reasons), and what that status means for the run (action).
// Pure functions over data (docs/configuration.md "What the policy does"; self-managed keys for key-signed bundles).
import type {
  BundleOutcome,
  ChannelPolicy,
  PackageAction,
  PackageStatus,
  Reason,
  RequireMode,
  SignerIdentity,
} from '../types.ts';
import { createTrustMatcher, type NearMiss, type TrustMatcher } from './identity.ts';
import { describePattern } from './describe.ts';
import { hasConstraints } from './constraints.ts';
import { type Reregistration, ownerChanged, repositoryRecreated } from './reregistered.ts';
import { parseShorthand } from './shorthand.ts';

/**
 * The policy (docs/configuration.md "What the policy does"). `verified` and `skipped` always pass. Under `error` every
 * other status blocks. Under `warn` they warn. Under `ignore` a package without
 * attestations passes silently, but attestations that exist and fail (invalid,
 * untrusted, identity changed, advertised-but-unretrievable) are still warnings:
 * `ignore` never turns a failed check into silence.
 */
export function actionFor(status: PackageStatus, require: RequireMode): PackageAction {
  switch (status) {
    case 'verified':
    case 'skipped':
      return 'pass';
    case 'missing':
      return require === 'error' ? 'block' : require === 'warn' ? 'warn' : 'pass';
    case 'retrieval-failed':
    case 'invalid':
    case 'untrusted':
    case 'identity-changed':
      return require === 'error' ? 'block' : 'warn';
  }
}

/** What discovery and retrieval gave for one package. */
export type RetrievalState =
  | { kind: 'disabled' }
  | { kind: 'none' }
  | { kind: 'failed'; reasons: Reason[] }
  | { kind: 'bundles'; outcomes: BundleOutcome[] };

export interface JudgeInput {
  policy: ChannelPolicy;
  retrieval: RetrievalState;
  /** The policy's compiled matcher; built (and cached per policy) when omitted. */
  matcher?: TrustMatcher;
}

export interface Judgement {
  status: PackageStatus;
  /** The identity that satisfied the check (first trusted publish bundle), or null. */
  identity: SignerIdentity | null;
  reasons: Reason[];
  /** Every distinct trusted identity of the verified publish bundles, in bundle order (for the identity lockfile). */
  trustedIdentities: SignerIdentity[];
  /** Sidecar index of the bundle whose signer is `identity`, or null. */
  verifiedBy: number | null;
  /** The policy checks of each verified publish bundle, by sidecar index (src/verify/evidence.ts). */
  policyChecks: Map<number, { identity_policy: boolean; claims_policy: boolean | null }>;
}

function policyPath(policy: ChannelPolicy, key: string): string {
  const base = policy.channel === 'default' ? 'default' : `channels["${policy.channel}"]`;
  const ruled = policy.rule !== undefined && (key === 'require' || key === 'trusted_identities' || key === 'trusted_keys');
  return ruled ? `${base}.packages["${policy.rule}"].${key}` : `${base}.${key}`;
}

function describeSigner(id: SignerIdentity): string {
  if (id.kind === 'key') return `key ${id.keyName ? `"${id.keyName}" ` : ''}(SHA-256 ${id.keyFingerprint ?? 'unknown'})`;
  return `${id.san ?? '(no SAN)'} (issuer ${id.issuer ?? 'unknown'})`;
}

function identityKey(id: SignerIdentity): string {
  return id.kind === 'key' ? `key\0${id.keyFingerprint ?? ''}` : `${id.kind}\0${id.san ?? ''}\0${id.issuer ?? ''}`;
}

/** A bundle's own reasons, each prefixed with its position in the sidecar. */
function bundleReasons(o: BundleOutcome): Reason[] {
  if (o.reasons.length === 0) {
    return o.verified
      ? []
      : [
          {
            code: 'SIGSTORE_VERIFICATION_FAILED',
            message: `bundle ${o.index}: the bundle did not verify.`,
            hint: 'Ask the channel to re-publish the attestation.',
          },
        ];
  }
  return o.reasons.map((r) => ({ ...r, message: `bundle ${o.index}: ${r.message}` }));
}

/**
 * What a failed numeric-ID constraint means (src/policy/reregistered.ts): under an entry
 * naming exactly one repository (a shorthand without `*`), a new repository ID at the same
 * URL is a re-created repository; under any entry, a new owner ID is an owner that changed
 * hands. A certificate without the claim is only a failed constraint.
 */
function reregistered(n: NearMiss): Reregistration[] {
  let exact = false;
  try {
    const sh = parseShorthand(n.pattern.identity);
    exact = sh !== null && !sh.repository.includes('*');
  } catch {
    exact = false;
  }
  const out: Reregistration[] = [];
  for (const f of n.failures) {
    if (f.had === null) continue;
    if (f.key === 'repository_id' && exact) out.push(repositoryRecreated(f.wanted, f.had));
    if (f.key === 'owner_id') out.push(ownerChanged(f.wanted, f.had));
  }
  return out;
}

function untrustedReason(policy: ChannelPolicy, id: SignerIdentity, index: number, nearMisses: NearMiss[] = []): Reason {
  if (id.kind === 'key') {
    return {
      code: 'KEY_UNTRUSTED',
      message: `bundle ${index}: signed with ${describeSigner(id)}, which is not one of the channel's trusted keys.`,
      hint: `If this key is legitimate, add it under ${policyPath(policy, 'trusted_keys')}.`,
    };
  }
  if (nearMisses.length > 0) {
    // The identity matched, its claims did not: say which constraint failed and what the
    // certificate had, per matching entry.
    const seen = nearMisses.flatMap(reregistered);
    const detail = nearMisses
      .map((n) => `${describePattern(n.pattern)}: ${[...reregistered(n).map((r) => r.message), ...n.failures.map((f) => f.message)].join('; ')}`)
      .join(' | ');
    return {
      code: 'IDENTITY_UNTRUSTED',
      message: `bundle ${index}: signer ${describeSigner(id)} fails the claim constraints of its trusted identit${nearMisses.length === 1 ? 'y' : 'ies'}: ${detail}.`,
      hint: [...new Set(seen.map((r) => r.hint)), `If this build is legitimate, relax the constraint in ${policyPath(policy, 'trusted_identities')}; otherwise do not install this package.`].join(' '),
    };
  }
  const patterns = policy.trustedIdentities.map((p) => describePattern(p)).join(', ');
  return {
    code: 'IDENTITY_UNTRUSTED',
    message: `bundle ${index}: signer ${describeSigner(id)} matches none of the trusted identities: ${patterns}.`,
    hint: `If this signer is legitimate, add a matching entry to ${policyPath(policy, 'trusted_identities')}.`,
  };
}

/**
 * Judge a package from what retrieval and verification gave:
 * - disabled → `skipped`; nothing advertised or found → `missing` (NO_ATTESTATIONS);
 *   retrieval failure → `retrieval-failed` (CEP 50: never `missing`).
 * - `verified` when at least one publish (CEP 27) bundle verified AND its signer is
 *   trusted; invalid siblings are still listed in the reasons.
 * - verified publish bundles but no trusted signer → `untrusted`.
 * - no verified publish bundle and a failed bundle that is (or may be: predicate type
 *   unknown because it did not even parse) a publish attestation → `invalid`.
 * - only other predicate types (e.g. SLSA provenance alone) → `missing` with
 *   NO_PUBLISH_ATTESTATION: there is no publish attestation, which is what `missing`
 *   means; other predicate types never satisfy the check (CEP 27). Their failures are
 *   still reported in the reasons.
 * Key-signed bundles without a verified transparency-log entry do not count under
 * `require_tlog: true` (self-managed keys), whatever the verifier said (defence in depth).
 */
export function judgeAttestations(input: JudgeInput): Judgement {
  const { policy, retrieval } = input;
  const outcomes = retrieval.kind === 'bundles' ? [...retrieval.outcomes].sort((a, b) => a.index - b.index) : [];
  const early = verdictWithoutBundles(policy, retrieval, outcomes.length);
  if (early) return early;
  const matcher = input.matcher ?? createTrustMatcher(policy);
  const tally: Tally = {
    trusted: [],
    seen: new Set(),
    verifiedBy: null,
    untrusted: [],
    failures: [],
    verifiedPublish: 0,
    failedPublish: 0,
    keyUntrusted: 0,
    policyChecks: new Map(),
  };
  for (const o of outcomes) tallyBundle(tally, o, policy, matcher);
  return verdictFromTally(tally, outcomes.length);
}

function unidentified(status: PackageStatus, reasons: Reason[], policyChecks: Judgement['policyChecks']): Judgement {
  return { status, identity: null, reasons, trustedIdentities: [], verifiedBy: null, policyChecks };
}

/**
 * The verdict when there is no bundle to judge: checks disabled, nothing advertised,
 * retrieval failed (CEP 50: never `missing`), or an empty sidecar; null otherwise.
 */
function verdictWithoutBundles(policy: ChannelPolicy, retrieval: RetrievalState, bundles: number): Judgement | null {
  const none = (status: PackageStatus, reasons: Reason[]) => unidentified(status, reasons, new Map());
  if (!policy.enabled || retrieval.kind === 'disabled') {
    return none('skipped', [
      {
        code: 'CHANNEL_DISABLED',
        message: `Attestation checks are disabled for ${policy.channel === 'default' ? 'channels not listed in the configuration' : policy.channel}.`,
        hint: `Set ${policyPath(policy, 'enabled')}: true to verify this channel's packages.`,
      },
    ]);
  }
  if (retrieval.kind === 'none') {
    return none('missing', [
      {
        code: 'NO_ATTESTATIONS',
        message: 'The channel advertises no attestations for this package.',
        hint: 'Ask the publisher to attest their packages, or set require: warn or ignore for this channel.',
      },
    ]);
  }
  if (retrieval.kind === 'failed') {
    const reasons: Reason[] =
      retrieval.reasons.length > 0
        ? retrieval.reasons
        : [
            {
              code: 'SIDECAR_UNAVAILABLE',
              message: 'The attestation sidecar could not be retrieved.',
              hint: 'Check the network and the channel; an advertised sidecar must be retrievable.',
            },
          ];
    return none('retrieval-failed', reasons);
  }
  if (bundles === 0) {
    return none('missing', [
      {
        code: 'NO_ATTESTATIONS',
        message: 'The attestation sidecar holds no bundles.',
        hint: 'Ask the publisher to attest their packages, or set require: warn or ignore for this channel.',
      },
    ]);
  }
  return null;
}

/** What the bundles of one sidecar add up to, in sidecar order. */
interface Tally {
  trusted: SignerIdentity[];
  /** identityKey of each identity in `trusted`. */
  seen: Set<string>;
  verifiedBy: number | null;
  untrusted: Reason[];
  failures: Reason[];
  verifiedPublish: number;
  failedPublish: number;
  keyUntrusted: number;
  policyChecks: Judgement['policyChecks'];
}

/** Adds one bundle's outcome to the tally. */
function tallyBundle(t: Tally, o: BundleOutcome, policy: ChannelPolicy, matcher: TrustMatcher): void {
  const tlogMissing =
    o.verified && o.identity?.kind === 'key' && policy.requireTlog && o.tlog !== true;
  if (o.verified && !tlogMissing) {
    t.failures.push(...bundleReasons(o)); // a verified bundle may carry notes
    if (o.publish) tallyVerifiedPublish(t, o, policy, matcher);
    return;
  }
  // Self-managed keys: a key-signed bundle that no trusted key verifies is `untrusted` (the
  // verifier cannot tell a foreign key from a forged signature: neither is trusted).
  if (!o.verified && o.reasons.some((r) => r.code === 'KEY_UNTRUSTED')) {
    t.keyUntrusted++;
    t.untrusted.push(...bundleReasons(o));
    return;
  }
  // Not verified. A bundle whose predicate type is unknown did not parse far enough
  // to tell: it may have been a publish attestation, so it counts as one (fail closed).
  if (o.publish || o.predicateType === undefined) t.failedPublish++;
  if (tlogMissing) {
    t.failures.push({
      code: 'TLOG_REQUIRED',
      message: `bundle ${o.index}: signed with ${describeSigner(o.identity!)} but has no verified transparency-log entry.`,
      hint: `Publish the signature to a transparency log, or set ${policyPath(policy, 'require_tlog')}: false to accept signature-only verification.`,
    });
  } else {
    t.failures.push(...bundleReasons(o));
  }
}

/** A verified publish bundle: is its signer trusted? */
function tallyVerifiedPublish(t: Tally, o: BundleOutcome, policy: ChannelPolicy, matcher: TrustMatcher): void {
  t.verifiedPublish++;
  if (!o.identity) {
    t.untrusted.push({
      code: 'IDENTITY_UNTRUSTED',
      message: `bundle ${o.index}: verified without a signer identity.`,
      hint: 'This is a verifier bug; please report it.',
    });
    return;
  }
  const decision = matcher.match(o.identity);
  const nearMiss = (decision.nearMisses ?? []).length > 0;
  t.policyChecks.set(o.index, {
    identity_policy: decision.trusted || nearMiss,
    claims_policy: decision.trusted ? (hasConstraints(decision.matched?.constraints) ? true : null) : nearMiss ? false : null,
  });
  if (!decision.trusted) {
    t.untrusted.push(untrustedReason(policy, o.identity, o.index, decision.nearMisses));
    return;
  }
  // CEP 50: the order of bundles carries no meaning; the first trusted one (in
  // sidecar order, for a deterministic report) is named as the one that verified.
  t.verifiedBy ??= o.index;
  const k = identityKey(o.identity);
  if (!t.seen.has(k)) {
    t.seen.add(k);
    t.trusted.push(o.identity);
  }
}

function verdictFromTally(t: Tally, bundles: number): Judgement {
  if (t.trusted.length > 0) {
    // Verified. Untrusted and invalid siblings are still reported (docs/configuration.md).
    return {
      status: 'verified',
      identity: t.trusted[0],
      reasons: [...t.untrusted, ...t.failures],
      trustedIdentities: t.trusted,
      verifiedBy: t.verifiedBy,
      policyChecks: t.policyChecks,
    };
  }
  if (t.verifiedPublish > 0 || t.keyUntrusted > 0) return unidentified('untrusted', [...t.untrusted, ...t.failures], t.policyChecks);
  if (t.failedPublish > 0) return unidentified('invalid', t.failures, t.policyChecks);
  return unidentified(
    'missing',
    [
      {
        code: 'NO_PUBLISH_ATTESTATION',
        message: `The sidecar holds ${bundles} attestation(s) but no conda publish attestation (https://schemas.conda.org/attestations-publish-1.schema.json).`,
        hint: 'Other predicate types (e.g. SLSA provenance) cannot vouch for a conda package; ask the publisher for a CEP 27 publish attestation.',
      },
      ...t.failures,
    ],
    t.policyChecks,
  );
}

/**
 * Notes for a verified package whose trusted key signatures have no transparency-log
 * entry (accepted only under `require_tlog: false`): the report must say the package is
 * signature-only, i.e. not auditable in a transparency log.
 */
export function signatureOnlyNotes(status: PackageStatus, outcomes: readonly BundleOutcome[]): string[] {
  if (status !== 'verified') return [];
  return outcomes
    .filter((o) => o.verified && o.publish && o.identity?.kind === 'key' && o.tlog === false)
    .map((o) => `signature-only: bundle ${o.index} is signed with a trusted key but has no transparency-log entry (require_tlog: false)`);
}
