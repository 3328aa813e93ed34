// Self-test of the .conda builder: structure, determinism, and that independent
// readers (our reader on the real interop package; unzip/zstd/tar when present) agree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCondaPackage, makeCondaPackage, readCondaPackage, readTar, readZip, writeTar, writeZip } from './conda.ts';

const SHARED_INTEROP = join(import.meta.dirname, '..', '..', '..', 'shared', 'interop');

test('.conda: zip of metadata.json, pkg- and info- tarballs with index.json and paths.json', () => {
  const p = makeCondaPackage({
    name: 'foo',
    version: '1.2.3',
    build: 'py312h1234abc_7',
    subdir: 'linux-64',
    depends: ['python >=3.12', 'libzlib'],
    files: { 'bin/foo': '#!/bin/sh\necho foo\n', 'share/foo/data.bin': Buffer.from([0, 1, 2, 255]) },
  });
  assert.equal(p.filename, 'foo-1.2.3-py312h1234abc_7.conda');
  assert.equal(p.size, p.bytes.length);
  assert.match(p.sha256, /^[0-9a-f]{64}$/);
  const r = readCondaPackage(p.bytes);
  assert.deepEqual(r.entries, ['metadata.json', 'pkg-foo-1.2.3-py312h1234abc_7.tar.zst', 'info-foo-1.2.3-py312h1234abc_7.tar.zst']);
  assert.deepEqual(r.metadata, { conda_pkg_format_version: 2 });
  const index = JSON.parse(r.info.get('info/index.json')!.toString());
  assert.deepEqual(
    { name: index.name, version: index.version, build: index.build, build_number: index.build_number, subdir: index.subdir, depends: index.depends },
    { name: 'foo', version: '1.2.3', build: 'py312h1234abc_7', build_number: 7, subdir: 'linux-64', depends: ['python >=3.12', 'libzlib'] },
  );
  const paths = JSON.parse(r.info.get('info/paths.json')!.toString());
  assert.deepEqual(paths.paths.map((x: { _path: string }) => x._path), ['bin/foo', 'share/foo/data.bin']);
  assert.equal(paths.paths[1].size_in_bytes, 4);
  assert.deepEqual(r.pkg.get('share/foo/data.bin'), Buffer.from([0, 1, 2, 255]));
  // Entries are stored, never deflated (conda format v2).
  const zip = readZip(p.bytes);
  assert.equal(zip.length, 3);
  assert.deepEqual(zip.map((e) => e.method), [0, 0, 0], 'stored (method 0)');
});

test('.conda: deterministic bytes for the same spec, different for a different payload', () => {
  const spec = { name: 'bar', version: '1', files: { a: 'x' } };
  assert.deepEqual(buildCondaPackage(spec), buildCondaPackage(spec));
  assert.notDeepEqual(buildCondaPackage(spec), buildCondaPackage({ ...spec, files: { a: 'y' } }));
  const p = makeCondaPackage({ name: 'bar', version: '1' });
  assert.equal(p.subdir, 'noarch');
  assert.equal(p.index.noarch, 'generic');
  assert.equal(p.filename, 'bar-1-h0_0.conda');
});

test('zip/tar round trip, long tar paths, corrupted zip detected', () => {
  const long = `a/${'b'.repeat(90)}/${'c'.repeat(90)}/file.txt`;
  const tar = writeTar([{ path: long, data: Buffer.from('hi') }, { path: 'x', data: Buffer.alloc(513, 7) }]);
  assert.equal(tar.length % 512, 0);
  const back = readTar(tar);
  assert.equal(back.get(long)!.toString(), 'hi');
  assert.equal(back.get('x')!.length, 513);
  const zip = writeZip([{ name: 'n.txt', data: Buffer.from('payload') }]);
  assert.equal(readZip(zip)[0].data.toString(), 'payload');
  const bad = Buffer.from(zip);
  bad[bad.indexOf('payload') + 1] ^= 1; // flip a payload bit: CRC must catch it
  assert.throws(() => readZip(bad), /CRC/);
});

test('reader agrees with the real interop package (rattler-build output)', { skip: existsSync(SHARED_INTEROP) ? false : 'needs ../shared (absent in a fresh clone)' }, () => {
  const file = readdirSync(SHARED_INTEROP).find((f) => f.endsWith('.conda'))!;
  const r = readCondaPackage(readFileSync(join(SHARED_INTEROP, file)));
  assert.deepEqual(r.metadata, { conda_pkg_format_version: 2 });
  const index = JSON.parse(r.info.get('info/index.json')!.toString());
  assert.equal(`${index.name}-${index.version}-${index.build}.conda`, file);
});

const hasTools = (() => {
  try {
    for (const t of ['unzip', 'zstd', 'tar']) execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('system unzip/zstd/tar read the archive', { skip: hasTools ? false : 'needs unzip, zstd and tar on PATH' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-conda-'));
  try {
    const p = makeCondaPackage({ name: 'sys', version: '0.1', files: { 'etc/sys.conf': 'k=v\n' } });
    const file = join(dir, p.filename);
    writeFileSync(file, p.bytes);
    execFileSync('unzip', ['-tq', file]);
    execFileSync('unzip', ['-q', file, '-d', dir]);
    const list = execFileSync('sh', ['-c', `zstd -dc "${dir}/pkg-sys-0.1-h0_0.tar.zst" | tar -tf -`]).toString().trim();
    assert.equal(list, 'etc/sys.conf');
    const index = execFileSync('sh', ['-c', `zstd -dc "${dir}/info-sys-0.1-h0_0.tar.zst" | tar -xOf - info/index.json`]).toString();
    assert.equal(JSON.parse(index).name, 'sys');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
