// The browser host of the verification session (src/session.ts): the same stages, policy
// and lock decisions as under Node, over the page's adapters — transport is the page's
// `fetch`, repodata is read whole per subdir (no disk cache), bundles are verified in the
// page's thread (no workers), the trust root is embedded or given (no TUF), and the
// identity lockfile is a storage adapter the page gives (or memory for the run).
import pkg from '../../package.json' with { type: 'json' };
import { HttpError, RepodataError } from '../errors.ts';
import type { HttpClient } from '../http/client.ts';
import type { RepodataStore } from '../channel/repodata.ts';
import { entryFromRaw } from '../channel/repodata-index.ts';
import { emptyLock, type Lock } from '../lock/types.ts';
import { parseLock, serializeLock } from '../lock/text.ts';
import { type LockStore, type OpenedResources, type PipelineSession, checkTrustRootAge, createSessionOn } from '../session.ts';
import type { VerifySessionOptions } from '../session-types.ts';
import type { RunResources } from '../stages/resources.ts';
import type { TrustedKey } from '../types.ts';
import { verifyAttestations } from '../verify/attestations.ts';
import type { VerifyPool } from '../verify/pool.ts';
import type { LoadedTrustRoot } from '../verify/trust-root-validate.ts';
import { type BundleVerifier, createVerifier } from '../verify/verifier.ts';

/** Where the page keeps the identity lockfile's text (IndexedDB, a JupyterLite contents file, …). */
export interface LockfileStorage {
  /** The lockfile text, or undefined when there is none yet. */
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** What fetch failures mean in a page: the browser hides the cause, and CORS is the usual one. */
const CORS_HINT =
  'In a browser this is usually CORS: the channel must serve its repodata and .sigs sidecars with Access-Control-Allow-Origin, like its packages (docs/browser.md).';

/** The transport adapter: GET through the page's fetch, capped, with the Node client's error codes. */
export function fetchHttpClient(fetchFn: FetchFn): HttpClient {
  let requests = 0;
  const get = async (url: string, opts: { maxBytes?: number }) => {
    requests++;
    let res: Response;
    try {
      res = await fetchFn(url, { credentials: 'omit' });
    } catch (e) {
      throw new HttpError('HTTP_CONNECTION_FAILED', `${url} could not be fetched (${e instanceof Error ? e.message : String(e)}).`, { hint: CORS_HINT, cause: e });
    }
    if (!res.ok) {
      const err = new HttpError(res.status === 404 ? 'HTTP_NOT_FOUND' : 'HTTP_STATUS', `${url} answered HTTP ${res.status}.`, {
        hint: res.status === 404 ? undefined : 'Check the channel URL; try again later if the server is failing.',
      });
      err.status = res.status;
      throw err;
    }
    const body = new Uint8Array(await res.arrayBuffer());
    if (opts.maxBytes !== undefined && body.length > opts.maxBytes) {
      throw new HttpError('HTTP_TOO_LARGE', `${url} is larger than ${opts.maxBytes} bytes.`, { hint: 'Raise the size cap only if the channel really serves files this large.' });
    }
    return { status: res.status, headers: {}, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength), url: res.url || url };
  };
  const unsupported = (): never => {
    throw new HttpError('HTTP_BAD_URL', 'This request is not made by the browser build.', { hint: 'Give the package digest (the plugin always does).' });
  };
  return {
    get,
    getCached: unsupported,
    getCachedStream: unsupported,
    downloadAndHash: unsupported,
    forward: unsupported,
    openHosts: () => [],
    get stats() {
      return { requests };
    },
    findings: () => ({ hostsCutOff: [] }),
    close() {},
  } as HttpClient;
}

/** Repodata adapter: `<channel>/<subdir>/repodata.json`, read once per subdir for the run. */
function fetchRepodata(http: HttpClient, maxBytes: number): RepodataStore {
  const docs = new Map<string, Promise<Record<string, Record<string, { attestations_sha256?: unknown; sha256?: string; size?: number; md5?: string }>>>>();
  let fetches = 0;
  const load = (url: string) => {
    let p = docs.get(url);
    if (!p) {
      fetches++;
      p = http.get(url, { maxBytes }).then(
        (r) => JSON.parse(r.body.toString('utf8')),
        (e: unknown) => {
          throw new RepodataError('REPODATA_UNAVAILABLE', `${url} could not be read.`, { hint: e instanceof HttpError ? e.hint : undefined, cause: e });
        },
      );
      docs.set(url, p);
    }
    return p;
  };
  return {
    async lookup(channel, subdir, filename) {
      const url = `${channel.replace(/\/+$/, '')}/${subdir}/repodata.json`;
      const doc = await load(url);
      const raw = doc?.[filename.endsWith('.conda') ? 'packages.conda' : 'packages']?.[filename];
      if (!raw || typeof raw !== 'object') return undefined;
      return entryFromRaw({ sha256: raw.sha256, md5: raw.md5, size: raw.size, att: raw.attestations_sha256 }, filename, url);
    },
    sourceOf: () => 'json',
    get stats() {
      return { fetches, notModified: 0, shardFetches: 0, shardCacheHits: 0, bytes: 0, recordListScans: 0 };
    },
    stale: () => [],
  };
}

/** Verification in the page's thread, one verifier per policy (self-managed keys, require_tlog). */
function inPagePool(root: LoadedTrustRoot): VerifyPool {
  const verifiers = new Map<string, BundleVerifier>();
  const stats = { inProcess: 0, inWorkers: 0, workersStarted: 0, workerDeaths: 0, cloneFallbacks: 0 };
  return {
    async verifyAttestations(bundles, expectation, policy) {
      const trustedKeys: TrustedKey[] = policy.trustedKeys ?? [];
      const requireTlog = policy.requireTlog ?? true;
      const key = JSON.stringify([requireTlog, trustedKeys.map((k) => k.pem)]);
      let v = verifiers.get(key);
      if (!v) verifiers.set(key, (v = createVerifier({ trustRoot: root, trustedKeys, requireTlog })));
      stats.inProcess++;
      return verifyAttestations(bundles, expectation, v);
    },
    close: async () => {},
    size: 1,
    stats,
  };
}

/** The lockfile through the page's storage adapter, or in memory for the run. */
function storageLock(storage: LockfileStorage | undefined, name: string): LockStore {
  let memory: string | undefined;
  const read = async (): Promise<string | undefined> => (storage ? storage.read() : memory);
  return {
    path: name,
    exists: async () => (await read()) !== undefined,
    read: async () => {
      const text = await read();
      return text === undefined ? emptyLock() : parseLock(text, name);
    },
    async update(mutate) {
      const text = await read();
      const current: Lock = text === undefined ? emptyLock() : parseLock(text, name);
      const next = mutate(current);
      if (next === null) return false;
      const out = serializeLock(next);
      parseLock(out, `${name} (about to be written)`); // never store what could not be read back
      if (out === text) return false;
      if (storage) await storage.write(out);
      else memory = out;
      return true;
    },
  };
}

export interface BrowserSessionOptions extends VerifySessionOptions {
  fetch: FetchFn;
  trustRoot: () => LoadedTrustRoot;
  lockStorage?: LockfileStorage;
}

/** A verification session over the page's adapters. */
export function createBrowserSession(options: BrowserSessionOptions): Promise<PipelineSession> {
  const lockName = options.lockStorage ? 'identity lockfile (storage adapter)' : 'identity lockfile (in memory for this run: no storage adapter given)';
  const openResources = (): OpenedResources => {
    const { config } = options;
    const http = fetchHttpClient(options.fetch);
    let root: LoadedTrustRoot | undefined;
    let used = false;
    const trustRoot = async (): Promise<LoadedTrustRoot> => (root ??= checkTrustRootAge(options.trustRoot(), config));
    let pool: VerifyPool | undefined;
    const resources: RunResources = {
      config,
      http,
      repodata: fetchRepodata(http, 256 * 1024 ** 2),
      sidecars: undefined,
      verdicts: null,
      sigs: undefined,
      trustRoot: () => ((used = true), trustRoot()),
      pool: async () => (pool ??= inPagePool(await resources.trustRoot())),
      // The plugin always gives the digest of the bytes it downloaded, and there is no --sigs.
      hashPackage: async () => {
        throw new HttpError('HTTP_BAD_URL', 'The browser build verifies the bytes the host downloaded: a package without them cannot be hashed here.', { hint: 'Verify packages through wrapUntarjs, wrapFetch or the plugin.' });
      },
      loadGivenSidecar: async () => {
        throw new HttpError('HTTP_BAD_URL', 'A sidecar given by path is not available in the browser build.', { hint: 'Let the plugin discover sidecars from the channel.' });
      },
      productVersion: pkg.version,
    };
    return {
      resources,
      loadTrustRoot: trustRoot,
      close: async () => ({ root: used ? root : undefined, warnings: [], notices: [] }),
    };
  };
  return createSessionOn(options, { openResources, lock: storageLock(options.lockStorage, lockName) });
}
