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
import { bypassed, checkProxyEnv, proxyFor, redactProxy } from '../../src/http/proxy.ts';
import { startConnectAnswering, startSocks5 } from '../helpers/proxies.ts';
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
  assert.equal(proxyFor(u('https://prefix.dev/x'), { HTTPS_PROXY: 'socks5://p:1' })?.href, 'socks5://p:1');
  assert.equal(proxyFor(u('https://prefix.dev/x'), { HTTPS_PROXY: 'socks5h://p:1', NO_PROXY: 'prefix.dev' }), null, 'NO_PROXY applies to SOCKS proxies too');
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

// Attack: a proxy that answers CONNECT with a 2xx other than 200 and a body, hoping the
// body is taken as the https:// resource (here of a host that does not exist).
for (const status of [203, 201, 204, 206, 299]) {
  test(`attack: a proxy answering CONNECT with ${status} plus a body never serves https:// content: PROXY_FAILED naming the proxy (no credentials) and the status`, async () => {
    const body = status === 204 ? '' : '{"info":{"subdir":"noarch"},"packages":{},"packages.conda":{"evil-1-0.conda":{}}}';
    const proxy = await startConnectAnswering(`HTTP/1.1 ${status} Whatever\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`, { user: `user:${SECRET}` });
    const http = createHttpClient({ ...BASE, retries: 2, env: { HTTPS_PROXY: proxy.url } });
    try {
      const err = await http.get('https://conda.invalid/forge/noarch/repodata.json', { maxBytes: 1 << 20 }).then(
        (r) => assert.fail(`content was accepted: ${r.status} ${r.body.toString()}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof HttpError, String(err));
      assert.equal(err.code, 'PROXY_FAILED');
      assert.equal(err.status, status);
      assert.match(err.message, new RegExp(`proxy http://127\\.0\\.0\\.1:\\d+ did not open a tunnel to conda\\.invalid: it answered CONNECT with ${status}`));
      assert.ok(!`${err.message} ${err.hint}`.includes(SECRET));
      assert.deepEqual(proxy.seen, ['conda.invalid:443'], 'a 2xx refusal is not retried');
      // Nor does the package path fare better.
      await assert.rejects(http.downloadAndHash('https://conda.invalid/forge/noarch/evil-1-0.conda'), (e: HttpError) => e.code === 'PROXY_FAILED');
    } finally {
      http.close();
      await proxy.close();
    }
  });
}

test('a CONNECT answered 502 is PROXY_FAILED too (retried as a proxy failure), never the 502 page as an origin status', async () => {
  const proxy = await startConnectAnswering('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 3\r\n\r\nbad');
  const http = createHttpClient({ ...BASE, retries: 1, env: { https_proxy: proxy.url } });
  try {
    await assert.rejects(http.get('https://conda.invalid/x', { maxBytes: 100 }), (e: HttpError) => e.code === 'PROXY_FAILED' && e.status === 502 && /502 Bad Gateway/.test(e.message));
    assert.equal(proxy.seen.length, 2);
  } finally {
    http.close();
    await proxy.close();
  }
});

test('unusable proxy variables are PROXY_UNSUPPORTED before anything is sent, never a silent direct connection; the value is not echoed', () => {
  for (const env of [
    { HTTPS_PROXY: 'socks4://p:1080' },
    { https_proxy: 'ftp://user:hunter2@p:21' },
    { HTTP_PROXY: 'http://[not-an-ip' },
    { http_proxy: 'http://user:hunter2@' },
    { HTTPS_PROXY: 'pac+http://p/proxy.pac' },
  ]) {
    assert.throws(
      () => createHttpClient({ ...BASE, env }),
      (e: unknown) => e instanceof HttpError && e.code === 'PROXY_UNSUPPORTED' && !e.message.includes('hunter2') && /HTTPS?_PROXY/.test(e.message),
      JSON.stringify(env),
    );
  }
  // Set but bypassed by NO_PROXY: still an error (the variable itself is wrong).
  assert.throws(() => checkProxyEnv({ HTTPS_PROXY: 'socks4://p:1', NO_PROXY: '*' }), (e: HttpError) => e.code === 'PROXY_UNSUPPORTED');
  assert.throws(() => proxyFor(new URL('https://prefix.dev/x'), { HTTPS_PROXY: 'gopher://p:70' }), (e: HttpError) => e.code === 'PROXY_UNSUPPORTED');
  for (const ok of ['http://p:3128', 'https://p:443', 'socks5://u:p@p:1080', 'socks5h://p:1080', 'p:3128', '']) checkProxyEnv({ HTTPS_PROXY: ok, HTTP_PROXY: ok });
});

for (const scheme of ['socks5', 'socks5h'] as const) {
  test(`${scheme}:// proxies: http:// through the SOCKS tunnel with username/password; https:// speaks TLS end to end through it; NO_PROXY still goes direct`, async () => {
    const origin = await startLoopback(send('via socks'));
    const socks = await startSocks5({ credentials: { user: 'user', pass: SECRET }, scheme });
    const firstBytes: Buffer[] = [];
    const tcp = createTcpServer((socket) => {
      socket.once('data', (d) => {
        firstBytes.push(d);
        socket.destroy();
      });
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const tlsPort = (tcp.address() as AddressInfo).port;
    const http = createHttpClient({ ...BASE, env: { HTTP_PROXY: socks.url, HTTPS_PROXY: socks.url } });
    try {
      const originPort = new URL(origin.url).port;
      // socks5h: the proxy resolves the name, so a name only the proxy knows works.
      const target = scheme === 'socks5h' ? `http://origin.test:${originPort}/x` : `${origin.url}/x`;
      assert.equal((await http.get(target, { maxBytes: 100 })).body.toString(), 'via socks');
      assert.deepEqual(socks.seen, [scheme === 'socks5h' ? `origin.test:${originPort}` : `127.0.0.1:${originPort}`]);
      assert.deepEqual(socks.auth, [`user:${SECRET}`]);
      assert.equal(origin.requests[0]!.headers['proxy-authorization'], undefined);
      const err = await http.get(`https://127.0.0.1:${tlsPort}/x`, { maxBytes: 100 }).then(() => assert.fail('no TLS server there'), (e: unknown) => e);
      assert.ok(err instanceof HttpError);
      assert.equal(firstBytes[0]?.[0], 0x16, 'a TLS ClientHello went through the SOCKS tunnel');
      assert.ok(!`${err.message} ${err.hint}`.includes(SECRET), err.message);
      const direct = createHttpClient({ ...BASE, env: { HTTP_PROXY: socks.url, NO_PROXY: '127.0.0.1' } });
      try {
        assert.equal((await direct.get(`${origin.url}/y`, { maxBytes: 100 })).body.toString(), 'via socks');
        assert.equal(socks.seen.length, 2, 'the NO_PROXY host went direct');
      } finally {
        direct.close();
      }
    } finally {
      http.close();
      await socks.close();
      await origin.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  });
}

test('wrong SOCKS5 credentials: a connection failure naming the proxy without credentials; nothing reaches the origin', async () => {
  const origin = await startLoopback(send('x'));
  const socks = await startSocks5({ credentials: { user: 'user', pass: SECRET } });
  const http = createHttpClient({ ...BASE, env: { HTTP_PROXY: socks.url.replace(SECRET, 'wrong-pass') } });
  try {
    await assert.rejects(http.get(`${origin.url}/x`, { maxBytes: 10 }), (e: HttpError) => e.code === 'HTTP_CONNECTION_FAILED' && /through the proxy socks5:\/\/127\.0\.0\.1:\d+/.test(e.message) && !e.message.includes('wrong-pass'));
    assert.equal(origin.requests.length, 0);
  } finally {
    http.close();
    await socks.close();
    await origin.close();
  }
});
