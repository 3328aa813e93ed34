// One line per cause: packages that could not be checked because their host failed (DNS,
// refused connections, stalls, 5xx) or because the run was offline are grouped by that
// cause, so that an outage of 489 packages reads as one finding, not 489. Shared by the
// terminal, Markdown and GitHub renderings. Pure.
import type { Code } from '../codes.ts';
import type { Outage, PackageAction, PackageReport, Reason, Report } from '../types.ts';

export interface OutageGroup {
  outage: Outage;
  action: PackageAction;
  /** The rows, in report order. */
  rows: PackageReport[];
  /** The reason codes of the rows (REPODATA_UNAVAILABLE, SIDECAR_UNAVAILABLE, …), sorted. */
  codes: Code[];
  hint?: string;
  /** The host was cut off for the run (its HOST_CUT_OFF notice is this group's, not a line of its own). */
  cutOff: boolean;
}

/** The outage a row failed with, when every reason of a retrieval failure names the same one. */
function rowOutage(p: PackageReport): Outage | undefined {
  if (p.status !== 'retrieval-failed' || p.reasons.length === 0) return undefined;
  const first = p.reasons[0]!.outage;
  if (!first) return undefined;
  return p.reasons.every((r) => r.outage?.host === first.host && r.outage.cause === first.cause) ? first : undefined;
}

/** Rows grouped by (action, host, cause), groups in order of their first row. */
export function groupOutages(report: Pick<Report, 'packages' | 'notices'>): OutageGroup[] {
  // A host cut off for the run: its notice's transport hint fits the whole group.
  const cutOff = new Map((report.notices ?? []).filter((n) => n.code === 'HOST_CUT_OFF' && n.outage).map((n) => [n.outage!.host, n.hint] as const));
  const groups = new Map<string, OutageGroup>();
  for (const p of report.packages) {
    const o = rowOutage(p);
    if (!o) continue;
    const key = `${p.action}\u0000${o.host}\u0000${o.cause}`;
    let g = groups.get(key);
    if (!g) {
      g = { outage: o, action: p.action, rows: [], codes: [], hint: cutOff.get(o.host) ?? p.reasons[0]!.hint, cutOff: cutOff.has(o.host) };
      groups.set(key, g);
    }
    g.rows.push(p);
    for (const r of p.reasons) if (!g.codes.includes(r.code)) g.codes.push(r.code);
  }
  for (const g of groups.values()) g.codes.sort();
  return [...groups.values()];
}

/** Notices a group already tells (a HOST_CUT_OFF of a grouped host): renderings skip them. */
export function toldByGroups(groups: readonly OutageGroup[], n: Reason): boolean {
  return n.code === 'HOST_CUT_OFF' && n.outage !== undefined && groups.some((g) => g.cutOff && g.outage.host === n.outage!.host);
}

/**
 * `prefix.dev: DNS lookup failed (ENOTFOUND): 489 packages could not be checked`; offline:
 * `--offline: 12 packages need the network and were not checked`. Plain text: callers escape.
 */
export function outageHeadline(g: OutageGroup): string {
  const n = g.rows.length;
  const packages = `${n} package${n === 1 ? '' : 's'}`;
  if (g.outage.host === '--offline') return `--offline: ${packages} need${n === 1 ? 's' : ''} the network and ${n === 1 ? 'was' : 'were'} not checked`;
  return `${g.outage.host}: ${g.outage.cause}: ${packages} could not be checked`;
}

/** `first failed request: URL (REPODATA_UNAVAILABLE); its other requests were not sent`. */
export function outageDetail(g: OutageGroup): string {
  const codes = g.codes.join(', ');
  if (g.outage.host === '--offline') return `nothing was sent; the first request needed: ${g.outage.url} (${codes})`;
  return `first failed request: ${g.outage.url} (${codes})${g.cutOff ? '; its other requests were not sent' : ''}`;
}

/** The hint of an offline group: how to check these packages, and the old meaning of --offline. */
export const OFFLINE_HINT =
  'Run once online to fill the caches, or give the sidecar with --sigs; `--no-tuf-refresh` is the old --offline (only the trust root is not refreshed, channels are fetched).';
