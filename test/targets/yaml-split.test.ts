// Big lockfiles are parsed entry by entry (src/targets/yaml-split.ts). Whenever the split
// parser answers, it must give exactly what the whole-document parse gives; for anything
// unusual it must decline (and the whole parse then reports errors as before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { parseSplitYaml } from '../../src/targets/yaml-split.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';

const whole = (t: string): unknown => parse(t, { maxAliasCount: 1000 });
const split = (t: string, minLines = 1): unknown => parseSplitYaml(t, whole, { minLines });

test('a pixi.lock-shaped document splits into the same value, at every depth', () => {
  const text = [
    'version: 6',
    'environments:',
    '  default:',
    '    channels:',
    '    - url: https://conda.example/forge/',
    '    packages:',
    '      linux-64:',
    '      - conda: https://conda.example/forge/linux-64/a-1-0.conda',
    '      # a comment',
    '      - conda: https://conda.example/forge/linux-64/b-1-0.conda',
    '# top-level comment',
    'packages:',
    '- conda: https://conda.example/forge/linux-64/a-1-0.conda',
    "  sha256: '0e12'",
    '  depends:',
    '  - python_abi 3.12.* *_cp312',
    '  description: |',
    '    # not a comment',
    '',
    '    two lines',
    '- conda: https://conda.example/forge/linux-64/b-1-0.conda\r',
    '  size: 12',
    '',
  ].join('\n');
  assert.deepEqual(split(text), whole(text));
  assert.deepEqual(split(text, 2000), whole(text));
});

test('unusual documents are declined, never answered differently', () => {
  for (const text of [
    '',
    '# only a comment\n',
    '%YAML 1.2\n---\na: 1\n',
    'a: 1\na: 2\n',
    '"quoted": 1\n',
    '? complex\n: 1\n',
    'a: &x [1]\nb: *x\n', // alias across entries
    '- 1\n- 2\n',
    'a:\n\t- 1\n',
    'a: [\n1]\nb: 2\n',
  ]) {
    const got = split(text);
    if (got !== undefined) assert.deepEqual(got, whole(text), JSON.stringify(text));
  }
  assert.equal(split('a: &x [1]\nb: *x\n'), undefined);
  assert.equal(split('a: 1\na: 2\n'), undefined);
});

test('block scalars keep what the whole parse keeps: trailing breaks (|+) and spaces on blank lines', () => {
  // Found by `npm run fuzz`: a chunk lost the line break after its last line.
  const keep = 'version:\n  version:\n    version:\n      version: |+\n        \n    other: false\n';
  assert.deepEqual(split(keep, 0), whole(keep));
  const spaces = 'a:\n  b: |\n    x\n       \n    y\n  c: 1\n';
  assert.deepEqual(split(spaces, 0), whole(spaces));
  const noEol = 'a:\n  b: |+\n    x';
  assert.deepEqual(split(noEol, 0), whole(noEol));
});

test('property: the split parse equals the whole parse whenever it answers', async (t) => {
  const leaf = fc.oneof(hostileString(16), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('0e12', 'yes', '*_cp312', '# x', '- y', 'a: b', '|', 'multi\nline\n'));
  const key = fc.oneof(fc.constantFrom('version', 'packages', 'environments', 'conda', 'sha256', 'depends', 'a.b', 'x-y', '__proto__'), hostileString(8));
  const tree = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('seq'), tie('map')),
    seq: fc.array(tie('node'), { maxLength: 4 }),
    map: fc.dictionary(key, tie('node'), { maxKeys: 4 }),
  }));
  await checkProperty(
    t,
    'yaml split = whole',
    [fc.dictionary(key, tree.node, { minKeys: 1, maxKeys: 5 }), fc.constantFrom(0, 2), fc.boolean(), fc.nat(3)],
    (doc, indentSeq, crlf, minLines) => {
      let text = stringify(doc, { indentSeq: indentSeq === 2 });
      if (crlf) text = text.replace(/\n/g, '\r\n');
      let expected: unknown;
      try {
        expected = whole(text);
      } catch {
        assert.equal(split(text, minLines), undefined);
        return;
      }
      const got = split(text, minLines);
      if (got !== undefined) assert.deepEqual(got, expected);
    },
    { runs: 300 },
  );
});
