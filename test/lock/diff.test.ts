import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diffIdentitySets,
  diffJson,
  diffLocks,
} from '../../src/lock/diff.ts';
import { renderDiffMarkdown, renderDiffText, renderLockText } from '../../src/report/lock-diff.ts';
import { applyDecisions, decide } from '../../src/lock/decide.ts';
import { stableIdentity } from '../../src/lock/identity.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { CH, FP1, gh, key } from './fixtures.ts';

const D1 = '2026-01-01';
const D2 = '2026-02-01';

function lockOf(entries: [name: string, version: string, ids: Parameters<typeof decide>[2]][], date = D1): Lock {
  return applyDecisions(
    emptyLock(),
    entries.map(([name, version, ids]) => decide(emptyLock(), { channel: CH, name, version }, ids, date)),
  );
}

const OLD = lockOf([
  ['numpy', '1.0', [gh()]],
  ['scipy', '1.0', [gh({ repo: 'forge/scipy-feedstock' })]],
  ['gone', '1.0', [key(FP1)]],
]);
const NEW = lockOf([
  ['numpy', '1.0', [gh({ sourceRepositoryId: '666', workflow: 'evil.yml' })]],
  ['scipy', '1.0', [gh({ repo: 'forge/scipy-feedstock' }), key(FP1, 'channel')]],
  ['fresh', '2.0', [gh({ repo: 'forge/fresh-feedstock' })]],
]);

test('diffLocks: added/removed packages, field-by-field identity changes, additions; sorted', () => {
  const changes = diffLocks(OLD, NEW);
  assert.deepEqual(
    changes.map((c) => [c.name, c.type]),
    [
      ['fresh', 'package-added'],
      ['gone', 'package-removed'],
      ['numpy', 'identity-changed'],
      ['scipy', 'identity-added'],
    ],
  );
  const numpy = changes[2];
  assert.ok(numpy.type === 'identity-changed');
  assert.deepEqual(
    numpy.fields.map((f) => f.field),
    ['repository_id', 'workflow'],
  );
  assert.deepEqual(diffLocks(NEW, NEW), []);
});

test('diffLocks: last_seen moves are reported as seen-changed, not identity changes', () => {
  const later = applyDecisions(OLD, [decide(OLD, { channel: CH, name: 'numpy', version: '1.5' }, [gh()], D2)]);
  const changes = diffLocks(OLD, later);
  assert.deepEqual(changes, [
    {
      channel: CH,
      name: 'numpy',
      type: 'seen-changed',
      which: 'last_seen',
      old: { version: '1.0', date: D1 },
      new: { version: '1.5', date: D2 },
    },
  ]);
  assert.equal(diffJson(changes).identity_changes, 0);
});

test('diffIdentitySets: pairs each replaced identity with its most similar successor', () => {
  const a = stableIdentity(gh());
  const b = stableIdentity(key(FP1));
  const a2 = stableIdentity(gh({ sourceRepositoryId: '7' }));
  const changes = diffIdentitySets({ channel: CH, name: 'x' }, [a, b], [b, a2]);
  assert.equal(changes.length, 1);
  assert.ok(changes[0].type === 'identity-changed');
  assert.deepEqual(changes[0].fields, [{ field: 'repository_id', old: '100', new: '7' }]);
});

test('renderDiffText: plain text names packages, old and new values; colour only when asked', () => {
  const plain = renderDiffText(diffLocks(OLD, NEW), { color: false });
  assert.doesNotMatch(plain, /\u001b\[/);
  assert.match(plain, new RegExp(`^numpy from ${CH}\\n  ~ identity changed: github `, 'm'));
  assert.match(plain, /repository_id:\n\s+- 100\n\s+\+ 666/);
  assert.match(plain, /- package no longer pinned/);
  const coloured = renderDiffText(diffLocks(OLD, NEW), { color: true });
  assert.match(coloured, /\u001b\[31m\s+- 100/, 'old value red');
  assert.match(coloured, /\u001b\[32m\s+\+ 666/, 'new value green');
  assert.equal(renderDiffText([], { color: false }), 'No signer identity changes.\n');
});

test('renderDiffMarkdown: a section per package, a field/old/new table', () => {
  const md = renderDiffMarkdown(diffLocks(OLD, NEW));
  assert.match(md, /^### conda-attest: signer identity changes\n\n4 identity change\(s\) to review\./);
  assert.match(md, /#### <code>numpy<\/code> from <code>https:&#8203;\/\/conda\.example\.org\/forge<\/code>/);
  assert.match(md, /\| field \| old \| new \|\n\| --- \| --- \| --- \|\n\| repository_id \| <code>100<\/code> \| <code>666<\/code> \|/);
  assert.match(renderDiffMarkdown([]), /No signer identity changes\./);
});

test('adversarial: identity values cannot inject terminal escapes or break out of Markdown', () => {
  const evil = lockOf([
    ['numpy', '1.0', [{ kind: 'email', issuer: 'https://i', san: 'x@y\u001b[2J\n| injected | row |`</code><img src=x>' }]],
  ]);
  const changes = diffLocks(emptyLock(), evil);
  const text = renderDiffText(changes, { color: false });
  assert.doesNotMatch(text, /\u001b/);
  assert.match(text, /\\u001b\[2J\\u000a/);
  const md = renderDiffMarkdown(changes);
  assert.doesNotMatch(md, /<img|\n\| injected|`<\/code>/);
  assert.match(md, /&lt;img src=x&gt;/);
  const lines = renderLockText(evil).split('\n');
  assert.ok(lines.every((l) => !l.includes('\u001b')));
});

test('diffJson: stable documented shape', () => {
  const j = diffJson(diffLocks(OLD, NEW));
  assert.equal(j.version, 1);
  assert.equal(j.identity_changes, 4);
  const round = JSON.parse(JSON.stringify(j));
  assert.deepEqual(Object.keys(round.changes[2]).sort(), ['channel', 'fields', 'name', 'new', 'old', 'reregistered', 'type']);
  assert.deepEqual(round.changes[2].fields[0], { field: 'repository_id', old: '100', new: '666' });
  // Same URL, new repository ID: said in words, with a hint (added field, only when it applies).
  assert.equal(round.changes[2].reregistered.length, 1);
  assert.equal(round.changes[2].reregistered[0].kind, 'repository-recreated');
  assert.equal(round.changes[2].reregistered[0].message, 'repository re-created: same URL, new ID 100 → 666');
  assert.ok(round.changes[2].reregistered[0].hint.length > 0);
  for (const c of round.changes.filter((x: { fields?: unknown[] }) => x.fields && !(x.fields as { field: string }[]).some((f) => f.field === 'repository_id' || f.field === 'owner_id'))) {
    assert.equal(c.reregistered, undefined);
  }
});

test('renderLockText: one self-contained fact per line; a changed ID is one -/+ line pair', () => {
  const before = renderLockText(OLD).split('\n');
  const after = renderLockText(
    applyDecisions(emptyLock(), [
      decide(emptyLock(), { channel: CH, name: 'numpy', version: '1.0' }, [gh({ sourceRepositoryId: '666' })], D1),
      decide(emptyLock(), { channel: CH, name: 'scipy', version: '1.0' }, [gh({ repo: 'forge/scipy-feedstock' })], D1),
      decide(emptyLock(), { channel: CH, name: 'gone', version: '1.0' }, [key(FP1)], D1),
    ]),
  ).split('\n');
  const removed = before.filter((l) => !after.includes(l));
  const added = after.filter((l) => !before.includes(l));
  const label = `[github https://github.com/forge/numpy-feedstock/.github/workflows/build.yml]`;
  assert.deepEqual(removed, [`${CH} numpy ${label} repository_id 100`]);
  assert.deepEqual(added, [`${CH} numpy ${label} repository_id 666`]);
  assert.ok(before.includes(`${CH} numpy first_seen 1.0 (${D1})`));
});
