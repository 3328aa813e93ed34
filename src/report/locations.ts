// Where a report row's package is written in the environment file it came from, as a
// path relative to the repository (GitHub annotations and SARIF locations are resolved
// against the checkout). Pure: the CLI passes the records and the two directories.
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { PackageRecord, PackageReport } from '../types.ts';

interface EntryLocation {
  /** Path relative to the base directory, with `/` separators (absolute when outside it). */
  file: string;
  /** 1-based line of the package's entry. */
  line: number;
}

/** A row → its entry, or undefined (package URL or file targets have no entry). */
export type Locate = (row: PackageReport) => EntryLocation | undefined;

export const locateNothing: Locate = () => undefined;

/**
 * Index the records' `source` by package URL (a report row keeps its record's URL).
 * `cwd` resolves the targets as given; `base` (GITHUB_WORKSPACE in Actions, else the
 * working directory) is what paths are made relative to.
 */
export function locatorFor(records: readonly PackageRecord[], o: { cwd: string; base: string }): Locate {
  const byUrl = new Map<string, EntryLocation>();
  const paths = new Map<string, string>();
  for (const r of records) {
    if (!r.source) continue;
    let file = paths.get(r.source.file);
    if (file === undefined) {
      const abs = resolve(o.cwd, r.source.file);
      const rel = relative(resolve(o.base), abs);
      file = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
      file = file.split(sep).join('/');
      paths.set(r.source.file, file);
    }
    byUrl.set(r.url, { file, line: r.source.line });
  }
  return (row) => byUrl.get(row.url);
}
