import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PUBLISH_PREDICATE_TYPE, checkPublishStatement } from '../../src/verify/cep27.ts';

const NAME = 'numpy-1.24.3-py310h5f9d8e6_0.conda';
const SHA = 'a'.repeat(64);
const CHANNEL = 'https://prefix.dev/conda-forge';
const expect = { filename: NAME, sha256: SHA, acceptedChannels: [CHANNEL, 'https://mirror.example/conda-forge'] };

function stmt(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: NAME, digest: { sha256: SHA } }],
    predicateType: PUBLISH_PREDICATE_TYPE,
    predicate: { targetChannel: CHANNEL },
    ...over,
  };
}
const codes = (s: unknown) => checkPublishStatement(s, expect).map((r) => r.code);

test('a valid publish statement passes; predicate may be absent or null; tar.bz2 names work', () => {
  assert.deepEqual(codes(stmt()), []);
  assert.deepEqual(codes(stmt({ predicate: null })), []);
  const { predicate: _, ...noPredicate } = stmt();
  assert.deepEqual(codes(noPredicate), []);
  assert.deepEqual(codes(stmt({ predicate: {} })), []);
  assert.deepEqual(checkPublishStatement(stmt({ subject: [{ name: 'x-1-0.tar.bz2', digest: { sha256: SHA } }] }), { ...expect, filename: 'x-1-0.tar.bz2' }), []);
  assert.deepEqual(codes(stmt({ subject: [{ name: NAME, digest: { sha256: SHA.toUpperCase() } }] })), [], 'hex case does not matter');
});

test('a known mirror channel named by the pipeline is accepted', () => {
  assert.deepEqual(codes(stmt({ predicate: { targetChannel: 'https://mirror.example/conda-forge' } })), []);
});

test('each rule fails on its own with its own code', () => {
  assert.deepEqual(codes('not an object'), ['CEP27_STATEMENT_MALFORMED']);
  assert.deepEqual(codes(stmt({ _type: 'https://in-toto.io/Statement/v0.1' })), ['CEP27_STATEMENT_TYPE']);
  assert.deepEqual(codes(stmt({ predicateType: 'https://slsa.dev/provenance/v1' })), ['CEP27_PREDICATE_TYPE']);
  assert.deepEqual(codes(stmt({ subject: [] })), ['CEP27_SUBJECT_COUNT']);
  assert.deepEqual(codes(stmt({ subject: 'x' })), ['CEP27_SUBJECT_COUNT']);
  assert.deepEqual(codes(stmt({ predicate: 'x' })), ['CEP27_PREDICATE_MALFORMED']);
  assert.deepEqual(codes(stmt({ predicate: { targetChannel: 42 } })), ['CEP27_PREDICATE_MALFORMED']);
  assert.deepEqual(codes(stmt({ predicate: { targetChannel: 'not a url' } })), ['CEP27_PREDICATE_MALFORMED']);
});

test('attacker: two subjects (one right, one for another package)', () => {
  const s = stmt({ subject: [{ name: NAME, digest: { sha256: SHA } }, { name: 'evil-1-0.conda', digest: { sha256: 'b'.repeat(64) } }] });
  assert.deepEqual(codes(s), ['CEP27_SUBJECT_COUNT']);
});

test('attacker: right digest, wrong name', () => {
  assert.deepEqual(codes(stmt({ subject: [{ name: 'numpy-1.24.3-py310h5f9d8e6_1.conda', digest: { sha256: SHA } }] })), ['CEP27_SUBJECT_NAME']);
});

test('attacker: right name, wrong digest (and digests of other algorithms only)', () => {
  assert.deepEqual(codes(stmt({ subject: [{ name: NAME, digest: { sha256: 'b'.repeat(64) } }] })), ['CEP27_SUBJECT_DIGEST']);
  assert.deepEqual(codes(stmt({ subject: [{ name: NAME, digest: { sha512: SHA } }] })), ['CEP27_SUBJECT_DIGEST']);
});

test('attacker: SLSA provenance for the right package is not a publish attestation', () => {
  assert.deepEqual(codes(stmt({ predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: {} } })), ['CEP27_PREDICATE_TYPE']);
});

test('attacker: trailing-slash targetChannel and another channel', () => {
  assert.deepEqual(codes(stmt({ predicate: { targetChannel: CHANNEL + '/' } })), ['CEP27_PREDICATE_MALFORMED']);
  const r = checkPublishStatement(stmt({ predicate: { targetChannel: 'https://prefix.dev/evil' } }), expect);
  assert.deepEqual(r.map((x) => x.code), ['CEP27_TARGET_CHANNEL_MISMATCH']);
  assert.match(r[0]!.message, /https:\/\/prefix\.dev\/evil/);
});

test('every broken rule is reported, in rule order', () => {
  assert.deepEqual(codes({ _type: 'x', predicateType: 'y', subject: [{ name: 'n', digest: {} }], predicate: { targetChannel: 'https://a.b/c' } }), [
    'CEP27_STATEMENT_TYPE',
    'CEP27_PREDICATE_TYPE',
    'CEP27_SUBJECT_NAME',
    'CEP27_SUBJECT_DIGEST',
    'CEP27_TARGET_CHANNEL_MISMATCH',
  ]);
});

test('attacker: a targetChannel judged once is judged the same when asked again (the answer is kept per exact string)', () => {
  // The same strings twice, interleaved with look-alikes that differ in one character: each
  // keeps its own answer.
  const cases: [string, string[]][] = [
    [CHANNEL + '/', ['CEP27_PREDICATE_MALFORMED']],
    [CHANNEL, []],
    ['ftp://conda.anaconda.org/conda-forge', ['CEP27_PREDICATE_MALFORMED']],
    [' ' + CHANNEL, ['CEP27_TARGET_CHANNEL_MISMATCH']],
    ['https://prefix.dev/evil', ['CEP27_TARGET_CHANNEL_MISMATCH']],
  ];
  for (const pass of [1, 2]) {
    for (const [t, want] of cases) assert.deepEqual(codes(stmt({ predicate: { targetChannel: t } })), want, `pass ${pass}: ${JSON.stringify(t)}`);
  }
});
