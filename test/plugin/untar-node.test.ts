import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { ArchiveError, createNodeUntar, extractArchive, readTar, readZip, safeEntryPath } from '../../plugin/hosts/untar-node.ts';
import { makeCondaPackage, writeTar, writeZip } from '../helpers/conda.ts';
import { send, startLoopback } from '../helpers/loopback.ts';

const interop = join(import.meta.dirname, '..', '..', '..', 'shared', 'interop');
const realPackage = join(interop, 'signed-package-2.1.0-hb0f4dca_0.conda');

// A raw tar header, for entries the helper writer cannot express (links, pax, long names, hostile paths).
function header(name: string, size: number, type = '0', linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}
function entry(name: string, data: Buffer | string, type = '0', linkname = ''): Buffer {
  const hasBody = '0xLK'.includes(type);
  const body = hasBody ? Buffer.from(data) : Buffer.alloc(0);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header(name, body.length, type, linkname), body, pad]);
}
const end = Buffer.alloc(1024);
/** One pax record: `<len> <key>=<value>\n`, where len counts its own digits too. */
function paxRecord(k: string, v: string): string {
  const body = ` ${k}=${v}\n`;
  const n = Buffer.byteLength(body);
  let total = n + String(n).length;
  if (String(total).length !== String(n).length) total = n + String(total).length;
  return `${total}${body}`;
}
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('utf8');

test('extracts the real .conda from ../shared/interop: zip members, then the info tarball', { skip: existsSync(realPackage) ? false : 'needs ../shared (absent in a fresh clone)' }, async () => {
  const untar = createNodeUntar();
  const outer = await untar.extractData(readFileSync(realPackage));
  assert.deepEqual(Object.keys(outer).sort(), [
    'info-signed-package-2.1.0-hb0f4dca_0.tar.zst',
    'metadata.json',
    'pkg-signed-package-2.1.0-hb0f4dca_0.tar.zst',
  ]);
  assert.deepEqual(JSON.parse(text(outer['metadata.json'])), { conda_pkg_format_version: 2 });
  const info = await untar.extractData(outer['info-signed-package-2.1.0-hb0f4dca_0.tar.zst']);
  const index = JSON.parse(text(info['info/index.json']));
  assert.equal(index.name, 'signed-package');
  assert.equal(index.version, '2.1.0');
  assert.ok('info/paths.json' in info);
});

test('round-trips a package built by the test helper (zstd tarballs inside a stored zip)', async () => {
  const pkg = makeCondaPackage({ name: 'demo', version: '1.0', files: { 'lib/a.txt': 'A', 'share/demo/deep/b.bin': Buffer.from([0, 1, 2]) } });
  const untar = createNodeUntar();
  const outer = await untar.extractData(pkg.bytes);
  const inner = await untar.extractData(outer['pkg-demo-1.0-h0_0.tar.zst']);
  assert.deepEqual(Object.keys(inner).sort(), ['lib/a.txt', 'share/demo/deep/b.bin']);
  assert.equal(text(inner['lib/a.txt']), 'A');
  assert.deepEqual([...inner['share/demo/deep/b.bin']], [0, 1, 2]);
});

test('reads deflated zip members and checks their CRC-32', () => {
  const data = Buffer.from('deflate me '.repeat(100));
  const zip = writeZip([{ name: 'a.txt', data }]);
  // Rewrite the stored member as a deflated one (method 8) with the right compressed size.
  const deflated = deflateRawSync(data);
  const patched = deflatedZip('a.txt', data, deflated);
  assert.equal(text(readZip(patched)['a.txt']), data.toString());
  assert.equal(text(readZip(zip)['a.txt']), data.toString());
  // Flip a byte of the stored member: the CRC check must catch it.
  const corrupt = Buffer.from(zip);
  corrupt[30 + 'a.txt'.length + 5] ^= 0xff;
  assert.throws(() => readZip(corrupt), (e) => e instanceof ArchiveError && e.code === 'ARCHIVE_MALFORMED' && /CRC/.test(e.message));
});

/** A one-member zip whose member is deflated. */
function deflatedZip(name: string, data: Buffer, deflated: Buffer): Buffer {
  const stored = writeZip([{ name, data }]);
  // Local header at 0, central directory after the data: adjust method and compressed size.
  const n = Buffer.byteLength(name);
  const local = Buffer.from(stored.subarray(0, 30 + n));
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(deflated.length, 18);
  const cenStart = stored.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  const cen = Buffer.from(stored.subarray(cenStart, stored.indexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))));
  cen.writeUInt16LE(8, 10);
  cen.writeUInt32LE(deflated.length, 20);
  const eocd = Buffer.from(stored.subarray(stored.indexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))));
  eocd.writeUInt32LE(30 + n + deflated.length, 16);
  return Buffer.concat([local, deflated, cen, eocd]);
}

test('reads .tar.bz2 (bzip2 via seek-bzip) and .tar.gz', async () => {
  // A ustar archive (info/index.json, lib/hello.txt) compressed with `bzip2 -9`, inlined
  // because Node has no bzip2 compressor.
  const bz2 = Buffer.from(
    'QlpoOTFBWSZTWb556RgAAKNbgsoQ0AX/kCgAd3efWgACCAgwALrWEqp+pP0TUA2poAaMR5Q8p6glUHqanoEwmABGJgjBJKj0TJgjTJkxMmhoGmaY5SG1hs2ACB9JCHU5FBvBw5k8IQwuWyofUeoStfhVNNHDnPNijRoxDagHTWdjKAX3qBWwxGoXVii+WlYKEV7HRocGRZUjbwgT4GqSpVqTirKQkkZ9aYDTvJCx4pP3nWsVzP1CDjVQ0u5RLVsEg1F3JFOFCQvnnpGA',
    'base64',
  );
  const files = await createNodeUntar().extractData(bz2);
  assert.deepEqual(Object.keys(files).sort(), ['info/index.json', 'lib/hello.txt']);
  assert.equal(text(files['lib/hello.txt']), 'hello from bz2\n');
  const corrupt = Buffer.from(bz2);
  corrupt[60] ^= 0x55;
  assert.throws(() => extractArchive(corrupt), ArchiveError);

  const gz = gzipSync(writeTar([{ path: 'x/y.txt', data: Buffer.from('gz') }]));
  assert.equal(text(extractArchive(gz)['x/y.txt']), 'gz');
});

test('decompression-only returns the decompressed stream as one entry', () => {
  const raw = Buffer.from('just a stream');
  assert.deepEqual(Object.keys(extractArchive(zstdCompressSync(raw), { decompressionOnly: true })), ['data']);
  assert.equal(text(extractArchive(zstdCompressSync(raw), { decompressionOnly: true }).data), 'just a stream');
});

test('tar: pax paths, GNU long names and hard links; symlinks are skipped', () => {
  const long = 'a/' + 'b'.repeat(150) + '/file.txt';
  const tar = Buffer.concat([
    entry('PaxHeader', paxRecord('path', 'pax/ünïcode-name.txt'), 'x'),
    entry('truncated-name', 'pax body'),
    entry('././@LongLink', long + '\0', 'L'),
    entry('short', 'long body'),
    entry('././@LongLink', long + '\0', 'K'),
    entry('hard.txt', '', '1', 'ignored: the long link wins'),
    entry('link', '', '2', '/etc/passwd'),
    end,
  ]);
  const files = readTar(tar);
  assert.deepEqual(Object.keys(files).sort(), ['a/' + 'b'.repeat(150) + '/file.txt', 'hard.txt', 'pax/ünïcode-name.txt'].sort());
  assert.equal(text(files['pax/ünïcode-name.txt']), 'pax body');
  assert.equal(text(files['hard.txt']), 'long body');
});

test('attack: path traversal and absolute paths in tar and zip are rejected, not written', () => {
  for (const bad of ['../evil.sh', 'lib/../../evil.sh', '/etc/cron.d/evil', 'C:/Windows/evil.dll', '..\\evil.bat']) {
    assert.throws(
      () => readTar(Buffer.concat([entry('ok.txt', 'fine'), entry(bad, 'pwned'), end])),
      (e) => e instanceof ArchiveError && e.code === 'ARCHIVE_UNSAFE_PATH',
      bad,
    );
    assert.throws(() => readZip(writeZip([{ name: bad, data: Buffer.from('pwned') }])), (e) => e instanceof ArchiveError && e.code === 'ARCHIVE_UNSAFE_PATH', bad);
  }
  // Through pax and GNU long names as well (the header name looks harmless).
  assert.throws(() => readTar(Buffer.concat([entry('PaxHeader', paxRecord('path', '../../pwned.txt'), 'x'), entry('harmless', 'x'), end])), /escapes/);
  assert.throws(() => readTar(Buffer.concat([entry('././@LongLink', '/abs/pwned\0', 'L'), entry('harmless', 'x'), end])), /absolute/);
  // A hard link may not point outside the archive either.
  assert.throws(() => readTar(Buffer.concat([entry('h', '', '1', '../../etc/shadow'), end])), ArchiveError);
  assert.equal(safeEntryPath('./a//b/./c'), 'a/b/c');
});

test('attack: corrupt headers, truncated members and decompression bombs are refused', () => {
  const good = Buffer.concat([entry('a.txt', 'hello'), end]);
  const badSum = Buffer.from(good);
  badSum[0] = 'b'.charCodeAt(0);
  assert.throws(() => readTar(badSum), /checksum/);
  assert.throws(() => readTar(Buffer.concat([header('big.bin', 4096), Buffer.alloc(512)])), /truncated/);
  const bomb = zstdCompressSync(Buffer.alloc(4 * 1024 * 1024));
  assert.throws(() => extractArchive(bomb, { maxOutputBytes: 1024 * 1024 }), ArchiveError);
  const zipBomb = writeZip([
    { name: 'a', data: Buffer.alloc(600 * 1024) },
    { name: 'b', data: Buffer.alloc(600 * 1024) },
  ]);
  assert.throws(() => readZip(zipBomb, 1024 * 1024), /expands to more than/);
  assert.throws(() => extractArchive(Buffer.from('not an archive at all, just text padding it out'.repeat(20))), ArchiveError);
});

test('extract(url) downloads over loopback and extracts like untarjs', async (t) => {
  const pkg = makeCondaPackage({ name: 'served', version: '2.0' });
  const lb = await startLoopback();
  lb.route(`/ch/noarch/${pkg.filename}`, send(pkg.bytes));
  t.after(() => lb.close());
  const untar = createNodeUntar();
  const files = await untar.extract(`${lb.url}/ch/noarch/${pkg.filename}`);
  assert.ok('pkg-served-2.0-h0_0.tar.zst' in files);
  await assert.rejects(untar.extract(`${lb.url}/ch/noarch/missing-1-0.conda`), (e: Error & { code?: string }) => e.code === 'HTTP_NOT_FOUND');
});
