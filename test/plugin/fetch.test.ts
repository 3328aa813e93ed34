// The generic fetch wrapper, with the real pipeline behind conda-attest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TargetError } from '../../src/errors.ts';
import { PackageBlockedError, type DownloadFn } from '../../plugin/contract.ts';
import { createCondaAttestPlugin } from '../../plugin/conda-attest.ts';
import { wrapFetch } from '../../plugin/hosts/fetch.ts';
import type { FetchFn } from '../../plugin/hosts/fetch.ts';
import { ALPHA, GAMMA, UNSIGNED, evil, startPluginFixture } from './fixture.ts';
import type { PluginFixture } from './fixture.ts';

let fx: PluginFixture;
before(async () => {
  fx = await startPluginFixture();
});
after(() => fx?.close());

/** The real fetch, recording what it returned. */
function spyFetch(): { fetchFn: FetchFn; returned: Response[] } {
  const returned: Response[] = [];
  const fetchFn: FetchFn = async (input, init) => {
    const res = await fetch(input, init);
    returned.push(res);
    return res;
  };
  return { fetchFn, returned };
}

function plugin() {
  return createCondaAttestPlugin({ cwd: fx.dir, noTufRefresh: true, lockfile: fx.lockfile() });
}

test('a verified package comes back as a Response over the same bytes', async () => {
  const { fetchFn } = spyFetch();
  const verified = wrapFetch(fetchFn, plugin());
  const alpha = fx.strict.get(ALPHA);
  const res = await verified(alpha.url, { headers: { 'x-test': '1' } });
  assert.equal(res.status, 200);
  assert.equal(res.url, alpha.url);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(createHash('sha256').update(body).digest('hex'), alpha.sha256);
  assert.equal(res.headers.get('content-length'), String(alpha.size));
  // The caller's own request went out (headers kept), once.
  const hits = fx.strict.requestsTo(alpha.url);
  assert.equal(hits.at(-1)?.headers['x-test'], '1');
  const report = await verified.afterInstall();
  assert.equal(report?.packages[0].status, 'verified');
});

test('everything that is not a GET of a package URL passes through untouched', async () => {
  const { fetchFn, returned } = spyFetch();
  const verified = wrapFetch(fetchFn, plugin());
  const repodata = await verified(`${fx.strict.url}/noarch/repodata.json`);
  assert.equal(repodata, returned[0], 'the very same Response object');
  const post = await verified(fx.strict.get(UNSIGNED).url, { method: 'POST' });
  assert.equal(post, returned[1]);
  assert.equal(await verified.afterInstall(), undefined, 'nothing was verified');
});

test('attack: a blocked package rejects with PackageBlockedError and its bytes are never handed over', async () => {
  const verified = wrapFetch(fetch, plugin());
  await assert.rejects(verified(fx.strict.get(UNSIGNED).url), (e) => e instanceof PackageBlockedError && e.record.filename === UNSIGNED);
  const report = await verified.afterInstall();
  assert.equal(report?.summary.blocked, 1);
});

test('attack: bytes that differ from what the caller expects (lookup) are blocked', async (t) => {
  const gamma = fx.strict.get(GAMMA);
  fx.strict.setFault(gamma.url, { kind: 'body', body: evil.bytes });
  t.after(() => fx.strict.clearFaults());
  const verified = wrapFetch(fetch, plugin(), { lookup: (url) => (url === gamma.url ? { sha256: gamma.sha256.toUpperCase() } : undefined) });
  await assert.rejects(verified(gamma.url), (e) => e instanceof PackageBlockedError && e.reasons[0].code === 'PACKAGE_DIGEST_MISMATCH');
});

test('attack: with only a pass-through plugin (no conda-attest), the one sha256 rule of the host kit still refuses bytes the caller did not lock', async (t) => {
  const gamma = fx.strict.get(GAMMA);
  fx.strict.setFault(gamma.url, { kind: 'body', body: evil.bytes });
  t.after(() => fx.strict.clearFaults());
  const audit = { name: 'audit', wrapDownload: (next: DownloadFn): DownloadFn => (req) => next(req) };
  const verified = wrapFetch(fetch, audit, { lookup: (url) => (url === gamma.url ? { sha256: gamma.sha256 } : undefined) });
  await assert.rejects(verified(gamma.url), (e) => e instanceof PackageBlockedError && e.reasons[0].code === 'PACKAGE_DIGEST_MISMATCH' && e.reasons[0].message.includes(gamma.sha256));
  // The locked bytes themselves pass.
  fx.strict.clearFaults();
  assert.equal((await verified(gamma.url)).status, 200);
});

test('attack: a package URL that cannot be parsed is refused, not passed through unverified', async () => {
  const verified = wrapFetch(fetch, plugin());
  await assert.rejects(verified(`${fx.strict.get(UNSIGNED).url}?token=x`), (e: unknown) => {
    assert.ok(e instanceof PackageBlockedError, String(e));
    assert.deepEqual(e.reasons.map((r) => r.code), ['PACKAGE_URL_UNSUPPORTED']);
    assert.ok(e.cause instanceof TargetError);
    return true;
  });
  // An upper-case extension is still a package URL (installers lowercase it): refused, not passed through.
  const { fetchFn, returned } = spyFetch();
  const upper = wrapFetch(fetchFn, plugin());
  await assert.rejects(upper(fx.strict.get(UNSIGNED).url.replace(/\.conda$/, '.CONDA')), (e: unknown) => {
    assert.ok(e instanceof PackageBlockedError, String(e));
    assert.deepEqual(e.reasons.map((r) => r.code), ['PACKAGE_URL_UNSUPPORTED']);
    return true;
  });
  assert.equal(returned.length, 0, 'never fetched');
});

test('a non-2xx answer for a package URL is returned as is, nothing verified', async () => {
  const verified = wrapFetch(fetch, plugin());
  const res = await verified(`${fx.strict.url}/noarch/missing-9.9-h0_0.conda`);
  assert.equal(res.status, 404);
  assert.equal(await verified.afterInstall(), undefined);
});
