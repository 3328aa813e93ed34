// `conda-attest verify [TARGET...]`: parse targets into package records, verify each
// through the pipeline with bounded concurrency, print the report, exit 0/1/2.
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { createSession } from '../pipeline.ts';
import { exitCodeOf } from '../report/build.ts';
import { FORMATS } from '../report/formats.ts';
import { type CliIO, type Command, wantsColor } from './io.ts';
import { positiveInt, seconds } from './args.ts';
import { type CommandSpec, chooseFormat, formatOptions, HELP_OPTION, OFFLINE_OPTIONS, parseCommand, renderHelp, TIME_OPTIONS } from './options.ts';
import { givenSidecar, loadEnvironment, packageInputs, verifyRecords } from './environment.ts';
import { md5OnlyNotice } from '../targets/index.ts';
import { VERIFY_FORMATS, emitGithubExtras, inGithubActions, parseOutputs, planOutputs, writeOutputs, writeStdout } from './ci-output.ts';
import { createReporter, type Reporter } from './reporter.ts';

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
    { name: 'concurrency', type: 'string', arg: 'N', help: 'network requests in flight (default: config concurrency)' },
    ...formatOptions(
      VERIFY_FORMATS,
      'report format on stdout; json: schema/report.schema.json; github: Actions\nannotations on the lockfile lines; markdown: job summary / PR comment;\nsarif: SARIF 2.1.0 for code scanning',
    ),
    { name: 'output', type: 'string', multiple: true, arg: 'FORMAT=PATH', help: 'also write the report in FORMAT to PATH (repeatable; e.g. sarif=results.sarif)' },
    { name: 'report-file', type: 'string', arg: 'PATH', help: 'also write the JSON report to PATH (same as --output json=PATH)' },
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
    verbose?: boolean; 'no-cache'?: boolean; help?: boolean; 'report-file'?: string; 'no-github'?: boolean; output?: string[];
  };
  const positionals = parsed.positionals;
  if (values.help) {
    io.stdout.write(renderHelp(VERIFY_SPEC));
    return 0;
  }
  const started = Date.now();
  const format = chooseFormat(values, VERIFY_FORMATS, 'verify');
  const outputs = await parseOutputs(values.output ?? [], values['report-file'], io.cwd);
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
    noCache: Boolean(values['no-cache']),
  });
  const sigs = await givenSidecar(io, values.sigs, records, config);
  let progress: Awaited<ReturnType<Reporter['progress']>> | undefined;
  const download = Boolean(values.download);
  const perRun = concurrency ?? config.concurrency;

  const session = await createSession({
    config,
    offline: Boolean(values.offline),
    noTufRefresh: Boolean(values['no-tuf-refresh']),
    lockfile: values.lockfile ? resolve(io.cwd, values.lockfile) : undefined,
    frozen: Boolean(values.frozen),
    sigs,
    expectedPackages: records.length,
    noCache: Boolean(values['no-cache']),
    notCovered,
    inputs: { targets: inputs, config: config.source ?? null },
    // The progress line names a host that keeps a request waiting (it starts below).
    onWait: (e) => progress?.waiting(e),
    // The first downloads start with the session, not after its trust root and lockfile
    // reads (measured: see docs/performance.md "Downloads and the proxy").
  }, download ? packageInputs(records, true).slice(0, perRun) : undefined);

  // What the formats need from before the run (the lockfile as it was, the targets' lines).
  const plan = await planOutputs(io, records, session, [format, ...outputs.map((o) => o.format)], github);
  const reporter = createReporter(io);
  progress = await reporter.progress(records.length);
  try {
    await verifyRecords(session, records, {
      concurrency: perRun,
      download,
      onDone: (done) => progress.update(done),
    });
  } finally {
    progress.stop();
  }
  // The report is complete here: every output renders it as it is.
  const report = await session.finish();
  // What the targets pin by MD5 only, once for the run (counted from the records read).
  const md5Only = md5OnlyNotice(records);
  if (md5Only) report.notices = [...(report.notices ?? []), md5Only];
  const ctx = plan.context(session, { color: wantsColor(io, 'stdout'), verbose: Boolean(values.verbose), elapsedMs: Date.now() - started });
  await writeOutputs(outputs, report, ctx);
  await writeStdout(io, await FORMATS[format].render(report, ctx));
  // Told once: by the format on stdout where it shows them, else here on stderr.
  reporter.tellFindings(report, FORMATS[format].tells);
  if (github) await emitGithubExtras(format, report, ctx, io, reporter);
  return exitCodeOf(report);
};
