// Stage 3, verify (src/stages/verify.ts) with a stub crypto adapter: what the pool is asked
// to check, the verdict cache, and which failures stay package-level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustRootError, VerifyError } from '../../src/errors.ts';
import { resolvePackage } from '../../src/stages/resolve.ts';
import type { Retrieved } from '../../src/stages/retrieve.ts';
import { verifyPackage } from '../../src/stages/verify.ts';
import { CH, MIRROR, config, memoryResources, record, sha, verifiedOutcome, type MemoryResources } from './memory.ts';

const BUNDLES = [{ b: 1 }, { b: 2 }];

function sidecarEvidence(res: MemoryResources, key: string | null = 'k1'): Retrieved {
  const pkg = resolvePackage(res.config, record('pkg', MIRROR), null);
  return { pkg, sha256: sha('bytes'), digestSource: 'artifact', sidecar: null, evidence: { kind: 'sidecar', bundles: BUNDLES, packageSha256: sha('bytes'), key } };
}

test('bundles are checked against the package (filename, digest, accepted channels) and the outcome is cached by key', async () => {
  const res = memoryResources({ config: config({ mirrors: [MIRROR] }) });
  const out = await verifyPackage(sidecarEvidence(res), res);
  assert.deepEqual(res.verified, [{ bundles: BUNDLES, expectation: { filename: record().filename, sha256: sha('bytes'), acceptedChannels: [CH, MIRROR] } }]);
  assert.deepEqual(out.evidence, { kind: 'bundles', outcomes: [verifiedOutcome(undefined, 0), verifiedOutcome(undefined, 1)] });
  assert.deepEqual(res.cache.get('k1'), [verifiedOutcome(undefined, 0), verifiedOutcome(undefined, 1)]);
});

test('a cached outcome is not verified again; without a key nothing is cached', async () => {
  const res = memoryResources();
  res.cache.set('k1', [verifiedOutcome()]);
  assert.deepEqual((await verifyPackage(sidecarEvidence(res), res)).evidence, { kind: 'bundles', outcomes: [verifiedOutcome()] });
  assert.deepEqual(res.verified, []);
  await verifyPackage(sidecarEvidence(res, null), res);
  assert.equal(res.verified.length, 1);
  assert.equal(res.cache.size, 1);
});

test('a verification failure is the package\'s (invalid, never cached); an unusable trust root stops the run', async () => {
  const failing = memoryResources({
    verify: () => {
      throw new VerifyError('VERIFY_WORKER_FAILED', 'the worker died');
    },
  });
  const out = await verifyPackage(sidecarEvidence(failing), failing);
  assert.equal(out.evidence.kind, 'rejected');
  assert.equal(out.evidence.kind === 'rejected' && out.evidence.status, 'invalid');
  assert.equal(failing.cache.size, 0);

  const rootless = memoryResources({
    verify: () => {
      throw new TrustRootError('TRUST_ROOT_STALE', 'too old');
    },
  });
  await assert.rejects(verifyPackage(sidecarEvidence(rootless), rootless), TrustRootError);
});

test('evidence other than a sidecar passes through untouched', async () => {
  const res = memoryResources();
  const none: Retrieved = { ...sidecarEvidence(res), evidence: { kind: 'none' } };
  assert.equal(await verifyPackage(none, res), none);
  assert.deepEqual(res.verified, []);
});
