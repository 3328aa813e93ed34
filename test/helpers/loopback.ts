// The loopback HTTP server every test helper and test builds on (fixture channels, the
// local Sigstore instance, hostile servers, mirrors): routes by path, records every request
// (method, path, headers) so tests can assert what was — and was not — asked for, tracks
// every socket and timer so close() leaves nothing behind (a stalled connection, a ticking
// interval). Behaviours that misbehave on purpose live in hostile-server.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, server: Loopback) => void | Promise<void>;

export interface LoopbackOptions {
  /** Answers every path without a route (default: 404 "not found"). */
  fallback?: Handler;
  /**
   * No server-side request or header timeouts: the client under test must bound every wait
   * itself (hostile servers that stall on purpose).
   */
  noServerTimeouts?: boolean;
}

export interface Loopback {
  /** `http://127.0.0.1:PORT` */
  url: string;
  server: Server;
  /** Every request seen, in order. */
  requests: { method: string; path: string; headers: IncomingMessage['headers'] }[];
  /** TCP connections accepted. */
  connections: number;
  /** Connections currently open. */
  readonly openSockets: number;
  route(path: string, h: Handler): void;
  /** Register a timer to be cleared on close (for handlers that tick). */
  track<T extends NodeJS.Timeout>(timer: T): T;
  close(): Promise<void>;
}

/** Start a server on 127.0.0.1 (a free port). A handler that throws or rejects resets its connection. */
export async function startLoopback(o: Handler | LoopbackOptions = {}): Promise<Loopback> {
  const { fallback, noServerTimeouts } = typeof o === 'function' ? { fallback: o, noServerTimeouts: false } : o;
  const routes = new Map<string, Handler>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const lb: Loopback = {
    url: '',
    server: undefined as unknown as Server,
    requests: [],
    connections: 0,
    get openSockets() {
      return sockets.size;
    },
    route: (p, h) => void routes.set(p, h),
    track: (t) => (timers.add(t), t),
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        lb.server.closeAllConnections();
        lb.server.close(() => resolve());
      }),
  };
  lb.server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    lb.requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const h = routes.get(path) ?? fallback;
    if (!h) {
      res.writeHead(404, { 'content-length': '9' }).end('not found');
      return;
    }
    try {
      void Promise.resolve(h(req, res, lb)).catch((e: unknown) => res.destroy(e instanceof Error ? e : new Error(String(e))));
    } catch (e) {
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  });
  if (noServerTimeouts) {
    lb.server.requestTimeout = 0;
    lb.server.headersTimeout = 0;
  }
  // close() ends keep-alive sockets itself. A short server-side idle timeout only races the
  // client: on a loaded machine a client reuses a socket just as the server closes it.
  lb.server.keepAliveTimeout = 60_000;
  lb.server.on('connection', (s: Socket) => {
    lb.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => lb.server.listen(0, '127.0.0.1', () => r()));
  lb.url = `http://127.0.0.1:${(lb.server.address() as AddressInfo).port}`;
  return lb;
}

/** A handler that answers with a fixed body (callable on any node:http request, too). */
export function send(body: string | Buffer, status = 200, headers: Record<string, string> = {}): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': String(b.length), ...headers }).end(b);
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago): connections are refused. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
