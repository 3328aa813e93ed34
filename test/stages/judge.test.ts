// Stage 4, judge (src/stages/judge.ts): evidence → verdict, action and lock decision. Pure:
// the lockfile and the date come in as data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { applyDecisions } from '../../src/lock/decide.ts';
import { judgePackage, settleJudged, type JudgeContext } from '../../src/stages/judge.ts';
import { resolvePackage } from '../../src/stages/resolve.ts';
import type { Evidence, Retrieved } from '../../src/stages/retrieve.ts';
import { STRANGER, WORKFLOW, config, record, sha, verifiedOutcome } from './memory.ts';

const ctx = (lock: Lock = emptyLock()): JudgeContext => ({ lock, date: '2026-01-02', frozen: false, lockPath: 'conda-attest.lock' });

function retrieved(evidence: Evidence, name = 'pkg', over: Record<string, unknown> = {}): Retrieved {
  const pkg = resolvePackage(config(over), record(name), { sha256: sha(name), source: 'lockfile' });
  return { pkg, sha256: sha(name), digestSource: 'lockfile', sidecar: null, evidence };
}

test('a trusted signer on first use: verified, pass, pinned', () => {
  const j = judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome()] }), ctx());
  assert.deepEqual([j.row.status, j.row.action], ['verified', 'pass']);
  assert.equal(j.decision?.kind, 'new');
  assert.ok(j.row.notes.includes('recorded'));
});

test('attacker: a valid signature by another identity is untrusted, and after pinning a changed signer is blocked', () => {
  const stranger = judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome(STRANGER)] }), ctx());
  assert.deepEqual([stranger.row.status, stranger.row.action, stranger.row.reasons[0]?.code], ['untrusted', 'block', 'IDENTITY_UNTRUSTED']);
  assert.equal(stranger.decision, null, 'nothing is pinned for an untrusted signer');

  // Pinned to WORKFLOW; now a trusted but different workflow of the same org signs.
  const pinned = applyDecisions(emptyLock(), [judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome()] }), ctx()).decision!]);
  const other = WORKFLOW.replace('build.yml', 'release.yml');
  const changed = judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome(other)] }), ctx(pinned));
  assert.deepEqual([changed.row.status, changed.row.action], ['identity-changed', 'block']);
  assert.equal(changed.row.identity_diff?.changes[0]?.type, 'identity-changed');
});

test('nothing published, or a sidecar that could not be retrieved, under each require mode', () => {
  const none = (require: string) => judgePackage(retrieved({ kind: 'none' }, 'pkg', { require }), ctx()).row;
  assert.deepEqual([none('error').status, none('error').action], ['missing', 'block']);
  assert.equal(none('warn').action, 'warn');
  assert.equal(none('ignore').action, 'pass');
  const failed = judgePackage(retrieved({ kind: 'failed', reasons: [{ code: 'SIDECAR_NOT_FOUND', message: 'gone' }] }, 'pkg', { require: 'ignore' }), ctx()).row;
  assert.deepEqual([failed.status, failed.action], ['retrieval-failed', 'warn'], 'a retrieval failure is never passed silently');
});

test('a deny entry blocks a verified package and pins nothing', () => {
  const j = judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome()] }, 'pkg', { deny: [{ package: 'pkg', versions: '*', reason: 'incident 7' }] }), ctx());
  assert.deepEqual([j.row.status, j.row.action, j.decision], ['untrusted', 'block', null]);
  assert.ok(!j.row.notes.includes('recorded'));
});

test('first use across files: two files of one package signed by different trusted workflows pin nothing', () => {
  const other = WORKFLOW.replace('build.yml', 'release.yml');
  const a = judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome()] }), ctx());
  const b = { ...judgePackage(retrieved({ kind: 'bundles', outcomes: [verifiedOutcome(other)] }), ctx()) };
  const settled = settleJudged([a, b], false, () => []);
  assert.deepEqual(settled.map((s) => s.row.status), ['identity-changed', 'identity-changed']);
  assert.ok(settled.every((s) => s.row.reasons.some((r) => r.code === 'IDENTITY_INCONSISTENT')));
});
