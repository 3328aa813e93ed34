// The CI side of `verify`'s output: the formats for GitHub Actions, job summaries and code
// scanning, and the automatic annotations + job summary when running inside GitHub
// Actions (GITHUB_ACTIONS=true; `--no-github` turns them off). The renderings are pure
// functions in src/report/; this module only chooses them and writes files.
import { appendFile } from 'node:fs/promises';
import { readLock } from '../lock/file.ts';
import { identityChanges, type Lock } from '../lock/decide.ts';
import type { LockChange } from '../lock/diff.ts';
import type { PipelineSession } from '../pipeline.ts';
import type { PackageRecord, Report } from '../types.ts';
import { renderGithub, renderGithubAnnotations } from '../report/github.ts';
import { locatorFor, type Locate } from '../report/locations.ts';
import { renderMarkdownReport } from '../report/markdown.ts';
import { renderSarif } from '../report/sarif.ts';
import { packageVersion } from '../version.ts';
import { describeError } from '../errors.ts';
import { escapeJsonOutput, escapeText } from '../report/escape.ts';
import type { CliIO } from './io.ts';

export const VERIFY_FORMATS = ['text', 'json', 'github', 'markdown', 'sarif'] as const;
export type VerifyFormat = (typeof VERIFY_FORMATS)[number];

/** True inside a GitHub Actions job (the runner sets GITHUB_ACTIONS=true). */
export function inGithubActions(env: NodeJS.ProcessEnv): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

/**
 * What the CI outputs need from before the run: the identity lockfile as it was (for
 * the identity changes) and where each package is written. Only read when some CI
 * output is due.
 */
interface CiContext {
  locate: Locate;
  lockBefore: Lock | null;
}

export async function prepareCi(io: CliIO, records: readonly PackageRecord[], session: PipelineSession, needLock: boolean): Promise<CiContext> {
  const base = io.env.GITHUB_WORKSPACE || io.cwd;
  return {
    locate: locatorFor(records, { cwd: io.cwd, base }),
    lockBefore: needLock ? await readLock(session.lockPath) : null,
  };
}

function changesOf(ci: CiContext, session: PipelineSession): LockChange[] | undefined {
  return ci.lockBefore ? identityChanges(ci.lockBefore, session.lockDecisions()) : undefined;
}

/** The stdout text of a CI format. */
export function renderCiFormat(format: 'github' | 'markdown' | 'sarif', report: Report, ci: CiContext, session: PipelineSession): string {
  switch (format) {
    case 'github':
      return renderGithub(report, ci.locate);
    case 'markdown':
      return renderMarkdownReport(report, { locate: ci.locate, identityChanges: changesOf(ci, session) });
    case 'sarif':
      return escapeJsonOutput(renderSarif(report, { locate: ci.locate, version: packageVersion() }));
  }
}

/**
 * Inside GitHub Actions: the annotations (for the text format, whose stdout is a log) and
 * the Markdown report appended to $GITHUB_STEP_SUMMARY. A summary that cannot be written
 * is a warning on stderr, never a failed verification.
 */
export async function emitGithubExtras(format: VerifyFormat, report: Report, ci: CiContext, session: PipelineSession, io: CliIO): Promise<void> {
  if (format === 'text') io.stdout.write(renderGithubAnnotations(report, ci.locate));
  const summary = io.env.GITHUB_STEP_SUMMARY;
  if (summary) {
    try {
      await appendFile(summary, renderMarkdownReport(report, { locate: ci.locate, identityChanges: changesOf(ci, session) }) + '\n');
    } catch (e) {
      io.stderr.write(`conda-attest: warning: cannot append the job summary to ${escapeText(summary)} (${escapeText(describeError(e))})\n`);
    }
  }
}
