// `conda-attest verify [TARGET...]`: parse targets into package records, verify each
// through the pipeline with bounded concurrency, print the report, exit 0/1/2.
import { escapeText } from '../report/escape.ts';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { createSession } from '../pipeline.ts';
import { renderJsonChunks } from '../report/json.ts';
import { exitCodeOf } from '../report/build.ts';
import { type CliIO, type Command, wantsColor } from './io.ts';
import { parse, positiveInt } from './args.ts';
import { loadGivenSidecar } from '../sidecar/fetch.ts';
import type { GivenSidecar } from '../session-types.ts';
import { loadEnvironment, verifyRecords } from './environment.ts';
import { VERIFY_FORMATS, type VerifyFormat, emitGithubExtras, inGithubActions, prepareCi, renderCiFormat } from './ci-output.ts';
import { renderJson } from '../report/json.ts';
import { writeFileAtomic } from '../util/fs.ts';
import type { Report } from '../types.ts';

/** `--format X`, with `--json` as its alias; both given and disagreeing is a usage error. */
function chooseVerifyFormat(values: { format?: string; json?: boolean }): VerifyFormat {
  const f = values.format;
  if (f !== undefined && !(VERIFY_FORMATS as readonly string[]).includes(f)) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `Unknown format "${f}" for verify.`, {
      hint: `Use --format ${VERIFY_FORMATS.join(', ').replace(/, ([^,]*)$/, ' or $1')}.`,
    });
  }
  if (values.json && f !== undefined && f !== 'json') {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `--json contradicts --format ${f}.`, { hint: 'Use one of them.' });
  }
  return (f as VerifyFormat | undefined) ?? (values.json ? 'json' : 'text');
}

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

const HELP = `Usage: conda-attest verify [options] [TARGET...]

Verify the Sigstore attestations of conda packages under each channel's policy.
TARGET is a pixi.lock, a conda-lock.yml, a conda explicit file (@EXPLICIT), a package
URL, or a local .conda/.tar.bz2 file (with --channel). Without TARGET: ./pixi.lock or
./conda-lock.yml.

Options:
  --config PATH         config file (default: searched from the current directory up)
  --trusted-root PATH   Sigstore trusted_root.json to use instead of the config's trust_root
  --offline             never contact the TUF repository (use the cached or embedded root)
  --sigs PATH_OR_URL    give the sidecar (JSON array of bundles, or one bundle) directly
  --lockfile PATH       identity lockfile (default: config lockfile, conda-attest.lock)
  --frozen              CI mode: the identity lockfile must not change
  --download            hash the package bytes even when a lockfile records their SHA-256
  --channel URL         channel of local package files (may end in /<subdir>)
  --platform SUBDIR     subdir of local package files when --channel does not end in one
  --concurrency N       packages verified at once (default: config concurrency)
  --format FORMAT       text (default), json (schema/report.schema.json), github
                        (Actions annotations on the lockfile lines), markdown (job
                        summary / PR comment), sarif (SARIF 2.1.0 for code scanning)
  --json                same as --format json
  --report-file PATH    also write the JSON report to PATH
  --no-github           inside GitHub Actions, emit no annotations and no job summary
  --verbose             list every package, not only problems
  --no-cache            neither read nor write the verdict and sidecar caches
  -h, --help            this help

Exit codes: 0 every package passed (warnings allowed), 1 a package was blocked,
2 usage, config or input error.
`;

export const verifyCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const { values, positionals } = parse(
    argv,
    {
      config: { type: 'string' },
      'trusted-root': { type: 'string' },
      offline: { type: 'boolean' },
      sigs: { type: 'string' },
      lockfile: { type: 'string' },
      frozen: { type: 'boolean' },
      download: { type: 'boolean' },
      channel: { type: 'string' },
      platform: { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      format: { type: 'string' },
      'report-file': { type: 'string' },
      'no-github': { type: 'boolean' },
      verbose: { type: 'boolean' },
      'no-cache': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'verify',
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const concurrency = positiveInt(values.concurrency, '--concurrency');
  const format = chooseVerifyFormat(values);
  const github = inGithubActions(io.env) && !values['no-github'];
  const { config, records } = await loadEnvironment(io, {
    configPath: values.config,
    trustedRoot: values['trusted-root'],
    targets: positionals,
    channel: values.channel,
    platform: values.platform,
    targetHint: 'Pass a pixi.lock, conda-lock.yml, explicit file, package URL or package file.',
  });
  if (values.sigs && records.length !== 1) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `--sigs gives the sidecar of one package, but the targets hold ${records.length}.`, {
      hint: 'Verify a single package URL or file with --sigs.',
    });
  }

  // --sigs FILE is read and checked once, here: a missing or malformed file is an input
  // error (exit 2), not a property of the package. A URL is fetched by the pipeline.
  let sigs: string | GivenSidecar | undefined = values.sigs;
  if (sigs && !/^https?:\/\//i.test(sigs)) {
    const loaded = await loadGivenSidecar(resolve(io.cwd, sigs), { maxBytes: config.maxSidecarBytes });
    sigs = { url: loaded.url, sha256: loaded.sha256, bundles: loaded.bundles };
  }

  const session = await createSession({
    config,
    offline: Boolean(values.offline),
    lockfile: values.lockfile ? resolve(io.cwd, values.lockfile) : undefined,
    frozen: Boolean(values.frozen),
    sigs,
    expectedPackages: records.length,
    noCache: Boolean(values['no-cache']),
  });

  // Lines and the lockfile as it was are taken before the run (the run may rewrite it).
  const wantsCi = github || (format !== 'text' && format !== 'json');
  const ci = wantsCi ? await prepareCi(io, records, session, github || format === 'markdown') : null;

  const interactive = format === 'text' && wantsColor(io, 'stderr');
  const spinner = interactive
    ? (await import('ora')).default({ text: `verifying 0/${records.length}`, stream: io.stderr as NodeJS.WriteStream }).start()
    : null;
  try {
    await verifyRecords(session, records, {
      concurrency: concurrency ?? config.concurrency,
      download: Boolean(values.download),
      onDone: (done) => {
        if (spinner) spinner.text = `verifying ${done}/${records.length}`;
      },
    });
  } finally {
    spinner?.stop();
  }
  const report = await session.finish();
  for (const w of report.warnings ?? []) io.stderr.write(`conda-attest: warning: ${escapeText(w)}\n`);
  if (values['report-file']) await writeReportFile(resolve(io.cwd, values['report-file']), report);
  if (format === 'github' || format === 'markdown' || format === 'sarif') io.stdout.write(renderCiFormat(format, report, ci!, session));
  else if (format === 'json') {
    // Written piece by piece, honouring back-pressure: a large report is never one string.
    for (const chunk of renderJsonChunks(report)) {
      if (!io.stdout.write(chunk)) {
        // Resume on drain; stop waiting if the reader went away (`| head`).
        const gone = await new Promise<boolean>((resolve) => {
          io.stdout.once('drain', () => resolve(false));
          io.stdout.once('close', () => resolve(true));
          io.stdout.once('error', () => resolve(true));
        });
        if (gone) break;
      }
    }
  }
  else io.stdout.write((await import('../report/terminal.ts')).renderTerminal(report, { color: wantsColor(io, 'stdout'), verbose: Boolean(values.verbose) }));
  if (github) await emitGithubExtras(format, report, ci!, session, io);
  return exitCodeOf(report);
};
