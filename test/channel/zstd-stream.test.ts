// repodata.json.zst is decoded as a stream with insignificant whitespace dropped on the fly
// (a whitespace bomb never occupies memory) and with bounds on single values, so a
// hostile file stops decoding early with a clear code. Peak memory is measured in
// bench/memory.ts, not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zstdCompressSync } from 'node:zlib';
import { RepodataError } from '../../src/errors.ts';
import { decompressRepodataZstd, MAX_REPODATA_STRING } from '../../src/channel/zstd.ts';
import { indexRepodata } from '../../src/channel/repodata-index.ts';

const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof RepodataError && e.code === c && (re ? re.test(e.message) : true);

test('pretty-printed repodata decodes to compact JSON with strings (and their whitespace and escapes) intact', async () => {
  const doc = { info: { subdir: 'linux-64' }, packages: {}, 'packages.conda': { 'a-1-0.conda': { sha256: 'ab'.repeat(32), depends: ['python >=3.10 ,<4', 'x "q" \\ y\n\t'], size: 12 } } };
  const text = JSON.stringify(doc, null, 4).replace(/\n/g, '\r\n');
  const out = await decompressRepodataZstd(zstdCompressSync(Buffer.from(text)), 1 << 20, 'r.json.zst');
  assert.equal(out.toString(), JSON.stringify(doc));
  assert.equal(indexRepodata(out, 'r').conda.get('a-1-0.conda')?.size, 12);
});

test('attack: a whitespace bomb beyond the cap is REPODATA_UNAVAILABLE (too large); under it, it costs nothing', async () => {
  const bomb = zstdCompressSync(Buffer.concat([Buffer.from('{"packages":{}'), Buffer.alloc(8 << 20, 0x20), Buffer.from('}')]));
  await assert.rejects(decompressRepodataZstd(bomb, 4 << 20, 'bomb.zst'), code('REPODATA_UNAVAILABLE', /decompresses to more than/));
  assert.equal((await decompressRepodataZstd(bomb, 16 << 20, 'bomb.zst')).toString(), '{"packages":{}}');
});

test('attack: bombs of one endless value, or of bytes that are not JSON, stop at once as REPODATA_MALFORMED', async () => {
  const longString = zstdCompressSync(Buffer.concat([Buffer.from('{"packages":{"'), Buffer.alloc(MAX_REPODATA_STRING + 10, 0x61), Buffer.from('":{}}}')]));
  await assert.rejects(decompressRepodataZstd(longString, 1 << 30, 's.zst'), code('REPODATA_MALFORMED', /string longer than/));
  const longNumber = zstdCompressSync(Buffer.concat([Buffer.from('{"n":'), Buffer.alloc(1 << 20, 0x31), Buffer.from('}')]));
  await assert.rejects(decompressRepodataZstd(longNumber, 1 << 30, 'n.zst'), code('REPODATA_MALFORMED', /number or literal/));
  const zeros = zstdCompressSync(Buffer.alloc(1 << 20, 0));
  await assert.rejects(decompressRepodataZstd(zeros, 1 << 30, 'z.zst'), code('REPODATA_MALFORMED', /does not start with a JSON object/));
  await assert.rejects(decompressRepodataZstd(Buffer.from('not zstd at all'), 1 << 30, 'x.zst'), code('REPODATA_MALFORMED', /not valid zstd/));
});
