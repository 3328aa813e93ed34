// `conda-attest verify [TARGET...]`: parse targets into package records, verify each
// through the pipeline with bounded concurrency, print the report, exit 0/1/2.
import { escapeJsonOutput, escapeText } from '../report/escape.ts';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { createSession } from '../pipeline.ts';
import { renderJsonChunks } from '../report/json.ts';
import { exitCodeOf } from '../report/build.ts';
import { type CliIO, type Command, wantsColor } from './io.ts';
import { positiveInt, seconds } from './args.ts';
import { type CommandSpec, chooseFormat, formatOptions, HELP_OPTION, OFFLINE_OPTIONS, parseCommand, renderHelp, TIME_OPTIONS } from './options.ts';
import { givenSidecar, loadEnvironment, verifyRecords } from './environment.ts';
import { startProgress } from './progress.ts';
import { VERIFY_FORMATS, emitGithubExtras, inGithubActions, prepareCi, renderCiFormat } from './ci-output.ts';
import { renderJson } from '../report/json.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { Report } from '../types.ts';

/** `--report-file`: the same JSON as `--json`, written atomically (a reader never sees half a report). */
async function writeReportFile(path: string, report: Report): Promise<void> {
  try {
    await writeFileAtomic(path, renderJson(report));
  } catch (e) {
    throw new UsageError('USAGE_OUTPUT_UNWRITABLE', `Cannot write the report file ${path} (${e instanceof Error ? e.message : String(e)}).`, {
      hint: 'Check that the directory of --report-file exists and is writable.',
      cause: e,
    });
  }
}

/** Report formats of `verify`; the first is the default. More are added here. */
export { VERIFY_FORMATS, type VerifyFormat } from './ci-output.ts';

export const VERIFY_SPEC: CommandSpec = {
  name: 'verify',
  usage: ['conda-attest verify [options] [TARGET...]'],
  description: `Verify the Sigstore attestations of conda packages under each channel's policy.
TARGET is a pixi.lock, a conda-lock.yml, a conda explicit file (@EXPLICIT), a package
URL, or a local .conda/.tar.bz2 file (with --channel). Without TARGET: pixi.lock or
conda-lock.yml, searched from the current directory up (as the config is).`,
  options: [
    { name: 'config', type: 'string', arg: 'PATH', help: 'config file (default: searched from the current directory up)' },
    { name: 'trusted-root', type: 'string', arg: 'PATH', help: "Sigstore trusted_root.json instead of the config's trust_root" },
    ...OFFLINE_OPTIONS,
    { name: 'sigs', type: 'string', arg: 'PATH_OR_URL', help: 'give the sidecar (JSON array of bundles, or one bundle) directly' },
    { name: 'lockfile', type: 'string', arg: 'PATH', help: 'identity lockfile (default: config lockfile, conda-attest.lock)' },
    { name: 'frozen', type: 'boolean', help: 'CI mode: the identity lockfile must not change' },
    { name: 'download', type: 'boolean', help: 'hash the package bytes even when a lockfile records their SHA-256' },
    { name: 'channel', type: 'string', arg: 'URL', help: 'channel of local package files (may end in /<subdir>)' },
    { name: 'platform', type: 'string', arg: 'SUBDIR', help: "subdir of local package files (default: from --channel, the file's\ndirectory, or the package's info/index.json)" },
    ...TIME_OPTIONS,
    { name: 'concurrency', type: 'string', arg: 'N', help: 'packages verified at once (default: config concurrency)' },
    ...formatOptions(
      VERIFY_FORMATS,
      'report format on stdout; json: schema/report.schema.json; github: Actions\nannotations on the lockfile lines; markdown: job summary / PR comment;\nsarif: SARIF 2.1.0 for code scanning',
    ),
    { name: 'report-file', type: 'string', arg: 'PATH', help: 'also write the JSON report to PATH' },
    { name: 'no-github', type: 'boolean', help: 'inside GitHub Actions, emit no annotations and no job summary' },
    { name: 'verbose', type: 'boolean', help: 'list every package, not only problems' },
    { name: 'no-cache', type: 'boolean', help: 'neither read nor write the verdict and sidecar caches' },
    HELP_OPTION,
  ],
  exitCodes: [
    [0, 'every package passed (warnings allowed)'],
    [1, 'at least one package was blocked'],
    [2, 'usage, config or input error'],
    [130, 'interrupted (Ctrl-C)'],
  ],
};

export const verifyCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const parsed = parseCommand(argv, VERIFY_SPEC);
  const values = parsed.values as {
    config?: string; 'trusted-root'?: string; offline?: boolean; 'no-tuf-refresh'?: boolean; sigs?: string; lockfile?: string; frozen?: boolean;
    download?: boolean; channel?: string; platform?: string; concurrency?: string; timeout?: string; deadline?: string; format?: string; json?: boolean;
    verbose?: boolean; 'no-cache'?: boolean; help?: boolean; 'report-file'?: string; 'no-github'?: boolean;
  };
  const positionals = parsed.positionals;
  if (values.help) {
    io.stdout.write(renderHelp(VERIFY_SPEC));
    return 0;
  }
  const format = chooseFormat(values, VERIFY_FORMATS, 'verify');
  const github = inGithubActions(io.env) && !values['no-github'];
  const concurrency = positiveInt(values.concurrency, '--concurrency');
  const { config, records, notCovered, inputs } = await loadEnvironment(io, {
    configPath: values.config,
    trustedRoot: values['trusted-root'],
    timeoutMs: seconds(values.timeout, '--timeout'),
    deadlineMs: seconds(values.deadline, '--deadline'),
    targets: positionals,
    channel: values.channel,
    platform: values.platform,
    targetHint: 'Pass a pixi.lock, conda-lock.yml, explicit file, package URL or package file.',
  });
  const sigs = await givenSidecar(io, values.sigs, records, config);

  const session = await createSession({
    config,
    offline: Boolean(values.offline),
    noTufRefresh: Boolean(values['no-tuf-refresh']),
    lockfile: values.lockfile ? resolve(io.cwd, values.lockfile) : undefined,
    frozen: Boolean(values.frozen),
    sigs,
    expectedPackages: records.length,
    noCache: Boolean(values['no-cache']),
  });

  // Lines and the lockfile as it was are taken before the run (the run may rewrite it).
  const wantsCi = github || (format !== 'text' && format !== 'json');
  const ci = wantsCi ? await prepareCi(io, records, session, github || format === 'markdown') : null;

  const progress = await startProgress(io, records.length);
  try {
    await verifyRecords(session, records, {
      concurrency: concurrency ?? config.concurrency,
      download: Boolean(values.download),
      onDone: (done) => progress.update(done),
    });
  } finally {
    progress.stop();
  }
  const report = await session.finish();
  report.summary.not_covered = notCovered;
  report.inputs = { targets: inputs, config: config.source ?? null };
  for (const w of report.warnings ?? []) io.stderr.write(`conda-attest: warning: ${escapeText(w)}\n`);
  if (values['report-file']) await writeReportFile(resolve(io.cwd, values['report-file']), report);
  if (format === 'github' || format === 'markdown' || format === 'sarif') io.stdout.write(renderCiFormat(format, report, ci!, session));
  else if (format === 'json') {
    // Written piece by piece, honouring back-pressure: a large report is never one string.
    for (const chunk of renderJsonChunks(report)) {
      if (!io.stdout.write(escapeJsonOutput(chunk))) {
        // Resume on drain; stop waiting if the reader went away (`| head`).
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
        if (gone) break;
      }
    }
  }
  else io.stdout.write((await import('../report/terminal.ts')).renderTerminal(report, { color: wantsColor(io, 'stdout'), verbose: Boolean(values.verbose) }));
  if (github) await emitGithubExtras(format, report, ci!, session, io);
  return exitCodeOf(report);
};
