// `conda-attest serve` over plain HTTP on loopback: verdicts as HTTP answers, pass-through
// of index documents and sidecars (byte for byte, validators honoured), single flight,
// open-proxy and traversal attempts, upstream outage, client disconnects, health/metrics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { parseLock } from '../../src/lock/file.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { startServe } from '../../src/serve/start.ts';
import type { AccessLogLine } from '../../src/serve/server.ts';
import { closedPort } from '../helpers/loopback.ts';
import { selfSignedLoopbackCert } from '../helpers/tls.ts';
import { EVIL, FRESH, GOOD, LOOSE, TAMPERED, UNSIGNED, startServeFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
before(async () => {
  fx = await startServeFixture();
});
after(() => fx?.close());

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const r = await fetch(url, { headers });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

/** Send a raw request line (what fetch would normalise away) and return the status code. */
function raw(requestHead: string): Promise<number> {
  const { port } = new URL(fx.proxy.url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => s.write(requestHead));
    let data = '';
    s.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
  });
}

const pkgPath = (f: string): string => `noarch/${f}`;

test('a package that passes is served byte for byte, with ETag and Cache-Control, and its signer is pinned as it happens', async () => {
  const good = fx.ch.get(GOOD);
  const r = await get(fx.url(fx.ch, pkgPath(GOOD)));
  assert.equal(r.status, 200);
  assert.equal(sha256(r.body), good.sha256);
  assert.equal(r.headers.get('etag'), `"${good.sha256}"`);
  assert.match(r.headers.get('cache-control') ?? '', /max-age=\d+/);
  assert.equal(Number(r.headers.get('content-length')), good.bytes.length);
  // Pinned while the server runs (not at an end that never comes).
  assert.ok(existsSync(fx.lockfile));
  const lock = parseLock(readFileSync(fx.lockfile, 'utf8'), fx.lockfile);
  assert.ok(lock.channels[fx.ch.url]?.good, 'good is pinned');
  // A conditional request for the same bytes is answered 304 (after the verdict).
  const again = await get(fx.url(fx.ch, pkgPath(GOOD)), { 'if-none-match': `"${good.sha256}"` });
  assert.equal(again.status, 304);
});

for (const [file, code, status] of [
  [EVIL, 'IDENTITY_UNTRUSTED', 'untrusted'],
  [UNSIGNED, 'NO_ATTESTATIONS', 'missing'],
] as const) {
  test(`attack: ${status} package → 403 text/plain naming ${code}, reason and hint; nothing of it is sent; log and metrics say why`, async () => {
    const before = fx.ch.requestsTo(`${fx.ch.url}/noarch/${file}`).length;
    const r = await get(fx.url(fx.ch, pkgPath(file)));
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('x-conda-attest-code'), code);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const lines = r.body.toString().trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^${code}: `));
    assert.match(lines[1]!, /^hint: /);
    assert.equal(fx.ch.requestsTo(`${fx.ch.url}/noarch/${file}`).length, before, 'the package itself was never fetched');
    const line = fx.log.find((l) => l.path.endsWith(file) && l.status === 403);
    assert.ok(line, 'an access-log line for the refusal');
    assert.equal(line.package, `${fx.ch.url}/noarch/${file}`);
    assert.deepEqual(line.verdict, { status, action: 'block', codes: [code] });
    const metrics = (await get(`${fx.proxy.url}/-/metrics`)).body.toString();
    assert.match(metrics, new RegExp(`conda_attest_serve_verdicts_total\\{status="${status}",action="block",code="${code}"\\} [1-9]`));
  });
}

/** Read a package through the proxy: how many bytes arrived, whether the body completed, and the error that ended it. */
function transfer(url: string): Promise<{ bytes: number; error?: string; complete: boolean }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ bytes, complete: res.complete }));
      res.on('error', (e) => resolve({ bytes, error: (e as NodeJS.ErrnoException).code ?? e.message, complete: res.complete }));
    });
    req.on('error', (e) => resolve({ bytes: 0, error: (e as NodeJS.ErrnoException).code ?? e.message, complete: false }));
    req.end();
  });
}

test('attack: upstream bytes that differ from the record → the connection is reset before the last chunk; the client never holds the whole file', async () => {
  const tampered = fx.ch.get(TAMPERED);
  const got = await transfer(fx.url(fx.ch, pkgPath(TAMPERED)));
  assert.ok(got.error, `the transfer failed (got ${got.bytes} bytes, complete ${got.complete})`);
  assert.equal(got.complete, false);
  assert.ok(got.bytes < tampered.bytes.length, 'fewer bytes than the record names');
  const line = fx.log.find((l) => l.path.endsWith(TAMPERED));
  assert.ok(line?.verdict?.codes.includes('PACKAGE_DIGEST_MISMATCH'), JSON.stringify(line));
  assert.match(line?.note ?? '', /connection reset/);
});

test('attack: upstream bytes longer than the record (the real package plus a tail) → reset before the record\'s size is passed on', async () => {
  // A package that passed verification, then an upstream that appends to it: the size cap
  // stops the transfer at the chunk that crosses the record's size, which is never sent.
  const good = fx.ch.get(GOOD);
  const url = `${fx.ch.url}/noarch/${GOOD}`;
  fx.ch.setFault(url, { kind: 'body', body: Buffer.concat([good.bytes, Buffer.alloc(1 << 20, 0x41)]) });
  try {
    const got = await transfer(fx.url(fx.ch, pkgPath(GOOD)));
    assert.ok(got.error, `the transfer failed (got ${got.bytes} bytes, complete ${got.complete})`);
    assert.equal(got.complete, false);
    assert.ok(got.bytes < good.bytes.length, `fewer bytes than the record names (${got.bytes} of ${good.bytes.length})`);
    const line = fx.log.find((l) => l.path.endsWith(GOOD) && l.code === 'PACKAGE_DIGEST_MISMATCH');
    assert.match(line?.note ?? '', /connection reset: more than the \d+ bytes the record names/);
  } finally {
    fx.ch.clearFaults();
  }
});

test('require: warn passes with X-Conda-Attest-Warning and a log line', async () => {
  const r = await get(fx.url(fx.lenient, pkgPath(LOOSE)));
  assert.equal(r.status, 200);
  assert.equal(sha256(r.body), fx.lenient.get(LOOSE).sha256);
  assert.match(r.headers.get('x-conda-attest-warning') ?? '', /^NO_ATTESTATIONS: /);
  assert.equal(r.headers.get('x-conda-attest-code'), 'NO_ATTESTATIONS');
  assert.equal(fx.log.find((l) => l.path.endsWith(LOOSE))?.verdict?.action, 'warn');
});

test('repodata and sidecars pass through byte for byte; the upstream validators are honoured on conditional requests', async () => {
  const upstream = await get(`${fx.ch.url}/noarch/repodata.json`);
  const r = await get(fx.url(fx.ch, 'noarch/repodata.json'));
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(upstream.body), 'same bytes as upstream (package URLs not rewritten)');
  assert.equal(r.headers.get('etag'), upstream.headers.get('etag'));
  assert.equal(r.headers.get('last-modified'), upstream.headers.get('last-modified'));
  assert.equal((await get(fx.url(fx.ch, 'noarch/repodata.json'), { 'if-none-match': upstream.headers.get('etag')! })).status, 304);
  assert.equal((await get(fx.url(fx.ch, 'noarch/repodata.json'), { 'if-modified-since': upstream.headers.get('last-modified')! })).status, 304);
  assert.equal((await get(fx.url(fx.ch, 'noarch/repodata.json'), { 'if-none-match': '"other"' })).status, 200);
  const good = fx.ch.get(GOOD);
  for (const kind of ['hash', 'sigs', 'v0'] as const) {
    const s = await get(good.sidecarUrls[kind].replace(fx.ch.url, `${fx.proxy.url}/upstream`));
    assert.equal(s.status, 200, kind);
    assert.ok(s.body.equals(good.sidecar!), `${kind} sidecar unchanged`);
  }
});

test('attack: not an open proxy — absolute form, CONNECT, traversal and control characters are 400; unknown names 404; none reaches upstream', async () => {
  const { host } = new URL(fx.proxy.url);
  const before = fx.ch.requests.length;
  const bad = [
    `GET ${fx.ch.url}/noarch/repodata.json HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET http://example.invalid/ HTTP/1.1\r\nHost: example.invalid\r\n\r\n`,
    `CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\n`,
    `GET /upstream/noarch/../../etc/passwd HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /upstream/noarch/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /upstream/noarch%2f..%2fx/${GOOD} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /upstream/noarch/..%5c${GOOD} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /upstream/noarch/${GOOD}%00.conda HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /upstream/noarch/%0d%0aX:y HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /upstream\\noarch\\${GOOD} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET //example.invalid/upstream/noarch/${GOOD} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
  ];
  for (const head of bad) assert.equal(await raw(head), 400, head.split('\r\n')[0]);
  const missing = [
    '/elsewhere/noarch/repodata.json',
    '/upstream/noarch/repodata.json.bz2',
    '/upstream/noarch/notes.txt',
    '/upstream/not a subdir/repodata.json',
    '/upstream/noarch/nosuch-1.0-h0_0.conda',
    `/upstream/noarch/nosuch-1.0-h0_0.conda.sigs`,
    '/upstream/noarch/shards/xyz.msgpack.zst',
    '/upstreamX/noarch/repodata.json',
  ];
  for (const p of missing) assert.equal((await get(`${fx.proxy.url}${p.replaceAll(' ', '%20')}`)).status, 404, p);
  // The lookups of unknown packages read repodata (once); nothing else went upstream.
  const sent = fx.ch.requests.slice(before).map((r) => r.path);
  assert.ok(sent.every((p) => /\/noarch\/repodata/.test(p)), `only repodata was asked for: ${sent.join(', ')}`);
  assert.equal((await fetch(fx.url(fx.ch, 'noarch/repodata.json'), { method: 'POST', body: 'x' })).status, 405);
});

test('attack: client Authorization and Cookie headers are never sent upstream', async () => {
  const before = fx.ch.requests.length;
  await get(fx.url(fx.ch, 'noarch/repodata.json'), { authorization: 'Bearer client-secret', cookie: 'session=client-secret' });
  const good = fx.ch.get(GOOD);
  await get(good.sidecarUrls.sigs.replace(fx.ch.url, `${fx.proxy.url}/upstream`), { authorization: 'Basic Y2xpZW50OnNlY3JldA==', cookie: 'a=b' });
  const sent = fx.ch.requests.slice(before);
  assert.ok(sent.length >= 2, 'upstream was asked');
  for (const r of sent) {
    assert.equal(r.headers.authorization, undefined, r.path);
    assert.equal(r.headers.cookie, undefined, r.path);
  }
});

test('oversized request headers are refused (431), the server keeps serving', async () => {
  const r = await get(fx.url(fx.ch, 'noarch/repodata.json'), { 'x-filler': 'a'.repeat(20_000) }).catch(() => ({ status: 431 }));
  assert.equal(r.status, 431);
  assert.equal((await get(fx.url(fx.ch, 'noarch/repodata.json'))).status, 200);
});

test('single flight: 50 concurrent clients of one package → one upstream transfer and one sidecar fetch, everyone gets the verified bytes', async () => {
  await fx.restart();
  // A fresh proxy, and a slow upstream (about 3 s for the package), so that all 50 requests,
  // sent at once, arrive while the one transfer is under way.
  const beta = fx.ch.get(GOOD);
  fx.ch.setFault(beta.url, { kind: 'slow', delayMs: 100, chunkBytes: 32 });
  try {
    const pkgBefore = fx.ch.requestsTo(beta.url).length;
    const sidecarBefore = fx.ch.requests.filter((r) => r.path.includes(`${GOOD}.sigs`)).length;
    const bodies = await Promise.all(Array.from({ length: 50 }, () => get(fx.url(fx.ch, pkgPath(GOOD)))));
    for (const b of bodies) {
      assert.equal(b.status, 200);
      assert.equal(sha256(b.body), beta.sha256);
    }
    assert.equal(fx.ch.requestsTo(beta.url).length - pkgBefore, 1, 'one upstream transfer');
    assert.ok(fx.ch.requests.filter((r) => r.path.includes(`${GOOD}.sigs`)).length - sidecarBefore <= 1, 'at most one sidecar fetch (none with a cached verdict)');
  } finally {
    fx.ch.clearFaults();
    fx.ch.setFault(`${fx.ch.url}/noarch/${TAMPERED}`, { kind: 'body', body: (await import('./fixture.ts')).tamperedBytes });
  }
});

test('a client that disconnects mid-stream leaves no socket open and the upstream transfer is stopped', async () => {
  const good = fx.ch.get(GOOD);
  fx.ch.setFault(good.url, { kind: 'slow', delayMs: 50, chunkBytes: 32 });
  try {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(fx.url(fx.ch, pkgPath(GOOD)), (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      req.end();
    });
    const deadline = Date.now() + 10_000;
    let open = -1;
    while (Date.now() < deadline) {
      open = await new Promise<number>((r) => fx.proxy.server.getConnections((_e, n) => r(n)));
      if (open === 0 && fx.log.some((l) => l.path.endsWith(GOOD) && l.note === 'client went away')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(open, 0, 'no client connection left open');
    assert.ok(fx.log.some((l) => l.path.endsWith(GOOD) && l.note === 'client went away'), 'logged as a client that went away');
  } finally {
    fx.ch.clearFaults();
    fx.ch.setFault(`${fx.ch.url}/noarch/${TAMPERED}`, { kind: 'body', body: (await import('./fixture.ts')).tamperedBytes });
  }
});

test('upstream down: stored repodata is served marked stale; a package with nothing known is 502 UPSTREAM_UNAVAILABLE; the breaker half-opens after its cool-down', async () => {
  const fresh = await get(fx.url(fx.ch, 'noarch/repodata.json'));
  assert.equal(fresh.status, 200);
  fx.ch.setFault(`${fx.ch.url}/noarch/repodata.json`, { kind: 'status', status: 503 });
  try {
    const stale = await get(fx.url(fx.ch, 'noarch/repodata.json'));
    assert.equal(stale.status, 200);
    assert.ok(stale.body.equals(fresh.body), 'the bytes last received');
    assert.equal(stale.headers.get('etag'), fresh.headers.get('etag'));
    assert.match(stale.headers.get('x-conda-attest-stale') ?? '', /^age=\d+; /);
  } finally {
    fx.ch.clearFaults();
    fx.ch.setFault(`${fx.ch.url}/noarch/${TAMPERED}`, { kind: 'body', body: (await import('./fixture.ts')).tamperedBytes });
  }
  const port = await closedPort();
  await fx.restart({ routes: { gone: `http://127.0.0.1:${port}/gone` } });
  for (let i = 0; i < 3; i++) {
    const r = await get(`${fx.proxy.url}/gone/noarch/${GOOD}`);
    assert.equal(r.status, 502);
    assert.equal(r.headers.get('x-conda-attest-code'), 'UPSTREAM_UNAVAILABLE');
    assert.match(r.body.toString(), /^UPSTREAM_UNAVAILABLE: .*\nhint: /);
  }
  const health = JSON.parse((await get(`${fx.proxy.url}/-/health`)).body.toString()) as { upstream_hosts_cut_off: string[] };
  assert.deepEqual(health.upstream_hosts_cut_off, [`127.0.0.1:${port}`]);
  const cut = await get(`${fx.proxy.url}/gone/noarch/${GOOD}`);
  assert.equal(cut.status, 502);
  assert.match(cut.body.toString(), /failed \d+ times in a row.*fail without being sent/, 'the open breaker answers without a request');
  // The cool-down (500 ms in the fixture) passes: the next request is let through (half-open).
  await new Promise((r) => setTimeout(r, 700));
  const probe = await get(`${fx.proxy.url}/gone/noarch/${GOOD}`);
  assert.equal(probe.status, 502);
  assert.match(probe.body.toString(), /connection refused/);
  assert.doesNotMatch(probe.body.toString(), /times in a row/, 'a real attempt, not the breaker answering');
});

test('/-/health answers JSON (version, routes, trust root, lockfile pins); an admin token guards health and metrics', async () => {
  const h = await get(`${fx.proxy.url}/-/health`);
  assert.equal(h.status, 200);
  const body = JSON.parse(h.body.toString()) as { status: string; version: string; routes: { route: string; channel: string }[]; lockfile: { pins: number } };
  assert.equal(body.status, 'ok');
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.ok(body.routes.some((r) => r.route === '/upstream' && r.channel === fx.ch.url));
  assert.equal(typeof body.lockfile.pins, 'number');
});

test('an admin token guards /-/health and /-/metrics (401 without it or with a wrong one)', async () => {
  await fx.restart({ adminToken: 'sekrit-token-123' });
  for (const p of ['/-/health', '/-/metrics']) {
    assert.equal((await get(`${fx.proxy.url}${p}`)).status, 401, p);
    assert.equal((await get(`${fx.proxy.url}${p}`, { authorization: 'Bearer sekrit-token-124' })).status, 401, p);
    assert.equal((await get(`${fx.proxy.url}${p}`, { authorization: 'Bearer sekrit-token-123' })).status, 200, p);
  }
  // The channel routes need no token.
  assert.equal((await get(fx.url(fx.ch, 'noarch/repodata.json'))).status, 200);
});

test('--frozen: nothing is pinned; a package without a pin is refused (LOCK_ENTRY_MISSING), a pinned one passes', async () => {
  await fx.restart();
  assert.equal((await get(fx.url(fx.ch, pkgPath(GOOD)))).status, 200); // pins good (if not yet)
  const text = readFileSync(fx.lockfile, 'utf8');
  await fx.restart({ frozen: true });
  assert.equal((await get(fx.url(fx.ch, pkgPath(GOOD)))).status, 200);
  const lenient = await get(fx.url(fx.lenient, pkgPath(LOOSE)));
  assert.equal(lenient.status, 200, 'warn channel still passes');
  const fresh = await get(fx.url(fx.ch, pkgPath(FRESH)));
  assert.equal(fresh.status, 403);
  assert.equal(fresh.headers.get('x-conda-attest-code'), 'LOCK_ENTRY_MISSING');
  assert.equal(readFileSync(fx.lockfile, 'utf8'), text, 'the lockfile is unchanged');
});

test("a channel that cannot be reached falls back to its mirrors: repodata, sidecars and packages come from the mirror, judged by the channel's policy", async () => {
  const dead = `http://127.0.0.1:${await closedPort()}/upstream`;
  const config = resolveConfig(
    {
      trust_root: fx.sig.trustedRootPath,
      cache_dir: fx.ws.path('mirror-cache'),
      lockfile: fx.ws.path('mirror.lock'),
      http: { retries: 0 },
      channels: { [dead]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'], mirrors: [fx.ch.url] } },
    },
    fx.ws.dir,
  );
  const log: AccessLogLine[] = [];
  const proxy = await startServe({ config, routes: {}, listen: { host: '127.0.0.1', port: 0 }, noTufRefresh: true, log: (l) => log.push(l) });
  try {
    assert.deepEqual(proxy.routes.map((r) => [r.name, r.channel, r.mirrors]), [['upstream', dead, [fx.ch.url]]]);
    const upstream = await get(`${fx.ch.url}/noarch/repodata.json`);
    const repodata = await get(`${proxy.url}/upstream/noarch/repodata.json`);
    assert.equal(repodata.status, 200);
    assert.ok(repodata.body.equals(upstream.body));
    const good = await get(`${proxy.url}/upstream/noarch/${GOOD}`);
    assert.equal(good.status, 200);
    assert.equal(sha256(good.body), fx.ch.get(GOOD).sha256);
    assert.equal(log.find((l) => l.path.endsWith(GOOD))?.package, `${dead}/noarch/${GOOD}`, 'judged and logged under the canonical channel');
    const evil = await get(`${proxy.url}/upstream/noarch/${EVIL}`);
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('x-conda-attest-code'), 'IDENTITY_UNTRUSTED');
  } finally {
    await proxy.close();
  }
});

test('--tls-cert/--tls-key: the proxy serves HTTPS', async () => {
  const { certPem, keyPem } = await selfSignedLoopbackCert();
  const log: AccessLogLine[] = [];
  const config = resolveConfig(JSON.parse(readFileSync(fx.ws.path('.conda-attestrc.json'), 'utf8')), fx.ws.dir, fx.ws.path('.conda-attestrc.json'));
  const proxy = await startServe({ config, routes: {}, listen: { host: '127.0.0.1', port: 0 }, noTufRefresh: true, tls: { cert: Buffer.from(certPem), key: Buffer.from(keyPem) }, log: (l) => log.push(l) });
  try {
    assert.match(proxy.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { request } = await import('node:https');
    const got = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = request(`${proxy.url}/upstream/noarch/${GOOD}`, { ca: certPem }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), fx.ch.get(GOOD).sha256);
  } finally {
    await proxy.close();
  }
});
