// Sockets that read into one shared buffer (src/http/socket-reads.ts): every byte arrives
// intact and in order whatever the interleaving of connections, plain or TLS, and a
// consumer that stops reading stops the socket (backpressure), as with Node's own reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHttpClient } from '../../src/http/client.ts';
import { READ_BYTES, TAKE_MIN_BYTES, readIntoSharedBuffer, takeBody } from '../../src/http/socket-reads.ts';
import { HttpError } from '../../src/errors.ts';
import { startLoopback } from '../helpers/loopback.ts';
import { selfSignedLoopbackCert } from '../helpers/tls.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Write `body` in pieces of `piece` bytes, honouring backpressure; `progress.sent`: the bytes handed to the socket so far. */
function pump(res: import('node:http').ServerResponse, body: Buffer, piece: number, progress?: { sent: number }): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  let at = 0;
  const next = (): void => {
    while (at < body.length) {
      const end = Math.min(at + piece, body.length);
      const ok = res.write(body.subarray(at, end));
      at = end;
      if (progress) progress.sent = at;
      if (!ok) return void res.once('drain', next);
    }
    res.end();
  };
  next();
}

test('downloads on several connections at once share the read buffer: each body hashes to its own digest, byte for byte', async () => {
  // Distinct random bodies, larger than the shared buffer, sent in odd-sized pieces so that
  // reads of the connections interleave and end mid-buffer.
  const bodies = [0, 1, 2, 3, 4, 5].map((i) => randomBytes(3 * READ_BYTES + 1000 * i + 7));
  const lb = await startLoopback();
  bodies.forEach((b, i) => lb.route(`/c/noarch/p${i}-1-0.conda`, (_req, res) => pump(res, b, 10_000 + 3_333 * i)));
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 20_000, retries: 0, maxConcurrency: 6 });
  try {
    const got = await Promise.all(bodies.map((_, i) => http.downloadAndHash(`${lb.url}/c/noarch/p${i}-1-0.conda`)));
    assert.deepEqual(
      got.map((d) => [d.sha256, d.size]),
      bodies.map((b) => [sha256(b), b.length]),
    );
    // Small answers on the same keep-alive sockets after the large ones are parsed from the same buffer.
    lb.route('/small.json', (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    const small = await Promise.all([1, 2, 3].map(() => http.get(`${lb.url}/small.json`, { maxBytes: 100 })));
    assert.deepEqual(
      small.map((r) => r.body.toString()),
      ['{"ok":true}', '{"ok":true}', '{"ok":true}'],
    );
    assert.ok(lb.connections <= 6, `the keep-alive sockets were reused (${lb.connections} connections)`);
  } finally {
    http.close();
    await lb.close();
  }
});

test('backpressure: a consumer that stops reading stops the socket (the server cannot send the whole body), and then gets every byte', async () => {
  const body = randomBytes(32 << 20);
  const progress = { sent: 0 };
  const lb = await startLoopback();
  lb.route('/big.json', (_req, res) => pump(res, body, 1 << 20, progress));
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 0 });
  try {
    let sentWhilePaused = -1;
    const digest = await http.getCachedStream(`${lb.url}/big.json`, undefined, { maxBytes: body.length }, async (chunks) => {
      const h = createHash('sha256');
      let first = true;
      for await (const c of chunks) {
        h.update(c);
        if (first) {
          first = false;
          // Stop reading for a while: everything the server manages to send now sits in
          // socket buffers and the response stream's, never in a growing queue of reads.
          await new Promise((r) => setTimeout(r, 300));
          sentWhilePaused = progress.sent;
        }
      }
      return h.digest('hex');
    });
    assert.equal(digest.notModified, false);
    assert.equal(!digest.notModified && digest.value, sha256(body));
    assert.ok(sentWhilePaused > 0 && sentWhilePaused < body.length / 2, `the server was held back while the consumer paused (${sentWhilePaused} of ${body.length} bytes sent)`);
  } finally {
    http.close();
    await lb.close();
  }
});

test('TLS sockets read into the shared buffer too: bodies intact over HTTPS, interleaved with a plain connection', async () => {
  const { certPem, keyPem: key } = await selfSignedLoopbackCert();

  const tlsBody = randomBytes(2 * READ_BYTES + 12_345);
  const plainBody = randomBytes(2 * READ_BYTES + 54_321);
  const server = createHttpsServer({ key, cert: certPem }, (_req, res) => pump(res, tlsBody, 7_000));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const lb = await startLoopback((_req, res) => pump(res, plainBody, 9_000));
  const shared = Buffer.alloc(READ_BYTES);
  const agent = readIntoSharedBuffer(new HttpsAgent({ ca: certPem, keepAlive: false }), shared);
  const plainAgent = readIntoSharedBuffer(new (await import('node:http')).Agent({ keepAlive: false }), shared);
  const fetchWith = (url: string, a: import('node:http').Agent, request: typeof httpsRequest): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const req = request(url, { agent: a }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const { request: httpRequest } = await import('node:http');
    const port = (server.address() as AddressInfo).port;
    const [a, b, c] = await Promise.all([
      fetchWith(`https://127.0.0.1:${port}/x`, agent, httpsRequest),
      fetchWith(`${lb.url}/y`, plainAgent, httpRequest as unknown as typeof httpsRequest),
      fetchWith(`https://127.0.0.1:${port}/z`, agent, httpsRequest),
    ]);
    assert.equal(sha256(a), sha256(tlsBody));
    assert.equal(sha256(b), sha256(plainBody));
    assert.equal(sha256(c), sha256(tlsBody));
    assert.ok(!shared.equals(Buffer.alloc(READ_BYTES)), 'the reads went into the shared buffer');
  } finally {
    agent.destroy();
    plainAgent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await lb.close();
  }
});

/**
 * A raw loopback HTTP/1.1 server that answers each request with `answer(path, n)` (n: the
 * request's number on its connection): bytes written as they are, so an answer may lie.
 */
async function rawServer(answer: (path: string, n: number, socket: import('node:net').Socket) => void): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    let n = 0;
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        answer(head.split(' ')[1]!, n++, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const answer = (body: string | Buffer, extra = ''): Buffer => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), Buffer.from(body), Buffer.from(extra, 'latin1')]);
const EVIL = 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nEVIL';

/** The body as text, or `failed: …`: a lying server may get an error (fail closed), never other bytes. */
const outcome = (p: Promise<{ body: Buffer }>): Promise<string> =>
  p.then(
    (r) => r.body.toString(),
    (e: unknown) => `failed: ${(e as Error).message}`,
  );

test('attack: bytes past Content-Length, or sent to a socket idle in the pool, never reach another answer or a hashed body', async () => {
  const honest = randomBytes(READ_BYTES + 999);
  const server = await rawServer((path, n, socket) => {
    if (path === '/forged-after') {
      // An answer followed, in the same write, by a forged second answer.
      socket.write(answer('hello', EVIL));
    } else if (path === '/garbage-after') {
      socket.write(answer('hello', `${EVIL}XXXXXXXX`));
    } else if (path === '/then-idle') {
      socket.write(answer('first'));
      // Once the socket is back in the client's pool: a forged answer nobody asked for.
      setTimeout(() => socket.writable && socket.write(EVIL), 50).unref();
    } else if (path === '/package.conda') {
      // The package, then (same write) bytes past its declared length.
      socket.write(answer(honest, `${EVIL}${'Z'.repeat(5000)}`));
    } else if (path === '/package-then-junk.conda') {
      // The package, then (a later read of the kept-alive socket) a forged answer.
      socket.write(answer(honest));
      setTimeout(() => socket.writable && socket.write(`${EVIL}${'Z'.repeat(5000)}`), 20).unref();
    } else {
      socket.write(answer(`second ${n}`));
    }
  });
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 10_000, retries: 0, maxConcurrency: 1 });
  const honestOrFailed = (what: string, got: string, want: RegExp) => assert.ok(want.test(got) || got.startsWith('failed:'), `${what}: ${JSON.stringify(got)}`);
  try {
    for (const path of ['/forged-after', '/garbage-after']) {
      honestOrFailed(path, await outcome(http.get(`${server.url}${path}`, { maxBytes: 100 })), /^hello$/);
      honestOrFailed(`after ${path}`, await outcome(http.get(`${server.url}/next`, { maxBytes: 100 })), /^second \d$/);
    }
    assert.equal(await outcome(http.get(`${server.url}/then-idle`, { maxBytes: 100 })), 'first');
    await new Promise((r) => setTimeout(r, 150)); // the forged answer arrives while the socket idles
    honestOrFailed('after an idle socket got junk', await outcome(http.get(`${server.url}/next`, { maxBytes: 100 })), /^second \d$/);

    const got = await http.downloadAndHash(`${server.url}/package.conda`, { expectedSha256: sha256(honest) }).then(
      (d) => `${d.sha256} ${d.size}`,
      (e: unknown) => `failed: ${(e as Error).message}`,
    );
    honestOrFailed('the package', got, new RegExp(`^${sha256(honest)} ${honest.length}$`));
    const later = await http.downloadAndHash(`${server.url}/package-then-junk.conda`, { expectedSha256: sha256(honest) });
    assert.deepEqual([later.sha256, later.size], [sha256(honest), honest.length], 'exactly the declared bytes are hashed');
    await new Promise((r) => setTimeout(r, 100));
    honestOrFailed('after the junk', await outcome(http.get(`${server.url}/next`, { maxBytes: 100 })), /^second \d$/);
    await assert.rejects(http.downloadAndHash(`${server.url}/package.conda`, { expectedSha256: sha256(Buffer.concat([honest, Buffer.from(EVIL)])) }), 'the bytes past the length never complete a digest');
  } finally {
    http.close();
    await server.close();
  }
});

// Large hash-only downloads take their body straight from the read buffer (takeBody): the
// same bytes, exactly Content-Length of them, and every way a body can go wrong still fails.

/** A body past TAKE_MIN_BYTES, distinct bytes throughout (a repeated block would hide a misplaced read). */
const bigBody = (extra = 0): Buffer => randomBytes(TAKE_MIN_BYTES + 3 * READ_BYTES + 12_345 + extra);

const isHttp = (code: string, re?: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof HttpError, `expected an HttpError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

test('a large body taken from the read buffer hashes to its digest (SHA-256 and MD5), sent in odd pieces, next to small answers on the same host', async () => {
  const body = bigBody();
  const lb = await startLoopback();
  lb.route('/big.conda', (_req, res) => pump(res, body, 77_777));
  lb.route('/small.json', (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 0, maxConcurrency: 2 });
  try {
    const [d, small] = await Promise.all([http.downloadAndHash(`${lb.url}/big.conda`, { md5: true, expectedSha256: sha256(body) }), http.get(`${lb.url}/small.json`, { maxBytes: 100 })]);
    assert.deepEqual([d.sha256, d.size, d.md5], [sha256(body), body.length, createHash('md5').update(body).digest('hex')]);
    assert.equal(small.body.toString(), '{"ok":true}');
    // The taken body's connection is closed, never reused: the host still answers, on a fresh one.
    assert.equal((await http.get(`${lb.url}/small.json`, { maxBytes: 100 })).body.toString(), '{"ok":true}');
    const again = await http.downloadAndHash(`${lb.url}/big.conda`);
    assert.equal(again.sha256, sha256(body));
  } finally {
    http.close();
    await lb.close();
  }
});

test('attack: a large body cut short (connection closed, or reset) is a connection failure, retried from scratch, never a digest of fewer bytes', async () => {
  const body = bigBody();
  let attempts = 0;
  const server = await rawServer((path, _n, socket) => {
    attempts++;
    const head = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
    if (path === '/closed.conda') socket.end(Buffer.concat([head, body.subarray(0, body.length - 1)]));
    else if (path === '/reset.conda') socket.write(Buffer.concat([head, body.subarray(0, TAKE_MIN_BYTES / 2)]), () => socket.resetAndDestroy());
    else if (path === '/once-short.conda') socket.end(attempts === 1 ? Buffer.concat([head, body.subarray(0, 5 * READ_BYTES)]) : Buffer.concat([head, body]));
  });
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 0 });
  const retrying = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 1, retryDelayMs: 5 });
  try {
    await assert.rejects(http.downloadAndHash(`${server.url}/closed.conda`), isHttp('HTTP_CONNECTION_FAILED', /closed\.conda/));
    await assert.rejects(http.downloadAndHash(`${server.url}/reset.conda`), isHttp('HTTP_CONNECTION_FAILED', /reset\.conda/));
    attempts = 0;
    const d = await retrying.downloadAndHash(`${server.url}/once-short.conda`);
    assert.deepEqual([d.sha256, d.size, attempts], [sha256(body), body.length, 2], 'the retry hashed the whole body from its first byte');
  } finally {
    http.close();
    retrying.close();
    await server.close();
  }
});

test('attack: bytes past a large Content-Length are never hashed, whether in the last read or after it', async () => {
  const body = bigBody();
  const junk = Buffer.from(`${EVIL}${'Z'.repeat(300_000)}`);
  const server = await rawServer((path, _n, socket) => {
    const whole = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body]);
    if (path === '/glued.conda') socket.write(Buffer.concat([whole, junk]));
    else if (path === '/later.conda') socket.write(whole, () => setTimeout(() => socket.writable && socket.write(junk), 20).unref());
    else socket.write(answer(`second ${_n}`));
  });
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 0, maxConcurrency: 1 });
  try {
    for (const path of ['/glued.conda', '/later.conda']) {
      const d = await http.downloadAndHash(`${server.url}${path}`);
      assert.deepEqual([d.sha256, d.size], [sha256(body), body.length], `${path}: exactly the declared bytes`);
      await assert.rejects(http.downloadAndHash(`${server.url}${path}`, { expectedSha256: sha256(Buffer.concat([body, junk])) }), (e: unknown) => (e as { code?: string }).code === 'PACKAGE_DIGEST_MISMATCH');
      // The junk never reaches the next answer (the taken body's socket was closed).
      assert.match((await http.get(`${server.url}/next`, { maxBytes: 100 })).body.toString(), /^second \d$/);
    }
  } finally {
    http.close();
    await server.close();
  }
});

test('a large body that stalls midway ends in HTTP_TIMEOUT (the idle timer still runs on taken reads), and an aborted one is not retried', async () => {
  const body = bigBody();
  const lb = await startLoopback({ noServerTimeouts: true });
  lb.route('/stall.conda', (_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 2 * TAKE_MIN_BYTES / 4));
  });
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 30_000, retries: 0, idleTimeoutMs: 300 });
  const abort = new AbortController();
  try {
    await assert.rejects(http.downloadAndHash(`${lb.url}/stall.conda`), isHttp('HTTP_TIMEOUT', /stall\.conda stalled/));
    const before = lb.requests.length;
    const aborted = http.downloadAndHash(`${lb.url}/stall.conda`, { signal: abort.signal, onBytes: () => setTimeout(() => abort.abort(), 50) });
    await assert.rejects(aborted);
    assert.equal(lb.requests.length, before + 1, 'an abandoned download is not sent again');
  } finally {
    http.close();
    await lb.close();
  }
});

test('takeBody leaves other framings to the parser: chunked, no Content-Length, a short body, a status other than 200', async () => {
  const lb = await startLoopback();
  const big = bigBody();
  lb.route('/chunked', (_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    res.end(big);
  });
  lb.route('/small', (_req, res) => void res.writeHead(200, { 'content-length': 5 }).end('small'));
  lb.route('/partial', (_req, res) => void res.writeHead(206, { 'content-length': big.length }).end(big));
  const agent = readIntoSharedBuffer(new (await import('node:http')).Agent({ keepAlive: true }), Buffer.alloc(READ_BYTES));
  const { request } = await import('node:http');
  const tookAndHashed = (path: string): Promise<[boolean, string]> =>
    new Promise((resolve, reject) => {
      request(`${lb.url}${path}`, { agent }, (res) => {
        const h = createHash('sha256');
        const taken = takeBody(res, (c) => void h.update(c));
        if (taken) return void taken.then(() => resolve([true, h.digest('hex')]), reject);
        res.on('data', (c: Buffer) => h.update(c)).on('end', () => resolve([false, h.digest('hex')])).on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  try {
    assert.deepEqual(await tookAndHashed('/chunked'), [false, sha256(big)]);
    assert.deepEqual(await tookAndHashed('/small'), [false, sha256(Buffer.from('small'))]);
    assert.deepEqual(await tookAndHashed('/partial'), [false, sha256(big)]);
  } finally {
    agent.destroy();
    await lb.close();
  }
});

/** An HTTPS server sending bigBody() in odd-sized writes, and a client agent reading into one shared buffer. */
async function tlsBigBody() {
  const { certPem, keyPem: key } = await selfSignedLoopbackCert();
  const body = bigBody();
  const server = createHttpsServer({ key, cert: certPem }, (_req, res) => pump(res, body, 100_003));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = readIntoSharedBuffer(new HttpsAgent({ ca: certPem, keepAlive: true }), Buffer.alloc(READ_BYTES));
  return { body, server, agent, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/big.conda` };
}

test('a large body over TLS is taken from the read buffer too: the same digest, exactly its length', async () => {
  const { body, server, agent, url } = await tlsBigBody();
  try {
    const got = await new Promise<[boolean, string, number]>((resolve, reject) => {
      httpsRequest(url, { agent }, (res) => {
        const h = createHash('sha256');
        let n = 0;
        const taken = takeBody(res, (c) => {
          n += c.length;
          h.update(c);
        });
        if (!taken) return reject(new Error('not taken'));
        taken.then(() => resolve([true, h.digest('hex'), n]), reject);
      })
        .on('error', reject)
        .end();
    });
    assert.deepEqual(got, [true, sha256(body), body.length]);
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('over TLS, a taken body stays stopped until every promise of the consumer has settled, not only the first (records already decrypted still come)', async () => {
  const { body, server, agent, url } = await tlsBigBody();
  try {
    const h = createHash('sha256');
    let n = 0;
    let calls = 0;
    const held: (() => void)[] = [];
    let holding = true;
    let checked: { pending: number; callsWhileOnePending: number } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      httpsRequest(url, { agent }, (res) => {
        const taken = takeBody(res, (c) => {
          calls++;
          n += c.length;
          h.update(c);
          if (!holding) return;
          // Every chunk answers with a promise, held until the check below.
          return new Promise<void>((r) => held.push(r));
        });
        if (!taken) return reject(new Error('not taken'));
        taken.then(() => resolve(), reject);
      })
        .on('error', reject)
        .end();
    });
    // Wait until a batch of chunks arrived together (one TCP read's TLS records), each holding a promise.
    while (held.length < 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const before = calls;
    // The first promise settles, the later ones are still pending: no read may come (a loaded
    // machine can only hide a fault here, never invent one).
    held.shift()!();
    await new Promise((r) => setTimeout(r, 300));
    checked = { pending: held.length, callsWhileOnePending: calls - before };
    holding = false;
    for (const r of held.splice(0)) r();
    await done;
    assert.ok(checked.pending >= 1);
    assert.equal(checked.callsWhileOnePending, 0, 'no read while a later promise is pending');
    assert.deepEqual([h.digest('hex'), n], [sha256(body), body.length]);
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
