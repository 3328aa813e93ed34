// Proposed trusted_identities for `conda-attest init`: never wider than what was seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonAffix, proposeIdentities } from '../../src/policy/propose.ts';
import type { SignerIdentity } from '../../src/types.ts';

const GH = 'https://token.actions.githubusercontent.com';
function gh(repo: string, ref = 'refs/heads/main', workflow = 'build.yml'): SignerIdentity {
  return {
    kind: 'github',
    san: `https://github.com/${repo}/.github/workflows/${workflow}@${ref}`,
    issuer: GH,
    sourceRepositoryUri: `https://github.com/${repo}`,
    sourceRepositoryRef: ref,
  };
}
const entries = (obs: Parameters<typeof proposeIdentities>[0]) => proposeIdentities(obs).identities.map((p) => [p.entry, p.packages]);

test('one entry per repository with the ref seen, package counts per entry', () => {
  assert.deepEqual(
    entries([
      { package: 'a', identities: [gh('org/alpha-feedstock')] },
      { package: 'b', identities: [gh('org/alpha-feedstock')] },
      { package: 'c', identities: [gh('org/beta-feedstock')] },
    ]),
    [
      ['github:org/alpha-feedstock@refs/heads/main', 2],
      ['github:org/beta-feedstock@refs/heads/main', 1],
    ],
  );
});

test('an owner-level affix pattern only when at least three repositories all fit it and share the ref', () => {
  const three = ['org/a-feedstock', 'org/b-feedstock', 'org/c-feedstock'].map((r, i) => ({ package: `p${i}`, identities: [gh(r)] }));
  assert.deepEqual(entries(three), [['github:org/*-feedstock@refs/heads/main', 3]]);
  // One repository that does not fit: nothing collapses.
  const odd = [...three, { package: 'p3', identities: [gh('org/tools')] }];
  assert.deepEqual(entries(odd).map((e) => e[0]), [
    'github:org/a-feedstock@refs/heads/main',
    'github:org/b-feedstock@refs/heads/main',
    'github:org/c-feedstock@refs/heads/main',
    'github:org/tools@refs/heads/main',
  ]);
  // Another ref for one of them: it is not merged into the main-branch pattern.
  const refs = [...three.slice(0, 2), { package: 'p2', identities: [gh('org/c-feedstock', 'refs/heads/dev')] }];
  assert.equal(entries(refs).length, 3);
  // Another owner is never merged in.
  const owners = [...three.slice(0, 2), { package: 'p2', identities: [gh('evil/c-feedstock')] }];
  assert.ok(!entries(owners).some((e) => String(e[0]).includes('*')));
});

test('refs: all tags → refs/tags/*; mixed refs → one entry per ref', () => {
  assert.deepEqual(
    entries([
      { package: 'a', identities: [gh('org/x', 'refs/tags/v1')] },
      { package: 'b', identities: [gh('org/x', 'refs/tags/v2')] },
    ]),
    [['github:org/x@refs/tags/*', 2]],
  );
  assert.deepEqual(
    entries([
      { package: 'a', identities: [gh('org/x', 'refs/tags/v1')] },
      { package: 'b', identities: [gh('org/x', 'refs/heads/main')] },
    ]),
    [
      ['github:org/x@refs/heads/main', 1],
      ['github:org/x@refs/tags/v1', 1],
    ],
  );
});

test('identities without the repository claim, emails and other issuers are proposed exactly; keys are only counted', () => {
  const noClaim: SignerIdentity = { kind: 'github', san: 'https://github.com/o/r/.github/workflows/w.yml@refs/heads/main', issuer: GH };
  const otherIssuer: SignerIdentity = { ...gh('o/r'), issuer: 'https://evil.example' };
  const mail: SignerIdentity = { kind: 'email', san: 'me@example.org', issuer: 'https://accounts.google.com' };
  const key: SignerIdentity = { kind: 'key', keyFingerprint: 'ab' };
  const p = proposeIdentities([
    { package: 'a', identities: [noClaim] },
    { package: 'b', identities: [otherIssuer, mail] },
    { package: 'c', identities: [key] },
  ]);
  assert.deepEqual(p.identities.map((x) => x.entry), [
    { identity: 'https://github.com/o/r/.github/workflows/build.yml@refs/heads/main', issuer: 'https://evil.example' },
    { identity: 'https://github.com/o/r/.github/workflows/w.yml@refs/heads/main', issuer: GH },
    { identity: 'me@example.org', issuer: 'https://accounts.google.com' },
  ]);
  assert.equal(p.keySigned, 1);
});

test('a repository claim that is not a plain owner/repo path is never turned into a pattern', () => {
  for (const uri of ['https://github.com/o/*', 'https://github.com/o/r/extra', 'https://github.com/o/..', 'https://github.com/o']) {
    const id: SignerIdentity = { ...gh('o/r'), sourceRepositoryUri: uri };
    const p = proposeIdentities([{ package: 'a', identities: [id] }]);
    assert.deepEqual(p.identities.map((x) => x.entry), [{ identity: id.san, issuer: GH }], uri);
  }
});

test('commonAffix', () => {
  assert.deepEqual(commonAffix(['a-feedstock', 'bb-feedstock']), { pattern: '*-feedstock' });
  assert.deepEqual(commonAffix(['py-a', 'py-b']), { pattern: 'py-*' });
  assert.equal(commonAffix(['a-feedstock', 'b']), null);
  assert.equal(commonAffix(['a-', 'b-']), null);
});

test('SAN form: the same repositories as anchored SAN globs (any workflow of the repository, at the ref seen)', () => {
  const three = ['org/a-feedstock', 'org/b-feedstock', 'org/c-feedstock'].map((r, i) => ({ package: `p${i}`, identities: [gh(r)] }));
  assert.deepEqual(proposeIdentities(three, 'san').identities.map((p) => p.entry), ['https://github.com/org/*-feedstock/**@refs/heads/main']);
  assert.deepEqual(proposeIdentities(three.slice(0, 1), 'san').identities.map((p) => p.entry), ['https://github.com/org/a-feedstock/**@refs/heads/main']);
});

// Numeric IDs (specs §4): a first install pins the repository / owner its certificates named.
const withIds = (repo: string, repositoryId?: string, ownerId?: string): SignerIdentity => ({
  ...gh(repo),
  ...(repositoryId ? { sourceRepositoryId: repositoryId } : {}),
  ...(ownerId ? { sourceRepositoryOwnerId: ownerId } : {}),
});

test('repository entries carry the repository_id every certificate of that repository had; owner-wide globs the shared owner_id', () => {
  const one = proposeIdentities([
    { package: 'a', identities: [withIds('org/alpha-feedstock', '111', '222')] },
    { package: 'b', identities: [withIds('org/alpha-feedstock', '111', '222')] },
  ]).identities;
  assert.deepEqual(one.map((p) => p.entry), [{ identity: 'github:org/alpha-feedstock@refs/heads/main', repository_id: '111' }]);
  assert.deepEqual(one[0]!.idSource, { repository_id: 'https://github.com/org/alpha-feedstock' });

  const owner = proposeIdentities(['a', 'b', 'c'].map((n, i) => ({ package: n, identities: [withIds(`org/${n}-feedstock`, String(100 + i), '222')] }))).identities;
  assert.deepEqual(owner.map((p) => p.entry), [{ identity: 'github:org/*-feedstock@refs/heads/main', owner_id: '222' }]);
  assert.match(owner[0]!.idSource!.owner_id!, /^3 repositories \(https:\/\/github\.com\/org\/a-feedstock, /);
});

test('IDs are never guessed: two IDs seen for one repository (or owner glob), or a certificate without the claim, pin nothing', () => {
  const split = proposeIdentities([
    { package: 'a', identities: [withIds('org/alpha-feedstock', '111')] },
    { package: 'b', identities: [withIds('org/alpha-feedstock', '999')] },
  ]).identities;
  assert.deepEqual(split.map((p) => p.entry), ['github:org/alpha-feedstock@refs/heads/main']);
  const partial = proposeIdentities([
    { package: 'a', identities: [withIds('org/alpha-feedstock', '111')] },
    { package: 'b', identities: [withIds('org/alpha-feedstock')] },
  ]).identities;
  assert.deepEqual(partial.map((p) => p.entry), ['github:org/alpha-feedstock@refs/heads/main']);
  const owners = proposeIdentities(['a', 'b', 'c'].map((n, i) => ({ package: n, identities: [withIds(`org/${n}-feedstock`, undefined, i === 2 ? '333' : '222')] }))).identities;
  assert.deepEqual(owners.map((p) => p.entry), ['github:org/*-feedstock@refs/heads/main']);
  // The SAN form stays a plain glob.
  assert.deepEqual(proposeIdentities([{ package: 'a', identities: [withIds('org/alpha-feedstock', '111')] }], 'san').identities.map((p) => p.entry), ['https://github.com/org/alpha-feedstock/**@refs/heads/main']);
});

test('attack: a SAN holding pattern syntax (`re:.*`, `*`, `**`, `github:`) is written so that the generated policy trusts exactly that SAN, and rejects one a single character different', async () => {
  const { renderInitConfig } = await import('../../src/config/init-file.ts');
  const { resolveConfig } = await import('../../src/config/validator.ts');
  const { matchIdentity } = await import('../../src/policy/identity.ts');
  const { parse } = await import('yaml');
  const ISSUER = 'https://issuer.example';
  const CH = 'https://conda.example/ch';
  const sans = [
    're:.*',
    'https://ci.example/*/build.yml',
    'https://ci.example/**',
    'github:evil/x',
    'gitlab:evil/x',
    'me+(a|b)@example.org',
    '[x].$^{2}?\\d',
  ];
  for (const san of sans) {
    const proposals = proposeIdentities([{ package: 'p', identities: [{ kind: 'uri', san, issuer: ISSUER }] }]);
    const text = renderInitConfig({ targets: ['pixi.lock'], date: '2026-12-07', channels: [{ channel: CH, mirrors: [], packages: 1, require: 'error', state: 'attested', identities: proposals.identities, unattested: 0, keySigned: 0 }] });
    const config = resolveConfig(parse(text), '/tmp', 'mem', { env: {} });
    const patterns = config.channels.find((c) => c.channel === CH)!.trustedIdentities;
    const trusts = (s: string) => matchIdentity({ kind: 'uri', san: s, issuer: ISSUER }, patterns).trusted;
    assert.equal(trusts(san), true, `${san}: the observed SAN is trusted`);
    // One character different: each position changed, one character appended, one removed.
    for (let i = 0; i < san.length; i++) {
      const other = san.slice(0, i) + (san[i] === 'x' ? 'y' : 'x') + san.slice(i + 1);
      assert.equal(trusts(other), false, `${san}: "${other}" (position ${i}) must not be trusted`);
    }
    assert.equal(trusts(san + 'x'), false, `${san}: a longer SAN must not be trusted`);
    assert.equal(trusts(san.slice(1)), false, `${san}: a shorter SAN must not be trusted`);
    assert.equal(trusts('https://evil.example/anything'), false, `${san}: an unrelated SAN must not be trusted`);
  }
  // A SAN without pattern syntax is written as seen (readable).
  const plain = proposeIdentities([{ package: 'p', identities: [{ kind: 'email', san: 'me@example.org', issuer: ISSUER }] }]);
  assert.deepEqual(plain.identities[0]!.entry, { identity: 'me@example.org', issuer: ISSUER });
  const star = proposeIdentities([{ package: 'p', identities: [{ kind: 'uri', san: 're:.*', issuer: ISSUER }] }]);
  assert.deepEqual(star.identities[0]!.entry, { identity: 're:re:\\.\\*', issuer: ISSUER });
});
