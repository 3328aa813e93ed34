// One upstream transfer passed on to its clients (src/serve/flight.ts), over real loopback
// HTTP: a client that stops reading holds the upstream back (the proxy queues a bounded
// amount per client, never the package), and a client that reads gets every byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { startFlight } from '../../src/serve/flight.ts';
import { startLoopback } from '../helpers/loopback.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('a client that stops reading holds the upstream transfer back; once it reads again it gets every byte, verified', async () => {
  const body = randomBytes(64 << 20);
  let sent = 0;
  const upstream = await startLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    const next = (): void => {
      while (sent < body.length) {
        const piece = body.subarray(sent, sent + (1 << 20));
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', next);
      }
      res.end();
    };
    next();
  });
  let ended: unknown;
  const flight = startFlight({
    expected: { sha256: sha256(body), size: body.length },
    fetch: (consume) =>
      new Promise<void>((resolve, reject) => {
        request(`${upstream.url}/p.conda`, (res: IncomingMessage) => consume(res).then(resolve, reject))
          .on('error', reject)
          .end();
      }),
    onEnd: (end) => (ended = end),
  });
  const proxy = await startLoopback((_req, res: ServerResponse) => void flight.join(res, { 'content-length': body.length }));
  try {
    const got = await new Promise<{ digest: string; sentWhilePaused: number }>((resolve, reject) => {
      request(`${proxy.url}/p.conda`, (res) => {
        const h = createHash('sha256');
        let first = true;
        let sentWhilePaused = -1;
        res.on('data', (c: Buffer) => {
          h.update(c);
          if (!first) return;
          first = false;
          res.pause();
          setTimeout(() => {
            sentWhilePaused = sent;
            res.resume();
          }, 1000);
        });
        res.on('end', () => resolve({ digest: h.digest('hex'), sentWhilePaused }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(got.digest, sha256(body));
    assert.deepEqual(ended, { ok: true, bytes: body.length });
    // Socket buffers on both sides of the proxy and its bounded queue per client hold a few
    // MiB; the rest of the package stays upstream until the client reads.
    assert.ok(got.sentWhilePaused > 0 && got.sentWhilePaused < body.length / 3, `upstream held back while the client paused (${got.sentWhilePaused} of ${body.length} bytes sent)`);
  } finally {
    await proxy.close();
    await upstream.close();
  }
});

// Large packages come straight from the upstream socket's read buffer (src/http/socket-reads.ts
// takeBody) and each read is copied into a recycled buffer that the clients' writes hold
// (src/serve/flight.ts): through the product's own HTTP client, every client that stays gets
// exactly the upstream's bytes, whatever the others do, and a bad or short body is never
// passed on complete.
import { createHttpClient } from '../../src/http/client.ts';
import { TAKE_MIN_BYTES } from '../../src/http/socket-reads.ts';

/** Serve `body` (or what `send` makes of the socket) in odd pieces, honouring backpressure; `progress.sent` counts. */
async function largeUpstream(body: Buffer, progress = { sent: 0 }, cut?: number) {
  return startLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    let at = 0;
    const end = cut ?? body.length;
    const next = (): void => {
      while (at < end) {
        const piece = body.subarray(at, Math.min(end, at + 333_333));
        at += piece.length;
        progress.sent = at;
        if (!res.write(piece)) return void res.once('drain', next);
      }
      if (cut === undefined) res.end();
      else res.socket?.destroy();
    };
    next();
  });
}

interface Got {
  digest: string;
  bytes: number;
  /** How the response ended: complete, or cut (error / aborted / reset). */
  complete: boolean;
}

/** GET `url`; `pauseMs`: stop reading after the first chunk for that long; `leaveAfter`: destroy after that many bytes. */
function fetchBody(url: string, o: { pauseMs?: number; leaveAfter?: number } = {}): Promise<Got> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    let bytes = 0;
    let first = true;
    let settled = false;
    const settle = (complete: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ digest: h.digest('hex'), bytes, complete });
    };
    const req = request(url, { agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
        if (o.leaveAfter !== undefined && bytes >= o.leaveAfter) return void req.destroy();
        if (!first || !o.pauseMs) return;
        first = false;
        res.pause();
        setTimeout(() => res.resume(), o.pauseMs);
      });
      res.on('end', () => settle(res.complete));
      res.on('error', () => settle(false));
      res.on('aborted', () => settle(false));
    });
    req.on('error', () => settle(false));
    req.end();
  });
}

/** A proxy of one flight per request path, fetched through the product's HTTP client (shared read buffer). */
async function flightProxy(upstreamUrl: string, expected: { sha256: string; size: number }) {
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 60_000, retries: 0 });
  const ends: unknown[] = [];
  const flights = new Map<string, ReturnType<typeof startFlight>>();
  const proxy = await startLoopback((req, res: ServerResponse) => {
    const path = req.url ?? '/';
    let flight = flights.get(path);
    if (!flight || flight.ended) {
      flight = startFlight({
        expected,
        fetch: (consume) => http.forward(`${upstreamUrl}/p.conda`, { headers: {} }, (r) => consume(r)),
        onEnd: (end) => ends.push(end),
      });
      flights.set(path, flight);
    }
    void flight.join(res, { 'content-length': expected.size });
  });
  return {
    url: proxy.url,
    ends,
    close: async () => {
      http.close();
      await proxy.close();
    },
  };
}

test('a large package through the proxy: clients at once, one slow and one leaving midway, each that stays gets exactly the bytes; the slow one holds the upstream back', async () => {
  const body = randomBytes(TAKE_MIN_BYTES * 3 + 54_321);
  const progress = { sent: 0 };
  const upstream = await largeUpstream(body, progress);
  const proxy = await flightProxy(upstream.url, { sha256: sha256(body), size: body.length });
  try {
    let sentAtPause = -1;
    const slow = fetchBody(`${proxy.url}/same`, { pauseMs: 800 });
    setTimeout(() => (sentAtPause = progress.sent), 700);
    const [a, b, leaver] = await Promise.all([slow, fetchBody(`${proxy.url}/same`), fetchBody(`${proxy.url}/same`, { leaveAfter: TAKE_MIN_BYTES })]);
    for (const got of [a, b]) assert.deepEqual(got, { digest: sha256(body), bytes: body.length, complete: true });
    assert.equal(leaver.complete, false);
    assert.ok(sentAtPause > 0 && sentAtPause < body.length * 0.75, `upstream held back while a client paused (${sentAtPause} of ${body.length} bytes sent)`);
    // One after the other, the recycled buffers of the first transfers carry new bytes: still exact.
    for (let i = 0; i < 3; i++) assert.deepEqual(await fetchBody(`${proxy.url}/again${i}`, { pauseMs: i === 1 ? 200 : 0 }), { digest: sha256(body), bytes: body.length, complete: true });
  } finally {
    await proxy.close();
    await upstream.close();
  }
});

test('attack: a large package whose bytes differ from the record, or that is cut short upstream, reaches no client complete', async () => {
  const body = randomBytes(TAKE_MIN_BYTES + 3 * 262_144 + 7);
  const forged = Buffer.from(body);
  forged[forged.length - 1] ^= 1; // the very last byte: only the held-back chunk differs
  for (const [name, upstream] of [
    ['last byte changed', await largeUpstream(forged)],
    ['cut short', await largeUpstream(body, undefined, body.length - 1000)],
  ] as const) {
    const proxy = await flightProxy(upstream.url, { sha256: sha256(body), size: body.length });
    try {
      const got = await Promise.all([fetchBody(`${proxy.url}/x`), fetchBody(`${proxy.url}/x`, { pauseMs: 300 })]);
      for (const g of got) {
        assert.equal(g.complete, false, `${name}: the response never completes`);
        assert.ok(g.bytes < body.length, `${name}: the last chunk was held back (${g.bytes} of ${body.length} bytes)`);
      }
      assert.equal((proxy.ends[0] as { ok: boolean }).ok, false, name);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  }
});

test('a client joining a large transfer under way gets the kept chunks replayed from recycled buffers, then the rest: exactly the bytes', async () => {
  const body = randomBytes(TAKE_MIN_BYTES * 2 + 99_999);
  const pauseAt = 3 << 20; // within what is kept for joiners (8 MiB)
  let requests = 0;
  const upstream = await startLoopback((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-length': body.length });
    let at = 0;
    let paused = false;
    const next = (): void => {
      while (at < body.length) {
        if (!paused && at >= pauseAt) {
          paused = true;
          return void setTimeout(next, 400);
        }
        const piece = body.subarray(at, Math.min(body.length, at + 262_144));
        at += piece.length;
        if (!res.write(piece)) return void res.once('drain', next);
      }
      res.end();
    };
    next();
  });
  const proxy = await flightProxy(upstream.url, { sha256: sha256(body), size: body.length });
  try {
    const first = fetchBody(`${proxy.url}/p`);
    await new Promise((r) => setTimeout(r, 250)); // the upstream now waits at 3 MiB
    const joiner = fetchBody(`${proxy.url}/p`);
    const [a, b] = await Promise.all([first, joiner]);
    for (const got of [a, b]) assert.deepEqual(got, { digest: sha256(body), bytes: body.length, complete: true });
    assert.equal(requests, 1, 'the joiner shared the transfer');
  } finally {
    await proxy.close();
    await upstream.close();
  }
});

/**
 * A flight over HTTPS whose upstream serves a package with its last byte flipped: the record
 * (`sized`: with its size, else only its digest) names the genuine bytes. Clients join
 * through the returned port.
 */
async function forgedOverTls(sized: boolean, onEnd: (end: { ok: boolean }) => void) {
  const { createServer } = await import('node:https');
  const { selfSignedLoopbackCert } = await import('../helpers/tls.ts');
  const body = randomBytes(3 * 262_144 + 11);
  const forged = Buffer.from(body);
  forged[forged.length - 1] ^= 1;
  const upstream = await largeUpstream(forged);
  const { certPem, keyPem } = await selfSignedLoopbackCert();
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 60_000, retries: 0 });
  const flight = startFlight({
    expected: sized ? { sha256: sha256(body), size: body.length } : { sha256: sha256(body) },
    fetch: (consume) => http.forward(`${upstream.url}/p.conda`, { headers: {} }, (r) => consume(r)),
    onEnd,
  });
  const server = createServer({ cert: certPem, key: keyPem }, (_req, res) => void flight.join(res, sized ? { 'content-length': body.length } : {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = async (): Promise<void> => {
    http.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await upstream.close();
  };
  return { body, certPem, port: (server.address() as { port: number }).port, close };
}

test('attack over HTTPS: a package whose bytes differ from the record cuts every TLS client and ends the transfer (the TCP reset is not available on a TLS socket)', { timeout: 30_000 }, async () => {
  const httpsRequest = (await import('node:https')).request;
  const ends: { ok: boolean }[] = [];
  const { body, certPem, port, close } = await forgedOverTls(true, (end) => ends.push(end));
  const url = `https://127.0.0.1:${port}/x`;
  const get = (): Promise<Got> =>
    new Promise((resolve) => {
      let bytes = 0;
      const settle = (complete: boolean): void => resolve({ digest: '', bytes, complete });
      const req = httpsRequest(url, { ca: certPem, agent: false }, (res) => {
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => settle(res.complete));
        res.on('error', () => settle(false));
        res.on('aborted', () => settle(false));
      });
      req.on('error', () => settle(false));
      req.end();
    });
  try {
    const got = await Promise.all([get(), get()]);
    for (const g of got) {
      assert.equal(g.complete, false, 'the response never completes');
      assert.ok(g.bytes < body.length, `the last chunk was held back (${g.bytes} of ${body.length} bytes)`);
    }
    assert.deepEqual(ends.map((e) => e.ok), [false], 'the transfer ended, once, as failed');
  } finally {
    await close();
  }
});

test('attack over HTTPS, close-delimited (HTTP/1.0, no size): a forged package ends in a connection reset, never a clean end that reads as the whole body', { timeout: 30_000 }, async () => {
  const { connect } = await import('node:tls');
  const { certPem, port, close } = await forgedOverTls(false, () => {});
  try {
    const ended = await new Promise<string>((resolve) => {
      const s = connect({ port, host: '127.0.0.1', ca: certPem, servername: 'localhost', checkServerIdentity: () => undefined }, () => s.write('GET /x HTTP/1.0\r\nhost: x\r\n\r\n'));
      s.on('data', () => {});
      s.on('end', () => resolve('clean end'));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    assert.equal(ended, 'ECONNRESET', 'the client sees a reset, not the end of a close-delimited body');
  } finally {
    await close();
  }
});
