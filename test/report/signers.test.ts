// A verified run names who signed, grouped per repository and workflow, collapsed to one
// glob-like form when many repositories of one owner share a workflow; the counts line ends
// with the time taken; `0 verified` is not green. Exact terminal text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PackageReport, SignerIdentity } from '../../src/types.ts';
import { buildReport } from '../../src/report/build.ts';
import { groupSigners, signerLines } from '../../src/report/signers.ts';
import { durationText, renderTerminal } from '../../src/report/terminal.ts';
import { packageRow } from '../helpers/report-rows.ts';

const GH = 'https://token.actions.githubusercontent.com';
const gh = (owner: string, repo: string, wf = 'release.yml'): SignerIdentity => ({
  kind: 'github',
  san: `https://github.com/${owner}/${repo}/.github/workflows/${wf}@refs/heads/main`,
  issuer: GH,
});

function verified(name: string, identity: SignerIdentity | null, over: Partial<PackageReport> = {}): PackageReport {
  return packageRow(name, { identity, digest_source: 'lockfile', ...over }, 'https://prefix.example/conda-forge');
}

const feedstocks = ['numpy', 'scipy', 'pandas', 'pytest', 'python', 'zlib', 'openssl', 'libffi', 'xz', 'bzip2', 'ncurses', 'readline'];

test('12 conda-forge feedstocks signed by one workflow: one line with the glob-like form', () => {
  const rows = feedstocks.map((n) => verified(n, gh('conda-forge', `${n}-feedstock`)));
  assert.deepEqual(signerLines(rows), ['12 packages verified, signed by github.com/conda-forge/*-feedstock (release.yml)']);
});

test('two repositories are named each; several groups are listed with counts, at most three, then +N more', () => {
  assert.deepEqual(groupSigners([verified('a', gh('org', 'a-tools')), verified('b', gh('org', 'b-tools')), verified('b2', gh('org', 'b-tools'))]), [
    { label: 'github.com/org/b-tools (release.yml)', packages: 2 },
    { label: 'github.com/org/a-tools (release.yml)', packages: 1 },
  ]);
  const rows = [
    ...feedstocks.slice(0, 5).map((n) => verified(n, gh('conda-forge', `${n}-feedstock`))),
    verified('lib1', gh('acme', 'libone', 'build.yml')),
    verified('lib2', gh('acme', 'libtwo', 'build.yml')),
    verified('lib3', gh('acme', 'libthree', 'build.yml')),
    verified('mine', { kind: 'email', san: 'dev@example.org', issuer: 'https://accounts.example' }),
    verified('keyed', { kind: 'key', keyName: 'release-key', keyFingerprint: 'ab'.repeat(32) }),
    verified('gl', { kind: 'gitlab', san: 'https://gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main', issuer: 'https://gitlab.com' }),
    // Not verified: not a signer of this line.
    verified('bad', gh('evil', 'x'), { status: 'untrusted', action: 'block' }),
  ];
  assert.deepEqual(signerLines(rows), [
    '11 packages verified, signed by',
    '    github.com/conda-forge/*-feedstock (release.yml): 5 packages',
    '    github.com/acme/lib* (build.yml): 3 packages',
    '    dev@example.org: 1 package',
    '    +2 more signers (--verbose names the signer of each package)',
  ]);
  assert.deepEqual(
    groupSigners(rows).map((g) => g.label).slice(3),
    ['gitlab.com/grp/proj (.gitlab-ci.yml)', 'key release-key'],
  );
});

test('text report of a verified run: signer line, then the counts line ending with the time taken', () => {
  const rows = feedstocks.map((n) => verified(n, gh('conda-forge', `${n}-feedstock`)));
  const out = renderTerminal(buildReport(rows), { color: false, elapsedMs: 1234 });
  assert.equal(out, ['12 packages verified, signed by github.com/conda-forge/*-feedstock (release.yml)', '12 packages: 12 verified in 1.2s', 'all passed', ''].join('\n'));
  assert.deepEqual([0, 420, 9_949, 12_400, 65_000].map(durationText), ['0.0s', '0.4s', '9.9s', '12s', '1m 05s']);
});

test('0 verified is not green: yellow in colour, and no signer line', () => {
  const skipped = verified('s', null, { status: 'skipped', reasons: [{ code: 'CHANNEL_DISABLED', message: 'Checks are disabled for this channel.' }] });
  const report = buildReport([skipped]);
  const out = renderTerminal(report, { color: true });
  assert.match(out, /\u001b\[33m0 verified\u001b\[39m/, 'yellow');
  assert.doesNotMatch(out, /\u001b\[32m0 verified/, 'not green');
  assert.doesNotMatch(out, /signed by/);
  const green = renderTerminal(buildReport([verified('a', gh('o', 'r'))]), { color: true });
  assert.match(green, /\u001b\[32m1 verified\u001b\[39m/);
});
