// The Markdown report for a GitHub job summary or a pull-request comment: the counts, the
// problem packages grouped by cause as the text format groups them (at most ROWS_PER_GROUP
// rows each, then "+N more"), the run-level notices and the signer identity changes
// rendered as `conda-attest diff --format markdown` does. Pure. Every outside value goes
// through escapeMarkdown / markdownCode (it cannot open a tag, a link or a table cell).
//
// Size: GitHub refuses a comment body over 65,536 characters ("Body is too long"), so the
// report is built to stay under MAX_CHARS: fewer rows per group first, then whole sections
// are left out, and a last line says what was cut and where the full report is.
import { CODES } from '../codes.ts';
import type { LockChange } from '../lock/diff.ts';
import { renderDiffMarkdown } from './lock-diff.ts';
import type { PackageReport, Report } from '../types.ts';
import { escapeMarkdown, markdownCode } from '../text/escape.ts';
import type { Locate } from './locations.ts';
import { toldByGroups, groupOutages } from './outages.ts';
import { groupProblems, problemReasons, type ProblemGroup } from './problems.ts';

/** GitHub's limit on an issue or pull-request comment body, in characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** Rows listed per cause before "+N more". */
export const ROWS_PER_GROUP = 10;

interface MarkdownOptions {
  locate: Locate;
  /** Identity changes of the run (see identityChanges); omitted: no identity section. */
  identityChanges?: readonly LockChange[];
  /** Rows per cause (default ROWS_PER_GROUP). */
  rowsPerGroup?: number;
  /** The report stays below this many characters (default: GitHub's comment limit, with room to spare for a caller's wrapper). */
  maxChars?: number;
}

function statusCell(row: PackageReport): string {
  return row.action === 'block' ? `❌ blocked (${row.status})` : `⚠️ warned (${row.status})`;
}

/** Cell text: outside values escaped, reasons separated by `<br>` (a cell is one line). */
function cell(parts: string[]): string {
  return parts.length ? parts.join('<br>') : '';
}

function tableRow(row: PackageReport, locate: Locate): string {
  const reasons = problemReasons(row);
  const where = locate(row);
  return `| ${statusCell(row)} | ${markdownCode(row.filename)} | ${markdownCode(`${row.channel}/${row.subdir}`)} | ${
    where ? markdownCode(`${where.file}:${where.line}`) : ''
  } | ${cell(reasons.map((r) => `${markdownCode(r.code)} ${escapeMarkdown(r.message)}`))} | ${cell(reasons.filter((r) => r.hint).map((r) => escapeMarkdown(r.hint)))} |`;
}

/** One cause: a heading with the count, its detail and hint, then up to `rows` packages and "+N more". */
function groupBlock(g: ProblemGroup, locate: Locate, rows: number): string {
  const lines = [`### ${g.action === 'block' ? '❌' : '⚠️'} ${escapeMarkdown(g.headline)}`, ''];
  if (!g.outage && Object.hasOwn(CODES, g.code)) lines.push(escapeMarkdown(CODES[g.code].meaning), '');
  if (g.detail) lines.push(escapeMarkdown(g.detail), '');
  if (g.hint) lines.push(`**hint:** ${escapeMarkdown(g.hint)}`, '');
  const shown = g.rows.slice(0, rows);
  const more = g.rows.length - shown.length;
  if (g.outage) {
    // An outage's rows all carry its reason: their names are enough.
    if (shown.length) lines.push(`${shown.map((r) => markdownCode(r.filename)).join(', ')}${more > 0 ? ` +${more} more` : ''}`, '');
    else lines.push(`+${more} packages`, '');
  } else {
    if (shown.length) {
      lines.push('| status | package | channel | lockfile | reason | hint |', '| --- | --- | --- | --- | --- | --- |');
      for (const row of shown) lines.push(tableRow(row, locate));
      lines.push('');
    }
    if (more > 0) lines.push(`+${more} more`, '');
  }
  return lines.join('\n');
}

export function renderMarkdownReport(report: Report, o: MarkdownOptions): string {
  const s = report.summary;
  const verdict = s.blocked > 0 ? `❌ ${s.blocked} blocked` : s.warned > 0 ? `⚠️ passed with ${s.warned} warning${s.warned === 1 ? '' : 's'}` : s.verified === 0 ? '⚠️ nothing verified' : '✅ all passed';
  const head: string[] = [`## conda-attest: ${verdict}`, ''];
  head.push(
    '| packages | verified | blocked | warned | skipped |',
    '| ---: | ---: | ---: | ---: | ---: |',
    `| ${s.total} | ${s.verified} | ${s.blocked} | ${s.warned} | ${s.skipped} |`,
    '',
  );
  const counts = (['missing', 'invalid', 'untrusted', 'identity-changed', 'retrieval-failed'] as const).filter((k) => s[k] > 0).map((k) => `${s[k]} ${k}`);
  if (counts.length) head.push(`Statuses: ${counts.join(', ')}.`, '');

  const groups = groupProblems(report);
  // Blocks after the groups, in order; each can be left out whole to fit.
  const tail: { what: string; text: string }[] = [];
  if (o.identityChanges) {
    // The diff's own `###` heading sits under this report's `##`.
    tail.push({ what: 'the signer identity changes', text: renderDiffMarkdown(o.identityChanges).trimEnd() + '\n' });
  }
  const notices = (report.notices ?? []).filter((n) => !toldByGroups(groupOutages(report), n));
  if (notices.length) {
    tail.push({
      what: 'the notices',
      text: ['### Notices', '', ...notices.map((n) => `- ${markdownCode(n.code)} ${escapeMarkdown(n.message)}${n.hint ? ` (hint: ${escapeMarkdown(n.hint)})` : ''}`), ''].join('\n'),
    });
  }
  if (report.warnings?.length) tail.push({ what: 'the warnings', text: ['### Warnings', '', ...report.warnings.map((w) => `- ${escapeMarkdown(w)}`), ''].join('\n') });
  if (report.trust_root) {
    const { source, as_of: asOf } = report.trust_root;
    tail.push({ what: 'the trust root line', text: `<sub>trust root: ${escapeMarkdown(source)}${asOf ? ` of ${escapeMarkdown(asOf)}` : ''}</sub>\n` });
  }

  const max = o.maxChars ?? GITHUB_COMMENT_LIMIT - 1_536;
  const headText = head.join('\n') + '\n';
  // Fewer rows per cause until everything fits; then leave out whole blocks, and say so.
  const perGroup = o.rowsPerGroup ?? ROWS_PER_GROUP;
  for (const rows of [...new Set([perGroup, Math.min(perGroup, 3), 0])]) {
    const blocks = groups.map((g) => groupBlock(g, o.locate, rows) + '\n');
    const all = headText + blocks.join('') + tail.map((b) => b.text + '\n').join('');
    if (all.length <= max) return all.trimEnd() + '\n';
  }
  return fitted(headText, groups.map((g) => ({ g, text: groupBlock(g, o.locate, 0) + '\n' })), tail, max);
}

/** The report with as many blocks as fit under `max`, in order, and a last line naming what was left out. */
function fitted(head: string, groups: { g: ProblemGroup; text: string }[], tail: { what: string; text: string }[], max: number): string {
  // Room for the closing line (its counts are short; the list of left-out sections is bounded).
  let budget = max - head.length - 600;
  const kept: string[] = [];
  let cutGroups = 0;
  let cutPackages = 0;
  const cutTail: string[] = [];
  for (const { g, text } of groups) {
    if (text.length <= budget) {
      kept.push(text);
      budget -= text.length;
    } else {
      cutGroups++;
      cutPackages += g.rows.length;
    }
  }
  for (const b of tail) {
    const text = b.text + '\n';
    if (text.length <= budget) {
      kept.push(text);
      budget -= text.length;
    } else cutTail.push(b.what);
  }
  const cut = [cutGroups ? `${cutGroups} cause${cutGroups === 1 ? '' : 's'} (${cutPackages} package${cutPackages === 1 ? '' : 's'})` : '', ...cutTail].filter(Boolean);
  const note = `<sub>Cut to stay under GitHub's ${GITHUB_COMMENT_LIMIT.toLocaleString('en-US')}-character comment limit: the rows of each cause${cut.length ? `, and ${cut.join(', ')}` : ''}. The JSON report (\`--output json=PATH\`) has every package.</sub>\n`;
  return head + kept.join('') + note;
}
