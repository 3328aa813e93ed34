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
  --platform SUBDIR     subdir of local package files (default: from --channel, the
                        file's directory, or the package's info/index.json)
  --concurrency N       packages verified at once (default: config concurrency)
  --json                print the report as JSON (schema/report.schema.json) on stdout
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
  const { config, records, notCovered, inputs } = await loadEnvironment(io, {
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

  const interactive = !values.json && wantsColor(io, 'stderr');
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
  report.summary.not_covered = notCovered;
  report.inputs = { targets: inputs, config: config.source ?? null };
  for (const w of report.warnings ?? []) io.stderr.write(`conda-attest: warning: ${escapeText(w)}\n`);
  if (values.json) {
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
  return exitCodeOf(report);
};
