// The CI renderings as pure functions: workflow-command escaping (a value from a channel
// or a signer must not start a second command or forge properties), Markdown cells that
// cannot be broken out of, and SARIF results without a lockfile location.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeWorkflowData, escapeWorkflowProperty, renderGithub, renderGithubAnnotations, workflowCommand } from '../../src/report/github.ts';
import { renderMarkdownReport } from '../../src/report/markdown.ts';
import { renderSarifObject } from '../../src/report/sarif.ts';
import { buildReport } from '../../src/report/build.ts';
import { locateNothing, locatorFor } from '../../src/report/locations.ts';
import type { PackageRecord, PackageReport } from '../../src/types.ts';

function row(over: Partial<PackageReport>): PackageReport {
  return {
    filename: 'a-1.0-h0_0.conda',
    name: 'a',
    version: '1.0',
    build: 'h0_0',
    channel: 'https://example.org/ch',
    subdir: 'noarch',
    url: 'https://example.org/ch/noarch/a-1.0-h0_0.conda',
    sha256: null,
    digest_source: null,
    status: 'missing',
    action: 'block',
    identity: null,
    reasons: [{ code: 'NO_ATTESTATIONS', message: 'none', hint: 'ask' }],
    notes: [],
    sidecar: null,
    bundles: [],
    ...over,
  };
}

test('workflow-command escaping: data escapes % CR LF; properties also : and ,', () => {
  assert.equal(escapeWorkflowData('50% done\r\nnext'), '50%25 done%0D%0Anext');
  assert.equal(escapeWorkflowProperty('a:b,c%d\n'), 'a%3Ab%2Cc%25d%0A');
  assert.equal(workflowCommand('error', { file: 'x,y:z.lock', line: 3, title: undefined }, 'm'), '::error file=x%2Cy%3Az.lock,line=3::m');
  assert.equal(workflowCommand('warning', {}, ''), '::warning::');
});

test('a crafted reason cannot start a second workflow command, forge a property or carry terminal escapes', () => {
  const evil = row({
    filename: 'evil-1.0-h0_0.conda',
    url: 'https://example.org/ch/noarch/evil-1.0-h0_0.conda',
    reasons: [{ code: 'IDENTITY_UNTRUSTED', message: 'x\n::error file=README.md,line=1::forged\r\n%0A::notice::y \u001b[2K', hint: 'a,b:c' }],
  });
  const out = renderGithubAnnotations(buildReport([evil]), locatorFor([{ url: evil.url, source: { file: 'pi,xi:.lock', line: 7 } } as PackageRecord], { cwd: '/w', base: '/w' }));
  const lines = out.trimEnd().split('\n');
  assert.equal(lines.length, 1, out);
  assert.ok(lines[0]!.startsWith('::error file=pi%2Cxi%3A.lock,line=7,title=IDENTITY_UNTRUSTED::'), lines[0]);
  assert.doesNotMatch(lines[0]!, /\u001b/);
  // The literal "%0A" in the message is itself escaped, so the runner shows it, not a newline.
  assert.match(lines[0]!, /%250A::notice::y/);
});

test('markdown: one table row per problem, cells cannot be broken out of; a long list is capped', () => {
  const rows = [
    row({ reasons: [{ code: 'NO_ATTESTATIONS', message: 'a | b <img src=x> `c`\n| forged | row |', hint: '[link](javascript:x)' }] }),
    row({ filename: 'ok-1.0-h0_0.conda', url: 'u2', status: 'verified', action: 'pass', reasons: [] }),
  ];
  const md = renderMarkdownReport(buildReport(rows), { locate: locateNothing });
  const tableRows = md.split('\n').filter((l) => l.startsWith('| ❌'));
  assert.equal(tableRows.length, 1);
  assert.equal(tableRows[0]!.split(' | ').length, 6);
  assert.doesNotMatch(md, /<img/);
  assert.doesNotMatch(md, /\[link\]/);
  assert.doesNotMatch(md, /\n\| forged/);
  assert.doesNotMatch(md, /identity changes/, 'no identity section unless given');

  const many = Array.from({ length: 12 }, (_, i) => row({ filename: `p${i}-1.0-h0_0.conda`, url: `u${i}` }));
  const capped = renderMarkdownReport(buildReport(many), { locate: locateNothing, rowsPerGroup: 10 });
  assert.equal(capped.split('\n').filter((l) => l.startsWith('| ❌')).length, 10);
  assert.match(capped, /\n\+2 more\n$/);
});

test('SARIF: a problem without a lockfile entry has no location; a warned row is a warning; rules sorted and indexed', () => {
  const log = renderSarifObject(
    buildReport([
      row({ action: 'warn', reasons: [{ code: 'ZZZ_NEW' as never, message: 'm' }] }),
      row({ filename: 'b-1.0-h0_0.conda', url: 'u2', status: 'invalid', reasons: [] }),
    ]),
    { locate: locateNothing, version: '1.2.3' },
  ) as { runs: { tool: { driver: { rules: { id: string; help: { text: string } }[] } }; results: Record<string, unknown>[] }[] };
  const run = log.runs[0]!;
  assert.deepEqual(run.tool.driver.rules.map((r) => r.id), ['PACKAGE_INVALID', 'ZZZ_NEW']);
  assert.equal(run.results.length, 2);
  for (const r of run.results) assert.equal(r.locations, undefined);
  const warned = run.results.find((r) => r.ruleId === 'ZZZ_NEW')!;
  assert.equal(warned.level, 'warning');
  assert.equal(warned.ruleIndex, 1);
  // A rule without any hint still has help text (its description).
  assert.ok(run.tool.driver.rules.every((r) => r.help.text.length > 0));
});

test('locations: paths relative to the workspace with / separators; outside it absolute', () => {
  const recs = [
    { url: 'u1', source: { file: 'sub/pixi.lock', line: 3 } },
    { url: 'u2', source: { file: '/elsewhere/conda-lock.yml', line: 9 } },
    { url: 'u3' },
  ] as PackageRecord[];
  const locate = locatorFor(recs, { cwd: '/repo/app', base: '/repo' });
  assert.deepEqual(locate(row({ url: 'u1' })), { file: 'app/sub/pixi.lock', line: 3 });
  assert.deepEqual(locate(row({ url: 'u2' })), { file: '/elsewhere/conda-lock.yml', line: 9 });
  assert.equal(locate(row({ url: 'u3' })), undefined);
});

// Annotations are per cause now (test/report/ci-groups.test.ts): 13 blocked and 2 warned
// packages missing attestations are two annotations, not 10 plus 3 overflow log lines.
test('github: problems of one cause are one annotation with the count; a crafted reason in a later row starts no command', () => {
  const rows = [
    ...Array.from({ length: 13 }, (_, i) => row({ filename: `b${String(i).padStart(2, '0')}-1.0-h0_0.conda`, url: `ub${i}` })),
    ...Array.from({ length: 2 }, (_, i) => row({ filename: `w${i}-1.0-h0_0.conda`, url: `uw${i}`, action: 'warn' })),
  ];
  rows[12] = row({ filename: 'b12-1.0-h0_0.conda', url: 'ub12', reasons: [{ code: 'NO_ATTESTATIONS', message: 'x\n::error::forged' }] });
  const lines = renderGithubAnnotations(buildReport(rows), locateNothing).trimEnd().split('\n');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /^::error title=NO_ATTESTATIONS::NO_ATTESTATIONS: 13 packages are blocked\./);
  assert.match(lines[1]!, /^::warning title=NO_ATTESTATIONS::NO_ATTESTATIONS: 2 packages are warned about\./);
});

test('github: per-package problems beyond 10 are counted on the summary line, not dropped silently', () => {
  const rows = Array.from({ length: 12 }, (_, i) => row({ filename: `u${i}-1.0-h0_0.conda`, url: `uu${i}`, status: 'untrusted', reasons: [{ code: 'IDENTITY_UNTRUSTED', message: 'm' }] }));
  const lines = renderGithub(buildReport(rows), locateNothing).trimEnd().split('\n');
  assert.equal(lines.filter((l) => l.startsWith('::error')).length, 11, 'one for the cause, ten per package');
  assert.equal(lines.at(-1), 'conda-attest: 12 packages: 0 verified, 12 blocked, 0 warned, 0 skipped; 2 more packages with per-package problems not annotated (the job summary and --format markdown list them by cause)');
});
