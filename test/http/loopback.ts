// A tiny loopback HTTP server for tests of the HTTP client, repodata and sidecar code:
// routes by path, records every request (method, path, headers) so tests can assert what
// was — and was not — asked for.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Loopback {
  url: string;
  server: Server;
  requests: { path: string; headers: IncomingMessage['headers'] }[];
  /** TCP connections accepted. */
  connections: number;
  route(path: string, h: Handler): void;
  close(): Promise<void>;
}

export async function startLoopback(fallback?: Handler): Promise<Loopback> {
  const routes = new Map<string, Handler>();
  const lb: Loopback = {
    url: '',
    server: undefined as unknown as Server,
    requests: [],
    connections: 0,
    route: (p, h) => void routes.set(p, h),
    close: () =>
      new Promise<void>((resolve) => {
        lb.server.closeAllConnections();
        lb.server.close(() => resolve());
      }),
  };
  lb.server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    lb.requests.push({ path, headers: req.headers });
    const h = routes.get(path) ?? fallback;
    if (!h) {
      res.writeHead(404, { 'content-length': '9' }).end('not found');
      return;
    }
    void Promise.resolve(h(req, res)).catch((e: unknown) => {
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  });
  lb.server.on('connection', () => lb.connections++);
  await new Promise<void>((r) => lb.server.listen(0, '127.0.0.1', () => r()));
  lb.url = `http://127.0.0.1:${(lb.server.address() as AddressInfo).port}`;
  return lb;
}

/** A handler that answers with a fixed body. */
export function send(body: string | Buffer, status = 200, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': String(b.length), ...headers }).end(b);
  };
}
