import { test } from 'node:test';
import { parseSidecar } from '../../src/sidecar/parse.ts';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SidecarError } from '../../src/errors.ts';
import { createHttpClient } from '../../src/http/client.ts';
import { createRepodataStore } from '../../src/channel/repodata.ts';
import { fetchSidecar, sidecarUrl, type SidecarResult } from '../../src/sidecar/fetch.ts';
import { loadGivenSidecar } from '../../src/sidecar/given.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import type { DiscoveryMethod, PackageRecord } from '../../src/types.ts';
import { type Loopback, send, startLoopback } from '../helpers/loopback.ts';

const FILE = 'pkg-1.0-h0_0.conda';
const BUNDLE = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: {}, dsseEnvelope: {} };
const SIDECAR = Buffer.from(JSON.stringify([BUNDLE]));
const SIDECAR_SHA = createHash('sha256').update(SIDECAR).digest('hex');
const ALL: DiscoveryMethod[] = ['repodata', 'sigs', 'v0-sigs'];

function repodata(att: unknown): string {
  const rec: Record<string, unknown> = { name: 'pkg' };
  if (att !== undefined) rec.attestations_sha256 = att;
  return JSON.stringify({ packages: {}, 'packages.conda': { [FILE]: rec } });
}

/** A channel at /cf on a loopback server, and a fresh pipeline (client + store) per test. */
async function setup(att: unknown, routes: Record<string, (lb: Loopback) => void> = {}) {
  const lb = await startLoopback();
  lb.route('/cf/linux-64/repodata.json', send(repodata(att)));
  for (const r of Object.values(routes)) r(lb);
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 3000, retries: 1, userAgent: 't', retryDelayMs: 5 });
  const deps = { http, repodata: createRepodataStore({ http }), maxBytes: 4096 };
  const record: PackageRecord = recordFromUrl(`${lb.url}/cf/linux-64/${FILE}`);
  const sidecarRequests = (): string[] => lb.requests.map((r) => r.path).filter((p) => p.includes('.sigs'));
  return {
    lb,
    deps,
    record,
    sidecarRequests,
    run: (methods = ALL, rec = record) => fetchSidecar(rec, methods, deps),
    done: async () => {
      http.close();
      await lb.close();
    },
  };
}

function failedWith(r: SidecarResult, code: string): void {
  assert.equal(r.state, 'failed', JSON.stringify(r));
  if (r.state !== 'failed') return;
  assert.equal(r.reasons[0].code, code);
}

test('repodata advertises → <file>.sigs.<sha256> fetched, hash-checked, parsed', async () => {
  const t = await setup(SIDECAR_SHA);
  t.lb.route(`/cf/linux-64/${FILE}.sigs.${SIDECAR_SHA}`, send(SIDECAR, 200, { 'content-type': 'text/html' }));
  try {
    const r = await t.run();
    assert.equal(r.state, 'found');
    if (r.state !== 'found') return;
    assert.equal(r.method, 'repodata');
    assert.equal(r.sha256, SIDECAR_SHA);
    assert.equal(r.url, `${t.lb.url}/cf/linux-64/${FILE}.sigs.${SIDECAR_SHA}`);
    assert.deepEqual(r.bundles, [BUNDLE]);
  } finally {
    await t.done();
  }
});

test('host-supplied attestationsSha256 is used without fetching repodata; an invalid one is rejected before any request', async () => {
  const t = await setup(undefined);
  t.lb.route(`/cf/linux-64/${FILE}.sigs.${SIDECAR_SHA}`, send(SIDECAR));
  try {
    const r = await t.run(ALL, { ...t.record, attestationsSha256: SIDECAR_SHA });
    assert.equal(r.state, 'found');
    assert.equal(t.lb.requests.some((q) => q.path.endsWith('repodata.json')), false);
    const n = t.lb.requests.length;
    failedWith(await t.run(ALL, { ...t.record, attestationsSha256: '../../x'.padEnd(64, 'a') }), 'REPODATA_INVALID_ATTESTATIONS_SHA256');
    assert.equal(t.lb.requests.length, n, 'no request for an invalid host-supplied hash');
  } finally {
    await t.done();
  }
});

for (const [label, att] of [
  ['uppercase', SIDECAR_SHA.toUpperCase()],
  ['63 chars', SIDECAR_SHA.slice(1)],
  ['a number', 42],
  ['path characters', `../../../${SIDECAR_SHA.slice(9)}`],
  ['an URL', `https://evil.example/${SIDECAR_SHA.slice(21)}`],
] as const) {
  test(`invalid attestations_sha256 in repodata (${label}) → failed, no sidecar request at all`, async () => {
    const t = await setup(att);
    try {
      failedWith(await t.run(), 'REPODATA_INVALID_ATTESTATIONS_SHA256');
      assert.deepEqual(t.sidecarRequests(), []);
    } finally {
      await t.done();
    }
  });
}

test('advertised sidecar 404 → failed (SIDECAR_NOT_FOUND), never none, and no fallback to probes', async () => {
  const t = await setup(SIDECAR_SHA);
  // A mirror that strips the advertised sidecar but serves an attacker's `.sigs`.
  t.lb.route(`/cf/linux-64/${FILE}.sigs`, send('[]'));
  try {
    failedWith(await t.run(), 'SIDECAR_NOT_FOUND');
    assert.deepEqual(t.sidecarRequests(), [`/cf/linux-64/${FILE}.sigs.${SIDECAR_SHA}`]);
  } finally {
    await t.done();
  }
});

test('attacker serves different bytes at the advertised URL → SIDECAR_HASH_MISMATCH (before parsing)', async () => {
  const t = await setup(SIDECAR_SHA);
  const forged = Buffer.from(JSON.stringify([{ ...BUNDLE, forged: true }]));
  t.lb.route(`/cf/linux-64/${FILE}.sigs.${SIDECAR_SHA}`, send(forged));
  try {
    failedWith(await t.run(), 'SIDECAR_HASH_MISMATCH');
    // Not JSON at all, wrong hash: the hash is what is reported (checked first).
    t.lb.route(`/cf/linux-64/${FILE}.sigs.${SIDECAR_SHA}`, send('<html>not json'));
    const t2 = await t.run(ALL, { ...t.record, attestationsSha256: SIDECAR_SHA });
    failedWith(t2, 'SIDECAR_HASH_MISMATCH');
  } finally {
    await t.done();
  }
});

test('advertised sidecar oversized, 5xx, malformed or empty → failed', async () => {
  const cases: [string, Buffer | string, number, string][] = [
    ['big', Buffer.alloc(5000, 0x20), 200, 'SIDECAR_TOO_LARGE'],
    ['5xx', 'down', 503, 'SIDECAR_UNAVAILABLE'],
    ['notjson', 'nope', 200, 'SIDECAR_MALFORMED'],
    ['object', JSON.stringify(BUNDLE), 200, 'SIDECAR_MALFORMED'],
    ['empty', '[]', 200, 'SIDECAR_EMPTY'],
    ['number', '[1]', 200, 'SIDECAR_MALFORMED'],
    ['nested', '[[]]', 200, 'SIDECAR_MALFORMED'],
  ];
  for (const [label, body, status, code] of cases) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const sha = createHash('sha256').update(bytes).digest('hex');
    const t = await setup(sha);
    t.lb.route(`/cf/linux-64/${FILE}.sigs.${sha}`, send(bytes, status));
    try {
      const r = await t.run();
      failedWith(r, code);
      assert.match((r as { reasons: { message: string }[] }).reasons[0].message, new RegExp(`${FILE}\\.sigs\\.${sha}`), label);
      assert.equal(t.sidecarRequests().filter((p) => !p.includes(sha)).length, 0, `${label}: no probe after an advertised failure`);
    } finally {
      await t.done();
    }
  }
});

test('no field in repodata → probes .sigs, then .v0.sigs', async () => {
  const t = await setup(undefined);
  t.lb.route(`/cf/linux-64/${FILE}.v0.sigs`, send(SIDECAR));
  try {
    const r = await t.run();
    assert.equal(r.state, 'found');
    assert.equal((r as { method: string }).method, 'v0-sigs');
    assert.deepEqual(t.sidecarRequests(), [`/cf/linux-64/${FILE}.sigs`, `/cf/linux-64/${FILE}.v0.sigs`]);
  } finally {
    await t.done();
  }
});

test('probe 404 or [] → none, listing what was tried', async () => {
  const t = await setup(undefined);
  t.lb.route(`/cf/linux-64/${FILE}.sigs`, send('[]'));
  try {
    const r = await t.run();
    assert.equal(r.state, 'none');
    assert.equal((r as { tried: string[] }).tried.length, 3);
  } finally {
    await t.done();
  }
});

test('probe 5xx, oversized or malformed → failed, not none', async () => {
  for (const [body, status, code] of [
    ['down', 500, 'SIDECAR_UNAVAILABLE'],
    ['x'.repeat(5000), 200, 'SIDECAR_TOO_LARGE'],
    ['{"a":', 200, 'SIDECAR_MALFORMED'],
  ] as const) {
    const t = await setup(undefined);
    t.lb.route(`/cf/linux-64/${FILE}.sigs`, send(body, status));
    try {
      const r = await t.run(['sigs', 'v0-sigs']);
      failedWith(r, code);
      assert.equal((r as { method: string }).method, 'sigs');
    } finally {
      await t.done();
    }
  }
});

test('repodata 404 → go on with probes; repodata 5xx → failed', async () => {
  const t = await setup(undefined);
  t.lb.route('/cf/linux-64/repodata.json', send('gone', 404));
  t.lb.route(`/cf/linux-64/${FILE}.sigs`, send(SIDECAR));
  try {
    const r = await t.run();
    assert.equal(r.state, 'found');
    assert.equal((r as { method: string }).method, 'sigs');
  } finally {
    await t.done();
  }
  const u = await setup(undefined);
  u.lb.route('/cf/linux-64/repodata.json', send('down', 502));
  try {
    failedWith(await u.run(), 'REPODATA_UNAVAILABLE');
    assert.deepEqual(u.sidecarRequests(), []);
  } finally {
    await u.done();
  }
});

test('a record on a mirror: repodata and sidecar are fetched from the mirror', async () => {
  const t = await setup(SIDECAR_SHA);
  t.lb.route('/mirror/linux-64/repodata.json', send(repodata(SIDECAR_SHA)));
  t.lb.route(`/mirror/linux-64/${FILE}.sigs.${SIDECAR_SHA}`, send(SIDECAR));
  try {
    const rec = recordFromUrl(`${t.lb.url}/mirror/linux-64/${FILE}`);
    const r = await t.run(ALL, rec);
    assert.equal(r.state, 'found');
    assert.ok(t.lb.requests.every((q) => q.path.startsWith('/mirror/')));
  } finally {
    await t.done();
  }
});

test('sidecarUrl keeps + literal and encodes other characters', () => {
  const rec = recordFromUrl('https://h/c/linux-64/torch-2.1-cu118%2Bx_0.conda');
  assert.equal(sidecarUrl(rec, 'sigs'), 'https://h/c/linux-64/torch-2.1-cu118+x_0.conda.sigs');
  assert.equal(sidecarUrl(rec, 'v0-sigs'), 'https://h/c/linux-64/torch-2.1-cu118+x_0.conda.v0.sigs');
  assert.equal(sidecarUrl(rec, 'repodata', SIDECAR_SHA), `https://h/c/linux-64/torch-2.1-cu118+x_0.conda.sigs.${SIDECAR_SHA}`);
});

test('loadGivenSidecar: array or single bundle from a file or URL; cap and bad input rejected', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ca-sigs-'));
  const lb = await startLoopback(send(SIDECAR));
  const http = createHttpClient({ connectTimeoutMs: 2000, totalTimeoutMs: 3000, retries: 0, userAgent: 't' });
  try {
    await writeFile(join(dir, 'a.sigs'), SIDECAR);
    await writeFile(join(dir, 'one.sigstore.json'), JSON.stringify(BUNDLE));
    await writeFile(join(dir, 'big.sigs'), Buffer.alloc(5000, 0x20));
    await writeFile(join(dir, 'bad.sigs'), '"string"');
    const a = await loadGivenSidecar(join(dir, 'a.sigs'), { maxBytes: 4096 });
    assert.deepEqual([a.state, a.method, a.sha256, a.bundles.length], ['found', 'given', SIDECAR_SHA, 1]);
    assert.deepEqual((await loadGivenSidecar(join(dir, 'one.sigstore.json'), { maxBytes: 4096 })).bundles, [BUNDLE]);
    assert.equal((await loadGivenSidecar(`${lb.url}/x.sigs`, { maxBytes: 4096, http })).sha256, SIDECAR_SHA);
    const code = (c: string) => (e: unknown) => e instanceof SidecarError && e.code === c;
    await assert.rejects(loadGivenSidecar(join(dir, 'big.sigs'), { maxBytes: 4096 }), code('SIDECAR_TOO_LARGE'));
    await assert.rejects(loadGivenSidecar(join(dir, 'bad.sigs'), { maxBytes: 4096 }), code('SIDECAR_MALFORMED'));
    await assert.rejects(loadGivenSidecar(join(dir, 'absent.sigs'), { maxBytes: 4096 }), code('SIDECAR_UNAVAILABLE'));
    await assert.rejects(loadGivenSidecar(`${lb.url}/x.sigs`, { maxBytes: 10, http }), code('SIDECAR_TOO_LARGE'));
  } finally {
    http.close();
    await lb.close();
    await rm(dir, { recursive: true, force: true });
  }
});

const INTEROP = join(import.meta.dirname, '..', '..', '..', 'shared', 'interop');
test('the real prefix.dev sidecar in ../shared/interop loads as given and through the .sigs probe', { skip: existsSync(INTEROP) ? false : 'needs ../shared (absent in a fresh clone)' }, async () => {
  const bytes = await readFile(join(INTEROP, 'signed-package-2.1.0-hb0f4dca_0.conda.sigs'));
  const given = await loadGivenSidecar(join(INTEROP, 'signed-package-2.1.0-hb0f4dca_0.conda.sigs'), { maxBytes: 10 * 1024 * 1024 });
  assert.ok(given.bundles.length >= 1);
  assert.equal(given.sha256, createHash('sha256').update(bytes).digest('hex'));
  const lb = await startLoopback();
  lb.route('/cf/noarch/signed-package-2.1.0-hb0f4dca_0.conda.sigs', send(bytes, 200, { 'content-type': 'application/octet-stream' }));
  const http = createHttpClient({ connectTimeoutMs: 1000, totalTimeoutMs: 3000, retries: 0, userAgent: 't' });
  try {
    const rec = recordFromUrl(`${lb.url}/cf/noarch/signed-package-2.1.0-hb0f4dca_0.conda`);
    const r = await fetchSidecar(rec, ['sigs'], { http, repodata: createRepodataStore({ http }), maxBytes: 1 << 20 });
    assert.equal(r.state, 'found');
    assert.deepEqual((r as { bundles: unknown[] }).bundles, given.bundles);
  } finally {
    http.close();
    await lb.close();
  }
});

test('probe: 403 and 410 (object stores answering a missing key) mean "nothing here"; advertised 403 is a failure', async () => {
  for (const status of [403, 410]) {
    const s = await setup(undefined, {
      sigs: (lb) => lb.route(`/cf/linux-64/${FILE}.sigs`, send('denied', status)),
      v0: (lb) => lb.route(`/cf/linux-64/${FILE}.v0.sigs`, send('denied', status)),
    });
    try {
      const r = await s.run();
      assert.equal(r.state, 'none', `probe ${status} is no attestation`);
    } finally {
      await s.done();
    }
  }
  const hash = 'c'.repeat(64);
  const s = await setup(hash, { adv: (lb) => lb.route(`/cf/linux-64/${FILE}.sigs.${hash}`, send('denied', 403)) });
  try {
    const r = await s.run();
    assert.equal(r.state, 'failed', 'an advertised sidecar answering 403 is a retrieval failure');
  } finally {
    await s.done();
  }
});

test('parseSidecar keeps the bytes of a sidecar array (what a verification worker is sent), not of one bundle given alone', () => {
  const array = Buffer.from('[{"mediaType":"x"}]');
  assert.equal(parseSidecar(array, 'a.sigs').bytes, array);
  const single = Buffer.from('{"mediaType":"x"}');
  const parsed = parseSidecar(single, 'b.json', { allowSingleBundle: true });
  assert.deepEqual(parsed.bundles, [{ mediaType: 'x' }]);
  assert.equal(parsed.bytes, undefined, 'these bytes are not the array of bundles: a worker gets the parsed bundles');
});
