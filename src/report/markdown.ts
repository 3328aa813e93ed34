// The Markdown report for a GitHub job summary or a pull-request comment: the counts, a
// table of problem packages (status, reason, hint, where in the lockfile) and the signer
// identity changes rendered as `conda-attest diff --format markdown` does. Pure. Every
// outside value goes through escapeMarkdown / markdownCode (it cannot open a tag, a link
// or a table cell).
import type { LockChange } from '../lock/diff.ts';
import { renderDiffMarkdown } from '../lock/diff.ts';
import type { PackageReport, Report } from '../types.ts';
import { escapeMarkdown, markdownCode } from './escape.ts';
import type { Locate } from './locations.ts';
import { problemReasons, problemRows } from './problems.ts';

interface MarkdownOptions {
  locate: Locate;
  /** Identity changes of the run (see identityChanges); omitted: no identity section. */
  identityChanges?: readonly LockChange[];
  /**
   * At most this many problem rows in the table (a job summary is capped at 1 MiB per
   * step); the rest are counted in a final line. Default 500.
   */
  maxRows?: number;
}

function statusCell(row: PackageReport): string {
  return row.action === 'block' ? `❌ blocked (${row.status})` : `⚠️ warned (${row.status})`;
}

/** Cell text: outside values escaped, reasons separated by `<br>` (a cell is one line). */
function cell(parts: string[]): string {
  return parts.length ? parts.join('<br>') : '';
}

export function renderMarkdownReport(report: Report, o: MarkdownOptions): string {
  const s = report.summary;
  const verdict = s.blocked > 0 ? `❌ ${s.blocked} blocked` : s.warned > 0 ? `⚠️ passed with ${s.warned} warning${s.warned === 1 ? '' : 's'}` : '✅ all passed';
  const lines: string[] = [`## conda-attest: ${verdict}`, ''];
  lines.push(
    '| packages | verified | blocked | warned | skipped |',
    '| ---: | ---: | ---: | ---: | ---: |',
    `| ${s.total} | ${s.verified} | ${s.blocked} | ${s.warned} | ${s.skipped} |`,
    '',
  );
  const counts = (['missing', 'invalid', 'untrusted', 'identity-changed', 'retrieval-failed'] as const).filter((k) => s[k] > 0).map((k) => `${s[k]} ${k}`);
  if (counts.length) lines.push(`Statuses: ${counts.join(', ')}.`, '');

  const problems = problemRows(report.packages);
  if (problems.length > 0) {
    const max = o.maxRows ?? 500;
    lines.push('### Problem packages', '', '| status | package | channel | lockfile | reason | hint |', '| --- | --- | --- | --- | --- | --- |');
    for (const row of problems.slice(0, max)) {
      const reasons = problemReasons(row);
      const where = o.locate(row);
      lines.push(
        `| ${statusCell(row)} | ${markdownCode(row.filename)} | ${markdownCode(`${row.channel}/${row.subdir}`)} | ${
          where ? markdownCode(`${where.file}:${where.line}`) : ''
        } | ${cell(reasons.map((r) => `${markdownCode(r.code)} ${escapeMarkdown(r.message)}`))} | ${cell(
          reasons.filter((r) => r.hint).map((r) => escapeMarkdown(r.hint)),
        )} |`,
      );
    }
    if (problems.length > max) lines.push('', `… and ${problems.length - max} more problem package(s); run \`conda-attest verify\` for the full list.`);
    lines.push('');
  }
  if (o.identityChanges) {
    // The diff's own `###` heading sits under this report's `##`.
    lines.push(renderDiffMarkdown(o.identityChanges).trimEnd());
    lines.push('');
  }
  if (report.notices?.length) {
    lines.push('### Notices', '');
    for (const n of report.notices) lines.push(`- ${markdownCode(n.code)} ${escapeMarkdown(n.message)}${n.hint ? ` (hint: ${escapeMarkdown(n.hint)})` : ''}`);
    lines.push('');
  }
  if (report.warnings?.length) {
    lines.push('### Warnings', '');
    for (const w of report.warnings) lines.push(`- ${escapeMarkdown(w)}`);
    lines.push('');
  }
  if (report.trust_root) {
    const age = report.trust_root.age_days;
    lines.push(`<sub>trust root: ${escapeMarkdown(report.trust_root.source)}${age === null ? '' : `, ${Math.floor(age)} day(s) old`}</sub>`, '');
  }
  return lines.join('\n').trimEnd() + '\n';
}
