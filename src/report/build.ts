// Report assembly: pure. Rows are sorted so the output is deterministic whatever
// order the concurrent verifications finished in.
import type { PackageReport, Report, ReportSummary } from '../types.ts';

export interface TrustRootSummary {
  source: string;
  digest: string;
  ageDays: number | null;
  asOf?: string | null;
  warnings?: string[];
}

function compareRows(a: PackageReport, b: PackageReport): number {
  return (
    cmp(a.channel, b.channel) || cmp(a.subdir, b.subdir) || cmp(a.filename, b.filename) || cmp(a.url, b.url)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function summarize(rows: readonly PackageReport[]): ReportSummary {
  const summary: ReportSummary = {
    total: rows.length,
    verified: 0,
    missing: 0,
    invalid: 0,
    untrusted: 0,
    'identity-changed': 0,
    'retrieval-failed': 0,
    skipped: 0,
    blocked: 0,
    warned: 0,
    not_covered: { pypi: 0, source: 0, local: 0 },
  };
  for (const r of rows) {
    summary[r.status] += 1;
    if (r.action === 'block') summary.blocked += 1;
    else if (r.action === 'warn') summary.warned += 1;
  }
  return summary;
}

export function buildReport(rows: readonly PackageReport[], root?: TrustRootSummary): Report {
  const packages = [...rows].sort(compareRows);
  const report: Report = { version: 1, summary: summarize(packages), packages };
  if (root) report.trust_root = { source: root.source, digest: root.digest, age_days: root.ageDays, as_of: root.asOf ? root.asOf.slice(0, 10) : null };
  if (root?.warnings?.length) report.warnings = [...root.warnings];
  return report;
}

/** Exit code of a verification run: 1 when any package is blocked, else 0. */
export function exitCodeOf(report: Report): 0 | 1 {
  return report.summary.blocked > 0 ? 1 : 0;
}
