import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type LockDecision, acceptInto, applyDecisions, decide, matchesSpec } from '../../src/lock/decide.ts';
import { stableIdentity } from '../../src/lock/identity.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { CH, FP1, FP2, gh, key } from './fixtures.ts';

const D1 = '2026-01-01';
const D2 = '2026-02-01';
const pkg = (version: string, name = 'numpy', channel = CH) => ({ channel, name, version });

/** A lock pinning numpy to `ids` at version 1.0. */
function pinned(ids = [gh()]): Lock {
  return applyDecisions(emptyLock(), [decide(emptyLock(), pkg('1.0'), ids, D1)]);
}

test('first use: new, recorded with first/last seen', () => {
  const d = decide(emptyLock(), pkg('1.0'), [gh()], D1);
  assert.equal(d.kind, 'new');
  assert.equal(d.touch, true);
  const lock = applyDecisions(emptyLock(), [d]);
  assert.deepEqual(lock.channels[CH].numpy, {
    identities: [stableIdentity(gh())],
    first_seen: { version: '1.0', date: D1 },
    last_seen: { version: '1.0', date: D1 },
  });
});

test('unattested and unpinned: new with no identities, nothing written', () => {
  const d = decide(emptyLock(), pkg('1.0'), [], D1);
  assert.equal(d.kind, 'new');
  assert.equal(d.touch, false);
  assert.deepEqual(applyDecisions(emptyLock(), [d]), emptyLock());
});

test('same identity, new ref, same version: unchanged and no write', () => {
  const lock = pinned();
  const d = decide(lock, pkg('1.0'), [gh({ ref: 'refs/heads/main' })], D2);
  assert.equal(d.kind, 'unchanged');
  assert.equal(d.touch, false);
  assert.deepEqual(applyDecisions(lock, [d]), lock);
});

test('unchanged with a higher version: last_seen moves forward (and only then)', () => {
  const lock = pinned();
  const d = decide(lock, pkg('1.1'), [gh({ ref: 'refs/tags/v1.1' })], D2);
  assert.equal(d.kind, 'unchanged');
  assert.equal(d.touch, true);
  const next = applyDecisions(lock, [d]);
  assert.deepEqual(next.channels[CH].numpy.last_seen, { version: '1.1', date: D2 });
  assert.deepEqual(next.channels[CH].numpy.first_seen, { version: '1.0', date: D1 });
  // An older version later (another environment) does not move it back: no flip-flop.
  const older = decide(next, pkg('0.9'), [gh()], '2026-03-01');
  assert.equal(older.touch, false);
  assert.deepEqual(applyDecisions(next, [older]), next);
});

test('several versions of one package in a run: last_seen is the highest whatever the order', () => {
  const lock = pinned();
  const ds = ['1.10', '1.2', '1.9'].map((v) => decide(lock, pkg(v), [gh()], D2));
  const a = applyDecisions(lock, ds);
  const b = applyDecisions(lock, [...ds].reverse());
  assert.deepEqual(a, b);
  assert.equal(a.channels[CH].numpy.last_seen.version, '1.10');
});

for (const [what, attacker] of [
  ['another repository', gh({ repo: 'attacker/numpy-feedstock' })],
  ['another repository ID (re-registered name)', gh({ sourceRepositoryId: '666' })],
  ['another owner ID', gh({ sourceRepositoryOwnerId: '666' })],
  ['another workflow in the same repository', gh({ workflow: 'pwn.yml' })],
  ['another issuer', gh({ issuer: 'https://token.actions.attacker.example' })],
  ['a self-managed key instead of the workflow', key(FP1)],
] as const) {
  test(`attacker signs with ${what}: changed, field-by-field diff, pin kept`, () => {
    const lock = pinned();
    const d = decide(lock, pkg('1.1'), [attacker], D2);
    assert.equal(d.kind, 'changed');
    if (d.kind !== 'changed') return;
    assert.equal(d.reason.code, 'IDENTITY_CHANGED');
    assert.match(d.reason.hint ?? '', /conda-attest accept numpy/);
    const change = d.diff.changes.find((c) => c.type === 'identity-changed');
    assert.ok(change && change.type === 'identity-changed');
    assert.ok(change.fields.length > 0);
    for (const f of change.fields) assert.notEqual(f.old, f.new);
    // A normal run never takes the new identity into the lock.
    assert.equal(d.touch, false);
    assert.deepEqual(applyDecisions(lock, [d]), lock);
    assert.deepEqual(d.proposed?.identities, [stableIdentity(attacker)]);
  });
}

test('changed: the diff names exactly the differing fields', () => {
  const d = decide(pinned(), pkg('1.1'), [gh({ sourceRepositoryId: '666' })], D2);
  assert.equal(d.kind, 'changed');
  if (d.kind !== 'changed') return;
  const c = d.diff.changes[0];
  assert.ok(c.type === 'identity-changed');
  assert.deepEqual(c.fields, [{ field: 'repository_id', old: '100', new: '666' }]);
  assert.match(d.reason.message, /repository_id 100 → 666/);
});

test('an additional identity is a change (added), the original pin stays', () => {
  const lock = pinned();
  const d = decide(lock, pkg('1.1'), [gh(), key(FP1, 'channel-key')], D2);
  assert.equal(d.kind, 'added');
  if (d.kind !== 'added') return;
  assert.equal(d.reason.code, 'IDENTITY_ADDED');
  assert.deepEqual(
    d.diff.changes.map((c) => c.type),
    ['identity-added'],
  );
  assert.deepEqual(applyDecisions(lock, [d]), lock);
});

test('pinned package arriving without attestations: removed + downgrade', () => {
  const lock = pinned();
  const d = decide(lock, pkg('1.1'), [], D2);
  assert.equal(d.kind, 'removed');
  if (d.kind !== 'removed') return;
  assert.equal(d.downgrade, true);
  assert.equal(d.reason.code, 'ATTESTATIONS_REMOVED');
  assert.equal(d.proposed, null);
  assert.deepEqual(applyDecisions(lock, [d]), lock);
});

test('two pinned identities, only one observed: removed (partial), not a downgrade', () => {
  const lock = pinned([gh(), key(FP1)]);
  const d = decide(lock, pkg('1.1'), [gh()], D2);
  assert.equal(d.kind, 'removed');
  if (d.kind !== 'removed') return;
  assert.equal(d.downgrade, false);
  assert.equal(d.reason.code, 'IDENTITY_REMOVED');
  assert.deepEqual(
    d.diff.changes.map((c) => c.type),
    ['identity-removed'],
  );
});

test('two pinned identities observed in the other order: unchanged', () => {
  const lock = pinned([gh(), key(FP1)]);
  assert.equal(decide(lock, pkg('1.0'), [key(FP1), gh({ ref: 'refs/heads/x' })], D2).kind, 'unchanged');
});

test('key rotation (another key) is a change; a renamed key is not', () => {
  const lock = pinned([key(FP1, 'old-name')]);
  assert.equal(decide(lock, pkg('1.1'), [key(FP2, 'old-name')], D2).kind, 'changed');
  const renamed = decide(lock, pkg('1.1'), [key(FP1, 'new-name')], D2);
  assert.equal(renamed.kind, 'unchanged');
});

test('packages are pinned per (channel, name): same name on another channel is independent', () => {
  const lock = pinned();
  const d = decide(lock, pkg('1.0', 'numpy', 'https://other.example/ch'), [key(FP1)], D2);
  assert.equal(d.kind, 'new');
  const next = applyDecisions(lock, [d]);
  assert.deepEqual(Object.keys(next.channels).sort(), [CH, 'https://other.example/ch'].sort());
});

test('prototype keys in names do not confuse the lookup', () => {
  const d = decide(emptyLock(), pkg('1.0', 'constructor'), [gh()], D1);
  assert.equal(d.kind, 'new');
  const d2 = decide(emptyLock(), pkg('1.0', '__proto__'), [gh()], D1);
  assert.equal(d2.kind, 'new');
});

test('first use seen on several platforms with different signers: all recorded together', () => {
  const ds = [decide(emptyLock(), pkg('1.0'), [gh()], D1), decide(emptyLock(), pkg('1.1'), [key(FP1)], D1)];
  const lock = applyDecisions(emptyLock(), ds);
  assert.equal(lock.channels[CH].numpy.identities.length, 2);
  assert.equal(lock.channels[CH].numpy.first_seen.version, '1.0');
  assert.equal(lock.channels[CH].numpy.last_seen.version, '1.1');
});

test('applyDecisions onto a lock a concurrent run changed meanwhile: its pin wins, nothing lost', () => {
  // Run A decided "new" against an empty lock; run B pinned another identity meanwhile.
  const stale: LockDecision = decide(emptyLock(), pkg('1.0'), [key(FP2)], D1);
  const fromB = pinned([gh()]);
  const withOther = applyDecisions(fromB, [stale, decide(emptyLock(), pkg('2.0', 'scipy'), [gh()], D1)]);
  assert.deepEqual(withOther.channels[CH].numpy, fromB.channels[CH].numpy);
  assert.ok(withOther.channels[CH].scipy, 'the other package of run A is merged in');
  // And an "unchanged" decided against an identity set no longer pinned does not touch it.
  const un = decide(pinned([key(FP1)]), pkg('9.0'), [key(FP1)], D2);
  assert.equal(un.touch, true);
  assert.deepEqual(applyDecisions(fromB, [un]), fromB);
});

test('applyDecisions does not mutate its input', () => {
  const lock = pinned();
  const before = structuredClone(lock);
  applyDecisions(lock, [decide(lock, pkg('3.0'), [gh()], D2), decide(lock, pkg('1', 'scipy'), [gh()], D2)]);
  assert.deepEqual(lock, before);
});

test('acceptInto: takes the observed identities of the selected packages only', () => {
  let lock = pinned();
  lock = applyDecisions(lock, [decide(lock, pkg('1.0', 'scipy'), [gh({ repo: 'forge/scipy-feedstock' })], D1)]);
  const ds = [
    decide(lock, pkg('1.1'), [gh({ sourceRepositoryId: '666' })], D2),
    decide(lock, pkg('1.1', 'scipy'), [key(FP1)], D2),
  ];
  const { lock: next, changes, unmatched } = acceptInto(lock, ds, { packages: ['numpy', 'conda-forge::nothing'] });
  assert.equal(next.channels[CH].numpy.identities[0].repository_id, '666');
  assert.deepEqual(next.channels[CH].numpy.first_seen, { version: '1.1', date: D2 });
  assert.deepEqual(next.channels[CH].scipy, lock.channels[CH].scipy, 'unselected change not accepted');
  assert.deepEqual(unmatched, ['conda-forge::nothing']);
  assert.ok(changes.some((c) => c.type === 'identity-changed' && c.name === 'numpy'));
  assert.ok(!changes.some((c) => c.name === 'scipy'));
});

test('attack: acceptInto never drops a pin: a package now unattested keeps it (keptPins), selected by name or --all; unchanged ones keep their history', () => {
  let lock = pinned();
  lock = applyDecisions(lock, [decide(lock, pkg('1.0', 'scipy'), [gh()], D1)]);
  const ds = [decide(lock, pkg('1.1'), [], D2), decide(lock, pkg('1.2', 'scipy'), [gh()], D2)];
  assert.equal(ds[0]!.kind === 'removed' && ds[0]!.reason.code, 'ATTESTATIONS_REMOVED');
  for (const selector of [{ all: true } as const, { packages: ['numpy', 'scipy'] }]) {
    const { lock: next, changes, keptPins } = acceptInto(lock, ds, selector);
    assert.deepEqual(next.channels[CH].numpy, lock.channels[CH].numpy, 'the pin stays');
    assert.deepEqual(keptPins, [`${CH}::numpy`]);
    assert.deepEqual(next.channels[CH].scipy.first_seen, { version: '1.0', date: D1 });
    assert.equal(next.channels[CH].scipy.last_seen.version, '1.2');
    assert.deepEqual(changes.filter((c) => c.type !== 'seen-changed'), []);
  }
});

test('matchesSpec: name, short channel and URL forms; no suffix confusion', () => {
  assert.ok(matchesSpec('numpy', CH, 'numpy'));
  assert.ok(matchesSpec('forge::numpy', CH, 'numpy'));
  assert.ok(matchesSpec(`${CH}::numpy`, CH, 'numpy'));
  assert.ok(!matchesSpec('orge::numpy', CH, 'numpy'), 'a channel suffix must be a whole path segment');
  assert.ok(!matchesSpec('numpy-base', CH, 'numpy'));
  assert.ok(!matchesSpec('other::numpy', CH, 'numpy'));
});

test('a package named __proto__ is stored as data, not as a prototype', async () => {
  const { serializeLock, parseLock } = await import('../../src/lock/file.ts');
  const lock = applyDecisions(emptyLock(), [decide(emptyLock(), pkg('1.0', '__proto__'), [gh()], D1)]);
  assert.ok(Object.hasOwn(lock.channels[CH], '__proto__'));
  assert.equal(Object.getPrototypeOf(lock.channels[CH]), Object.prototype);
  const back = parseLock(serializeLock(lock), 'mem');
  assert.deepEqual(Object.keys(back.channels[CH]), ['__proto__']);
  assert.equal(decide(back, pkg('1.0', '__proto__'), [gh()], D2).kind, 'unchanged');
});
