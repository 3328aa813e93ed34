// Entry point of the `conda-attest` command: dispatches to one module per command.
// Command modules are imported lazily so `--version` and `--help` stay fast.
import { createRequire } from 'node:module';
import { packageVersion } from '../version.ts';
import { AttestError, findingLine, UsageError } from '../errors.ts';
import { escapeLines, escapeText } from '../text/escape.ts';
import { type CliIO, type Command, processIO } from './io.ts';
import { stopAllProgress } from './progress.ts';

const COMMANDS: Record<string, { summary: string; load: (args: string[]) => Promise<Command>; ownsSignals?: boolean }> = {
  init: { summary: 'write .conda-attestrc.yaml for a lockfile: its channels, mirrors and proposed signer identities', load: async () => (await import('./init.ts')).initCommand },
  verify: {
    summary: 'verify conda packages (pixi.lock, conda-lock.yml, explicit file, URL or package file)',
    load: async (args) => {
      // --download sends requests for sure: node:http is loaded now, before the launcher sets
      // V8's flags, while Node's code cache for it still applies (bin/launch.js), instead of
      // on the first request (src/http/transport.ts). Measured, require('node:http') after
      // the flags vs before them: 15 vs 6 ms of CPU (median of 3).
      if (args.includes('--download')) createRequire(import.meta.url)('node:http');
      return (await import('./verify.ts')).verifyCommand;
    },
  },
  'verify-bundle': { summary: 'verify one Sigstore bundle (sigstore-conformance protocol)', load: async () => (await import('./verify-bundle.ts')).verifyBundleCommand },
  accept: { summary: 'take the currently observed signer identities into the identity lockfile', load: async () => (await import('./accept.ts')).acceptCommand },
  diff: { summary: 'show signer identity changes between two identity lockfiles', load: async () => (await import('./diff.ts')).diffCommand },
  policy: { summary: 'print the effective policy per channel (of a target, or of the config)', load: async () => (await import('./policy.ts')).policyCommand },
  'trust-root': { summary: 'show (status), refresh or export FILE the Sigstore trust root in use', load: async () => (await import('./trust-root.ts')).trustRootCommand },
  serve: {
    summary: 'verifying channel proxy: conda, mamba, pixi and mambajs get only packages that pass',
    load: async () => (await import('./serve.ts')).serveCommand,
    // It drains the requests in flight on SIGINT/SIGTERM and exits 0.
    ownsSignals: true,
  },
};

function usage(): string {
  const lines = ['Usage: conda-attest <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  lines.push('', 'Options:', '  -v, --version  print the version', '  -h, --help     print this help');
  lines.push('', 'Run `conda-attest <command> --help` for the options of a command.');
  lines.push('Exit codes: 0 all packages passed, 1 a package was blocked, 2 usage, config or input error,');
  lines.push('130 interrupted (Ctrl-C).');
  return lines.join('\n') + '\n';
}

export { packageVersion };

/** What the launcher does between loading a command and running it (bin/launch.js: the V8 flags). */
export interface MainHooks {
  loaded?: () => void;
}

export async function main(argv: string[], io: CliIO = processIO(), hooks: MainHooks = {}): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v' || first === '-V') {
    io.stdout.write(packageVersion() + '\n');
    return 0;
  }
  // Own keys only: `conda-attest constructor` must be an unknown command, not Object.prototype's.
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  try {
    if (!entry) throw await unknownCommand(first, io);
    const command = await entry.load(rest);
    hooks.loaded?.();
    const stopHandling = io.stderr === process.stderr && !entry.ownsSignals ? exitOnInterrupt(io) : () => {};
    try {
      return await command(rest, io);
    } finally {
      stopHandling();
    }
  } catch (e) {
    return reportFatal(e, io);
  }
}

const GLOBAL_OPTIONS = ['version', 'help'];

/**
 * Why `first` is not a command, with the likeliest intent: a mistyped command (`verfy`), a
 * mistyped global option (`--verison` is an option, not a command), a command's option
 * before the command, or a target given without `verify`.
 */
async function unknownCommand(first: string, io: CliIO): Promise<UsageError> {
  const { suggestCommand } = await import('./args.ts');
  const names = Object.keys(COMMANDS);
  if (first.startsWith('-')) {
    const guess = suggestCommand(first.replace(/^--?/, ''), GLOBAL_OPTIONS);
    return new UsageError('USAGE_UNKNOWN_OPTION', `Unknown option "${first}".`, {
      hint: guess
        ? `Did you mean --${guess}?`
        : 'Options of a command go after it (`conda-attest verify --frozen`); the only options before a command are --version and --help.',
    });
  }
  const guess = suggestCommand(first, names);
  const { existsSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const isPath = !guess && existsSync(resolve(io.cwd, first));
  return new UsageError('USAGE_UNKNOWN_COMMAND', `Unknown command "${first}".`, {
    hint: guess
      ? `Did you mean \`conda-attest ${guess}\`?`
      : isPath
        ? `To verify it: \`conda-attest verify ${first}\`.`
        : `Use one of: ${names.join(', ')}.`,
  });
}

/**
 * Ctrl-C (SIGINT) and SIGTERM end the run at once with 128 + the signal number (130 for
 * Ctrl-C), as shells report it. Safe at any point: the identity lockfile and the caches
 * are only ever replaced whole (temporary file + rename), so an interrupted run leaves the
 * previous file or the complete new one, never a partial one.
 */
function exitOnInterrupt(io: CliIO): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    // Stop the spinner first (it redraws over whatever is written while it runs) and give
    // the cursor back (ora hides it while spinning).
    stopAllProgress();
    if (io.stderr.isTTY) io.stderr.write('\u001b[?25h');
    io.stderr.write(`\nconda-attest: interrupted (${signal}).\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Last-resort reporting: an AttestError becomes one line with its code and hint, exit 2. */
function reportFatal(e: unknown, io: CliIO): number {
  if (e instanceof AttestError) {
    // A message may list its problems on further lines (ConfigError): the first line and
    // the hint, then every problem once (from `details` when present).
    const [first, ...rest] = e.message.split('\n');
    io.stderr.write(`conda-attest: ${escapeText(findingLine({ code: e.code, message: first ?? '', hint: e.hint }))}\n`);
    if (!Array.isArray(e.details)) for (const line of rest) io.stderr.write(`${escapeText(line)}\n`);
    const details = e.details;
    if (Array.isArray(details)) for (const d of details) io.stderr.write(`  - ${escapeText(typeof d === 'string' ? d : JSON.stringify(d))}\n`);
    return 2;
  }
  io.stderr.write(`conda-attest: internal error: ${escapeLines(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
  return 2;
}
