import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestError, TargetError } from '../../src/errors.ts';
import { findDefaultTarget, loadTargetSet, mergeRecords, loadTargets, parsePackageFilename, parsePixiLock, readCondaLock, readPixiLock, recordFromUrl } from '../../src/targets/index.ts';
import { parse as parseYaml } from 'yaml';
import { checkProperty, fc } from '../helpers/fuzz.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const M = 'c'.repeat(32);
const CF = 'https://conda.anaconda.org/conda-forge';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-targets-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function load(dir: string, name: string, text: string, opts = {}) {
  await writeFile(join(dir, name), text);
  return loadTargets([name], { cwd: dir, ...opts });
}

function rejectsCode(p: Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TargetError, `expected TargetError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (msg) assert.match(e.message, msg);
    return true;
  });
}

test('filename: split on the last two dashes', () => {
  assert.deepEqual(parsePackageFilename('python-dateutil-2.9.0-pyhd8ed1ab_0.conda'), {
    name: 'python-dateutil',
    version: '2.9.0',
    build: 'pyhd8ed1ab_0',
  });
  assert.deepEqual(parsePackageFilename('_libgcc_mutex-0.1-conda_forge.tar.bz2'), { name: '_libgcc_mutex', version: '0.1', build: 'conda_forge' });
  for (const bad of ['numpy.conda', 'numpy-1.0.conda', 'numpy-1.0-.conda', '-1.0-0.conda', 'a/b-1-0.conda', 'a\\b-1-0.conda', '.x-1-0.conda', 'x-1-0.zip']) {
    assert.throws(() => parsePackageFilename(bad), (e: unknown) => e instanceof TargetError && e.code === 'TARGET_INVALID_FILENAME', bad);
  }
});

test('package URL: channel, subdir, filename; %2B decoded; channel has no trailing slash', () => {
  const r = recordFromUrl(`${CF}/linux-64/pytorch-2.1.0-cuda118%2Bx_0.conda`);
  assert.equal(r.channel, CF);
  assert.equal(r.subdir, 'linux-64');
  assert.equal(r.filename, 'pytorch-2.1.0-cuda118+x_0.conda');
  assert.equal(r.build, 'cuda118+x_0');
  const t = recordFromUrl('https://example.org/t/tok-123/private/noarch/pkg-1-0.tar.bz2');
  assert.equal(t.channel, 'https://example.org/t/tok-123/private');
});

test('package URL: attacker-shaped URLs are rejected', () => {
  const bad = [
    'file:///tmp/conda-forge/linux-64/x-1-0.conda', // scheme not supported (documented)
    'ftp://h/c/linux-64/x-1-0.conda',
    `${CF}/linux-64/x-1-0.conda?sig=1`,
    `${CF}/linux-64/x-1-0.conda#frag`,
    `${CF}/../linux-64/x-1-0.conda`,
    `${CF}/%2e%2e/linux-64/x-1-0.conda`,
    `${CF}/linux-64/x%2F..%2Fy-1-0.conda`,
    'https://user:pw@h/c/linux-64/x-1-0.conda',
    `${CF}/linux 64/x-1-0.conda`,
    `${CF}/linux-64/x-1-0.whl`,
    `${CF}/x-1-0.conda`.replace(CF, 'https://h'),
    'not a url',
  ];
  for (const u of bad) {
    assert.throws(() => recordFromUrl(u), (e: unknown) => e instanceof TargetError && /TARGET_INVALID_(URL|FILENAME)/.test(e.code), u);
  }
});

const PIXI_V6 = `version: 6
environments:
  default:
    channels:
    - url: https://conda.anaconda.org/conda-forge/
    packages:
      linux-64:
      - conda: ${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
      - conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
      - pypi: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
      - conda: .
      osx-arm64:
      - conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
  test:
    channels:
    - url: https://conda.anaconda.org/conda-forge/
    packages:
      linux-64:
      - conda: ${CF}/linux-64/pytest-8.0.0-pyhd8ed1ab_0.conda
packages:
- conda: ${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
  sha256: ${A.toUpperCase()}
  md5: ${M}
  size: 123
- conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
  sha256: ${B}
- pypi: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
  name: requests
- conda: .
  name: mypkg
  version: 0.1.0
  build: h0_0
  subdir: linux-64
`;

test('pixi.lock v6: all environments and platforms, deduplicated, sorted, hashes lowercased; pypi and source packages ignored', async () => {
  await withDir(async (dir) => {
    const rs = await load(dir, 'pixi.lock', PIXI_V6);
    assert.deepEqual(
      rs.map((r) => r.filename),
      ['pytest-8.0.0-pyhd8ed1ab_0.conda', 'zlib-1.3.1-hb9d3cd8_2.conda', 'tzdata-2025b-h78e105d_0.conda'],
    );
    const zlib = rs.find((r) => r.name === 'zlib')!;
    assert.equal(zlib.sha256, A);
    assert.equal(zlib.md5, M);
    assert.equal(zlib.size, 123);
    assert.equal(zlib.channel, CF);
    assert.equal(rs.find((r) => r.name === 'tzdata')!.subdir, 'noarch');
    assert.equal(rs.find((r) => r.name === 'pytest')!.sha256, undefined);
  });
});

test('pixi.lock v6: `pypi: ./` (the project, built from a path) is a source entry, not a PyPI package; a PyPI URL is PyPI', async () => {
  await withDir(async (dir) => {
    const withProject = PIXI_V6.replace(
      '      - conda: .\n',
      '      - conda: .\n      - pypi: ./\n',
    ).replace('- conda: .\n  name: mypkg', '- pypi: ./\n  name: myproject\n  version: 0.1.0\n- conda: .\n  name: mypkg');
    assert.notEqual(withProject, PIXI_V6);
    await writeFile(join(dir, 'pixi.lock'), withProject);
    const set = await loadTargetSet(['pixi.lock'], { cwd: dir });
    // `.` (a conda source package) and `./` (the PyPI project): two source entries; requests: one PyPI package.
    assert.deepEqual(set.notCovered, { pypi: 1, source: 2, local: 0 });
  });
});

// Real public pixi.lock files of every supported version, cut to a few entries with their
// lines kept verbatim (test/fixtures/pixi-lock/README.md names each source). Expected values
// are read off the fixture text: every conda reference of every environment and platform,
// each with the sha256 and size of its `packages` entry.
const PIXI_FIXTURES: { file: string; version: number; pypi: number; records: [url: string, sha256: string, size: number][] }[] = [
  { file: 'v4-examples-pypi.lock', version: 4, pypi: 2, records: [
    ['https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2', 'fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726', 2562],
    ['https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2', 'fbe2c5e56a653bebb982eda4876a9178aedfc2b545f25d0ce9c4c0b508253d22', 23621],
    ['https://conda.anaconda.org/conda-forge/linux-64/bzip2-1.0.8-hd590300_5.conda', '242c0c324507ee172c0e0dd2045814e746bb303d1eb78870d182ceb0abc726a8', 254228],
    ['https://conda.anaconda.org/conda-forge/osx-64/bzip2-1.0.8-h10d778d_5.conda', '61fb2b488928a54d9472113e1280b468a309561caa54f33825a3593da390b242', 127885],
    ['https://conda.anaconda.org/conda-forge/osx-64/ca-certificates-2024.2.2-h8857fd0_0.conda', '54a794aedbb4796afeabdf54287b06b1d27f7b13b3814520925f4c2c80f58ca9', 155665],
    ['https://conda.anaconda.org/conda-forge/osx-64/icu-73.2-hf5e326d_0.conda', 'f66362dc36178ac9b7c7a9b012948a9d2d050b3debec24bbd94aadbc44854185', 11787527],
  ] },
  { file: 'v4-pixi-repo.lock', version: 4, pypi: 0, records: [
    ['https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2', 'fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726', 2562],
    ['https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2', 'fbe2c5e56a653bebb982eda4876a9178aedfc2b545f25d0ce9c4c0b508253d22', 23621],
    ['https://conda.anaconda.org/conda-forge/noarch/attrs-23.2.0-pyh71513ae_0.conda', '77c7d03bdb243a048fff398cedc74327b7dc79169ebe3b4c8448b0331ea55fea', 54582],
    ['https://conda.anaconda.org/conda-forge/noarch/babel-2.14.0-pyhd8ed1ab_0.conda', '8584e3da58e92b72641c89ff9b98c51f0d5dbe76e527867804cbdf03ac91d8e6', 7609750],
    ['https://conda.anaconda.org/conda-forge/osx-64/brotli-python-1.1.0-py312heafc425_1.conda', 'fc55988f9bc05a938ea4b8c20d6545bed6e9c6c10aa5147695f981136ca894c1', 366883],
    ['https://conda.anaconda.org/conda-forge/osx-64/bzip2-1.0.8-h10d778d_5.conda', '61fb2b488928a54d9472113e1280b468a309561caa54f33825a3593da390b242', 127885],
  ] },
  { file: 'v5-examples-pypi.lock', version: 5, pypi: 2, records: [
    ['https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2', 'fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726', 2562],
    ['https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2', 'fbe2c5e56a653bebb982eda4876a9178aedfc2b545f25d0ce9c4c0b508253d22', 23621],
    ['https://conda.anaconda.org/conda-forge/linux-64/bzip2-1.0.8-h4bc722e_7.conda', '5ced96500d945fb286c9c838e54fa759aa04a7129c59800f0846b4335cee770d', 252783],
    ['https://conda.anaconda.org/conda-forge/osx-64/bzip2-1.0.8-hfdf4475_7.conda', 'cad153608b81fb24fc8c509357daa9ae4e49dfc535b2cb49b91e23dbd68fc3c5', 134188],
    ['https://conda.anaconda.org/conda-forge/osx-64/ca-certificates-2024.7.4-h8857fd0_0.conda', 'd16f46c489cb3192305c7d25b795333c5fc17bb0986de20598ed519f8c9cc9e4', 154473],
    ['https://conda.anaconda.org/conda-forge/osx-64/icu-75.1-h120a0e1_0.conda', '2e64307532f482a0929412976c8450c719d558ba20c0962832132fd0d07ba7a7', 11761697],
  ] },
  { file: 'v5-pixi-repo.lock', version: 5, pypi: 0, records: [
    ['https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2', 'fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726', 2562],
    ['https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2', 'fbe2c5e56a653bebb982eda4876a9178aedfc2b545f25d0ce9c4c0b508253d22', 23621],
    ['https://conda.anaconda.org/conda-forge/noarch/_sysroot_linux-64_curr_repodata_hack-3-h69a702a_16.conda', '6ac30acdbfd3136ee7a1de28af4355165291627e905715611726e674499b0786', 20798],
    ['https://conda.anaconda.org/conda-forge/noarch/annotated-types-0.7.0-pyhd8ed1ab_0.conda', '668f0825b6c18e4012ca24a0070562b6ec801ebc7008228a428eb52b4038873f', 18235],
    ['https://conda.anaconda.org/conda-forge/noarch/attrs-24.2.0-pyh71513ae_0.conda', '28dba85a7e0f7fb57d7315e13f603d1e41b83c5b88aa2a602596b52c833a2ff8', 56048],
    ['https://conda.anaconda.org/conda-forge/noarch/babel-2.14.0-pyhd8ed1ab_0.conda', '8584e3da58e92b72641c89ff9b98c51f0d5dbe76e527867804cbdf03ac91d8e6', 7609750],
    ['https://conda.anaconda.org/conda-forge/osx-64/brotli-python-1.1.0-py312heafc425_1.conda', 'fc55988f9bc05a938ea4b8c20d6545bed6e9c6c10aa5147695f981136ca894c1', 366883],
    ['https://conda.anaconda.org/conda-forge/osx-64/bzip2-1.0.8-hfdf4475_7.conda', 'cad153608b81fb24fc8c509357daa9ae4e49dfc535b2cb49b91e23dbd68fc3c5', 134188],
  ] },
  { file: 'v6-examples-pypi.lock', version: 6, pypi: 2, records: [
    ['https://conda.anaconda.org/conda-forge/linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2', 'fe51de6107f9edc7aa4f786a70f4a883943bc9d39b3bb7307c04c41410990726', 2562],
    ['https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2', 'fbe2c5e56a653bebb982eda4876a9178aedfc2b545f25d0ce9c4c0b508253d22', 23621],
    ['https://conda.anaconda.org/conda-forge/linux-64/bzip2-1.0.8-h4bc722e_7.conda', '5ced96500d945fb286c9c838e54fa759aa04a7129c59800f0846b4335cee770d', 252783],
  ] },
  { file: 'v7-pixi-repo.lock', version: 7, pypi: 0, records: [
    ['https://prefix.dev/conda-forge/linux-64/_openmp_mutex-4.5-20_gnu.conda', '1dd3fffd892081df9726d7eb7e0dea6198962ba775bd88842135a4ddb4deb3c9', 28948],
    ['https://prefix.dev/conda-forge/linux-64/actionlint-1.7.12-h8bc977c_0.conda', '1fff5ee0d83045ef90104ca83f52b4c44feb4ab2036fc7903fe9733f50721209', 2131192],
    ['https://prefix.dev/conda-forge/linux-64/binutils-2.46.1-default_h4852527_102.conda', '659c367ef49df7741749a2ad240b007d7df51b4f210505a78543deafb001e44c', 35399],
    ['https://prefix.dev/conda-forge/linux-64/bzip2-1.0.8-hda65f42_9.conda', '0b75d45f0bba3e95dc693336fa51f40ea28c980131fec438afb7ce6118ed05f6', 260182],
    ['https://prefix.dev/conda-forge/linux-64/gh-2.96.0-hfc2019e_0.conda', '1039356041a7d0fa8b0fa8357f690a24f2ee538ba0928d0893349595e3368722', 13429920],
    ['https://prefix.dev/conda-forge/linux-aarch64/_openmp_mutex-4.5-20_gnu.conda', 'a2527b1d81792a0ccd2c05850960df119c2b6d8f5fdec97f2db7d25dc23b1068', 28926],
    ['https://prefix.dev/conda-forge/linux-aarch64/actionlint-1.7.12-hddfeb4d_0.conda', 'f05c5b7919974955fbb29dd28d3658ecac758fed89c3fd8223d1db97b139d722', 1905426],
    ['https://prefix.dev/conda-forge/linux-aarch64/binutils-2.46.1-default_hf1166c9_102.conda', '548d128bc257badd2d9dbdff8173eb693fcbec84ceeb0fa74cbfed141ed42ad9', 35377],
    ['https://prefix.dev/conda-forge/linux-aarch64/bzip2-1.0.8-h4777abc_9.conda', 'b3495077889dde6bb370938e7db82be545c73e8589696ad0843a32221520ad4c', 192412],
    ['https://prefix.dev/conda-forge/linux-aarch64/gh-2.96.0-h22914b5_0.conda', '484968e637fdb3cd55280b9106e7becbc0af1fe7c323df8ecfd64013a1806693', 12135397],
  ] },
];
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'pixi-lock');

for (const f of PIXI_FIXTURES) {
  test(`pixi.lock v${f.version} (real file, ${f.file}): every conda reference with the digest and size of its packages entry; PyPI counted, not verified`, async () => {
    const text = await readFile(join(FIXTURES, f.file), 'utf8');
    assert.match(text, new RegExp(`^version: ${f.version}\n`));
    const set = await loadTargetSet([f.file], { cwd: FIXTURES });
    assert.deepEqual(set.records.map((r) => [r.url, r.sha256, r.size]), f.records);
    assert.deepEqual(set.notCovered, { pypi: f.pypi, source: 0, local: 0 });
    // Annotations point at the package's entry in the `packages` list: its first line, of
    // the entry whose location is the URL.
    const lines = text.split('\n');
    for (const r of set.records) {
      const at = r.source!.line - 1;
      assert.match(lines[at]!, /^- /, r.url);
      let end = at + 1;
      while (end < lines.length && lines[end]!.startsWith('  ')) end++;
      assert.ok(lines.slice(at, end).some((l) => l.endsWith(` ${r.url}`)), `${r.url} at line ${r.source!.line}`);
    }
  });
}

test('pixi.lock v4/v5 entries must carry `kind`; a v6-shaped entry under version 5 is TARGET_PARSE_FAILED naming `kind`', async () => {
  await withDir(async (dir) => {
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V6.replace('version: 6', 'version: 5')), 'TARGET_PARSE_FAILED', /packages\[0\].*`kind` is neither conda nor pypi/);
    const noUrl = `version: 5\nenvironments: {}\npackages:\n- kind: conda\n  name: zlib\n  version: 1.3.1\n  build: hb9d3cd8_2\n  subdir: linux-64\n`;
    await rejectsCode(load(dir, 'pixi.lock', noUrl), 'TARGET_PARSE_FAILED', /conda entry has no `url`/);
    // A local (editable) PyPI package is located by `path:` in v4/v5: counted, not an error,
    // and as a source entry (built here from a path), not as a PyPI package.
    const path = `version: 5\nenvironments:\n  default:\n    channels: []\n    packages:\n      linux-64:\n      - pypi: ./local\npackages:\n- kind: pypi\n  name: local\n  version: 0.1.0\n  path: ./local\n  editable: true\n`;
    await writeFile(join(dir, 'pixi.lock'), path);
    const got = await loadTargetSet(['pixi.lock'], { cwd: dir });
    assert.deepEqual(got.records, []);
    assert.deepEqual(got.notCovered, { pypi: 0, source: 1, local: 0 });
  });
});

test('pixi.lock: malformed inputs are rejected with a clear code', async () => {
  await withDir(async (dir) => {
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V6.replace('version: 6', 'version: 99')), 'TARGET_UNSUPPORTED');
    await rejectsCode(load(dir, 'pixi.lock', 'version: 6\nenvironments: {}\npackages:\n- conda: [\n'), 'TARGET_PARSE_FAILED', /line \d+/);
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V6.replace(`sha256: ${B}`, `sha256: ${B.slice(1)}`)), 'TARGET_PARSE_FAILED', /SHA-256/);
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V6.replace(`sha256: ${B}`, `sha256: ../../${B.slice(6)}`)), 'TARGET_PARSE_FAILED');
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V6.replace('size: 123', 'size: -1')), 'TARGET_PARSE_FAILED');
    await rejectsCode(load(dir, 'pixi.lock', 'version: 6\nenvironments: {}\npackages: {}\n'), 'TARGET_PARSE_FAILED');
    // A tampered duplicate: the same URL with a different digest.
    const dup = PIXI_V6 + `- conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda\n  sha256: ${A}\n`;
    await rejectsCode(load(dir, 'pixi.lock', dup), 'TARGET_PARSE_FAILED', /twice with different sha256/);
  });
});

test('file:// packages in a lock (a channel on this machine) are counted as not covered, never an error and never verified', async () => {
  await withDir(async (dir) => {
    const local = 'file:///srv/cf/linux-64/zlib-1.3.1-hb9d3cd8_2.conda';
    await writeFile(join(dir, 'pixi.lock'), PIXI_V6.replaceAll(`${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda`, local));
    const pixi = await loadTargetSet(['pixi.lock'], { cwd: dir });
    assert.equal(pixi.records.some((r) => r.name === 'zlib'), false);
    assert.equal(pixi.notCovered.local, 1, 'listed twice (environment and packages), counted once');
    const cl = readCondaLock({ version: 1, package: [{ name: 'zlib', version: '1.3.1', manager: 'conda', url: local, hash: { sha256: A } }] }, 'conda-lock.yml');
    assert.deepEqual([cl.records.length, cl.notCovered.local], [0, 1]);
    await writeFile(join(dir, 'env.txt'), `@EXPLICIT\n${local}#${A}\n${CF}/noarch/tzdata-2025b-h78e105d_0.conda\n`);
    const ex = await loadTargetSet(['env.txt'], { cwd: dir });
    assert.deepEqual([ex.records.map((r) => r.name), ex.notCovered], [['tzdata'], { pypi: 0, source: 0, local: 1 }]);
    // Other schemes stay input errors.
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V6.replace(`${CF}/linux-64/zlib`, 'ftp://srv/cf/linux-64/zlib')), 'TARGET_INVALID_URL');
  });
});

test('pixi.lock v7 file_name: the package is fetched from its URL but judged under the file name the lock gives', async () => {
  await withDir(async (dir) => {
    const url = 'https://mirror.example/blobs/linux-64/abc123-0-0.conda';
    const lock = `version: 7
platforms:
- name: linux-64
environments:
  default:
    channels:
    - url: https://mirror.example/blobs/
    packages:
      linux-64:
      - conda: ${url}
packages:
- conda: ${url}
  file_name: zlib-1.3.1-hb9d3cd8_2.conda
  sha256: ${A}
`;
    await writeFile(join(dir, 'pixi.lock'), lock);
    const [r] = (await loadTargetSet(['pixi.lock'], { cwd: dir })).records;
    assert.deepEqual([r!.url, r!.filename, r!.name, r!.version, r!.build, r!.sha256], [url, 'zlib-1.3.1-hb9d3cd8_2.conda', 'zlib', '1.3.1', 'hb9d3cd8_2', A]);
    await rejectsCode(load(dir, 'pixi.lock', lock.replace('file_name: zlib-1.3.1-hb9d3cd8_2.conda', 'file_name: ../zlib.conda')), 'TARGET_INVALID_FILENAME');
    await rejectsCode(load(dir, 'pixi.lock', lock.replace('file_name: zlib-1.3.1-hb9d3cd8_2.conda', 'file_name: 7')), 'TARGET_PARSE_FAILED', /file_name/);
  });
});

test('conda-lock.yml: conda entries with hashes; pip entries ignored; malformed rejected', async () => {
  await withDir(async (dir) => {
    const text = `version: 1
metadata:
  platforms: [linux-64]
package:
- name: python
  version: 3.12.0
  manager: conda
  platform: linux-64
  dependencies: {}
  url: ${CF}/linux-64/python-3.12.0-hab00c5b_0_cpython.conda
  hash:
    md5: ${M}
    sha256: ${A}
  category: main
  optional: false
- name: tzdata
  version: 2025b
  manager: conda
  platform: linux-64
  url: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
  hash:
    sha256: ${B}
- name: requests
  version: 2.32.3
  manager: pip
  platform: linux-64
  url: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
  hash:
    sha256: ${B}
`;
    const rs = await load(dir, 'conda-lock.yml', text);
    assert.deepEqual(rs.map((r) => [r.name, r.version, r.build, r.subdir, r.sha256]), [
      ['python', '3.12.0', 'hab00c5b_0_cpython', 'linux-64', A],
      ['tzdata', '2025b', 'h78e105d_0', 'noarch', B],
    ]);
    await rejectsCode(load(dir, 'conda-lock.yml', text.replace('version: 1', 'version: 2')), 'TARGET_UNSUPPORTED');
    await rejectsCode(load(dir, 'conda-lock.yml', text.replace(`md5: ${M}`, 'md5: xyz')), 'TARGET_PARSE_FAILED', /MD5/);
    await rejectsCode(load(dir, 'conda-lock.yml', 'version: 1\npackage: 3\n'), 'TARGET_PARSE_FAILED');
  });
});

test('explicit file: md5 vs sha256 by length, sha256: prefix, comments; malformed rejected with line numbers', async () => {
  await withDir(async (dir) => {
    const text = `# platform: linux-64\n@EXPLICIT\n${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda#${M}\n\n# comment\n${CF}/noarch/tzdata-2025b-h78e105d_0.conda#${B.toUpperCase()}\n${CF}/linux-64/bzip2-1.0.8-h4bc722e_7.conda#sha256:${A}\n${CF}/linux-64/xz-5.6.3-hb9d3cd8_1.conda\n`;
    const rs = await load(dir, 'env.txt', text);
    const by = Object.fromEntries(rs.map((r) => [r.name, r]));
    assert.equal(by.zlib.md5, M);
    assert.equal(by.zlib.sha256, undefined);
    assert.equal(by.tzdata.sha256, B);
    assert.equal(by.tzdata.md5, undefined);
    assert.equal(by.bzip2.sha256, A);
    assert.equal(by.xz.sha256, undefined);
    await rejectsCode(load(dir, 'env.txt', `@EXPLICIT\n${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda#${A.slice(2)}\n`), 'TARGET_PARSE_FAILED', /line 2/);
    await rejectsCode(load(dir, 'env.txt', `${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda\n@EXPLICIT\n`), 'TARGET_PARSE_FAILED', /line 1/);
    await rejectsCode(load(dir, 'env.txt', `@EXPLICIT\nhttps://h/c/linux-64/../zlib-1-0.conda\n`), 'TARGET_INVALID_URL');
  });
});

test('URL and package-file targets; unknown format; missing file; duplicates across targets', async () => {
  await withDir(async (dir) => {
    const url = `${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda`;
    const [r] = await loadTargets([url], { cwd: dir });
    assert.equal(r.url, url);
    await writeFile(join(dir, 'zlib-1.3.1-hb9d3cd8_2.conda'), 'bytes');
    await rejectsCode(loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir }), 'TARGET_NO_CHANNEL');
    const [f] = await loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, channel: 'https://prefix.dev/conda-forge/linux-64/' });
    assert.equal(f.channel, 'https://prefix.dev/conda-forge');
    assert.equal(f.subdir, 'linux-64');
    assert.equal(f.localPath, join(dir, 'zlib-1.3.1-hb9d3cd8_2.conda'));
    assert.equal(f.url, 'https://prefix.dev/conda-forge/linux-64/zlib-1.3.1-hb9d3cd8_2.conda');
    const [g] = await loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, channel: 'https://h/my-channel', platform: 'osx-arm64' });
    assert.equal(g.channel, 'https://h/my-channel');
    assert.equal(g.subdir, 'osx-arm64');
    // `my-channel` looks like <os>-<arch> but is not a platform: the subdir is not taken from
    // it, so it is read from the file, and these bytes are not a conda package: a problem
    // of that package (judged invalid), not of the run.
    const [u] = await loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, channel: 'https://h/my-channel' });
    assert.equal(u.unreadable?.code, 'ARCHIVE_MALFORMED');
    assert.equal(u.subdir, 'unknown');
    assert.equal(u.url, 'https://h/my-channel/unknown/zlib-1.3.1-hb9d3cd8_2.conda');
    // A file kept in a channel-shaped directory names its subdir (`--channel URL` alone works).
    await mkdir(join(dir, 'osx-64'), { recursive: true });
    await writeFile(join(dir, 'osx-64', 'zlib-1.3.1-hb9d3cd8_2.conda'), 'bytes');
    const [h] = await loadTargets(['osx-64/zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, channel: 'https://h/my-channel' });
    assert.equal(h.subdir, 'osx-64');
    assert.equal(h.url, 'https://h/my-channel/osx-64/zlib-1.3.1-hb9d3cd8_2.conda');
    await rejectsCode(loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, channel: 'file:///srv/c/linux-64' }), 'TARGET_INVALID_URL');
    await rejectsCode(loadTargets(['gone-1-0.conda'], { cwd: dir, channel: 'https://h/c/linux-64' }), 'TARGET_NOT_FOUND');
    await rejectsCode(loadTargets(['absent.lock'], { cwd: dir }), 'TARGET_NOT_FOUND');
    await rejectsCode(load(dir, 'random.yml', 'hello: world\n'), 'TARGET_UNSUPPORTED');
    await writeFile(join(dir, 'a.txt'), `@EXPLICIT\n${url}#${A}\n`);
    await writeFile(join(dir, 'b.txt'), `@EXPLICIT\n${url}#${B}\n`);
    await rejectsCode(loadTargets(['a.txt', 'b.txt'], { cwd: dir }), 'TARGET_PARSE_FAILED', /different sha256/);
    assert.equal((await loadTargets(['a.txt', url], { cwd: dir })).length, 1);
  });
});

test('findDefaultTarget: pixi.lock first, then conda-lock.yml, else undefined', async () => {
  await withDir(async (dir) => {
    assert.equal(findDefaultTarget(dir), undefined);
    await writeFile(join(dir, 'conda-lock.yml'), '');
    assert.equal(findDefaultTarget(dir), join(dir, 'conda-lock.yml'));
    await writeFile(join(dir, 'pixi.lock'), '');
    assert.equal(findDefaultTarget(dir), join(dir, 'pixi.lock'));
  });
});

// pixi.lock v7 (rattler_lock FileFormatVersion::V7): a top-level `platforms:` list (names,
// optional subdir, virtual packages), environments keyed by platform NAME, source packages as
// `conda_source: name[hash] @ path` in both the package list and the environment references.
const PIXI_V7 = `version: 7
platforms:
- name: linux-64
  virtual-packages:
  - __unix=0=0
  - __linux=4.18
  - __glibc=2.28
- name: linux-64-cuda
  subdir: linux-64
  virtual-packages:
  - __cuda=12
- name: osx-arm64
environments:
  default:
    channels:
    - url: https://conda.anaconda.org/conda-forge/
    indexes:
    - https://pypi.org/simple
    packages:
      linux-64:
      - conda: ${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
      - conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
      - pypi: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
      - pypi: https://files.pythonhosted.org/packages/x/idna-3.10-py3-none-any.whl
      - conda_source: mypkg[ab12cd34] @ ./recipes/mypkg
      linux-64-cuda:
      - conda: ${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
      osx-arm64:
      - conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
      - pypi: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
  lint:
    channels:
    - url: https://conda.anaconda.org/conda-forge/
    packages:
      linux-64:
      - conda: ${CF}/linux-64/ruff-0.6.0-py312h0_0.conda
      - conda: ../vendored/local-1.0-0.conda
packages:
- conda: ${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
  sha256: ${A.toUpperCase()}
  md5: ${M}
  depends:
  - __glibc >=2.17
  license: Zlib
  size: 123
  timestamp: 1727963148474
- conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda
  sha256: ${B}
  license: LicenseRef-Public-Domain
- conda: ${CF}/linux-64/ruff-0.6.0-py312h0_0.conda
  sha256: ${A}
- conda: ../vendored/local-1.0-0.conda
  sha256: ${B}
- conda_source: mypkg[ab12cd34] @ ./recipes/mypkg
  version: 0.1.0
  build: h0_0
  subdir: linux-64
  variants:
    target_platform: linux-64
  host_packages:
  - conda: ${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
- pypi: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
  name: requests
  version: 2.32.3
- pypi: https://files.pythonhosted.org/packages/x/idna-3.10-py3-none-any.whl
  name: idna
  version: '3.10'
`;

test('pixi.lock v7: platforms by name, every environment once by URL, hashes from the package list; pypi and source counted, not verified', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'pixi.lock'), PIXI_V7);
    const set = await loadTargetSet(['pixi.lock'], { cwd: dir });
    assert.deepEqual(set.records.map((r) => r.filename), [
      'ruff-0.6.0-py312h0_0.conda',
      'zlib-1.3.1-hb9d3cd8_2.conda',
      'tzdata-2025b-h78e105d_0.conda',
    ]);
    const zlib = set.records.find((r) => r.name === 'zlib')!;
    assert.equal(zlib.sha256, A);
    assert.equal(zlib.md5, M);
    assert.equal(zlib.size, 123);
    assert.equal(zlib.channel, CF);
    // Two PyPI wheels (one referenced by two platforms); one source package and one local path.
    assert.deepEqual(set.notCovered, { pypi: 2, source: 2, local: 0 });
    assert.deepEqual(set.inputs, [join(dir, 'pixi.lock')]);
    // The records-only entry point agrees with the full reader.
    assert.deepEqual(parsePixiLock(parseYaml(PIXI_V7), 'pixi.lock').map((r) => r.url), set.records.map((r) => r.url));
  });
});

test('pixi.lock v7: a newer version is TARGET_UNSUPPORTED naming it; structural errors are TARGET_PARSE_FAILED', async () => {
  await withDir(async (dir) => {
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V7.replace('version: 7', 'version: 8')), 'TARGET_UNSUPPORTED', /version 8; supported: 4, 5, 6, 7/);
    // An environment keyed by a platform the `platforms:` list does not name (rattler_lock refuses it too).
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V7.replace('      linux-64-cuda:\n', '      linux-64-rocm:\n')), 'TARGET_PARSE_FAILED', /linux-64-rocm/);
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V7.replace('- name: osx-arm64\n', '- name: linux-64\n')), 'TARGET_PARSE_FAILED', /listed twice/);
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V7.replace('platforms:\n- name: linux-64\n', 'platforms:\n- subdir: linux-64\n')), 'TARGET_PARSE_FAILED', /name/);
    await rejectsCode(load(dir, 'pixi.lock', PIXI_V7.replace('- conda_source: mypkg[ab12cd34] @ ./recipes/mypkg\n  version', '- source: x\n  version')), 'TARGET_PARSE_FAILED', /none of/);
    // A tampered duplicate in v7 as in v6.
    const dup = PIXI_V7 + `- conda: ${CF}/noarch/tzdata-2025b-h78e105d_0.conda\n  sha256: ${A}\n`;
    await rejectsCode(load(dir, 'pixi.lock', dup), 'TARGET_PARSE_FAILED', /twice with different sha256/);
  });
});

test('conda-lock.yml: pip entries are counted as not covered', async () => {
  const doc = {
    version: 1,
    package: [
      { name: 'zlib', version: '1.3.1', manager: 'conda', url: `${CF}/linux-64/zlib-1.3.1-hb9d3cd8_2.conda`, hash: { sha256: A } },
      { name: 'requests', version: '2.32.3', manager: 'pip', url: 'https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl', hash: { sha256: B } },
      { name: 'requests', version: '2.32.3', manager: 'pip', url: 'https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl', hash: { sha256: B } },
      { name: 'idna', version: '3.10', manager: 'pip', url: 'https://files.pythonhosted.org/packages/x/idna-3.10-py3-none-any.whl', hash: { sha256: B } },
    ],
  };
  const got = readCondaLock(doc, 'conda-lock.yml');
  assert.equal(got.records.length, 1);
  assert.deepEqual(got.notCovered, { pypi: 2, source: 0, local: 0 });
});

// Seeded, bounded property (test/helpers/fuzz.ts): whatever a v7 lockfile, or a real v5 one
// (the `kind:`-tagged shape), is mutated into,
// the reader either returns records whose URLs all occur in the file, or throws a
// TargetError; never another exception.
for (const [shape, source] of [['v7', () => PIXI_V7], ['v5', () => readFileSync(join(FIXTURES, 'v5-examples-pypi.lock'), 'utf8')]] as const) test(`property: pixi.lock ${shape} reader on mutated documents ends in records or a TargetError`, async (t) => {
  const junk: unknown[] = [null, 7, 'x', [], {}, [1], { conda: 3 }, { pypi: null }, 'https://h/c/linux-64/a-1-0.conda', '../p', true, -1, { conda_source: 5 }, 'conda', 'pypi', { kind: 'conda' }, { kind: 'pypi', path: 5 }];
  const base = parseYaml(source()) as Record<string, unknown>;
  const paths = (v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] => {
    out.push(prefix);
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, Array.isArray(v) ? Number(k) : k], out);
    return out;
  };
  const all = paths(base).filter((p) => p.length > 0);
  const mutation = fc.record({ at: fc.nat({ max: all.length - 1 }), remove: fc.boolean(), value: fc.constantFrom(...junk) });
  await checkProperty(t, `pixi ${shape} mutations`, [fc.array(mutation, { minLength: 1, maxLength: 3 })], (mutations) => {
    const doc = structuredClone(base);
    for (const m of mutations) {
      const p = all[m.at]!;
      let parent: any = doc;
      for (const k of p.slice(0, -1)) {
        if (parent === null || typeof parent !== 'object') break;
        parent = parent[k];
      }
      if (parent === null || typeof parent !== 'object') continue;
      const last = p[p.length - 1]!;
      if (m.remove) delete parent[last];
      else parent[last] = structuredClone(m.value);
    }
    try {
      const got = readPixiLock(doc, 'fuzz.lock');
      const text = JSON.stringify(doc);
      for (const r of got.records) assert.ok(text.includes(r.url) || text.includes(decodeURI(r.url)), r.url);
      assert.ok(got.notCovered.pypi >= 0 && got.notCovered.source >= 0);
    } catch (e) {
      assert.ok(e instanceof TargetError, `threw ${String(e)}`);
    }
  }, { runs: 400 });
});

test('a local package file whose info/index.json cannot be read is fine when its subdir is known otherwise (--platform, channel, directory)', async () => {
  await withDir(async (dir) => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'osx-arm64'), { recursive: true });
    const garbage = Buffer.from('not an archive at all');
    await writeFile(join(dir, 'zlib-1.3.1-hb9d3cd8_2.conda'), garbage);
    await writeFile(join(dir, 'osx-arm64', 'zlib-1.3.1-hb9d3cd8_2.conda'), garbage);
    const subdirOf = async (target: string, o: { channel: string; platform?: string }) => (await loadTargets([target], { cwd: dir, ...o }))[0]!.subdir;
    assert.equal(await subdirOf('zlib-1.3.1-hb9d3cd8_2.conda', { channel: CF, platform: 'linux-64' }), 'linux-64');
    assert.equal(await subdirOf('zlib-1.3.1-hb9d3cd8_2.conda', { channel: `${CF}/win-64` }), 'win-64');
    assert.equal(await subdirOf('osx-arm64/zlib-1.3.1-hb9d3cd8_2.conda', { channel: CF }), 'osx-arm64');
    for (const o of [{ channel: CF, platform: 'linux-64' }, { channel: `${CF}/win-64` }]) {
      assert.equal((await loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, ...o }))[0]!.unreadable, undefined);
    }
    // Only when the package itself is the one place left to ask does its damage matter,
    // and then as a problem of that package.
    const [r] = await loadTargets(['zlib-1.3.1-hb9d3cd8_2.conda'], { cwd: dir, channel: CF });
    assert.equal(r.unreadable?.code, 'ARCHIVE_MALFORMED');
  });
});

test('mergeRecords: a duplicate that adds a digest fills it in on a copy, never on the input; a duplicate with another digest is refused', () => {
  const url = 'https://conda.example/forge/linux-64/a-1.0-h0_0.conda';
  const bare = recordFromUrl(url);
  const withSha = { ...recordFromUrl(url), sha256: 'a'.repeat(64) };
  const other = { ...recordFromUrl('https://conda.example/forge/linux-64/b-1.0-h0_0.conda'), md5: 'b'.repeat(32) };
  const merged = mergeRecords([other, bare, withSha], 'x.lock');
  assert.deepEqual(merged.map((r) => r.url), [url, other.url], 'deduplicated and sorted by URL');
  assert.equal(merged[0]!.sha256, 'a'.repeat(64));
  assert.equal(bare.sha256, undefined, 'the input record is unchanged');
  assert.equal(merged[1], other, 'a record without duplicates is passed on as it is');
  assert.throws(() => mergeRecords([withSha, { ...withSha, sha256: 'c'.repeat(64) }], 'x.lock'), (e: unknown) => e instanceof TargetError && /twice with different sha256/.test(e.message));
});
