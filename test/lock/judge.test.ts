// The pure lock judgement and first-use settling (src/lock/judge.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import { lockJudgement, settleFirstUse } from '../../src/lock/judge.ts';
import { emptyLock } from '../../src/lock/types.ts';
import { CH, gh } from './fixtures.ts';

const D = '2026-01-01';
const first = (version: string, ids: ReturnType<typeof gh>[]) => decide(emptyLock(), { channel: CH, name: 'numpy', version }, ids, D);
const OTHER = gh({ repo: 'evil-org/numpy-feedstock' });

test('first use that agrees: incoming unchanged, recorded', () => {
  const [a, b] = [first('1.0', [gh()]), first('1.1', [gh()])];
  assert.deepEqual(settleFirstUse([a], [b]), [b]);
  assert.deepEqual(lockJudgement(b, false, 'x.lock'), { reasons: [], notes: ['recorded'] });
});

test('attack: a second signer among first-use files judged together: each is IDENTITY_INCONSISTENT, nothing pinned', () => {
  const settled = settleFirstUse([], [first('1.0', [gh()]), first('1.0', [OTHER])]);
  assert.deepEqual(settled.map((d) => ('reason' in d ? d.reason.code : d.kind)), ['IDENTITY_INCONSISTENT', 'IDENTITY_INCONSISTENT']);
  assert.deepEqual(applyDecisions(emptyLock(), settled), emptyLock());
});

test('attack: streamed, a later disagreeing file is refused and the earlier pin stands', () => {
  const a = first('1.0', [gh()]);
  const [b] = settleFirstUse([a], [first('1.0', [OTHER])]);
  assert.ok(b && 'reason' in b && b.reason.code === 'IDENTITY_INCONSISTENT');
  assert.equal(lockJudgement(b, false, 'x.lock')?.status, 'identity-changed');
  const lock = applyDecisions(emptyLock(), [a, b]);
  assert.equal(lock.channels[CH]!.numpy!.identities.length, 1);
});

test('frozen: a first use is a missing pin (LOCK_ENTRY_MISSING)', () => {
  const j = lockJudgement(first('1.0', [gh()]), true, 'x.lock');
  assert.deepEqual([j?.status, j?.reasons.map((r) => r.code)], ['identity-changed', ['LOCK_ENTRY_MISSING']]);
});
