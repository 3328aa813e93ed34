// Self-test of the fixture channel: repodata, sidecars at the three CEP 50 URLs,
// faults, request log, lockfile writers. Real HTTP on 127.0.0.1 only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { parse as yamlParse } from 'yaml';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { startLocalSigstore, publishStatement } from './sigstore.ts';
import type { LocalSigstore } from './sigstore.ts';
import { startFixtureChannel } from './channel.ts';
import type { FixtureChannel } from './channel.ts';
import { readCondaPackage } from './conda.ts';

let ls: LocalSigstore;
let ch: FixtureChannel;
before(async () => {
  ls = await startLocalSigstore();
  ch = await startFixtureChannel({
    sigstore: ls,
    subdirs: ['linux-64'],
    packages: [
      { spec: { name: 'alpha', version: '1.0', build: 'h0_0', subdir: 'linux-64', depends: ['beta >=2'] } },
      { spec: { name: 'beta', version: '2.0' } }, // noarch, attested
      { spec: { name: 'gamma', version: '0.1', subdir: 'linux-64' }, attest: false }, // no attestations
      { spec: { name: 'delta', version: '3.0', subdir: 'linux-64' }, serve: ['hash'] },
      { spec: { name: 'eps', version: '1', subdir: 'linux-64' }, advertise: false },
    ],
  });
});
after(async () => {
  await ch.close();
  await ls.close();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, any>; body: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) };
}

test('repodata: records with sha256/md5/size/depends, attestations_sha256 only when attested and advertised', async () => {
  const r = await get(`${ch.url}/linux-64/repodata.json`);
  assert.equal(r.status, 200);
  const repodata = JSON.parse(r.body.toString());
  assert.equal(repodata.info.subdir, 'linux-64');
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  const rec = repodata['packages.conda']['alpha-1.0-h0_0.conda'];
  assert.deepEqual(
    { name: rec.name, version: rec.version, build: rec.build, build_number: rec.build_number, subdir: rec.subdir, depends: rec.depends },
    { name: 'alpha', version: '1.0', build: 'h0_0', build_number: 0, subdir: 'linux-64', depends: ['beta >=2'] },
  );
  assert.equal(rec.sha256, alpha.sha256);
  assert.equal(rec.size, alpha.size);
  assert.equal(rec.attestations_sha256, alpha.sidecarSha256);
  assert.equal(repodata['packages.conda']['gamma-0.1-h0_0.conda'].attestations_sha256, undefined, 'no sidecar, no field');
  assert.equal(repodata['packages.conda']['eps-1-h0_0.conda'].attestations_sha256, undefined, 'advertise: false');
  assert.ok(ch.get('eps-1-h0_0.conda').sidecar, 'eps still has a sidecar, served at .sigs');
  const noarch = JSON.parse((await get(`${ch.url}/noarch/repodata.json`)).body.toString());
  assert.ok(noarch['packages.conda']['beta-2.0-h0_0.conda'].attestations_sha256);
});

test('repodata: ETag + Last-Modified, 304 on If-None-Match', async () => {
  const first = await get(`${ch.url}/linux-64/repodata.json`);
  assert.ok(first.headers.etag);
  assert.ok(first.headers['last-modified']);
  const second = await get(`${ch.url}/linux-64/repodata.json`, { 'if-none-match': first.headers.etag });
  assert.equal(second.status, 304);
  assert.equal(second.body.length, 0);
  const stale = await get(`${ch.url}/linux-64/repodata.json`, { 'if-none-match': '"other"' });
  assert.equal(stale.status, 200);
});

test('package bytes served match the record and are a real .conda', async () => {
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  const r = await get(alpha.url);
  assert.equal(r.status, 200);
  assert.equal(sha256(r.body), alpha.sha256);
  assert.equal(readCondaPackage(r.body).metadata && JSON.parse(readCondaPackage(r.body).info.get('info/index.json')!.toString()).name, 'alpha');
});

test('sidecar: same bytes at all three URLs, hash matches repodata, bundles verify for this package', async () => {
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  const bodies = await Promise.all((['hash', 'sigs', 'v0'] as const).map((k) => get(alpha.sidecarUrls[k])));
  for (const b of bodies) {
    assert.equal(b.status, 200);
    assert.equal(sha256(b.body), alpha.record.attestations_sha256);
  }
  assert.equal(alpha.sidecarUrls.hash, `${alpha.url}.sigs.${alpha.sidecarSha256}`);
  const bundles = JSON.parse(bodies[0].body.toString());
  assert.equal(bundles.length, 1);
  const v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(ls.trustedRoot)));
  v.verify(toSignedEntity(bundleFromJSON(bundles[0])));
  const statement = JSON.parse(Buffer.from(bundles[0].dsseEnvelope.payload, 'base64').toString());
  assert.deepEqual(statement, publishStatement({ filename: alpha.filename, sha256: alpha.sha256, targetChannel: ch.url }));
});

test('sidecar: only configured URLs are served; unattested packages have none', async () => {
  const delta = ch.get('delta-3.0-h0_0.conda');
  assert.equal((await get(delta.sidecarUrls.hash)).status, 200);
  assert.equal((await get(delta.sidecarUrls.sigs)).status, 404);
  assert.equal((await get(delta.sidecarUrls.v0)).status, 404);
  const gamma = ch.get('gamma-0.1-h0_0.conda');
  assert.equal(gamma.sidecar, null);
  assert.equal((await get(gamma.sidecarUrls.sigs)).status, 404);
});

test('faults: status N times then OK, and the request log counts attempts', async () => {
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  ch.clearRequests();
  ch.setFault(alpha.sidecarUrls.hash, { kind: 'status', status: 500, times: 2 });
  assert.equal((await get(alpha.sidecarUrls.hash)).status, 500);
  assert.equal((await get(alpha.sidecarUrls.hash)).status, 500);
  assert.equal((await get(alpha.sidecarUrls.hash)).status, 200);
  const log = ch.requestsTo(alpha.sidecarUrls.hash);
  assert.deepEqual(log.map((r) => r.status), [500, 500, 200]);
  assert.deepEqual(log.map((r) => r.fault), ['status', 'status', undefined]);
  assert.equal(log[0].method, 'GET');
  ch.setFault(alpha.sidecarUrls.sigs, { kind: 'status', status: 404 });
  assert.equal((await get(alpha.sidecarUrls.sigs)).status, 404);
  assert.equal((await get(alpha.sidecarUrls.sigs)).status, 404, 'no `times`: every request');
  ch.clearFaults();
  assert.equal((await get(alpha.sidecarUrls.sigs)).status, 200);
});

test('faults: mismatch (valid JSON, wrong hash), malformed, oversized, content-type, custom body', async () => {
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  const u = alpha.sidecarUrls.hash;
  ch.setFault(u, { kind: 'mismatch' });
  const m = await get(u);
  assert.notEqual(sha256(m.body), alpha.sidecarSha256);
  assert.deepEqual(JSON.parse(m.body.toString()), alpha.bundles);
  ch.setFault(u, { kind: 'malformed' });
  const bad = await get(u);
  assert.throws(() => JSON.parse(bad.body.toString()), SyntaxError);
  ch.setFault(u, { kind: 'oversized', bytes: 3 * 1024 * 1024 });
  const big = await get(u);
  assert.equal(big.body.length, 3 * 1024 * 1024);
  assert.deepEqual(JSON.parse(big.body.toString()), []);
  ch.setFault(u, { kind: 'content-type', value: 'text/x-garbage; charset=nope' });
  const ct = await get(u);
  assert.equal(ct.headers['content-type'], 'text/x-garbage; charset=nope');
  assert.equal(sha256(ct.body), alpha.sidecarSha256);
  ch.setFault(u, { kind: 'body', body: '{"not":"an array"}' });
  assert.equal((await get(u)).body.toString(), '{"not":"an array"}');
  ch.clearFaults();
});

test('faults: drop mid-body, hang, slow body', async () => {
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  const u = alpha.sidecarUrls.sigs;
  ch.setFault(u, { kind: 'drop' });
  await assert.rejects(get(u));
  ch.setFault(u, { kind: 'hang', stage: 'body' });
  await assert.rejects(fetch(u, { signal: AbortSignal.timeout(200) }).then((r) => r.arrayBuffer()), /abort|timeout/i);
  ch.setFault(u, { kind: 'hang' });
  await assert.rejects(fetch(u, { signal: AbortSignal.timeout(200) }), /abort|timeout/i);
  ch.setFault(u, { kind: 'slow', delayMs: 5, chunkBytes: Math.ceil(alpha.sidecar!.length / 8) });
  // Read as it arrives: the body comes in several pieces (one per tick), not at once.
  const pieces: Uint8Array[] = [];
  for await (const piece of (await fetch(u)).body!) pieces.push(piece);
  assert.equal(sha256(Buffer.concat(pieces)), alpha.sidecarSha256);
  assert.ok(pieces.length >= 2, `body trickled over several ticks (${pieces.length} pieces)`);
  ch.clearFaults();
  // Raw HTTP: the hang fault really sends no status line.
  ch.setFault(u, { kind: 'hang' });
  const gotResponse = await new Promise<boolean>((resolve) => {
    const req = request(u, (res) => {
      res.resume();
      resolve(true);
    });
    req.setTimeout(150, () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
  assert.equal(gotResponse, false);
  ch.clearFaults();
});

test('appendBundles: new sidecar hash in repodata, new ETag, old hash URL gone', async () => {
  const beta = ch.get('beta-2.0-h0_0.conda');
  const before = await get(`${ch.url}/noarch/repodata.json`);
  const oldHashUrl = beta.sidecarUrls.hash;
  const slsa = await ls.attest(publishStatement({ filename: beta.filename, sha256: beta.sha256, predicateType: 'https://slsa.dev/provenance/v1' }));
  const updated = ch.appendBundles(beta.filename, [slsa]);
  assert.equal(updated.bundles.length, 2);
  const after = await get(`${ch.url}/noarch/repodata.json`, { 'if-none-match': before.headers.etag });
  assert.equal(after.status, 200, 'ETag changed');
  const rec = JSON.parse(after.body.toString())['packages.conda'][beta.filename];
  assert.equal(rec.attestations_sha256, updated.sidecarSha256);
  assert.notEqual(updated.sidecarSha256, beta.sidecarSha256);
  assert.equal((await get(oldHashUrl)).status, 404);
  assert.equal(sha256((await get(updated.sidecarUrls.hash)).body), updated.sidecarSha256);
});

test('package options: raw sidecar body, advertised hash override, explicit bundles', async () => {
  const other = await startFixtureChannel({
    name: 'other',
    packages: [
      { spec: { name: 'raw', version: '1' }, sidecarBody: 'not json' },
      { spec: { name: 'upper', version: '1' }, sidecarBody: '[]', advertisedSha256: 'A'.repeat(64) },
      { spec: { name: 'given', version: '1' }, bundles: [{ mediaType: 'x' }] },
      { spec: { name: 'plain', version: '1' } },
    ],
  });
  try {
    const noarch = other.repodata('noarch')['packages.conda'];
    assert.equal(noarch['raw-1-h0_0.conda'].attestations_sha256, sha256(Buffer.from('not json')));
    assert.equal(noarch['upper-1-h0_0.conda'].attestations_sha256, 'A'.repeat(64));
    assert.equal(noarch['plain-1-h0_0.conda'].attestations_sha256, undefined, 'no sigstore, no attestations');
    assert.equal((await get(other.get('raw-1-h0_0.conda').sidecarUrls.sigs)).body.toString(), 'not json');
    assert.deepEqual(JSON.parse((await get(other.get('given-1-h0_0.conda').sidecarUrls.v0)).body.toString()), [{ mediaType: 'x' }]);
    assert.ok(other.url.endsWith('/other'));
  } finally {
    await other.close();
  }
});

test('lockfiles: explicit, pixi.lock v6 and conda-lock.yml v1 point at the served packages', () => {
  const explicit = ch.explicitFile({ platform: 'linux-64' });
  assert.match(explicit, /^@EXPLICIT$/m);
  const urls = explicit.split('\n').filter((l) => l.startsWith('http'));
  const alpha = ch.get('alpha-1.0-h0_0.conda');
  assert.ok(urls.includes(`${alpha.url}#${alpha.sha256}`));
  assert.ok(urls.some((l) => l.includes('/noarch/beta-2.0-h0_0.conda#')), 'noarch packages included');
  assert.equal(urls.length, 5);
  assert.ok(ch.explicitFile({ hash: 'md5' }).includes(`${alpha.url}#${alpha.md5}`));

  const pixi = yamlParse(ch.pixiLock({ platform: 'linux-64' }));
  assert.equal(pixi.version, 6);
  assert.deepEqual(pixi.environments.default.channels, [{ url: `${ch.url}/` }]);
  assert.ok(pixi.environments.default.packages['linux-64'].some((p: { conda: string }) => p.conda === alpha.url));
  const entry = pixi.packages.find((p: { conda: string }) => p.conda === alpha.url);
  assert.equal(entry.sha256, alpha.sha256);
  assert.equal(entry.md5, alpha.md5);
  assert.equal(entry.size, alpha.size);

  const cl = yamlParse(ch.condaLock({ platform: 'linux-64', filenames: [alpha.filename] }));
  assert.equal(cl.version, 1);
  assert.equal(cl.package.length, 1);
  assert.deepEqual(
    { name: cl.package[0].name, version: cl.package[0].version, manager: cl.package[0].manager, platform: cl.package[0].platform, url: cl.package[0].url },
    { name: 'alpha', version: '1.0', manager: 'conda', platform: 'linux-64', url: alpha.url },
  );
  assert.deepEqual(cl.package[0].hash, { md5: alpha.md5, sha256: alpha.sha256 });
  assert.deepEqual(cl.package[0].dependencies, { beta: '>=2' });
});

test('a 20-package attested channel builds with one sidecar per package (reports the figure)', async (t) => {
  const t0 = performance.now();
  const big = await startFixtureChannel({
    sigstore: ls,
    packages: Array.from({ length: 20 }, (_, i) => ({
      spec: { name: `pkg${i}`, version: '1.0', subdir: i % 2 ? 'linux-64' : 'noarch' },
      signOptions: { san: `https://github.com/test-org/pkg${i}-feedstock/.github/workflows/build.yml@refs/heads/main` },
    })),
  });
  const ms = performance.now() - t0;
  await big.close();
  t.diagnostic(`20-package attested channel (20 identities) built and serving in ${ms.toFixed(0)} ms`);
  assert.equal(big.packages.filter((p) => p.sidecar).length, 20);
});
