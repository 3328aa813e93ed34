// GitHub Actions workflow commands: one `::error` (blocked) or `::warning` (warned) per
// cause with its count, plus one per package for per-package reasons, placed on the line of
// the package's entry in the environment file so the pull request shows it where the
// lockfile changed. Pure.
//
// Escaping follows the runner's workflow-command rules: in the message `%`, CR and LF
// are written as `%25`, `%0D`, `%0A`; property values (file, title) additionally escape
// `:` and `,` (`%3A`, `%2C`), which delimit properties. Everything from outside (file
// names, channel URLs, messages quoting sidecars) first goes through escapeText, so a
// crafted value can neither start a new command on a new line nor carry terminal escapes.
import { CODES } from '../codes.ts';
import type { PackageReport, Report } from '../types.ts';
import { escapeText } from '../text/escape.ts';
import type { Locate } from './locations.ts';
import { groupOutages, toldByGroups } from './outages.ts';
import { groupProblems, isPerPackage, packageLabel, primaryCode, problemReasons, type ProblemGroup } from './problems.ts';

/** Workflow-command message data: `%`, CR, LF escaped. */
export function escapeWorkflowData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Workflow-command property value: as data, plus `:` and `,`. */
export function escapeWorkflowProperty(s: string): string {
  return escapeWorkflowData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One workflow command line (`::name k=v,k=v::message`), every part escaped. */
export function workflowCommand(name: string, properties: Record<string, string | number | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeWorkflowProperty(escapeText(String(v)))}`)
    .join(',');
  return `::${name}${props ? ` ${props}` : ''}::${escapeWorkflowData(message)}`;
}

/**
 * GitHub shows at most 10 error, 10 warning and 10 notice annotations per step (and 50 per
 * job) and drops the rest without a word (actions/toolkit, "Problem Matchers: Limitations").
 * So annotations are one per cause, and per package only for per-package reasons
 * (src/report/problems.ts isPerPackage), at most this many; the summary line counts the rest.
 */
const PER_PACKAGE_ANNOTATIONS = 10;

/** A package's annotation message: what it is, then each reason and its hint on its own line. */
function packageMessage(row: PackageReport): string {
  const lines = [`${escapeText(packageLabel(row))} is ${row.action === 'block' ? 'blocked' : 'warned'} (${row.status}).`];
  for (const r of problemReasons(row)) {
    lines.push(`${escapeText(r.code)}: ${escapeText(r.message)}`);
    if (r.hint) lines.push(`hint: ${escapeText(r.hint)}`);
  }
  return lines.join('\n');
}

/** Names shown in a cause's annotation. */
const NAMES_PER_CAUSE = 5;

/** A cause's annotation message: count and what happened, its detail, hint, and the first names. */
function causeMessage(g: ProblemGroup): string {
  const lines = [escapeText(g.headline) + '.'];
  if (!g.outage && Object.hasOwn(CODES, g.code)) lines.push(escapeText(CODES[g.code].meaning));
  if (g.detail) lines.push(escapeText(g.detail));
  if (g.hint) lines.push(`hint: ${escapeText(g.hint)}`);
  const more = g.rows.length - NAMES_PER_CAUSE;
  lines.push(`${g.rows.slice(0, NAMES_PER_CAUSE).map((r) => escapeText(r.filename)).join(', ')}${more > 0 ? ` +${more} more` : ''}`);
  return lines.join('\n');
}

/** The annotations and how many per-package ones were left for the summary line. */
function annotate(report: Report, locate: Locate): { lines: string[]; notAnnotated: number } {
  const out: string[] = [];
  const perPackage: PackageReport[] = [];
  for (const g of groupProblems(report)) {
    const kind = g.action === 'block' ? 'error' : 'warning';
    const each = g.outage ? [] : g.rows.filter(isPerPackage);
    // A cause of one package is that package's annotation (on its line), not two.
    if (g.rows.length === 1) {
      const where = locate(g.rows[0]!);
      if (each.length === 0) out.push(workflowCommand(kind, { file: where?.file, line: where?.line, title: g.code }, packageMessage(g.rows[0]!)));
    } else {
      // On the line of its first package, so a pull request shows it in the changed lockfile.
      const where = locate(g.rows[0]!);
      out.push(workflowCommand(kind, { file: where?.file, line: where?.line, title: g.code }, causeMessage(g)));
    }
    perPackage.push(...each);
  }
  const shown = perPackage.slice(0, PER_PACKAGE_ANNOTATIONS);
  for (const row of shown) {
    const where = locate(row);
    out.push(workflowCommand(row.action === 'block' ? 'error' : 'warning', { file: where?.file, line: where?.line, title: primaryCode(row) }, packageMessage(row)));
  }
  return { lines: out, notAnnotated: perPackage.length - shown.length };
}

/**
 * The annotations of a report: one `::error` (blocked) or `::warning` (warned) per cause
 * with its count, titled with its code, plus one per package for per-package reasons (at
 * most PER_PACKAGE_ANNOTATIONS). Each sits on the lockfile line of its (first) package.
 */
export function renderGithubAnnotations(report: Report, locate: Locate): string {
  const { lines } = annotate(report, locate);
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** One plain summary line for a log; per-package problems beyond the annotations are counted on it. */
function summaryLine(report: Report, notAnnotated: number): string {
  const s = report.summary;
  const rest = notAnnotated > 0 ? `; ${notAnnotated} more package${notAnnotated === 1 ? '' : 's'} with per-package problems not annotated (the job summary and --format markdown list them by cause)` : '';
  return `conda-attest: ${s.total} package${s.total === 1 ? '' : 's'}: ${s.verified} verified, ${s.blocked} blocked, ${s.warned} warned, ${s.skipped} skipped${rest}\n`;
}

/**
 * The run-level findings as annotations: a `::notice` per notice (titled with its code, the
 * hint on its own line) and a `::warning` per warning, in report order.
 */
export function renderGithubFindings(report: Report): string {
  const out: string[] = [];
  const outages = groupOutages(report);
  for (const n of (report.notices ?? []).filter((x) => !toldByGroups(outages, x))) {
    out.push(workflowCommand('notice', { title: n.code }, [escapeText(n.message), ...(n.hint ? [`hint: ${escapeText(n.hint)}`] : [])].join('\n')));
  }
  for (const w of report.warnings ?? []) out.push(workflowCommand('warning', { title: 'conda-attest' }, escapeText(w)));
  return out.length ? out.join('\n') + '\n' : '';
}

/** `--format github`: the annotations, the run-level findings, then the summary line. */
export function renderGithub(report: Report, locate: Locate): string {
  const { lines, notAnnotated } = annotate(report, locate);
  return lines.map((l) => l + '\n').join('') + renderGithubFindings(report) + summaryLine(report, notAnnotated);
}
