// What the CI renderings (GitHub annotations, Markdown summary, SARIF) share: which rows
// are problems, the code a problem is filed under, and one sentence per problem. Pure.
import type { Code } from '../codes.ts';
import type { PackageReport, PackageStatus, Reason, Report } from '../types.ts';
import { groupOutages, OFFLINE_HINT, outageDetail, outageHeadline } from './outages.ts';

/** Rows a reviewer must look at: blocked or warned packages, in report order. */
export function problemRows(rows: readonly PackageReport[]): PackageReport[] {
  return rows.filter((r) => r.action !== 'pass');
}

/** The code a problem row without reasons is filed under, by its status. */
const STATUS_CODES: Readonly<Record<PackageStatus, Code>> = {
  verified: 'PACKAGE_VERIFIED',
  missing: 'PACKAGE_MISSING',
  invalid: 'PACKAGE_INVALID',
  untrusted: 'PACKAGE_UNTRUSTED',
  'identity-changed': 'PACKAGE_IDENTITY_CHANGED',
  'retrieval-failed': 'PACKAGE_RETRIEVAL_FAILED',
  skipped: 'PACKAGE_SKIPPED',
};

/**
 * The reasons of a problem row; a row that carries none (it should not happen, but a
 * renderer must never drop a problem) gets one named after its status.
 */
export function problemReasons(row: PackageReport): Reason[] {
  if (row.reasons.length > 0) return row.reasons;
  return [{ code: STATUS_CODES[row.status], message: `${row.filename} is ${row.status}.` }];
}

/** The code a row is filed under (its first reason's). */
export function primaryCode(row: PackageReport): Code {
  return problemReasons(row)[0]!.code;
}

/** `<filename> from <channel> (<subdir>)`: how a package is named in CI messages. */
export function packageLabel(row: PackageReport): string {
  return `${row.filename} from ${row.channel} (${row.subdir})`;
}

/**
 * Per-package reasons: what is wrong with this one package's bytes or signer. Each may be an
 * attack on that package (a forged or re-signed build, swapped bytes, a denied release), so
 * a reviewer must see every one of them by name: rows whose status is `invalid`, `untrusted`
 * or `identity-changed`, and rows carrying DENIED or PACKAGE_DIGEST_MISMATCH whatever their
 * status. Everything else (no attestations published, an outage, --offline, a frozen
 * lockfile without the entry) follows from one fact of the run, the channel or the network
 * that many packages share, and is told once per cause with the count.
 */
const PER_PACKAGE_STATUSES: ReadonlySet<PackageStatus> = new Set(['invalid', 'untrusted', 'identity-changed']);
const PER_PACKAGE_CODES: ReadonlySet<Code> = new Set(['DENIED', 'PACKAGE_DIGEST_MISMATCH']);

export function isPerPackage(row: PackageReport): boolean {
  return PER_PACKAGE_STATUSES.has(row.status) || row.reasons.some((r) => PER_PACKAGE_CODES.has(r.code));
}

/** Problem rows that share one cause: an outage (host + cause), or a reason code. */
export interface ProblemGroup {
  action: 'block' | 'warn';
  /** The code the group is filed under (an outage: its first reason code). */
  code: Code;
  /** One plain-text line: what happened to how many packages. Callers escape. */
  headline: string;
  /** A second line (an outage's first failed request), plain text. */
  detail?: string;
  /** The hint every row of the group shares, if they share one. */
  hint?: string;
  /** The rows, in report order. */
  rows: PackageReport[];
  /** An outage (rows listed by name only: their reasons are the group's). */
  outage: boolean;
}

/**
 * The problem rows grouped by cause, as the text format groups outages: first the outages
 * (src/report/outages.ts), then the other problems by their primary code; blocked before
 * warned, larger groups first, then by code. Deterministic.
 */
export function groupProblems(report: Pick<Report, 'packages' | 'notices'>): ProblemGroup[] {
  const groups: ProblemGroup[] = [];
  const outages = groupOutages(report);
  const grouped = new Set(outages.flatMap((g) => g.rows));
  for (const g of outages) {
    if (g.action === 'pass') continue;
    const hint = g.outage.host === '--offline' ? OFFLINE_HINT : g.hint;
    groups.push({ action: g.action, code: g.codes[0]!, headline: outageHeadline(g), detail: outageDetail(g), ...(hint ? { hint } : {}), rows: g.rows, outage: true });
  }
  const byCode = new Map<string, ProblemGroup>();
  for (const row of problemRows(report.packages)) {
    if (grouped.has(row)) continue;
    const code = primaryCode(row);
    const action = row.action === 'block' ? 'block' : 'warn';
    const key = `${action}\u0000${code}`;
    let g = byCode.get(key);
    if (!g) byCode.set(key, (g = { action, code, headline: '', rows: [], outage: false }));
    g.rows.push(row);
  }
  for (const g of byCode.values()) {
    const n = g.rows.length;
    g.headline = `${g.code}: ${n} package${n === 1 ? ' is' : 's are'} ${g.action === 'block' ? 'blocked' : 'warned about'}`;
    const hints = new Set(g.rows.map((r) => problemReasons(r)[0]!.hint));
    const [hint] = hints;
    if (hints.size === 1 && hint) g.hint = hint;
    groups.push(g);
  }
  const rank = (g: ProblemGroup) => (g.action === 'block' ? 0 : 1);
  return groups.sort((a, b) => rank(a) - rank(b) || b.rows.length - a.rows.length || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) || (a.headline < b.headline ? -1 : 1));
}
