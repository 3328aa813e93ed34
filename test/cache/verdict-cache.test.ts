import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { openVerdictCache, policyDigest, verdictCacheDir, verdictKey, type VerdictKeyParts } from '../../src/cache/verdict-cache.ts';
import type { BundleOutcome, ChannelPolicy } from '../../src/types.ts';
import { FORMAT } from '../../src/cache/verdict-key.ts';

const H = (c: string) => c.repeat(64);
const PARTS: VerdictKeyParts = {
  sidecarSha256: H('a'),
  packageSha256: H('b'),
  filename: 'foo-1.0-h0_0.conda',
  channel: 'https://prefix.dev/conda-forge',
  acceptedChannels: ['https://prefix.dev/conda-forge', 'https://mirror.example/conda-forge'],
  trustRootDigest: H('c'),
  policyDigest: H('d'),
  productVersion: '0.1.0',
};
const OUTCOMES: BundleOutcome[] = [
  {
    index: 0,
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    predicateType: 'https://schemas.conda.org/attestations-publish-1.schema.json',
    publish: true,
    verified: true,
    identity: { kind: 'github', san: 'https://github.com/o/r/.github/workflows/b.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' },
    tlog: true,
    reasons: [],
  },
  { index: 1, publish: false, verified: false, reasons: [{ code: 'SIGSTORE_VERIFICATION_FAILED', message: 'bad' }] },
];

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-verdicts-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The MAC key the tests' caches use (in a run: loadVerdictKey, outside the cache directory). */
const KEY = Buffer.alloc(32, 7);
const mac = (body: string, key = KEY) => createHmac('sha256', key).update(body).digest('hex');

/** A bucket file's header and entries (format 3 and later: header line, then the entries line). */
function readBucketFile(file: string): { header: { format: number; mac: string }; body: string; entries: Record<string, { o: unknown; t: number }> } {
  const text = readFileSync(file, 'utf8');
  const nl = text.indexOf('\n');
  const body = text.slice(nl + 1);
  return { header: JSON.parse(text.slice(0, nl)), body, entries: JSON.parse(body) };
}

/** Write a bucket file whose header's MAC matches its entries under `key` (the cache's own key: a writer that knows it). */
function writeBucketFile(file: string, entries: unknown, format = 3, key = KEY): void {
  const body = JSON.stringify(entries);
  writeFileSync(file, `${JSON.stringify({ format, mac: mac(body, key) })}\n${body}`);
}

function bucketFiles(dir: string): string[] {
  return readdirSync(verdictCacheDir(dir)).filter((f) => f.endsWith('.json')).map((f) => join(verdictCacheDir(dir), f));
}

test('verdictKey: every part changes the key; order and duplicates of accepted channels, hex case do not', () => {
  const base = verdictKey(PARTS);
  assert.match(base, /^[0-9a-f]{64}$/);
  const variants: Partial<VerdictKeyParts>[] = [
    { sidecarSha256: H('e') },
    { packageSha256: H('e') },
    { filename: 'foo-1.0-h0_1.conda' },
    { channel: 'https://prefix.dev/other' },
    { acceptedChannels: ['https://prefix.dev/conda-forge'] },
    { trustRootDigest: H('e') },
    { policyDigest: H('e') },
    { productVersion: '0.2.0' },
  ];
  const keys = new Set([base]);
  for (const v of variants) keys.add(verdictKey({ ...PARTS, ...v }));
  assert.equal(keys.size, variants.length + 1, 'each changed part must give a distinct key');
  assert.equal(verdictKey({ ...PARTS, acceptedChannels: [...PARTS.acceptedChannels].reverse().concat(PARTS.acceptedChannels[0]!) }), base);
  assert.equal(verdictKey({ ...PARTS, sidecarSha256: H('A') }), verdictKey({ ...PARTS, sidecarSha256: H('a') }));
  // No ambiguity from concatenation: moving a character between adjacent parts changes the key.
  assert.notEqual(verdictKey({ ...PARTS, filename: 'ab', channel: 'c' }), verdictKey({ ...PARTS, filename: 'a', channel: 'bc' }));
});

test('set, flush, reopen: hits give the same outcomes; a changed key part misses', async (t) => {
  const dir = tmp(t);
  const c1 = openVerdictCache(dir, { key: KEY });
  assert.equal(c1.get(verdictKey(PARTS)), undefined);
  c1.set(verdictKey(PARTS), OUTCOMES);
  await c1.flush();
  const c2 = openVerdictCache(dir, { key: KEY });
  assert.deepEqual(c2.get(verdictKey(PARTS)), OUTCOMES);
  for (const change of [{ sidecarSha256: H('f') }, { trustRootDigest: H('f') }, { policyDigest: H('f') }, { productVersion: '9' }]) {
    assert.equal(c2.get(verdictKey({ ...PARTS, ...change })), undefined, JSON.stringify(change));
  }
  assert.deepEqual(c2.warnings, []);
});

test('entries with non-ASCII text survive a flush and a reopen; a changed byte inside a multi-byte character fails the MAC', async (t) => {
  const dir = tmp(t);
  const key = verdictKey(PARTS);
  const outcomes: BundleOutcome[] = [{ ...OUTCOMES[0]!, identity: { kind: 'email', san: 'zoë@exämple.org \u{1F512}', issuer: 'https://issuer.example/ü' } }];
  const c1 = openVerdictCache(dir, { key: KEY });
  c1.set(key, outcomes);
  await c1.flush();
  const c2 = openVerdictCache(dir, { key: KEY });
  assert.deepEqual(c2.get(key), outcomes);
  assert.deepEqual(c2.warnings, []);
  // One byte of a multi-byte character changed: the MAC no longer matches.
  const [file] = bucketFiles(dir);
  const bytes = readFileSync(file!);
  const at = bytes.indexOf(Buffer.from('ë'));
  bytes[at + 1] ^= 0x01;
  writeFileSync(file!, bytes);
  assert.equal(openVerdictCache(dir, { key: KEY }).get(key), undefined);
});

test('dirty: a run that only reads has nothing to flush; a set or a refreshed entry has', async (t) => {
  const dir = tmp(t);
  const key = verdictKey(PARTS);
  const c1 = openVerdictCache(dir, { key: KEY });
  assert.equal(c1.dirty, false);
  c1.set(key, OUTCOMES);
  assert.equal(c1.dirty, true);
  await c1.flush();
  const reader = openVerdictCache(dir, { key: KEY });
  assert.deepEqual(reader.get(key), OUTCOMES);
  assert.equal(reader.get(verdictKey({ ...PARTS, filename: 'other-1.0-h0_0.conda' })), undefined);
  assert.equal(reader.dirty, false, 'hits and misses alone write nothing');
  // An entry last used over a day ago is refreshed (eviction order): that is a write.
  const later = openVerdictCache(dir, { key: KEY, now: () => Date.now() + 2 * 86_400_000 });
  assert.deepEqual(later.get(key), OUTCOMES);
  assert.equal(later.dirty, true);
});

test('adversarial: an entry edited to flip verified=false into true is ignored and rewritten', async (t) => {
  const dir = tmp(t);
  const key = verdictKey(PARTS);
  const c1 = openVerdictCache(dir, { key: KEY });
  c1.set(key, [OUTCOMES[1]!]);
  await c1.flush();
  const [file] = bucketFiles(dir);
  const { header, body } = readBucketFile(file!);
  // The entry flipped in place, the header left as it was: the bucket no longer matches its SHA-256.
  const edited = body.replace('"verified":false', '"verified":true').replace(/"reasons":\[.*?\]\}\]/, '"reasons":[]}]');
  assert.match(edited, /"verified":true/);
  assert.doesNotMatch(edited, /SIGSTORE_VERIFICATION_FAILED/);
  writeFileSync(file!, `${JSON.stringify(header)}\n${edited}`);

  const c2 = openVerdictCache(dir, { key: KEY });
  assert.equal(c2.get(key), undefined, 'a tampered entry must never be returned');
  // The caller verifies again and sets the fresh verdict: the file is rewritten with it.
  c2.set(key, [OUTCOMES[1]!]);
  await c2.flush();
  assert.deepEqual(openVerdictCache(dir, { key: KEY }).get(key), [OUTCOMES[1]!]);
});

test('adversarial: an entry whose checksum matches but whose content is not outcomes is ignored', async (t) => {
  const dir = tmp(t);
  const key = verdictKey(PARTS);
  const c1 = openVerdictCache(dir, { key: KEY });
  c1.set(key, OUTCOMES);
  await c1.flush();
  const [file] = bucketFiles(dir);
  const { entries } = readBucketFile(file!);
  for (const bad of [{ verified: true }, [{ verified: true }], 'verified', null]) {
    writeBucketFile(file!, { ...entries, [key]: { o: bad, t: Date.now() } });
    assert.equal(openVerdictCache(dir, { key: KEY }).get(key), undefined, JSON.stringify(bad));
  }
});

test('a corrupt or truncated bucket file is ignored, reported and rewritten at flush', async (t) => {
  for (const damage of ['garbage', 'truncate', 'wrong-format'] as const) {
    const dir = tmp(t);
    const key = verdictKey(PARTS);
    const c1 = openVerdictCache(dir, { key: KEY });
    c1.set(key, OUTCOMES);
    await c1.flush();
    const [file] = bucketFiles(dir);
    const text = readFileSync(file!, 'utf8');
    if (damage === 'garbage') writeFileSync(file!, '\u0000\u0001not json');
    else if (damage === 'truncate') writeFileSync(file!, text.slice(0, text.length >> 1));
    else writeBucketFile(file!, readBucketFile(file!).entries, 999);

    const c2 = openVerdictCache(dir, { key: KEY });
    assert.equal(c2.get(key), undefined, damage);
    assert.equal(c2.warnings.length, 1, damage);
    assert.equal(c2.dirty, true, `${damage}: a run skips the flush of a cache that is not dirty`);
    await c2.flush(); // nothing set: the bad file is still replaced by a valid one
    const doc = readBucketFile(file!);
    assert.equal(doc.header.format, 4);
    assert.deepEqual(doc.entries, {});
  }
});

test('concurrent flushes from several caches on one directory never corrupt it, and lose no verdict', async (t) => {
  const dir = tmp(t);
  const writers = 8;
  const perWriter = 40;
  const caches = Array.from({ length: writers }, () => openVerdictCache(dir, { key: KEY }));
  const expected = new Map<string, BundleOutcome[]>();
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      caches.map(async (c, w) => {
        for (let i = 0; i < perWriter; i++) {
          const key = verdictKey({ ...PARTS, filename: `w${w}-r${round}-${i}.conda` });
          const outcomes = [{ ...OUTCOMES[0]!, index: i, predicateType: `w${w}` }];
          expected.set(key, outcomes);
          c.set(key, outcomes);
        }
        await Promise.all([c.flush(), c.flush()]);
      }),
    );
  }
  for (const f of bucketFiles(dir)) {
    // Every file parses and matches its SHA-256.
    const { header, body } = readBucketFile(f);
    assert.equal(header.mac, mac(body));
  }
  assert.deepEqual(readdirSync(verdictCacheDir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
  const reader = openVerdictCache(dir, { key: KEY });
  let hits = 0;
  for (const [key, outcomes] of expected) {
    const got = reader.get(key);
    if (got !== undefined) {
      assert.deepEqual(got, outcomes); // present means exactly what was set
      hits++;
    }
  }
  assert.deepEqual(reader.warnings, []);
  // Every run's verdicts are kept: one lost here is a package the next warm run verifies
  // again although its sidecar did not change.
  assert.equal(hits, expected.size);
});

/** Two verdict keys of the same bucket (their first hex digit), so two caches rewrite one file. */
function twoKeysOfOneBucket(): [string, string] {
  const k1 = verdictKey({ ...PARTS, filename: 'one.conda' });
  let k2 = '';
  for (let i = 0; !k2 || k2[0] !== k1[0]; i++) k2 = verdictKey({ ...PARTS, filename: `two-${i}.conda` });
  return [k1, k2];
}

test('two runs flushing one bucket at the same moment both keep their verdicts (the second merges after the first)', async (t) => {
  const dir = tmp(t);
  const [k1, k2] = twoKeysOfOneBucket();
  const a = openVerdictCache(dir, { key: KEY });
  const b = openVerdictCache(dir, { key: KEY });
  a.set(k1, OUTCOMES);
  b.set(k2, [OUTCOMES[1]!]);
  // Both read the bucket before either has written it (the window of every concurrent flush).
  await Promise.all([a.flush(), b.flush()]);
  const r = openVerdictCache(dir, { key: KEY });
  assert.deepEqual(r.get(k1), OUTCOMES);
  assert.deepEqual(r.get(k2), [OUTCOMES[1]!]);
  assert.deepEqual([...a.warnings, ...b.warnings, ...r.warnings], []);
  assert.deepEqual(readdirSync(verdictCacheDir(dir)).filter((f) => !/^[0-9a-f]\.json$/.test(f)), [], 'no lock or temp file left');
});

test('a flush lock left by a dead run is broken: the flush writes, and leaves no lock behind', async (t) => {
  const dir = tmp(t);
  const k1 = verdictKey({ ...PARTS, filename: 'one.conda' });
  const store = verdictCacheDir(dir);
  mkdirSync(store, { recursive: true });
  // A run killed while it held the lock (its pid is not alive on this host).
  writeFileSync(join(store, 'flush.lock'), JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), time: Date.now(), token: 'x' }) + '\n');
  const a = openVerdictCache(dir, { key: KEY });
  a.set(k1, OUTCOMES);
  await a.flush();
  assert.deepEqual(a.warnings, []);
  assert.deepEqual(openVerdictCache(dir, { key: KEY }).get(k1), OUTCOMES);
  assert.equal(existsSync(join(store, 'flush.lock')), false);
});

test('a flush merges with what another run wrote since this one read the bucket', async (t) => {
  const dir = tmp(t);
  // Same bucket for both keys, so both runs rewrite the same file.
  const [k1, k2] = twoKeysOfOneBucket();
  const a = openVerdictCache(dir, { key: KEY });
  const b = openVerdictCache(dir, { key: KEY });
  assert.equal(a.get(k1), undefined); // both load the (empty) bucket now
  assert.equal(b.get(k2), undefined);
  a.set(k1, OUTCOMES);
  await a.flush();
  b.set(k2, [OUTCOMES[1]!]);
  await b.flush();
  const r = openVerdictCache(dir, { key: KEY });
  assert.deepEqual(r.get(k1), OUTCOMES);
  assert.deepEqual(r.get(k2), [OUTCOMES[1]!]);
});

test('buckets are bounded: the least recently used entries are evicted', async (t) => {
  const dir = tmp(t);
  let clock = 1_000_000;
  const c = openVerdictCache(dir, { key: KEY, maxEntriesPerBucket: 3, now: () => clock });
  // Keys that land in one bucket (same first hex char).
  const keys: string[] = [];
  for (let i = 0; keys.length < 5; i++) {
    const k = verdictKey({ ...PARTS, filename: `e${i}.conda` });
    if (k[0] === '0') keys.push(k);
  }
  for (const k of keys) {
    clock += 1000;
    c.set(k, OUTCOMES);
  }
  await c.flush();
  const r = openVerdictCache(dir, { key: KEY });
  assert.deepEqual(keys.map((k) => r.get(k) !== undefined), [false, false, true, true, true]);
});

test('flush never rejects when the cache directory cannot be written', async (t) => {
  const dir = tmp(t);
  const blocked = join(dir, 'file');
  writeFileSync(blocked, 'x'); // a file where the cache directory should be
  const c = openVerdictCache(blocked);
  c.set(verdictKey(PARTS), OUTCOMES);
  await c.flush();
  assert.ok(c.warnings.some((w) => /cannot be created/.test(w)), c.warnings.join('; '));
  assert.deepEqual(c.get(verdictKey(PARTS)), OUTCOMES, 'still served from memory in this run');
});

test('set rejects keys that are not verdictKey output (no path tricks)', (t) => {
  const c = openVerdictCache(tmp(t));
  assert.throws(() => c.set('../../etc/passwd', OUTCOMES), TypeError);
  assert.equal(c.get('../../etc/passwd'), undefined);
});

function policy(over: Partial<ChannelPolicy> = {}): ChannelPolicy {
  return {
    channel: 'https://prefix.dev/conda-forge',
    enabled: true,
    require: 'error',
    trustedIdentities: [
      { identity: 'https://github.com/a/*', issuer: 'https://token.actions.githubusercontent.com' },
      { identity: 'https://github.com/b/*', issuer: 'https://token.actions.githubusercontent.com' },
    ],
    trustedKeys: [{ pem: '-----BEGIN PUBLIC KEY-----\nAAAA\nBBBB\n-----END PUBLIC KEY-----\n', source: 'k.pem', name: 'release' }],
    requireTlog: true,
    mirrors: [],
    discovery: ['repodata', 'sigs'],
    ...over,
  };
}

test('policyDigest: changes with keys, key names and require_tlog; stable across PEM wrapping and identity order', () => {
  const base = policyDigest(policy());
  assert.equal(policyDigest(policy()), base, 'a fresh but equal policy object gives the same digest');
  assert.notEqual(policyDigest(policy({ requireTlog: false })), base);
  assert.notEqual(policyDigest(policy({ trustedKeys: [] })), base);
  assert.notEqual(policyDigest(policy({ trustedKeys: [{ ...policy().trustedKeys[0]!, name: 'other' }] })), base);
  assert.notEqual(policyDigest(policy({ trustedKeys: [{ ...policy().trustedKeys[0]!, pem: '-----BEGIN PUBLIC KEY-----\nAAAA\nBBBC\n-----END PUBLIC KEY-----\n' }] })), base);
  assert.notEqual(policyDigest(policy({ discovery: ['sigs', 'repodata'] })), base);
  assert.equal(policyDigest(policy({ trustedKeys: [{ ...policy().trustedKeys[0]!, pem: '-----BEGIN PUBLIC KEY-----\r\nAAAABBBB\r\n-----END PUBLIC KEY-----' }] })), base);
  assert.equal(policyDigest(policy({ trustedIdentities: [...policy().trustedIdentities].reverse() })), base);
});

test('attack: a forged bucket whose checksum an attacker can compute (plain SHA-256, or a MAC under another key) is never a hit', async (t) => {
  const dir = tmp(t);
  const key = verdictKey(PARTS);
  // A genuine miss first, so the bucket exists with a real entry of the same bucket.
  const c1 = openVerdictCache(dir, { key: KEY });
  c1.set(verdictKey({ ...PARTS, filename: 'other-1.0-0.conda' }).replace(/^./, key[0]!), [OUTCOMES[1]!]);
  await c1.flush();
  const [file] = bucketFiles(dir);
  const forged = { [key]: { o: [OUTCOMES[0]], t: Date.now() } };
  const body = JSON.stringify(forged);
  // Format 2's plain SHA-256 under the new format number, and a MAC under the attacker's own key.
  const { createHash } = await import('node:crypto');
  for (const header of [{ format: 3, sha256: createHash('sha256').update(body).digest('hex') }, { format: 3, mac: mac(body, Buffer.alloc(32, 9)) }, { format: 3, mac: createHash('sha256').update(body).digest('hex') }]) {
    writeFileSync(file!, `${JSON.stringify(header)}\n${body}`);
    const c = openVerdictCache(dir, { key: KEY });
    assert.equal(c.get(key), undefined, JSON.stringify(header));
    assert.ok(c.warnings.some((w) => /is corrupt; it is ignored and rewritten/.test(w)));
  }
  // A cache written on another machine (another key): all misses there too.
  writeBucketFile(file!, forged, 3, Buffer.alloc(32, 1));
  assert.equal(openVerdictCache(dir, { key: KEY }).get(key), undefined);
  // Without a key, a process trusts only its own entries.
  assert.equal(openVerdictCache(dir).get(key), undefined);
});

test('loadVerdictKey: made once outside the cache directory (mode 0600), the same on every later run', async (t) => {
  const state = tmp(t);
  const { loadVerdictKey } = await import('../../src/cache/verdict-cache.ts');
  const { statSync } = await import('node:fs');
  const k1 = loadVerdictKey({ XDG_STATE_HOME: state });
  assert.ok(k1 && k1.length === 32);
  assert.deepEqual(loadVerdictKey({ XDG_STATE_HOME: state }), k1);
  const file = join(state, 'conda-attest', 'verdict-cache.key');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.notDeepEqual(loadVerdictKey({ XDG_STATE_HOME: tmp(t) }), k1, 'another machine, another key');
});

test('property: the verdict copy kept until the flush (jsonCopy) is what a JSON round trip gives, strings shared', async (t) => {
  const { jsonCopy } = await import('../../src/cache/verdict-cache.ts');
  const { checkProperty, fc } = await import('../helpers/fuzz.ts');
  const odd = fc.constantFrom(undefined, Number.NaN, Infinity, -0, new Date(0), () => 1);
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), odd, tie('arr'), tie('obj')),
    arr: fc.array(tie('v'), { maxLength: 4 }),
    obj: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'toJSON', '0', '1')), tie('v'), { maxKeys: 4 }),
  })).v;
  await checkProperty(
    t,
    'jsonCopy = JSON round trip',
    [fc.array(value, { maxLength: 4 })],
    (v) => {
      assert.deepEqual(jsonCopy(v), JSON.parse(JSON.stringify(v)));
      assert.equal(JSON.stringify(jsonCopy(v)), JSON.stringify(v));
    },
    { runs: 300 },
  );
  const outcome = { identity: { san: 'https://github.com/o/r/.github/workflows/b.yml@refs/heads/main' } };
  const copy = jsonCopy([outcome]) as (typeof outcome)[];
  assert.notEqual(copy[0], outcome);
  assert.notEqual(copy[0]!.identity, outcome.identity);
});

test('property: what a set keeps until the flush (asJson) is what a JSON round trip gives; data that is JSON already is kept, not copied', async (t) => {
  const { asJson } = await import('../../src/cache/verdict-cache.ts');
  const { checkProperty, fc } = await import('../helpers/fuzz.ts');
  const odd = fc.constantFrom(undefined, Number.NaN, Infinity, -0, new Date(0), () => 1, { toJSON: () => 'x' });
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), odd, tie('arr'), tie('obj')),
    arr: fc.array(tie('v'), { maxLength: 4 }),
    obj: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('toJSON', '0', '1')), tie('v'), { maxKeys: 4 }),
  })).v;
  await checkProperty(
    t,
    'asJson = JSON round trip',
    [fc.array(value, { maxLength: 4 })],
    (v) => {
      assert.deepEqual(asJson(v), JSON.parse(JSON.stringify(v)));
      assert.equal(JSON.stringify(asJson(v)), JSON.stringify(v));
    },
    { runs: 300 },
  );
  const plain = [{ index: 0, verified: true, reasons: [], identity: { san: 'https://github.com/o/r' } }];
  assert.equal(asJson(plain), plain, 'JSON data already: kept');
  const holey = [{ index: 0, publish: true, verified: true, mediaType: undefined, reasons: [] }];
  assert.notEqual(asJson(holey), holey, 'an undefined value: a copy without it');
  assert.deepEqual(asJson(holey), [{ index: 0, publish: true, verified: true, reasons: [] }]);
  const dir = tmp(t);
  const cache = openVerdictCache(dir, { key: KEY });
  const key = 'a'.repeat(64);
  cache.set(key, holey as never);
  assert.deepEqual(cache.get(key), [{ index: 0, publish: true, verified: true, reasons: [] }], 'a get in the same run returns what the file will hold');
});

test('a bucket file, written piece by piece, is its header line and then exactly JSON.stringify of its entries, under a MAC that holds', async (t) => {
  const dir = tmp(t);
  const cache = openVerdictCache(dir, { key: KEY, now: () => 1_000 });
  // Keys of one bucket, set out of order: the file holds them sorted.
  const keys = ['b', 'a', 'c'].map((c) => `0${c.repeat(63)}`);
  keys.forEach((k, i) => cache.set(k, [{ ...OUTCOMES[0]!, index: i, reasons: [{ code: 'IDENTITY_ADDED', message: `é "quoted" ${i} \u2028` }] }]));
  await cache.flush();
  const [header, body, ...rest] = readFileSync(join(verdictCacheDir(dir), '0.json'), 'utf8').split('\n');
  assert.deepEqual(rest, []);
  const entries = JSON.parse(body!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(entries), [...keys].sort());
  assert.equal(body, JSON.stringify(entries), 'the entries line is the JSON text of its entries, byte for byte');
  assert.deepEqual(JSON.parse(header!), { format: FORMAT, mac: createHmac('sha256', KEY).update(body!).digest('hex') });
  const again = openVerdictCache(dir, { key: KEY });
  for (const k of keys) assert.equal(again.get(k)![0]!.reasons[0]!.message.startsWith('é "quoted"'), true, 'read back under the MAC');
});
