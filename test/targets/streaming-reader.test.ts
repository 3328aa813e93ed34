// Big lockfiles are read entry by entry, each package entry reduced to the fields the
// reader reads as it is parsed (src/targets/lockfiles.ts keepReadFields over
// src/targets/yaml-split.ts). That reader must give exactly what the whole-document parse
// gives: the same records (lines included), the same not-covered counts, the same error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { AttestError } from '../../src/errors.ts';
import { parseYamlTargetWithLines, readCondaLock, readPixiLock } from '../../src/targets/lockfiles.ts';
import { parseSplitYaml } from '../../src/targets/yaml-split.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';

type Reader = typeof readPixiLock;

/** What a reader makes of `text`: its contents, or the error's code and message. */
function outcome(text: string, read: Reader, split: boolean, minLines: number): unknown {
  try {
    const { doc, lines } = parseYamlTargetWithLines(text, 'env.lock', split ? { splitMinBytes: 0, splitMinLines: minLines } : { splitMinBytes: Infinity });
    return read(doc, 'env.lock', lines);
  } catch (e) {
    assert.ok(e instanceof AttestError, `not an AttestError: ${e instanceof Error ? e.stack : String(e)}`);
    return { code: e.code, message: e.message };
  }
}

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const filename = fc.tuple(fc.constantFrom('numpy', 'python', 'libgcc', '_openmp_mutex', 'six'), fc.constantFrom('1.0', '3.12.1', '2024.1'), fc.constantFrom('h1234_0', 'py312_1', '0'), fc.constantFrom('.conda', '.tar.bz2')).map(([n, v, b, e]) => `${n}-${v}-${b}${e}`);
const condaUrl = fc.tuple(fc.constantFrom('https://conda.example/forge', 'https://prefix.dev/conda-forge', 'http://127.0.0.1:1/ch'), fc.constantFrom('linux-64', 'noarch', 'osx-arm64'), filename).map((p) => p.join('/'));
/** Locations a real lockfile holds, and some no real one does. */
const location = fc.oneof(
  { weight: 6, arbitrary: condaUrl },
  fc.constantFrom('.', './src/pkg', 'file:///srv/channel/linux-64/x-1-0.conda', 'https://pypi.example/files/six-1.16.0-py2.py3-none-any.whl'),
  hostileString(24),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
);
const digest = (n: number) => fc.oneof({ weight: 5, arbitrary: hex(n) }, hex(n).map((s) => s.toUpperCase()), fc.constant('xyz'), fc.integer());
/** What else an entry carries (never read, dropped while reading). */
const extra = fc.record(
  {
    depends: fc.array(fc.constantFrom('python >=3.12,<3.13.0a0', '__glibc >=2.17', 'libgcc >=13'), { maxLength: 3 }),
    constrains: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
    license: fc.constantFrom('MIT', 'BSD-3-Clause'),
    purls: fc.array(fc.constant('pkg:pypi/six'), { maxLength: 1 }),
    timestamp: fc.nat(),
    requires_dist: fc.array(fc.constant('numpy>=1'), { maxLength: 2 }),
    description: fc.constantFrom('one line', 'two\nlines\n', '# not a comment'),
  },
  { requiredKeys: [] },
);
const hashes = fc.record({ sha256: digest(64), md5: digest(32), size: fc.oneof(fc.nat(), fc.constant('12'), fc.constant(-1)) }, { requiredKeys: [] });
/** A `packages:` entry in the shape of any pixi.lock version (v4/v5 `kind`, v6/v7 location keys). */
const pixiEntry = fc.oneof(
  fc.tuple(fc.record({ conda: location }), hashes, extra, fc.option(fc.oneof(filename, fc.integer()), { nil: undefined })).map(([l, h, x, f]) => ({ ...l, ...h, ...x, ...(f === undefined ? {} : { file_name: f }) })),
  fc.tuple(fc.record({ pypi: location }), extra).map(([l, x]) => ({ ...l, ...x })),
  fc.record({ conda_source: fc.oneof(fc.constant('mypkg[abc123] @ ./src'), fc.integer()) }),
  fc.tuple(fc.record({ kind: fc.constantFrom('conda', 'pypi', 'other'), url: location, path: location }, { requiredKeys: ['kind'] }), hashes, extra).map(([k, h, x]) => ({ ...k, ...h, ...x })),
  fc.constantFrom('not a mapping', 7, null),
);
/** A pixi.lock: `environments` referring to some entries (and to unknown URLs), and the entries, duplicates included. */
const pixiDoc = fc
  .tuple(
    fc.constantFrom(4, 5, 6, 7, 7, 6, 8, '6'),
    fc.array(pixiEntry, { maxLength: 8 }),
    fc.array(fc.nat(), { maxLength: 3 }),
    fc.array(fc.oneof(condaUrl.map((u) => ({ conda: u })), fc.constant({ pypi: 'https://pypi.example/x.whl' }), fc.constant({ conda_source: 'a[1] @ .' }), fc.constant({ other: 1 })), { maxLength: 3 }),
    fc.constantFrom(['linux-64'], ['linux-64', 'osx-arm64']),
    fc.boolean(),
  )
  .map(([version, entries, dupes, refs, platforms, listPlatforms]) => {
    // Duplicates: an entry again, with its own or another digest (merged, or an input error).
    const packages: unknown[] = [...entries];
    for (const d of dupes) if (entries.length) packages.push({ ...(entries[d % entries.length] as object), ...(d % 2 ? { sha256: 'b'.repeat(64) } : {}) });
    const located = entries.flatMap((e) => (typeof e === 'object' && e !== null && 'conda' in e ? [{ conda: e.conda }] : []));
    const byPlatform = Object.fromEntries(platforms.map((p, i) => [p, i === 0 ? [...located, ...refs] : refs]));
    return {
      version,
      environments: { default: { channels: [{ url: 'https://conda.example/forge/' }], packages: byPlatform } },
      ...(listPlatforms ? { platforms: platforms.map((name) => ({ name })) } : {}),
      packages,
    };
  });
const condaLockEntry = fc.oneof(
  fc.tuple(fc.record({ name: fc.constantFrom('numpy', 'six'), version: fc.constantFrom('1.0', '2'), manager: fc.constantFrom('conda', 'conda', 'pip', 'other'), platform: fc.constant('linux-64'), url: location, hash: fc.oneof(fc.record({ sha256: digest(64), md5: digest(32) }, { requiredKeys: [] }), fc.constant('x')) }, { requiredKeys: ['manager'] }), extra, fc.option(fc.nat(), { nil: undefined })).map(([e, x, size]) => ({ ...e, ...x, ...(size === undefined ? {} : { size }) })),
  fc.constantFrom('not a mapping', null),
);
const condaLockDoc = fc.tuple(fc.constantFrom(1, 1, 2), fc.array(condaLockEntry, { maxLength: 8 })).map(([version, pkgs]) => ({ version, metadata: { platforms: ['linux-64'] }, package: pkgs }));

test('property: the streaming reader (entries kept as read) and the whole-document parse agree on generated lockfiles', async (t) => {
  let splitAnswered = 0;
  let cases = 0;
  await checkProperty(
    t,
    'streaming reader = whole document',
    [fc.oneof(pixiDoc.map((d) => ['pixi', d] as const), condaLockDoc.map((d) => ['conda-lock', d] as const)), fc.constantFrom(0, 2), fc.boolean(), fc.nat(3)],
    ([kind, doc], indentSeq, crlf, minLines) => {
      let text = stringify(doc, { indentSeq: indentSeq === 2 });
      if (crlf) text = text.replace(/\n/g, '\r\n');
      const read: Reader = kind === 'pixi' ? readPixiLock : readCondaLock;
      cases++;
      if (parseSplitYaml(text, (c) => parse(c, { maxAliasCount: 1000 }), { minLines }) !== undefined) splitAnswered++;
      assert.deepEqual(outcome(text, read, true, minLines), outcome(text, read, false, minLines));
    },
    { runs: 300 },
  );
  // The property has teeth only if the split reader answers (it declines what it cannot cut).
  assert.ok(splitAnswered > cases / 2, `the split reader answered ${splitAnswered} of ${cases} cases`);
});

test('entries are kept reduced to the fields read, with strings that are their own', () => {
  const text = [
    'version: 6',
    'environments:',
    '  default:',
    '    packages:',
    '      linux-64:',
    '      - conda: https://conda.example/forge/linux-64/a-1-0.conda',
    'packages:',
    '- conda: https://conda.example/forge/linux-64/a-1-0.conda',
    `  sha256: ${'a'.repeat(64)}`,
    '  depends:',
    '  - python >=3.12',
    '  license: MIT',
    '  size: 12',
    '',
  ].join('\n');
  const { doc } = parseYamlTargetWithLines(text, 'pixi.lock', { splitMinBytes: 0, splitMinLines: 1 });
  assert.deepEqual((doc as { packages: unknown[] }).packages, [{ conda: 'https://conda.example/forge/linux-64/a-1-0.conda', sha256: 'a'.repeat(64), size: 12 }]);
  assert.deepEqual(readPixiLock(doc, 'pixi.lock').records.map((r) => r.sha256), ['a'.repeat(64)]);
});

test('real pixi.lock files (v4-v7, test/fixtures/pixi-lock): the streaming reader gives what the whole parse gives', () => {
  const dir = new URL('../fixtures/pixi-lock/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.lock'));
  assert.ok(files.length >= 6);
  for (const f of files) {
    const text = readFileSync(new URL(f, dir), 'utf8');
    for (const minLines of [0, 1, 5, 2000]) {
      assert.ok(parseSplitYaml(text, (c) => parse(c), { minLines }) !== undefined, `${f} is split`);
      const streamed = outcome(text, readPixiLock, true, minLines) as { records: unknown[] };
      assert.ok(streamed.records.length > 0, f);
      assert.deepEqual(streamed, outcome(text, readPixiLock, false, minLines), `${f}, minLines ${minLines}`);
    }
  }
});
