// Thin HTTP adapter over node:http(s): keep-alive agents shared by every request, bounded
// concurrency, connect and whole-transfer timeouts, a streamed size cap (Content-Length is
// only used to reject early, never trusted to bound the read), bounded retries with
// backoff on 5xx and connection errors only (never on 4xx), and redirects within http(s)
// that never downgrade https → http.
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
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AttestError, HttpError, type HttpErrorCode } from '../errors.ts';
import { HashingCounter, type StreamDigest, TooLargeSignal } from './hashing.ts';
import { THREADED_HASH_MIN_BYTES, ThreadedHasher } from './hash-thread.ts';

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
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** URL after redirects. */
  url: string;
}

export interface GetOptions {
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

export interface CachedGetResult {
  /** True when the stored copy is still good (304, or fresh under max-age: no request). */
  notModified: boolean;
  /** The new body when `notModified` is false. */
  body?: Buffer;
  validators: CacheValidators;
}

export interface DownloadOptions {
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

export interface HttpClient {
  get(url: string, opts: GetOptions): Promise<HttpResponse>;
  getCached(url: string, cached: CacheValidators | undefined, opts: GetOptions): Promise<CachedGetResult>;
  downloadAndHash(url: string, opts?: DownloadOptions): Promise<StreamDigest>;
  /** Attempts sent so far (retries and redirects included). */
  readonly stats: { requests: number };
  /** Close idle keep-alive sockets. */
  close(): void;
}

const RETRYABLE = Symbol('retryable');

function httpError(code: HttpErrorCode, message: string, o: { status?: number; retryable?: boolean; cause?: unknown; hint?: string } = {}): HttpError {
  const e = new HttpError(code, message, { cause: o.cause, hint: o.hint ?? HINTS[code] });
  if (o.status !== undefined) e.status = o.status;
  if (o.retryable) (e as unknown as Record<symbol, boolean>)[RETRYABLE] = true;
  return e;
}

const HINTS: Record<HttpErrorCode, string> = {
  HTTP_STATUS: 'The server answered with an error; try again later or check the URL.',
  HTTP_NOT_FOUND: 'Check the URL; the server has no such file.',
  HTTP_TIMEOUT: 'The server is slow or unreachable; raise http.total_timeout_ms or try again.',
  HTTP_CONNECTION_FAILED: 'Check the network connection and the host name.',
  HTTP_TOO_LARGE: 'The answer is larger than the configured cap; raise the cap only if the file is expected to be that large.',
  HTTP_OFFLINE: 'Run without --offline, or give local files.',
  HTTP_BAD_URL: 'Only http(s) URLs are fetched, and https is never redirected to http.',
  HTTP_WRITE_FAILED: 'Check free disk space and permissions of the destination directory.',
};

function isRetryable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[RETRYABLE] === true;
}

/** Pure: validators and freshness from response headers. `no-store`/`no-cache` → no freshness. */
export function cacheValidatorsFrom(headers: IncomingHttpHeaders, now: number): CacheValidators {
  const v: CacheValidators = {};
  if (typeof headers.etag === 'string') v.etag = headers.etag;
  if (typeof headers['last-modified'] === 'string') v.lastModified = headers['last-modified'];
  const cc = typeof headers['cache-control'] === 'string' ? headers['cache-control'].toLowerCase() : '';
  const m = /(?:^|[,\s])max-age=(\d+)/.exec(cc);
  if (m && !/no-store|no-cache/.test(cc)) v.expiresAt = now + Number(m[1]) * 1000;
  return v;
}

/** A counting semaphore: at most `n` holders at once, FIFO. */
function semaphore(n: number): { acquire(): Promise<() => void> } {
  let free = n;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    acquire: () =>
      new Promise((resolve) => {
        if (free > 0) {
          free--;
          resolve(release);
        } else waiting.push(() => resolve(release));
      }),
  };
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

async function readCapped(body: Readable, maxBytes: number, url: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      throw httpError('HTTP_TOO_LARGE', `${url} is larger than the ${maxBytes}-byte cap.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Let a small error body go back to the pool (keep-alive); cut a large or unknown one. */
function dispose(res: IncomingMessage): void {
  const len = Number(res.headers['content-length']);
  if (Number.isFinite(len) && len <= 65536) res.resume();
  else res.destroy();
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const concurrency = Math.max(1, opts.maxConcurrency ?? 16);
  const agentOpts = { keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency };
  let httpsAgent: import('node:https').Agent | undefined;
  const httpAgent = new http.Agent(agentOpts);
  const agentFor = (protocol: string) => (protocol === 'https:' ? (httpsAgent ??= new (https().Agent)(agentOpts)) : httpAgent);
  const slots = semaphore(concurrency);
  const retryDelay = opts.retryDelayMs ?? 250;
  const maxRedirects = opts.maxRedirects ?? 5;
  const stats = { requests: 0 };

  /**
   * One attempt: send, follow redirects, and hand a 2xx (or an allowed 304) response to
   * `consume` inside the same timeout and concurrency slot.
   */
  async function attempt<T>(
    url: string,
    headers: Record<string, string>,
    consume: (res: IncomingMessage, finalUrl: string) => Promise<T>,
    o: { allow304?: boolean; totalTimeoutMs?: number },
  ): Promise<T> {
    let current = parseHttpUrl(url);
    const release = await slots.acquire();
    const limit = o.totalTimeoutMs ?? opts.totalTimeoutMs;
    const deadline = Date.now() + limit;
    try {
      for (let hop = 0; ; hop++) {
        const r = await exchange(current, headers, consume, o.allow304 ?? false, deadline, limit);
        if (!('redirect' in r)) return r.value;
        if (hop >= maxRedirects) throw httpError('HTTP_STATUS', `${url} redirected more than ${maxRedirects} times.`, { status: r.status });
        const next = parseHttpUrl(new URL(r.redirect, current).href);
        if (current.protocol === 'https:' && next.protocol === 'http:') {
          throw httpError('HTTP_BAD_URL', `${current.href} redirected from https to plain http (${next.href}).`);
        }
        current = next;
      }
    } finally {
      release();
    }
  }

  function exchange<T>(
    u: URL,
    headers: Record<string, string>,
    consume: (res: IncomingMessage, finalUrl: string) => Promise<T>,
    allow304: boolean,
    deadline: number,
    limit: number,
  ): Promise<{ value: T } | { redirect: string; status: number }> {
    stats.requests++;
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
        agent: agentFor(u.protocol),
        headers: { 'user-agent': opts.userAgent ?? 'conda-attest', 'accept-encoding': 'gzip, br, zstd', ...headers },
      });
      const totalTimer = setTimeout(
        () => finish(httpError('HTTP_TIMEOUT', `${u.href} did not complete within ${limit} ms.`)),
        Math.max(0, deadline - Date.now()),
      );
      req.on('socket', (socket) => {
        // Reused keep-alive sockets are already connected; only new ones get the connect timer.
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () => finish(httpError('HTTP_TIMEOUT', `Connecting to ${u.host} took longer than ${opts.connectTimeoutMs} ms.`, { retryable: true })),
          opts.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        finish(httpError('HTTP_CONNECTION_FAILED', `Request to ${u.href} failed: ${e.code ?? e.message}.`, { cause: e, retryable: true }));
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && status !== 304 && res.headers.location) {
          dispose(res);
          return finish(null, { redirect: res.headers.location, status });
        }
        const ok = (status >= 200 && status < 300) || (status === 304 && allow304);
        if (!ok) {
          dispose(res);
          if (status === 404) return finish(httpError('HTTP_NOT_FOUND', `${u.href} answered 404 Not Found.`, { status }));
          return finish(httpError('HTTP_STATUS', `${u.href} answered HTTP ${status}.`, { status, retryable: status >= 500 }));
        }
        consume(res, u.href).then(
          (value) => finish(null, { value }),
          (e: unknown) => {
            if (e instanceof AttestError) return finish(e);
            const code = (e as NodeJS.ErrnoException).code;
            const mid = code === undefined || CONNECTION_CODES.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE';
            finish(
              mid
                ? httpError('HTTP_CONNECTION_FAILED', `Reading ${u.href} failed: ${code ?? (e as Error).message}.`, { cause: e, retryable: true })
                : httpError('HTTP_CONNECTION_FAILED', `Reading ${u.href} failed: ${(e as Error).message}.`, { cause: e }),
            );
          },
        );
      });
      req.end();
    });
  }

  async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
    if (opts.offline) throw httpError('HTTP_OFFLINE', 'Network access is disabled (--offline).');
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (i >= opts.retries || !isRetryable(e)) throw e;
        const base = Math.min(retryDelay * 2 ** i, 5000);
        await new Promise((r) => setTimeout(r, base / 2 + Math.random() * (base / 2)));
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
    get(url, o) {
      return withRetries(() =>
        attempt(url, o.headers ?? {}, async (res, finalUrl) => {
          earlyCap(res, o.maxBytes, finalUrl);
          const body = await readCapped(decodedBody(res, finalUrl), o.maxBytes, finalUrl);
          return { status: res.statusCode ?? 0, headers: res.headers, body, url: finalUrl };
        }, {}),
      );
    },

    async getCached(url, cached, o) {
      // Cache-Control: max-age — a fresh copy needs no request at all.
      if (cached?.expiresAt !== undefined && cached.expiresAt > Date.now()) return { notModified: true, validators: cached };
      const headers: Record<string, string> = { ...o.headers };
      if (cached?.etag) headers['if-none-match'] = cached.etag;
      if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
      return withRetries(() =>
        attempt(url, headers, async (res, finalUrl) => {
          const fresh = cacheValidatorsFrom(res.headers, Date.now());
          if (res.statusCode === 304) {
            res.resume();
            // A 304 may omit validators; keep the ones that matched.
            return { notModified: true, validators: { etag: cached?.etag, lastModified: cached?.lastModified, ...stripUndefined(fresh) } };
          }
          earlyCap(res, o.maxBytes, finalUrl);
          const body = await readCapped(decodedBody(res, finalUrl), o.maxBytes, finalUrl);
          return { notModified: false, body, validators: fresh };
        }, { allow304: cached !== undefined }),
      );
    },

    downloadAndHash(url, o = {}) {
      const maxBytes = o.maxBytes ?? Number.POSITIVE_INFINITY;
      return withRetries(() =>
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
            const tmp = o.dest ? `${o.dest}.part-${process.pid}-${Math.random().toString(36).slice(2)}` : undefined;
            // Hash-only and large: receive here, hash on a second thread (see hash-thread.ts).
            const length = Number(res.headers['content-length']);
            const threaded = !tmp && length >= THREADED_HASH_MIN_BYTES ? new ThreadedHasher({ maxBytes, md5: o.md5 }) : undefined;
            let threadedDigest: StreamDigest | undefined;
            try {
              if (tmp) await pipeline(res, counter, createWriteStream(tmp));
              else if (threaded) {
                for await (const chunk of res) await threaded.add(chunk as Buffer);
                threadedDigest = await threaded.digest();
              }
              // Hash-only: a plain loop, no stream plumbing per chunk (measured ~15% faster).
              else for await (const chunk of res) counter.add(chunk as Buffer);
            } catch (e) {
              await threaded?.close();
              if (tmp) await unlink(tmp).catch(() => {});
              if (e instanceof TooLargeSignal) throw httpError('HTTP_TOO_LARGE', `${finalUrl} is larger than the ${maxBytes}-byte cap.`);
              const code = (e as NodeJS.ErrnoException).code;
              if (tmp && code && /^E(NOSPC|ACCES|PERM|ROFS|NOENT|ISDIR|DQUOT)$/.test(code)) {
                throw httpError('HTTP_WRITE_FAILED', `Writing ${o.dest} failed: ${code}.`, { cause: e });
              }
              throw e;
            }
            const digest = threadedDigest ?? counter.digest();
            if (o.expectedSha256 !== undefined && digest.sha256 !== o.expectedSha256.toLowerCase()) {
              if (tmp) await unlink(tmp).catch(() => {});
              throw new AttestError('PACKAGE_DIGEST_MISMATCH', `${finalUrl} has SHA-256 ${digest.sha256}, expected ${o.expectedSha256}.`, {
                hint: 'The package differs from the one recorded; do not install it.',
              });
            }
            if (tmp && o.dest) await rename(tmp, o.dest);
            return digest;
          },
          { totalTimeoutMs: o.totalTimeoutMs },
        ),
      );
    },

    close() {
      httpAgent.destroy();
      httpsAgent?.destroy();
    },
  };
  return client;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
