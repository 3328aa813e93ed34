import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AttestError, HttpError } from '../../src/errors.ts';
import { createHttpClient, type HttpClientOptions } from '../../src/http/client.ts';
import { send, startLoopback } from '../helpers/loopback.ts';

const BASE: HttpClientOptions = { connectTimeoutMs: 2000, totalTimeoutMs: 5000, retries: 2, userAgent: 'conda-attest-test', retryDelayMs: 5 };

function isHttp(code: string, status?: number) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HttpError, `expected HttpError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (status !== undefined) assert.equal(e.status, status);
    return true;
  };
}

test('get: body, user agent, keep-alive reuses one connection', async () => {
  const lb = await startLoopback(send('hello'));
  const http = createHttpClient(BASE);
  try {
    for (let i = 0; i < 5; i++) assert.equal((await http.get(`${lb.url}/x`, { maxBytes: 100 })).body.toString(), 'hello');
    assert.equal(lb.requests.length, 5);
    assert.equal(lb.connections, 1);
    assert.equal(lb.requests[0].headers['user-agent'], 'conda-attest-test');
  } finally {
    http.close();
    await lb.close();
  }
});

test('5xx is retried at most `retries` times; 404 and other 4xx are never retried', async () => {
  const lb = await startLoopback();
  lb.route('/503', send('busy', 503));
  lb.route('/404', send('nope', 404));
  lb.route('/403', send('no', 403));
  const http = createHttpClient(BASE);
  try {
    await assert.rejects(http.get(`${lb.url}/503`, { maxBytes: 100 }), isHttp('HTTP_STATUS', 503));
    assert.equal(lb.requests.filter((r) => r.path === '/503').length, 3);
    await assert.rejects(http.get(`${lb.url}/404`, { maxBytes: 100 }), isHttp('HTTP_NOT_FOUND', 404));
    assert.equal(lb.requests.filter((r) => r.path === '/404').length, 1);
    await assert.rejects(http.get(`${lb.url}/403`, { maxBytes: 100 }), isHttp('HTTP_STATUS', 403));
    assert.equal(lb.requests.filter((r) => r.path === '/403').length, 1);
  } finally {
    http.close();
    await lb.close();
  }
});

test('a 5xx or a dropped connection followed by success recovers', async () => {
  let n = 0;
  let m = 0;
  const lb = await startLoopback();
  lb.route('/flaky', (_q, res) => void (n++ === 0 ? send('x', 502)(_q, res) : send('ok')(_q, res)));
  lb.route('/drop', (req, res) => void (m++ === 0 ? req.socket.destroy() : send('ok')(req, res)));
  const http = createHttpClient(BASE);
  try {
    assert.equal((await http.get(`${lb.url}/flaky`, { maxBytes: 10 })).body.toString(), 'ok');
    assert.equal((await http.get(`${lb.url}/drop`, { maxBytes: 10 })).body.toString(), 'ok');
    assert.equal(n, 2);
    assert.equal(m, 2);
  } finally {
    http.close();
    await lb.close();
  }
});

test('size cap: an endless chunked body is cut off after little more than the cap', async () => {
  let sent = 0;
  const lb = await startLoopback(async (_req, res) => {
    res.writeHead(200); // chunked, no Content-Length: the cap must hold while streaming
    const chunk = Buffer.alloc(16384, 0x61);
    while (!res.destroyed && sent < 200 * 1024 * 1024) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((r) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            r();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  });
  const http = createHttpClient({ ...BASE, retries: 3 });
  try {
    await assert.rejects(http.get(`${lb.url}/big`, { maxBytes: 65536 }), isHttp('HTTP_TOO_LARGE'));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(sent < 16 * 1024 * 1024, `server sent ${sent} bytes of 200 MiB`);
    assert.equal(lb.requests.length, 1, 'too large is not retried');
  } finally {
    http.close();
    await lb.close();
  }
});

test('size cap: a too large Content-Length is rejected before the body is read', async () => {
  // The server announces 50 MiB and never sends the body: a client that waited for it
  // would end in HTTP_TIMEOUT, not HTTP_TOO_LARGE, and would not hang up.
  let hungUp!: (v: boolean) => void;
  const closed = new Promise<boolean>((r) => (hungUp = r));
  const lb = await startLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
    res.flushHeaders();
    res.on('close', () => hungUp(true));
  });
  const http = createHttpClient(BASE);
  try {
    await assert.rejects(http.get(`${lb.url}/x`, { maxBytes: 1024 }), isHttp('HTTP_TOO_LARGE'));
    // A bound for a client that never hangs up (not a speed figure: the close is awaited).
    lb.track(setTimeout(() => hungUp(false), 10_000));
    assert.equal(await closed, true, 'the client closed the connection instead of waiting for the body');
    assert.equal(lb.requests.length, 1, 'too large is not retried');
  } finally {
    http.close();
    await lb.close();
  }
});

test('size cap counts decoded bytes: a gzip bomb is stopped; normal gzip is decoded', async () => {
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
  const lb = await startLoopback();
  lb.route('/bomb', send(bomb, 200, { 'content-encoding': 'gzip' }));
  lb.route('/gz', send(gzipSync('{"ok":true}'), 200, { 'content-encoding': 'gzip' }));
  const http = createHttpClient(BASE);
  try {
    assert.ok(bomb.length < 1024 * 1024);
    await assert.rejects(http.get(`${lb.url}/bomb`, { maxBytes: 1024 * 1024 }), isHttp('HTTP_TOO_LARGE'));
    assert.equal((await http.get(`${lb.url}/gz`, { maxBytes: 100 })).body.toString(), '{"ok":true}');
  } finally {
    http.close();
    await lb.close();
  }
});

test('whole-transfer timeout: a stalled body fails with HTTP_TIMEOUT and is not retried', async () => {
  const lb = await startLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
  });
  const http = createHttpClient({ ...BASE, totalTimeoutMs: 200 });
  try {
    await assert.rejects(http.get(`${lb.url}/slow`, { maxBytes: 1000 }), isHttp('HTTP_TIMEOUT'));
    assert.equal(lb.requests.length, 1);
  } finally {
    http.close();
    await lb.close();
  }
});

test('connection refused is retried, then HTTP_CONNECTION_FAILED', async () => {
  const lb = await startLoopback();
  const url = lb.url;
  await lb.close();
  const http = createHttpClient(BASE);
  try {
    await assert.rejects(http.get(`${url}/x`, { maxBytes: 10 }), isHttp('HTTP_CONNECTION_FAILED'));
    assert.equal(http.stats.requests, 3);
  } finally {
    http.close();
  }
});

test('redirects are followed; non-http(s) URLs and offline mode send nothing', async () => {
  const lb = await startLoopback();
  lb.route('/a', send('', 302, { location: '/b' }));
  lb.route('/b', send('landed'));
  lb.route('/loop', send('', 301, { location: '/loop' }));
  lb.route('/ftp', send('', 302, { location: 'ftp://127.0.0.1/x' }));
  const http = createHttpClient(BASE);
  const off = createHttpClient({ ...BASE, offline: true });
  try {
    const r = await http.get(`${lb.url}/a`, { maxBytes: 10 });
    assert.equal(r.body.toString(), 'landed');
    assert.equal(r.url, `${lb.url}/b`);
    await assert.rejects(http.get(`${lb.url}/loop`, { maxBytes: 10 }), isHttp('HTTP_STATUS'));
    await assert.rejects(http.get(`${lb.url}/ftp`, { maxBytes: 10 }), isHttp('HTTP_BAD_URL'));
    await assert.rejects(http.get('file:///etc/passwd', { maxBytes: 10 }), isHttp('HTTP_BAD_URL'));
    const before = lb.requests.length;
    await assert.rejects(off.get(`${lb.url}/b`, { maxBytes: 10 }), isHttp('HTTP_OFFLINE'));
    assert.equal(lb.requests.length, before);
  } finally {
    http.close();
    off.close();
    await lb.close();
  }
});

test('getCached: ETag / Last-Modified give a 304; max-age avoids the request altogether', async () => {
  const lb = await startLoopback();
  lb.route('/etag', (req, res) => {
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
    res.writeHead(200, { etag: '"v1"', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', 'content-length': '4' }).end('body');
  });
  lb.route('/fresh', send('body', 200, { 'cache-control': 'public, max-age=600', etag: '"f"' }));
  const http = createHttpClient(BASE);
  try {
    const first = await http.getCached(`${lb.url}/etag`, undefined, { maxBytes: 100 });
    assert.equal(first.notModified, false);
    assert.equal(first.body?.toString(), 'body');
    assert.equal(first.validators.etag, '"v1"');
    const second = await http.getCached(`${lb.url}/etag`, first.validators, { maxBytes: 100 });
    assert.equal(second.notModified, true);
    assert.equal(second.validators.lastModified, 'Mon, 01 Jan 2024 00:00:00 GMT');
    assert.equal(lb.requests.at(-1)?.headers['if-modified-since'], 'Mon, 01 Jan 2024 00:00:00 GMT');
    const f1 = await http.getCached(`${lb.url}/fresh`, undefined, { maxBytes: 100 });
    assert.ok((f1.validators.expiresAt ?? 0) > Date.now() + 500_000);
    const n = lb.requests.length;
    assert.equal((await http.getCached(`${lb.url}/fresh`, f1.validators, { maxBytes: 100 })).notModified, true);
    assert.equal(lb.requests.length, n, 'fresh under max-age: no request');
  } finally {
    http.close();
    await lb.close();
  }
});

test('bounded concurrency: never more than maxConcurrency requests in flight', async () => {
  let inflight = 0;
  let peak = 0;
  const lb = await startLoopback(async (_req, res) => {
    peak = Math.max(peak, ++inflight);
    await new Promise((r) => setTimeout(r, 30));
    inflight--;
    send('ok')(_req, res);
  });
  const http = createHttpClient({ ...BASE, maxConcurrency: 2 });
  try {
    await Promise.all(Array.from({ length: 8 }, (_, i) => http.get(`${lb.url}/${i}`, { maxBytes: 10 })));
    assert.equal(peak, 2);
  } finally {
    http.close();
    await lb.close();
  }
});

test('downloadAndHash: 50 MB generated on the fly, hashed in one pass, written atomically (live memory reported, measured by the bench)', async () => {
  const total = 50 * 1024 * 1024;
  const serverHash = createHash('sha256');
  let serverDigest = '';
  // The server stops half-way until the test has measured live memory: a client that held
  // the body would then have about 25 MiB of it alive.
  let halfway!: () => void;
  const reachedHalf = new Promise<void>((r) => (halfway = r));
  let resume!: () => void;
  const resumed = new Promise<void>((r) => (resume = r));
  const lb = await startLoopback(async (_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    let sent = 0;
    let seed = 1;
    while (sent < total) {
      const chunk = Buffer.alloc(Math.min(65536, total - sent));
      for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((seed = (seed * 1103515245 + 12345) >>> 0), i);
      serverHash.update(chunk);
      sent += chunk.length;
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      if (sent === total / 2) {
        halfway();
        await resumed;
      }
    }
    serverDigest = serverHash.digest('hex');
    res.end();
  });
  const dir = await mkdtemp(join(tmpdir(), 'ca-dl-'));
  const http = createHttpClient({ ...BASE, totalTimeoutMs: 60_000 });
  // Garbage is not memory held: collect (and give V8's concurrent ArrayBuffer sweeper time)
  // before measuring, so the figure is what is live.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const settle = async (): Promise<number> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 30));
    }
    return process.memoryUsage().arrayBuffers;
  };
  try {
    const base = await settle();
    const t0 = performance.now();
    const download = http.downloadAndHash(`${lb.url}/pkg.conda`, { dest: join(dir, 'pkg.conda') });
    await reachedHalf;
    await new Promise((r) => setTimeout(r, 100)); // let the client drain what is in flight
    const live = (await settle()) - base;
    resume();
    const d = await download;
    const ms = performance.now() - t0;
    assert.equal(d.size, total);
    assert.equal(d.sha256, serverDigest);
    assert.equal(createHash('sha256').update(await readFile(join(dir, 'pkg.conda'))).digest('hex'), serverDigest);
    assert.deepEqual(await readdir(dir), ['pkg.conda'], 'no temp file left behind');
    console.log(`# 50 MiB download+hash: ${ms.toFixed(0)} ms (incl. a pause to measure), live buffers half-way ${(live / 1048576).toFixed(1)} MiB`);
  } finally {
    resume();
    http.close();
    await lb.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('downloadAndHash: wrong digest or over the cap leaves no file behind; md5 on request', async () => {
  const body = Buffer.from('package bytes');
  const lb = await startLoopback(send(body));
  const dir = await mkdtemp(join(tmpdir(), 'ca-dl-'));
  const http = createHttpClient(BASE);
  try {
    const dest = join(dir, 'p.conda');
    await assert.rejects(http.downloadAndHash(`${lb.url}/p`, { dest, expectedSha256: 'f'.repeat(64) }), (e: unknown) => e instanceof AttestError && e.code === 'PACKAGE_DIGEST_MISMATCH');
    await assert.rejects(http.downloadAndHash(`${lb.url}/p`, { dest, maxBytes: 4 }), isHttp('HTTP_TOO_LARGE'));
    assert.equal(existsSync(dest), false);
    assert.deepEqual(await readdir(dir), []);
    const d = await http.downloadAndHash(`${lb.url}/p`, { md5: true });
    assert.equal(d.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(d.md5, createHash('md5').update(body).digest('hex'));
    assert.equal(lb.requests.at(-1)?.headers['accept-encoding'], 'identity');
  } finally {
    http.close();
    await lb.close();
    await rm(dir, { recursive: true, force: true });
  }
});
