// Configuration of claim constraints, shorthands, per-package rules, exceptions and
// trust_root_max_age_days: the documented YAML forms resolve; every mistake is one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { resolveConfig } from '../../src/config/validator.ts';
import { ConfigError } from '../../src/errors.ts';

const GH = 'https://token.actions.githubusercontent.com';

const CONSTRAINTS_YAML = `
channels:
  "https://prefix.dev/conda-forge":
    trusted_identities:
      - identity: "https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main"
        issuer: "https://token.actions.githubusercontent.com"
        repository_id: "123456"         # Source Repository Identifier, exact (survives renames)
        owner_id: "99001"               # Source Repository Owner Identifier, exact
        ref: "refs/heads/main"          # Source Repository Ref, glob (e.g. "refs/tags/v*")
        signer_workflow: "https://github.com/conda-forge/shared/.github/workflows/build.yml@refs/tags/v*"  # Build Signer URI, glob
        trigger: [push, release, workflow_dispatch]   # Build Trigger, one of
        runner: github-hosted           # Runner Environment
        environment: upload             # deployment environment, where Fulcio defines a claim for it
`;

const PACKAGES_YAML = `
channels:
  "https://prefix.dev/conda-forge":
    require: error
    trusted_identities: ["github:conda-forge/*-feedstock"]   # or the SAN glob
    packages:
      "openssl":                       # exact name or glob over the package name
        trusted_identities: ["github:conda-forge/openssl-feedstock@refs/heads/main"]
      "legacy-*":
        require: warn
    exceptions:
      - package: legacy-tool
        until: 2027-01-31               # required; no open-ended exceptions
        reason: "upstream does not attest yet"
`;

function lines(raw: unknown): string[] {
  try {
    resolveConfig(raw, '/b');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.details as string[];
  }
  assert.fail('expected a ConfigError');
}

test('the constraints example resolves to claim constraints', () => {
  const c = resolveConfig(parseYaml(CONSTRAINTS_YAML), '/b');
  assert.deepEqual(c.channels[0]!.trustedIdentities[0], {
    identity: 'https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main',
    issuer: GH,
    constraints: {
      repositoryId: '123456',
      ownerId: '99001',
      ref: 'refs/heads/main',
      signerWorkflow: 'https://github.com/conda-forge/shared/.github/workflows/build.yml@refs/tags/v*',
      trigger: ['push', 'release', 'workflow_dispatch'],
      runner: 'github-hosted',
      environment: 'upload',
    },
  });
});

test('the packages / exceptions example resolves; shorthands get the provider issuer', () => {
  const c = resolveConfig(parseYaml(PACKAGES_YAML), '/b');
  const ch = c.channels[0]!;
  assert.deepEqual(ch.trustedIdentities, [{ identity: 'github:conda-forge/*-feedstock', issuer: GH }]);
  assert.deepEqual(ch.packages, [
    { pattern: 'legacy-*', require: 'warn' },
    { pattern: 'openssl', trustedIdentities: [{ identity: 'github:conda-forge/openssl-feedstock@refs/heads/main', issuer: GH }] },
  ]);
  assert.deepEqual(ch.exceptions, [{ package: 'legacy-tool', until: '2027-01-31', reason: 'upstream does not attest yet' }]);
  // Existing configs are unchanged: no packages/exceptions keys appear when none are configured.
  const plain = resolveConfig({ channels: { 'https://x.example/c': {} }, trust_root_max_age_days: 30 }, '/b');
  assert.equal(plain.channels[0]!.packages, undefined);
  assert.equal(plain.channels[0]!.exceptions, undefined);
  assert.equal(plain.trustRootMaxAgeDays, 30);
  assert.equal(resolveConfig({}, '/b').trustRootMaxAgeDays, undefined);
});

test('mistakes: one line each, naming the path', () => {
  const got = lines({
    trust_root_max_age_days: 0,
    channels: {
      'https://x.example/c': {
        trusted_identities: [
          'github:acme', // not owner/repo
          { identity: 'github:a/b', issuer: 'https://gitlab.com' }, // a shorthand has its own issuer
          { identity: 'https://x.example/*' }, // no issuer to infer
          { identity: 'github:a/b', runner: 3 },
          { identity: 'github:a/b', trigger: [] },
          { identity: 'github:a/b', owner_id: 'acme' },
          { identity: 'github:a/b', environmnet: 'upload' },
        ],
        packages: { 'bad name': { require: 'warn' }, 'xy*': {}, 'a*': { require: 'warn' }, '*b': { require: 'error' } },
        exceptions: [{ package: 'x', reason: 'no end' }, { package: 'y', until: '2027-02-30' }, { package: 'z', until: 'soon' }],
      },
    },
  });
  const want = [
    /^trust_root_max_age_days: must be at least 1/,
    /trusted_identities\[0\]: "github:acme" must name exactly one GitHub repository/,
    /trusted_identities\[1\]\.issuer: a github: shorthand always means the issuer/,
    /trusted_identities\[2\]\.issuer: is required/,
    /trusted_identities\[3\]\.runner: must be a string/,
    /trusted_identities\[4\]\.trigger: must list at least 1/,
    /trusted_identities\[5\]\.owner_id: must be a numeric ID/,
    /trusted_identities\[6\]\.environmnet: unknown key .*did you mean "environment"\?/,
    /packages\["bad name"\]: a package rule key must be a package name or a glob/,
    /packages\["xy\*"\]: sets nothing/,
    /packages\["a\*"\]: is as specific as "\*b"/,
    /exceptions\[0\]\.until: is required/,
    /exceptions\[1\]\.until: "2027-02-30" is not a calendar date/,
    /exceptions\[2\]\.until: must be a date written YYYY-MM-DD/,
  ];
  for (const re of want) assert.ok(got.some((l) => re.test(l)), `${re} in\n${got.join('\n')}`);
  assert.equal(got.length, want.length, got.join('\n'));
});
