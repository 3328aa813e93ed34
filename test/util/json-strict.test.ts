// The duplicate-key scan of reviewed JSON (src/util/json-strict.ts) must refuse a hostile,
// deeply nested document with its own error instead of overflowing the stack: every caller
// turns that into its code (config CONFIG_INVALID, lockfile LOCK_CORRUPT, trusted root
// TRUST_ROOT_MALFORMED), never a crash and never a document that was only half checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findDuplicateKey, JsonTooDeepError, MAX_JSON_DEPTH, parseStrictJson } from '../../src/util/json-strict.ts';
import { parseLock } from '../../src/lock/file.ts';
import { parseTrustedRoot } from '../../src/verify/trust-root-validate.ts';
import { AttestError } from '../../src/errors.ts';

const nestedArrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
const nestedObjects = (n: number, inner = '1') => '{"a":'.repeat(n) + inner + '}'.repeat(n);

test('attack: 100,000 nested arrays or objects are JsonTooDeepError, not a stack overflow', () => {
  assert.throws(() => findDuplicateKey(nestedArrays(100_000)), JsonTooDeepError);
  assert.throws(() => parseStrictJson(nestedObjects(100_000)), JsonTooDeepError);
});

test('the bound is exact: MAX_JSON_DEPTH levels are scanned (a duplicate at the bottom is found), one more is refused', () => {
  const dupAtBottom = nestedObjects(MAX_JSON_DEPTH - 1, '{"k":1,"k":2}');
  assert.equal(findDuplicateKey(dupAtBottom)?.key, 'k');
  assert.throws(() => findDuplicateKey(nestedObjects(MAX_JSON_DEPTH, '{"k":1,"k":2}')), JsonTooDeepError);
  // Depth is counted over arrays and objects alike, and closing a level frees it.
  assert.equal(findDuplicateKey(`[${Array.from({ length: 200 }, () => nestedArrays(MAX_JSON_DEPTH - 1)).join(',')}]`), undefined);
});

test('attack: a deeply nested lockfile is LOCK_CORRUPT and a deeply nested trusted_root.json TRUST_ROOT_MALFORMED', () => {
  const lock = `{"version":1,"packages":${nestedObjects(50_000)}}`;
  assert.throws(() => parseLock(lock, 'conda-attest.lock'), (e: unknown) => e instanceof AttestError && e.code === 'LOCK_CORRUPT' && /nested more than 64 levels/.test(e.message));
  const root = Buffer.from(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":${nestedArrays(50_000)}}`);
  assert.throws(() => parseTrustedRoot(root, 'root.json'), (e: unknown) => e instanceof AttestError && e.code === 'TRUST_ROOT_MALFORMED');
});
