// Properties over what a proxy says: its CONNECT answer (status line, headers, body, or
// garbage) never becomes the content of an https:// resource, and a proxy variable either
// parses to a supported proxy or is PROXY_UNSUPPORTED, never echoing its credentials.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/errors.ts';
import { createHttpClient } from '../../src/http/client.ts';
import { checkProxyEnv, proxyFor } from '../../src/http/proxy.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';
import { startConnectAnswering, type TestProxy } from '../helpers/proxies.ts';

const SECRET = 'pr0xy-s3cret';
let proxy: TestProxy;
before(async () => {
  proxy = await startConnectAnswering('', { user: `u:${SECRET}` });
});
after(() => proxy.close());

/** A CONNECT answer: mostly well-formed with any status and body, sometimes raw garbage. */
const answer = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        status: fc.oneof(fc.constantFrom(200, 201, 203, 204, 206, 299, 301, 302, 304, 400, 403, 407, 500, 502, 503), fc.integer({ min: 100, max: 999 })),
        version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2', 'http/1.1'),
        reason: fc.string({ maxLength: 20 }).map((r) => r.replace(/[\r\n]/g, ' ')),
        headers: fc.array(fc.constantFrom('content-length: 5', 'content-length: 0', 'transfer-encoding: chunked', 'connection: keep-alive', 'content-type: application/json', 'x-a: b'), { maxLength: 3 }),
        body: fc.oneof(fc.constant('{"packages":{}}'), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1'))),
      })
      .map((a) => ({ status: a.status, raw: `${a.version} ${a.status} ${a.reason}\r\n${a.headers.map((h) => `${h}\r\n`).join('')}\r\n${a.body}` })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => ({ status: undefined, raw: Buffer.from(b).toString('latin1') })) },
);

test('property: a CONNECT answer other than a tunnel is never content: the request fails (PROXY_FAILED for every status but 200), credentials never shown', async (t) => {
  await checkProperty(
    t,
    'connect answers',
    [answer],
    async (a) => {
      proxy.setAnswer(Buffer.from(a.raw, 'latin1'));
      const http = createHttpClient({ connectTimeoutMs: 10_000, totalTimeoutMs: 15_000, idleTimeoutMs: 1000, retries: 0, env: { HTTPS_PROXY: proxy.url } });
      try {
        const r = await http.get('https://conda.invalid/forge/noarch/repodata.json', { maxBytes: 1 << 16 }).then(
          (res) => ({ ok: true as const, res }),
          (e: unknown) => ({ ok: false as const, e }),
        );
        assert.equal(r.ok, false, `content accepted from a proxy answer: ${JSON.stringify(a.raw)}`);
        const e = (r as { e: unknown }).e;
        assert.ok(e instanceof HttpError, String(e));
        assert.ok(['PROXY_FAILED', 'HTTP_CONNECTION_FAILED', 'HTTP_TIMEOUT'].includes(e.code), `${e.code}: ${e.message}`);
        if (e.code === 'PROXY_FAILED') assert.notEqual(e.status, 200);
        // A parsed status other than 200 is always named as a proxy failure.
        if (a.status !== undefined && a.status !== 200 && /^HTTP\/1\.[01] /.test(a.raw)) assert.equal(e.code, 'PROXY_FAILED', `${e.code}: ${e.message}`);
        assert.ok(!`${e.message} ${e.hint ?? ''}`.includes(SECRET));
      } finally {
        http.close();
      }
    },
    { runs: 60 },
  );
});

test('property: a proxy variable parses to an http(s)/socks5(h) proxy or is PROXY_UNSUPPORTED; its password is never echoed', async (t) => {
  const value = fc.oneof(
    hostileString(40),
    fc
      .record({ scheme: fc.constantFrom('http', 'https', 'socks5', 'socks5h', 'socks4', 'ftp', 'HTTP', '', 'pac+http'), host: fc.oneof(fc.domain(), fc.constantFrom('[::1]', '127.0.0.1', '', '[bad')), port: fc.option(fc.integer({ min: 0, max: 70000 })) })
      .map(({ scheme, host, port }) => `${scheme ? `${scheme}://` : ''}user:${SECRET}@${host}${port === null ? '' : `:${port}`}`),
  );
  await checkProperty(
    t,
    'proxy variables',
    [value],
    (v) => {
      try {
        checkProxyEnv({ HTTPS_PROXY: v });
      } catch (e) {
        assert.ok(e instanceof HttpError && e.code === 'PROXY_UNSUPPORTED', String(e));
        assert.ok(!e.message.includes(SECRET), e.message);
        return;
      }
      const p = proxyFor(new URL('https://conda.invalid/x'), { HTTPS_PROXY: v });
      if (v.trim() === '') return assert.equal(p, null);
      assert.ok(p && ['http:', 'https:', 'socks5:', 'socks5h:'].includes(p.protocol) && p.hostname !== '', `${v} → ${p?.href}`);
    },
    { runs: 300 },
  );
});
