// The streamed --json rendering is exactly the report object, in one valid JSON document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderJson, renderJsonChunks, reportToJson } from '../../src/report/json.ts';
import { buildReport } from '../../src/report/build.ts';
import { FORMATS } from '../../src/report/formats.ts';
import { locateNothing } from '../../src/report/locations.ts';
import type { PackageReport } from '../../src/types.ts';

const row = (i: number): PackageReport => ({
  filename: `p${i}-1.0-h0_0.conda`, name: `p${i}`, version: '1.0', build: 'h0_0', channel: 'https://c.example/ch', subdir: 'noarch',
  url: `https://c.example/ch/noarch/p${i}-1.0-h0_0.conda`, sha256: 'a'.repeat(64), digest_source: 'lockfile', status: 'verified', action: 'pass',
  identity: { kind: 'github', san: 'https://github.com/o/r/.github/workflows/b.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com', sourceRepositoryId: '1' },
  reasons: [{ code: 'NO_ATTESTATIONS', message: 'a "quoted"\nline' }], notes: ['recorded'], sidecar: null, bundles: [],
});

for (const n of [0, 1, 3]) {
  test(`${n} package(s): the chunks parse to reportToJson's object`, () => {
    const report = buildReport(Array.from({ length: n }, (_, i) => row(i)), { source: 's', digest: 'b'.repeat(64), ageDays: 1, warnings: ['w'] });
    const text = [...renderJsonChunks(report)].join('');
    assert.deepEqual(JSON.parse(text), reportToJson(report));
    assert.equal(renderJson(report), text);
    assert.ok(text.endsWith('}\n'));
    assert.equal(text.split('\n').filter((l) => l.startsWith('    {')).length, n, 'one line per package');
  });
}

test('--format json over many 64 KiB pieces: the same document as renderJson, with every `##[` escaped', async () => {
  // Enough packages for several pieces, each carrying a runner command in a message.
  const rows = Array.from({ length: 400 }, (_, i) => ({ ...row(i), reasons: [{ code: 'NO_ATTESTATIONS' as const, message: `##[stop-commands]t${i} and ###[group]x` }] }));
  const report = buildReport(rows, { source: 's', digest: 'b'.repeat(64), ageDays: 1, warnings: ['##[warning]w'] });
  const pieces = [...(await FORMATS.json.render(report, { locate: locateNothing, color: false, verbose: false, version: '0.0.0' }))];
  assert.ok(pieces.length > 1, 'the rendering is written in several pieces');
  const text = pieces.join('');
  assert.equal(text.includes('##['), false, 'no runner command left in the output');
  assert.equal(text, renderJson(report).replaceAll('##[', '#\\u0023['));
  assert.deepEqual(JSON.parse(text), reportToJson(report), 'the escape changes no JSON value');
});
