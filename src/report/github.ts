// GitHub Actions workflow commands: one `::error` per blocked and one `::warning` per
// warned package, placed on the line of the package's entry in the environment file so
// the pull request shows it where the lockfile changed. Pure.
//
// Escaping follows the runner's workflow-command rules: in the message `%`, CR and LF
// are written as `%25`, `%0D`, `%0A`; property values (file, title) additionally escape
// `:` and `,` (`%3A`, `%2C`), which delimit properties. Everything from outside (file
// names, channel URLs, messages quoting sidecars) first goes through escapeText, so a
// crafted value can neither start a new command on a new line nor carry terminal escapes.
import type { Report } from '../types.ts';
import { escapeText } from './escape.ts';
import type { Locate } from './locations.ts';
import { packageLabel, problemReasons, problemRows } from './problems.ts';

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
 * Beyond this many of one kind, the packages are still listed in the log as plain lines and
 * one notice says how many were not annotated, so nothing is hidden.
 */
const ANNOTATIONS_PER_KIND = 10;

/**
 * The annotations of a report: `::error` for blocked, `::warning` for warned packages,
 * titled with the reason code, each reason and its hint on its own line of the message.
 * The first ANNOTATIONS_PER_KIND of each kind become annotations; the rest are printed as
 * plain log lines, followed by one `::notice` with the counts.
 */
export function renderGithubAnnotations(report: Report, locate: Locate): string {
  const out: string[] = [];
  const overflow: string[] = [];
  const emitted = { error: 0, warning: 0 };
  const dropped = { error: 0, warning: 0 };
  for (const row of problemRows(report.packages)) {
    const reasons = problemReasons(row);
    const where = locate(row);
    const kind = row.action === 'block' ? 'error' : 'warning';
    const lines = [`${escapeText(packageLabel(row))} is ${row.action === 'block' ? 'blocked' : 'warned'} (${row.status}).`];
    for (const r of reasons) {
      lines.push(`${escapeText(r.code)}: ${escapeText(r.message)}`);
      if (r.hint) lines.push(`hint: ${escapeText(r.hint)}`);
    }
    if (emitted[kind] < ANNOTATIONS_PER_KIND) {
      emitted[kind]++;
      out.push(workflowCommand(kind, { file: where?.file, line: where?.line, title: reasons[0]!.code }, lines.join('\n')));
      continue;
    }
    dropped[kind]++;
    // A plain log line starting with the kind: escapeText has removed every control
    // character, so nothing from outside can begin a line and so start a workflow command.
    const place = where ? `${escapeText(where.file)}:${where.line}: ` : '';
    overflow.push(`${kind}: ${place}${lines.join(' ')}`);
  }
  if (overflow.length > 0) {
    const parts = [
      dropped.error ? `${dropped.error} blocked` : '',
      dropped.warning ? `${dropped.warning} warned` : '',
    ].filter(Boolean);
    out.push(...overflow);
    out.push(
      workflowCommand(
        'notice',
        { title: 'conda-attest: more problems than annotations' },
        `${parts.join(' and ')} package${overflow.length === 1 ? ' is' : 's are'} listed in the log above but not annotated: GitHub shows at most ${ANNOTATIONS_PER_KIND} error and ${ANNOTATIONS_PER_KIND} warning annotations per step.`,
      ),
    );
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** One plain summary line for a log. */
function summaryLine(report: Report): string {
  const s = report.summary;
  return `conda-attest: ${s.total} package${s.total === 1 ? '' : 's'}: ${s.verified} verified, ${s.blocked} blocked, ${s.warned} warned, ${s.skipped} skipped\n`;
}

/**
 * The run-level findings as annotations: a `::notice` per notice (titled with its code, the
 * hint on its own line) and a `::warning` per warning, in report order.
 */
export function renderGithubFindings(report: Report): string {
  const out: string[] = [];
  for (const n of report.notices ?? []) {
    out.push(workflowCommand('notice', { title: n.code }, [escapeText(n.message), ...(n.hint ? [`hint: ${escapeText(n.hint)}`] : [])].join('\n')));
  }
  for (const w of report.warnings ?? []) out.push(workflowCommand('warning', { title: 'conda-attest' }, escapeText(w)));
  return out.length ? out.join('\n') + '\n' : '';
}

/** `--format github`: the annotations, the run-level findings, then the summary line. */
export function renderGithub(report: Report, locate: Locate): string {
  return renderGithubAnnotations(report, locate) + renderGithubFindings(report) + summaryLine(report);
}
