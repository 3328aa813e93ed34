import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityKey, normalizeIdentities, stableIdentity, stripRef } from '../../src/lock/identity.ts';
import { compareVersions } from '../../src/lock/version.ts';
import { LockError } from '../../src/errors.ts';
import { FP1, GH_ISSUER, gh, key } from './fixtures.ts';

test('stableIdentity: GitHub identity pins repository, IDs and workflow without @ref', () => {
  assert.deepEqual(stableIdentity(gh()), {
    kind: 'github',
    issuer: GH_ISSUER,
    repository: 'https://github.com/forge/numpy-feedstock',
    repository_id: '100',
    owner_id: '200',
    workflow: 'https://github.com/forge/numpy-feedstock/.github/workflows/build.yml',
  });
});

test('stableIdentity: same SAN with another ref (and new digests) is the same identity', () => {
  const a = stableIdentity(gh({ ref: 'refs/tags/v1.0.0' }));
  const b = stableIdentity(gh({ ref: 'refs/heads/main', sourceRepositoryDigest: 'b'.repeat(40), runInvocationUri: 'x' }));
  assert.equal(identityKey(a), identityKey(b));
});

test('stableIdentity: another repository, repository ID, owner ID, workflow or issuer is another identity', () => {
  const base = identityKey(stableIdentity(gh()));
  const variants = [
    gh({ repo: 'evil/numpy-feedstock' }),
    gh({ sourceRepositoryId: '999' }),
    gh({ sourceRepositoryOwnerId: '999' }),
    gh({ workflow: 'other.yml' }),
    gh({ issuer: 'https://token.actions.evil.example' }),
  ];
  for (const v of variants) assert.notEqual(identityKey(stableIdentity(v)), base, JSON.stringify(v));
});

test('stableIdentity: a renamed repository that keeps its numeric IDs is still a change of repository', () => {
  // The URI is pinned too: a rename is visible to the reviewer (IDs alone would hide it).
  const a = stableIdentity(gh());
  const b = stableIdentity(gh({ repo: 'forge/numpy-feedstock-renamed' }));
  assert.equal(a.repository_id, b.repository_id);
  assert.notEqual(identityKey(a), identityKey(b));
});

test('stableIdentity: repository falls back to the SAN when claim .12 is absent (older certificates)', () => {
  const id = gh({ sourceRepositoryUri: undefined, sourceRepositoryId: undefined, sourceRepositoryOwnerId: undefined });
  assert.deepEqual(stableIdentity(id), {
    kind: 'github',
    issuer: GH_ISSUER,
    repository: 'https://github.com/forge/numpy-feedstock',
    workflow: 'https://github.com/forge/numpy-feedstock/.github/workflows/build.yml',
  });
});

test('stableIdentity: GitLab SAN keeps the project path (with subgroups), drops the ref', () => {
  const id = stableIdentity({
    kind: 'gitlab',
    san: 'https://gitlab.com/grp/sub/proj//.gitlab-ci.yml@refs/heads/main',
    issuer: 'https://gitlab.com',
  });
  assert.equal(id.repository, 'https://gitlab.com/grp/sub/proj');
  assert.equal(id.workflow, 'https://gitlab.com/grp/sub/proj//.gitlab-ci.yml');
});

test('stableIdentity: email, other URI and key identities', () => {
  assert.deepEqual(stableIdentity({ kind: 'email', san: 'dev@example.org', issuer: 'https://accounts.google.com' }), {
    kind: 'email',
    issuer: 'https://accounts.google.com',
    email: 'dev@example.org',
  });
  assert.deepEqual(stableIdentity({ kind: 'uri', san: 'https://ci.example/p/build@v2', issuer: 'https://ci.example' }), {
    kind: 'uri',
    issuer: 'https://ci.example',
    uri: 'https://ci.example/p/build',
  });
  assert.deepEqual(stableIdentity(key(FP1.toUpperCase(), 'release-2024')), {
    kind: 'key',
    key_fingerprint: FP1,
    key_name: 'release-2024',
  });
});

test('stableIdentity: key_name is a label, not part of the identity', () => {
  assert.equal(identityKey(stableIdentity(key(FP1, 'a'))), identityKey(stableIdentity(key(FP1, 'b'))));
});

test('stableIdentity: an identity without issuer cannot be pinned (error, not a blank pin)', () => {
  assert.throws(
    () => stableIdentity({ kind: 'github', san: 'https://github.com/a/b/.github/workflows/c.yml@refs/heads/main' }),
    (e: unknown) => e instanceof LockError && e.code === 'LOCK_IDENTITY_INCOMPLETE',
  );
});

test('stripRef: only an @ in the path is a ref; userinfo is kept', () => {
  assert.equal(stripRef('https://github.com/o/r/.github/workflows/w.yml@refs/pull/1/merge'), 'https://github.com/o/r/.github/workflows/w.yml');
  assert.equal(stripRef('https://user@host.example/path'), 'https://user@host.example/path');
  assert.equal(stripRef('https://host.example/path'), 'https://host.example/path');
  // attacker: a workflow named with `@` must not pin the same identity as another workflow
  assert.equal(stripRef('https://github.com/o/r/.github/workflows/a@x.yml@refs/heads/main'), 'https://github.com/o/r/.github/workflows/a@x.yml');
  assert.notEqual(
    stripRef('https://github.com/o/r/.github/workflows/a@x.yml@refs/heads/main'),
    stripRef('https://github.com/o/r/.github/workflows/a@y.yml@refs/heads/main'),
  );
  assert.equal(stripRef('https://gitlab.com/g/p//.gitlab-ci.yml@refs/tags/v1'), 'https://gitlab.com/g/p//.gitlab-ci.yml');
});

test('normalizeIdentities: sorted canonically and deduplicated, input order irrelevant', () => {
  const a = stableIdentity(gh());
  const b = stableIdentity(key(FP1));
  const c = stableIdentity({ kind: 'email', san: 'x@example.org', issuer: 'https://i' });
  assert.deepEqual(normalizeIdentities([a, b, c, a]), normalizeIdentities([c, b, a]));
  assert.equal(normalizeIdentities([a, b, c, a]).length, 3);
});

test('compareVersions: conda ordering for last_seen', () => {
  const ordered = ['1.0dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0post1', '1.1', '1.10', '2.0', '1!0.1'];
  for (let i = 0; i + 1 < ordered.length; i++) {
    assert.ok(compareVersions(ordered[i], ordered[i + 1]) < 0, `${ordered[i]} < ${ordered[i + 1]}`);
    assert.ok(compareVersions(ordered[i + 1], ordered[i]) > 0, `${ordered[i + 1]} > ${ordered[i]}`);
  }
  assert.equal(compareVersions('1.2.3', '1.2.3'), 0);
  assert.ok(compareVersions('1.24.3', '1.9') > 0, 'numeric, not lexicographic');
});
