// repodata.json(.zst) is scanned as a stream: zstd decoded chunk by chunk under the decode
// cap, records found across chunk boundaries, single values bounded, so a hostile file
// stops early with a clear code. Peak memory is measured in bench/memory.ts, not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zstdCompressSync } from 'node:zlib';
import { RepodataError } from '../../src/errors.ts';
import { zstdChunks } from '../../src/channel/zstd.ts';
import { emptyIndex, indexRepodata, MAX_REPODATA_VALUE, RepodataScanner, type RepodataIndex } from '../../src/channel/repodata-index.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof RepodataError && e.code === c && (re ? re.test(e.message) : true);

async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function scanner(): { index: RepodataIndex; s: RepodataScanner } {
  const index = emptyIndex();
  return { index, s: new RepodataScanner('r', (section, f, e) => void index[section].set(f, e)) };
}

async function scanZst(zst: Buffer, maxBytes: number): Promise<RepodataIndex> {
  const { index, s } = scanner();
  for await (const c of zstdChunks(pieces(zst, 4096), maxBytes, 'r.json.zst')) s.push(c);
  s.end();
  return index;
}

const DOC = {
  info: { subdir: 'linux-64' },
  packages: { 'b-1-0.tar.bz2': { md5: 'c'.repeat(32), size: 3 } },
  'packages.conda': { 'a-1-0.conda': { sha256: 'ab'.repeat(32), depends: ['python >=3.10 ,<4', 'x "q" \\ y\n\t{[', '}]'], size: 12, attestations_sha256: 'cd'.repeat(32) } },
  removed: ['x-1-0.conda'],
};

test('pretty-printed repodata.json.zst streams into the same records as the whole document', async () => {
  const text = JSON.stringify(DOC, null, 4).replace(/\n/g, '\r\n');
  const idx = await scanZst(zstdCompressSync(Buffer.from(text)), 1 << 20);
  assert.deepEqual(idx, indexRepodata(Buffer.from(JSON.stringify(DOC)), 'r'));
  assert.deepEqual(idx.conda.get('a-1-0.conda'), { sha256: 'ab'.repeat(32), size: 12, att: 'cd'.repeat(32) });
  assert.deepEqual(idx.tarBz2.get('b-1-0.tar.bz2'), { md5: 'c'.repeat(32), size: 3 });
});

test('property: any split of the bytes into chunks gives the same records (or the same rejection)', async (t) => {
  const texts = [JSON.stringify(DOC), JSON.stringify(DOC, null, 2), `\ufeff${JSON.stringify(DOC)}`, '{"packages":{} "x":1}', '{"a":1,}', JSON.stringify(DOC).slice(0, -3)];
  await checkProperty(
    t,
    'repodata chunk boundaries',
    [fc.constantFrom(...texts), fc.array(fc.nat(), { maxLength: 8 })],
    (text: string, cuts: number[]) => {
      const buf = Buffer.from(text);
      let whole: RepodataIndex | string;
      try {
        whole = indexRepodata(buf, 'r');
      } catch (e) {
        whole = (e as RepodataError).code;
      }
      const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
      const { index, s } = scanner();
      let got: RepodataIndex | string;
      try {
        let from = 0;
        for (const c of [...at, buf.length]) {
          s.push(buf.subarray(from, c));
          from = c;
        }
        s.end();
        got = index;
      } catch (e) {
        got = (e as RepodataError).code;
      }
      assert.deepEqual(got, whole);
    },
    { runs: 300 },
  );
});

test('attack: a whitespace bomb beyond the decode cap is REPODATA_UNAVAILABLE (too large); under it, it costs nothing', async () => {
  const bomb = zstdCompressSync(Buffer.concat([Buffer.from('{"packages":{}'), Buffer.alloc(8 << 20, 0x20), Buffer.from('}')]));
  await assert.rejects(scanZst(bomb, 4 << 20), code('REPODATA_UNAVAILABLE', /decompresses to more than/));
  assert.equal((await scanZst(bomb, 16 << 20)).tarBz2.size, 0);
});

test('attack: one endless value, or bytes that are not JSON or not zstd, stop as REPODATA_MALFORMED', async () => {
  const longString = zstdCompressSync(Buffer.concat([Buffer.from('{"packages":{"'), Buffer.alloc(MAX_REPODATA_VALUE + 10, 0x61), Buffer.from('":{}}}')]));
  await assert.rejects(scanZst(longString, 1 << 30), code('REPODATA_MALFORMED', /value larger than/));
  const longNumber = zstdCompressSync(Buffer.concat([Buffer.from('{"n":'), Buffer.alloc(MAX_REPODATA_VALUE + 10, 0x31), Buffer.from('}')]));
  await assert.rejects(scanZst(longNumber, 1 << 30), code('REPODATA_MALFORMED', /value larger than/));
  const longRecord = zstdCompressSync(Buffer.concat([Buffer.from('{"packages":{"a-1-0.tar.bz2":{"x":['), Buffer.alloc(MAX_REPODATA_VALUE, 0x20), Buffer.from(']}}}')]));
  await assert.rejects(scanZst(longRecord, 1 << 30), code('REPODATA_MALFORMED', /value larger than/));
  await assert.rejects(scanZst(zstdCompressSync(Buffer.alloc(1 << 20, 0)), 1 << 30), code('REPODATA_MALFORMED', /expected "\{"/));
  await assert.rejects(scanZst(Buffer.from('not zstd at all'), 1 << 30), code('REPODATA_MALFORMED', /not valid zstd/));
});

test('a connection error of the source passes through the decoder unchanged (so the client can retry it)', async () => {
  const boom = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  async function* broken(): AsyncGenerator<Buffer> {
    yield zstdCompressSync(Buffer.from('{"packages":{')).subarray(0, 8);
    throw boom;
  }
  await assert.rejects(
    (async () => {
      for await (const _ of zstdChunks(broken(), 1 << 20, 'r.zst'));
    })(),
    (e: unknown) => e === boom,
  );
});
