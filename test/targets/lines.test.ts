// Line numbers kept from parsing (for CI annotations): seeded, bounded property test over
// generated pixi.lock, conda-lock.yml and explicit files with comments, blank lines, extra
// keys, flow and block styles and CRLF line ends. Each record's `source.line` must be the
// line where the generator wrote that package's entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCondaLock, parseExplicit, parsePixiLock, parseYamlTargetWithLines } from '../../src/targets/lockfiles.ts';

/** Deterministic PRNG (mulberry32): the same seed gives the same cases on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SHA = (i: number) => `ab${i.toString(16)}`.padEnd(64, 'c');

interface Case {
  text: string;
  expected: Map<string, number>;
}

function gen(kind: 'pixi' | 'conda-lock' | 'explicit', r: () => number): Case {
  const lines: string[] = [];
  const expected = new Map<string, number>();
  const n = 1 + Math.floor(r() * 12);
  const urls = Array.from({ length: n }, (_, i) => `https://h.example/ch${Math.floor(r() * 3)}/noarch/p${i}-1.${i}-h${i}_0.conda`);
  const noise = () => {
    if (r() < 0.3) lines.push('');
    if (r() < 0.3) lines.push(`${' '.repeat(Math.floor(r() * 4))}# comment ${Math.floor(r() * 100)}`);
  };
  if (kind === 'explicit') {
    lines.push('# platform: linux-64');
    noise();
    lines.push('@EXPLICIT');
    urls.forEach((u, i) => {
      noise();
      expected.set(u, lines.length + 1);
      lines.push(r() < 0.5 ? `${u}#${SHA(i)}` : u);
    });
  } else if (kind === 'pixi') {
    // v7 (platforms listed by name) and v6 share the `packages:` list shape.
    if (r() < 0.5) lines.push('version: 7', 'platforms:', '- name: linux-64');
    else lines.push('version: 6');
    lines.push('environments:', '  default:', '    channels:', '    - url: https://h.example/ch0/', '    packages:', '      linux-64:');
    for (const u of urls) lines.push(`      - conda: ${u}`);
    noise();
    lines.push('packages:');
    urls.forEach((u, i) => {
      noise();
      if (r() < 0.2) {
        expected.set(u, lines.length + 1);
        lines.push(`- { conda: "${u}", sha256: ${SHA(i)} }`);
        return;
      }
      const first = r() < 0.5 ? `conda: ${u}` : `sha256: ${SHA(i)}`;
      expected.set(u, lines.length + 1);
      lines.push(`- ${first}`);
      if (r() < 0.5) lines.push('  depends:', '  - python >=3.9');
      noise();
      lines.push(first.startsWith('conda') ? `  sha256: ${SHA(i)}` : `  conda: ${u}`);
      if (r() < 0.5) lines.push(`  size: ${i * 10}`);
    });
  } else {
    lines.push('version: 1', 'metadata:', '  platforms: [linux-64]', 'package:');
    urls.forEach((u, i) => {
      noise();
      expected.set(u, lines.length + 1);
      lines.push(`- name: p${i}`, `  version: 1.${i}`, '  manager: conda', '  platform: linux-64');
      if (r() < 0.5) lines.push('  dependencies:', '    python: ">=3.9"');
      noise();
      lines.push(`  url: ${u}`, '  hash:', `    sha256: ${SHA(i)}`);
    });
  }
  const eol = r() < 0.25 ? '\r\n' : '\n';
  return { text: lines.join(eol) + eol, expected };
}

// `split`: the entry-by-entry parse big lockfiles get (forced here on small ones), whose
// lines must be the whole-document parse's.
for (const [kind, split] of [['pixi', false], ['conda-lock', false], ['explicit', false], ['pixi', true], ['conda-lock', true]] as const) {
  test(`${kind}${split ? ' (parsed entry by entry, as big files are)' : ''}: every record's line is the line of its entry (200 seeded cases)`, () => {
    const r = rng(kind.length * 7919);
    for (let c = 0; c < 200; c++) {
      const { text, expected } = gen(kind, r);
      let records;
      if (kind === 'explicit') records = parseExplicit(text, 'env.txt');
      else {
        const { doc, lines } = parseYamlTargetWithLines(text, 'env.lock', split ? { splitMinBytes: 0 } : {});
        records = kind === 'pixi' ? parsePixiLock(doc, 'env.lock', lines) : parseCondaLock(doc, 'env.lock', lines);
      }
      assert.equal(records.length, expected.size, `case ${c}`);
      for (const rec of records) {
        assert.deepEqual(rec.source, { file: kind === 'explicit' ? 'env.txt' : 'env.lock', line: expected.get(rec.url) }, `case ${c}:\n${text}`);
      }
    }
  });
}

test('YAML syntax errors from the located parse keep their line number', () => {
  assert.throws(() => parseYamlTargetWithLines('version: 6\npackages:\n- conda: [\n', 'x.lock'), /TARGET_PARSE_FAILED|x\.lock is not valid YAML at line \d/);
  assert.throws(() => parseYamlTargetWithLines('a: 1\na: 2\n', 'dup.lock'), (e: Error & { code?: string }) => e.code === 'TARGET_PARSE_FAILED');
});
