// `conda-attest accept PACKAGE... | --all`: after review, take the currently observed
// signer identities of the named packages into the identity lockfile (issue 4).
// It verifies the environment exactly like `verify` (same pipeline), shows what would
// change in the lockfile, asks on a TTY (or needs --yes), then writes once, atomically.
import { escapeText } from '../report/escape.ts';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors.ts';
import { createSession } from '../pipeline.ts';
import { acceptInto, type AcceptSelector } from '../lock/decide.ts';
import { diffJson, renderDiffText, isIdentityChange } from '../lock/diff.ts';
import { updateLock } from '../lock/file.ts';
import { type CliIO, type Command, wantsColor } from './io.ts';
import { parse, positiveInt } from './args.ts';
import { loadEnvironment, verifyRecords } from './environment.ts';

const HELP = `Usage: conda-attest accept [options] (PACKAGE... | --all)

Verify the environment, then take the currently observed signer identities of the
named packages into the identity lockfile. PACKAGE is a name (numpy) or CHANNEL::NAME.
Shows the lockfile diff first; asks on a terminal, otherwise needs --yes.

Options:
  --all                 accept every package of the environment
  --yes, -y             do not ask
  --target PATH         environment to verify (repeatable; default ./pixi.lock or ./conda-lock.yml)
  --config PATH         config file
  --trusted-root PATH   Sigstore trusted_root.json
  --offline             never contact the TUF repository
  --lockfile PATH       identity lockfile
  --channel URL         channel of local package files
  --concurrency N       packages verified at once
  --json                print the accepted changes as JSON
  -h, --help            this help

Exit codes: 0 accepted (or nothing to accept), 1 declined, 2 usage, config or input error.
`;

export const acceptCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const { values, positionals } = parse(
    argv,
    {
      all: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      target: { type: 'string', multiple: true },
      config: { type: 'string' },
      'trusted-root': { type: 'string' },
      offline: { type: 'boolean' },
      lockfile: { type: 'string' },
      channel: { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'accept',
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values.all && positionals.length === 0) {
    throw new UsageError('USAGE_MISSING_ARGUMENT', 'Name the packages to accept, or pass --all.', {
      hint: 'For example: conda-attest accept numpy',
    });
  }
  if (values.all && positionals.length > 0) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', '--all and package names exclude each other.', {
      hint: 'Pass either --all or the package names.',
    });
  }
  const selector: AcceptSelector = values.all ? { all: true } : { packages: positionals };
  const concurrency = positiveInt(values.concurrency, '--concurrency');
  const { config, records } = await loadEnvironment(io, {
    configPath: values.config,
    trustedRoot: values['trusted-root'],
    targets: values.target ?? [],
    channel: values.channel,
    targetHint: 'Pass the environment with --target PATH.',
  });
  // frozen: the verification itself must not write the lockfile; accept writes it below.
  const session = await createSession({
    config,
    offline: Boolean(values.offline),
    lockfile: values.lockfile ? resolve(io.cwd, values.lockfile) : undefined,
    frozen: true,
    expectedPackages: records.length,
  });
  await verifyRecords(session, records, { concurrency: concurrency ?? config.concurrency });
  const report = await session.finish();
  const decisions = session.lockDecisions();

  const preview = (current: Parameters<typeof acceptInto>[0]) => acceptInto(current, decisions, selector);
  const { readLock } = await import('../lock/file.ts');
  const planned = preview(await readLock(session.lockPath));
  if (planned.unmatched.length > 0) {
    throw new UsageError(
      'USAGE_INVALID_ARGUMENT',
      `No verified package of the environment matches ${planned.unmatched.map((s) => `"${s}"`).join(', ')}.`,
      { hint: 'Use the package name as in the lockfile (e.g. numpy) or CHANNEL::NAME; packages that failed verification cannot be accepted.' },
    );
  }
  const changes = planned.changes.filter(isIdentityChange);
  const problems = report.packages.filter((p) => p.status !== 'verified' && p.status !== 'identity-changed' && p.status !== 'skipped');
  if (values.json) {
    io.stdout.write(JSON.stringify({ ...diffJson(planned.changes), written: changes.length > 0 }, null, 2) + '\n');
  } else if (changes.length === 0) {
    io.stdout.write('Nothing to accept: the lockfile already pins the observed identities.\n');
  } else {
    io.stdout.write(renderDiffText(planned.changes, { color: wantsColor(io, 'stdout') }));
  }
  if (problems.length > 0 && !values.json) {
    io.stderr.write(
      `note: ${problems.length} package(s) did not verify and are not accepted (run \`conda-attest verify\` to see why).\n`,
    );
  }
  // Only first/last-seen bookkeeping would change: there is nothing to review or accept
  // (the output above says so, and --json says written: false); the next `verify` run
  // moves last_seen itself.
  if (changes.length === 0) return 0;

  if (!values.yes) {
    if (!io.stdin.isTTY || !io.stdout.isTTY) {
      throw new UsageError('USAGE_MISSING_ARGUMENT', 'Refusing to change the identity lockfile without confirmation.', {
        hint: 'Review the diff above and re-run with --yes.',
      });
    }
    const rl = createInterface({ input: io.stdin, output: io.stdout });
    const answer = (await rl.question(`Write these changes to ${escapeText(session.lockPath)}? [y/N] `)).trim().toLowerCase();
    rl.close();
    if (answer !== 'y' && answer !== 'yes') {
      io.stdout.write('Declined; the lockfile is unchanged.\n');
      return 1;
    }
  }
  // Re-read under the lock and apply to what is there now, so a concurrent run loses nothing.
  await updateLock(session.lockPath, (current) => preview(current).lock);
  if (!values.json) io.stdout.write(`Updated ${escapeText(session.lockPath)}.\n`);
  return 0;
};
