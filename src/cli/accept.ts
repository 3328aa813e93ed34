// `conda-attest accept PACKAGE... | --all`: after review, take the currently observed
// signer identities of the named packages into the identity lockfile (trust on first use).
// It verifies the environment exactly like `verify` (same pipeline), shows what would
// change in the lockfile, asks on a TTY (or needs --yes), then writes once, atomically.
import { escapeJsonOutput, escapeText } from '../text/escape.ts';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { LockError, UsageError } from '../errors.ts';
import { existsSync } from 'node:fs';
import { createSession } from '../pipeline.ts';
import { acceptInto, DROP_PIN_HINT, matchesSpec, type AcceptSelector } from '../lock/decide.ts';
import { diffJson, isIdentityChange } from '../lock/diff.ts';
import { renderDiffText } from '../report/lock-diff.ts';
import { updateLock } from '../lock/file.ts';
import { type CliIO, type Command, wantsColor } from './io.ts';
import { positiveInt, seconds } from './args.ts';
import { type CommandSpec, chooseFormat, formatOptions, HELP_OPTION, OFFLINE_OPTIONS, parseCommand, renderHelp, TIME_OPTIONS } from './options.ts';
import { givenSidecar, loadEnvironment, verifyRecords } from './environment.ts';

export const ACCEPT_SPEC: CommandSpec = {
  name: 'accept',
  usage: ['conda-attest accept [options] (PACKAGE... | --all)'],
  description: `Verify the environment, then take the currently observed signer identities of the
named packages into the identity lockfile. PACKAGE is a name (numpy) or CHANNEL::NAME.
Shows the lockfile diff first; asks on a terminal, otherwise needs --yes.`,
  options: [
    { name: 'all', type: 'boolean', help: 'accept every package of the environment' },
    { name: 'yes', short: 'y', type: 'boolean', help: 'do not ask' },
    { name: 'target', type: 'string', multiple: true, arg: 'PATH', help: 'environment to verify (repeatable; default ./pixi.lock or ./conda-lock.yml)' },
    { name: 'config', type: 'string', arg: 'PATH', help: 'config file (default: searched from the current directory up)' },
    { name: 'trusted-root', type: 'string', arg: 'PATH', help: "Sigstore trusted_root.json instead of the config's trust_root" },
    ...OFFLINE_OPTIONS,
    { name: 'lockfile', type: 'string', arg: 'PATH', help: 'identity lockfile (default: config lockfile, conda-attest.lock)' },
    { name: 'sigs', type: 'string', arg: 'PATH_OR_URL', help: 'give the sidecar (JSON array of bundles, or one bundle) directly' },
    { name: 'download', type: 'boolean', help: 'hash the package bytes even when a lockfile records their SHA-256' },
    { name: 'channel', type: 'string', arg: 'URL', help: 'channel of local package files (may end in /<subdir>)' },
    { name: 'platform', type: 'string', arg: 'SUBDIR', help: "subdir of local package files (default: from --channel, the file's\ndirectory, or the package's info/index.json)" },
    ...TIME_OPTIONS,
    { name: 'concurrency', type: 'string', arg: 'N', help: 'network requests in flight (default: config concurrency)' },
    ...formatOptions(['text', 'json'], 'output format; json: the accepted changes'),
    HELP_OPTION,
  ],
  exitCodes: [
    [0, 'accepted (or nothing to accept)'],
    [1, 'declined at the prompt'],
    [2, 'usage, config or input error'],
    [130, 'interrupted (Ctrl-C)'],
  ],
};

export const acceptCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const parsed = parseCommand(argv, ACCEPT_SPEC);
  const values = parsed.values as {
    all?: boolean; yes?: boolean; target?: string[]; config?: string; 'trusted-root'?: string; offline?: boolean; 'no-tuf-refresh'?: boolean;
    lockfile?: string; sigs?: string; download?: boolean; channel?: string; platform?: string; concurrency?: string; timeout?: string; deadline?: string; format?: string; json?: boolean; help?: boolean;
  };
  const positionals = parsed.positionals;
  if (values.help) {
    io.stdout.write(renderHelp(ACCEPT_SPEC));
    return 0;
  }
  const json = chooseFormat(values, ['text', 'json'] as const, 'accept') === 'json';
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
    timeoutMs: seconds(values.timeout, '--timeout'),
    deadlineMs: seconds(values.deadline, '--deadline'),
    targets: values.target ?? [],
    channel: values.channel,
    platform: values.platform,
    targetHint: 'Pass the environment with --target PATH.',
  });
  const sigs = await givenSidecar(io, values.sigs, records, config);
  // accept changes pins; the first pins are verify's (trust on first use). Said here, in
  // accept's words: the session would speak of --frozen, which the user did not pass.
  const lockPath = values.lockfile ? resolve(io.cwd, values.lockfile) : config.lockfile;
  if (!existsSync(lockPath)) {
    throw new LockError('LOCK_MISSING', `accept changes the identity lockfile ${lockPath}, which does not exist yet.`, {
      hint: 'Run `conda-attest verify` first, with the same targets: it pins the signer of every verified package on first use; accept is for the changes after that.',
    });
  }
  // frozen: the verification itself must not write the lockfile; accept writes it below.
  const session = await createSession({
    config,
    offline: Boolean(values.offline),
    noTufRefresh: Boolean(values['no-tuf-refresh']),
    lockfile: lockPath,
    frozen: true,
    sigs,
    expectedPackages: records.length,
  });
  await verifyRecords(session, records, { concurrency: concurrency ?? config.concurrency, download: Boolean(values.download) });
  const report = await session.finish();
  const decisions = session.lockDecisions();

  const preview = (current: Parameters<typeof acceptInto>[0]) => acceptInto(current, decisions, selector);
  const { readLock } = await import('../lock/file.ts');
  const planned = preview(await readLock(session.lockPath));
  // `numpy` or `CHANNEL::numpy` against a report row.
  const selects = (spec: string, p: (typeof report.packages)[number]): boolean => matchesSpec(spec, p.channel, p.name);
  if (planned.unmatched.length > 0) {
    // Say why for each name, with the real cause: not in the environment at all, not
    // checked (the network, a missing sidecar: retrieval-failed), or checked and not verified.
    const rowsOf = (spec: string) => report.packages.filter((p) => selects(spec, p));
    const why = planned.unmatched.map((spec) => {
      const r = rowsOf(spec)[0];
      if (!r) return `"${spec}" is not a package of the environment`;
      const reason = r.reasons[0];
      if (r.status === 'retrieval-failed') return `"${spec}" could not be checked (${reason ? `${reason.code}: ${reason.message.replace(/\.$/, '')}` : 'retrieval-failed'})`;
      return `"${spec}" did not verify (${r.status}${reason ? `, ${reason.code}` : ''})`;
    });
    const statuses = new Set(planned.unmatched.flatMap((spec) => rowsOf(spec).map((p) => p.status)));
    throw new UsageError('USAGE_INVALID_ARGUMENT', `Nothing accepted: ${why.join('; ')}.`, {
      hint: statuses.has('retrieval-failed')
        ? 'accept verifies each package first, so it needs what verify needs: the channel reachable, or the sidecar given with --sigs (a cache of an earlier run serves --offline).'
        : statuses.size > 0
          ? 'Only a verified signer identity can be accepted: run `conda-attest verify` to see why, and trust the signer in the config (trusted_identities or trusted_keys) if it is legitimate.'
          : 'Use the package name as in the lockfile (e.g. numpy) or CHANNEL::NAME.',
    });
  }
  // A pinned package that arrived without attestations did not verify: `accept` never
  // drops its pin (docs/lockfile.md says how to, by hand).
  const named = planned.keptPins.filter((pin) => 'packages' in selector && selector.packages.some((spec) => matchesSpec(spec, pin.slice(0, pin.lastIndexOf('::')), pin.slice(pin.lastIndexOf('::') + 2))));
  if (named.length > 0) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `Nothing accepted: ${named.map((pin) => `"${escapeText(pin)}" arrived without attestations (ATTESTATIONS_REMOVED), and accepting that would delete its pin`).join('; ')}.`, {
      hint: DROP_PIN_HINT,
    });
  }
  const changes = planned.changes.filter(isIdentityChange);
  // Only the packages this accept is about: a problem elsewhere in the environment is not news here.
  const problems = report.packages.filter(
    (p) =>
      p.status !== 'verified' &&
      p.status !== 'identity-changed' &&
      p.status !== 'skipped' &&
      ('all' in selector || selector.packages.some((spec) => selects(spec, p))),
  );
  if (json) {
    io.stdout.write(escapeJsonOutput(JSON.stringify({ ...diffJson(planned.changes), written: changes.length > 0 }, null, 2)) + '\n');
  } else if (changes.length === 0) {
    io.stdout.write('Nothing to accept: the lockfile already pins the observed identities.\n');
  } else {
    io.stdout.write(renderDiffText(planned.changes, { color: wantsColor(io, 'stdout') }));
  }
  if (planned.keptPins.length > 0 && !json) {
    io.stderr.write(`note: kept the pins of ${planned.keptPins.length} package(s) that arrived without attestations (ATTESTATIONS_REMOVED): ${planned.keptPins.map(escapeText).join(', ')}; accept never drops a pin (see docs/lockfile.md).\n`);
  }
  if (problems.length > 0 && !json) {
    const unchecked = problems.filter((p) => p.status === 'retrieval-failed').length;
    const parts = [
      unchecked ? `${unchecked} package(s) could not be checked (${problems.find((p) => p.status === 'retrieval-failed')!.reasons[0]?.code ?? 'retrieval-failed'})` : '',
      problems.length - unchecked ? `${problems.length - unchecked} package(s) did not verify` : '',
    ].filter(Boolean);
    io.stderr.write(`note: ${parts.join(' and ')} and are not accepted (run \`conda-attest verify\` to see why).\n`);
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
    // readline holds the terminal in raw mode: Ctrl-C at the prompt is a keypress; make it
    // the signal it is everywhere else (exit 130, nothing written).
    rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
    const answer = (await rl.question(`Write these changes to ${escapeText(session.lockPath)}? [y/N] `)).trim().toLowerCase();
    rl.close();
    if (answer !== 'y' && answer !== 'yes') {
      io.stdout.write('Declined; the lockfile is unchanged.\n');
      return 1;
    }
  }
  // Re-read under the lock and apply to what is there now, so a concurrent run loses nothing.
  await updateLock(session.lockPath, (current) => preview(current).lock);
  if (!json) io.stdout.write(`Updated ${escapeText(session.lockPath)}.\n`);
  return 0;
};
