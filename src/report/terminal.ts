// Human output: one line per problem package with its reason and hint, then counts.
// Colour only when the caller says so (TTY and no NO_COLOR). Every value from a report is
// outside data (file names, channels, SANs, messages quoting sidecars and repodata): each
// goes through escapeText so it cannot move the cursor, erase lines or forge a verdict.
import { Chalk, type ChalkInstance } from 'chalk';
import type { NotCoveredCounts, PackageReport, Report } from '../types.ts';
import { escapeText as t } from '../text/escape.ts';
import { groupOutages, OFFLINE_HINT, outageDetail, outageHeadline, toldByGroups } from './outages.ts';
import { evidenceLines } from './evidence-text.ts';
import { signerLines } from './signers.ts';

interface TerminalOptions {
  color: boolean;
  /** Also list packages that passed (verified / skipped). */
  verbose?: boolean;
  /** Wall-clock time of the run: the counts line ends with it. */
  elapsedMs?: number;
}

function who(p: PackageReport): string {
  const id = p.identity;
  if (!id) return '';
  if (id.kind === 'key') return ` by key ${t(id.keyName ?? id.keyFingerprint?.slice(0, 16) ?? '')}`;
  return ` by ${t(id.san ?? '')}`;
}

/** "148 PyPI packages in this lock are not covered by conda attestations" (undefined when nothing is uncovered). */
function notCoveredLine(n: NotCoveredCounts | undefined): string | undefined {
  if (!n) return undefined;
  const parts = [
    n.pypi ? `${n.pypi} PyPI package${n.pypi === 1 ? '' : 's'}` : '',
    n.source ? `${n.source} source package${n.source === 1 ? '' : 's'} (built locally)` : '',
    n.local ? `${n.local} package${n.local === 1 ? '' : 's'} from a local file:// channel` : '',
  ].filter(Boolean);
  if (parts.length === 0) return undefined;
  const plural = n.pypi + n.source + (n.local ?? 0) !== 1;
  return `${parts.join(' and ')} in this lock ${plural ? 'are' : 'is'} not covered by conda attestations`;
}

/** `0.4s`, `12s`, `2m 05s`: how long a run took, as short as a person reads it. */
export function durationText(ms: number): string {
  const sec = Math.max(0, ms) / 1000;
  if (sec < 10) return `${sec.toFixed(1)}s`;
  if (sec < 60) return `${Math.round(sec)}s`;
  const whole = Math.round(sec);
  return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
}

/** Names shown per outage without --verbose. */
const OUTAGE_NAMES = 5;

type Colors = ChalkInstance;

function mark(p: PackageReport, c: Colors): string {
  return p.action === 'block' ? c.red('✖ blocked') : p.action === 'warn' ? c.yellow('▲ warning') : c.green('✔ ok');
}

export function renderTerminal(report: Report, opts: TerminalOptions): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const lines: string[] = [];
  // Outages are one line, not hundreds: packages failing for the same cause are grouped.
  const outages = groupOutages(report);
  const grouped = new Set(outages.flatMap((g) => g.rows));
  for (const p of report.packages) {
    if (grouped.has(p)) continue;
    // A skipped package's reason (CHANNEL_DISABLED) is what the user configured, not a problem.
    const problem = p.action !== 'pass' || (p.status !== 'skipped' && p.reasons.length > 0) || p.exception !== undefined;
    if (problem || opts.verbose) lines.push(...packageLines(p, report, c, opts.verbose ?? false));
  }
  for (const g of outages) lines.push(...outageLines(g, c, opts.verbose ?? false));
  // Run-level findings before the counts: one `CODE message` line each, with its hint.
  const notices = (report.notices ?? []).filter((n) => !toldByGroups(outages, n));
  if (notices.length > 0) {
    if (lines.length > 0) lines.push('');
    for (const n of notices) {
      lines.push(`${c.yellow(t(n.code))} ${t(n.message)}`);
      if (n.hint) lines.push(`    ${c.cyan('hint:')} ${t(n.hint)}`);
    }
  }
  // Warnings without a code (cache trouble) and the trust root's: here, not again on stderr.
  if (report.warnings?.length) {
    if (lines.length > 0) lines.push('');
    for (const w of report.warnings) lines.push(`${c.yellow('warning:')} ${t(w)}`);
  }
  if (lines.length > 0) lines.push('');
  lines.push(...summaryLines(report, c, opts));
  return lines.join('\n') + '\n';
}

/** One package that is a problem (or any package under --verbose): head, reasons, diff, hints. */
function packageLines(p: PackageReport, report: Report, c: Colors, verbose: boolean): string[] {
  const lines = [`${mark(p, c)} ${c.bold(t(p.filename))} ${c.dim(`(${t(p.channel)}/${t(p.subdir)})`)} ${t(p.status)}${p.status === 'verified' ? who(p) : ''}`];
  const changed = (p.identity_diff?.changes ?? []).filter((ch) => ch.type === 'identity-changed');
  const fieldLines = changed.some((ch) => ch.fields.length > 0);
  // A package let through by an exception always says so (and until when).
  if (p.exception) lines.push(`    ${c.yellow('exception:')} passes until ${t(p.exception.until)}${p.exception.reason ? ` (${t(p.exception.reason)})` : ''}`);
  // The field-by-field change (and a re-registration, said in words first:
  // src/policy/reregistered.ts) follows the reason it explains, indented under it, before
  // that reason's hint.
  const diffLines: string[] = [];
  for (const change of changed) {
    for (const r of change.reregistered ?? []) diffLines.push(`      ${c.red.bold(t(r.message))}`);
    for (const f of change.fields) {
      diffLines.push(`      ${t(f.field)}: ${c.red(t(f.old ?? '(absent)'))} → ${c.green(t(f.new ?? '(absent)'))}`);
    }
  }
  const explained = p.reasons.find((r) => r.code === 'IDENTITY_CHANGED') ?? p.reasons[0];
  for (const r of p.reasons) {
    // The field lines say the change: the message is not repeated in them.
    const message = r.code === 'IDENTITY_CHANGED' && fieldLines ? r.message.replace(/: [^]*$/, ':') : r.message;
    lines.push(`    ${c.dim(t(r.code))} ${t(message)}`);
    if (r === explained) lines.push(...diffLines.splice(0));
    if (r.hint) lines.push(`    ${c.cyan('hint:')} ${t(r.hint)}`);
  }
  lines.push(...diffLines);
  if (verbose) for (const n of p.notes) lines.push(`    ${c.dim('note:')} ${t(n)}`);
  if (verbose) lines.push(...evidenceLines(p, c, report.trust_root?.source.startsWith('public-good') ?? false));
  return lines;
}

/** One outage cause: its headline, detail, hint and the first few package names. */
function outageLines(g: ReturnType<typeof groupOutages>[number], c: Colors, verbose: boolean): string[] {
  const lines = [`${mark(g.rows[0]!, c)} ${c.bold(t(outageHeadline(g)))}`, `    ${c.dim(t(outageDetail(g)))}`];
  const hint = g.outage.host === '--offline' ? OFFLINE_HINT : g.hint;
  if (hint) lines.push(`    ${c.cyan('hint:')} ${t(hint)}`);
  const shown = verbose ? g.rows : g.rows.slice(0, OUTAGE_NAMES);
  const more = g.rows.length - shown.length;
  lines.push(`    ${shown.map((p) => t(p.filename)).join(', ')}${more > 0 ? `, and ${more} more (--verbose lists them all)` : ''}`);
  return lines;
}

/** Who signed, the counts with the time taken, what is not covered, the verdict, the lockfile and (--verbose) the trust root. */
function summaryLines(report: Report, c: Colors, opts: TerminalOptions): string[] {
  const s = report.summary;
  const parts = [
    // Green only when something was verified: `0 verified` is not a success.
    s.verified > 0 ? c.green(`${s.verified} verified`) : c.yellow(`${s.verified} verified`),
    s['identity-changed'] ? c.red(`${s['identity-changed']} identity-changed`) : '',
    s.untrusted ? c.red(`${s.untrusted} untrusted`) : '',
    s.invalid ? c.red(`${s.invalid} invalid`) : '',
    s['retrieval-failed'] ? c.red(`${s['retrieval-failed']} retrieval-failed`) : '',
    s.missing ? c.yellow(`${s.missing} missing`) : '',
    s.skipped ? c.dim(`${s.skipped} skipped`) : '',
  ].filter(Boolean);
  // Who signed what passed, as `gh attestation verify` says it on success.
  const lines = signerLines(report.packages).map((l) => t(l));
  const took = opts.elapsedMs === undefined ? '' : c.dim(` in ${durationText(opts.elapsedMs)}`);
  lines.push(`${s.total} package${s.total === 1 ? '' : 's'}: ${parts.join(', ')}${took}`);
  const uncovered = notCoveredLine(s.not_covered);
  if (uncovered) lines.push(c.dim(uncovered));
  // "all passed" only when something was checked: a run that verified nothing says so.
  const nothingChecked = (report.notices ?? []).some((n) => n.code === 'NOTHING_VERIFIED');
  const verdict =
    s.blocked > 0
      ? c.red.bold(`${s.blocked} blocked`) + (s.warned ? `, ${c.yellow(`${s.warned} warned`)}` : '')
      : s.warned > 0
        ? c.yellow(`passed with ${s.warned} warning${s.warned === 1 ? '' : 's'}`)
        : nothingChecked
          ? c.yellow('nothing verified (no package was checked)')
          : c.green('all passed');
  lines.push(verdict);
  const lock = report.lockfile;
  if (lock && lock.written && lock.pinned > 0) {
    lines.push(
      `pinned ${lock.pinned} new signer identit${lock.pinned === 1 ? 'y' : 'ies'} in ${t(lock.path)}: commit it, so that later runs (and CI with --frozen) check against it`,
    );
  }
  // The trust root's date only where it matters: --verbose (a stale root has its own warning line).
  if (report.trust_root && opts.verbose) {
    const { source, as_of: asOf, age_days: age } = report.trust_root;
    lines.push(c.dim(`trust root: ${t(source)} of ${asOf ?? 'unknown date'}${age === null ? '' : `, ${Math.floor(age)} day${Math.floor(age) === 1 ? '' : 's'} old`}`));
  }
  return lines;
}
