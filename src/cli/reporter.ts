// The CLI's one sink for what a run tells its user besides the report: progress, warnings
// of the CLI itself (a job summary that cannot be written) and the report's own warnings and
// notices that the format on stdout does not show (src/report/formats.ts `tells`). Report-once: every
// line goes through here, and a line already told is not told again, so nothing is
// printed both on stderr and in the report a person reads (docs/commands.md, "Output").
import { findingLine } from '../errors.ts';
import { escapeText } from '../text/escape.ts';
import type { Report } from '../types.ts';
import type { CliIO } from './io.ts';
import { startProgress } from './progress.ts';

export interface Reporter {
  /** The run's progress indicator on stderr (src/cli/progress.ts decides spinner or lines). */
  progress(total: number): ReturnType<typeof startProgress>;
  /** A warning that is not part of the report: one `conda-attest: warning: …` line, once. */
  warn(text: string): void;
  /** The report's warnings and notices that the format on stdout does not show, on stderr, once each. */
  tellFindings(report: Report, shown: { notices: boolean; warnings: boolean }): void;
}

export function createReporter(io: CliIO): Reporter {
  const told = new Set<string>();
  const once = (line: string): void => {
    if (told.has(line)) return;
    told.add(line);
    io.stderr.write(`conda-attest: ${escapeText(line)}\n`);
  };
  return {
    progress: (total) => startProgress(io, total),
    warn: (text) => once(`warning: ${text}`),
    tellFindings(report, shown) {
      if (!shown.warnings) for (const w of report.warnings ?? []) once(`warning: ${w}`);
      if (!shown.notices) for (const n of report.notices ?? []) once(findingLine(n));
    },
  };
}
