// Stage 2, retrieve (src/stages/retrieve.ts) over in-memory resources: the digest check,
// the warm path, and CEP 50 discovery — advertised sidecars never fall back to "none".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/errors.ts';
import { resolvePackage } from '../../src/stages/resolve.ts';
import { retrievePackage } from '../../src/stages/retrieve.ts';
import { CH, config, memoryResources, record, sha, verifiedOutcome } from './memory.ts';

const PKG_BYTES = 'package bytes';
const SIDECAR = JSON.stringify([{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]);
const pkgUrl = record().url;

test('a disabled channel fetches nothing', async () => {
  const res = memoryResources({ config: config({ enabled: false }) });
  const r = await retrievePackage(resolvePackage(res.config, record(), null), res);
  assert.deepEqual(r.evidence, { kind: 'disabled' });
  assert.deepEqual([res.requests, res.lookups], [[], []]);
});

test('bytes that do not hash to the lockfile digest are refused, whatever sidecar was found while they streamed', async () => {
  const res = memoryResources({ repodata: { [record().filename]: { attestationsSha256: sha(SIDECAR) } }, files: { [pkgUrl]: 'substituted bytes', [`${pkgUrl}.sigs.${sha(SIDECAR)}`]: SIDECAR } });
  const r = await retrievePackage(resolvePackage(res.config, record('pkg', CH, { sha256: sha(PKG_BYTES) }), null), res);
  assert.equal(r.evidence.kind, 'rejected');
  assert.equal(r.evidence.kind === 'rejected' && r.evidence.reasons[0]!.code, 'PACKAGE_DIGEST_MISMATCH');
  assert.equal(r.sha256, sha('substituted bytes'), 'the report shows what the bytes hashed to');
  assert.equal(r.sidecar, null, 'the sidecar found meanwhile is not part of the verdict');
  assert.deepEqual(res.verified, [], 'nothing was verified');
});

test('download: the sidecar is found and the pool warmed while the bytes stream, and only once the server sends them', async () => {
  const advertised = { repodata: { [record().filename]: { attestationsSha256: sha(SIDECAR) } } };
  const sidecarUrl = `${pkgUrl}.sigs.${sha(SIDECAR)}`;
  const res = memoryResources({ ...advertised, files: { [pkgUrl]: PKG_BYTES, [sidecarUrl]: SIDECAR } });
  const r = await retrievePackage(resolvePackage(res.config, record(), null), res);
  assert.equal(r.evidence.kind, 'sidecar');
  assert.equal(r.evidence.kind === 'sidecar' && r.evidence.packageSha256, sha(PKG_BYTES), 'judged against the hashed digest');
  assert.deepEqual(res.requests, [pkgUrl, sidecarUrl], 'the sidecar is fetched once');
  assert.deepEqual(res.hashedAfter, [2], 'the sidecar was requested before the bytes were hashed');
  assert.equal(res.warmed.length, 1, 'the verifier was readied during the download');

  // A package the server does not send: no sidecar request, no pool (an unreachable or
  // failing host costs one request per package, as before the overlap).
  const gone = memoryResources({ ...advertised, files: { [sidecarUrl]: SIDECAR } });
  const g = await retrievePackage(resolvePackage(gone.config, record(), null), gone);
  assert.equal(g.evidence.kind === 'rejected' && g.evidence.status, 'retrieval-failed');
  assert.deepEqual([gone.requests, gone.warmed], [[pkgUrl], []]);
});

test('download: the pool is not warmed when the verdict for the expected digest is cached', async () => {
  const advertised = { repodata: { [record().filename]: { attestationsSha256: sha(SIDECAR) } } };
  const files = { [pkgUrl]: PKG_BYTES, [`${pkgUrl}.sigs.${sha(SIDECAR)}`]: SIDECAR };
  const res = memoryResources({ ...advertised, files });
  const pinned = record('pkg', CH, { sha256: sha(PKG_BYTES) });
  const first = await retrievePackage(resolvePackage(res.config, pinned, null), res);
  assert.equal(res.warmed.length, 1);
  res.cache.set(first.evidence.kind === 'sidecar' ? first.evidence.key! : '', [verifiedOutcome()]);
  const warm = await retrievePackage(resolvePackage(res.config, pinned, null), res);
  assert.deepEqual(warm.evidence, { kind: 'bundles', outcomes: [verifiedOutcome()] });
  assert.equal(res.warmed.length, 1, 'no second warm-up');
  // Without a recorded digest nothing says the verdict is cached: the pool is readied.
  await retrievePackage(resolvePackage(res.config, record(), null), res);
  assert.equal(res.warmed.length, 2);
});

test('an advertised sidecar is fetched by its hash and handed on with its verdict key', async () => {
  const res = memoryResources({ repodata: { [record().filename]: { attestationsSha256: sha(SIDECAR) } }, files: { [`${pkgUrl}.sigs.${sha(SIDECAR)}`]: SIDECAR } });
  const r = await retrievePackage(resolvePackage(res.config, record(), { sha256: sha(PKG_BYTES), source: 'lockfile' }), res);
  assert.equal(r.evidence.kind, 'sidecar');
  assert.equal(r.evidence.kind === 'sidecar' && r.evidence.bundles.length, 1);
  assert.match(r.evidence.kind === 'sidecar' ? String(r.evidence.key) : '', /^[0-9a-f]{64}$/);
  assert.deepEqual(r.sidecar, { url: `${pkgUrl}.sigs.${sha(SIDECAR)}`, method: 'repodata', sha256: sha(SIDECAR) });
  assert.equal(res.lookups.length, 1, 'repodata is looked up once per package');
});

test('warm path: a cached verdict for exactly these inputs needs neither the sidecar nor verification', async () => {
  const res = memoryResources({ repodata: { [record().filename]: { attestationsSha256: sha(SIDECAR) } }, files: { [`${pkgUrl}.sigs.${sha(SIDECAR)}`]: SIDECAR } });
  const pkg = resolvePackage(res.config, record(), { sha256: sha(PKG_BYTES), source: 'lockfile' });
  const first = await retrievePackage(pkg, res);
  assert.equal(first.evidence.kind, 'sidecar');
  res.cache.set(first.evidence.kind === 'sidecar' ? first.evidence.key! : '', [verifiedOutcome()]);
  res.requests.length = 0;
  const warm = await retrievePackage(pkg, res);
  assert.deepEqual(warm.evidence, { kind: 'bundles', outcomes: [verifiedOutcome()] });
  assert.deepEqual(res.requests, []);
  // Other package bytes are other inputs: the cached verdict is not theirs.
  const other = await retrievePackage(resolvePackage(res.config, record(), { sha256: sha('other'), source: 'lockfile' }), res);
  assert.equal(other.evidence.kind, 'sidecar');
});

test('attacker: an advertised sidecar that is gone, or substituted, is a retrieval failure, never "no attestations"', async () => {
  const advertised = { repodata: { [record().filename]: { attestationsSha256: sha(SIDECAR) } } };
  const gone = memoryResources({ ...advertised, config: config({ discovery: ['repodata', 'sigs'] }), files: { [`${pkgUrl}.sigs`]: '[]' } });
  const r1 = await retrievePackage(resolvePackage(gone.config, record(), { sha256: sha(PKG_BYTES), source: 'lockfile' }), gone);
  assert.equal(r1.evidence.kind, 'failed');
  assert.equal(r1.evidence.kind === 'failed' && r1.evidence.reasons[0]!.code, 'SIDECAR_NOT_FOUND');
  assert.ok(!gone.requests.includes(`${pkgUrl}.sigs`), 'no fallback to the unauthenticated probe');

  const swapped = memoryResources({ ...advertised, files: { [`${pkgUrl}.sigs.${sha(SIDECAR)}`]: '[{"forged":true}]' } });
  const r2 = await retrievePackage(resolvePackage(swapped.config, record(), { sha256: sha(PKG_BYTES), source: 'lockfile' }), swapped);
  assert.equal(r2.evidence.kind === 'failed' && r2.evidence.reasons[0]!.code, 'SIDECAR_HASH_MISMATCH');
});

test('probes: 404 and 410 mean nothing published; any other failure is a retrieval failure', async () => {
  const probe = config({ discovery: ['sigs', 'v0-sigs'] });
  const gone = new HttpError('HTTP_STATUS', `${pkgUrl}.v0.sigs answered HTTP 410.`, { status: 410 });
  const none = memoryResources({ config: probe, files: { [`${pkgUrl}.v0.sigs`]: gone } });
  const r = await retrievePackage(resolvePackage(probe, record(), { sha256: sha(PKG_BYTES), source: 'lockfile' }), none);
  assert.deepEqual(r.evidence, { kind: 'none' });
  assert.deepEqual(none.requests, [`${pkgUrl}.sigs`, `${pkgUrl}.v0.sigs`]);

  const reset = new HttpError('HTTP_CONNECTION_FAILED', `Request to ${pkgUrl}.sigs failed: connection refused.`, { retryable: true, hostFailure: true });
  const broken = memoryResources({ config: probe, files: { [`${pkgUrl}.sigs`]: reset } });
  const f = await retrievePackage(resolvePackage(probe, record(), { sha256: sha(PKG_BYTES), source: 'lockfile' }), broken);
  assert.equal(f.evidence.kind, 'failed');
  assert.deepEqual(broken.requests, [`${pkgUrl}.sigs`], 'a failed probe does not go on to the next method');
});
