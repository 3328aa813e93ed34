// What the stages may use: the run's adapters (transport, repodata, caches, trust root,
// verification pool), chosen by the host (docs/architecture.md "Core, adapters, hosts").
// Owned, opened and closed by the session; the stages only call them.
import type { SidecarCache } from '../cache/sidecar-cache.ts';
import type { VerdictCache } from '../cache/verdict-cache.ts';
import type { RepodataStore } from '../channel/repodata.ts';
import type { HttpClient } from '../http/client.ts';
import type { GivenSidecar } from '../session-types.ts';
import type { StreamDigest } from '../http/hashing.ts';
import type { SidecarResult } from '../sidecar/fetch.ts';
import type { PackageRecord, ResolvedConfig } from '../types.ts';
import type { PoolPolicyOptions, VerifyPool } from '../verify/pool.ts';
import type { LoadedTrustRoot } from '../verify/trust-root.ts';

/** The transport the core needs: one capped GET (the Node client's retry, redirect, breaker and deadline layers sit behind it). */
export type Transport = Pick<HttpClient, 'get'>;

export interface RunResources {
  config: ResolvedConfig;
  http: Transport;
  repodata: RepodataStore;
  /** Content-addressed sidecar cache (CEP 50 sidecars are immutable per hash); absent with --no-cache. */
  sidecars: SidecarCache | undefined;
  /** Outcomes by the hash of everything they depend on; null with --no-cache. */
  verdicts: VerdictCache | null;
  /** A sidecar the caller gave (`--sigs`): discovery is skipped. */
  sigs: string | GivenSidecar | undefined;
  /** The run's trust root, loaded on first use. */
  trustRoot(): Promise<LoadedTrustRoot>;
  /** The run's verification pool, started on first use. */
  pool(): Promise<VerifyPool>;
  /**
   * Hash a package's bytes (a local file or a URL) in one streamed pass, when the caller
   * knows no digest; `onBytes` is called when a server has begun sending them; `signal`
   * abandons a download.
   */
  hashPackage(record: PackageRecord, onBytes?: () => void, signal?: AbortSignal): Promise<StreamDigest>;
  /**
   * Start loading the verification pool and its verifier for `policy` ahead of their first
   * use (not a use of the trust root by itself), unless `skip` says, given the trust root's
   * digest, that they will not be needed.
   */
  warmPool?(policy: PoolPolicyOptions, skip?: (trustRootDigest: string) => boolean): void;
  /** Load the sidecar given as a path or URL (`--sigs`). */
  loadGivenSidecar(pathOrUrl: string): Promise<Extract<SidecarResult, { state: 'found' }>>;
  /** conda-attest's version (part of verdict-cache keys). */
  productVersion: string;
}
