import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { encode } from '@msgpack/msgpack';
import { RepodataError } from '../../src/errors.ts';
import { parseShard, parseShardIndex } from '../../src/channel/shards.ts';
import { entryFromRaw, shardUrl } from '../../src/channel/repodata.ts';
import { decompressZstd } from '../../src/channel/zstd.ts';

const IDX = 'http://127.0.0.1:1/ch/linux-64/repodata_shards.msgpack.zst';
const H = Buffer.alloc(32, 0xab);
const A = 'a'.repeat(64);
const S = '1'.repeat(64);

const isCode = (code: string) => (e: unknown) => e instanceof RepodataError && e.code === code;

test('parseShardIndex: hashes become hex; shards_base_url resolves against the index URL', () => {
  const ok = (info: Record<string, unknown>) => {
    const r = parseShardIndex(encode({ version: 1, info, shards: { numpy: H, python: Buffer.alloc(32, 1) } }), IDX, 'linux-64');
    assert.ok(r.ok);
    return r.index;
  };
  const rel = ok({ subdir: 'linux-64', shards_base_url: './shards/', base_url: './' });
  assert.equal(rel.shardsBaseUrl, 'http://127.0.0.1:1/ch/linux-64/shards/');
  assert.equal(rel.shards.get('numpy'), 'ab'.repeat(32));
  assert.equal(shardUrl(rel, 'ab'.repeat(32)), `http://127.0.0.1:1/ch/linux-64/shards/${'ab'.repeat(32)}.msgpack.zst`);
  assert.equal(ok({ shards_base_url: 'https://cdn.example/s' }).shardsBaseUrl, 'https://cdn.example/s/', 'a trailing slash is added');
  assert.equal(ok({ shards_base_url: '../../other/' }).shardsBaseUrl, 'http://127.0.0.1:1/other/');
  assert.equal(ok({}).shardsBaseUrl, 'http://127.0.0.1:1/ch/linux-64/', 'no shards_base_url: next to the index (older conda-index)');
  const noVersion = parseShardIndex(encode({ info: {}, shards: {} }), IDX, 'linux-64');
  assert.ok(noVersion.ok, 'version is optional (rattler does not write it)');
});

test('parseShardIndex: an unknown version is reported as unsupported (the store falls back), not parsed', () => {
  const r = parseShardIndex(encode({ version: 2, info: {}, shards: { x: 'not even bytes' } }), IDX, 'linux-64');
  assert.deepEqual(r, { ok: false, unsupportedVersion: 2 });
});

test('parseShardIndex: attack — malformed indexes are REPODATA_MALFORMED', () => {
  const bad: [string, Uint8Array][] = [
    ['not msgpack', Buffer.from([0xc1])],
    ['trailing bytes', Buffer.concat([Buffer.from(encode({ info: {}, shards: {} })), Buffer.from([0])])],
    ['not a map', encode([1, 2])],
    ['shards missing', encode({ info: {} })],
    ['shards an array', encode({ info: {}, shards: [H] })],
    ['hash 31 bytes', encode({ info: {}, shards: { x: Buffer.alloc(31) } })],
    ['hash as hex text', encode({ info: {}, shards: { x: 'ab'.repeat(32) } })],
    ['info not a map', encode({ info: 'x', shards: {} })],
    ['index of another subdir', encode({ info: { subdir: 'osx-64' }, shards: { x: H } })],
    ['file: shards base', encode({ info: { shards_base_url: 'file:///etc/' }, shards: {} })],
    ['javascript: shards base', encode({ info: { shards_base_url: 'javascript:alert(1)' }, shards: {} })],
    ['shards base not a string', encode({ info: { shards_base_url: 7 }, shards: {} })],
    // __proto__ key: refused by the decoder, so no prototype pollution through a shard index.
    ['__proto__ key', Buffer.from([0x82, 0xa6, ...Buffer.from('shards'), 0x80, 0xa9, ...Buffer.from('__proto__'), 0x80])],
  ];
  for (const [why, bytes] of bad) assert.throws(() => parseShardIndex(bytes, IDX, 'linux-64'), isCode('REPODATA_MALFORMED'), why);
});

test('parseShard: digests from bytes, attestations_sha256 from 32 bytes or hex; bad values rejected per package on lookup', () => {
  const shard = encode({
    packages: { 'a-1-0.tar.bz2': { name: 'a', sha256: Buffer.from(S, 'hex'), md5: Buffer.alloc(16, 0xcd), size: 5, attestations_sha256: Buffer.from(A, 'hex') } },
    'packages.conda': {
      'a-2-0.conda': { name: 'a', sha256: S.toUpperCase(), attestations_sha256: A, depends: ['x'], timestamp: 1 },
      'a-3-0.conda': { name: 'a', sha256: Buffer.alloc(31), attestations_sha256: Buffer.alloc(31) },
      'a-4-0.conda': { name: 'a', attestations_sha256: A.toUpperCase() },
      'a-5-0.conda': { name: 'a', attestations_sha256: Buffer.alloc(64, 0x61) },
      'a-6-0.conda': { name: 'a', attestations_sha256: null },
      'a-7-0.conda': { name: 'a' },
    },
    removed: ['a-0-0.conda'],
    unknown_future_key: { anything: true },
  });
  const idx = parseShard(shard, 'u');
  assert.deepEqual(entryFromRaw(idx.tarBz2.get('a-1-0.tar.bz2')!, 'a-1-0.tar.bz2', 'u'), { sha256: S, md5: 'cd'.repeat(16), size: 5, attestationsSha256: A });
  assert.deepEqual(entryFromRaw(idx.conda.get('a-2-0.conda')!, 'a-2-0.conda', 'u'), { sha256: S, attestationsSha256: A });
  assert.deepEqual(entryFromRaw(idx.conda.get('a-7-0.conda')!, 'a-7-0.conda', 'u'), {});
  for (const f of ['a-3-0.conda', 'a-4-0.conda', 'a-5-0.conda', 'a-6-0.conda']) {
    assert.throws(() => entryFromRaw(idx.conda.get(f)!, f, 'u'), isCode('REPODATA_INVALID_ATTESTATIONS_SHA256'), f);
  }
  assert.throws(() => entryFromRaw(idx.conda.get('a-3-0.conda')!, 'a-3-0.conda', 'u'), /<31 bytes>/);
  assert.equal(idx.conda.get('a-3-0.conda')!.sha256, undefined, 'a 31-byte sha256 is dropped, not kept');
});

test('parseShard: attack — malformed shards are REPODATA_MALFORMED', () => {
  const bad: [string, Uint8Array][] = [
    ['not a map', encode('x')],
    ['packages an array', encode({ packages: [] })],
    ['record not a map', encode({ 'packages.conda': { 'a-1-0.conda': 'x' } })],
    ['record is bytes', encode({ 'packages.conda': { 'a-1-0.conda': Buffer.alloc(3) } })],
    ['truncated', encode({ packages: { 'a-1-0.tar.bz2': { name: 'a' } } }).subarray(0, 10)],
  ];
  for (const [why, bytes] of bad) assert.throws(() => parseShard(bytes, 'u'), isCode('REPODATA_MALFORMED'), why);
});

test('decompressZstd: attack — a zstd bomb stops at the cap; garbage is MALFORMED', async () => {
  const bomb = zlib.zstdCompressSync(Buffer.alloc(64 << 20));
  assert.ok(bomb.length < 10_000, `the bomb is small (${bomb.length} bytes)`);
  const rss0 = process.memoryUsage().rss;
  await assert.rejects(decompressZstd(bomb, 1 << 20, 'bomb'), (e: unknown) => {
    assert.ok(isCode('REPODATA_UNAVAILABLE')(e));
    assert.deepEqual((e as RepodataError).details, { tooLarge: true, maxBytes: 1 << 20 });
    return true;
  });
  // Memory is measured by `npm run bench:memory` (the zst bomb case), not asserted here.
  console.log(`# zstd bomb: RSS grew ${((process.memoryUsage().rss - rss0) / 1048576).toFixed(1)} MiB while refusing 64 MiB of output`);
  await assert.rejects(decompressZstd(Buffer.from('not zstd at all'), 1 << 20, 'g'), isCode('REPODATA_MALFORMED'));
  assert.equal((await decompressZstd(zlib.zstdCompressSync(Buffer.from('hi')), 2, 'ok')).toString(), 'hi', 'exactly at the cap is fine');
});
