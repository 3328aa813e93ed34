// Start `conda-attest serve`: routes, the verification host, the HTTP(S) server and its
// bounds; `close()` stops accepting, answers what is in flight, then closes the host
// (caches flushed, verification pool stopped).
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { UsageError } from '../errors.ts';
import type { ResolvedConfig } from '../types.ts';
import { packageVersion } from '../version.ts';
import { buildRoutes, type Route } from './routes.ts';
import { openVerifierHost } from './host.ts';
import { boundServer, createServeHandler, type AccessLogLine } from './server.ts';
import { createServeMetrics } from './metrics.ts';

const requireBuiltin = createRequire(import.meta.url);

/** The command's defaults (schema/config.schema.json `serve` documents them). */
export const SERVE_DEFAULTS = {
  listen: '127.0.0.1:8080',
  requestDeadlineMs: 600_000,
  breakerCoolDownMs: 30_000,
  maxConnections: 1024,
  /** Request headers larger than this are refused (431) by node:http. */
  maxHeaderBytes: 16 * 1024,
  /** Upstream requests in flight at once: every streamed package holds one for its transfer. */
  upstreamConcurrency: 64,
} as const;

interface StartServeOptions {
  config: ResolvedConfig;
  /** NAME → URL (config serve.routes and --route). */
  routes: Record<string, string>;
  listen: { host: string; port: number };
  frozen?: boolean;
  /** Never contact the TUF repository (cached or embedded root). A proxy has no --offline: it exists to fetch. */
  noTufRefresh?: boolean;
  lockfile?: string;
  tls?: { cert: Buffer; key: Buffer };
  adminToken?: string;
  log: (line: AccessLogLine) => void;
}

export interface RunningServe {
  /** `http://127.0.0.1:8080` (the port actually bound). */
  url: string;
  routes: Route[];
  server: Server;
  inFlight(): number;
  close(): Promise<void>;
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback). */
export function parseListen(raw: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `"${raw}" is not HOST:PORT.`, { hint: 'For example --listen 127.0.0.1:8080 (or 0.0.0.0:8080 behind TLS).' });
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function startServe(o: StartServeOptions): Promise<RunningServe> {
  const routes = buildRoutes(o.config, o.routes);
  const s = o.config.serve;
  const requestDeadlineMs = s?.requestDeadlineMs ?? SERVE_DEFAULTS.requestDeadlineMs;
  const host = await openVerifierHost({
    config: o.config,
    frozen: o.frozen,
    noTufRefresh: o.noTufRefresh,
    lockfile: o.lockfile,
    transport: { requestDeadlineMs, hostCoolDownMs: s?.breakerCoolDownMs ?? SERVE_DEFAULTS.breakerCoolDownMs, maxConcurrency: SERVE_DEFAULTS.upstreamConcurrency },
  });
  const metrics = await createServeMetrics();
  const handler = createServeHandler({ routes, host, cacheDir: o.config.cacheDir, metrics, log: o.log, version: packageVersion(), adminToken: o.adminToken, requestDeadlineMs });
  const serverOptions = { maxHeaderSize: SERVE_DEFAULTS.maxHeaderBytes };
  const server: Server = o.tls
    ? (requireBuiltin('node:https') as typeof import('node:https')).createServer({ ...serverOptions, cert: o.tls.cert, key: o.tls.key }, handler.handle)
    : (requireBuiltin('node:http') as typeof import('node:http')).createServer(serverOptions, handler.handle);
  boundServer(server, { maxConnections: s?.maxConnections ?? SERVE_DEFAULTS.maxConnections, requestDeadlineMs });
  server.on('connect', handler.refuseConnect);
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    const status = e.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(new UsageError('USAGE_INVALID_ARGUMENT', `Cannot listen on ${o.listen.host}:${o.listen.port} (${e.code ?? e.message}).`, { hint: 'Choose another --listen address or stop what uses it.', cause: e }));
    });
    server.listen(o.listen.port, o.listen.host, () => resolve());
  }).catch(async (e: unknown) => {
    await host.close();
    throw e;
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${o.tls ? 'https' : 'http'}://${shownHost}:${addr.port}`,
    routes,
    server,
    inFlight: () => handler.inFlight,
    close: () =>
      (closing ??= (async () => {
        // Stop accepting; idle keep-alive connections go now, busy ones after their answer.
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await handler.idle();
        server.closeAllConnections();
        await closed;
        await host.close();
      })()),
  };
}
