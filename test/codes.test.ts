// The code registry is the single source of the codes table in docs/codes.md, and every code the
// product raises is in it (Reason.code and the error classes are typed by it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODES } from '../src/codes.ts';
import { withCodesTable } from '../scripts/generate-codes-page.ts';

test('docs/codes.md: its codes table is generated from src/codes.ts', () => {
  const page = readFileSync(new URL('../docs/codes.md', import.meta.url), 'utf8');
  assert.equal(page, withCodesTable(page), 'run `npm run generate` after editing src/codes.ts');
});

test('every code is UPPER_SNAKE with a one-line meaning', () => {
  for (const [code, info] of Object.entries(CODES)) {
    assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
    assert.ok(info.meaning.length > 10 && !info.meaning.includes('\n') && info.meaning.endsWith('.'), code);
  }
});
