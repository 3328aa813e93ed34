// Claim constraints of trusted identities (pure): each constraint against its Fulcio
// claim, missing claims, attackers who satisfy the SAN but not the claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConstraints, CONSTRAINTS, hasConstraints } from '../../src/policy/constraints.ts';
import { matchIdentity } from '../../src/policy/identity.ts';
import { describeConstraints, describePattern } from '../../src/policy/describe.ts';
import type { ClaimConstraints, IdentityPattern, SignerIdentity } from '../../src/types.ts';

const GH = 'https://token.actions.githubusercontent.com';
const SAN = 'https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main';

const good: SignerIdentity = {
  kind: 'github',
  san: SAN,
  issuer: GH,
  buildSignerUri: 'https://github.com/conda-forge/shared/.github/workflows/build.yml@refs/tags/v3',
  runnerEnvironment: 'github-hosted',
  sourceRepositoryUri: 'https://github.com/conda-forge/numpy-feedstock',
  sourceRepositoryRef: 'refs/heads/main',
  sourceRepositoryId: '123456',
  sourceRepositoryOwnerId: '99001',
  buildTrigger: 'push',
  deploymentEnvironment: 'upload',
};

const ALL: ClaimConstraints = {
  repositoryId: '123456',
  ownerId: '99001',
  ref: 'refs/heads/main',
  signerWorkflow: 'https://github.com/conda-forge/shared/.github/workflows/build.yml@refs/tags/v*',
  trigger: ['push', 'release', 'workflow_dispatch'],
  runner: 'github-hosted',
  environment: 'upload',
};

test('the OIDs are those of Fulcio docs/oid-info.md', () => {
  const oids = Object.fromEntries(CONSTRAINTS.map((c) => [c.key, c.oid]));
  assert.deepEqual(oids, {
    repository_id: '1.3.6.1.4.1.57264.1.15',
    owner_id: '1.3.6.1.4.1.57264.1.17',
    ref: '1.3.6.1.4.1.57264.1.14',
    signer_workflow: '1.3.6.1.4.1.57264.1.9',
    trigger: '1.3.6.1.4.1.57264.1.20',
    runner: '1.3.6.1.4.1.57264.1.11',
    environment: '1.3.6.1.4.1.57264.1.23',
  });
});

test('every constraint holds for the matching certificate', () => {
  assert.deepEqual(checkConstraints(ALL, good), []);
  assert.deepEqual(checkConstraints(undefined, good), []);
  assert.equal(hasConstraints(ALL), true);
  assert.equal(hasConstraints({}), false);
});

test('each constraint fails on its own, naming what was wanted and what the certificate had', () => {
  const cases: [Partial<SignerIdentity>, string][] = [
    [{ sourceRepositoryId: '654321' }, 'repository_id: wanted 123456, certificate says 654321'],
    [{ sourceRepositoryOwnerId: '1' }, 'owner_id: wanted 99001, certificate says 1'],
    [{ sourceRepositoryRef: 'refs/heads/dev' }, 'ref: wanted refs/heads/main, certificate says refs/heads/dev'],
    [
      { buildSignerUri: 'https://github.com/evil/shared/.github/workflows/build.yml@refs/tags/v3' },
      'signer_workflow: wanted https://github.com/conda-forge/shared/.github/workflows/build.yml@refs/tags/v*, certificate says https://github.com/evil/shared/.github/workflows/build.yml@refs/tags/v3',
    ],
    [{ buildTrigger: 'pull_request_target' }, 'trigger: wanted one of push, release, workflow_dispatch, certificate says pull_request_target'],
    [{ runnerEnvironment: 'self-hosted' }, 'runner: wanted github-hosted, certificate says self-hosted'],
    [{ deploymentEnvironment: 'staging' }, 'environment: wanted upload, certificate says staging'],
  ];
  for (const [over, message] of cases) {
    const failures = checkConstraints(ALL, { ...good, ...over });
    assert.deepEqual(failures.map((f) => f.message), [message]);
  }
});

test('a certificate that lacks a constrained claim does not satisfy it', () => {
  for (const spec of CONSTRAINTS) {
    const id = { ...good };
    delete id[spec.claim];
    const failures = checkConstraints(ALL, id);
    assert.equal(failures.length, 1, spec.key);
    assert.equal(failures[0]!.key, spec.key);
    assert.equal(failures[0]!.had, null);
    assert.ok(failures[0]!.message.includes(`no ${spec.claimName} claim (OID ${spec.oid})`), failures[0]!.message);
  }
});

test('globs are anchored and `*` never crosses `/`', () => {
  const c: ClaimConstraints = { ref: 'refs/tags/v*' };
  assert.deepEqual(checkConstraints(c, { ...good, sourceRepositoryRef: 'refs/tags/v1.2' }), []);
  for (const ref of ['refs/tags/v1/x', 'refs/heads/refs/tags/v1', 'xrefs/tags/v1', 'refs/tags/']) {
    // 'refs/tags/' lacks the `v`
    assert.equal(checkConstraints(c, { ...good, sourceRepositoryRef: ref }).length, 1, JSON.stringify(ref));
  }
  // regex metacharacters in the constraint are literal
  assert.equal(checkConstraints({ ref: 'refs/heads/ma.n' }, { ...good, sourceRepositoryRef: 'refs/heads/main' }).length, 1);
});

test('exact constraints are exact: no prefix, suffix, case or whitespace slack', () => {
  for (const v of ['1234567', '12345', ' 123456', '123456 ', '0123456']) {
    assert.equal(checkConstraints({ repositoryId: '123456' }, { ...good, sourceRepositoryId: v }).length, 1, v);
  }
  assert.equal(checkConstraints({ runner: 'github-hosted' }, { ...good, runnerEnvironment: 'GitHub-hosted' }).length, 1);
  assert.equal(checkConstraints({ trigger: ['push'] }, { ...good, buildTrigger: 'push ' }).length, 1);
  assert.equal(checkConstraints({ environment: 'upload' }, { ...good, deploymentEnvironment: '' }).length, 1);
});

test('a SAN match with failing claims is untrusted, and the near miss lists every failure', () => {
  const p: IdentityPattern = {
    identity: 'https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main',
    issuer: GH,
    constraints: ALL,
  };
  assert.equal(matchIdentity(good, [p]).trusted, true);
  const attacker = { ...good, runnerEnvironment: 'self-hosted', buildTrigger: 'pull_request_target' };
  const m = matchIdentity(attacker, [p]);
  assert.equal(m.trusted, false);
  assert.deepEqual(m.nearMisses?.[0]?.failures.map((f) => f.key), ['trigger', 'runner']);
  // A second, unconstrained entry for another SAN does not rescue it; one for the same SAN does.
  const other: IdentityPattern = { identity: 'https://github.com/other/*', issuer: GH };
  assert.equal(matchIdentity(attacker, [p, other]).trusted, false);
  const loose: IdentityPattern = { identity: SAN, issuer: GH };
  assert.equal(matchIdentity(attacker, [p, loose]).trusted, true);
});

test('descriptions list constraints in config order', () => {
  assert.equal(
    describeConstraints(ALL),
    'repository_id 123456, owner_id 99001, ref refs/heads/main, signer_workflow https://github.com/conda-forge/shared/.github/workflows/build.yml@refs/tags/v*, trigger one of push, release, workflow_dispatch, runner github-hosted, environment upload',
  );
  assert.equal(describePattern({ identity: 'github:a/b', issuer: GH }), `github:a/b (issuer ${GH})`);
  assert.equal(describePattern({ identity: 'github:a/b', issuer: GH, constraints: { runner: 'github-hosted' } }), `github:a/b (issuer ${GH}; runner github-hosted)`);
});
