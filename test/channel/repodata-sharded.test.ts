// The repodata store against generated channels on 127.0.0.1: CEP 16 shards, then
// repodata.json.zst, then repodata.json; request logs show what was (not) fetched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { RepodataError } from '../../src/errors.ts';
import { createHttpClient, type HttpClient } from '../../src/http/client.ts';
import { createRepodataStore, isRepodataMissing, type RepodataStoreOptions } from '../../src/channel/repodata.ts';
import { fetchSidecar } from '../../src/sidecar/fetch.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import { send } from '../helpers/loopback.ts';
import { type RepodataRecord, startShardedChannel, type SubdirSpec } from '../helpers/sharded-channel.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const sha = (i: number) => createHash('sha256').update(String(i)).digest('hex');
const md5 = (i: number) => createHash('md5').update(String(i)).digest('hex');

function client(): HttpClient {
  return createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 10000, retries: 1, userAgent: 't', retryDelayMs: 5 });
}

const isCode = (code: string) => (e: unknown) => e instanceof RepodataError && e.code === code;

/** `names` package names × `builds` builds each, every other one advertising attestations. */
function subdir(names: number, builds = 2, extra: Record<string, RepodataRecord> = {}): SubdirSpec {
  const conda: Record<string, RepodataRecord> = {};
  let i = 0;
  for (let n = 0; n < names; n++) {
    for (let b = 0; b < builds; b++, i++) {
      const rec: RepodataRecord = { name: `pkg${n}`, version: '1.0', build: `h${b}_0`, sha256: sha(i), md5: md5(i), size: i, depends: ['python >=3.9'] };
      if (i % 2 === 0) rec.attestations_sha256 = sha(-i);
      conda[`pkg${n}-1.0-h${b}_0.conda`] = rec;
    }
  }
  return { 'packages.conda': { ...conda, ...extra } };
}

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-shards-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('sharded channel: lookups fetch the index once and only the shards of the names looked up', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(200), noarch: subdir(3) } });
  const http = client();
  const store = createRepodataStore({ http });
  try {
    const want = ['pkg7-1.0-h0_0.conda', 'pkg7-1.0-h1_0.conda', 'pkg150-1.0-h0_0.conda', 'pkg150-1.0-h0_0.conda'];
    const got = await Promise.all(want.map((f) => store.lookup(ch.url, 'linux-64', f)));
    assert.deepEqual(got[0], { sha256: sha(14), md5: md5(14), size: 14, attestationsSha256: sha(-14) });
    assert.deepEqual(got[1], { sha256: sha(15), md5: md5(15), size: 15 }, 'no attestations_sha256: none advertised');
    assert.deepEqual(got[2], { sha256: sha(300), md5: md5(300), size: 300, attestationsSha256: sha(-300) });
    // A name the index does not know, and a build its shard does not hold: no request at all for the first.
    assert.equal(await store.lookup(ch.url, 'linux-64', 'nosuch-1.0-0.conda'), undefined);
    assert.equal(await store.lookup(ch.url, 'linux-64', 'pkg7-9.9-h9_0.conda'), undefined);
    assert.equal(await store.lookup(ch.url, 'linux-64', 'pkg7-1.0-h0_0.tar.bz2'), undefined, '.tar.bz2 is looked up in "packages"');
    assert.equal(await store.lookup(ch.url, 'linux-64', 'not a package'), undefined);
    assert.deepEqual(ch.paths().sort(), [ch.indexPath('linux-64'), ch.shardPath('linux-64', 'pkg150'), ch.shardPath('linux-64', 'pkg7')].sort());
    assert.equal(store.sourceOf(ch.url, 'linux-64'), 'shards');
    assert.ok(ch.shardPath('linux-64', 'pkg7').startsWith('/sc/linux-64/shards/'), 'shards_base_url ./shards/ is relative to the index');
    // noarch is its own subdir: its own index.
    assert.equal((await store.lookup(`${ch.url}/`, 'noarch', 'pkg2-1.0-h0_0.conda'))?.attestationsSha256, sha(-4));
    assert.equal(ch.paths().filter((p) => p.includes('/noarch/')).length, 2);
    assert.equal(ch.paths().filter((p) => p.includes('repodata.json')).length, 0, 'no monolithic repodata fetched');
    assert.deepEqual({ ...store.stats, bytes: 0 }, { fetches: 2, notModified: 0, shardFetches: 3, shardCacheHits: 0, bytes: 0, recordListScans: 0 });
  } finally {
    http.close();
    await ch.close();
  }
});

test('shard index naming the hash of the msgpack (early conda-index) and no shards_base_url also works', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(5) }, hashOf: 'msgpack', shardsBaseUrl: null });
  const http = client();
  try {
    const store = createRepodataStore({ http });
    assert.equal((await store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h0_0.conda'))?.attestationsSha256, sha(-2));
    assert.ok(ch.shardPath('linux-64', 'pkg1').startsWith('/sc/linux-64/') && !ch.shardPath('linux-64', 'pkg1').includes('/shards/'));
  } finally {
    http.close();
    await ch.close();
  }
});

test('attack: a substituted shard (valid msgpack, attacker records) is rejected and never cached', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(3) } });
  // A mirror serves its own shard for pkg1: the attestations hash points at its sidecar.
  const evil = ch.encodeShard({ 'packages.conda': { 'pkg1-1.0-h0_0.conda': { name: 'pkg1', attestations_sha256: B } } });
  ch.lb.route(ch.shardPath('linux-64', 'pkg1'), send(evil));
  const http = client();
  await withTmp(async (dir) => {
    try {
      for (let run = 0; run < 2; run++) {
        const store = createRepodataStore({ http, cacheDir: dir });
        await assert.rejects(store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h0_0.conda'), (e: unknown) => {
          assert.ok(isCode('REPODATA_SHARD_MISMATCH')(e), String(e));
          assert.equal(isRepodataMissing(e), false, 'a retrieval failure, never "no repodata"');
          return true;
        });
        // The same promise answers the second lookup of the run: fetched once.
        await assert.rejects(store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h2_0.conda'), isCode('REPODATA_SHARD_MISMATCH'));
        // Other names are unaffected.
        assert.equal((await store.lookup(ch.url, 'linux-64', 'pkg0-1.0-h0_0.conda'))?.attestationsSha256, sha(0));
      }
      assert.equal(ch.paths().filter((p) => p === ch.shardPath('linux-64', 'pkg1')).length, 2, 'once per run, refetched because nothing was cached');
      const cached = await readdir(join(dir, 'repodata', 'shards'));
      assert.deepEqual(cached, [`${ch.shardHash('linux-64', 'pkg0')}.msgpack.zst`]);
    } finally {
      http.close();
      await ch.close();
    }
  });
});

test('attack: a shard whose msgpack is a zstd bomb, and a bomb index, stop at maxShardBytes', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(2) } });
  const bomb = zlib.zstdCompressSync(Buffer.alloc(32 << 20));
  // The bomb sits at the URL of pkg1's shard but does not hash to it: rejected as a mismatch
  // (it is decompressed only up to the cap to try the msgpack hash).
  ch.lb.route(ch.shardPath('linux-64', 'pkg1'), send(bomb));
  const http = client();
  try {
    const store = createRepodataStore({ http, maxShardBytes: 1 << 20 });
    await assert.rejects(store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h0_0.conda'), isCode('REPODATA_SHARD_MISMATCH'));
    // A channel publishing a bomb as its own index.
    ch.lb.route(ch.indexPath('osx-64'), send(bomb));
    await assert.rejects(store.lookup(ch.url, 'osx-64', 'pkg1-1.0-h0_0.conda'), (e: unknown) => {
      assert.ok(isCode('REPODATA_UNAVAILABLE')(e));
      assert.deepEqual((e as RepodataError).details, { tooLarge: true, maxBytes: 1 << 20 });
      assert.equal(isRepodataMissing(e), false);
      return true;
    });
    assert.equal(ch.paths().filter((p) => p.includes('/osx-64/')).length, 1, 'no fallback after a bomb: it is an error');
  } finally {
    http.close();
    await ch.close();
  }
});

test('attack: a bomb repodata.json.zst stops at maxBytes', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(2) }, serve: { shards: false } });
  ch.lb.route('/sc/linux-64/repodata.json.zst', send(zlib.zstdCompressSync(Buffer.alloc(16 << 20, 0x20))));
  const http = client();
  try {
    const store = createRepodataStore({ http, maxBytes: 1 << 20 });
    await assert.rejects(store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h0_0.conda'), (e: unknown) => isCode('REPODATA_UNAVAILABLE')(e) && /cap/.test((e as Error).message));
  } finally {
    http.close();
    await ch.close();
  }
});

test('shard 404 (named by the index) is REPODATA_SHARD_UNAVAILABLE, not "missing"; index 500 does not fall back', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(2), 'osx-64': subdir(2) } });
  ch.lb.route(ch.shardPath('linux-64', 'pkg1'), send('gone', 404));
  ch.lb.route(ch.indexPath('osx-64'), send('down', 503));
  const http = client();
  try {
    const store = createRepodataStore({ http });
    await assert.rejects(store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h0_0.conda'), (e: unknown) => isCode('REPODATA_SHARD_UNAVAILABLE')(e) && !isRepodataMissing(e));
    await assert.rejects(store.lookup(ch.url, 'osx-64', 'pkg1-1.0-h0_0.conda'), (e: unknown) => isCode('REPODATA_UNAVAILABLE')(e) && !isRepodataMissing(e));
    assert.deepEqual(
      ch.paths().filter((p) => p.includes('/osx-64/')),
      [ch.indexPath('osx-64'), ch.indexPath('osx-64')],
      'one attempt and one retry; we cannot tell what is advertised, so no silent fallback',
    );
  } finally {
    http.close();
    await ch.close();
  }
});

test('fallbacks: no index → repodata.json.zst; no .zst → repodata.json; 403 and 410 count as absent; nothing → missing', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(3) }, serve: { shards: false } });
  const ch2 = await startShardedChannel({ subdirs: { 'linux-64': subdir(3) }, serve: { shards: false, zst: false } });
  ch2.lb.route('/sc/linux-64/repodata_shards.msgpack.zst', send('AccessDenied', 403));
  // 410 Gone: "not published", the one rule (src/errors.ts notPublished) probed sidecars follow too.
  ch2.lb.route('/sc/linux-64/repodata.json.zst', send('Gone', 410));
  const http = client();
  try {
    const store = createRepodataStore({ http });
    assert.equal((await store.lookup(ch.url, 'linux-64', 'pkg1-1.0-h0_0.conda'))?.attestationsSha256, sha(-2));
    assert.deepEqual(ch.paths(), ['/sc/linux-64/repodata_shards.msgpack.zst', '/sc/linux-64/repodata.json.zst']);
    assert.equal(store.sourceOf(ch.url, 'linux-64'), 'zst');

    assert.equal((await store.lookup(ch2.url, 'linux-64', 'pkg1-1.0-h0_0.conda'))?.attestationsSha256, sha(-2));
    assert.deepEqual(ch2.paths(), ['/sc/linux-64/repodata_shards.msgpack.zst', '/sc/linux-64/repodata.json.zst', '/sc/linux-64/repodata.json']);
    assert.equal(store.sourceOf(ch2.url, 'linux-64'), 'json');

    await assert.rejects(store.lookup(`${ch.url}/nothing`, 'linux-64', 'pkg1-1.0-h0_0.conda'), (e: unknown) => isRepodataMissing(e));
    assert.equal(ch.paths().filter((p) => p.startsWith('/sc/nothing/')).length, 3);
  } finally {
    http.close();
    await ch.close();
    await ch2.close();
  }
});

test('an index of an unknown version falls back to repodata.json.zst', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(2) }, indexExtra: { version: 2 } });
  const http = client();
  try {
    const store = createRepodataStore({ http });
    assert.equal((await store.lookup(ch.url, 'linux-64', 'pkg0-1.0-h0_0.conda'))?.attestationsSha256, sha(0));
    assert.equal(store.sourceOf(ch.url, 'linux-64'), 'zst');
  } finally {
    http.close();
    await ch.close();
  }
});

test('disk cache: run 2 revalidates the index (304) and reads shards from disk; a corrupt cached shard is refetched', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(20) } });
  const http = client();
  await withTmp(async (dir) => {
    try {
      const files = ['pkg3-1.0-h0_0.conda', 'pkg4-1.0-h1_0.conda', 'pkg5-1.0-h0_0.conda'];
      const run = async () => {
        const store = createRepodataStore({ http, cacheDir: dir });
        const r = await Promise.all(files.map((f) => store.lookup(ch.url, 'linux-64', f)));
        return { store, r };
      };
      const r1 = await run();
      assert.equal(ch.paths().length, 4);
      const mark = ch.lb.requests.length;
      const r2 = await run();
      assert.deepEqual(r2.r, r1.r);
      const later = ch.lb.requests.slice(mark);
      assert.deepEqual(later.map((r) => r.path), [ch.indexPath('linux-64')], 'no shard requested again');
      assert.ok(later[0].headers['if-none-match'], 'conditional request');
      assert.equal(r2.store.stats.notModified, 1);
      assert.equal(r2.store.stats.shardCacheHits, 3);

      // Attack on the cache: a planted file under a shard's name is re-hashed and ignored.
      const planted = ch.encodeShard({ 'packages.conda': { 'pkg4-1.0-h1_0.conda': { name: 'pkg4', attestations_sha256: B } } });
      await writeFile(join(dir, 'repodata', 'shards', `${ch.shardHash('linux-64', 'pkg4')}.msgpack.zst`), planted);
      const r3 = await run();
      assert.deepEqual(r3.r, r1.r);
      assert.equal(r3.store.stats.shardFetches, 1);
      assert.equal(r3.store.stats.shardCacheHits, 2);
      const r4 = await run();
      assert.equal(r4.store.stats.shardCacheHits, 3, 'the refetched shard replaced the planted file');
    } finally {
      http.close();
      await ch.close();
    }
  });
});

test('source memo: a warm run goes straight to the source that answered; after probeTtlMs it probes again', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(2) }, serve: { shards: false, zst: false } });
  const http = client();
  let clock = 1_000_000;
  await withTmp(async (dir) => {
    try {
      const o: RepodataStoreOptions = { http, cacheDir: dir, probeTtlMs: 60_000, now: () => clock };
      await createRepodataStore(o).lookup(ch.url, 'linux-64', 'pkg0-1.0-h0_0.conda');
      assert.equal(ch.paths().length, 3);
      clock += 30_000;
      await createRepodataStore(o).lookup(ch.url, 'linux-64', 'pkg0-1.0-h0_0.conda');
      assert.deepEqual(ch.paths().slice(3), ['/sc/linux-64/repodata.json'], 'no probes within the TTL');
      clock += 60_000;
      await createRepodataStore(o).lookup(ch.url, 'linux-64', 'pkg0-1.0-h0_0.conda');
      assert.deepEqual(ch.paths().slice(4), ['/sc/linux-64/repodata_shards.msgpack.zst', '/sc/linux-64/repodata.json.zst', '/sc/linux-64/repodata.json']);
      // The channel starts publishing shards: picked up once the memo is stale.
      const sharded = await startShardedChannel({ subdirs: { 'linux-64': subdir(2) } });
      try {
        for (const p of ['/sc/linux-64/repodata_shards.msgpack.zst', sharded.shardPath('linux-64', 'pkg0')]) {
          ch.lb.route(p, (req, res) => void sharded.lb.server.emit('request', req, res));
        }
        clock += 61_000;
        const s = createRepodataStore(o);
        assert.equal((await s.lookup(ch.url, 'linux-64', 'pkg0-1.0-h0_0.conda'))?.attestationsSha256, sha(0));
        assert.equal(s.sourceOf(ch.url, 'linux-64'), 'shards');
      } finally {
        await sharded.close();
      }
    } finally {
      http.close();
      await ch.close();
    }
  });
});

test('end to end: fetchSidecar finds the sidecar advertised (as 32 bytes) in a CEP 16 shard', async () => {
  const sidecar = Buffer.from(JSON.stringify([{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]));
  const att = createHash('sha256').update(sidecar).digest('hex');
  const file = 'tool-2.1-py_0.conda';
  const ch = await startShardedChannel({
    subdirs: { noarch: subdir(50, 1, { [file]: { name: 'tool', sha256: sha(1), attestations_sha256: att } }) },
    attestationsAsBytes: true,
  });
  ch.lb.route(`/sc/noarch/${file}.sigs.${att}`, send(sidecar));
  const http = client();
  try {
    const r = await fetchSidecar(recordFromUrl(`${ch.url}/noarch/${file}`), ['repodata', 'sigs', 'v0-sigs'], { http, repodata: createRepodataStore({ http }), maxBytes: 4096 });
    assert.equal(r.state, 'found', JSON.stringify(r));
    assert.equal(r.state === 'found' && r.method, 'repodata');
    assert.equal(r.state === 'found' && r.sha256, att);
    assert.deepEqual(ch.paths(), [ch.indexPath('noarch'), ch.shardPath('noarch', 'tool'), `/sc/noarch/${file}.sigs.${att}`]);
  } finally {
    http.close();
    await ch.close();
  }
});

test('attack: an invalid attestations_sha256 in a shard fails discovery before any sidecar URL is requested', async () => {
  const bad: Record<string, unknown> = {
    'b1-1-0.conda': Buffer.alloc(31, 0xaa),
    'b2-1-0.conda': A.toUpperCase(),
    'b3-1-0.conda': `../../../x${'a'.repeat(54)}`,
    'b4-1-0.conda': 42,
  };
  const extra = Object.fromEntries(Object.entries(bad).map(([f, v]) => [f, { name: f.split('-')[0], attestations_sha256: v }]));
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(1, 1, extra) } });
  const http = client();
  try {
    const deps = { http, repodata: createRepodataStore({ http }), maxBytes: 4096 };
    for (const f of Object.keys(bad)) {
      const r = await fetchSidecar(recordFromUrl(`${ch.url}/linux-64/${f}`), ['repodata', 'sigs', 'v0-sigs'], deps);
      assert.equal(r.state, 'failed', f);
      assert.equal(r.state === 'failed' && r.reasons[0].code, 'REPODATA_INVALID_ATTESTATIONS_SHA256', f);
    }
    assert.deepEqual(ch.paths().filter((p) => p.includes('.sigs')), [], 'no sidecar URL was built from a bad value');
  } finally {
    http.close();
    await ch.close();
  }
});

test('figures: 50 lookups in a 20,000-package channel, sharded vs repodata.json.zst vs repodata.json', async () => {
  const ch = await startShardedChannel({ subdirs: { 'linux-64': subdir(5000, 4) } });
  const wanted = Array.from({ length: 50 }, (_, i) => `pkg${i * 97}-1.0-h${i % 4}_0.conda`);
  const rows: string[] = [];
  const results: unknown[][] = [];
  for (const [label, o] of [
    ['shards', {}],
    ['repodata.json.zst', { shards: false }],
    ['repodata.json', { shards: false, zst: false }],
  ] as const) {
    const http = client();
    try {
      const store = createRepodataStore({ http, ...o });
      const t0 = performance.now();
      results.push(await Promise.all(wanted.map((f) => store.lookup(ch.url, 'linux-64', f))));
      const ms = performance.now() - t0;
      rows.push(`${label}: ${ms.toFixed(0)} ms, ${(store.stats.bytes / 1024).toFixed(0)} KiB in ${http.stats.requests} requests`);
      if (label === 'shards') assert.equal(store.stats.shardFetches, 50);
    } finally {
      http.close();
    }
  }
  await ch.close();
  assert.deepEqual(results[0], results[1]);
  assert.deepEqual(results[0], results[2]);
  assert.ok(results[0].every((e) => e !== undefined));
  console.log(`# 50 lookups, 20,000 packages (5,000 names): ${rows.join('; ')}`);
});
