import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { AttestError, TargetError } from '../../src/errors.ts';
import { loadTargets } from '../../src/targets/index.ts';
import { readPackageIndex } from '../../src/targets/package-index.ts';
import { buildCondaPackage, writeTar, writeZip } from '../helpers/conda.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

// Written with GNU tar (ustar, info/index.json first, as conda writes it) and bzip2 -9 for
// these tests: Node has no bzip2 compressor. tiny-1.0-h0_0, subdir linux-64.
const TINY_TAR_BZ2 = Buffer.from('QlpoOTFBWSZTWT8LX6AAARXfku8QeAf/1AAiZEr/d99qBAAAAIAIMAEbbRDJIYaVP0U/VPUBkaDRoaek9E0aNkQamUTNQYjJpoaNMhkME9INA0w2pJpNplR6mmTIzSaYmE0aGgxMNSy2NtXGYtD1zTJBKgAFh8L+4gTDIpHYa5iCEIBAAFk6mjxAliVn6vI8pXnMs2drHoJ/SIMiBGQBkVnDyDNbEQ5p5EXP1CQgc5QEjZorymkEiJQkC/Wl057jCWxjMZ6a43vMcUFBDrTQWvW0sxPEVVMBh8i7VUbbqy9VgHCNOTlALzexhvTmGwK/1zNPbgAuGg46dvFoxu1QFMd6VrtlhN3ENoeJwcqUGMwxRP+3tFRgI/AstEjbLGlPkBgqToQJ5sI08BIUBnS61HopbQxWCyJfhUrFa7CVSUknUbXP71GwZPuUqMzzcnavJIS/xdyRThQkD8LX6AA=', 'base64');
// A 70 MiB payload member BEFORE info/index.json (no real package is laid out so).
const LATE_TAR_BZ2 = Buffer.from('QlpoOTFBWSZTWdxMovAFfj9bgMgAQABvhAACcKAeAAAIIAByEVTJkAB6nqCJUyAGgCnEp8IgCqolQVAFVRNO66QwkvFQBVUSJJlFui5wbUtDaFd5rS1di1tMa0L3rR+5iImZzUQBVUT8xQVkmU1lrHBNzANLBX5DsIFAH99QAIiQK/3ffagQAAAgwAPmyxEjDTRT0agANBo/UmgHqeoBqeVPU1NpGQBpoaAGgANAiooyBoAAAAAAaP03OEZIIgTwFFBEEe8qoAKII3IyRgS3YSCACiCMBgUY5vv2jkm48e9eh0j59U56XIkEAk3aQa0BRe0n2/QQBz1S5WAEhc7lwbiQNmWs2rWb323bSRBrKGuFUTwCRMByclQIAb6ab49K28GWzAp/DSEzWCRlQY3e4M+rSMGE6AKlJQJgXKqIORF81GsRxdidid9uJYY35IPZQU+Kaxp5ZhBBUCSwhni0ov0bAqqIgj/F3JFOFCQ04VWkgA==', 'base64');

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-index-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const CH = 'https://conda.anaconda.org/conda-forge';

test('a local .conda names its own subdir: --channel alone is enough', async () => {
  await withDir(async (dir) => {
    const file = 'zlib-1.3.1-hb9d3cd8_2.conda';
    await writeFile(join(dir, file), buildCondaPackage({ name: 'zlib', version: '1.3.1', build: 'hb9d3cd8_2', subdir: 'linux-64' }));
    assert.deepEqual(readPackageIndex(join(dir, file)), { name: 'zlib', version: '1.3.1', build: 'hb9d3cd8_2', subdir: 'linux-64' });
    const [r] = await loadTargets([file], { cwd: dir, channel: CH });
    assert.equal(r!.subdir, 'linux-64');
    assert.equal(r!.url, `${CH}/linux-64/${file}`);
    // --platform and a channel that ends in a subdir still win when given.
    const [p] = await loadTargets([file], { cwd: dir, channel: CH, platform: 'osx-arm64' });
    assert.equal(p!.subdir, 'osx-arm64');
    const [q] = await loadTargets([file], { cwd: dir, channel: `${CH}/noarch` });
    assert.equal(q!.subdir, 'noarch');
  });
});

test('a local .tar.bz2 names its own subdir, read as a stream', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'tiny-1.0-h0_0.tar.bz2'), TINY_TAR_BZ2);
    assert.deepEqual(readPackageIndex(join(dir, 'tiny-1.0-h0_0.tar.bz2')), { name: 'tiny', version: '1.0', build: 'h0_0', subdir: 'linux-64' });
    const [r] = await loadTargets(['tiny-1.0-h0_0.tar.bz2'], { cwd: dir, channel: CH });
    assert.equal(r!.url, `${CH}/linux-64/tiny-1.0-h0_0.tar.bz2`);
  });
});

test('attack: index.json behind a large member is not searched for past the cap', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'tiny-1.0-h0_0.tar.bz2');
    await writeFile(path, LATE_TAR_BZ2);
    assert.throws(() => readPackageIndex(path, { maxScanBytes: 1024 * 1024 }), (e: unknown) => e instanceof TargetError && e.code === 'TARGET_PARSE_FAILED' && /first 1048576/.test(e.message));
  });
});

test('a file name that disagrees with info/index.json is an input error', async () => {
  await withDir(async (dir) => {
    // The bytes of zlib 1.3.1, renamed to claim another version.
    await writeFile(join(dir, 'zlib-9.9-hb9d3cd8_2.conda'), buildCondaPackage({ name: 'zlib', version: '1.3.1', build: 'hb9d3cd8_2', subdir: 'linux-64' }));
    await assert.rejects(loadTargets(['zlib-9.9-hb9d3cd8_2.conda'], { cwd: dir, channel: CH }), (e: unknown) => {
      assert.ok(e instanceof TargetError);
      assert.equal(e.code, 'TARGET_INVALID_FILENAME');
      assert.match(e.message, /1\.3\.1/);
      return true;
    });
  });
});

test('attack: broken or hostile archives are refused with a code, never a crash', async () => {
  await withDir(async (dir) => {
    const cases: [string, Buffer, RegExp][] = [
      ['not-a-zip-1-0.conda', Buffer.from('hello world'), /ARCHIVE_MALFORMED/],
      ['noinfo-1-0.conda', writeZip([{ name: 'metadata.json', data: Buffer.from('{}') }]), /TARGET_PARSE_FAILED/],
      ['bad-1-0.conda', writeZip([{ name: 'info-bad-1-0.tar.zst', data: Buffer.from('not zstd') }]), /ARCHIVE_MALFORMED/],
      ['esc-1-0.conda', writeZip([{ name: 'info-esc-1-0.tar.zst', data: zstdCompressSync(writeTar([{ path: '../info/index.json', data: Buffer.from('{}') }])) }]), /ARCHIVE_UNSAFE_PATH/],
      ['json-1-0.conda', writeZip([{ name: 'info-json-1-0.tar.zst', data: zstdCompressSync(writeTar([{ path: 'info/index.json', data: Buffer.from('[1]') }])) }]), /TARGET_PARSE_FAILED/],
      ['sub-1-0.conda', writeZip([{ name: 'info-sub-1-0.tar.zst', data: zstdCompressSync(writeTar([{ path: 'info/index.json', data: Buffer.from(JSON.stringify({ name: 'sub', version: '1', build: '0', subdir: '../x' })) }])) }]), /TARGET_PARSE_FAILED/],
      ['trunc-1-0.tar.bz2', TINY_TAR_BZ2.subarray(0, 100), /ARCHIVE_MALFORMED|TARGET_PARSE_FAILED/],
      ['zero-1-0.tar.bz2', Buffer.alloc(0), /ARCHIVE_MALFORMED|TARGET_PARSE_FAILED/],
    ];
    for (const [name, bytes, code] of cases) {
      await writeFile(join(dir, name), bytes);
      assert.throws(() => readPackageIndex(join(dir, name)), (e: unknown) => {
        assert.ok(e instanceof AttestError, `${name}: ${String(e)}`);
        assert.match(e.code, code, `${name}: ${e.code} ${e.message}`);
        return true;
      });
      // As a target, the damage is the package's own problem (judged invalid), not the run's.
      const [r] = await loadTargets([name], { cwd: dir, channel: CH });
      assert.match(r!.unreadable!.code, code, name);
      assert.equal(r!.subdir, 'unknown');
    }
  });
});

// Seeded, bounded property: flipped, cut or inserted bytes anywhere in a real .conda or
// .tar.bz2 give the package's fields, or an AttestError (archive or target code); never
// another exception, never a hang (every read is capped).
test('property: readPackageIndex on damaged archives ends in fields or an AttestError', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ca-index-fuzz-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const conda = buildCondaPackage({ name: 'zlib', version: '1.3.1', build: 'hb9d3cd8_2', subdir: 'linux-64' });
  const damage = fc.record({ kind: fc.constantFrom('flip', 'cut', 'insert'), at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.integer({ min: 0, max: 255 }) });
  let n = 0;
  await checkProperty(t, 'package index', [fc.constantFrom('.conda', '.tar.bz2'), fc.array(damage, { minLength: 1, maxLength: 4 })], (ext, damages) => {
    let bytes = Buffer.from(ext === '.conda' ? conda : TINY_TAR_BZ2);
    for (const d of damages) {
      const at = Math.floor(d.at * bytes.length);
      if (d.kind === 'flip') bytes[Math.min(at, bytes.length - 1)] ^= d.byte || 1;
      else if (d.kind === 'cut') bytes = bytes.subarray(0, at);
      else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([d.byte]), bytes.subarray(at)]);
    }
    const path = join(dir, `p${n++}-1-0${ext}`);
    writeFileSync(path, bytes);
    try {
      const f = readPackageIndex(path, { maxScanBytes: 1024 * 1024 });
      for (const v of Object.values(f)) assert.ok(typeof v === 'string' && v.length > 0 && !/[/\\]/.test(v));
    } catch (e) {
      assert.ok(e instanceof AttestError, `threw ${String(e)}`);
    }
  }, { runs: 150 });
});
