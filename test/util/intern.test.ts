// internStrings changes which copy of a string the data holds, never the data itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { internStrings } from '../../src/util/intern.ts';

const outcome = (i: number) => ({
  index: 0,
  publish: true,
  verified: i % 2 === 0,
  identity: { kind: 'github', san: `https://github.com/org/pkg${i}/.github/workflows/b.yml@refs/heads/main`, issuer: 'https://token.actions.githubusercontent.com' },
  reasons: i % 3 === 0 ? [{ code: 'X', message: 'm', hint: 'h' }] : [],
  evidence: { tlog: { log_index: String(i), inclusion_proof: null, inclusion_promise: true }, timestamps: [], long: 'z'.repeat(600 + i) },
  tlog: i % 2 === 0,
});

test('interned outcomes are equal to what they were, nested arrays and objects included, past the table bound', () => {
  // More distinct strings than the table holds: it is cleared on the way, values stay right.
  const list = Array.from({ length: 5000 }, (_, i) => [outcome(i), outcome(i)]);
  const before = JSON.stringify(list);
  const out = internStrings(list);
  assert.equal(out, list, 'in place');
  assert.equal(JSON.stringify(out), before);
});

test('values that are not plain strings pass through untouched', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const v = { n: 1, b: false, z: null, u: undefined, bytes, s: 's' };
  internStrings(v);
  assert.deepEqual(v, { n: 1, b: false, z: null, u: undefined, bytes: new Uint8Array([1, 2, 3]), s: 's' });
  assert.equal(v.bytes, bytes);
  assert.equal(internStrings('x'), 'x');
  assert.equal(internStrings(null), null);
});
