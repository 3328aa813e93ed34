// Stage 2, discover and retrieve: the package digest (given, or hashed from the bytes in
// one streamed pass) and its attestations (CEP 50): cached outcomes for exactly these
// inputs, or the sidecar's bundles to verify. Repodata is looked up once per package.
import { policyDigest, verdictKey } from '../cache/verdict-key.ts';
import { reasonFromError } from '../errors.ts';
import { checkDigest } from '../policy/digest.ts';
import type { PackageDigest } from '../session-types.ts';
import { packageNameProblem } from '../targets/package-url.ts';
import { fetchSidecar, lookupAdvertised, sidecarUrl, type Advertisement, type SidecarResult } from '../sidecar/fetch.ts';
import type { BundleOutcome, DigestSource, PackageReport, PackageStatus, Reason } from '../types.ts';
import type { ResolvedPackage } from './resolve.ts';
import type { RunResources } from './resources.ts';

/** What retrieval (and then verification) found out about a package's attestations. */
export type Evidence =
  /** The channel's policy disables checks: nothing was fetched. */
  | { kind: 'disabled' }
  /** Refused before its attestations were judged (digest unobtainable or wrong, verification threw). */
  | { kind: 'rejected'; status: Extract<PackageStatus, 'invalid' | 'retrieval-failed'>; reasons: Reason[] }
  /** Nothing advertised, nothing found (CEP 50 probes). */
  | { kind: 'none' }
  /** An advertised or probed sidecar could not be retrieved (CEP 50: never `missing`). */
  | { kind: 'failed'; reasons: Reason[] }
  /** A sidecar to verify; `key` is its verdict-cache key (null without a cache). */
  | { kind: 'sidecar'; bundles: unknown[]; packageSha256: string; key: string | null; bytes?: Buffer }
  /** Verified (or cached) outcomes, one per bundle. */
  | { kind: 'bundles'; outcomes: BundleOutcome[] };

export interface Retrieved {
  pkg: ResolvedPackage;
  /** The digest as the report shows it. */
  sha256: string | null;
  digestSource: DigestSource | null;
  sidecar: PackageReport['sidecar'];
  evidence: Evidence;
}

/** Retrieve everything the verdict of `pkg` needs. Never throws for package-level problems. */
export async function retrievePackage(pkg: ResolvedPackage, res: RunResources): Promise<Retrieved> {
  const { record, given } = pkg;
  const base = {
    pkg,
    sha256: given?.sha256 ?? record.sha256 ?? null,
    digestSource: given?.source ?? (record.sha256 ? ('lockfile' as const) : null),
    sidecar: null,
  };
  if (!pkg.policy.enabled) return { ...base, evidence: { kind: 'disabled' } };
  const badName = packageNameProblem(record.name, record.filename);
  if (badName) return { ...base, evidence: { kind: 'rejected', status: 'invalid', reasons: [badName] } };

  let digest: PackageDigest;
  // While the bytes stream (--download), the sidecar is found and the verifier set up, so
  // that little is left once the last byte is hashed (measured, 64 MiB over loopback, CPU
  // profiles: ~280 ms after the last byte → 25 ms; docs/performance.md "Downloads and the proxy").
  // Started when the server answers with the bytes, not before: an unreachable host costs
  // one failed request, as it did when the two ran one after the other.
  let early: Promise<SidecarResult> | undefined;
  try {
    digest = given ?? (await hashOf(pkg, res, () => void (early ??= discoverWhileHashing(pkg, res))));
  } catch (e) {
    await early; // no request for this package outlives its verdict
    return { ...base, evidence: { kind: 'rejected', status: 'retrieval-failed', reasons: [reasonFromError(e, 'HTTP_CONNECTION_FAILED')] } };
  }
  const refusal = checkDigest(record, digest);
  if (refusal) {
    await early;
    // A digest that is not SHA-256 hex never reaches the report's sha256 field.
    const shown = refusal.wellFormed ? { sha256: digest.sha256, digestSource: digest.source } : {};
    return { ...base, ...shown, evidence: { kind: 'rejected', status: 'invalid', reasons: [refusal.reason] } };
  }
  const found = { ...base, sha256: digest.sha256, digestSource: digest.source };
  // A local package whose subdir its damaged archive could not give has no sidecar URL to
  // discover; only a sidecar given by the caller can still be checked against its digest.
  if (record.unreadable && !res.sigs) return { ...found, evidence: { kind: 'rejected', status: 'invalid', reasons: [record.unreadable] } };
  const keyFor = (sidecarSha256: string): Promise<string | null> => verdictKeyFor(pkg, digest.sha256, sidecarSha256, res);

  // Warm path: repodata advertises the sidecar's hash, and a verdict for exactly these
  // inputs exists: neither the sidecar nor sigstore-js is needed.
  let advertisement: Advertisement | undefined;
  // The key looked up here is the key of the sidecar fetched below when that is the advertised
  // one (CEP 50: repodata names its SHA-256): made once, not twice, per package of a cold run
  // (verdictKey: a JSON text and a SHA-256; ~40 ms of a cold 1,000-package run's main thread
  // in a CPU profile under load 6, docs/performance.md "Cold runs, round 5").
  let looked: { sha256: string; key: string | null } | undefined;
  if (res.verdicts && !res.sigs && pkg.policy.discovery[0] === 'repodata') {
    advertisement = await lookupAdvertised(record, res.repodata);
    if (advertisement.kind === 'advertised') {
      const key = await keyFor(advertisement.sha256);
      looked = { sha256: advertisement.sha256, key };
      const cached = key ? res.verdicts.get(key) : undefined;
      if (cached) {
        const sidecar = { url: sidecarUrl(record, 'repodata', advertisement.sha256), method: 'repodata' as const, sha256: advertisement.sha256 };
        return { ...found, sidecar, evidence: { kind: 'bundles', outcomes: cached } };
      }
    }
  }

  const result = await (early ?? sidecarOrFailure(pkg, res, advertisement));
  if (result.state === 'none') return { ...found, evidence: { kind: 'none' } };
  if (result.state === 'failed') return { ...found, evidence: { kind: 'failed', reasons: result.reasons } };
  const sidecar = { url: result.url, method: result.method, sha256: result.sha256 };
  const key = looked?.sha256 === result.sha256 ? looked.key : await keyFor(result.sha256);
  return { ...found, sidecar, evidence: { kind: 'sidecar', bundles: result.bundles, packageSha256: digest.sha256, key, ...(result.bytes ? { bytes: result.bytes } : {}) } };
}

/** Whether retrieving `pkg` starts by hashing its bytes (as below: checks enabled, a well-formed name, no digest given). */
export function hashesBytes(pkg: ResolvedPackage): boolean {
  return !pkg.given && pkg.policy.enabled && !packageNameProblem(pkg.record.name, pkg.record.filename);
}

/** The package digest hashed from the bytes (local file or URL) in one streamed pass. */
async function hashOf(pkg: ResolvedPackage, res: RunResources, onBytes: () => void): Promise<PackageDigest> {
  const { sha256, md5 } = await res.hashPackage(pkg.record, onBytes);
  return { sha256, source: 'artifact', ...(md5 ? { md5 } : {}) };
}

/** The sidecar, or why it could not be retrieved (never rejects). */
async function sidecarOrFailure(pkg: ResolvedPackage, res: RunResources, advertisement: Advertisement | undefined): Promise<SidecarResult> {
  try {
    return await sidecarOf(pkg, res, advertisement);
  } catch (e) {
    return { state: 'failed', reasons: [reasonFromError(e, 'SIDECAR_UNAVAILABLE')], method: 'repodata' };
  }
}

/**
 * Discovery during a download; when it finds bundles whose verdict is not cached under the
 * digest the record expects, the verification pool starts loading too (sigstore-js, the
 * trust material: ~150 ms of CPU that used to follow the last byte).
 */
async function discoverWhileHashing(pkg: ResolvedPackage, res: RunResources): Promise<SidecarResult> {
  const result = await sidecarOrFailure(pkg, res, undefined);
  const expected = pkg.record.sha256;
  if (result.state === 'found' && result.bundles.length > 0) {
    res.warmPool?.({ trustedKeys: pkg.policy.trustedKeys, requireTlog: pkg.policy.requireTlog }, (trustRootDigest) => Boolean(expected && res.verdicts?.get(keyOf(pkg, expected, result.sha256, trustRootDigest, res.productVersion))));
  }
  return result;
}

/** The sidecar: given by the caller (`--sigs`), or discovered in the policy's order. */
async function sidecarOf(pkg: ResolvedPackage, res: RunResources, advertisement: Advertisement | undefined): Promise<SidecarResult> {
  const { sigs, http, config } = res;
  if (typeof sigs === 'object') return { state: 'found', method: 'given', url: sigs.url, sha256: sigs.sha256, bundles: sigs.bundles };
  if (sigs) return res.loadGivenSidecar(sigs);
  const deps = { http, repodata: res.repodata, maxBytes: config.maxSidecarBytes, sidecarCache: res.sidecars };
  return fetchSidecar(pkg.record, pkg.policy.discovery, deps, advertisement);
}

/**
 * Verdicts depend only on their inputs (sidecar, package digest and name, channels, trust
 * root, policy, product version), so unchanged inputs are never verified twice.
 */
async function verdictKeyFor(pkg: ResolvedPackage, packageSha256: string, sidecarSha256: string, res: RunResources): Promise<string | null> {
  if (!res.verdicts) return null;
  return keyOf(pkg, packageSha256, sidecarSha256, (await res.trustRoot()).digest, res.productVersion);
}

function keyOf(pkg: ResolvedPackage, packageSha256: string, sidecarSha256: string, trustRootDigest: string, productVersion: string): string {
  return verdictKey({
    sidecarSha256,
    packageSha256,
    filename: pkg.record.filename,
    channel: pkg.canonical,
    acceptedChannels: pkg.acceptedChannels,
    trustRootDigest,
    policyDigest: policyDigest(pkg.policy),
    productVersion,
  });
}
