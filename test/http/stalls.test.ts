// No stall is unbounded: an idle timeout names the stalled URL and is retried like a
// connection error; a host that keeps stalling or failing has its remaining requests
// failed at once (one cause); the run's deadline ends every request; 408 and 429 are
// retried, honouring Retry-After.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/errors.ts';
import { createHttpClient, type HttpClientOptions } from '../../src/http/client.ts';
import { netErrorWords, retryAfterMs } from '../../src/http/transport.ts';
import { send, startLoopback } from '../helpers/loopback.ts';
import { lyingLength } from '../helpers/hostile-server.ts';

const BASE: HttpClientOptions = { connectTimeoutMs: 5000, totalTimeoutMs: 20_000, retries: 2, retryDelayMs: 5, idleTimeoutMs: 150 };

function rejectsWith(code: string, re?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HttpError, `expected HttpError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}

test('a server that accepts and sends nothing: HTTP_TIMEOUT naming the URL, retried within the bounds', async () => {
  const lb = await startLoopback(() => {
    /* never answers */
  });
  const http = createHttpClient(BASE);
  try {
    const url = `${lb.url}/conda-forge/noarch/repodata.json`;
    await assert.rejects(http.get(url, { maxBytes: 1000 }), rejectsWith('HTTP_TIMEOUT', new RegExp(`${url.replace(/[.]/g, '\\.')} stalled: no data received`)));
    assert.equal(lb.requests.length, 3, 'first attempt + 2 retries');
  } finally {
    http.close();
    await lb.close();
  }
});

test('a request with no answer is told to the observer while it waits (host, since), and again when it ends; an answer in time is never told', async () => {
  const lb = await startLoopback(() => {
    /* never answers */
  });
  lb.route('/fast', (_req, res) => void res.end('ok'));
  const events: { id: number; host: string; since: number; done: boolean }[] = [];
  const http = createHttpClient({ ...BASE, retries: 0, idleTimeoutMs: 400, onWait: (e) => events.push(e), waitNoticeMs: 100 });
  try {
    const before = Date.now();
    assert.equal((await http.get(`${lb.url}/fast`, { maxBytes: 100 })).body.toString(), 'ok');
    await assert.rejects(http.get(`${lb.url}/stall`, { maxBytes: 100 }), rejectsWith('HTTP_TIMEOUT', /stalled/));
    const host = new URL(lb.url).host;
    assert.deepEqual(events.map((e) => [e.host, e.done]), [[host, false], [host, true]]);
    assert.equal(events[0]!.id, events[1]!.id);
    assert.ok(events[0]!.since >= before);
  } finally {
    http.close();
    await lb.close();
  }
});

test('the --timeout hint is only for a transfer that was under way: a host that sends nothing is not told to wait longer', async () => {
  const lb = await startLoopback();
  lb.route('/dead', () => {
    /* accepts, answers nothing */
  });
  lb.route('/slow', (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    const t = setInterval(() => res.write('x'), 20);
    res.on('close', () => clearInterval(t));
  });
  // Whole-request limit 300 ms, idle limit longer: each request ends by the whole-request limit.
  const http = createHttpClient({ ...BASE, retries: 0, totalTimeoutMs: 300, idleTimeoutMs: 5000 });
  try {
    await assert.rejects(http.get(`${lb.url}/dead`, { maxBytes: 1000 }), (e: unknown) => {
      assert.ok(e instanceof HttpError && e.code === 'HTTP_TIMEOUT');
      assert.match(e.message, /\/dead did not answer within 300 ms\.$/);
      assert.doesNotMatch(e.hint ?? '', /--timeout/);
      return true;
    });
    await assert.rejects(http.get(`${lb.url}/slow`, { maxBytes: 1000 }), (e: unknown) => {
      assert.ok(e instanceof HttpError && e.code === 'HTTP_TIMEOUT');
      assert.match(e.message, /\/slow did not complete within 300 ms \(it was still sending\)\.$/);
      assert.match(e.hint ?? '', /--timeout SECONDS/);
      return true;
    });
  } finally {
    http.close();
    await lb.close();
  }
  // A stall (idle limit) is not a slow transfer either.
  const stall = await startLoopback(() => {});
  const h2 = createHttpClient({ ...BASE, retries: 0 });
  try {
    await assert.rejects(h2.get(`${stall.url}/x`, { maxBytes: 10 }), (e: unknown) => e instanceof HttpError && !/--timeout/.test(e.hint ?? ''));
  } finally {
    h2.close();
    await stall.close();
  }
});

test('a body that stops midway stalls the same way; a slow but steady body does not', async () => {
  const lb = await startLoopback();
  lb.route('/half', (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
  });
  lb.route('/steady', (_req, res) => {
    res.writeHead(200, { 'content-length': '6' });
    let i = 0;
    const t = setInterval(() => {
      res.write(String(i));
      if (++i === 6) {
        clearInterval(t);
        res.end();
      }
    }, 50);
  });
  const http = createHttpClient({ ...BASE, retries: 0 });
  try {
    await assert.rejects(http.get(`${lb.url}/half`, { maxBytes: 1000 }), rejectsWith('HTTP_TIMEOUT', /\/half stalled/));
    // 6 bytes over ~300 ms, never idle for 150 ms: completes.
    assert.equal((await http.get(`${lb.url}/steady`, { maxBytes: 1000 })).body.toString(), '012345');
  } finally {
    http.close();
    await lb.close();
  }
});

test('circuit breaker: after 3 stalls in a row from one host, its remaining requests fail at once with the same cause', async () => {
  const lb = await startLoopback(() => {
    /* never answers */
  });
  const other = await startLoopback(send('ok'));
  const http = createHttpClient({ ...BASE, retries: 0 });
  try {
    for (let i = 0; i < 3; i++) await assert.rejects(http.get(`${lb.url}/p${i}`, { maxBytes: 10 }), rejectsWith('HTTP_TIMEOUT', /stalled/));
    assert.equal(lb.requests.length, 3);
    const errors: HttpError[] = [];
    for (let i = 3; i < 10; i++) {
      await http.get(`${lb.url}/p${i}`, { maxBytes: 10 }).catch((e: HttpError) => errors.push(e));
    }
    assert.equal(lb.requests.length, 3, 'nothing more was sent to the failing host');
    assert.equal(errors.length, 7);
    for (const e of errors) {
      assert.equal(e.code, 'HTTP_TIMEOUT');
      assert.match(e.message, /^http:\/\/127\.0\.0\.1:\d+\/p\d was not requested: 127\.0\.0\.1:\d+ failed 3 times in a row \(stalled: no data for 0\.15 s\)\.$/);
      // Every refusal points at the host's first failed request: one outage, one URL.
      assert.deepEqual(e.outage, { host: new URL(lb.url).host, cause: 'stalled: no data for 0.15 s', url: `${lb.url}/p0` });
    }
    // Other hosts are not affected.
    assert.equal((await http.get(`${other.url}/x`, { maxBytes: 10 })).body.toString(), 'ok');
    // The run-level finding names the host once, with the cause.
    const f = http.findings();
    assert.deepEqual(f.hostsCutOff.map((h) => h.host), [new URL(lb.url).host]);
    assert.equal(
      f.hostsCutOff[0]!.message,
      `${new URL(lb.url).host} failed 3 times in a row (stalled: no data for 0.15 s), first at ${lb.url}/p0; its other requests in this run were not sent.`,
    );
    assert.equal(f.deadline, undefined);
  } finally {
    http.close();
    await lb.close();
    await other.close();
  }
});

test('circuit breaker: an answer in between resets the count; 404s are answers, not failures', async () => {
  let stall = true;
  const lb = await startLoopback((req, res) => {
    if (req.url === '/ok') return send('ok')(req, res);
    if (req.url === '/missing') return send('no', 404)(req, res);
    if (!stall) send('x')(req, res);
  });
  const http = createHttpClient({ ...BASE, retries: 0 });
  try {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) await assert.rejects(http.get(`${lb.url}/s`, { maxBytes: 10 }), rejectsWith('HTTP_TIMEOUT', /stalled/));
      await (round === 1 ? assert.rejects(http.get(`${lb.url}/missing`, { maxBytes: 10 }), rejectsWith('HTTP_NOT_FOUND')) : http.get(`${lb.url}/ok`, { maxBytes: 10 }));
    }
    stall = false;
    assert.equal((await http.get(`${lb.url}/s`, { maxBytes: 10 })).body.toString(), 'x');
  } finally {
    http.close();
    await lb.close();
  }
});

test('circuit breaker: refused connections count too, with the cause in words; a request counts once however often it is retried', async () => {
  const lb = await startLoopback();
  const url = lb.url;
  await lb.close();
  const http = createHttpClient({ ...BASE, retries: 5 });
  try {
    // Each request makes all its attempts (1 + 5 retries) and counts once towards the cut-off.
    for (const [i, path] of ['a', 'b'].entries()) {
      await assert.rejects(http.get(`${url}/${path}`, { maxBytes: 10 }), rejectsWith('HTTP_CONNECTION_FAILED', /^Request to http:\/\/127\.0\.0\.1:\d+\/[ab] failed: connection refused \(ECONNREFUSED\)\.$/));
      assert.equal(http.stats.requests, 6 * (i + 1));
    }
    assert.deepEqual(http.findings().hostsCutOff, []);
    // The third failing request opens the breaker on its first attempt, which ends its retries;
    // the retry the breaker refused is not what went wrong: the request's own failure is.
    await assert.rejects(http.get(`${url}/c`, { maxBytes: 10 }), rejectsWith('HTTP_CONNECTION_FAILED', /^Request to http:\/\/127\.0\.0\.1:\d+\/c failed: connection refused \(ECONNREFUSED\)\.$/));
    assert.equal(http.stats.requests, 13);
    await assert.rejects(http.get(`${url}/d`, { maxBytes: 10 }), rejectsWith('HTTP_CONNECTION_FAILED', /was not requested: .*failed 3 times in a row/));
    assert.equal(http.stats.requests, 13);
  } finally {
    http.close();
  }
});

for (const keepOpen of [true, false]) {
  test(`a body shorter than its Content-Length on a keep-alive connection (${keepOpen ? 'then silence' : 'then close'}) fails only that response: fresh sockets, the host's other URLs still answer, even at concurrency 1`, async () => {
    const lb = await startLoopback({ noServerTimeouts: true });
    lb.route('/short', lyingLength('only half', 100, { keepOpen }));
    lb.route('/ok', send('fine'));
    const http = createHttpClient({ ...BASE, maxConcurrency: 1, retries: 2 });
    try {
      assert.equal((await http.get(`${lb.url}/ok`, { maxBytes: 100 })).body.toString(), 'fine');
      const before = lb.connections;
      for (let round = 0; round < 2; round++) {
        // The broken URL fails after its 3 attempts (each on a socket of its own) …
        await assert.rejects(http.get(`${lb.url}/short`, { maxBytes: 1000 }), (e: unknown) => e instanceof HttpError && ['HTTP_TIMEOUT', 'HTTP_CONNECTION_FAILED'].includes(e.code) && /\/short/.test(e.message));
        // … and every other URL of the host still answers.
        for (let i = 0; i < 3; i++) assert.equal((await http.get(`${lb.url}/ok`, { maxBytes: 100 })).body.toString(), 'fine');
      }
      assert.equal(lb.requests.filter((r) => r.path === '/short').length, 6, 'each attempt of the broken URL was sent');
      // The poisoned sockets were discarded: the short answers and the fresh ones after them.
      assert.ok(lb.connections - before >= 6, `connections: ${lb.connections - before}`);
      assert.deepEqual(http.findings().hostsCutOff, [], 'one broken URL never cuts its host off');
    } finally {
      http.close();
      await lb.close();
    }
  });
}

test("the run's deadline ends a running request and refuses new ones", async () => {
  const lb = await startLoopback(() => {
    /* never answers */
  });
  const http = createHttpClient({ ...BASE, idleTimeoutMs: 60_000, deadline: Date.now() + 300, deadlineLabel: '0.3 s' });
  try {
    await assert.rejects(http.get(`${lb.url}/slow`, { maxBytes: 10 }), rejectsWith('HTTP_TIMEOUT', /\/slow was not fetched: the run's deadline \(0\.3 s\) passed/));
    const sent = lb.requests.length;
    await assert.rejects(http.get(`${lb.url}/later`, { maxBytes: 10 }), rejectsWith('HTTP_TIMEOUT', /deadline/));
    assert.equal(lb.requests.length, sent, 'nothing sent after the deadline');
    assert.equal(http.findings().deadline, '0.3 s');
  } finally {
    http.close();
    await lb.close();
  }
});

test('408 and 429 are retried (Retry-After honoured); a Retry-After beyond 60 s is not waited for', async () => {
  const seen: Record<string, number> = {};
  const lb = await startLoopback((req, res) => {
    const n = (seen[req.url!] = (seen[req.url!] ?? 0) + 1);
    if (req.url === '/busy' && n === 1) return send('slow down', 429, { 'retry-after': '0' })(req, res);
    if (req.url === '/timeout' && n === 1) return send('again', 408)(req, res);
    if (req.url === '/dated' && n === 1) return send('later', 503, { 'retry-after': new Date(Date.now() - 1000).toUTCString() })(req, res);
    if (req.url === '/hour') return send('come back in an hour', 429, { 'retry-after': '3600' })(req, res);
    if (req.url === '/forbidden') return send('no', 403)(req, res);
    send('ok')(req, res);
  });
  const http = createHttpClient(BASE);
  try {
    for (const p of ['/busy', '/timeout', '/dated']) assert.equal((await http.get(`${lb.url}${p}`, { maxBytes: 10 })).body.toString(), 'ok', p);
    assert.deepEqual([seen['/busy'], seen['/timeout'], seen['/dated']], [2, 2, 2]);
    await assert.rejects(http.get(`${lb.url}/hour`, { maxBytes: 100 }), (e: HttpError) => e.status === 429 && /too many requests/.test(e.message));
    assert.equal(seen['/hour'], 1);
    await assert.rejects(http.get(`${lb.url}/forbidden`, { maxBytes: 100 }), (e: HttpError) => e.status === 403);
    assert.equal(seen['/forbidden'], 1, 'other 4xx are never retried');
  } finally {
    http.close();
    await lb.close();
  }
});

test('Retry-After: seconds or an HTTP-date (RFC 9110 §10.2.3); anything else is ignored', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('7', now), 7000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('-5', now), undefined);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs(undefined, now), undefined);
});

test('network errors in words', () => {
  assert.equal(netErrorWords('ENOTFOUND'), 'DNS lookup failed');
  assert.equal(netErrorWords('ECONNREFUSED'), 'connection refused');
  assert.equal(netErrorWords('CERT_HAS_EXPIRED'), 'TLS certificate has expired');
  assert.equal(netErrorWords('E_SOMETHING_NEW'), undefined);
});
