// One grammar for every command's options: each command declares its options once, as
// data, and both the parser (node:util parseArgs) and the `--help` text come from that
// declaration, so the help can never list an option the parser does not take or miss one
// it does. The README's option tables are compared with the same data by a test.
import { UsageError } from '../errors.ts';
import { parse } from './args.ts';

interface OptionSpec {
  /** Long name without dashes. */
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** Placeholder of the value in the help (`PATH`, `N`, `text|json`). */
  arg?: string;
  /** One line (more lines are indented under it). */
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Usage lines without the leading `Usage: `. */
  usage: string[];
  description: string;
  options: OptionSpec[];
  /** [code, meaning] */
  exitCodes: [number, string][];
}

export const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', type: 'boolean', help: 'print this help' };

/** `--timeout` and `--deadline`, shared by the commands that verify an environment. */
export const TIME_OPTIONS: OptionSpec[] = [
  { name: 'timeout', type: 'string', arg: 'SECONDS', help: 'give up on one HTTP request after this long (config http.timeout_ms;\na request with no data for http.idle_timeout_ms, default 30 s, fails sooner)' },
  { name: 'deadline', type: 'string', arg: 'SECONDS', help: 'deadline of the whole run: later, unfinished packages are retrieval-failed\n(config deadline_ms, default 3600)' },
];

/**
 * `--offline` has one meaning in every command, as in conda: no network at all (caches,
 * local files and --sigs only). `--no-tuf-refresh` is what --offline meant before: only
 * the Sigstore trust root is not refreshed through TUF.
 */
export const OFFLINE_OPTIONS: OptionSpec[] = [
  { name: 'offline', type: 'boolean', help: 'no network at all: caches, local files and --sigs only; a package that\nneeds the network is retrieval-failed (HTTP_OFFLINE)' },
  { name: 'no-tuf-refresh', type: 'boolean', help: 'do not refresh the Sigstore trust root through TUF (use the cached or\nembedded one); channels and sidecars are still fetched' },
];

/** `--format` with the given values; `--json` is its alias for `json`. */
export function formatOptions(formats: readonly string[], what = 'output format'): OptionSpec[] {
  return [
    { name: 'format', type: 'string', arg: formats.join('|'), help: `${what} (default ${formats[0]})` },
    { name: 'json', type: 'boolean', help: 'same as --format json' },
  ];
}

/**
 * The chosen format: `--format X` (one of `formats`, the first is the default), with
 * `--json` as an alias of `--format json`. Both given and disagreeing is a usage error.
 */
export function chooseFormat<F extends string>(values: { format?: string; json?: boolean }, formats: readonly F[], command: string): F {
  const f = values.format;
  if (f !== undefined && !(formats as readonly string[]).includes(f)) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `Unknown format "${f}" for ${command}.`, {
      hint: `Use --format ${formats.join(', ').replace(/, ([^,]*)$/, ' or $1')}.`,
    });
  }
  if (values.json && f !== undefined && f !== 'json') {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `--json contradicts --format ${f}.`, { hint: 'Use one of them.' });
  }
  if (f !== undefined) return f as F;
  if (values.json) return 'json' as F;
  return formats[0]!;
}

type ParseArgsOption = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

/** Parse `argv` against the spec; unknown options and missing values are usage errors. */
export function parseCommand(argv: string[], spec: CommandSpec) {
  const options: Record<string, ParseArgsOption> = {};
  for (const o of spec.options) {
    options[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  const { values, positionals } = parse(argv, options, spec.name);
  return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
}

/** The option's label as the help shows it: `-y, --yes`, `--config PATH`. */
export function optionLabel(o: OptionSpec): string {
  const long = `--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

export function renderHelp(spec: CommandSpec): string {
  const lines: string[] = [];
  spec.usage.forEach((u, i) => lines.push(`${i === 0 ? 'Usage:' : '      '} ${u}`));
  lines.push('', spec.description.trimEnd(), '', 'Options:');
  const labels = spec.options.map(optionLabel);
  const width = Math.min(28, Math.max(...labels.map((l) => l.length)) + 2);
  spec.options.forEach((o, i) => {
    const label = labels[i]!;
    const [first, ...more] = o.help.split('\n');
    if (label.length + 2 > width) {
      lines.push(`  ${label}`);
      lines.push(`  ${' '.repeat(width)}${first}`);
    } else lines.push(`  ${label.padEnd(width)}${first}`);
    for (const m of more) lines.push(`  ${' '.repeat(width)}${m}`);
  });
  lines.push('', 'Exit codes:');
  for (const [code, meaning] of spec.exitCodes) lines.push(`  ${code}  ${meaning}`);
  return lines.join('\n') + '\n';
}
