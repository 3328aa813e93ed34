// `conda-attest serve`: the HTTP edge of the verifying channel proxy (docs/serve.md).
// Decisions are the pipeline's (src/serve/host.ts); this file only maps requests to them
// and their outcomes to HTTP:
//   - index documents and shards pass through byte for byte (CEP 50: a mirror serves
//     sidecars and repodata unchanged), validators honoured;
//   - a package is looked up in repodata, judged under its channel's policy BEFORE any
//     byte is sent, then streamed while hashed (src/serve/flight.ts);
//   - blocked → 403 text/plain (code, reason, hint) + X-Conda-Attest-Code; warned →
//     X-Conda-Attest-Warning; upstream down → 502 UPSTREAM_UNAVAILABLE.
import { timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HttpError, isAttestError, notPublishedStatus, RepodataError } from '../errors.ts';
import type { Code } from '../codes.ts';
import type { PackageReport, Reason } from '../types.ts';
import { escapeText } from '../text/escape.ts';
import { classify, upstreamUrl, type Route, type Target } from './routes.ts';
import { packageRecord, type RecordEntry, type VerifierHost } from './host.ts';
import { startFlight, type Flight } from './flight.ts';
import { notModified, openIndexStore, type StoredDocument } from './index-store.ts';
import type { ServeMetrics } from './metrics.ts';

export interface AccessLogLine {
  time: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  route?: string;
  /** What the path named: index, shard, sidecar, package, admin. */
  kind?: string;
  package?: string;
  verdict?: { status: string; action: string; codes: Code[] };
  /** X-Conda-Attest-Code of the answer. */
  code?: string;
  /** Why it was answered so (400/404/403/502, stale, reset). */
  note?: string;
}

interface ServeOptions {
  routes: Route[];
  host: VerifierHost;
  cacheDir: string;
  metrics: ServeMetrics;
  log: (line: AccessLogLine) => void;
  version: string;
  /** Bearer token required on /-/health and /-/metrics. */
  adminToken?: string;
  /** Deadline of one upstream request, ms. */
  requestDeadlineMs: number;
}

/** Headers the proxy adds (docs/serve.md). */
const H_CODE = 'x-conda-attest-code';
const H_WARNING = 'x-conda-attest-warning';
const H_STALE = 'x-conda-attest-stale';

/** Packages are immutable per name and checked on every answer; an hour bounds how long a shared cache keeps a verdict. */
const PACKAGE_CACHE_CONTROL = 'public, max-age=3600';

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  line: AccessLogLine;
  head: boolean;
}

interface ServeHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Answer CONNECT (an open proxy's tunnel) with 400 and close. */
  refuseConnect(req: IncomingMessage, socket: Socket): void;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** Resolves once no request is being answered. */
  idle(): Promise<void>;
}

/** The proxy's request handler; its state is the run's in-flight work (refreshes, verdicts, transfers). */
class Handler implements ServeHandler {
  private readonly o: ServeOptions;
  private readonly store: ReturnType<typeof openIndexStore>;
  private readonly flights = new Map<string, Flight>();
  private readonly verdicts = new Map<string, Promise<PackageReport>>();
  private readonly refreshes = new Map<string, Promise<StoredDocument | { failed: unknown; stale?: StoredDocument }>>();
  inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(o: ServeOptions) {
    this.o = o;
    this.store = openIndexStore(o.cacheDir);
  }

  finishLine(ctx: Ctx, started: number): void {
    ctx.line.ms = Math.round(performance.now() - started);
    ctx.line.status = ctx.res.statusCode;
    this.o.metrics.request(ctx.line);
    this.o.log(ctx.line);
    if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  text(ctx: Ctx, status: number, body: string, headers: Record<string, string> = {}): void {
    const bytes = Buffer.from(body + '\n');
    ctx.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': bytes.length, 'cache-control': 'no-store', ...headers });
    ctx.res.end(ctx.head ? undefined : bytes);
  }

  /** A refusal with a code: the body names it, the reason and the hint, one line each. */
  refuse(ctx: Ctx, status: number, reason: Reason, note?: string): void {
    ctx.line.code = reason.code;
    if (note) ctx.line.note = note;
    // One line each (a reason's text is never allowed to add lines of its own).
    const body = [`${reason.code}: ${reason.message}`, ...(reason.hint ? [`hint: ${reason.hint}`] : [])].map(escapeText).join('\n');
    this.text(ctx, status, body, { [H_CODE]: reason.code });
  }

  upstreamDown(ctx: Ctx, cause: unknown): void {
    const why = cause instanceof Error ? cause.message : String(cause);
    this.refuse(ctx, 502, {
      code: 'UPSTREAM_UNAVAILABLE',
      message: `The upstream channel could not be reached or failed: ${why.replace(/\.$/, '')}.`,
      hint: 'Try again later; the proxy serves nothing it could not check.',
    });
  }

  /**
   * GET `path` from the route's channel, then from each of its mirrors while the one before
   * could not answer at all (connection failure, 5xx, breaker open): the channel's mirrors
   * are upstream fallbacks of its route. An answer (a 404 too) is final.
   */
  async forwardAny<T>(route: Route, path: string, headers: Record<string, string>, consume: (res: IncomingMessage, base: string) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const base of [route.channel, ...route.mirrors]) {
      let answered = false;
      try {
        return await this.o.host.http.forward(upstreamUrl(base, path), { headers, totalTimeoutMs: this.o.requestDeadlineMs }, (res) => {
          answered = true;
          return consume(res, base);
        });
      } catch (e) {
        if (answered || !unreachable(e)) throw e;
        last = e;
      }
    }
    throw last;
  }

  authorized(req: IncomingMessage): boolean {
    if (!this.o.adminToken) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const a = Buffer.from(m[1]!.trim());
    const b = Buffer.from(this.o.adminToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async admin(ctx: Ctx, name: 'health' | 'metrics'): Promise<void> {
    if (!this.authorized(ctx.req)) {
      ctx.line.note = 'admin token missing or wrong';
      return this.text(ctx, 401, 'An admin token is required (Authorization: Bearer TOKEN).', { 'www-authenticate': 'Bearer' });
    }
    if (name === 'metrics') {
      const body = await this.o.metrics.render();
      ctx.res.writeHead(200, { 'content-type': this.o.metrics.contentType, 'cache-control': 'no-store' });
      return void ctx.res.end(ctx.head ? undefined : body);
    }
    const root = this.o.host.trustRoot();
    const body = JSON.stringify(
      {
        status: 'ok',
        version: this.o.version,
        routes: this.o.routes.map((r) => ({ route: `/${r.name}`, channel: r.channel, mirrors: r.mirrors, checks: r.enabled })),
        trust_root: root ? { source: root.source, age_days: root.ageDays } : null,
        lockfile: { path: this.o.host.lockPath, pins: this.o.host.pins() },
        upstream_hosts_cut_off: this.o.host.http.openHosts(),
        in_flight: this.inFlight - 1,
      },
      null,
      2,
    );
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    ctx.res.end(ctx.head ? undefined : body + '\n');
  }

  /** Send a stored document, answering the client's conditional request from its validators. */
  sendStored(ctx: Ctx, doc: StoredDocument, stale?: string): void {
    const headers: Record<string, string | number> = { ...doc.headers };
    if (stale) {
      headers[H_STALE] = stale;
      ctx.line.note = `stale: ${stale}`;
    }
    if (notModified(ctx.req.headers, doc.headers.etag, doc.headers['last-modified'])) {
      ctx.res.writeHead(304, headers);
      return void ctx.res.end();
    }
    headers['content-length'] = doc.size;
    ctx.res.writeHead(200, headers);
    if (ctx.head) return void ctx.res.end();
    const body = createReadStream(doc.body);
    body.on('error', () => ctx.res.destroy());
    body.pipe(ctx.res);
    ctx.line.bytes = doc.size;
  }

  /** Bring the stored copy of an index document up to date (one upstream request per document at a time). */
  refresh(route: Route, path: string): Promise<StoredDocument | { failed: unknown; stale?: StoredDocument }> {
    // Stored under the channel's URL whichever upstream answered (they serve the same channel).
    const url = upstreamUrl(route.channel, path);
    let running = this.refreshes.get(url);
    if (running) return running;
    running = (async () => {
      const stored = await this.store.get(url);
      if (stored?.freshUntil !== undefined && stored.freshUntil > Date.now()) return stored;
      const headers: Record<string, string> = {};
      if (stored?.headers.etag) headers['if-none-match'] = stored.headers.etag;
      if (stored?.headers['last-modified']) headers['if-modified-since'] = stored.headers['last-modified'];
      const started = performance.now();
      try {
        const doc = await this.forwardAny(route, path, headers, async (up) => {
          if (up.statusCode === 304 && stored) return this.store.revalidated(stored, up, Date.now());
          if (up.statusCode === 200) return this.store.put(url, up, Date.now());
          up.resume();
          throw new HttpError(notPublishedStatus(up.statusCode) ? 'HTTP_NOT_FOUND' : 'HTTP_STATUS', `${url} answered HTTP ${up.statusCode}.`);
        });
        this.o.metrics.upstream('index', performance.now() - started);
        return doc;
      } catch (e) {
        return { failed: e, ...(stored ? { stale: stored } : {}) };
      }
    })().finally(() => this.refreshes.delete(url));
    this.refreshes.set(url, running);
    return running;
  }

  async index(ctx: Ctx, route: Route, path: string): Promise<void> {
    const r = await this.refresh(route, path);
    if (!('failed' in r)) return this.sendStored(ctx, r);
    if (r.failed instanceof HttpError && r.failed.code === 'HTTP_NOT_FOUND') {
      ctx.line.note = 'not published upstream';
      return this.text(ctx, 404, 'Not found upstream.');
    }
    if (r.stale) {
      const age = Math.round((Date.now() - r.stale.storedAt) / 1000);
      this.o.metrics.stale();
      return this.sendStored(ctx, r.stale, `age=${age}; the upstream could not be reached`);
    }
    this.upstreamDown(ctx, r.failed);
  }

  /** Shards and sidecars: immutable or small, passed through as received (status and validators too). */
  async passThrough(ctx: Ctx, route: Route, path: string, kind: string): Promise<void> {
    const headers: Record<string, string> = {};
    for (const h of ['if-none-match', 'if-modified-since'] as const) {
      const v = ctx.req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const started = performance.now();
    try {
      await this.forwardAny(route, path, headers, async (up) => {
        this.o.metrics.upstream(kind, performance.now() - started);
        const status = up.statusCode ?? 502;
        if (notPublishedStatus(status)) {
          up.resume();
          return this.text(ctx, 404, 'Not found upstream.');
        }
        const out: Record<string, string> = {};
        for (const h of ['content-type', 'content-length', 'content-encoding', 'etag', 'last-modified', 'cache-control'] as const) {
          const v = up.headers[h];
          if (typeof v === 'string') out[h] = v;
        }
        ctx.res.writeHead(status === 304 ? 304 : status === 200 ? 200 : 502, out);
        if (ctx.head || status !== 200) {
          up.resume();
          return void ctx.res.end();
        }
        for await (const chunk of up as AsyncIterable<Buffer>) {
          ctx.line.bytes += chunk.length;
          if (!ctx.res.write(chunk)) await new Promise((r) => ctx.res.once('drain', r));
          if (ctx.res.destroyed) return void up.destroy();
        }
        ctx.res.end();
      });
    } catch (e) {
      if (ctx.res.headersSent) return void ctx.res.destroy();
      this.upstreamDown(ctx, e);
    }
  }

  /**
   * The record of a file of the channel and the upstream that gave it (the channel, or a
   * mirror while the channel cannot be reached), or an answer already sent (404 / 502).
   */
  async recordOf(ctx: Ctx, t: Extract<Target, { kind: 'sidecar' | 'package' }>): Promise<{ entry: RecordEntry; base: string } | undefined> {
    let failure: unknown;
    for (const base of [t.route.channel, ...t.route.mirrors]) {
      try {
        const entry = await this.o.host.lookup(base, t.subdir, t.filename);
        if (!entry) {
          ctx.line.note = 'not in the channel repodata';
          this.text(ctx, 404, `${t.filename} is not in the repodata of ${t.route.channel}/${t.subdir}.`);
          return undefined;
        }
        return { entry, base };
      } catch (e) {
        if (e instanceof RepodataError && isMissingUpstream(e)) {
          ctx.line.note = 'no repodata upstream';
          this.text(ctx, 404, `${t.route.channel}/${t.subdir} publishes no repodata.`);
          return undefined;
        }
        if (isAttestError(e) && e.code === 'REPODATA_MALFORMED') {
          this.refuse(ctx, 502, { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
          return undefined;
        }
        failure = e;
        if (!unreachable(e)) break;
      }
    }
    this.upstreamDown(ctx, failure);
    return undefined;
  }

  async pkg(ctx: Ctx, t: Extract<Target, { kind: 'package' }>): Promise<void> {
    const found = await this.recordOf(ctx, t);
    if (!found) return;
    const { entry, base } = found;
    const url = upstreamUrl(base, t.path);
    // A record from a mirror is judged under the channel's policy (src/policy/channel.ts policyFor).
    const record = packageRecord(base, t.subdir, t.filename, entry, url);
    ctx.line.package = `${t.route.channel}/${t.subdir}/${t.filename}`;
    // One verification per package at a time; later ones reuse the pipeline's verdict cache.
    const key = `${url}#${entry.sha256 ?? ''}`;
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      verdict = this.o.host.verify(record, entry.sha256 ? { sha256: entry.sha256, source: 'lockfile' } : null).finally(() => this.verdicts.delete(key));
      this.verdicts.set(key, verdict);
    }
    let row: PackageReport;
    try {
      row = await verdict;
    } catch (e) {
      const r = isAttestError(e) ? { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } : { code: 'INTERNAL_ERROR' as const, message: String(e) };
      this.o.metrics.verdict('error', 'block', r.code);
      return this.refuse(ctx, 500, r, 'verification could not run');
    }
    ctx.line.verdict = { status: row.status, action: row.action, codes: row.reasons.map((r) => r.code) };
    this.o.metrics.verdict(row.status, row.action, row.reasons[0]?.code);
    if (row.action === 'block') {
      const reason = row.reasons[0] ?? { code: 'PACKAGE_BLOCKED' as const, message: `${t.filename} is ${row.status}.` };
      // An upstream that could not be asked is a 502 (try again), not a verdict on the package.
      if (row.status === 'retrieval-failed') return this.upstreamDown(ctx, new Error(`${reason.code}: ${reason.message}`));
      return this.refuse(ctx, 403, reason, row.status);
    }
    const sha256 = entry.sha256 ?? row.sha256;
    if (!sha256) return this.upstreamDown(ctx, new Error(`no SHA-256 is known for ${t.filename}`));
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      etag: `"${sha256}"`,
      'cache-control': PACKAGE_CACHE_CONTROL,
    };
    if (entry.size !== undefined) headers['content-length'] = entry.size;
    if (row.action === 'warn') {
      const w = row.reasons[0];
      headers[H_WARNING] = headerValue(w ? `${w.code}: ${w.message}` : row.status);
      if (w) headers[H_CODE] = w.code;
    }
    if (notModified(ctx.req.headers, `"${sha256}"`, undefined)) {
      ctx.res.writeHead(304, headers);
      return void ctx.res.end();
    }
    if (ctx.head) {
      ctx.res.writeHead(200, headers);
      return void ctx.res.end();
    }
    await this.stream(ctx, t, { sha256, ...(entry.size !== undefined ? { size: entry.size } : {}) }, headers);
  }

  /** Stream the package from upstream (one transfer for every client asking at once). */
  async stream(ctx: Ctx, t: Extract<Target, { kind: 'package' }>, expected: { sha256: string; size?: number }, headers: Record<string, string | number>): Promise<void> {
    const key = `${upstreamUrl(t.route.channel, t.path)}#${expected.sha256}`;
    let flight = this.flights.get(key);
    let joined = flight?.join(ctx.res, headers);
    if (!joined) {
      const started = performance.now();
      flight = startFlight({
        expected,
        fetch: (consume) =>
          this.forwardAny(t.route, t.path, {}, (res) => {
            this.o.metrics.upstream('package', performance.now() - started);
            return consume(res);
          }),
        onEnd: (end) => {
          if (this.flights.get(key) === flight) this.flights.delete(key);
          this.o.metrics.bytes('upstream', end.bytes);
        },
      });
      this.flights.set(key, flight);
      joined = flight.join(ctx.res, headers)!;
    }
    const end = await joined;
    if (end.ok) {
      ctx.line.bytes = end.bytes;
      return;
    }
    if (end.why === 'mismatch') {
      this.o.metrics.verdict('invalid', 'block', 'PACKAGE_DIGEST_MISMATCH');
      ctx.line.code = 'PACKAGE_DIGEST_MISMATCH';
      ctx.line.note = `connection reset: ${end.message}`;
      ctx.line.verdict = { status: 'invalid', action: 'block', codes: ['PACKAGE_DIGEST_MISMATCH'] };
      if (!ctx.res.headersSent) this.refuse(ctx, 403, { code: 'PACKAGE_DIGEST_MISMATCH', message: `The upstream bytes of this package do not match its repodata record: ${end.message}.`, hint: 'The upstream or the path to it serves other bytes than the channel recorded; do not install this package.' });
      return;
    }
    if (end.why === 'aborted') {
      ctx.line.note = 'client went away';
      return;
    }
    if (!ctx.res.headersSent) return this.upstreamDown(ctx, new Error(end.message));
    ctx.line.note = `connection reset: upstream broke off (${end.message})`;
  }

  async answer(ctx: Ctx): Promise<void> {
    const { req } = ctx;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      ctx.line.note = 'method not allowed';
      return this.text(ctx, 405, 'Only GET and HEAD are served.', { allow: 'GET, HEAD' });
    }
    const c = classify(req.url ?? '', this.o.routes);
    if (!c.ok) {
      ctx.line.note = c.why;
      return this.text(ctx, c.status, c.status === 400 ? `Bad request: ${c.why}.` : 'Not found.');
    }
    const t = c.target;
    ctx.line.kind = t.kind;
    if (t.kind === 'admin') return this.admin(ctx, t.name);
    ctx.line.route = t.route.name;
    if (t.kind === 'index') return this.index(ctx, t.route, t.path);
    if (t.kind === 'shard') return this.passThrough(ctx, t.route, t.path, 'shard');
    if (t.kind === 'sidecar') {
      // Only the sidecars of files the channel's repodata knows (no request for other names).
      if (!(await this.recordOf(ctx, t))) return;
      return this.passThrough(ctx, t.route, t.path, 'sidecar');
    }
    return this.pkg(ctx, t);
  }

  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  // Arrow properties: the server calls them unbound (src/serve/start.ts).
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight++;
    const started = performance.now();
    const ctx: Ctx = {
      req,
      res,
      head: req.method === 'HEAD',
      line: { time: new Date().toISOString(), method: req.method ?? '', path: (req.url ?? '').slice(0, 2048), status: 0, bytes: 0, ms: 0 },
    };
    let logged = false;
    const done = (): void => {
      if (logged) return;
      logged = true;
      this.finishLine(ctx, started);
    };
    res.once('close', done);
    this.answer(ctx).catch((e: unknown) => {
      if (!res.headersSent) this.refuse(ctx, 500, { code: 'INTERNAL_ERROR', message: e instanceof Error ? e.message : String(e) });
      else res.destroy();
    });
  };

  readonly refuseConnect = (req: IncomingMessage, socket: Socket): void => {
    const line: AccessLogLine = { time: new Date().toISOString(), method: req.method ?? 'CONNECT', path: (req.url ?? '').slice(0, 2048), status: 400, bytes: 0, ms: 0, note: 'CONNECT is not served (this is not an open proxy)' };
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 33\r\n\r\nThis is not an open proxy (400).\n');
    this.o.metrics.request(line);
    this.o.log(line);
  };
}

export function createServeHandler(o: ServeOptions): ServeHandler {
  return new Handler(o);
}

/** A header value from text: printable ASCII only (RFC 9110 §5.5 field values), bounded. */
function headerValue(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, '?').slice(0, 1024);
}

/** The upstream could not answer at all (connection failure, stall, 5xx, breaker open), through causes. */
function unreachable(e: unknown): boolean {
  let c: unknown = e;
  for (let depth = 0; c !== undefined && c !== null && depth < 5; depth++) {
    if (c instanceof HttpError) return c.code === 'HTTP_CONNECTION_FAILED' || c.code === 'HTTP_TIMEOUT' || (c.code === 'HTTP_STATUS' && (c.status ?? 500) >= 500);
    c = (c as { cause?: unknown }).cause;
  }
  return false;
}

/** Repodata answered 404 for every format: the channel publishes none for the subdir. */
function isMissingUpstream(e: RepodataError): boolean {
  return e.cause instanceof HttpError && e.cause.code === 'HTTP_NOT_FOUND';
}

/** Apply the bounds of a public server: header size, connections, slow clients. */
export function boundServer(server: Server, o: { maxConnections: number; requestDeadlineMs: number }): void {
  server.maxConnections = o.maxConnections;
  server.headersTimeout = 20_000;
  // A whole request (headers and body: there is none) within the header timeout; the
  // response may stream as long as the upstream transfer's own deadline.
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.timeout = o.requestDeadlineMs;
}
