// Entry point of the `conda-attest` command: dispatches to one module per command.
// Command modules are imported lazily so `--version` and `--help` stay fast.
import { packageVersion } from '../version.ts';
import { AttestError, UsageError } from '../errors.ts';
import { escapeLines, escapeText } from '../report/escape.ts';
import { type CliIO, type Command, processIO } from './io.ts';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  verify: {
    summary: 'verify conda packages (pixi.lock, conda-lock.yml, explicit file, URL or package file)',
    load: async () => (await import('./verify.ts')).verifyCommand,
  },
  'verify-bundle': {
    summary: 'verify one Sigstore bundle (sigstore-conformance protocol)',
    load: async () => (await import('./verify-bundle.ts')).verifyBundleCommand,
  },
  accept: {
    summary: 'take the currently observed signer identities into the identity lockfile',
    load: async () => (await import('./accept.ts')).acceptCommand,
  },
  diff: {
    summary: 'show signer identity changes between two identity lockfiles',
    load: async () => (await import('./diff.ts')).diffCommand,
  },
};

function usage(): string {
  const lines = ['Usage: conda-attest <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  lines.push('', 'Run `conda-attest <command> --help` for the options of a command.');
  lines.push('Exit codes: 0 all packages passed, 1 a package was blocked, 2 usage, config or input error.');
  return lines.join('\n') + '\n';
}

export { packageVersion };

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout.write(packageVersion() + '\n');
    return 0;
  }
  // Own keys only: `conda-attest constructor` must be an unknown command, not Object.prototype's.
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  try {
    if (!entry) {
      throw new UsageError('USAGE_UNKNOWN_COMMAND', `Unknown command "${first}".`, {
        hint: `Use one of: ${Object.keys(COMMANDS).join(', ')}.`,
      });
    }
    const command = await entry.load();
    return await command(rest, io);
  } catch (e) {
    return reportFatal(e, io);
  }
}

/** Last-resort reporting: an AttestError becomes one line with its code and hint, exit 2. */
export function reportFatal(e: unknown, io: CliIO): number {
  if (e instanceof AttestError) {
    // A message may list its problems on further lines (ConfigError): the first line and
    // the hint, then every problem once (from `details` when present).
    const [first, ...rest] = e.message.split('\n');
    io.stderr.write(`conda-attest: ${escapeText(`${e.code}: ${first}${e.hint ? ` (hint: ${e.hint})` : ''}`)}\n`);
    if (!Array.isArray(e.details)) for (const line of rest) io.stderr.write(`${escapeText(line)}\n`);
    const details = e.details;
    if (Array.isArray(details)) for (const d of details) io.stderr.write(`  - ${escapeText(typeof d === 'string' ? d : JSON.stringify(d))}\n`);
    return 2;
  }
  io.stderr.write(`conda-attest: internal error: ${escapeLines(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
  return 2;
}
