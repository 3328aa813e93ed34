// `github:owner/repo[@ref]` / `gitlab:group/project[@ref]`: parsing, formatting, and
// matching at repository boundaries (attackers next door, path tricks, reusable workflows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeShorthand,
  formatShorthand,
  isShorthand,
  parseShorthand,
  shorthandFromIdentity,
  ShorthandError,
} from '../../src/policy/shorthand.ts';
import { compileIdentityPattern, IdentityPatternError, matchIdentity } from '../../src/policy/identity.ts';
import type { IdentityPattern, SignerIdentity } from '../../src/types.ts';

const GH = 'https://token.actions.githubusercontent.com';
const GL = 'https://gitlab.com';

function ghId(repo: string, ref = 'refs/heads/main', over: Partial<SignerIdentity> = {}): SignerIdentity {
  return {
    kind: 'github',
    san: `https://github.com/${repo}/.github/workflows/build.yml@${ref}`,
    issuer: GH,
    sourceRepositoryUri: `https://github.com/${repo}`,
    sourceRepositoryRef: ref,
    ...over,
  };
}
const sh = (identity: string, issuer = GH): IdentityPattern => ({ identity, issuer });

test('parse and format round-trip', () => {
  for (const s of ['github:acme/tool', 'github:acme/tool@refs/heads/main', 'github:conda-forge/*-feedstock', 'gitlab:group/sub/project@refs/tags/v*', 'github:a.b/c_d-e.f']) {
    const p = parseShorthand(s)!;
    assert.ok(p, s);
    assert.equal(formatShorthand(p), s);
  }
  assert.deepEqual(parseShorthand('github:acme/tool@refs/tags/v1'), { provider: 'github', repository: 'acme/tool', ref: 'refs/tags/v1' });
  assert.equal(parseShorthand('https://github.com/acme/tool'), null);
  assert.equal(isShorthand('gitlab:x/y'), true);
  assert.equal(isShorthand('re:github:x'), false);
});

test('malformed shorthands are errors with the reason, never a wider match', () => {
  const bad = [
    'github:acme', // no repository
    'github:acme/tool/extra', // GitHub has exactly owner/repo
    'github:/tool',
    'github:acme/',
    'github:acme/..',
    'github:./tool',
    'github:acme/**', // `**` would cross a repository boundary
    'github:acme/to ol',
    'github:acme/tool@main', // not a full ref
    'github:acme/tool@refs/',
    'github:acme/tool@',
    'gitlab:project',
    'gitlab:group/../project',
    'github:acme/tool%2f..',
  ];
  for (const s of bad) {
    assert.throws(() => parseShorthand(s), ShorthandError, s);
    assert.throws(() => compileIdentityPattern(sh(s)), IdentityPatternError, s);
  }
});

test('github:acme/tool matches any workflow of exactly that repository', () => {
  const p = sh('github:acme/tool');
  assert.equal(matchIdentity(ghId('acme/tool'), [p]).trusted, true);
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/tags/v1.2'), [p]).trusted, true);
  // Another workflow file of the same repository.
  assert.equal(
    matchIdentity(ghId('acme/tool', 'refs/heads/main', { san: 'https://github.com/acme/tool/.github/workflows/release.yaml@refs/heads/main' }), [p]).trusted,
    true,
  );
});

test('boundary attacks: neighbours, path tricks and look-alikes never match', () => {
  const p = sh('github:acme/tool');
  const attacks = [
    'acme/tool-evil',
    'acme/tools',
    'acme/tool/../x',
    'acme/tool/x',
    'acme/tool.git',
    'acme-evil/tool',
    'evil/acme/tool',
    'acme/too',
    'acme/tool/',
    'acme/tool%2f..%2fx',
  ];
  for (const repo of attacks) {
    assert.equal(matchIdentity(ghId(repo), [p]).trusted, false, repo);
  }
  // The host is part of the boundary too.
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main', { sourceRepositoryUri: 'https://github.com.evil.example/acme/tool' }), [p]).trusted, false);
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main', { sourceRepositoryUri: 'https://evil.example/?https://github.com/acme/tool' }), [p]).trusted, false);
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main', { sourceRepositoryUri: 'http://github.com/acme/tool' }), [p]).trusted, false);
});

test('a reusable workflow of the trusted repository called from another repository does not match', () => {
  // The SAN names acme/tool's workflow, but the build was of evil/app: not a build of acme/tool.
  const called: SignerIdentity = {
    kind: 'github',
    san: 'https://github.com/acme/tool/.github/workflows/reusable.yml@refs/heads/main',
    issuer: GH,
    sourceRepositoryUri: 'https://github.com/evil/app',
    sourceRepositoryRef: 'refs/heads/main',
  };
  assert.equal(matchIdentity(called, [sh('github:acme/tool')]).trusted, false);
});

test('the provider issuer is required; a certificate without the repository claim does not match', () => {
  const p = sh('github:acme/tool');
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main', { issuer: 'https://issuer.evil.example' }), [p]).trusted, false);
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main', { issuer: GL }), [p]).trusted, false);
  const { sourceRepositoryUri: _drop, ...noClaim } = ghId('acme/tool');
  assert.equal(matchIdentity(noClaim, [p]).trusted, false);
});

test('@ref: only builds from that ref; the reason names the ref the certificate had', () => {
  const p = sh('github:acme/tool@refs/heads/main');
  assert.equal(matchIdentity(ghId('acme/tool'), [p]).trusted, true);
  const dev = matchIdentity(ghId('acme/tool', 'refs/heads/dev'), [p]);
  assert.equal(dev.trusted, false);
  assert.equal(dev.nearMisses?.[0]?.failures[0]?.message, 'ref: wanted refs/heads/main, certificate says refs/heads/dev');
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main-evil'), [p]).trusted, false);
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/heads/main/x'), [p]).trusted, false);
  const { sourceRepositoryRef: _drop, ...noRef } = ghId('acme/tool');
  const missing = matchIdentity(noRef, [p]);
  assert.equal(missing.trusted, false);
  assert.match(missing.nearMisses![0]!.failures[0]!.message, /no Source Repository Ref claim \(OID 1\.3\.6\.1\.4\.1\.57264\.1\.14\)/);
  const tags = sh('github:acme/tool@refs/tags/v*');
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/tags/v1.0'), [tags]).trusted, true);
  assert.equal(matchIdentity(ghId('acme/tool', 'refs/tags/v1/evil'), [tags]).trusted, false);
});

test('globs stay within one segment: github:conda-forge/*-feedstock', () => {
  const p = sh('github:conda-forge/*-feedstock');
  assert.equal(matchIdentity(ghId('conda-forge/numpy-feedstock'), [p]).trusted, true);
  assert.equal(matchIdentity(ghId('conda-forge/x/numpy-feedstock'), [p]).trusted, false);
  assert.equal(matchIdentity(ghId('conda-forge-evil/numpy-feedstock'), [p]).trusted, false);
  assert.equal(matchIdentity(ghId('conda-forge/numpy-feedstock-evil'), [p]).trusted, false);
});

test('gitlab: nested groups at boundaries, with the GitLab issuer', () => {
  const p = sh('gitlab:group/sub/project', GL);
  const gl = (uri: string, issuer = GL): SignerIdentity => ({ kind: 'gitlab', san: `${uri}//.gitlab-ci.yml@refs/heads/main`, issuer, sourceRepositoryUri: uri });
  assert.equal(matchIdentity(gl('https://gitlab.com/group/sub/project'), [p]).trusted, true);
  assert.equal(matchIdentity(gl('https://gitlab.com/group/sub/project-evil'), [p]).trusted, false);
  assert.equal(matchIdentity(gl('https://gitlab.com/group/sub'), [p]).trusted, false);
  assert.equal(matchIdentity(gl('https://gitlab.com/group/sub/project/deeper'), [p]).trusted, false);
  assert.equal(matchIdentity(gl('https://gitlab.com/group/sub/project', GH), [p]).trusted, false);
});

test('shorthandFromIdentity proposes the repository (and optionally the ref) of a certificate', () => {
  assert.equal(shorthandFromIdentity(ghId('prefix-dev/sigstore-example')), 'github:prefix-dev/sigstore-example');
  assert.equal(shorthandFromIdentity(ghId('acme/tool', 'refs/tags/v1'), { withRef: true }), 'github:acme/tool@refs/tags/v1');
  assert.equal(shorthandFromIdentity({ issuer: GL, sourceRepositoryUri: 'https://gitlab.com/g/s/p' }), 'gitlab:g/s/p');
  assert.equal(shorthandFromIdentity({ issuer: 'https://accounts.google.com', sourceRepositoryUri: 'https://github.com/a/b' }), null);
  assert.equal(shorthandFromIdentity({ issuer: GH }), null);
  assert.equal(shorthandFromIdentity({ issuer: GH, sourceRepositoryUri: 'https://github.com/a/b/c' }), null);
  assert.equal(shorthandFromIdentity({ issuer: GH, sourceRepositoryUri: 'https://github.com/a/*' }), null);
  assert.match(describeShorthand(parseShorthand('github:a/b@refs/heads/main')!), /https:\/\/github\.com\/a\/b .*refs\/heads\/main/);
});

test('fuzz (seeded): parseShorthand either throws ShorthandError or round-trips', () => {
  let seed = 12;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabet = ['a', 'B', '1', '-', '_', '.', '/', '*', '@', ':', ' ', '%', 'refs/', '..', 'heads/', '\u0000', 'é'];
  for (let n = 0; n < 3000; n++) {
    let s = rnd() < 0.5 ? 'github:' : 'gitlab:';
    const len = Math.floor(rnd() * 12);
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    try {
      const p = parseShorthand(s);
      assert.ok(p);
      assert.equal(formatShorthand(p), s);
      // Every accepted repository path is free of traversal segments.
      assert.ok(!p.repository.split('/').some((seg) => seg === '..' || seg === '.' || seg === ''), s);
      compileIdentityPattern(sh(s));
    } catch (e) {
      if (!(e instanceof ShorthandError)) throw e;
    }
  }
});
