import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepodataError } from '../../src/errors.ts';
import { createHttpClient, type HttpClient } from '../../src/http/client.ts';
import { indexRepodata } from '../../src/channel/repodata-index.ts';
import { createRepodataStore, isRepodataMissing } from '../../src/channel/repodata.ts';
import { send, startLoopback } from '../helpers/loopback.ts';

const A = 'a'.repeat(64);
const S = '1'.repeat(64);

function client(): HttpClient {
  return createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 10000, retries: 1, userAgent: 't', retryDelayMs: 5 });
}

const REPODATA = JSON.stringify({
  info: { subdir: 'linux-64' },
  packages: { 'old-1.0-0.tar.bz2': { name: 'old', sha256: S.toUpperCase(), md5: 'b'.repeat(32), size: 10, attestations_sha256: A } },
  'packages.conda': {
    'good-1.0-0.conda': { name: 'good', sha256: S, size: 20, depends: ['x >=1', 'y "quoted" \\ ok'], attestations_sha256: A },
    'plain-1.0-0.conda': { name: 'plain', sha256: 'nothex' },
    'upper-1.0-0.conda': { attestations_sha256: A.toUpperCase() },
    'short-1.0-0.conda': { attestations_sha256: A.slice(1) },
    'number-1.0-0.conda': { attestations_sha256: 12 },
    'path-1.0-0.conda': { attestations_sha256: '../../../etc/passwd' + 'a'.repeat(45) },
    'null-1.0-0.conda': { attestations_sha256: null },
  },
  removed: ['gone-1-0.conda'],
  repodata_version: 1,
});

/**
 * A channel on loopback serving REPODATA as repodata.json with an ETag (304 when it is sent
 * back), a disk cache directory and an HTTP client, all closed after `fn`.
 */
async function withCachedChannel(fn: (c: { lb: Awaited<ReturnType<typeof startLoopback>>; http: HttpClient; dir: string; ch: string }) => Promise<void>): Promise<void> {
  const lb = await startLoopback();
  lb.route('/cf/linux-64/repodata.json', (req, res) => {
    if (req.headers['if-none-match'] === '"r1"') return void res.writeHead(304).end();
    res.writeHead(200, { etag: '"r1"', 'content-length': String(Buffer.byteLength(REPODATA)) }).end(REPODATA);
  });
  const dir = await mkdtemp(join(tmpdir(), 'ca-repo-'));
  const http = client();
  try {
    await fn({ lb, http, dir, ch: `${lb.url}/cf` });
  } finally {
    http.close();
    await lb.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('indexRepodata keeps only the needed fields, per section', () => {
  const idx = indexRepodata(Buffer.from(REPODATA), 'r');
  assert.deepEqual(idx.tarBz2.get('old-1.0-0.tar.bz2'), { sha256: S, md5: 'b'.repeat(32), size: 10, att: A });
  assert.deepEqual(idx.conda.get('good-1.0-0.conda'), { sha256: S, size: 20, att: A });
  assert.deepEqual(idx.conda.get('plain-1.0-0.conda'), {}, 'a malformed sha256 is dropped, not kept');
  assert.equal(idx.conda.get('old-1.0-0.tar.bz2'), undefined);
  assert.equal(idx.conda.size, 7);
});

test('indexRepodata: malformed JSON is REPODATA_MALFORMED', () => {
  const bad = [
    '',
    '[]',
    REPODATA.slice(0, -1),
    REPODATA + 'x',
    '{"packages": {"a-1-0.tar.bz2": [1]}}',
    '{"packages": {"a-1-0.tar.bz2": {"x": tru}}}',
    '{"packages.conda": {"a-1-0.conda": {"x": "unterminated}}}',
    '{"info": {"a": 1,}}',
    '{"packages": {} "x": 1}',
  ];
  for (const b of bad) {
    assert.throws(() => indexRepodata(Buffer.from(b), 'r'), (e: unknown) => e instanceof RepodataError && e.code === 'REPODATA_MALFORMED', b.slice(0, 60));
  }
  assert.equal(indexRepodata(Buffer.from('\ufeff {"packages":{}} \n'), 'r').tarBz2.size, 0);
});

test('one fetch for 50 concurrent lookups; invalid attestations_sha256 rejected per package', async () => {
  const lb = await startLoopback();
  lb.route('/cf/linux-64/repodata.json', async (req, res) => {
    await new Promise((r) => setTimeout(r, 20));
    send(REPODATA)(req, res);
  });
  const http = client();
  const store = createRepodataStore({ http });
  try {
    const all = await Promise.all(Array.from({ length: 50 }, () => store.lookup(`${lb.url}/cf`, 'linux-64', 'good-1.0-0.conda')));
    // One probe each for the shard index and repodata.json.zst (both 404 here), one repodata.json.
    assert.deepEqual(lb.requests.map((r) => r.path), ['/cf/linux-64/repodata_shards.msgpack.zst', '/cf/linux-64/repodata.json.zst', '/cf/linux-64/repodata.json']);
    assert.ok(all.every((e) => e?.attestationsSha256 === A && e.sha256 === S));
    assert.deepEqual(await store.lookup(`${lb.url}/cf`, 'linux-64', 'old-1.0-0.tar.bz2'), { sha256: S, md5: 'b'.repeat(32), size: 10, attestationsSha256: A });
    assert.deepEqual(await store.lookup(`${lb.url}/cf`, 'linux-64', 'plain-1.0-0.conda'), {});
    assert.equal(await store.lookup(`${lb.url}/cf`, 'linux-64', 'absent-1.0-0.conda'), undefined);
    for (const f of ['upper', 'short', 'number', 'path', 'null']) {
      await assert.rejects(store.lookup(`${lb.url}/cf`, 'linux-64', `${f}-1.0-0.conda`), (e: unknown) => e instanceof RepodataError && e.code === 'REPODATA_INVALID_ATTESTATIONS_SHA256', f);
    }
    assert.equal(lb.requests.length, 3);
    assert.equal(store.stats.fetches, 3);
    assert.equal(store.sourceOf(`${lb.url}/cf`, 'linux-64'), 'json');
  } finally {
    http.close();
    await lb.close();
  }
});

test('disk cache: the next run sends If-None-Match, gets 304 and answers from the cached index', async () => {
  await withCachedChannel(async ({ lb, http, dir }) => {
    const run1 = createRepodataStore({ http, cacheDir: dir });
    assert.equal((await run1.lookup(`${lb.url}/cf`, 'linux-64', 'good-1.0-0.conda'))?.attestationsSha256, A);
    const run2 = createRepodataStore({ http, cacheDir: dir });
    assert.equal((await run2.lookup(`${lb.url}/cf`, 'linux-64', 'good-1.0-0.conda'))?.attestationsSha256, A);
    // A bad value stays bad when it comes from the cache.
    await assert.rejects(run2.lookup(`${lb.url}/cf`, 'linux-64', 'upper-1.0-0.conda'), (e: unknown) => e instanceof RepodataError && e.code === 'REPODATA_INVALID_ATTESTATIONS_SHA256');
    // Run 2 remembers that repodata.json answered (no re-probing) and revalidates it.
    const json = lb.requests.filter((r) => r.path === '/cf/linux-64/repodata.json');
    assert.equal(lb.requests.length, 4);
    assert.equal(json.length, 2);
    assert.equal(json[1].headers['if-none-match'], '"r1"');
    assert.equal(run2.stats.notModified, 1);
  });
});

test('404 → REPODATA_UNAVAILABLE marked missing; 5xx → unavailable, not missing; bad JSON → MALFORMED; each fetched once per run', async () => {
  const lb = await startLoopback();
  lb.route('/down/linux-64/repodata.json', send('err', 500));
  lb.route('/bad/linux-64/repodata.json', send('{"packages": '));
  const http = client();
  const store = createRepodataStore({ http });
  try {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(store.lookup(`${lb.url}/none`, 'linux-64', 'a-1-0.conda'), (e: unknown) => {
        assert.ok(e instanceof RepodataError && e.code === 'REPODATA_UNAVAILABLE');
        assert.equal(isRepodataMissing(e), true);
        return true;
      });
      await assert.rejects(store.lookup(`${lb.url}/down`, 'linux-64', 'a-1-0.conda'), (e: unknown) => {
        assert.ok(e instanceof RepodataError && e.code === 'REPODATA_UNAVAILABLE');
        assert.equal(isRepodataMissing(e), false);
        return true;
      });
      await assert.rejects(store.lookup(`${lb.url}/bad`, 'linux-64', 'a-1-0.conda'), (e: unknown) => e instanceof RepodataError && e.code === 'REPODATA_MALFORMED');
    }
    const json = (p: string) => lb.requests.filter((r) => r.path === `/${p}/linux-64/repodata.json`).length;
    assert.equal(json('none'), 1);
    assert.equal(json('down'), 2, 'one fetch with one retry');
    assert.equal(json('bad'), 1);
    // Plus one probe each of the shard index and repodata.json.zst, never repeated.
    for (const p of ['none', 'down', 'bad']) assert.equal(lb.requests.filter((r) => r.path.startsWith(`/${p}/`)).length, json(p) + 2, p);
  } finally {
    http.close();
    await lb.close();
  }
});

test('large repodata: 200k records indexed without building the document', () => {
  const parts: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    parts.push(`"pkg${i}-1.0-h${i}_0.conda":{"build":"h${i}_0","depends":["python >=3.9","libzlib >=1.3.1,<2.0a0"],"license":"BSD-3-Clause","md5":"${'c'.repeat(32)}","name":"pkg${i}","sha256":"${S}","size":${i},"subdir":"linux-64","timestamp":1700000000000,"version":"1.0","attestations_sha256":"${A}"}`);
  }
  const buf = Buffer.from(`{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{${parts.join(',')}},"repodata_version":1}`);
  const t0 = performance.now();
  const idx = indexRepodata(buf, 'big');
  const ms = performance.now() - t0;
  assert.equal(idx.conda.size, 200_000);
  assert.equal(idx.conda.get('pkg199999-1.0-h199999_0.conda')?.size, 199_999);
  console.log(`# indexed ${(buf.length / 1048576).toFixed(0)} MiB repodata (200k records) in ${ms.toFixed(0)} ms`);
});

test('want: only the wanted records are read; any other lookup is answered from the record list on disk, without a request', async () => {
  await withCachedChannel(async ({ lb, http, dir, ch }) => {
    const store = createRepodataStore({ http, cacheDir: dir });
    store.want?.([{ channel: ch, subdir: 'linux-64', filename: 'good-1.0-0.conda' }]);
    assert.equal((await store.lookup(ch, 'linux-64', 'good-1.0-0.conda'))?.attestationsSha256, A);
    const after = lb.requests.length;
    // Not wanted: read from the record list, the same answers as from the document.
    const [old, plain, absent] = await Promise.all([
      store.lookup(ch, 'linux-64', 'old-1.0-0.tar.bz2'),
      store.lookup(ch, 'linux-64', 'plain-1.0-0.conda'),
      store.lookup(ch, 'linux-64', 'absent-1.0-0.conda'),
    ]);
    assert.deepEqual(old, { sha256: S, md5: 'b'.repeat(32), size: 10, attestationsSha256: A });
    assert.deepEqual(plain, {});
    assert.equal(absent, undefined);
    // A .tar.bz2 name is never answered from packages.conda (nor the reverse).
    assert.equal(await store.lookup(ch, 'linux-64', 'old-1.0-0.conda'), undefined);
    await assert.rejects(store.lookup(ch, 'linux-64', 'number-1.0-0.conda'), (e: unknown) => e instanceof RepodataError && e.code === 'REPODATA_INVALID_ATTESTATIONS_SHA256');
    assert.equal(lb.requests.length, after, 'no request for lookups answered from disk');
    assert.equal(store.stats.fetches, 3);
  });
});

test('lookups one at a time (a plugin host): the record list is scanned once, later lookups read their line; a list replaced meanwhile is read again', async () => {
  await withCachedChannel(async ({ http, dir, ch }) => {
    const store = createRepodataStore({ http, cacheDir: dir });
    assert.equal((await store.lookup(ch, 'linux-64', 'good-1.0-0.conda'))?.attestationsSha256, A);
    const fetches = store.stats.fetches;
    // One lookup after another, as a host downloads package after package.
    assert.deepEqual(await store.lookup(ch, 'linux-64', 'old-1.0-0.tar.bz2'), { sha256: S, md5: 'b'.repeat(32), size: 10, attestationsSha256: A });
    assert.equal(await store.lookup(ch, 'linux-64', 'absent-1.0-0.conda'), undefined);
    assert.equal(await store.lookup(ch, 'linux-64', 'old-1.0-0.conda'), undefined, 'a .tar.bz2 record never answers a .conda name');
    await assert.rejects(store.lookup(ch, 'linux-64', 'number-1.0-0.conda'), (e: unknown) => e instanceof RepodataError && e.code === 'REPODATA_INVALID_ATTESTATIONS_SHA256');
    assert.equal(store.stats.recordListScans, 1, 'one pass over the record list for all later lookups');
    assert.equal(store.stats.fetches, fetches, 'no request either');

    // An attacker (or another run) rewrites the list after it was indexed: a line that is no
    // longer where the index says is never taken; the document is read again instead.
    const name = (await readdir(join(dir, 'repodata'))).find((f) => f.endsWith('.records'))!;
    const p = join(dir, 'repodata', name);
    const text = await readFile(p, 'utf8');
    await writeFile(p, text.replace(/"plain-1\.0-0\.conda"\t\{[^\n]*/, `"plain-1.0-0.conda"\t{"att":"${'e'.repeat(64)}"}`).replace(/^\{/, '{ '));
    assert.deepEqual(await store.lookup(ch, 'linux-64', 'plain-1.0-0.conda'), {}, 'the planted record is not used');
    assert.equal(store.stats.fetches, fetches + 1, 'the document was downloaded again');
  });
});

test('a damaged record list is never used: after a 304 the document is fetched again, and a later lookup re-downloads it', async () => {
  await withCachedChannel(async ({ lb, http, dir, ch }) => {
    const json = () => lb.requests.filter((r) => r.path === '/cf/linux-64/repodata.json');
    const damage = async (): Promise<void> => {
      const records = (await readdir(join(dir, 'repodata'))).filter((f) => f.endsWith('.records'));
      assert.equal(records.length, 1);
      const p = join(dir, 'repodata', records[0]!);
      const text = await readFile(p, 'utf8');
      // Cut the last line (a crash or a full disk mid-write) and plant a record.
      await writeFile(p, text.slice(0, text.lastIndexOf('#end')).replace(/"good-1\.0-0\.conda"\t\{[^\n]*/, `"good-1.0-0.conda"\t{"att":"${'e'.repeat(64)}"}`));
    };
    const run1 = createRepodataStore({ http, cacheDir: dir });
    assert.equal((await run1.lookup(ch, 'linux-64', 'good-1.0-0.conda'))?.attestationsSha256, A);
    await damage();
    // Still run 1: a miss reads the list, finds it damaged, downloads the document again.
    assert.equal((await run1.lookup(ch, 'linux-64', 'old-1.0-0.tar.bz2'))?.size, 10);
    assert.equal(json().length, 2);
    assert.equal(json()[1]!.headers['if-none-match'], undefined);
    await damage();
    const run2 = createRepodataStore({ http, cacheDir: dir });
    assert.equal((await run2.lookup(ch, 'linux-64', 'good-1.0-0.conda'))?.attestationsSha256, A, 'the planted record is not used');
    assert.deepEqual(json().slice(2).map((r) => r.headers['if-none-match']), ['"r1"', undefined], '304, then fetched again without validators');
  });
});
