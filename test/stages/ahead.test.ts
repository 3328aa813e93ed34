// Scheduling of verifyPackages (src/session.ts): `concurrency` bounds the requests in
// flight, not the packages, so sidecars keep being fetched while earlier packages wait for
// verification; the rows and verdicts are those of a run that waits for each.
// The end of a run frees the verification workers before the identity lockfile is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSessionOn } from '../../src/session.ts';
import { emptyLock } from '../../src/lock/decide.ts';
import type { VerifyPool } from '../../src/verify/pool.ts';
import { config, memoryResources, record, sha } from './memory.ts';

const N = 12;
const SIDECAR = JSON.stringify([{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]);

/** A session over in-memory resources whose pool answers only when `release` is called. */
async function heldSession(doneRetrieving?: () => void) {
  const records = Array.from({ length: N }, (_, i) => record(`pkg${i}`, undefined, { sha256: sha(`bytes ${i}`) }));
  const res = memoryResources({
    repodata: Object.fromEntries(records.map((r) => [r.filename, { attestationsSha256: sha(SIDECAR) }])),
    files: Object.fromEntries(records.map((r) => [`${r.url}.sigs.${sha(SIDECAR)}`, SIDECAR])),
  });
  const held: (() => void)[] = [];
  const stub = await res.pool();
  const pool: VerifyPool = {
    ...stub,
    verifyAttestations: (bundles, pkg, policy, bytes) => new Promise((resolve) => held.push(() => resolve(stub.verifyAttestations(bundles, pkg, policy, bytes)))),
  };
  res.pool = async () => pool;
  const session = await createSessionOn(
    { config: config() },
    {
      openResources: () => ({ resources: res, loadTrustRoot: () => res.trustRoot(), doneRetrieving, close: async () => ({ root: undefined, warnings: [], notices: [] }) }),
      lock: { path: 'mem.lock', exists: async () => false, read: async () => emptyLock(), update: async () => false },
    },
  );
  return { session, records, res, held };
}

test('packages waiting for verification hold no request slot: with concurrency 1, more sidecars are fetched meanwhile, and the rows are the same', async () => {
  const { session, records, res, held } = await heldSession();
  const run = session.verifyPackages(records.map((r) => ({ record: r, digest: { sha256: r.sha256!, source: 'lockfile' } })), { concurrency: 1 });
  // Let every promise that can settle settle while no verification answers.
  for (let i = 0; i < 50; i++) await new Promise((next) => setImmediate(next));
  const fetchedWhileHeld = res.requests.length;
  assert.ok(fetchedWhileHeld > 1, `sidecars fetched while the first verification waits: ${fetchedWhileHeld}`);
  assert.ok(fetchedWhileHeld < N, 'still bounded: not every package is under way at once');
  while (held.length > 0 || res.verified.length < N) {
    held.splice(0).forEach((go) => go());
    await new Promise((next) => setImmediate(next));
  }
  const rows = await run;
  assert.deepEqual(rows.map((r) => r.filename), records.map((r) => r.filename), 'rows in input order');
  assert.deepEqual(rows.map((r) => r.status), Array(N).fill('verified'));
  assert.deepEqual(res.verified.length, N);
  assert.deepEqual(res.verified[0]!.expectation.filename, records[0]!.filename);
});

test('the host is told once that every package is retrieved, while verifications are still pending, so it can write the sidecar cache then', async () => {
  let told = 0;
  let fetchedWhenTold = -1;
  let verifiedWhenTold = -1;
  const { session, records, res, held } = await heldSession(() => {
    told++;
    fetchedWhenTold = res.requests.filter((u) => u.includes('.sigs.')).length;
    verifiedWhenTold = res.verified.length;
  });
  const run = session.verifyPackages(records.map((r) => ({ record: r, digest: { sha256: r.sha256!, source: 'lockfile' } })), { concurrency: 64 });
  for (let i = 0; i < 50; i++) await new Promise((next) => setImmediate(next));
  assert.equal(told, 1, 'told once every sidecar has arrived');
  assert.equal(fetchedWhenTold, N, 'not before the last sidecar');
  assert.equal(verifiedWhenTold, 0, 'while every verification is still held');
  while (held.length > 0 || res.verified.length < N) {
    held.splice(0).forEach((go) => go());
    await new Promise((next) => setImmediate(next));
  }
  assert.deepEqual((await run).map((r) => r.status), Array(N).fill('verified'));
  assert.equal(told, 1, 'and not again');
});

test('end of a run: verification is stopped before the identity lockfile is written, and the caches are closed after it', async () => {
  const records = [record('pinme', undefined, { sha256: sha('pin bytes') })];
  const res = memoryResources({
    repodata: { [records[0]!.filename]: { attestationsSha256: sha(SIDECAR) } },
    files: { [`${records[0]!.url}.sigs.${sha(SIDECAR)}`]: SIDECAR },
  });
  const order: string[] = [];
  const session = await createSessionOn(
    { config: config() },
    {
      openResources: () => ({
        resources: res,
        loadTrustRoot: () => res.trustRoot(),
        stopVerifying: async () => void order.push('stop verifying'),
        close: async () => (order.push('close'), { root: undefined, warnings: [], notices: [] }),
      }),
      lock: {
        path: 'mem.lock',
        exists: async () => false,
        read: async () => emptyLock(),
        update: async (mutate) => (order.push('write lockfile'), mutate(emptyLock()) !== null),
      },
    },
  );
  const [row] = await session.verifyPackages(records.map((r) => ({ record: r, digest: { sha256: r.sha256!, source: 'lockfile' } })), { concurrency: 1 });
  assert.equal(row!.status, 'verified');
  const report = await session.finish();
  // The workers' heaps are gone before the lockfile and the caches build their files
  // (docs/performance.md "Memory, round 3"): a first pin makes the write happen.
  assert.deepEqual(order, ['stop verifying', 'write lockfile', 'close']);
  assert.equal(report.lockfile?.written, true);
});
