// Red-team: the proxy between conda-attest and an https:// channel. A proxy can refuse,
// but it cannot speak for the origin: TLS goes only through a tunnel opened by exactly
// `200`, so a proxy answering CONNECT with another 2xx and a body serves nothing. An
// unusable proxy variable stops the run (exit 2) instead of going direct.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorkspace, runCli, verifyJson } from '../helpers/e2e.ts';
import { startConnectAnswering } from '../helpers/proxies.ts';

const CHANNEL = 'https://conda.invalid/forge';
const PKG = `${CHANNEL}/noarch/evil-1.0-0.conda`;

test('attack: HTTPS_PROXY answers CONNECT with 203 and a body for a host that does not exist → retrieval-failed (PROXY_FAILED), nothing verified', async () => {
  // The body a naive client would take as the resource: repodata advertising the package.
  const body = JSON.stringify({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': { 'evil-1.0-0.conda': { name: 'evil', version: '1.0', build: '0', build_number: 0, depends: [], subdir: 'noarch' } } });
  const proxy = await startConnectAnswering(`HTTP/1.1 203 Non-Authoritative Information\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, { user: 'u:proxy-secret' });
  const ws = makeWorkspace('conda-attest-attack-proxy-');
  try {
    ws.writeConfig({ lockfile: 'conda-attest.lock', channels: { [CHANNEL]: {} } });
    const r = await verifyJson(ws, [PKG], { HTTPS_PROXY: proxy.url });
    assert.equal(r.code, 1);
    assert.equal(r.report.summary.verified, 0);
    const [p] = r.report.packages;
    assert.equal(p!.status, 'retrieval-failed', JSON.stringify(p));
    assert.ok(JSON.stringify(p!.reasons).includes('PROXY_FAILED'), JSON.stringify(p!.reasons));
    assert.ok(proxy.seen.every((t) => t === 'conda.invalid:443') && proxy.seen.length > 0);
    assert.ok(!JSON.stringify(r.report).includes('proxy-secret') && !r.stderr.includes('proxy-secret'));
  } finally {
    ws.cleanup();
    await proxy.close();
  }
});

for (const value of ['socks4://127.0.0.1:1080', 'ftp://proxy:21', 'http://[::1']) {
  test(`an unusable HTTPS_PROXY (${value}) is PROXY_UNSUPPORTED, exit 2, before any request; never a direct connection`, async () => {
    const ws = makeWorkspace('conda-attest-attack-proxy-');
    try {
      ws.writeConfig({ lockfile: 'conda-attest.lock', channels: { [CHANNEL]: {} } });
      const r = await runCli(ws, ['verify', PKG], { HTTPS_PROXY: value });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /PROXY_UNSUPPORTED: The proxy in HTTPS_PROXY/);
      assert.doesNotMatch(r.stderr, /ENOTFOUND|DNS lookup/, 'nothing was sent direct');
    } finally {
      ws.cleanup();
    }
  });
}
