// Where `verify`'s report goes: one format on stdout (`--format`), any number of files
// (`--output FORMAT=PATH`, and `--report-file PATH`, which is `--output json=PATH`), and
// inside GitHub Actions (GITHUB_ACTIONS=true; `--no-github` turns them off) the annotations
// and the Markdown job summary. The renderings are the registry in src/report/formats.ts;
// this module only parses the choices, gathers what they need and writes.
import { access, appendFile, constants, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { readLock } from '../lock/file.ts';
import { identityChanges, type Lock } from '../lock/decide.ts';
import type { PipelineSession } from '../pipeline.ts';
import type { PackageRecord, Report } from '../types.ts';
import { FORMAT_NAMES, FORMATS, isFormatName, renderFormat, type FormatName, type RenderContext } from '../report/formats.ts';
import { renderGithubAnnotations } from '../report/github.ts';
import { locateNothing, locatorFor } from '../report/locations.ts';
import { packageVersion } from '../version.ts';
import { describeError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { CliIO } from './io.ts';
import type { Reporter } from './reporter.ts';
import { batched } from '../util/batched.ts';

export const VERIFY_FORMATS = FORMAT_NAMES;
export type VerifyFormat = FormatName;

/** True inside a GitHub Actions job (the runner sets GITHUB_ACTIONS=true). */
export function inGithubActions(env: NodeJS.ProcessEnv): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

/** One report file: `--output FORMAT=PATH`, or `--report-file PATH` (json). */
export interface OutputFile {
  format: FormatName;
  /** Absolute. */
  path: string;
  /** The option as the user wrote it, for messages. */
  option: string;
}

const formatList = FORMAT_NAMES.join(', ');

/**
 * The report files asked for, checked before the run: a malformed `FORMAT=PATH`, an unknown
 * format, two outputs to one path or a path that cannot be written is a usage error (exit 2)
 * now, not after minutes of verification.
 */
export async function parseOutputs(specs: readonly string[], reportFile: string | undefined, cwd: string): Promise<OutputFile[]> {
  const out: OutputFile[] = [];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    const path = eq < 0 ? '' : spec.slice(eq + 1);
    if (eq <= 0 || path === '') {
      throw new UsageError('USAGE_INVALID_ARGUMENT', `--output takes FORMAT=PATH, not "${spec}".`, {
        hint: `For example --output sarif=results.sarif; FORMAT is one of ${formatList}.`,
      });
    }
    if (!isFormatName(name)) {
      throw new UsageError('USAGE_INVALID_ARGUMENT', `Unknown format "${name}" in --output ${spec}.`, { hint: `FORMAT is one of ${formatList}.` });
    }
    out.push({ format: name, path: resolve(cwd, path), option: `--output ${spec}` });
  }
  if (reportFile !== undefined) out.push({ format: 'json', path: resolve(cwd, reportFile), option: `--report-file ${reportFile}` });
  const seen = new Map<string, string>();
  for (const o of out) {
    const other = seen.get(o.path);
    if (other) throw new UsageError('USAGE_INVALID_ARGUMENT', `${other} and ${o.option} write the same file.`, { hint: 'Give each output its own path.' });
    seen.set(o.path, o.option);
    await checkWritable(o);
  }
  return out;
}

async function checkWritable(o: OutputFile): Promise<void> {
  const fail = (why: string, cause?: unknown): never => {
    throw new UsageError('USAGE_OUTPUT_UNWRITABLE', `Cannot write ${o.path} (${o.option}): ${why}.`, {
      hint: 'Point it at a file in an existing, writable directory.',
      cause,
    });
  };
  const isDir = await stat(o.path).then((s) => s.isDirectory(), () => false);
  if (isDir) fail('it is a directory');
  // The file is written by rename into its directory (src/store/atomic.ts): that directory must be writable.
  await access(dirname(o.path), constants.W_OK).catch((e: unknown) => fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : 'its directory is not writable', e));
}

/** What the formats of a run need from before it: the lockfile as it was, the targets' lines. */
export interface OutputPlan {
  /** The render context once the run is over. */
  context(session: PipelineSession, o: { color: boolean; verbose: boolean; elapsedMs: number }): RenderContext;
}

export async function planOutputs(io: CliIO, records: readonly PackageRecord[], session: PipelineSession, formats: readonly FormatName[], github: boolean): Promise<OutputPlan> {
  const needs = (k: 'locations' | 'identityChanges') => github || formats.some((f) => FORMATS[f][k]);
  const locate = needs('locations') ? locatorFor(records, { cwd: io.cwd, base: io.env.GITHUB_WORKSPACE || io.cwd }) : locateNothing;
  // Taken before the run, which may rewrite the lockfile.
  const lockBefore: Lock | null = needs('identityChanges') ? await readLock(session.lockPath) : null;
  return {
    context: (s, o) => ({
      locate,
      identityChanges: lockBefore ? identityChanges(lockBefore, s.lockDecisions()) : undefined,
      version: packageVersion(),
      ...o,
    }),
  };
}

/**
 * Every report file, each written whole (temporary file + rename): a reader never sees half a
 * report. The rendering is streamed to the temporary file piece by piece (JSON: one piece per
 * package), as on stdout: a large report never exists as one string (a 50,000-package JSON
 * report is 35 MB of text).
 */
export async function writeOutputs(outputs: readonly OutputFile[], report: Report, ctx: RenderContext): Promise<void> {
  for (const o of outputs) {
    const pieces = await FORMATS[o.format].render(report, { ...ctx, color: false });
    try {
      await writeFileAtomic(o.path, pieces);
    } catch (e) {
      throw new UsageError('USAGE_OUTPUT_UNWRITABLE', `Cannot write ${o.path} (${o.option}): ${describeError(e)}.`, {
        hint: 'Point it at a file in an existing, writable directory.',
        cause: e,
      });
    }
  }
}

/**
 * The chosen format on stdout, piece by piece, honouring back-pressure: a large JSON report
 * is never one string. Stops when the reader goes away (`| head`).
 */
export async function writeStdout(io: CliIO, pieces: Iterable<string>): Promise<void> {
  for (const piece of batched(pieces)) {
    if (io.stdout.write(piece)) continue;
    const gone = await new Promise<boolean>((resolve) => {
      // All three listeners go once one fires: a large report waits many times, and
      // leftover listeners would pile up (Node warns past 10 per event).
      const done = (value: boolean) => () => {
        io.stdout.off('drain', onDrain);
        io.stdout.off('close', onGone);
        io.stdout.off('error', onGone);
        resolve(value);
      };
      const onDrain = done(false);
      const onGone = done(true);
      io.stdout.once('drain', onDrain);
      io.stdout.once('close', onGone);
      io.stdout.once('error', onGone);
    });
    if (gone) return;
  }
}

/**
 * Inside GitHub Actions: the annotations (for the text format, whose stdout is a log) and
 * the Markdown report appended to $GITHUB_STEP_SUMMARY. A summary that cannot be written
 * is a warning, never a failed verification.
 */
export async function emitGithubExtras(format: FormatName, report: Report, ctx: RenderContext, io: CliIO, reporter: Reporter): Promise<void> {
  if (format === 'text') io.stdout.write(renderGithubAnnotations(report, ctx.locate));
  const summary = io.env.GITHUB_STEP_SUMMARY;
  if (summary) {
    try {
      await appendFile(summary, (await renderFormat('markdown', report, { ...ctx, color: false })) + '\n');
    } catch (e) {
      reporter.warn(`cannot append the job summary to ${summary} (${describeError(e)})`);
    }
  }
}
