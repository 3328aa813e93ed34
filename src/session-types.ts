// The contract between the verification pipeline (src/pipeline.ts) and its callers:
// the CLI (`conda-attest verify`) and the plugin layer (plugin/). Both feed the same
// pipeline; nothing in it knows who called it.
import type { DigestSource, NotCoveredCounts, PackageRecord, PackageReport, Report, ResolvedConfig } from './types.ts';
import type { WaitEvent } from './http/transport.ts';

/** A sidecar the caller already loaded (e.g. `--sigs FILE`, read and checked once). */
export interface GivenSidecar {
  url: string;
  sha256: string;
  bundles: unknown[];
}

export interface VerifySessionOptions {
  config: ResolvedConfig;
  /** No network at all: repodata, sidecars and packages from caches and local files only (HTTP_OFFLINE otherwise); no TUF refresh. */
  offline?: boolean;
  /** Only the trust root stays offline: never contact the TUF repository (cached or embedded root). */
  noTufRefresh?: boolean;
  /** Override of config.lockfile. */
  lockfile?: string;
  /** CI mode: the identity lockfile must not change; changes are blocked under require: error. */
  frozen?: boolean;
  /** Give the sidecar directly (path or URL) instead of discovering it. */
  sigs?: string | GivenSidecar;
  /** How many packages the caller will verify, when known: sizes the verification pool. */
  expectedPackages?: number;
  /** Bypass the verdict and sidecar caches (neither read nor written). */
  noCache?: boolean;
  /** What the run was asked to check (the report's `inputs`): set by a host that read targets. */
  inputs?: Report['inputs'];
  /** Entries of the targets that conda attestations do not cover (the report's `summary.not_covered`). */
  notCovered?: NotCoveredCounts;
  /** What the network waits for, as it waits (a request with no answer yet): for a progress line. */
  onWait?: (e: WaitEvent) => void;
}

/** The one package digest: what the caller knows (lockfile, host download) or what the bytes hashed to; checked by src/policy/digest.ts. */
export interface PackageDigest {
  /** Lowercase hex SHA-256 of the package bytes. */
  sha256: string;
  /** `artifact` when computed from the bytes, `lockfile` when taken from a lockfile record. */
  source: DigestSource;
  /** Lowercase hex MD5, hashed in the same pass when the record pins one (explicit files `URL#<md5>`, lockfile `md5`). */
  md5?: string;
}

export interface VerifySession {
  /**
   * Discover, retrieve and verify the attestations of one package whose SHA-256 is
   * known, and judge it under its channel's policy. Never throws for package-level
   * problems: they become the report row's status, action and reasons.
   */
  verifyPackage(record: PackageRecord, digest: PackageDigest | null): Promise<PackageReport>;
  /** Assemble the report of every package seen and write the identity lockfile once (unless frozen). */
  finish(): Promise<Report>;
}
