import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AttestError } from '../../src/errors.ts';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { createVerifyPool, defaultPoolSize } from '../../src/verify/pool.ts';
import { serveRequests, type VerifyResponse, type WireRequest } from '../../src/verify/pool-worker.ts';
import { MessageChannel } from 'node:worker_threads';
import type { LoadedTrustRoot } from '../../src/verify/trust-root.ts';
import type { PublishExpectation } from '../../src/verify/cep27.ts';
import { mkdirSync } from 'node:fs';
import { openResources } from '../../src/pipeline.ts';
import { verdictCacheDir } from '../../src/cache/verdict-cache.ts';
import { makeWorkspace, resolveIn } from '../helpers/e2e.ts';
import { generateTestKey, publishStatement, startLocalSigstore, tamperBundle } from '../helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore } from '../helpers/sigstore.ts';

const CHANNEL = 'http://127.0.0.1:1/test-channel';
let sigstore: LocalSigstore;
let root: LoadedTrustRoot;
/** Sidecars (bundle lists) with their package, good and bad. */
let cases: { name: string; bundles: unknown[]; pkg: PublishExpectation }[];

function pkg(i: number): PublishExpectation & { statement: object } {
  const filename = `pkg${i}-1.0-h0_0.conda`;
  const sha256 = createHash('sha256').update(filename).digest('hex');
  return { filename, sha256, acceptedChannels: [CHANNEL], statement: publishStatement({ filename, sha256, targetChannel: CHANNEL }) };
}

before(async () => {
  sigstore = await startLocalSigstore();
  const json = sigstore.trustedRoot;
  root = { source: sigstore.trustedRootPath, digest: createHash('sha256').update(JSON.stringify(json)).digest('hex'), ageDays: 0, json };
  cases = [];
  for (let i = 0; i < 6; i++) {
    const p = pkg(i);
    cases.push({ name: `good ${i}`, bundles: [await sigstore.attest(p.statement)], pkg: p });
  }
  const p = pkg(100);
  const good: BundleJSON = await sigstore.attest(p.statement);
  cases.push({ name: 'tampered signature', bundles: [tamperBundle(good, 'signature')], pkg: p });
  cases.push({ name: 'tampered certificate', bundles: [tamperBundle(good, 'certificate')], pkg: p });
  cases.push({ name: 'tampered SET', bundles: [tamperBundle(good, 'set')], pkg: p });
  cases.push({ name: 'wrong CA', bundles: [await sigstore.attest(p.statement, { wrongInstance: { ca: true } })], pkg: p });
  cases.push({ name: 'other package digest', bundles: [good], pkg: { ...p, sha256: 'f'.repeat(64) } });
  cases.push({
    name: 'SLSA next to publish',
    bundles: [await sigstore.attest(publishStatement({ filename: p.filename, sha256: p.sha256, predicateType: 'https://slsa.dev/provenance/v1' })), good],
    pkg: p,
  });
  cases.push({ name: 'not a bundle', bundles: [{ hello: 'world' }, 'x', null], pkg: p });
});
after(async () => {
  await sigstore?.close();
});

function inProcess(c: { bundles: unknown[]; pkg: PublishExpectation }, opts: { trustedKeys?: never[]; requireTlog?: boolean } = {}) {
  return verifyAttestations(c.bundles, c.pkg, createVerifier({ trustRoot: root, ...opts }));
}

test('workers give exactly the in-process outcomes, for good and bad bundles', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 2, minBundles: 1 });
  try {
    const got = await Promise.all(cases.map((c) => pool.verifyAttestations(c.bundles, c.pkg, {})));
    cases.forEach((c, i) => assert.deepEqual(got[i], inProcess(c), c.name));
    assert.ok(pool.stats.inWorkers >= cases.length && pool.stats.inProcess === 0, JSON.stringify(pool.stats));
    // The suite must contain both verdicts, or the comparison proves little.
    assert.ok(got.some((o) => o.length === 1 && o[0]!.verified));
    assert.ok(got.filter((o) => o.every((b) => !b.verified)).length >= 5);
  } finally {
    await pool.close();
  }
});

test('workers sent the sidecar bytes instead of the parsed bundles give exactly the in-process outcomes', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 2, minBundles: 1, fastDer: true });
  try {
    // The bytes as a sidecar file holds them, each a view into one larger buffer (as a
    // cache bucket read in one piece gives them): only each view's own bytes may count.
    const texts = cases.map((c) => Buffer.from(JSON.stringify(c.bundles)));
    const whole = Buffer.concat(texts);
    let at = 0;
    const views = texts.map((t) => whole.subarray(at, (at += t.length)));
    const got = await Promise.all(cases.map((c, i) => pool.verifyAttestations(c.bundles, c.pkg, {}, views[i])));
    cases.forEach((c, i) => assert.deepEqual(got[i], inProcess(c), c.name));
    assert.ok(pool.stats.inWorkers >= cases.length && pool.stats.inProcess === 0, JSON.stringify(pool.stats));
    assert.ok(got.some((o) => o.length === 1 && o[0]!.verified));
  } finally {
    await pool.close();
  }
});

test('attack: a sidecar one byte away from a good one is verified from its own bytes, never from the good one\'s', async () => {
  const good = cases[0]!;
  const text = Buffer.from(JSON.stringify(good.bundles));
  // Flip one byte inside the DSSE signature's base64 (still valid JSON, still a bundle).
  const sig = (good.bundles[0] as BundleJSON).dsseEnvelope.signatures[0].sig as string;
  const at = text.indexOf(sig) + Math.floor(sig.length / 2);
  const forged = Buffer.from(text);
  forged[at] = forged[at] === 0x41 ? 0x42 : 0x41;
  const forgedBundles = JSON.parse(forged.toString('utf8')) as unknown[];
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1, fastDer: true });
  try {
    const [a, b] = await Promise.all([pool.verifyAttestations(good.bundles, good.pkg, {}, text), pool.verifyAttestations(forgedBundles, good.pkg, {}, forged)]);
    assert.equal(a[0]!.verified, true);
    assert.equal(b[0]!.verified, false);
    assert.deepEqual(b, inProcess({ bundles: forgedBundles, pkg: good.pkg }));
  } finally {
    await pool.close();
  }
});

test('with the fast DER encoder, workers still give exactly the stock in-process outcomes', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1, fastDer: true });
  try {
    const got = await Promise.all(cases.map((c) => pool.verifyAttestations(c.bundles, c.pkg, {})));
    cases.forEach((c, i) => assert.deepEqual(got[i], inProcess(c), c.name));
  } finally {
    await pool.close();
  }
});

test('small runs stay in-process (no worker started) and give the same outcomes', async () => {
  const pool = createVerifyPool({ trustRoot: root, minBundles: 1000 });
  try {
    for (const c of cases) assert.deepEqual(await pool.verifyAttestations(c.bundles, c.pkg, {}), inProcess(c), c.name);
    assert.equal(pool.stats.workersStarted, 0);
    assert.equal(pool.stats.inProcess, cases.length);
  } finally {
    await pool.close();
  }
});

test('expectedBundles starts the workers from the first call', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 10, expectedBundles: 10 });
  try {
    await pool.verifyAttestations(cases[0]!.bundles, cases[0]!.pkg, {});
    assert.equal(pool.stats.workersStarted, 1);
    assert.equal(pool.stats.inWorkers, 1);
  } finally {
    await pool.close();
  }
});

test('start() starts the workers before any call only when enough bundles are expected; the calls then run in them with the in-process outcomes', async () => {
  const small = createVerifyPool({ trustRoot: root, size: 1, minBundles: 10, expectedBundles: 9 });
  const big = createVerifyPool({ trustRoot: root, size: 2, minBundles: 10, expectedBundles: 10 });
  try {
    small.start?.();
    big.start?.();
    assert.equal(small.stats.workersStarted, 0, 'below minBundles: nothing started');
    assert.equal(big.stats.workersStarted, 2, 'started before the first call');
    big.start?.();
    assert.equal(big.stats.workersStarted, 2, 'a second start() starts nothing more');
    const got = await Promise.all(cases.map((c) => big.verifyAttestations(c.bundles, c.pkg, {})));
    cases.forEach((c, i) => assert.deepEqual(got[i], inProcess(c), c.name));
    assert.equal(big.stats.inWorkers, cases.length);
    assert.equal(big.stats.workersStarted, 2);
  } finally {
    await Promise.all([small.close(), big.close()]);
  }
  big.start?.();
  assert.equal(big.stats.workersStarted, 2, 'a closed pool starts nothing');
});

test('a first run of many packages starts the workers with the trust root; a run with verdicts on disk, a small run or one with every channel disabled does not', async () => {
  const ws = makeWorkspace('conda-attest-pool-');
  try {
    const rootFile = ws.write('trusted_root.json', JSON.stringify(sigstore.trustedRoot));
    const enabled = { trust_root: rootFile, cache_dir: ws.path('cache'), channels: { [CHANNEL]: { enabled: true } } };
    /** Workers started once the trust root is loaded, before any package is verified. */
    async function startedEarly(raw: object, o: { expectedPackages: number; noCache?: boolean }): Promise<number> {
      const run = openResources({ config: resolveIn(ws, raw), ...o });
      try {
        await run.loadTrustRoot();
        return (await run.resources.pool()).stats.workersStarted;
      } finally {
        await run.close();
      }
    }
    const big = { expectedPackages: 2000 };
    assert.ok((await startedEarly(enabled, big)) >= 1, 'cold: no verdict cache on disk');
    assert.equal(await startedEarly(enabled, { expectedPackages: 3 }), 0, 'too few packages for workers');
    assert.equal(await startedEarly({ ...enabled, channels: { [CHANNEL]: { enabled: false } } }, big), 0, 'nothing will be verified');
    mkdirSync(verdictCacheDir(ws.path('cache')), { recursive: true });
    assert.equal(await startedEarly(enabled, big), 0, 'verdicts on disk: perhaps nothing to verify, workers start on the first miss as before');
    assert.ok((await startedEarly(enabled, { ...big, noCache: true })) >= 1, '--no-cache verifies every package');
  } finally {
    ws.cleanup();
  }
});

test('by default one worker per core but one, and never none', () => {
  assert.deepEqual([1, 2, 4, 16].map((cores) => defaultPoolSize(cores)), [1, 1, 3, 15]);
  const pool = createVerifyPool({ trustRoot: root });
  assert.equal(pool.size, defaultPoolSize());
  void pool.close();
});

test('a worker answers the requests that arrived together in one message, each with its own id and outcome', async () => {
  const { port1, port2 } = new MessageChannel();
  serveRequests(port2, (req: WireRequest) => ({ id: req.id, ok: true, outcomes: [{ index: req.id } as never] }));
  const messages: VerifyResponse[][] = [];
  const all = new Promise<void>((done) => {
    port1.on('message', (m: VerifyResponse[]) => {
      messages.push(m);
      if (messages.flat().length === 5) done();
    });
  });
  for (const id of [3, 1, 4, 5, 9]) port1.postMessage({ id, pkg: cases[0]!.pkg, policyKey: 'k', trustedKeys: [], requireTlog: true, bundles: [] });
  await all;
  port1.close();
  assert.ok(messages.length < 5, `${messages.length} messages for 5 answers`);
  assert.deepEqual(messages.flat().map((r) => [r.id, r.ok && r.outcomes[0]]), [3, 1, 4, 5, 9].map((id) => [id, { index: id }]));
});

test('per-policy options reach the workers: a key-signed bundle verifies only with its key trusted', async () => {
  const key = generateTestKey();
  const p = pkg(7);
  const bundle = await sigstore.attestWithKey(p.statement, { privateKey: key.privateKey });
  const trusted = [{ pem: key.publicKeyPem, source: 'inline', name: 'release' }];
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1 });
  try {
    const [withKey, without] = await Promise.all([
      pool.verifyAttestations([bundle], p, { trustedKeys: trusted, requireTlog: true }),
      pool.verifyAttestations([bundle], p, { trustedKeys: [], requireTlog: true }),
    ]);
    assert.equal(withKey[0]!.verified, true);
    assert.equal(withKey[0]!.identity?.keyName, 'release');
    assert.equal(without[0]!.verified, false);
    assert.equal(without[0]!.reasons[0]!.code, 'KEY_UNTRUSTED');
    // An unreadable key is a verifier error: it crosses the thread with its code.
    await assert.rejects(
      pool.verifyAttestations([bundle], p, { trustedKeys: [{ pem: 'not a key', source: 'bad.pem' }] }),
      (e: unknown) => e instanceof AttestError && e.code === 'KEY_UNTRUSTED' && /bad\.pem/.test(e.message),
    );
  } finally {
    await pool.close();
  }
});

test('a worker crash rejects only the affected call; the pool replaces the worker', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1, workerUrl: new URL('./pool-crash-worker.ts', import.meta.url) });
  try {
    const crashPkg = { ...cases[0]!.pkg, filename: 'crash-1.0-h0_0.conda' };
    // The crash goes first so that the calls queued behind it land on the replacement worker.
    const crash = pool.verifyAttestations(cases[0]!.bundles, crashPkg, {});
    const others = cases.slice(1, 6).map((c) => pool.verifyAttestations(c.bundles, c.pkg, {}));
    await assert.rejects(crash, (e: unknown) => e instanceof AttestError && e.code === 'VERIFY_WORKER_FAILED' && /crash-1\.0-h0_0\.conda/.test(e.message));
    const settled = await Promise.allSettled(others);
    // At most one other call shared the crashed worker (2 in flight per worker).
    const rejected = settled.filter((s) => s.status === 'rejected');
    assert.ok(rejected.length <= 1, `${rejected.length} calls rejected`);
    for (const r of rejected) assert.equal(((r as PromiseRejectedResult).reason as AttestError).code, 'VERIFY_WORKER_FAILED');
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') assert.deepEqual(s.value, inProcess(cases[i + 1]!));
    });
    assert.equal(pool.stats.workerDeaths, 1);
    assert.equal(pool.stats.workersStarted, 2);
    // The replacement keeps serving.
    assert.deepEqual(await pool.verifyAttestations(cases[2]!.bundles, cases[2]!.pkg, {}), inProcess(cases[2]!));
  } finally {
    await pool.close();
  }
});

test('workers that cannot start: calls they held fail clearly, then the pool verifies in-process', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1, workerUrl: new URL('./pool-dead-worker.ts', import.meta.url) });
  try {
    const settled = await Promise.allSettled(cases.map((c) => pool.verifyAttestations(c.bundles, c.pkg, {})));
    let fulfilled = 0;
    settled.forEach((s, i) => {
      if (s.status === 'rejected') assert.equal((s.reason as AttestError).code, 'VERIFY_WORKER_FAILED');
      else {
        fulfilled++;
        assert.deepEqual(s.value, inProcess(cases[i]!), cases[i]!.name);
      }
    });
    // 3 deaths before giving up, each losing at most the 2 calls it held.
    assert.ok(fulfilled >= cases.length - 6, `${fulfilled}/${cases.length} verified`);
    assert.equal(pool.stats.workerDeaths, 3);
    assert.deepEqual(await pool.verifyAttestations(cases[0]!.bundles, cases[0]!.pkg, {}), inProcess(cases[0]!));
    assert.equal(pool.stats.workersStarted, 3, 'no more workers after giving up');
  } finally {
    await pool.close();
  }
});

test('close rejects pending calls and later calls with VERIFY_WORKER_FAILED', async () => {
  const pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1 });
  const pending = Promise.allSettled(cases.slice(0, 4).map((c) => pool.verifyAttestations(c.bundles, c.pkg, {})));
  await pool.close();
  for (const s of await pending) {
    assert.equal(s.status, 'rejected');
    assert.equal(((s as PromiseRejectedResult).reason as AttestError).code, 'VERIFY_WORKER_FAILED');
  }
  await assert.rejects(pool.verifyAttestations(cases[0]!.bundles, cases[0]!.pkg, {}), (e: unknown) => e instanceof AttestError && e.code === 'VERIFY_WORKER_FAILED');
});
