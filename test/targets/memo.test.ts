// Lockfiles read before (src/targets/index.ts, readLockfileText): a pixi.lock, conda-lock.yml
// or explicit file read once gives exactly the same records, uncovered counts and source
// lines from the memo;
// any other text — one byte changed, another name, a memo damaged or written without this
// machine's key — is parsed, and a text that fails to parse fails the same way every time
// and is never remembered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTargetSet } from '../../src/targets/index.ts';
import { type CheckedTexts, openCheckedTexts } from '../../src/lock/checked.ts';
import { TargetError } from '../../src/errors.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'pixi-lock');
const CONDA_LOCK = `version: 1
metadata:
  platforms: [linux-64]
package:
- name: zlib
  version: 1.3.1
  manager: conda
  platform: linux-64
  url: https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-hb9d3cd8_2.conda
  hash:
    sha256: ${'a'.repeat(64)}
- name: requests
  version: 2.32.3
  manager: pip
  platform: linux-64
  url: https://files.pythonhosted.org/packages/x/requests-2.32.3-py3-none-any.whl
  hash:
    sha256: ${'b'.repeat(64)}
`;

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-targets-memo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = randomBytes(32);
  const memoFile = join(dir, 'cache', 'targets-read-v1.json');
  /** The memo as the CLI opens it, counting the texts it answered for. */
  const memo = () => {
    const m = openCheckedTexts(memoFile, key, 4);
    const spy = { answered: 0 } as CheckedTexts & { answered: number };
    return Object.assign(spy, {
      digest: m.digest,
      has: m.has,
      add: m.add,
      result: (d: string) => {
        const r = m.result(d);
        if (r !== undefined) spy.answered++;
        return r;
      },
    });
  };
  const read = (name: string, m?: CheckedTexts) => loadTargetSet([name], { cwd: dir, memo: m && (() => m) });
  return { dir, key, memoFile, memo, read };
}

test('a pixi.lock read before gives the same records, counts and source lines from the memo', async (t) => {
  const { dir, memo, memoFile, read } = setup(t);
  for (const fixture of ['v6-examples-pypi.lock', 'v7-pixi-repo.lock', 'v4-pixi-repo.lock']) {
    copyFileSync(join(FIXTURES, fixture), join(dir, 'pixi.lock'));
    const parsed = await read('pixi.lock'); // no memo at all
    const first = memo();
    assert.deepEqual(await read('pixi.lock', first), parsed, fixture);
    assert.equal(first.answered, 0, 'a text never seen is parsed');
    assert.ok(existsSync(memoFile), 'and remembered');
    const second = memo();
    const again = await read('pixi.lock', second);
    assert.equal(second.answered, 1, `${fixture}: the second read comes from the memo`);
    assert.deepEqual(again, parsed, fixture);
    assert.ok(again.records.length > 0 && again.records.every((r) => r.source?.file === 'pixi.lock' && r.source.line > 0), 'source lines kept');
    assert.equal(JSON.stringify(again), JSON.stringify(parsed), 'same key order and values');
  }
});

test('a conda-lock.yml read before gives the same records and counts from the memo', async (t) => {
  const { dir, memo, read } = setup(t);
  writeFileSync(join(dir, 'conda-lock.yml'), CONDA_LOCK);
  const parsed = await read('conda-lock.yml');
  assert.equal(parsed.notCovered.pypi, 1);
  await read('conda-lock.yml', memo());
  const m = memo();
  assert.deepEqual(await read('conda-lock.yml', m), parsed);
  assert.equal(m.answered, 1);
});

test('an explicit file read before gives the same records and source lines from the memo', async (t) => {
  const { dir, memo, read } = setup(t);
  const lines = ['# platform: linux-64', '@EXPLICIT'];
  for (let i = 0; i < 50; i++) lines.push(`https://conda.anaconda.org/conda-forge/linux-64/p${i}-1.0-h0_0.conda#${i.toString(16).padStart(64, 'a')}`);
  lines.push('file:///home/me/local-1.0-0.conda', `https://repo.example/main/noarch/q-2.0-py_0.tar.bz2#${'b'.repeat(32)}`);
  writeFileSync(join(dir, 'env.txt'), lines.join('\n') + '\n');
  const parsed = await read('env.txt');
  assert.equal(parsed.records.length, 51);
  assert.equal(parsed.notCovered.local, 1);
  await read('env.txt', memo());
  const m = memo();
  const again = await read('env.txt', m);
  assert.equal(m.answered, 1);
  assert.equal(JSON.stringify(again), JSON.stringify(parsed));
});

test('a changed lockfile is parsed again, and a text read under another name too (its lines name that file)', async (t) => {
  const { dir, memo, read } = setup(t);
  writeFileSync(join(dir, 'conda-lock.yml'), CONDA_LOCK);
  await read('conda-lock.yml', memo());
  const changed = CONDA_LOCK.replace('a'.repeat(64), 'c'.repeat(64));
  writeFileSync(join(dir, 'conda-lock.yml'), changed);
  const m = memo();
  const got = await read('conda-lock.yml', m);
  assert.equal(m.answered, 0, 'one changed digest is another text');
  assert.equal(got.records[0]!.sha256, 'c'.repeat(64));
  writeFileSync(join(dir, 'other.yml'), changed);
  const n = memo();
  const other = await read('other.yml', n);
  assert.equal(n.answered, 0, 'the name is part of what is remembered');
  assert.equal(other.records[0]!.source?.file, 'other.yml');
});

test('attack: an entry written without the key does not change what a lockfile reads as', async (t) => {
  const { dir, memo, memoFile, read } = setup(t);
  writeFileSync(join(dir, 'conda-lock.yml'), CONDA_LOCK);
  const parsed = await read('conda-lock.yml');
  // Someone who can write cache_dir but does not hold the key: a well-formed entry for this
  // very text that names another package file and digest.
  const forged = structuredClone(parsed);
  forged.records[0]!.url = 'https://evil.example/linux-64/zlib-1.3.1-hb9d3cd8_2.conda';
  forged.records[0]!.sha256 = 'd'.repeat(64);
  const otherKey = randomBytes(32);
  const mac = (s: string) => createHmac('sha256', otherKey).update(s).digest('hex');
  const digest = mac(`conda-lock.yml\n${CONDA_LOCK}`);
  const result = JSON.stringify(forged);
  mkdirSync(join(dir, 'cache'), { recursive: true });
  writeFileSync(memoFile, JSON.stringify([[digest, result, mac(`${digest}\n${result}`)]]));
  const m = memo();
  assert.deepEqual(await read('conda-lock.yml', m), parsed);
  assert.equal(m.answered, 0);
});

test('attack: a remembered result swapped for another (its MAC kept) is not taken', async (t) => {
  const { dir, memo, memoFile, read } = setup(t);
  writeFileSync(join(dir, 'conda-lock.yml'), CONDA_LOCK);
  const parsed = await read('conda-lock.yml', memo());
  const [[digest, result, mac]] = JSON.parse(readFileSync(memoFile, 'utf8')) as [string, string, string][];
  const swapped = result!.replace('a'.repeat(64), 'd'.repeat(64));
  assert.notEqual(swapped, result);
  writeFileSync(memoFile, JSON.stringify([[digest, swapped, mac]]));
  const m = memo();
  assert.deepEqual(await read('conda-lock.yml', m), parsed);
  assert.equal(m.answered, 0);
});

test('a damaged memo file is an empty one: the lockfile is parsed and remembered again', async (t) => {
  const { dir, memo, memoFile, read } = setup(t);
  copyFileSync(join(FIXTURES, 'v6-examples-pypi.lock'), join(dir, 'pixi.lock'));
  const parsed = await read('pixi.lock', memo());
  for (const junk of ['', '{', 'null', '[1,2]', JSON.stringify([['x', 'y', 'z']])]) {
    writeFileSync(memoFile, junk);
    const m = memo();
    assert.deepEqual(await read('pixi.lock', m), parsed, junk);
    assert.equal(m.answered, 0);
    const n = memo();
    await read('pixi.lock', n);
    assert.equal(n.answered, 1, `${JSON.stringify(junk)}: rewritten with a good entry`);
  }
});

test('a lockfile that fails to parse fails the same way every time and is never remembered', async (t) => {
  const { dir, memo, memoFile, read } = setup(t);
  const texts = [
    'version: 6\nenvironments: {}\npackages:\n- conda: [\n', // YAML syntax
    'version: 99\nenvironments: {}\npackages: []\n', // unsupported version
    'version: 6\nenvironments: {}\npackages: {}\n', // malformed
    'just: a mapping\n', // not a lockfile
    '@EXPLICIT\nhttps://conda.anaconda.org/c/linux-64/p-1.0-0.conda#xyz\n', // explicit, a bad digest
  ];
  for (const text of texts) {
    writeFileSync(join(dir, 'pixi.lock'), text);
    const errors: string[] = [];
    for (const m of [undefined, memo(), memo()]) {
      await assert.rejects(read('pixi.lock', m), (e: unknown) => {
        assert.ok(e instanceof TargetError);
        errors.push(`${e.code} ${e.message} ${e.hint}`);
        return true;
      });
    }
    assert.equal(new Set(errors).size, 1, `${JSON.stringify(text)}: the same error with and without the memo`);
    assert.equal(existsSync(memoFile), false, 'nothing remembered');
  }
});
