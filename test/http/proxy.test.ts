// HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and lowercase) as curl, conda, pixi and npm read
// them, through a real proxy on loopback: absolute-URI requests for http://, CONNECT
// tunnels for https://, the proxy's credentials sent to the proxy only and never printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import { HttpError } from '../../src/errors.ts';
import { createHttpClient, type HttpClientOptions } from '../../src/http/client.ts';
import { bypassed, proxyFor, redactProxy } from '../../src/http/proxy.ts';
import { send, startLoopback } from '../helpers/loopback.ts';

const BASE: HttpClientOptions = { connectTimeoutMs: 5000, totalTimeoutMs: 10_000, retries: 0, retryDelayMs: 5 };
const SECRET = 's3cr3t-pa55';

interface SeenByProxy {
  method: string;
  url: string;
  auth?: string;
}

/** A real forward proxy (the `proxy` package) on 127.0.0.1 that demands Basic credentials. */
async function startProxy(): Promise<{ url: string; seen: SeenByProxy[]; close(): Promise<void> }> {
  const seen: SeenByProxy[] = [];
  const server = createProxy(createHttpServer());
  const expected = 'Basic ' + Buffer.from(`user:${SECRET}`).toString('base64');
  server.authenticate = (req: IncomingMessage) => {
    seen.push({ method: req.method!, url: req.url!, auth: req.headers['proxy-authorization'] });
    return req.headers['proxy-authorization'] === expected;
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://user:${SECRET}@127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('http:// through HTTP_PROXY: an absolute-URI request with Proxy-Authorization; the origin never sees the credentials', async () => {
  const origin = await startLoopback(send('through the proxy'));
  const proxy = await startProxy();
  const http = createHttpClient({ ...BASE, env: { HTTP_PROXY: proxy.url } });
  try {
    const r = await http.get(`${origin.url}/ch/noarch/repodata.json`, { maxBytes: 100 });
    assert.equal(r.body.toString(), 'through the proxy');
    assert.equal(proxy.seen.length, 1);
    assert.equal(proxy.seen[0]!.method, 'GET');
    assert.equal(proxy.seen[0]!.url, `${origin.url}/ch/noarch/repodata.json`, 'absolute-URI form (RFC 9112 §3.2.2)');
    assert.equal(origin.requests.length, 1);
    assert.equal(origin.requests[0]!.headers['proxy-authorization'], undefined);
    assert.ok(!JSON.stringify(origin.requests[0]!.headers).includes(SECRET));
  } finally {
    http.close();
    await proxy.close();
    await origin.close();
  }
});

test('https:// through HTTPS_PROXY (lowercase): a CONNECT tunnel to the origin; errors name the proxy without its credentials', async () => {
  // The origin is a plain TCP server that records the first bytes of the tunnel: a TLS
  // ClientHello (0x16) proves the client spoke TLS end to end through the CONNECT tunnel.
  const firstBytes: Buffer[] = [];
  const tcp = createTcpServer((socket) => {
    socket.once('data', (d) => {
      firstBytes.push(d);
      socket.destroy();
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const port = (tcp.address() as AddressInfo).port;
  const proxy = await startProxy();
  const http = createHttpClient({ ...BASE, env: { https_proxy: proxy.url } });
  try {
    const err = await http.get(`https://127.0.0.1:${port}/ch/noarch/repodata.json`, { maxBytes: 100 }).then(
      () => assert.fail('a TCP server cannot complete a TLS handshake'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(proxy.seen.length, 1);
    assert.equal(proxy.seen[0]!.method, 'CONNECT');
    assert.equal(proxy.seen[0]!.url, `127.0.0.1:${port}`);
    assert.equal(firstBytes.length, 1);
    assert.equal(firstBytes[0]![0], 0x16, 'TLS handshake record through the tunnel');
    assert.ok(!firstBytes[0]!.includes(SECRET));
    assert.match(err.message, /through the proxy http:\/\/127\.0\.0\.1:\d+/);
    const printed = `${err.message} ${err.hint ?? ''} ${String((err as Error).cause)}`;
    assert.ok(!printed.includes(SECRET), printed);
  } finally {
    http.close();
    await proxy.close();
    await new Promise<void>((r) => tcp.close(() => r()));
  }
});

test('wrong proxy credentials: the 407 is an error, nothing reaches the origin', async () => {
  const origin = await startLoopback(send('x'));
  const proxy = await startProxy();
  const http = createHttpClient({ ...BASE, env: { HTTP_PROXY: proxy.url.replace(SECRET, 'wrong') } });
  try {
    await assert.rejects(http.get(`${origin.url}/x`, { maxBytes: 10 }), (e: HttpError) => e.status === 407 && !e.message.includes('wrong'));
    assert.equal(origin.requests.length, 0);
  } finally {
    http.close();
    await proxy.close();
    await origin.close();
  }
});

test('NO_PROXY: a matching host goes direct', async () => {
  const origin = await startLoopback(send('direct'));
  const proxy = await startProxy();
  const http = createHttpClient({ ...BASE, env: { HTTP_PROXY: proxy.url, NO_PROXY: 'example.org, 127.0.0.1' } });
  try {
    assert.equal((await http.get(`${origin.url}/x`, { maxBytes: 10 })).body.toString(), 'direct');
    assert.equal(proxy.seen.length, 0);
  } finally {
    http.close();
    await proxy.close();
    await origin.close();
  }
});

test('proxy selection: scheme-specific variables, lowercase first, NO_PROXY host, domain suffix, port, CIDR and *', () => {
  const u = (s: string) => new URL(s);
  const env = { HTTPS_PROXY: 'http://upper:8080', https_proxy: 'http://lower:8080', HTTP_PROXY: 'plain:3128' };
  assert.equal(proxyFor(u('https://prefix.dev/x'), env)?.host, 'lower:8080');
  assert.equal(proxyFor(u('http://prefix.dev/x'), env)?.href, 'http://plain:3128/');
  assert.equal(proxyFor(u('https://prefix.dev/x'), { HTTP_PROXY: 'http://p:1' }), null, 'an https URL uses HTTPS_PROXY only');
  assert.equal(proxyFor(u('https://prefix.dev/x'), { HTTPS_PROXY: 'socks5://p:1' }), null);
  const np = (target: string, noProxy: string) => bypassed(u(target), noProxy);
  assert.equal(np('https://prefix.dev/x', 'prefix.dev'), true);
  assert.equal(np('https://repo.prefix.dev/x', 'prefix.dev'), true, 'a bare domain covers its sub-domains (curl, requests)');
  assert.equal(np('https://repo.prefix.dev/x', '.prefix.dev'), true);
  assert.equal(np('https://repo.prefix.dev/x', '*.prefix.dev'), true);
  assert.equal(np('https://notprefix.dev/x', 'prefix.dev'), false, 'suffix on a label boundary only');
  assert.equal(np('https://prefix.dev/x', 'prefix.dev:443'), true);
  assert.equal(np('https://prefix.dev/x', 'prefix.dev:8443'), false);
  assert.equal(np('http://10.1.2.3/x', '10.0.0.0/8'), true);
  assert.equal(np('http://11.1.2.3/x', '10.0.0.0/8'), false);
  assert.equal(np('http://[::1]:8080/x', '::1'), true);
  assert.equal(np('https://PREFIX.dev/x', 'Prefix.DEV'), true);
  assert.equal(np('https://anything/x', '*'), true);
  assert.equal(np('https://anything/x', ' , '), false);
  assert.equal(redactProxy(new URL('http://user:pw@proxy.corp:3128')), 'http://proxy.corp:3128');
});
