// One HTTP exchange over node:http(s), the innermost layer of the client (./layers.ts):
// keep-alive agents shared by every request, HTTP(S)_PROXY / NO_PROXY (./proxy.ts),
// connect, idle (no byte for N ms) and whole-attempt timers, content decoding, a streamed
// size cap (Content-Length is only used to reject early, never trusted to bound the read).
//
// Kept on node:http rather than undici (which has Agent, ProxyAgent, EnvHttpProxyAgent and
// retries): loading undici costs ~25 ms of start-up on every run, including the runs that
// cached data answers without any request (the product's start-up budget is 150 ms), and
// its EnvHttpProxyAgent reads NO_PROXY differently from curl and conda (see ./proxy.ts).
// The proxy tunnels themselves come from the kept http-proxy-agent / https-proxy-agent.
//
// Status contract: a 2xx answer (a 304 when asked for, any status below 500 for a proxy's
// pass-through) goes to `consume`; a 3xx with Location is a `Redirect` for the redirect
// layer; every other answer is an HttpError — 404 → HTTP_NOT_FOUND, other statuses →
// HTTP_STATUS — with `status` set; callers decide what a 404 means (CEP 50: a probe 404 is
// "no sidecar", an advertised sidecar 404 is a retrieval failure).
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { AttestError, HttpError, type HttpErrorCode, type HttpErrorOptions } from '../errors.ts';
import type { Outage } from '../types.ts';
import { TUNNEL_REFUSED, checkProxyEnv, proxyFor, redactProxy } from './proxy.ts';
import { READ_BYTES, readIntoSharedBuffer } from './socket-reads.ts';
// node:https (and with it TLS) is loaded on the first https request only: loopback and
// plain-http channels, and every run answered from caches, do not pay for it at start-up.
const requireBuiltin = createRequire(import.meta.url);
// node:http through require, not an ESM import: importing it materialises every export,
// including the lazy getters that load the bundled undici (~25 ms of start-up). And only on
// the first request, as node:zlib on the first compressed answer: a run answered from the
// caches sends none (measured, warm one-package run: http, net and zlib are ~15 ms of CPU).
let httpModule: typeof import('node:http') | undefined;
const http = (): typeof import('node:http') => (httpModule ??= requireBuiltin('node:http') as typeof import('node:http'));
const zlib = (): typeof import('node:zlib') => requireBuiltin('node:zlib') as typeof import('node:zlib');
let httpsModule: typeof import('node:https') | undefined;
const https = (): typeof import('node:https') => (httpsModule ??= requireBuiltin('node:https') as typeof import('node:https'));

/** One request as the layers see it. */
export interface Req {
  url: URL;
  headers: Record<string, string>;
  /** A 304 is the answer asked for (conditional GET). */
  allow304?: boolean;
  /** Any status below 500 goes to `consume` (a proxy passes it on). */
  passStatus?: boolean;
  /** Override of the attempt's time limit. */
  totalTimeoutMs?: number;
  /** Hosts this request has counted a failure against (the breaker counts once per request). */
  counted: Set<string>;
  /** False once a retry could no longer start from scratch. */
  mayRetry?: () => boolean;
  /** Aborts the attempt (Node's http.request `signal`); an aborted request is not retried. */
  signal?: AbortSignal;
  /** Set by the limit layer: when the attempt got its slot (epoch ms). */
  startedAt?: number;
  /** Set by the deadline layer: when the attempt must have ended (epoch ms), and the error then. */
  until?: number;
  /** `answered`: the server had begun its answer (a slow transfer, not a dead host). */
  timeUp?: (answered: boolean) => HttpError;
}

/**
 * A request that has had no answer for a while, told as it happens so a progress line can
 * name what the run waits for; `done` when it ends (answered or failed). `since`: when the
 * attempt was sent (epoch ms).
 */
export interface WaitEvent {
  id: number;
  host: string;
  since: number;
  done: boolean;
}

/** Receives a 2xx (or allowed) answer inside the attempt's timers and slot. */
export type Consume<T> = (res: IncomingMessage, finalUrl: string) => Promise<T>;
export type Send = <T>(req: Req, consume: Consume<T>) => Promise<T>;

/** A 3xx answer with a Location, for the redirect layer (not an error of the request). */
export class Redirect {
  readonly location: string;
  readonly status: number;
  constructor(location: string, status: number) {
    this.location = location;
    this.status = status;
  }
}

const HINTS: Record<HttpErrorCode, string> = {
  HTTP_STATUS: 'The server answered with an error; try again later or check the URL.',
  HTTP_NOT_FOUND: 'Check the URL; the server has no such file.',
  // Stalls and connect timeouts: a host that sends nothing is down, not slow, and a longer
  // --timeout only makes the wait longer (a slow transfer's own hint names --timeout).
  HTTP_TIMEOUT: 'The server sent nothing in time: it looks down or overloaded; try again later.',
  HTTP_CONNECTION_FAILED: 'Check the network connection and the host name.',
  HTTP_TOO_LARGE: 'The answer is larger than the configured cap; raise the cap only if the file is expected to be that large.',
  HTTP_OFFLINE: 'Run without --offline, or give local files.',
  HTTP_BAD_URL: 'Only http(s) URLs are fetched, and https is never redirected to http.',
  HTTP_WRITE_FAILED: 'Check free disk space and permissions of the destination directory.',
  PROXY_FAILED: 'Check the proxy (HTTPS_PROXY): it must open the tunnel with 200, and allow the channel host; or set NO_PROXY for the host.',
  PROXY_UNSUPPORTED: 'Set HTTPS_PROXY / HTTP_PROXY to an http://, https://, socks5:// or socks5h:// URL, or unset them.',
  UPSTREAM_UNAVAILABLE: 'Try again later; the proxy serves nothing it could not check.',
};

/** An HttpError with the code's standard hint unless another is given. */
export function httpError(code: HttpErrorCode, message: string, o: HttpErrorOptions = {}): HttpError {
  return new HttpError(code, message, { ...o, hint: o.hint ?? HINTS[code] });
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

const NET_WORDS: Record<string, string> = {
  ENOTFOUND: 'DNS lookup failed',
  EAI_AGAIN: 'DNS lookup failed temporarily',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection closed unexpectedly',
  UND_ERR_SOCKET: 'connection closed unexpectedly',
  EPIPE: 'connection broke off',
  ECONNABORTED: 'connection broke off',
  ERR_STREAM_PREMATURE_CLOSE: 'connection broke off',
  EHOSTUNREACH: 'unreachable from this network',
  ENETUNREACH: 'unreachable from this network',
  ETIMEDOUT: 'connecting timed out',
  CERT_HAS_EXPIRED: 'TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate is not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate is not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate is for another host name',
};

/**
 * What a network error code means, in words, for the one line a user reads. Without the
 * host: the URL or the line it is shown on names it once (`prefix.dev: DNS lookup failed`).
 */
export function netErrorWords(code: string | undefined): string | undefined {
  return code !== undefined && Object.hasOwn(NET_WORDS, code) ? NET_WORDS[code] : undefined;
}

/** The outage a failed request to `u` stands for. */
function outageAt(u: URL, cause: string): Outage {
  return { host: u.host, cause, url: u.href };
}

export function parseHttpUrl(raw: string): URL {
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
export function decodedBody(res: IncomingMessage, url: string): Readable {
  const enc = (res.headers['content-encoding'] ?? 'identity').toString().trim().toLowerCase();
  const make: Record<string, () => NodeJS.ReadWriteStream> = {
    gzip: () => zlib().createGunzip(),
    'x-gzip': () => zlib().createGunzip(),
    deflate: () => zlib().createInflate(),
    br: () => zlib().createBrotliDecompress(),
    zstd: () => zlib().createZstdDecompress(),
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
export async function* capped(body: Readable, maxBytes: number, url: string): AsyncGenerator<Buffer> {
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

export async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Reject early when an unencoded answer's Content-Length already passes the cap. */
export function earlyCap(res: IncomingMessage, maxBytes: number, url: string): void {
  const len = Number(res.headers['content-length']);
  const encoded = res.headers['content-encoding'] !== undefined && res.headers['content-encoding'] !== 'identity';
  if (!encoded && Number.isFinite(len) && len > maxBytes) {
    res.destroy();
    throw httpError('HTTP_TOO_LARGE', `${url} is ${len} bytes, more than the ${maxBytes}-byte cap.`);
  }
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

/** What an answer's status means: null (hand it to `consume`), a redirect, or the request's error. */
function answerOf(res: IncomingMessage, req: Req): null | Redirect | HttpError {
  const status = res.statusCode ?? 0;
  const u = req.url;
  if (status >= 300 && status < 400 && status !== 304 && res.headers.location) return new Redirect(res.headers.location, status);
  if ((status >= 200 && status < 300) || (status === 304 && req.allow304) || (req.passStatus && status < 500)) return null;
  if (status === 404) return httpError('HTTP_NOT_FOUND', `${u.href} answered 404 Not Found.`, { status });
  const retryable = retryableStatus(status);
  return httpError('HTTP_STATUS', `${u.href} answered HTTP ${status}${status === 429 ? ' (too many requests)' : status === 408 ? ' (request timeout)' : ''}.`, {
    status,
    retryable,
    retryAfterMs: retryable ? retryAfterMs(res.headers['retry-after'], Date.now()) : undefined,
    // A server that is up but failing (5xx, 408, 429) is an outage too; other 4xx are per file.
    ...(retryable ? { outage: outageAt(u, `answered HTTP ${status}`) } : {}),
  });
}

/** A request that failed before an answer: a refused proxy tunnel or a network error. */
function requestError(e: NodeJS.ErrnoException, u: URL, via: string | undefined): HttpError {
  const through = via ? ` (through the proxy ${via})` : '';
  if (e.code === TUNNEL_REFUSED) {
    const refused = e as unknown as { status: number; statusText: string };
    // The proxy answered CONNECT with something other than 200: no tunnel, so no TLS with
    // the origin; whatever it sent is the proxy's, never the resource.
    return httpError('PROXY_FAILED', `The proxy ${via} did not open a tunnel to ${u.host}: it answered CONNECT with ${refused.status}${refused.statusText ? ` ${refused.statusText}` : ''}, not 200.`, {
      status: refused.status,
      retryable: refused.status >= 500,
      hostFailure: true,
      cause: e,
      outage: outageAt(u, `the proxy ${via} answered CONNECT with ${refused.status}`),
    });
  }
  const words = netErrorWords(e.code);
  const what = words ? `${words} (${e.code})` : (e.code ?? e.message);
  return httpError('HTTP_CONNECTION_FAILED', `Request to ${u.href} failed: ${what}${through}.`, { cause: e, retryable: true, hostFailure: true, outage: outageAt(u, `${what}${through}`) });
}

/** `consume` failed: an AttestError as is; a broken connection is retryable, anything else is not. */
function readError(e: unknown, u: URL): AttestError {
  if (e instanceof AttestError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== undefined && !CONNECTION_CODES.has(code) && code !== 'ERR_STREAM_PREMATURE_CLOSE') {
    return httpError('HTTP_CONNECTION_FAILED', `Reading ${u.href} failed: ${(e as Error).message}.`, { cause: e });
  }
  const words = netErrorWords(code);
  const what = words ? `${words} (${code})` : (code ?? (e as Error).message);
  return httpError('HTTP_CONNECTION_FAILED', `Reading ${u.href} failed: ${what}.`, { cause: e, retryable: true, hostFailure: true, outage: outageAt(u, `reading failed: ${what}`) });
}

type Agent = import('node:http').Agent;

export interface TransportOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Keep-alive pool size per host. */
  sockets: number;
  /** Told when an attempt has had no answer for `waitNoticeMs` (default 5000), and when it ends. */
  onWait?: (e: WaitEvent) => void;
  waitNoticeMs?: number;
  userAgent: string;
  env: NodeJS.ProcessEnv;
}

/** Keep-alive agents shared by every request, and proxy agents loaded only when a proxy is configured. */
function openAgents(opts: TransportOptions): { agentFor(u: URL): { agent: Agent | Promise<Agent>; via?: string }; close(): void } {
  const agentOpts = { keepAlive: true, maxSockets: opts.sockets, maxFreeSockets: opts.sockets };
  const { env } = opts;
  // An unusable proxy variable is a run-level error before anything is sent, never a
  // silent direct connection (./proxy.ts).
  checkProxyEnv(env);
  let httpsAgent: import('node:https').Agent | undefined;
  let httpAgent: Agent | undefined;
  let readBuffer: Buffer | undefined;
  const reads = (): Buffer => (readBuffer ??= Buffer.allocUnsafeSlow(READ_BYTES));
  /** One per proxy and target scheme. */
  const proxyAgents = new Map<string, Promise<Agent>>();
  return {
    agentFor(u) {
      const proxy = proxyFor(u, env);
      // Direct connections read into one shared buffer (./socket-reads.ts); a proxy's
      // sockets are its agent library's.
      if (!proxy) {
        return {
          agent: u.protocol === 'https:' ? (httpsAgent ??= readIntoSharedBuffer(new (https().Agent)(agentOpts), reads())) : (httpAgent ??= readIntoSharedBuffer(new (http().Agent)(agentOpts), reads())),
        };
      }
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
    },
    close() {
      httpAgent?.destroy();
      httpsAgent?.destroy();
      for (const a of proxyAgents.values()) void a.then((agent) => agent.destroy(), () => {});
    },
  };
}

/**
 * Until the answer starts: a host that accepts and says nothing is named while it does —
 * `onWait` hears of a request with no answer after `waitNoticeMs`, and then of its end.
 */
function waitNotice(opts: TransportOptions, id: number, host: string): { stop(): void } {
  const since = Date.now();
  let told = false;
  const timer = opts.onWait
    ? setTimeout(() => {
        told = true;
        opts.onWait!({ id, host, since, done: false });
      }, opts.waitNoticeMs ?? 5000)
    : undefined;
  timer?.unref();
  return {
    stop() {
      clearTimeout(timer);
      if (told) opts.onWait?.({ id, host, since, done: true });
      told = false;
    },
  };
}

/** The exchange (`send`), the count of attempts sent, and `close` for the idle sockets. */
export function openTransport(opts: TransportOptions): { send: Send; stats: { requests: number }; close(): void } {
  const agents = openAgents(opts);
  const stats = { requests: 0 };

  async function send<T>(req: Req, consume: Consume<T>): Promise<T> {
    stats.requests++;
    const u = req.url;
    const route = agents.agentFor(u);
    const agent = await route.agent;
    const via = route.via ? ` (through the proxy ${route.via})` : '';
    const wait = waitNotice(opts, stats.requests, u.host);
    return new Promise((resolve, reject) => {
      let settled = false;
      let answered = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (err: unknown, value?: T): void => {
        if (settled) return;
        settled = true;
        timers.forEach(clearTimeout);
        wait.stop();
        if (err) {
          // A redirect's socket goes back to the pool (its body was disposed of).
          if (!(err instanceof Redirect)) r.destroy();
          reject(err);
        } else resolve(value!);
      };
      const r = (u.protocol === 'https:' ? https() : http()).request(u, {
        method: 'GET',
        agent,
        ...(req.signal ? { signal: req.signal } : {}),
        headers: { 'user-agent': opts.userAgent, 'accept-encoding': 'gzip, br, zstd', ...req.headers },
      });
      if (req.until !== undefined) timers.push(setTimeout(() => finish(req.timeUp!(answered)), Math.max(0, req.until - Date.now())));
      // From the request until a connected socket: covers DNS, TCP, TLS and a proxy's CONNECT.
      const connectTimer = setTimeout(() => {
        const cause = `connecting took longer than ${opts.connectTimeoutMs} ms${via}`;
        finish(httpError('HTTP_TIMEOUT', `Connecting to ${u.host}${via} took longer than ${opts.connectTimeoutMs} ms.`, { retryable: true, hostFailure: true, outage: outageAt(u, cause) }));
      }, opts.connectTimeoutMs);
      timers.push(connectTimer);
      r.on('socket', (socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once('connect', () => clearTimeout(connectTimer));
      });
      // A peer that accepts and then sends nothing: no byte in either direction for idleMs.
      const idle = opts.idleTimeoutMs;
      r.setTimeout(idle, () =>
        finish(
          httpError('HTTP_TIMEOUT', `${u.href} stalled: no data received for ${idle / 1000} s${via}.`, {
            retryable: true,
            hostFailure: true,
            outage: outageAt(u, `stalled: no data for ${idle / 1000} s${via}`),
          }),
        ),
      );
      r.on('error', (e: NodeJS.ErrnoException) => finish(requestError(e, u, route.via)));
      r.on('response', (res) => {
        clearTimeout(connectTimer);
        answered = true;
        wait.stop();
        const answer = answerOf(res, req);
        if (answer) {
          dispose(res);
          return finish(answer);
        }
        consume(res, u.href).then(
          (value) => finish(null, value),
          (e: unknown) => finish(readError(e, u)),
        );
      });
      r.end();
    });
  }

  return { send, stats, close: agents.close };
}
