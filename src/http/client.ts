// The Node transport adapter: the layers of ./layers.ts stacked around one exchange
// (./transport.ts), so that no stall is unbounded —
//
//   retry → limit → redirect → breaker → deadline → transport
//
// — and the requests the product makes through them: a capped GET, a conditional GET
// (ETag / Last-Modified, Cache-Control max-age), a streamed one, a download hashed on the
// way (written atomically when asked), and a proxy's pass-through.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { openAtomicWrite } from '../store/atomic.ts';
import { AttestError } from '../errors.ts';
import type { Outage } from '../types.ts';
import { HashingCounter, type StreamDigest, TooLargeSignal } from './hashing.ts';
import { breaker, deadline, limit, redirect, retry } from './layers.ts';
import { takeBody } from './socket-reads.ts';
import { type Consume, type Req, type WaitEvent, capped, collect, decodedBody, earlyCap, httpError, openTransport, parseHttpUrl } from './transport.ts';

export interface HttpClientOptions {
  connectTimeoutMs: number;
  /** Limit for one attempt, from sending the request to the last body byte. */
  totalTimeoutMs: number;
  /** Extra attempts after the first, on 5xx and connection errors only. */
  retries: number;
  /** Default `conda-attest`. */
  userAgent?: string;
  /** Refuse every request (HTTP_OFFLINE). */
  offline?: boolean;
  /** Requests in flight at once (default 16); also the keep-alive pool size per host. */
  maxConcurrency?: number;
  /** First backoff delay; doubles per retry, with jitter (default 250 ms). */
  retryDelayMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  /**
   * An attempt that receives no byte for this long fails like a connection error (and is
   * retried within `retries`). Default 30000.
   */
  idleTimeoutMs?: number;
  /** Epoch ms: the run's deadline. Later, no request is sent and running ones fail. */
  deadline?: number;
  /** For the message when the deadline passes (how it was configured). */
  deadlineLabel?: string;
  /**
   * Consecutive stalls or connection failures of one host after which its remaining
   * requests fail at once with the same cause. Default 3.
   */
  hostFailureLimit?: number;
  /**
   * A server never finishes a run: when set, an open breaker half-opens after this many ms
   * (one request is let through; its failure opens the breaker again, its success closes it).
   * Unset: the breaker stays open for the rest of the run (the CLI's rule).
   */
  hostCoolDownMs?: number;
  /** Where HTTP(S)_PROXY and NO_PROXY are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** What the run waits for, as it waits (./transport.ts WaitEvent): for a progress line. */
  onWait?: (e: WaitEvent) => void;
  /** After how long without an answer `onWait` is told (default 5000 ms). */
  waitNoticeMs?: number;
}

interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** URL after redirects. */
  url: string;
}

interface GetOptions {
  maxBytes: number;
  headers?: Record<string, string>;
}

/** What a conditional GET needs to remember about a previous answer. */
export interface CacheValidators {
  etag?: string;
  lastModified?: string;
  /** Epoch ms until which `Cache-Control: max-age` says the stored copy is fresh. */
  expiresAt?: number;
}

interface CachedGetResult {
  /** True when the stored copy is still good (304, or fresh under max-age: no request). */
  notModified: boolean;
  /** The new body when `notModified` is false. */
  body?: Buffer;
  validators: CacheValidators;
}

/** A conditional GET whose 200 body went to a consumer (`getCachedStream`). */
type CachedStreamResult<T> = { notModified: true; validators: CacheValidators } | { notModified: false; value: T; validators: CacheValidators };

interface DownloadOptions {
  maxBytes?: number;
  /** Lowercase hex; a mismatch deletes the partial file and throws PACKAGE_DIGEST_MISMATCH. */
  expectedSha256?: string;
  /** Write the bytes here (atomically: temp file + rename) while hashing. */
  dest?: string;
  /** Also compute MD5 in the same pass. */
  md5?: boolean;
  /** Override of totalTimeoutMs for big packages. */
  totalTimeoutMs?: number;
  /** Called when a 2xx answer's body is about to be read (on every attempt). */
  onBytes?: () => void;
  /** Abandons the download (no retry after it): for a download started ahead of the checks that may yet fail the run. */
  signal?: AbortSignal;
}

interface ForwardOptions {
  headers: Record<string, string>;
  /** Override of totalTimeoutMs (a server's per-request deadline). */
  totalTimeoutMs?: number;
}

export interface HttpClient {
  get(url: string, opts: GetOptions): Promise<HttpResponse>;
  getCached(url: string, cached: CacheValidators | undefined, opts: GetOptions): Promise<CachedGetResult>;
  /**
   * `getCached`, streamed: a 200 answer's body (content-decoded, capped at `maxBytes`) is
   * handed to `consume` chunk by chunk inside the request's timeout and concurrency slot,
   * so it never has to exist whole. On a retry `consume` runs again from the start; an
   * AttestError it throws ends the request as is.
   */
  getCachedStream<T>(
    url: string,
    cached: CacheValidators | undefined,
    opts: GetOptions,
    consume: (body: AsyncIterable<Buffer>) => Promise<T>,
  ): Promise<CachedStreamResult<T>>;
  downloadAndHash(url: string, opts?: DownloadOptions): Promise<StreamDigest>;
  /**
   * A GET whose response (any status below 500 except redirects, which are followed) is
   * handed to `consume` as received: headers and raw body, no content decoding, no cap, so
   * a proxy can pass it on byte for byte. 5xx and connection failures are retried only
   * until `consume` has been called (bytes may have gone on by then).
   */
  forward<T>(url: string, opts: ForwardOptions, consume: (res: IncomingMessage, finalUrl: string) => Promise<T>): Promise<T>;
  /** Hosts whose breaker is open now (sorted), for a server's health answer. */
  openHosts(): string[];
  /** Attempts sent so far (retries and redirects included). */
  readonly stats: { requests: number };
  /**
   * What cut requests short in this run, for its run-level notices: hosts whose breaker
   * opened (with the cause their requests failed with), and whether the run's deadline
   * stopped any request.
   */
  findings(): HttpRunFindings;
  /** Close idle keep-alive sockets. */
  close(): void;
}

export interface HttpRunFindings {
  /** Hosts cut off after repeated stalls or connection failures, sorted by host. */
  hostsCutOff: { host: string; message: string; hint?: string; outage: Outage }[];
  /** The deadline's description (e.g. "3600 s") when it stopped at least one request. */
  deadline?: string;
}

/** Pure: validators and freshness from response headers. `no-store`/`no-cache` → no freshness. */
function cacheValidatorsFrom(headers: IncomingHttpHeaders, now: number): CacheValidators {
  const v: CacheValidators = {};
  if (typeof headers.etag === 'string') v.etag = headers.etag;
  if (typeof headers['last-modified'] === 'string') v.lastModified = headers['last-modified'];
  const cc = typeof headers['cache-control'] === 'string' ? headers['cache-control'].toLowerCase() : '';
  const m = /(?:^|[,\s])max-age=(\d+)/.exec(cc);
  if (m && !/no-store|no-cache/.test(cc)) v.expiresAt = now + Number(m[1]) * 1000;
  return v;
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const concurrency = Math.max(1, opts.maxConcurrency ?? 16);
  const transport = openTransport({
    connectTimeoutMs: opts.connectTimeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
    sockets: concurrency,
    userAgent: opts.userAgent ?? 'conda-attest',
    env: opts.env ?? process.env,
    ...(opts.onWait ? { onWait: opts.onWait, waitNoticeMs: opts.waitNoticeMs } : {}),
  });
  const hosts = breaker({ limit: Math.max(1, opts.hostFailureLimit ?? 3), coolDownMs: opts.hostCoolDownMs });
  const clock = deadline({ totalTimeoutMs: opts.totalTimeoutMs, deadline: opts.deadline, label: opts.deadlineLabel });
  const layers = [
    retry({ retries: opts.retries, delayMs: opts.retryDelayMs ?? 250, deadline: opts.deadline }),
    limit(concurrency),
    redirect(opts.maxRedirects ?? 5),
    hosts.layer,
    clock.layer,
  ];
  const send = layers.reduceRight((next, layer) => layer(next), transport.send);

  /** One request through the layers (none at all offline). */
  async function request<T>(url: string, o: Omit<Req, 'url' | 'counted'>, consume: Consume<T>): Promise<T> {
    if (opts.offline) {
      throw httpError('HTTP_OFFLINE', `${url} was not requested: offline mode sends no request (--offline).`, { outage: { host: '--offline', cause: 'no network access', url } });
    }
    return send({ ...o, url: parseHttpUrl(url), counted: new Set() }, consume);
  }

  const client: HttpClient = {
    stats: transport.stats,
    findings() {
      const hit = clock.hit();
      return { hostsCutOff: hosts.cutOff(), ...(hit ? { deadline: hit } : {}) };
    },
    get(url, o) {
      return request(url, { headers: o.headers ?? {} }, async (res, finalUrl) => {
        earlyCap(res, o.maxBytes, finalUrl);
        const body = await collect(capped(decodedBody(res, finalUrl), o.maxBytes, finalUrl));
        return { status: res.statusCode ?? 0, headers: res.headers, body, url: finalUrl };
      });
    },

    async getCached(url, cached, o) {
      const r = await client.getCachedStream(url, cached, o, collect);
      return r.notModified ? r : { notModified: false, body: r.value, validators: r.validators };
    },

    async getCachedStream(url, cached, o, consume) {
      // Cache-Control: max-age — a fresh copy needs no request at all.
      if (cached?.expiresAt !== undefined && cached.expiresAt > Date.now()) return { notModified: true, validators: cached };
      const headers: Record<string, string> = { ...o.headers };
      if (cached?.etag) headers['if-none-match'] = cached.etag;
      if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
      return request(url, { headers, allow304: cached !== undefined }, (res, finalUrl) => conditionalAnswer(res, finalUrl, cached, o.maxBytes, consume));
    },

    downloadAndHash(url, o = {}) {
      // Packages are hashed as stored: no transfer coding may sit between us and the bytes.
      const { signal } = o;
      const abortable = signal ? { signal, mayRetry: () => !signal.aborted } : {};
      return request(url, { headers: { 'accept-encoding': 'identity' }, totalTimeoutMs: o.totalTimeoutMs, ...abortable }, (res, finalUrl) => hashBody(res, finalUrl, o));
    },

    forward(url, o, consume) {
      let consumed = false;
      // Nothing of the caller's request goes upstream unless named here (no credentials, no cookies).
      const headers = { 'accept-encoding': 'identity', ...o.headers };
      return request(url, { headers, passStatus: true, totalTimeoutMs: o.totalTimeoutMs, mayRetry: () => !consumed }, (res, finalUrl) => {
        consumed = true;
        return consume(res, finalUrl);
      });
    },

    openHosts: hosts.openHosts,
    close: transport.close,
  };
  return client;
}

/** A conditional GET's answer: 304 (the stored copy, validators kept) or a 200 body handed to `consume`. */
async function conditionalAnswer<T>(
  res: IncomingMessage,
  finalUrl: string,
  cached: CacheValidators | undefined,
  maxBytes: number,
  consume: (body: AsyncIterable<Buffer>) => Promise<T>,
): Promise<CachedStreamResult<T>> {
  const fresh = cacheValidatorsFrom(res.headers, Date.now());
  if (res.statusCode === 304) {
    res.resume();
    // A 304 may omit validators; keep the ones that matched.
    return { notModified: true, validators: { etag: cached?.etag, lastModified: cached?.lastModified, ...stripUndefined(fresh) } };
  }
  earlyCap(res, maxBytes, finalUrl);
  const value = await consume(capped(decodedBody(res, finalUrl), maxBytes, finalUrl));
  return { notModified: false, value, validators: fresh };
}

/** A package's bytes, hashed as received and written to `o.dest` (atomically) when asked. */
async function hashBody(res: IncomingMessage, finalUrl: string, o: DownloadOptions): Promise<StreamDigest> {
  const maxBytes = o.maxBytes ?? Number.POSITIVE_INFINITY;
  earlyCap(res, maxBytes, finalUrl);
  const enc = res.headers['content-encoding'];
  if (enc !== undefined && enc !== 'identity') {
    res.destroy();
    throw httpError('HTTP_STATUS', `${finalUrl} was sent with Content-Encoding "${enc}" although identity was asked for.`, { status: res.statusCode });
  }
  const counter = new HashingCounter({ maxBytes, md5: o.md5 });
  o.onBytes?.();
  // Not fsynced: a download lost to a power cut is downloaded again.
  const out = o.dest ? await openAtomicWrite(o.dest, { durable: false }) : undefined;
  try {
    if (out) await pipeline(res, counter, out.stream);
    else {
      // Hash-only: a large body straight from the socket's read buffer when its framing
      // allows (./socket-reads.ts takeBody): no parser copy, response stream or garbage per
      // read (measured, 64 MiB over loopback: bare client 150 → 75 ms CPU; `verify --download`,
      // 9 interleaved runs, load 3-4: process CPU 570 → 500 ms, peak RSS 77 → 75 MB). Else a
      // plain loop, no stream plumbing per chunk (measured ~15% faster than a pipeline).
      const taken = takeBody(res, (chunk, own) => counter.add(chunk, own));
      if (taken) await taken;
      else for await (const chunk of res) counter.add(chunk as Buffer);
    }
  } catch (e) {
    await out?.abort();
    if (e instanceof TooLargeSignal) throw httpError('HTTP_TOO_LARGE', `${finalUrl} is larger than the ${maxBytes}-byte cap.`);
    const code = (e as NodeJS.ErrnoException).code;
    if (out && code && /^E(NOSPC|ACCES|PERM|ROFS|NOENT|ISDIR|DQUOT)$/.test(code)) {
      throw httpError('HTTP_WRITE_FAILED', `Writing ${o.dest} failed: ${code}.`, { cause: e });
    }
    throw e;
  }
  const digest = counter.digest();
  if (o.expectedSha256 !== undefined && digest.sha256 !== o.expectedSha256.toLowerCase()) {
    await out?.abort();
    throw new AttestError('PACKAGE_DIGEST_MISMATCH', `${finalUrl} has SHA-256 ${digest.sha256}, expected ${o.expectedSha256}.`, {
      hint: 'The package differs from the one recorded; do not install it.',
    });
  }
  await out?.commit();
  return digest;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
