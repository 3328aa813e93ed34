// Thin HTTP adapter over node:http(s): keep-alive agents shared by every request, bounded
// concurrency, connect, idle (no byte for N ms) and whole-transfer timeouts, a streamed size
// cap (Content-Length is only used to reject early, never trusted to bound the read),
// bounded retries with backoff on 5xx, 408, 429 and connection errors (Retry-After honoured,
// RFC 9110 §10.2.3; never on other 4xx), redirects within http(s) that never downgrade
// https → http, HTTP(S)_PROXY / NO_PROXY (./proxy.ts), a per-host circuit breaker and the
// run's deadline, so that no stall is unbounded.
//
// Kept on node:http rather than undici (which has Agent, ProxyAgent, EnvHttpProxyAgent and
// retries): loading undici costs ~25 ms of start-up on every run, including the runs that
// cached data answers without any request (the product's start-up budget is 150 ms), and
// its EnvHttpProxyAgent reads NO_PROXY differently from curl and conda (see ./proxy.ts).
// The proxy tunnels themselves come from the kept http-proxy-agent / https-proxy-agent.
//
// Status contract: every non-2xx answer is an HttpError — 404 → HTTP_NOT_FOUND, other
// statuses → HTTP_STATUS — with `status` set; callers decide what a 404 means (CEP 50: a
// probe 404 is "no sidecar", an advertised sidecar 404 is a retrieval failure). The one
// exception is 304 in `getCached`, which is the cache hit it asked for.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
// node:https (and with it TLS) is loaded on the first https request only: loopback and
// plain-http channels, and every run answered from caches, do not pay for it at start-up.
const requireBuiltin = createRequire(import.meta.url);
// node:http through require, not an ESM import: importing it materialises every export,
// including the lazy getters that load the bundled undici (~25 ms of start-up).
const http = requireBuiltin('node:http') as typeof import('node:http');
let httpsModule: typeof import('node:https') | undefined;
const https = (): typeof import('node:https') => (httpsModule ??= requireBuiltin('node:https') as typeof import('node:https'));
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import pLimit from 'p-limit';
import { openAtomicWrite } from '../store/atomic.ts';
import { AttestError, HttpError, type HttpErrorCode } from '../errors.ts';
import type { Outage } from '../types.ts';
import { HashingCounter, type StreamDigest, TooLargeSignal } from './hashing.ts';
import { TUNNEL_REFUSED, checkProxyEnv, proxyFor, redactProxy } from './proxy.ts';

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

const RETRYABLE = Symbol('retryable');
/** A stall or connection failure: counts towards the host's circuit breaker. */
const HOST_FAILURE = Symbol('host-failure');
/** Milliseconds a 408/429/503 answer asked us to wait (Retry-After). */
const RETRY_AFTER = Symbol('retry-after');
/** Refused before it was sent (breaker open, deadline passed): not the cause of a failure. */
const NOT_SENT = Symbol('not-sent');

/** Longest Retry-After honoured; a server asking for more is not retried within this run. */
const MAX_RETRY_AFTER_MS = 60_000;

function httpError(
  code: HttpErrorCode,
  message: string,
  o: { status?: number; retryable?: boolean; hostFailure?: boolean; retryAfterMs?: number; cause?: unknown; hint?: string; outage?: Outage; notSent?: boolean } = {},
): HttpError {
  const e = new HttpError(code, message, { cause: o.cause, hint: o.hint ?? HINTS[code] });
  if (o.status !== undefined) e.status = o.status;
  if (o.outage) e.outage = o.outage;
  const tags = e as unknown as Record<symbol, unknown>;
  if (o.retryable) tags[RETRYABLE] = true;
  if (o.hostFailure) tags[HOST_FAILURE] = true;
  if (o.retryAfterMs !== undefined) tags[RETRY_AFTER] = o.retryAfterMs;
  if (o.notSent) tags[NOT_SENT] = true;
  return e;
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP-date forms all start with a day name (IMF-fixdate, RFC 850, asctime).
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * What a network error code means, in words, for the one line a user reads. Without the
 * host: the URL or the line it is shown on names it once (`prefix.dev: DNS lookup failed`).
 */
export function netErrorWords(code: string | undefined): string | undefined {
  switch (code) {
    case 'ENOTFOUND':
      return 'DNS lookup failed';
    case 'EAI_AGAIN':
      return 'DNS lookup failed temporarily';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection closed unexpectedly';
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return 'connection broke off';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable from this network';
    case 'ETIMEDOUT':
      return 'connecting timed out';
    case 'CERT_HAS_EXPIRED':
      return 'TLS certificate has expired';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'TLS certificate is not trusted';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'TLS certificate is for another host name';
    default:
      return undefined;
  }
}

/** The outage a failed request to `u` stands for. */
function outageAt(u: URL, cause: string): Outage {
  return { host: u.host, cause, url: u.href };
}

const HINTS: Record<HttpErrorCode, string> = {
  HTTP_STATUS: 'The server answered with an error; try again later or check the URL.',
  HTTP_NOT_FOUND: 'Check the URL; the server has no such file.',
  HTTP_TIMEOUT: 'The server is slow or unreachable; try again later, or raise http.timeout_ms (--timeout SECONDS) or http.idle_timeout_ms.',
  HTTP_CONNECTION_FAILED: 'Check the network connection and the host name.',
  HTTP_TOO_LARGE: 'The answer is larger than the configured cap; raise the cap only if the file is expected to be that large.',
  HTTP_OFFLINE: 'Run without --offline, or give local files.',
  HTTP_BAD_URL: 'Only http(s) URLs are fetched, and https is never redirected to http.',
  HTTP_WRITE_FAILED: 'Check free disk space and permissions of the destination directory.',
  PROXY_FAILED: 'Check the proxy (HTTPS_PROXY): it must open the tunnel with 200, and allow the channel host; or set NO_PROXY for the host.',
  PROXY_UNSUPPORTED: 'Set HTTPS_PROXY / HTTP_PROXY to an http://, https://, socks5:// or socks5h:// URL, or unset them.',
  UPSTREAM_UNAVAILABLE: 'Try again later; the proxy serves nothing it could not check.',
};

function isRetryable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[RETRYABLE] === true;
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

function parseHttpUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (e) {
    throw httpError('HTTP_BAD_URL', `"${raw}" is not a valid URL.`, { cause: e });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw httpError('HTTP_BAD_URL', `Refusing to fetch ${u.protocol} URL ${raw}.`);
  return u;
}

/** Decoded body stream for the content-codings we asked for (the size cap applies to decoded bytes). */
function decodedBody(res: IncomingMessage, url: string): Readable {
  const enc = (res.headers['content-encoding'] ?? 'identity').toString().trim().toLowerCase();
  const make: Record<string, () => NodeJS.ReadWriteStream> = {
    gzip: () => zlib.createGunzip(),
    'x-gzip': () => zlib.createGunzip(),
    deflate: () => zlib.createInflate(),
    br: () => zlib.createBrotliDecompress(),
    zstd: () => zlib.createZstdDecompress(),
  };
  if (enc === 'identity' || enc === '') return res;
  const f = make[enc];
  if (!f) throw httpError('HTTP_STATUS', `${url} was sent with unsupported Content-Encoding "${enc}".`, { status: res.statusCode });
  const d = f() as unknown as Readable;
  res.on('error', (e) => d.destroy(e));
  res.pipe(d as unknown as NodeJS.WritableStream);
  return d;
}

/** The body's chunks, failing with HTTP_TOO_LARGE as soon as they pass `maxBytes`. */
async function* capped(body: Readable, maxBytes: number, url: string): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      throw httpError('HTTP_TOO_LARGE', `${url} is larger than the ${maxBytes}-byte cap.`);
    }
    yield chunk as Buffer;
  }
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

async function readCapped(body: Readable, maxBytes: number, url: string): Promise<Buffer> {
  return collect(capped(body, maxBytes, url));
}

/** Let a small error body go back to the pool (keep-alive); cut a large or unknown one. */
function dispose(res: IncomingMessage): void {
  const len = Number(res.headers['content-length']);
  if (Number.isFinite(len) && len <= 65536) res.resume();
  else res.destroy();
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** Statuses worth another attempt: the server said "later" (RFC 9110 §15.5.9 408, RFC 6585 §4 429) or failed (5xx). */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

type Agent = import('node:http').Agent;

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const concurrency = Math.max(1, opts.maxConcurrency ?? 16);
  const agentOpts = { keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency };
  const env = opts.env ?? process.env;
  // An unusable proxy variable is a run-level error before anything is sent, never a
  // silent direct connection (./proxy.ts).
  checkProxyEnv(env);
  let httpsAgent: import('node:https').Agent | undefined;
  const httpAgent = new http.Agent(agentOpts);
  /** Proxy agents, one per proxy and target scheme, loaded only when a proxy is configured. */
  const proxyAgents = new Map<string, Promise<Agent>>();
  const agentFor = (u: URL): { agent: Agent | Promise<Agent>; via?: string } => {
    const proxy = proxyFor(u, env);
    if (!proxy) return { agent: u.protocol === 'https:' ? (httpsAgent ??= new (https().Agent)(agentOpts)) : httpAgent };
    const key = `${u.protocol} ${proxy.href}`;
    let agent = proxyAgents.get(key);
    if (!agent) {
      // SOCKS5 (socks5h: the proxy resolves the name): a tunnel for either scheme. Else
      // https targets: a CONNECT tunnel through the proxy; http targets: absolute-URI
      // requests to the proxy. Either way the proxy's credentials (from its URL) go to the
      // proxy only.
      agent = proxy.protocol.startsWith('socks')
        ? import('socks-proxy-agent').then(({ SocksProxyAgent }) => new SocksProxyAgent(proxy, agentOpts) as unknown as Agent)
        : u.protocol === 'https:'
          ? import('./tunnel.ts').then(({ tunnelAgent }) => tunnelAgent(proxy, agentOpts))
          : import('http-proxy-agent').then(({ HttpProxyAgent }) => new HttpProxyAgent(proxy, agentOpts) as unknown as Agent);
      proxyAgents.set(key, agent);
    }
    return { agent, via: redactProxy(proxy) };
  };
  const slots = pLimit(concurrency); // FIFO: at most `concurrency` attempts in flight
  const retryDelay = opts.retryDelayMs ?? 250;
  const maxRedirects = opts.maxRedirects ?? 5;
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const failureLimit = Math.max(1, opts.hostFailureLimit ?? 3);
  const stats = { requests: 0 };
  /**
   * Per host: consecutive stalls / connection failures, the first request that failed in
   * the run (the URL a user is shown for the whole outage), and the cause once the breaker
   * is open.
   */
  const hosts = new Map<string, { failures: number; firstFailedUrl?: string; open?: HttpError; openedAt?: number }>();

  let deadlineHit = false;

  function deadlineError(url: string): HttpError {
    deadlineHit = true;
    return httpError('HTTP_TIMEOUT', `${url} was not fetched: the run's deadline (${opts.deadlineLabel ?? 'deadline'}) passed.`, {
      hint: 'The channel is too slow for the deadline; raise it (deadline_ms or --deadline SECONDS) or try again later.',
    });
  }

  /** Fail at once when the host's breaker is open or the run is past its deadline. */
  function gate(u: URL): void {
    const h = hosts.get(u.host);
    if (h?.open && opts.hostCoolDownMs !== undefined && Date.now() - (h.openedAt ?? 0) >= opts.hostCoolDownMs) {
      // Half-open: this request goes through; one more failure opens the breaker again.
      h.open = undefined;
      h.failures = failureLimit - 1;
    }
    const open = h?.open;
    if (open) {
      throw httpError(open.code as HttpErrorCode, `${u.href} was not requested: ${open.message}`, {
        cause: open,
        hint: open.hint,
        outage: open.outage,
        notSent: true,
      });
    }
    if (opts.deadline !== undefined && Date.now() >= opts.deadline) {
      const e = deadlineError(u.href);
      (e as unknown as Record<symbol, unknown>)[NOT_SENT] = true;
      throw e;
    }
  }

  /**
   * The breaker's count: one per request, not per attempt. A request's retries of the same
   * failure count once (`counted`), so one broken URL on a host that answers its other URLs
   * cannot cut the host off, even when requests run one at a time.
   */
  function noteOutcome(host: string, e: unknown, counted: Set<string>): void {
    const h = hosts.get(host) ?? { failures: 0 };
    hosts.set(host, h);
    if (e === undefined) {
      h.failures = 0;
      return;
    }
    // Any answer (a 404 too) shows the host is there: only stalls and connection failures count.
    if (!(e instanceof HttpError) || (e as unknown as Record<symbol, unknown>)[HOST_FAILURE] !== true) {
      h.failures = 0;
      return;
    }
    // Every failure of the host points at the first request that failed in the run, so the
    // rows of one outage name one URL (and group into one line).
    if (e.outage) {
      h.firstFailedUrl ??= e.outage.url;
      e.outage = { ...e.outage, url: h.firstFailedUrl };
    }
    if (h.open || counted.has(host)) return;
    counted.add(host);
    if (++h.failures >= failureLimit) {
      h.openedAt = Date.now();
      const cause = e.outage?.cause ?? e.message.replace(/\.$/, '');
      // Under `serve` the breaker half-opens again: say for how long requests are not sent.
      const forNow = opts.hostCoolDownMs !== undefined ? `; its requests for the next ${Math.ceil(opts.hostCoolDownMs / 1000)} s fail without being sent` : '';
      h.open = httpError(e.code as HttpErrorCode, `${host} failed ${h.failures} times in a row (${cause})${forNow}.`, {
        cause: e,
        hint: e.hint,
        outage: e.outage ?? { host, cause, url: h.firstFailedUrl ?? '' },
      });
    }
  }

  /**
   * One attempt: send, follow redirects, and hand a 2xx (or an allowed 304) response to
   * `consume` inside the same timeout and concurrency slot.
   */
  async function attempt<T>(
    url: string,
    headers: Record<string, string>,
    consume: (res: IncomingMessage, finalUrl: string) => Promise<T>,
    o: { allow304?: boolean; totalTimeoutMs?: number; passStatus?: boolean },
    counted: Set<string>,
  ): Promise<T> {
    let current = parseHttpUrl(url);
    gate(current);
    return slots(async () => {
      // The breaker may have opened while this request waited for a slot.
      gate(current);
      const limit = o.totalTimeoutMs ?? opts.totalTimeoutMs;
      const deadline = Math.min(Date.now() + limit, opts.deadline ?? Infinity);
      for (let hop = 0; ; hop++) {
        let r: { value: T } | { redirect: string; status: number };
        try {
          r = await exchange(current, headers, consume, o.allow304 ?? false, deadline, limit, o.passStatus ?? false);
          noteOutcome(current.host, undefined, counted);
        } catch (e) {
          noteOutcome(current.host, e, counted);
          throw e;
        }
        if (!('redirect' in r)) return r.value;
        if (hop >= maxRedirects) throw httpError('HTTP_STATUS', `${url} redirected more than ${maxRedirects} times.`, { status: r.status });
        const next = parseHttpUrl(new URL(r.redirect, current).href);
        if (current.protocol === 'https:' && next.protocol === 'http:') {
          throw httpError('HTTP_BAD_URL', `${current.href} redirected from https to plain http (${next.href}).`);
        }
        current = next;
        gate(current);
      }
    });
  }

  async function exchange<T>(
    u: URL,
    headers: Record<string, string>,
    consume: (res: IncomingMessage, finalUrl: string) => Promise<T>,
    allow304: boolean,
    deadline: number,
    limit: number,
    passStatus: boolean,
  ): Promise<{ value: T } | { redirect: string; status: number }> {
    stats.requests++;
    const route = agentFor(u);
    const agent = await route.agent;
    const via = route.via ? ` (through the proxy ${route.via})` : '';
    return new Promise((resolve, reject) => {
      const mod = u.protocol === 'https:' ? https() : http;
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const finish = (err: unknown, value?: { value: T } | { redirect: string; status: number }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        clearTimeout(connectTimer);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value!);
      };
      const req = mod.request(u, {
        method: 'GET',
        agent,
        headers: { 'user-agent': opts.userAgent ?? 'conda-attest', 'accept-encoding': 'gzip, br, zstd', ...headers },
      });
      const byDeadline = opts.deadline !== undefined && deadline === opts.deadline;
      const totalTimer = setTimeout(
        () => finish(byDeadline ? deadlineError(u.href) : httpError('HTTP_TIMEOUT', `${u.href} did not complete within ${limit} ms.`)),
        Math.max(0, deadline - Date.now()),
      );
      // From the request until a connected socket: covers DNS, TCP, TLS and a proxy's CONNECT.
      connectTimer = setTimeout(
        () =>
          finish(
            httpError('HTTP_TIMEOUT', `Connecting to ${u.host}${via} took longer than ${opts.connectTimeoutMs} ms.`, {
              retryable: true,
              hostFailure: true,
              outage: outageAt(u, `connecting took longer than ${opts.connectTimeoutMs} ms${via}`),
            }),
          ),
        opts.connectTimeoutMs,
      );
      req.on('socket', (socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once('connect', () => clearTimeout(connectTimer));
      });
      // A peer that accepts and then sends nothing: no byte in either direction for idleMs.
      req.setTimeout(idleMs, () =>
        finish(
          httpError('HTTP_TIMEOUT', `${u.href} stalled: no data received for ${idleMs / 1000} s${via}.`, {
            retryable: true,
            hostFailure: true,
            outage: outageAt(u, `stalled: no data for ${idleMs / 1000} s${via}`),
          }),
        ),
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === TUNNEL_REFUSED) {
          const refused = e as unknown as { status: number; statusText: string };
          // The proxy answered CONNECT with something other than 200: no tunnel, so no TLS
          // with the origin; whatever it sent is the proxy's, never the resource.
          return finish(
            httpError('PROXY_FAILED', `The proxy ${route.via} did not open a tunnel to ${u.host}: it answered CONNECT with ${refused.status}${refused.statusText ? ` ${refused.statusText}` : ''}, not 200.`, {
              status: refused.status,
              retryable: refused.status >= 500,
              hostFailure: true,
              cause: e,
              outage: outageAt(u, `the proxy ${route.via} answered CONNECT with ${refused.status}`),
            }),
          );
        }
        const words = netErrorWords(e.code);
        const what = words ? `${words} (${e.code})` : (e.code ?? e.message);
        finish(
          httpError('HTTP_CONNECTION_FAILED', `Request to ${u.href} failed: ${what}${via}.`, {
            cause: e,
            retryable: true,
            hostFailure: true,
            outage: outageAt(u, `${what}${via}`),
          }),
        );
      });
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && status !== 304 && res.headers.location) {
          dispose(res);
          return finish(null, { redirect: res.headers.location, status });
        }
        const ok = (status >= 200 && status < 300) || (status === 304 && allow304) || (passStatus && status < 500);
        if (!ok) {
          dispose(res);
          if (status === 404) return finish(httpError('HTTP_NOT_FOUND', `${u.href} answered 404 Not Found.`, { status }));
          const after = retryableStatus(status) ? retryAfterMs(res.headers['retry-after'], Date.now()) : undefined;
          return finish(
            httpError('HTTP_STATUS', `${u.href} answered HTTP ${status}${status === 429 ? ' (too many requests)' : status === 408 ? ' (request timeout)' : ''}.`, {
              status,
              retryable: retryableStatus(status),
              retryAfterMs: after,
              // A server that is up but failing (5xx, 408, 429) is an outage too; other 4xx are per file.
              ...(retryableStatus(status) ? { outage: outageAt(u, `answered HTTP ${status}`) } : {}),
            }),
          );
        }
        consume(res, u.href).then(
          (value) => finish(null, { value }),
          (e: unknown) => {
            if (e instanceof AttestError) return finish(e);
            const code = (e as NodeJS.ErrnoException).code;
            const mid = code === undefined || CONNECTION_CODES.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE';
            const words = netErrorWords(code);
            const what = words ? `${words} (${code})` : (code ?? (e as Error).message);
            finish(
              mid
                ? httpError('HTTP_CONNECTION_FAILED', `Reading ${u.href} failed: ${what}.`, {
                    cause: e,
                    retryable: true,
                    hostFailure: true,
                    outage: outageAt(u, `reading failed: ${what}`),
                  })
                : httpError('HTTP_CONNECTION_FAILED', `Reading ${u.href} failed: ${(e as Error).message}.`, { cause: e }),
            );
          },
        );
      });
      req.end();
    });
  }

  /**
   * `fn` gets the set of hosts this request has already counted a failure against
   * (noteOutcome). `mayRetry`: false once a retry could no longer start from scratch.
   */
  async function withRetries<T>(url: string, fn: (counted: Set<string>) => Promise<T>, mayRetry: () => boolean = () => true): Promise<T> {
    if (opts.offline) {
      throw httpError('HTTP_OFFLINE', `${url} was not requested: offline mode sends no request (--offline).`, {
        outage: { host: '--offline', cause: 'no network access', url },
      });
    }
    const counted = new Set<string>();
    let sent: unknown;
    for (let i = 0; ; i++) {
      try {
        return await fn(counted);
      } catch (e) {
        // A retry refused before it was sent (the host was cut off meanwhile, or the deadline
        // passed) is not what went wrong: the request's own last failure is.
        if ((e as Record<symbol, unknown>)[NOT_SENT] === true && sent !== undefined) throw sent;
        sent = e;
        if (i >= opts.retries || !isRetryable(e) || !mayRetry()) throw e;
        const asked = (e as Record<symbol, unknown>)[RETRY_AFTER] as number | undefined;
        // A server that asks for a longer pause than we are willing to wait is not asked again.
        if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) throw e;
        const base = Math.min(retryDelay * 2 ** i, 5000);
        const wait = asked ?? base / 2 + Math.random() * (base / 2);
        if (opts.deadline !== undefined && Date.now() + wait >= opts.deadline) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  function earlyCap(res: IncomingMessage, maxBytes: number, url: string): void {
    const len = Number(res.headers['content-length']);
    const encoded = res.headers['content-encoding'] !== undefined && res.headers['content-encoding'] !== 'identity';
    if (!encoded && Number.isFinite(len) && len > maxBytes) {
      res.destroy();
      throw httpError('HTTP_TOO_LARGE', `${url} is ${len} bytes, more than the ${maxBytes}-byte cap.`);
    }
  }

  const client: HttpClient = {
    stats,
    findings() {
      const hostsCutOff = [...hosts]
        .filter(([, h]) => h.open)
        .map(([host, h]) => {
          const outage = h.open!.outage!;
          return {
            host,
            message: `${h.open!.message.replace(/\.$/, '')}, first at ${outage.url}; its other requests in this run were not sent.`,
            hint: h.open!.hint,
            outage,
          };
        })
        .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
      return deadlineHit ? { hostsCutOff, deadline: opts.deadlineLabel ?? 'deadline' } : { hostsCutOff };
    },
    get(url, o) {
      return withRetries(url, (counted) =>
        attempt(url, o.headers ?? {}, async (res, finalUrl) => {
          earlyCap(res, o.maxBytes, finalUrl);
          const body = await readCapped(decodedBody(res, finalUrl), o.maxBytes, finalUrl);
          return { status: res.statusCode ?? 0, headers: res.headers, body, url: finalUrl };
        }, {}, counted),
      );
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
      return withRetries(url, (counted) =>
        attempt(url, headers, async (res, finalUrl) => {
          const fresh = cacheValidatorsFrom(res.headers, Date.now());
          if (res.statusCode === 304) {
            res.resume();
            // A 304 may omit validators; keep the ones that matched.
            return { notModified: true as const, validators: { etag: cached?.etag, lastModified: cached?.lastModified, ...stripUndefined(fresh) } };
          }
          earlyCap(res, o.maxBytes, finalUrl);
          const value = await consume(capped(decodedBody(res, finalUrl), o.maxBytes, finalUrl));
          return { notModified: false as const, value, validators: fresh };
        }, { allow304: cached !== undefined }, counted),
      );
    },

    downloadAndHash(url, o = {}) {
      const maxBytes = o.maxBytes ?? Number.POSITIVE_INFINITY;
      return withRetries(url, (counted) =>
        attempt(
          url,
          // Packages are hashed as stored: no transfer coding may sit between us and the bytes.
          { 'accept-encoding': 'identity' },
          async (res, finalUrl) => {
            earlyCap(res, maxBytes, finalUrl);
            const enc = res.headers['content-encoding'];
            if (enc !== undefined && enc !== 'identity') {
              res.destroy();
              throw httpError('HTTP_STATUS', `${finalUrl} was sent with Content-Encoding "${enc}" although identity was asked for.`, { status: res.statusCode });
            }
            const counter = new HashingCounter({ maxBytes, md5: o.md5 });
            // Not fsynced: a download lost to a power cut is downloaded again.
            const out = o.dest ? await openAtomicWrite(o.dest, { durable: false }) : undefined;
            try {
              if (out) await pipeline(res, counter, out.stream);
              // Hash-only: a plain loop, no stream plumbing per chunk (measured ~15% faster).
              else for await (const chunk of res) counter.add(chunk as Buffer);
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
          },
          { totalTimeoutMs: o.totalTimeoutMs },
          counted,
        ),
      );
    },

    forward(url, o, consume) {
      let consumed = false;
      return withRetries(
        url,
        (counted) =>
          attempt(
            url,
            // Nothing of the caller's request goes upstream unless named here (no credentials, no cookies).
            { 'accept-encoding': 'identity', ...o.headers },
            (res, finalUrl) => {
              consumed = true;
              return consume(res, finalUrl);
            },
            { passStatus: true, totalTimeoutMs: o.totalTimeoutMs },
            counted,
          ),
        () => !consumed,
      );
    },

    openHosts() {
      return [...hosts].filter(([, h]) => h.open).map(([host]) => host).sort();
    },

    close() {
      httpAgent.destroy();
      httpsAgent?.destroy();
      for (const a of proxyAgents.values()) void a.then((agent) => agent.destroy(), () => {});
    },
  };
  return client;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
