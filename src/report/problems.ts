// What the CI renderings (GitHub annotations, Markdown summary, SARIF) share: which rows
// are problems, the code a problem is filed under, and one sentence per problem. Pure.
import type { Code } from '../codes.ts';
import type { PackageReport, PackageStatus, Reason } from '../types.ts';

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
