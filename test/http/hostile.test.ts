// The HTTP client against a hostile server (test/helpers/hostile-server.ts): every
// misbehaviour ends in one clear HttpError with a stable code, bounded in time and bytes,
// and never in a body that is silently truncated or silently too long.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/errors.ts';
import { createHttpClient, type HttpClientOptions } from '../../src/http/client.ts';
import {
  bomb,
  endless,
  lyingLength,
  redirect,
  redirectLoop,
  resetMidBody,
  slowloris,
  stall,
  stallBody,
  startHostileServer,
  type HostileServer,
} from '../helpers/hostile-server.ts';
import { send } from '../helpers/loopback.ts';

/** For the stall cases only: a short whole-transfer bound (a generous one elsewhere, for loaded machines). */
const SHORT = { totalTimeoutMs: 300 };
const BASE: HttpClientOptions = { connectTimeoutMs: 5000, totalTimeoutMs: 20_000, retries: 1, userAgent: 'conda-attest-test', retryDelayMs: 5, maxRedirects: 5 };

function isHttp(code: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HttpError, `expected HttpError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.hint, 'every HTTP error carries a hint');
    return true;
  };
}

let hs: HostileServer;
before(async () => {
  hs = await startHostileServer();
  const body = Buffer.from(JSON.stringify({ ok: true, pad: 'x'.repeat(2000) }));
  hs.route('/ok', send(body));
  hs.route('/stall', stall());
  hs.route('/stall-body', stallBody({ contentLength: 1000, prefix: 'partial' }));
  hs.route('/slowloris', slowloris(body, { bytesPerTick: 1, intervalMs: 20 }));
  hs.route('/reset', resetMidBody(body, 100));
  hs.route('/short', lyingLength(body.subarray(0, 50), body.length));
  hs.route('/long', lyingLength(Buffer.concat([body, Buffer.from('TRAILING GARBAGE')]), body.length));
  hs.route('/huge-length', lyingLength('x', 10 * 1024 * 1024 * 1024));
  hs.route('/endless', endless());
  hs.route('/bomb-gzip', bomb({ encoding: 'gzip', decodedBytes: 8 * 1024 * 1024 }));
  hs.route('/bomb-br', bomb({ encoding: 'br', decodedBytes: 8 * 1024 * 1024 }));
  hs.route('/bomb-deflate', bomb({ encoding: 'deflate', decodedBytes: 8 * 1024 * 1024 }));
  hs.route('/to-file', redirect('file:///etc/passwd'));
  hs.route('/to-ftp', redirect('ftp://127.0.0.1/x'));
  hs.route('/loop', redirectLoop());
  hs.route('/to-ok', redirect('/ok', 301));
  hs.route('/to-closed', redirect('http://127.0.0.1:1/ok'));
});
after(() => hs.close());

test('stalls: no headers, or headers then silence, end in HTTP_TIMEOUT and free the socket', async () => {
  const http = createHttpClient({ ...BASE, ...SHORT });
  try {
    await assert.rejects(http.get(`${hs.url}/stall`, { maxBytes: 1 << 20 }), isHttp('HTTP_TIMEOUT'));
    await assert.rejects(http.get(`${hs.url}/stall-body`, { maxBytes: 1 << 20 }), isHttp('HTTP_TIMEOUT'));
  } finally {
    http.close();
  }
});

test('slowloris: a body dribbled byte by byte cannot outlive the whole-transfer bound', async () => {
  const http = createHttpClient({ ...BASE, ...SHORT });
  try {
    await assert.rejects(http.get(`${hs.url}/slowloris`, { maxBytes: 1 << 20 }), isHttp('HTTP_TIMEOUT'));
  } finally {
    http.close();
  }
});

test('a connection reset mid-body, or a body shorter than its Content-Length, is a failure, never a short body', async () => {
  const http = createHttpClient(BASE);
  try {
    await assert.rejects(http.get(`${hs.url}/reset`, { maxBytes: 1 << 20 }), (e: unknown) => e instanceof HttpError && ['HTTP_CONNECTION_FAILED', 'HTTP_TIMEOUT'].includes(e.code));
    await assert.rejects(http.get(`${hs.url}/short`, { maxBytes: 1 << 20 }), (e: unknown) => e instanceof HttpError && ['HTTP_CONNECTION_FAILED', 'HTTP_TIMEOUT'].includes(e.code));
  } finally {
    http.close();
  }
});

test('a body longer than its Content-Length is never read past the announced length', async () => {
  const http = createHttpClient(BASE);
  try {
    // Node's parser refuses bytes after `Connection: close` (HPE_CLOSED_CONNECTION); if a
    // parser accepted them it would have to stop at the announced length.
    try {
      const r = await http.get(`${hs.url}/long`, { maxBytes: 1 << 20 });
      assert.doesNotMatch(r.body.toString(), /GARBAGE/);
    } catch (e) {
      assert.ok(e instanceof HttpError && e.code === 'HTTP_CONNECTION_FAILED', String(e));
    }
  } finally {
    http.close();
  }
});

test('lying or unbounded sizes and compression bombs stop at the cap with HTTP_TOO_LARGE', async () => {
  const http = createHttpClient(BASE);
  try {
    for (const p of ['/huge-length', '/endless', '/bomb-gzip', '/bomb-br', '/bomb-deflate']) {
      await assert.rejects(http.get(`${hs.url}${p}`, { maxBytes: 1 << 20 }), isHttp('HTTP_TOO_LARGE'), p);
    }
  } finally {
    http.close();
  }
});

test('redirect tricks: other schemes are refused, loops end, a redirect to a dead host fails clearly', async () => {
  const http = createHttpClient(BASE);
  try {
    const before = hs.requests.length;
    await assert.rejects(http.get(`${hs.url}/to-file`, { maxBytes: 1 << 20 }), isHttp('HTTP_BAD_URL'));
    await assert.rejects(http.get(`${hs.url}/to-ftp`, { maxBytes: 1 << 20 }), isHttp('HTTP_BAD_URL'));
    await assert.rejects(http.get(`${hs.url}/loop`, { maxBytes: 1 << 20 }), (e: unknown) => e instanceof HttpError);
    // The loop is bounded by maxRedirects (plus the first request).
    assert.ok(hs.requests.length - before <= 2 + 6, `${hs.requests.length - before} requests`);
    await assert.rejects(http.get(`${hs.url}/to-closed`, { maxBytes: 1 << 20 }), isHttp('HTTP_CONNECTION_FAILED'));
    const r = await http.get(`${hs.url}/to-ok`, { maxBytes: 1 << 20 });
    assert.equal(r.url, `${hs.url}/ok`);
  } finally {
    http.close();
  }
});
