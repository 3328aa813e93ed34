import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  compileIdentityPattern,
  createTrustMatcher,
  IdentityPatternError,
  keyFingerprint,
  matchIdentity,
} from '../../src/policy/identity.ts';
import type { ChannelPolicy, IdentityPattern, SignerIdentity } from '../../src/types.ts';
import { channelPolicy } from './fixtures.ts';

const GH = 'https://token.actions.githubusercontent.com';
const gh = (san: string, issuer = GH): SignerIdentity => ({ kind: 'github', san, issuer });
const FEEDSTOCK: IdentityPattern = {
  identity: 'https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main',
  issuer: GH,
};

test('glob: the issue example matches a feedstock workflow SAN', () => {
  const r = matchIdentity(gh('https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main'), [FEEDSTOCK]);
  assert.equal(r.trusted, true);
  assert.equal(r.matched, FEEDSTOCK);
});

test('glob attackers: `*` never crosses `/`, owner look-alikes, suffixes, prefixes', () => {
  const attacks = [
    // an extra path level inside the `*`
    'https://github.com/conda-forge/x/y-feedstock/.github/workflows/build.yml@refs/heads/main',
    // an owner that merely starts with the trusted one
    'https://github.com/conda-forge-evil/numpy-feedstock/.github/workflows/build.yml@refs/heads/main',
    // a suffix after the anchored pattern
    'https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main-evil',
    'https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main/x',
    // a prefix before it
    'https://evil.com/?https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main',
    // the workflow `*` must not cross into another directory
    'https://github.com/conda-forge/numpy-feedstock/.github/workflows/sub/build.yml@refs/heads/main',
    // another ref
    'https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/dev',
  ];
  for (const san of attacks) assert.equal(matchIdentity(gh(san), [FEEDSTOCK]).trusted, false, san);
});

test('glob: `**` crosses `/`', () => {
  const p: IdentityPattern = { identity: 'https://github.com/org/**@refs/tags/*', issuer: GH };
  assert.equal(matchIdentity(gh('https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0'), [p]).trusted, true);
  assert.equal(matchIdentity(gh('https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1/x'), [p]).trusted, false);
  assert.equal(matchIdentity(gh('https://github.com/org-evil/repo/x.yml@refs/tags/v1'), [p]).trusted, false);
});

test('glob: regex metacharacters are literal', () => {
  const p: IdentityPattern = { identity: 'https://github.com/o/r/.github/workflows/a.yml@refs/heads/main', issuer: GH };
  // `.` must not match any character
  assert.equal(matchIdentity(gh('https://github.com/o/r/.github/workflows/aXyml@refs/heads/main'), [p]).trusted, false);
  assert.equal(matchIdentity(gh('https://githubXcom/o/r/.github/workflows/a.yml@refs/heads/main'), [p]).trusted, false);
  const meta: IdentityPattern = { identity: 'a+b(c)?[d]{1}|e^$\\', issuer: GH };
  assert.equal(matchIdentity(gh('a+b(c)?[d]{1}|e^$\\'), [meta]).trusted, true);
  assert.equal(matchIdentity(gh('aab'), [meta]).trusted, false);
  assert.equal(matchIdentity(gh('e'), [meta]).trusted, false, '`|` is literal, not alternation');
});

test('re: patterns are anchored', () => {
  const p: IdentityPattern = { identity: 're:https://github.com/org/.*', issuer: GH };
  assert.equal(matchIdentity(gh('https://github.com/org/x'), [p]).trusted, true);
  assert.equal(matchIdentity(gh('https://evil.com/?https://github.com/org/x'), [p]).trusted, false);
  const alt: IdentityPattern = { identity: 're:https://github\\.com/a/x|https://github\\.com/b/x', issuer: GH };
  assert.equal(matchIdentity(gh('https://github.com/b/x'), [alt]).trusted, true);
  // alternation must stay inside the anchors
  assert.equal(matchIdentity(gh('https://github.com/a/x-evil'), [alt]).trusted, false);
  assert.equal(matchIdentity(gh('evil-https://github.com/b/x'), [alt]).trusted, false);
});

test('re: an unbalanced `)` cannot break out of the anchoring group', () => {
  assert.throws(() => compileIdentityPattern({ identity: 're:x)|(.*', issuer: GH }), IdentityPatternError);
  assert.throws(() => compileIdentityPattern({ identity: 're:[', issuer: GH }), IdentityPatternError);
});

test('issuer is compared exactly', () => {
  const san = 'https://github.com/conda-forge/numpy-feedstock/.github/workflows/build.yml@refs/heads/main';
  for (const issuer of ['https://token.actions.githubusercontent.com/', 'https://evil.example', 'HTTPS://TOKEN.ACTIONS.GITHUBUSERCONTENT.COM', '']) {
    assert.equal(matchIdentity(gh(san, issuer), [FEEDSTOCK]).trusted, false, issuer);
  }
  assert.equal(matchIdentity({ kind: 'github', san }, [FEEDSTOCK]).trusted, false, 'missing issuer');
});

test('empty pattern list accepts any verified certificate signer; several patterns: first match wins', () => {
  assert.deepEqual(matchIdentity(gh('https://anything'), []), { trusted: true, matched: null });
  const a: IdentityPattern = { identity: 'https://github.com/a/*', issuer: GH };
  const b: IdentityPattern = { identity: 'https://github.com/**', issuer: GH };
  assert.equal(matchIdentity(gh('https://github.com/a/x'), [a, b]).matched, a);
  assert.equal(matchIdentity(gh('https://github.com/c/x/y'), [a, b]).matched, b);
  const email: SignerIdentity = { kind: 'email', san: 'dev@example.org', issuer: 'https://accounts.google.com' };
  assert.equal(matchIdentity(email, [{ identity: '*@example.org', issuer: 'https://accounts.google.com' }]).trusted, true);
});

function policy(over: Partial<ChannelPolicy>): ChannelPolicy {
  return channelPolicy({ channel: 'https://c.example', ...over });
}

test('key identities match trusted keys by fingerprint, never identity patterns', () => {
  const k1 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const k2 = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const fp1 = keyFingerprint(k1);
  assert.match(fp1, /^[0-9a-f]{64}$/);
  const p = policy({ trustedKeys: [{ pem: k1, source: 'inline', name: 'release' }] });
  const m = createTrustMatcher(p);
  assert.equal(createTrustMatcher(p), m, 'compiled once per policy');
  const ok = m.match({ kind: 'key', keyFingerprint: fp1.toUpperCase() });
  assert.equal(ok.trusted, true);
  assert.equal(ok.key?.name, 'release');
  assert.equal(m.match({ kind: 'key', keyFingerprint: keyFingerprint(k2) }).trusted, false);
  assert.equal(m.match({ kind: 'key' }).trusted, false);
  // An empty trusted_identities list ("any signer") must not make a key identity trusted.
  assert.equal(createTrustMatcher(policy({})).match({ kind: 'key', keyFingerprint: fp1 }).trusted, false);
  assert.equal(matchIdentity({ kind: 'key', keyFingerprint: fp1, san: 'x', issuer: GH }, []).trusted, false);
  // Certificate identities still go through the patterns.
  const withPatterns = createTrustMatcher(policy({ trustedIdentities: [FEEDSTOCK] }));
  assert.equal(withPatterns.match(gh('https://github.com/conda-forge/x-feedstock/.github/workflows/b.yml@refs/heads/main')).trusted, true);
  assert.equal(withPatterns.match(gh('https://github.com/other/x-feedstock/.github/workflows/b.yml@refs/heads/main')).trusted, false);
});
