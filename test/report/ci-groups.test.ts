// The CI formats group problems by cause, as the text format does, and fit their limits:
// Markdown lists at most 10 rows per cause with "+N more" and stays under GitHub's
// 65,536-character comment limit (saying what was cut); GitHub annotations are one per
// cause with its count, plus one per package only for per-package reasons (at most 10, the
// rest counted on the summary line). Exact output, and the 500-package outage and mixed runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Outage, PackageReport, Reason } from '../../src/types.ts';
import { buildReport } from '../../src/report/build.ts';
import { renderGithub } from '../../src/report/github.ts';
import { GITHUB_COMMENT_LIMIT, renderMarkdownReport } from '../../src/report/markdown.ts';
import { locateNothing, type Locate } from '../../src/report/locations.ts';
import { isPerPackage } from '../../src/report/problems.ts';
import { packageRow as pkg } from '../helpers/report-rows.ts';

const dns: Outage = { host: 'prefix.example', cause: 'DNS lookup failed (ENOTFOUND)', url: 'https://prefix.example/ch/noarch/repodata.json' };


const missing = (name: string) =>
  pkg(name, { status: 'missing', action: 'block', reasons: [{ code: 'NO_ATTESTATIONS', message: `${name}-1.0-h0_0.conda has no attestations.`, hint: 'Ask the channel to publish them.' }] });
const outage = (name: string) =>
  pkg(name, {
    status: 'retrieval-failed',
    action: 'block',
    reasons: [{ code: 'REPODATA_UNAVAILABLE', message: `Repodata of https://prefix.example/ch/noarch could not be fetched: DNS lookup failed (ENOTFOUND).`, hint: 'Check the network.', outage: dns } as Reason],
  });
const changed = (name: string) =>
  pkg(name, {
    status: 'identity-changed',
    action: 'block',
    reasons: [{ code: 'IDENTITY_CHANGED', message: `${name} is signed by https://github.com/evil/${name} instead of the pinned https://github.com/good/${name}.`, hint: 'Review the change; `conda-attest accept` takes it.' }],
  });
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

/** Rows placed on lines 10, 11, … of pixi.lock in report order. */
function lines(rows: PackageReport[]): Locate {
  const at = new Map(rows.map((r, i) => [r.url, { file: 'pixi.lock', line: 10 + i }]));
  return (r) => at.get(r.url);
}

test('per-package rule: invalid, untrusted, identity-changed, DENIED and a digest mismatch are per package; missing and outages are per cause', () => {
  assert.equal(isPerPackage(changed('a')), true);
  assert.equal(isPerPackage(pkg('a', { status: 'untrusted', action: 'block' })), true);
  assert.equal(isPerPackage(pkg('a', { status: 'invalid', action: 'block' })), true);
  assert.equal(isPerPackage(pkg('a', { status: 'verified', action: 'block', reasons: [{ code: 'DENIED', message: 'm' }] })), true);
  assert.equal(isPerPackage(pkg('a', { status: 'missing', action: 'block', reasons: [{ code: 'PACKAGE_DIGEST_MISMATCH', message: 'm' }] })), true);
  assert.equal(isPerPackage(missing('a')), false);
  assert.equal(isPerPackage(outage('a')), false);
});

test('markdown, exact: causes as sections with their count, meaning, hint, at most 10 rows and "+N more"', () => {
  const rows = [...names('m', 12).map(missing), changed('z'), pkg('ok')];
  const md = renderMarkdownReport(buildReport(rows), { locate: locateNothing });
  const row = (n: string) =>
    `| ❌ blocked (missing) | <code>${n}-1.0-h0&#95;0.conda</code> | <code>https:&#8203;//prefix.example/ch/noarch</code> |  | <code>NO&#95;ATTESTATIONS</code> ${n}-1.0-h0&#95;0.conda has no attestations. | Ask the channel to publish them. |`;
  assert.equal(
    md,
    [
      '## conda-attest: ❌ 13 blocked',
      '',
      '| packages | verified | blocked | warned | skipped |',
      '| ---: | ---: | ---: | ---: | ---: |',
      '| 14 | 1 | 13 | 0 | 0 |',
      '',
      'Statuses: 12 missing, 1 identity-changed.',
      '',
      '### ❌ NO&#95;ATTESTATIONS: 12 packages are blocked',
      '',
      'The channel advertises no attestations for the package (status missing).',
      '',
      '**hint:** Ask the channel to publish them.',
      '',
      '| status | package | channel | lockfile | reason | hint |',
      '| --- | --- | --- | --- | --- | --- |',
      ...names('m', 10).map(row),
      '',
      '+2 more',
      '',
      '### ❌ IDENTITY&#95;CHANGED: 1 package is blocked',
      '',
      'The package is signed by another identity than the lockfile pins.',
      '',
      '**hint:** Review the change; &#96;conda-attest accept&#96; takes it.',
      '',
      '| status | package | channel | lockfile | reason | hint |',
      '| --- | --- | --- | --- | --- | --- |',
      '| ❌ blocked (identity-changed) | <code>z-1.0-h0&#95;0.conda</code> | <code>https:&#8203;//prefix.example/ch/noarch</code> |  | <code>IDENTITY&#95;CHANGED</code> z is signed by https:&#8203;//github.com/evil/z instead of the pinned https:&#8203;//github.com/good/z. | Review the change; &#96;conda-attest accept&#96; takes it. |',
      '',
    ].join('\n'),
  );
});

test('markdown: a 500-package outage is one section of a few hundred characters, far under the comment limit', () => {
  const md = renderMarkdownReport(buildReport(names('p', 500).map(outage)), { locate: locateNothing });
  assert.ok(md.length < 2_000, `${md.length} characters`);
  const body = md.slice(md.indexOf('### '));
  assert.equal(
    body,
    [
      '### ❌ prefix.example: DNS lookup failed (ENOTFOUND): 500 packages could not be checked',
      '',
      'first failed request: https:&#8203;//prefix.example/ch/noarch/repodata.json (REPODATA&#95;UNAVAILABLE)',
      '',
      '**hint:** Check the network.',
      '',
      `${names('p', 10).map((n) => `<code>${n}-1.0-h0&#95;0.conda</code>`).join(', ')} +490 more`,
      '',
    ].join('\n'),
  );
});

test('markdown: a 500-package mixed run stays under 65,536 characters with every cause and the notices', () => {
  const rows = [...names('o', 200).map(outage), ...names('m', 150).map(missing), ...names('c', 100).map(changed), ...names('v', 50).map((n) => pkg(n))];
  const report = buildReport(rows);
  report.notices = [{ code: 'CHANNEL_UNUSED', message: 'The configured channel https://x.example/ch matches no package of this run.' }];
  const md = renderMarkdownReport(report, { locate: lines(rows) });
  assert.ok(md.length < GITHUB_COMMENT_LIMIT, `${md.length}`);
  assert.ok(md.length < 15_000, `small: ${md.length}`);
  assert.deepEqual(
    md.split('\n').filter((l) => l.startsWith('### ')),
    [
      '### ❌ prefix.example: DNS lookup failed (ENOTFOUND): 200 packages could not be checked',
      '### ❌ NO&#95;ATTESTATIONS: 150 packages are blocked',
      '### ❌ IDENTITY&#95;CHANGED: 100 packages are blocked',
      '### Notices',
    ],
  );
  assert.deepEqual(md.split('\n').filter((l) => /^\+\d+ more$|\+\d+ more$/.test(l)).map((l) => l.replace(/^.* \+/, '+')), ['+190 more', '+140 more', '+90 more']);
});

test('markdown: when even the causes do not fit, whole sections are left out and the last line says what was cut', () => {
  // 40 causes (one code each is impossible: use 40 outage hosts) and a huge identity-change section.
  const rows = Array.from({ length: 40 }, (_, i) => {
    const o: Outage = { host: `h${i}.example`, cause: 'answered HTTP 503', url: `https://h${i}.example/ch/noarch/repodata.json` };
    return pkg(`q${i}`, { status: 'retrieval-failed', action: 'block', reasons: [{ code: 'REPODATA_UNAVAILABLE', message: 'm'.repeat(50), outage: o } as Reason] });
  });
  const md = renderMarkdownReport(buildReport(rows), { locate: locateNothing, maxChars: 3_000 });
  assert.ok(md.length <= 3_000, `${md.length}`);
  const last = md.trimEnd().split('\n').at(-1)!;
  assert.match(last, /^<sub>Cut to stay under GitHub's 65,536-character comment limit: the rows of each cause, and \d+ causes \(\d+ packages\)\. The JSON report \(`--output json=PATH`\) has every package\.<\/sub>$/);
  const kept = md.split('\n').filter((l) => l.startsWith('### ❌')).length;
  const cut = Number(/and (\d+) causes/.exec(last)![1]);
  assert.equal(kept + cut, 40, 'every cause is either shown or counted as cut');
});

test('github, exact: one annotation per cause with its count on its first line, one per package for per-package reasons', () => {
  const rows = [...names('m', 3).map(missing), changed('y'), changed('z'), outage('o1'), outage('o2')];
  const report = buildReport(rows);
  const out = renderGithub(report, lines(report.packages));
  const at = (name: string) => 10 + report.packages.findIndex((p) => p.name === name);
  assert.equal(
    out,
    [
      `::error file=pixi.lock,line=${at('m000')},title=NO_ATTESTATIONS::NO_ATTESTATIONS: 3 packages are blocked.%0AThe channel advertises no attestations for the package (status missing).%0Ahint: Ask the channel to publish them.%0Am000-1.0-h0_0.conda, m001-1.0-h0_0.conda, m002-1.0-h0_0.conda`,
      `::error file=pixi.lock,line=${at('y')},title=IDENTITY_CHANGED::IDENTITY_CHANGED: 2 packages are blocked.%0AThe package is signed by another identity than the lockfile pins.%0Ahint: Review the change; \`conda-attest accept\` takes it.%0Ay-1.0-h0_0.conda, z-1.0-h0_0.conda`,
      `::error file=pixi.lock,line=${at('o1')},title=REPODATA_UNAVAILABLE::prefix.example: DNS lookup failed (ENOTFOUND): 2 packages could not be checked.%0Afirst failed request: https://prefix.example/ch/noarch/repodata.json (REPODATA_UNAVAILABLE)%0Ahint: Check the network.%0Ao1-1.0-h0_0.conda, o2-1.0-h0_0.conda`,
      `::error file=pixi.lock,line=${at('y')},title=IDENTITY_CHANGED::y-1.0-h0_0.conda from https://prefix.example/ch (noarch) is blocked (identity-changed).%0AIDENTITY_CHANGED: y is signed by https://github.com/evil/y instead of the pinned https://github.com/good/y.%0Ahint: Review the change; \`conda-attest accept\` takes it.`,
      `::error file=pixi.lock,line=${at('z')},title=IDENTITY_CHANGED::z-1.0-h0_0.conda from https://prefix.example/ch (noarch) is blocked (identity-changed).%0AIDENTITY_CHANGED: z is signed by https://github.com/evil/z instead of the pinned https://github.com/good/z.%0Ahint: Review the change; \`conda-attest accept\` takes it.`,
      'conda-attest: 7 packages: 0 verified, 7 blocked, 0 warned, 0 skipped',
      '',
    ].join('\n'),
  );
});

test('github: a 500-package outage is one annotation; a 500-package mixed run has one per cause plus 10 per-package, the rest on the summary line', () => {
  const one = renderGithub(buildReport(names('p', 500).map(outage)), locateNothing).trimEnd().split('\n');
  assert.equal(one.length, 2);
  assert.match(one[0]!, /^::error title=REPODATA_UNAVAILABLE::prefix\.example: DNS lookup failed \(ENOTFOUND\): 500 packages could not be checked\..*%0Ap000-1\.0-h0_0\.conda, p001-1\.0-h0_0\.conda, p002-1\.0-h0_0\.conda, p003-1\.0-h0_0\.conda, p004-1\.0-h0_0\.conda \+495 more$/);
  assert.equal(one[1], 'conda-attest: 500 packages: 0 verified, 500 blocked, 0 warned, 0 skipped');

  const rows = [...names('o', 200).map(outage), ...names('m', 150).map(missing), ...names('c', 100).map(changed), ...names('w', 20).map((n) => ({ ...missing(n), action: 'warn' as const })), ...names('v', 30).map((n) => pkg(n))];
  const out = renderGithub(buildReport(rows), locateNothing).trimEnd().split('\n');
  assert.deepEqual(
    out.slice(0, -1).map((l) => l.slice(0, l.indexOf('::', 2) + 32)),
    [
      '::error title=REPODATA_UNAVAILABLE::prefix.example: DNS lookup fai',
      '::error title=NO_ATTESTATIONS::NO_ATTESTATIONS: 150 packages ',
      '::error title=IDENTITY_CHANGED::IDENTITY_CHANGED: 100 packages',
      '::warning title=NO_ATTESTATIONS::NO_ATTESTATIONS: 20 packages a',
      ...names('c', 10).map((n) => `::error title=IDENTITY_CHANGED::${n}-1.0-h0_0.conda from https`),
    ],
  );
  assert.equal(out.at(-1), 'conda-attest: 500 packages: 30 verified, 450 blocked, 20 warned, 0 skipped; 90 more packages with per-package problems not annotated (the job summary and --format markdown list them by cause)');
});
