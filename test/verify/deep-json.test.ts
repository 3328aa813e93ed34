// A bundle nested tens of thousands of levels deep (≈ 60 KB) must not crash the run when
// the verification pool hands it to a worker (structured cloning recurses and overflows
// the stack): in-process and worker paths give the same verdict for every input, and a
// value that cannot be cloned at all falls back to in-process verification.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { createVerifyPool } from '../../src/verify/pool.ts';
import type { LoadedTrustRoot } from '../../src/verify/trust-root.ts';
import type { PublishExpectation } from '../../src/verify/cep27.ts';
import { MAX_SIDECAR_BUNDLES, parseSidecar } from '../../src/sidecar/parse.ts';
import { AttestError } from '../../src/errors.ts';
import { jsonShapeProblem, MAX_BUNDLE_DEPTH } from '../../src/util/json-bounds.ts';
import { publishStatement, startLocalSigstore } from '../helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore } from '../helpers/sigstore.ts';

const CHANNEL = 'http://127.0.0.1:1/deep-channel';
let sigstore: LocalSigstore;
let root: LoadedTrustRoot;
let good: BundleJSON;
const pkg: PublishExpectation = {
  filename: 'deep-1.0-h0_0.conda',
  sha256: createHash('sha256').update('deep').digest('hex'),
  acceptedChannels: [CHANNEL],
};

/** Sidecar bytes with one bundle whose `extra` field is `depth` nested arrays (built as text, like an attacker would). */
function deepSidecar(depth: number, next: object = {}): Buffer {
  const deep = '['.repeat(depth) + ']'.repeat(depth);
  return Buffer.from(`[${JSON.stringify(next).slice(0, -1)}${Object.keys(next).length ? ',' : ''}"extra":${deep}}]`);
}

before(async () => {
  sigstore = await startLocalSigstore();
  const json = sigstore.trustedRoot;
  root = { source: sigstore.trustedRootPath, digest: createHash('sha256').update(JSON.stringify(json)).digest('hex'), ageDays: 0, json };
  good = await sigstore.attest(publishStatement({ filename: pkg.filename, sha256: pkg.sha256, targetChannel: CHANNEL }));
});
after(async () => {
  await sigstore?.close();
});

test('jsonShapeProblem: iterative, bounded in depth and size, fine on real bundles', () => {
  assert.equal(jsonShapeProblem(good), undefined);
  const deep = JSON.parse('['.repeat(50_000) + ']'.repeat(50_000));
  assert.deepEqual(jsonShapeProblem(deep), { kind: 'depth', limit: MAX_BUNDLE_DEPTH });
  assert.deepEqual(jsonShapeProblem(new Array(200_000).fill(0)), { kind: 'size', limit: 100_000 });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.ok(jsonShapeProblem(cyclic) !== undefined);
});

test('a 30,000-level bundle next to a good one: same outcomes in-process and in a worker, no crash', async () => {
  for (const depth of [5_000, 30_000]) {
    const parsed = parseSidecar(deepSidecar(depth, good), 'deep.sigs');
    const bundles = [...parsed.bundles, good];
    const local = verifyAttestations(bundles, pkg, createVerifier({ trustRoot: root }));
    assert.equal(local[0]!.verified, false);
    assert.equal(local[0]!.reasons[0]!.code, 'BUNDLE_MALFORMED');
    assert.match(local[0]!.reasons[0]!.message, /nested more than 32 levels/);
    assert.equal(local[1]!.verified, true);
    const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1 });
    try {
      // Twice: the first call starts the worker, the second goes through a running one.
      assert.deepEqual(await pool.verifyAttestations(bundles, pkg, {}), local, `depth ${depth}`);
      assert.deepEqual(await pool.verifyAttestations(bundles, pkg, {}), local, `depth ${depth}`);
      assert.deepEqual(await pool.verifyAttestations([good], pkg, {}), [{ ...local[1]!, index: 0 }]);
      // With the sidecar's bytes (as retrieval passes them), the worker parses the deep
      // bundle itself, unchecked here, and reaches the same verdict without a crash.
      assert.ok(parsed.bytes, 'a sidecar array comes with its bytes');
      const inWorkers = pool.stats.inWorkers;
      assert.deepEqual(await pool.verifyAttestations(parsed.bundles, pkg, {}, parsed.bytes), [local[0]!], `depth ${depth}, bytes`);
      assert.equal(pool.stats.inWorkers, inWorkers + 1, 'verified in the worker');
    } finally {
      await pool.close();
    }
  }
});

test('a request that cannot be cloned to a worker is verified in-process instead of throwing', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1 });
  try {
    // A function is not structured-cloneable (DataCloneError); an API caller could pass one.
    const odd = { ...good, extra: () => 1 };
    const got = await pool.verifyAttestations([odd], pkg, {});
    assert.deepEqual(got, verifyAttestations([odd], pkg, createVerifier({ trustRoot: root })));
    assert.equal(pool.stats.cloneFallbacks, 1);
  } finally {
    await pool.close();
  }
});

test('attack: a sidecar of hundreds of bundles is refused before any verification (SIDECAR_TOO_MANY_BUNDLES)', () => {
  const text = JSON.stringify(new Array(MAX_SIDECAR_BUNDLES + 1).fill(good));
  assert.throws(
    () => parseSidecar(Buffer.from(text), 'many.sigs'),
    (e: unknown) => e instanceof AttestError && e.code === 'SIDECAR_TOO_MANY_BUNDLES' && /65 bundles/.test(e.message) && Boolean(e.hint),
  );
  // At the cap it is accepted (the check is a bound, not a ban on several attestations).
  assert.equal(parseSidecar(Buffer.from(JSON.stringify(new Array(MAX_SIDECAR_BUNDLES).fill(good))), 'ok.sigs').bundles.length, MAX_SIDECAR_BUNDLES);
});
