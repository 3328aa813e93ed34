// Argument parsing shared by the commands: node:util parseArgs, with its errors
// turned into UsageError (exit 2) instead of a stack trace.
import { createRequire } from 'node:module';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.ts';
import { closest } from '../util/closest.ts';
import { editDistance } from '../util/edit-distance.ts';

// Through require: an ESM import of node:util materialises all its exports, which loads
// worker_threads and more (measured: ~8 ms of CPU on every command).
const { parseArgs } = createRequire(import.meta.url)('node:util') as typeof import('node:util');

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 'USAGE_UNKNOWN_OPTION' : 'USAGE_INVALID_ARGUMENT';
    // Node's text for unknown options goes on about positionals; keep the first sentence.
    const first = message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '.');
    const help = `Run \`conda-attest ${command} --help\` for the options.`;
    let unknown = code === 'USAGE_UNKNOWN_OPTION' ? /^Unknown option '(--?[^'=]+)/.exec(first)?.[1] : undefined;
    // `-frozen` is read as the short flags -f -r -o ...: suggest for the word that was typed.
    if (unknown && !unknown.startsWith('--')) unknown = argv.find((a) => a.length > 2 && a.startsWith(unknown!) && !a.startsWith('--')) ?? unknown;
    const guess = unknown ? suggestOption(unknown, options) : undefined;
    throw new UsageError(code, first, { hint: guess ? `Did you mean ${guess}? ${help}` : help, cause: e });
  }
}

/** The option the user most likely meant (`--frozn` → `--frozen`, `-frozen` → `--frozen`), as typed on the command line. */
function suggestOption(typed: string, options: Options): string | undefined {
  const names = Object.keys(options);
  const guess = closest(typed.replace(/^--?/, ''), names, editDistance);
  return guess === undefined ? undefined : `--${guess}`;
}

/** The command the user most likely meant (`verfy` → `verify`), or undefined. */
export function suggestCommand(typed: string, commands: readonly string[]): string | undefined {
  return closest(typed, commands, editDistance);
}

/** A duration in seconds (`30`, `2.5`), as milliseconds; undefined when absent. */
export function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Math.round(Number(value) * 1000);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || !Number.isFinite(ms) || ms < 1 || ms > 2 ** 31 - 1) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `${flag} must be a number of seconds greater than 0, not "${value}".`, {
      hint: `For example ${flag} 60.`,
    });
  }
  return ms;
}

/** A positive integer option, or undefined when absent. */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  // The same range as the config's `concurrency` (schema/config.schema.json).
  if (!/^[1-9][0-9]*$/.test(value) || Number(value) > 256) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `${flag} must be a whole number from 1 to 256, not "${value}".`, {
      hint: `For example ${flag} 8.`,
    });
  }
  return Number(value);
}
