// A generic wrapper for Node code that downloads conda packages with a `fetch`-like
// function: responses for conda package URLs are read (hashed while streaming), verified by
// the plugins, and only then handed back as a fresh Response over the verified bytes.
// Everything else passes through untouched.
import type { PackageRecord, Report } from '../../src/types.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import { SHA256_HEX } from '../contract.ts';
import type { DownloadFn } from '../contract.ts';
import { httpStatusError, readHashed } from './download.ts';
import { expectLockedDigest, finishRun, isPackageUrl, recordOrRefuse, toLoadedPlugins } from './kit.ts';
import type { Verifier } from './kit.ts';

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface WrapFetchOptions {
  /**
   * What the caller knows about a package URL (expected `sha256`, `size`,
   * `attestationsSha256` from its lockfile or repodata). Called once per package request.
   */
  lookup?: (url: string) => Partial<Pick<PackageRecord, 'sha256' | 'size' | 'attestationsSha256' | 'channel'>> | undefined;
}

/** A fetch that verifies conda packages, plus the end-of-run hook. */
export type VerifyingFetch = FetchFn & { afterInstall(): Promise<Report | undefined> };

interface Call {
  input: string | URL | Request;
  init: RequestInit | undefined;
  /** Set when the server answered non-2xx: handed back to the caller as is. */
  notOk?: Response;
}

/** Thrown through the plugin chain when there are no package bytes to verify. */
class NotOk extends Error {}

/**
 * Wrap `fetchFn`. GET requests for conda package URLs resolve to a Response over the
 * verified bytes, or reject with PackageBlockedError; a non-2xx answer is returned as is
 * (there are no package bytes to extract). A package URL that cannot be parsed into a
 * record (e.g. a query string) is rejected rather than passed through unverified.
 */
export function wrapFetch(fetchFn: FetchFn, verifier: Verifier, options: WrapFetchOptions = {}): VerifyingFetch {
  const plugins = toLoadedPlugins(verifier);
  // Per-request state, found by the (frozen) record the request passes down the chain: the
  // loader hands frozen records on unchanged. A plugin that passes a copy instead is matched
  // by URL. (No AsyncLocalStorage: the same adapter runs in the browser build.)
  const calls = new WeakMap<object, Call>();
  const pending = new Map<string, Call[]>();
  // The original response of each downloaded body, to copy status and headers from.
  const responses = new WeakMap<Uint8Array, Response>();
  // The host-side download: the caller's own request (headers, credentials) through the
  // caller's fetch. Composed with the plugins once; per-request state rides in `calls`.
  const base: DownloadFn = async ({ record }) => {
    const call = calls.get(record) ?? pending.get(record.url)?.[0];
    if (!call) throw new Error('wrapFetch: download step called outside a request');
    const res = await fetchFn(call.input, call.init);
    if (!res.ok) {
      call.notOk = res;
      throw new NotOk(httpStatusError(res, record.url).message);
    }
    const downloaded = await readHashed(res, { url: record.url, maxBytes: record.size });
    responses.set(downloaded.bytes, res);
    return downloaded;
  };
  const download = plugins.wrapDownload(base);

  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (method !== 'GET' || !isPackageUrl(url)) return fetchFn(input, init);
    const record = recordOrRefuse(url, (u) => recordFor(u, options));
    const call: Call = { input, init };
    const frozen = Object.freeze({ ...record });
    calls.set(frozen, call);
    const same = pending.get(frozen.url) ?? [];
    pending.set(frozen.url, [...same, call]);
    let bytes: Uint8Array;
    try {
      ({ bytes } = expectLockedDigest(frozen, await download({ record: frozen })));
    } catch (e) {
      if (call.notOk) return call.notOk;
      throw e;
    } finally {
      const left = (pending.get(frozen.url) ?? []).filter((c) => c !== call);
      if (left.length) pending.set(frozen.url, left);
      else pending.delete(frozen.url);
    }
    return verifiedResponse(bytes, responses.get(bytes), url);
  };
  return Object.assign(wrapped, { afterInstall: () => finishRun(plugins) });
}

function recordFor(url: string, options: WrapFetchOptions): PackageRecord {
  const record = recordFromUrl(url, 'a fetched URL');
  const known = options.lookup?.(url) ?? {};
  const sha256 = known.sha256?.toLowerCase();
  return {
    ...record,
    ...(known.channel ? { channel: known.channel.replace(/\/+$/, '') } : {}),
    ...(sha256 && SHA256_HEX.test(sha256) ? { sha256 } : {}),
    ...(typeof known.size === 'number' ? { size: known.size } : {}),
    ...(known.attestationsSha256 ? { attestationsSha256: known.attestationsSha256 } : {}),
  };
}

/** A Response over the verified bytes, keeping the original status and headers. */
function verifiedResponse(bytes: Uint8Array, original: Response | undefined, url: string): Response {
  const headers = new Headers(original?.headers);
  // The body is already decoded and complete: the transfer headers no longer describe it.
  headers.delete('content-encoding');
  headers.delete('transfer-encoding');
  headers.set('content-length', String(bytes.byteLength));
  const res = new Response(bytes as Uint8Array<ArrayBuffer>, {
    status: original?.status ?? 200,
    statusText: original?.statusText ?? 'OK',
    headers,
  });
  Object.defineProperty(res, 'url', { value: original?.url || url });
  return res;
}
