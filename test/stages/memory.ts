// In-memory resources for the stages (src/stages/resources.ts): a stub transport over a
// map of URL → bytes, repodata records by filename, a verdict cache in a Map, and a stub
// verification pool standing in for the crypto adapter. Each stage runs in milliseconds,
// with no loopback server, no disk and no Sigstore instance; what the stage asked its
// resources for is recorded, so a test can say what was (not) fetched or verified.
import { createHash } from 'node:crypto';
import { HttpError } from '../../src/errors.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import type { RepodataEntry } from '../../src/channel/repodata-index.ts';
import type { RepodataStore } from '../../src/channel/repodata.ts';
import type { RunResources } from '../../src/stages/resources.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import type { BundleOutcome, PackageRecord, ResolvedConfig, SignerIdentity } from '../../src/types.ts';
import type { PublishExpectation } from '../../src/verify/cep27.ts';
import type { VerifyPool } from '../../src/verify/pool.ts';
import type { LoadedTrustRoot } from '../../src/verify/trust-root-validate.ts';

export const CH = 'https://conda.example/forge';
export const MIRROR = 'https://mirror.example/forge';
export const GH = 'https://token.actions.githubusercontent.com';
export const WORKFLOW = 'https://github.com/org/pkg-feedstock/.github/workflows/build.yml@refs/heads/main';
export const STRANGER = 'https://github.com/evil/pkg-feedstock/.github/workflows/build.yml@refs/heads/main';

export const sha = (bytes: string | Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The resolved configuration of `channels` (written as in a config file) for CH. */
export function config(channel: Record<string, unknown> = {}, top: Record<string, unknown> = {}): ResolvedConfig {
  const policy = { require: 'error', trusted_identities: [{ identity: 'https://github.com/org/*-feedstock/**', issuer: GH }], ...channel };
  return resolveConfig({ channels: { [CH]: policy }, ...top }, '/mem', undefined, { env: { HOME: '/mem' } });
}

/** A package record under `channel` (no lockfile digest unless given). */
export function record(name = 'pkg', channel = CH, over: Partial<PackageRecord> = {}): PackageRecord {
  return { ...recordFromUrl(`${channel}/linux-64/${name}-1.0-h0_0.conda`), ...over };
}

export const identity = (san = WORKFLOW): SignerIdentity => ({ kind: 'github', san, issuer: GH });

/** A verified CEP 27 publish attestation's outcome. */
export function verifiedOutcome(san = WORKFLOW, index = 0): BundleOutcome {
  return { index, publish: true, verified: true, identity: identity(san), tlog: true, predicateType: 'https://schemas.conda.org/attestations-publish-1.schema.json', reasons: [] };
}

export interface MemoryResources extends RunResources {
  /** URLs the transport was asked for, in order. */
  requests: string[];
  /** Repodata lookups, as `<channel>/<subdir>/<filename>`. */
  lookups: string[];
  /** What the stub pool was asked to verify. */
  verified: { bundles: unknown[]; expectation: PublishExpectation }[];
  /** The verdict cache's contents. */
  cache: Map<string, BundleOutcome[]>;
  /** Requests made by the time each package download finished hashing (`requests.length`). */
  hashedAfter: number[];
  /** Policies the pool was warmed for (warmPool calls whose `skip` said no). */
  warmed: unknown[];
}

export interface MemoryOptions {
  config?: ResolvedConfig;
  /** URL → body; an Error is thrown as is; anything absent answers 404. */
  files?: Record<string, string | Uint8Array | Error>;
  /** Repodata records by filename (any channel and subdir); an Error is thrown by the lookup. */
  repodata?: Record<string, RepodataEntry | Error>;
  /** Whether the run has a verdict cache (default true). */
  cache?: boolean;
  /** The stub crypto adapter: outcomes for a sidecar's bundles (default: every bundle verified by WORKFLOW). */
  verify?: (bundles: unknown[], expectation: PublishExpectation) => BundleOutcome[];
}

export function memoryResources(o: MemoryOptions = {}): MemoryResources {
  const requests: string[] = [];
  const lookups: string[] = [];
  const verified: MemoryResources['verified'] = [];
  const cache = new Map<string, BundleOutcome[]>();
  const hashedAfter: number[] = [];
  const warmed: unknown[] = [];
  const body = (url: string): Buffer => {
    requests.push(url);
    const f = o.files?.[url];
    if (f instanceof Error) throw f;
    if (f === undefined) throw new HttpError('HTTP_NOT_FOUND', `${url} answered 404 Not Found.`, { status: 404 });
    return Buffer.from(f);
  };
  const repodata: RepodataStore = {
    async lookup(channel, subdir, filename) {
      lookups.push(`${channel}/${subdir}/${filename}`);
      const r = o.repodata?.[filename];
      if (r instanceof Error) throw r;
      return r;
    },
    sourceOf: () => 'json',
    stats: { fetches: 0, notModified: 0, shardFetches: 0, shardCacheHits: 0, bytes: 0, recordListScans: 0 },
    stale: () => [],
  };
  const pool: VerifyPool = {
    async verifyAttestations(bundles, expectation) {
      verified.push({ bundles, expectation });
      return o.verify ? o.verify(bundles, expectation) : bundles.map((_, i) => verifiedOutcome(WORKFLOW, i));
    },
    close: async () => {},
    size: 1,
    stats: { inProcess: 0, inWorkers: 0, workersStarted: 0, workerDeaths: 0, cloneFallbacks: 0 },
  };
  const root = { source: 'memory', digest: sha('root'), ageDays: 0 } as unknown as LoadedTrustRoot;
  return {
    config: o.config ?? config(),
    http: { get: async (url) => ({ status: 200, headers: {}, body: body(url), url }) },
    repodata,
    sidecars: undefined,
    verdicts: o.cache === false ? null : { get: (k) => cache.get(k), set: (k, v) => void cache.set(k, v), flush: async () => {}, dirty: false, warnings: [] },
    sigs: undefined,
    trustRoot: async () => root,
    pool: async () => pool,
    warmPool(policy, skip) {
      if (!skip?.(root.digest)) warmed.push(policy);
    },
    async hashPackage(r, onBytes) {
      const b = body(r.url);
      // As the Node host: the server has answered, the bytes stream for a while.
      onBytes?.();
      await new Promise((next) => setTimeout(next, 5));
      hashedAfter.push(requests.length);
      return { sha256: sha(b), size: b.length, md5: createHash('md5').update(b).digest('hex') };
    },
    loadGivenSidecar: async () => {
      throw new Error('no --sigs in memory');
    },
    productVersion: '0.0.0-test',
    requests,
    lookups,
    verified,
    cache,
    hashedAfter,
    warmed,
  };
}
