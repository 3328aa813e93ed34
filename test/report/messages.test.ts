// Small truths of what a user reads: no message ends in a dangling colon (a line that ends
// in `:` is followed by the lines it introduces), the identity-changed diff comes before the
// hint, and `policy` says each identity's issuer once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CODES } from '../../src/codes.ts';
import type { Outage, PackageReport, Reason } from '../../src/types.ts';
import type { IdentityDiff } from '../../src/lock/decide.ts';
import { buildReport } from '../../src/report/build.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { renderMarkdownReport } from '../../src/report/markdown.ts';
import { renderGithub } from '../../src/report/github.ts';
import { findingLine } from '../../src/errors.ts';
import { locateNothing } from '../../src/report/locations.ts';
import { effectivePolicyView, renderPolicyText } from '../../src/policy/effective.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { packageRow as pkg } from '../helpers/report-rows.ts';

/** Lines ending in `:` that nothing more indented follows. */
function danglingColons(text: string): string[] {
  const lines = text.split('\n');
  const indent = (l: string) => /^\s*/.exec(l)![0].length;
  return lines.filter((l, i) => /:\s*$/.test(l) && !(i + 1 < lines.length && lines[i + 1]!.trim() !== '' && indent(lines[i + 1]!) > indent(l)));
}


const OLD = 'https://github.com/good/z/.github/workflows/build.yml@refs/heads/main';
const NEW = 'https://github.com/evil/z/.github/workflows/build.yml@refs/heads/main';
const changedRow = pkg('z', {
  status: 'identity-changed',
  action: 'block',
  reasons: [
    {
      code: 'IDENTITY_CHANGED',
      message: `z-1.0-h0_0.conda is signed by another identity than the lockfile pins: workflow ${OLD} → ${NEW}.`,
      hint: 'If the change is expected, run `conda-attest accept z`.',
    },
  ],
  identity_diff: {
    pinned: [],
    observed: [],
    changes: [{ type: 'identity-changed', channel: 'https://prefix.example/ch', name: 'z', old: {}, new: {}, fields: [{ field: 'workflow', old: OLD, new: NEW }] }],
  } as unknown as IdentityDiff,
});

test('every code meaning in the registry is a sentence, never ending in a colon', () => {
  for (const [code, info] of Object.entries(CODES)) {
    assert.doesNotMatch(info.meaning, /:\s*$/, code);
    assert.match(info.meaning, /[.)]$/, `${code}: ends as a sentence`);
  }
});

test('identity-changed in the text report: the reason, the field diff it announces, then the hint', () => {
  const out = renderTerminal(buildReport([changedRow]), { color: false });
  assert.deepEqual(out.split('\n').slice(0, 5), [
    '✖ blocked z-1.0-h0_0.conda (https://prefix.example/ch/noarch) identity-changed',
    '    IDENTITY_CHANGED z-1.0-h0_0.conda is signed by another identity than the lockfile pins:',
    `      workflow: ${OLD} → ${NEW}`,
    '    hint: If the change is expected, run `conda-attest accept z`.',
    '',
  ]);
});

test('no rendered output of a mixed run has a dangling colon (text, verbose text, Markdown, GitHub, CODE: message lines)', () => {
  const outage: Outage = { host: 'prefix.example', cause: 'answered HTTP 503', url: 'https://prefix.example/ch/noarch/repodata.json' };
  const rows = [
    changedRow,
    pkg('m', { status: 'missing', action: 'block', reasons: [{ code: 'NO_ATTESTATIONS', message: 'm has no attestations.', hint: 'Ask the channel.' }] }),
    pkg('o', { status: 'retrieval-failed', action: 'block', reasons: [{ code: 'REPODATA_UNAVAILABLE', message: 'Repodata could not be fetched: answered HTTP 503.', hint: 'Retry.', outage } as Reason] }),
    pkg('w', { status: 'missing', action: 'warn', reasons: [{ code: 'NO_ATTESTATIONS', message: 'w has no attestations.' }] }),
    pkg('v', { identity: { kind: 'github', san: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main' } }),
  ];
  const report = buildReport(rows);
  report.notices = [{ code: 'CHANNEL_UNUSED', message: 'The configured channel https://x.example/ch matches no package of this run.', hint: 'Check the URL.' }];
  report.warnings = ['cache: the verdict cache could not be written (EACCES).'];
  const outputs = {
    text: renderTerminal(report, { color: false, elapsedMs: 10 }),
    verbose: renderTerminal(report, { color: false, verbose: true }),
    markdown: renderMarkdownReport(report, { locate: locateNothing, identityChanges: [] }),
    // Workflow-command messages: each %0A-separated line on its own.
    github: renderGithub(report, locateNothing).replace(/%0A/g, '\n    '),
    findings: [...rows.flatMap((r) => r.reasons), ...report.notices].map(findingLine).join('\n'),
  };
  for (const [name, text] of Object.entries(outputs)) assert.deepEqual(danglingColons(text), [], `${name}:\n${text}`);
});

test('policy: a shorthand identity says its issuer once', () => {
  const config = resolveConfig({ channels: { 'https://prefix.example/conda-forge': { trusted_identities: ['github:conda-forge/*-feedstock@refs/heads/main', 'github:conda-forge/numpy-feedstock'] } } }, '/tmp');
  const text = renderPolicyText(effectivePolicyView(config, '2026-12-07'));
  assert.equal(text.split('https://token.actions.githubusercontent.com').length - 1, 2, text);
  const lines = text.split('\n');
  const at = lines.indexOf('    - github:conda-forge/numpy-feedstock');
  assert.deepEqual(lines.slice(at, at + 3), [
    '    - github:conda-forge/numpy-feedstock',
    '        issuer https://token.actions.githubusercontent.com',
    '        = builds of https://github.com/conda-forge/numpy-feedstock (Source Repository URI, OID 1.3.6.1.4.1.57264.1.12)',
  ]);
  assert.deepEqual(danglingColons(text), []);
});
