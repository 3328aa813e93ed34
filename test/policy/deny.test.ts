// Deny lists (pure): each form, and an attacker's attempts to get a denied package past one —
// other spellings of the name, SAN and digest, versions written another way, signatures
// with no known time, claims in bundles that did not verify, look-alike repositories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { denyMatch, signersOf, type DenyFacts, type Signer } from '../../src/policy/deny.ts';
import { versionMatches, versionSpecProblem } from '../../src/policy/conda-version.ts';
import type { BundleOutcome, DenyByIdentity, DenyByVersions, DenyEntry, SignerIdentity } from '../../src/types.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

const GH = 'https://token.actions.githubusercontent.com';
const SHA = 'ab'.repeat(32);

function deny(raw: unknown[]): DenyEntry[] {
  return resolveConfig({ deny: raw }, '/b').deny;
}

function facts(over: Partial<DenyFacts> = {}): DenyFacts {
  return { name: 'libfoo', version: '1.2.3', sha256: [], signers: [], ...over };
}

function github(repo: string, over: Partial<SignerIdentity> = {}): SignerIdentity {
  return {
    kind: 'github',
    san: `https://github.com/${repo}/.github/workflows/release.yml@refs/heads/main`,
    issuer: GH,
    sourceRepositoryUri: `https://github.com/${repo}`,
    sourceRepositoryRef: 'refs/heads/main',
    buildSignerUri: `https://github.com/${repo}/.github/workflows/release.yml@refs/heads/main`,
    ...over,
  };
}

const signer = (identity: SignerIdentity, signedAt: string | null = '2026-03-10T12:00:00.000Z'): Signer => ({ identity, signedAt });

test('conda version specs: conda ordering, not string or semver order', () => {
  const cases: [spec: string, version: string, expected: boolean][] = [
    ['>=1.2,<1.3', '1.2', true],
    ['>=1.2,<1.3', '1.2.0', true], // missing parts are zero: 1.2 == 1.2.0
    ['>=1.2,<1.3', '1.2.10', true], // numbers, not strings: 1.2.10 > 1.2.9
    ['>=1.2,<1.3', '1.3', false],
    ['>=1.2,<1.3', '1.3.0', false],
    ['>=1.2,<1.3', '1.3.0rc1', true], // a release candidate sorts before the release
    ['>=1.2,<1.3', '1.3.0.dev0', true],
    ['>=1.2,<1.3', '1.10', false],
    ['>=1.2,<1.3', '1!1.2.5', false], // an epoch outranks every version without one
    ['==1.2', '1.2.0', true],
    ['==1.2.0', '1.2', true],
    ['1.2.*', '1.2.7', true],
    ['1.2.*', '1.20', false],
    ['==1.2.0|==1.3.1', '1.3.1', true],
    ['*', '0.0.1', true],
    ['>=1.2a', '1.2A', true], // case-insensitive
    // Local version labels and build-number-like suffixes, as conda orders them: a label
    // after `+` ranks below the plain version (1.2+x < 1.2), so `1.2.*` is what covers it.
    ['>=1.2,<1.3', '1.2.5+evil', true],
    ['>=1.2,<1.3', '1.2+local', false],
    ['1.2.*', '1.2+local', true],
    ['>=1.2,<1.3', '1.2.0_1', true],
    ['>=1.2,<1.3', '1.2-1', true],
    ['>=1.2,<1.3', '1.2.post1', true],
  ];
  for (const [spec, version, expected] of cases) assert.equal(versionMatches(spec, version), expected, `${version} in ${spec}`);
  assert.equal(versionMatches('>=1', '1..2'), undefined, 'a version conda cannot read');
  assert.equal(versionSpecProblem('>=1.2,<1.3'), null);
  assert.notEqual(versionSpecProblem('>=1.2,<'), null);
});

test('property: a version padded with .0 or written in another case is matched exactly as conda compares it', async (t) => {
  const part = fc.integer({ min: 0, max: 30 });
  const version = fc.array(part, { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
  await checkProperty(t, 'conda version padding', [version, version, version, fc.integer({ min: 1, max: 3 })], (lo, hi, v, zeros) => {
    const spec = `>=${lo},<${hi}`;
    const padded = v + '.0'.repeat(zeros);
    assert.equal(versionMatches(spec, padded), versionMatches(spec, v), `${padded} vs ${v} in ${spec}`);
    assert.equal(versionMatches(`==${v}`, padded), true);
    // The order is numeric per part: compare as conda does, with the padding made explicit.
    const num = (s: string) => s.split('.').map(Number);
    const cmp = (a: number[], b: number[]) => {
      for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
      return 0;
    };
    assert.equal(versionMatches(spec, v), cmp(num(v), num(lo)) >= 0 && cmp(num(v), num(hi)) < 0, `${v} in ${spec}`);
  }, { runs: 200 });
});

test('sha256: the file digest denies whatever the name, in either case', () => {
  const list = deny([{ sha256: SHA.toUpperCase(), reason: 'backdoored build (advisory 1)' }]);
  const hit = denyMatch(list, facts({ sha256: [SHA] }));
  assert.equal(hit?.reason.code, 'DENIED');
  assert.match(hit!.reason.message, /deny\[0\] denies its file \(SHA-256 abab.*\): backdoored build \(advisory 1\)/);
  assert.ok(denyMatch(list, facts({ name: 'renamed', sha256: ['0'.repeat(64), SHA.toUpperCase()] })), 'any known digest of the file');
  assert.equal(denyMatch(list, facts({ sha256: ['0'.repeat(64)] })), null);
  assert.equal(denyMatch(list, facts()), null, 'no digest known: nothing to compare');
});

test('package + versions: name glob without regard to case, conda version ranges, unreadable versions denied', () => {
  const list = deny([{ package: 'LibFoo', versions: '>=1.2,<1.3', reason: 'CVE-2026-0001' }]);
  assert.equal((list[0] as DenyByVersions).package, 'libfoo');
  for (const version of ['1.2', '1.2.0', '1.2.3', '1.2.99', '1.3.0rc1', '1.3.0.dev1']) {
    assert.ok(denyMatch(list, facts({ version })), version);
    assert.ok(denyMatch(list, facts({ name: 'LIBFOO', version })), `LIBFOO ${version}`);
  }
  for (const version of ['1.1.9', '1.3', '1.3.0', '1.10', '2!1.2']) assert.equal(denyMatch(list, facts({ version })), null, version);
  assert.equal(denyMatch(list, facts({ name: 'libfoo-extra' })), null, 'exact names are anchored');
  assert.ok(denyMatch(list, facts({ version: '1..2' })), 'a version conda cannot read cannot slip through');
  const glob = deny([{ package: 'libfoo*', versions: '*', reason: 'whole family' }]);
  assert.ok(denyMatch(glob, facts({ name: 'libfoo-static', version: '9' })));
  assert.equal(denyMatch(glob, facts({ name: 'xlibfoo' })), null);
});

test('identity: SAN glob without regard to case, any issuer; shorthands cover the repository, its SANs and signing workflows', () => {
  const san = deny([{ identity: 'https://github.com/acme/tool/.github/workflows/release.yml@**', reason: 'stolen token' }]);
  assert.ok(denyMatch(san, facts({ signers: [signer(github('acme/tool'))] })));
  assert.ok(denyMatch(san, facts({ signers: [signer(github('ACME/Tool'))] })), 'case of owner and repository');
  assert.ok(denyMatch(san, facts({ signers: [signer(github('acme/tool', { issuer: 'https://other.example' }))] })), 'whatever the issuer');
  assert.equal(denyMatch(san, facts({ signers: [signer(github('acme/tool-evil'))] })), null);

  const repo = deny([{ identity: 'github:acme/tool', reason: 'repository compromised' }]);
  assert.ok(denyMatch(repo, facts({ signers: [signer(github('acme/tool'))] })));
  assert.ok(denyMatch(repo, facts({ signers: [signer(github('Acme/TOOL'))] })));
  // A build of another repository through acme/tool's reusable workflow is denied too.
  const viaWorkflow = github('other/app', { san: 'https://github.com/acme/tool/.github/workflows/build.yml@refs/tags/v1', buildSignerUri: 'https://github.com/acme/tool/.github/workflows/build.yml@refs/tags/v1' });
  assert.ok(denyMatch(repo, facts({ signers: [signer(viaWorkflow)] })));
  assert.equal(denyMatch(repo, facts({ signers: [signer(github('acme/tool-evil'))] })), null, 'repository boundary');
  assert.equal(denyMatch(repo, facts({ signers: [signer(github('acme/toolx'))] })), null);
  const key: SignerIdentity = { kind: 'key', keyFingerprint: 'f'.repeat(64) };
  assert.equal(denyMatch(repo, facts({ signers: [signer(key)] })), null, 'a key has no SAN');

  const ref = deny([{ identity: 'github:acme/tool@refs/heads/release', reason: 'release branch' }]);
  assert.equal(denyMatch(ref, facts({ signers: [signer(github('acme/tool'))] })), null, 'another ref');
  assert.ok(denyMatch(ref, facts({ signers: [signer(github('acme/tool', { sourceRepositoryRef: 'refs/heads/release' }))] })));
  assert.ok(denyMatch(ref, facts({ signers: [signer(github('acme/tool', { sourceRepositoryRef: undefined }))] })), 'no ref claim: fail closed');
});

test('identity time window: signed_after inclusive, signed_before exclusive, unknown signing time inside every window', () => {
  const list = deny([{ identity: 'github:acme/tool', signed_after: '2026-03-01', signed_before: '2026-03-15T00:00:00+02:00', reason: 'compromise window' }]);
  assert.equal((list[0] as DenyByIdentity).signedBefore, '2026-03-14T22:00:00.000Z');
  const at = (t: string | null) => facts({ signers: [signer(github('acme/tool'), t)] });
  assert.ok(denyMatch(list, at('2026-03-01T00:00:00Z')), 'the first instant');
  assert.ok(denyMatch(list, at('2026-03-14T21:59:59Z')));
  assert.equal(denyMatch(list, at('2026-02-28T23:59:59Z')), null, 'before the compromise');
  assert.equal(denyMatch(list, at('2026-03-14T22:00:00Z')), null, 'the end is exclusive');
  assert.ok(denyMatch(list, at(null)), 'time unknown: denied');
  assert.match(denyMatch(list, at(null))!.reason.message, /signing time unknown/);
});

test('signers: only bundles that verified count, with their log time, else their timestamp', () => {
  const verified: BundleOutcome = { index: 0, publish: true, verified: true, identity: github('acme/tool'), reasons: [] };
  const forged: BundleOutcome = { index: 1, publish: true, verified: false, identity: github('acme/tool'), reasons: [{ code: 'SIGSTORE_VERIFICATION_FAILED', message: 'x' }] };
  const withLog = { ...verified, evidence: { tlog: { integrated_time: '2026-03-02T00:00:00.000Z' }, timestamps: [] } } as unknown as BundleOutcome;
  const withTs = { ...verified, evidence: { tlog: null, timestamps: [{ signing_time: null }, { signing_time: '2026-03-03T00:00:00.000Z' }] } } as unknown as BundleOutcome;
  assert.deepEqual(signersOf([verified, forged]).map((s) => s.signedAt), [null]);
  assert.deepEqual(signersOf([withLog, withTs]).map((s) => s.signedAt), ['2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z']);
});

test('the first matching entry in configuration order wins; top-level entries come before the channel\'s', () => {
  const c = resolveConfig(
    { deny: [{ package: 'libfoo', versions: '*', reason: 'top' }], channels: { 'https://h/c': { deny: [{ sha256: SHA, reason: 'channel' }] } } },
    '/b',
  );
  const list = [...c.deny, ...c.channels[0]!.deny!];
  assert.equal(denyMatch(list, facts({ sha256: [SHA] }))!.entry.reason, 'top');
  assert.equal(denyMatch(list, facts({ name: 'other', sha256: [SHA] }))!.entry.at, 'channels["https://h/c"].deny[0]');
});

test('configuration: every malformed deny entry is reported with its path', () => {
  let caught: unknown;
  try {
    resolveConfig(
      {
        deny: [
          { sha256: SHA, package: 'x', versions: '1', reason: 'two forms' },
          { package: 'x', reason: 'no versions' },
          { package: 'x', versions: '>=1.2,<', reason: 'bad spec' },
          { identity: 'github:a/b', signed_after: '2026-02-30', reason: 'no such day' },
          { identity: 'github:a/b', signed_after: '2026-03-02', signed_before: '2026-03-01', reason: 'empty window' },
          { sha256: 'xyz', reason: 'not hex' },
          { sha256: SHA },
          { identity: 're:(', reason: 'bad regex' },
          { sha256: SHA, signed_after: '2026-01-01', reason: 'window without identity' },
        ],
        channels: { 'https://h/c': { deny: [{ identity: 'github:a', reason: 'not a repository' }] } },
      },
      '/b',
    );
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError && caught.code === 'CONFIG_INVALID', String(caught));
  const lines = (caught.details as string[]).join('\n');
  for (const re of [
    /deny\[0\]: must have exactly one of sha256, package \(with versions\), identity/,
    /deny\[1\]\.versions: is required with package/,
    /deny\[2\]\.versions: ">=1\.2,<" is not a conda version spec/,
    /deny\[3\]\.signed_after: "2026-02-30" is not a date or time/,
    /deny\[4\]\.signed_before: is not after signed_after/,
    /deny\[5\]\.sha256: must be a SHA-256 digest/,
    /deny\[6\]\.reason: is required/,
    /deny\[7\]\.identity: .*not a valid regular expression/,
    /deny\[8\]\.identity: is required with signed_after/,
    /channels\["https:\/\/h\/c"\]\.deny\[0\]\.identity: /,
  ]) {
    assert.match(lines, re);
  }
});
