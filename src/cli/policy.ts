// `conda-attest policy [TARGET...]`: print the effective policy per channel — of the
// channels the target's packages come from, or of every configured channel — before
// anything is verified (what `gh attestation verify` prints before verifying).
import { loadConfig } from '../config/load.ts';
import { loadTargets } from '../targets/index.ts';
import { effectivePolicyView, renderPolicyText } from '../policy/effective.ts';
import { UsageError } from '../errors.ts';
import type { CliIO, Command } from './io.ts';
import { parse } from './args.ts';
import { escapeJsonOutput } from '../text/escape.ts';

const HELP = `Usage: conda-attest policy [options] [TARGET...]

Print the effective policy: per channel, whether it is checked, require, each trusted
identity (github:/gitlab: shorthands expanded, claim constraints with their Fulcio OIDs),
trusted keys, per-package rules and exceptions with the days they have left.
With TARGET (pixi.lock, conda-lock.yml, explicit file, package URL or file): the channels
its packages come from (a mirror shows its channel's policy, an unlisted channel the
default policy). Without TARGET: every configured channel and the default policy.

Options:
  --config PATH         config file (default: searched from the current directory up)
  --channel URL         channel of local package files (may end in /<subdir>)
  --platform SUBDIR     subdir of local package files when --channel does not end in one
  --format text|json    output format (default text)
  --json                same as --format json
  -h, --help            this help

Exit codes: 0 printed, 2 usage, config or input error.
`;

/** Today as YYYY-MM-DD (UTC), the granularity of exception dates. */
function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export function outputFormat(values: { format?: string; json?: boolean }, command: string): 'text' | 'json' {
  if (values.json) {
    if (values.format !== undefined && values.format !== 'json') {
      throw new UsageError('USAGE_INVALID_ARGUMENT', `--json and --format ${values.format} contradict each other.`, { hint: 'Give one of them.' });
    }
    return 'json';
  }
  if (values.format === undefined || values.format === 'text') return 'text';
  if (values.format === 'json') return 'json';
  throw new UsageError('USAGE_INVALID_ARGUMENT', `--format must be text or json, not "${values.format}".`, {
    hint: `For example \`conda-attest ${command} --format json\`.`,
  });
}

export const policyCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const { values, positionals } = parse(
    argv,
    {
      config: { type: 'string' },
      channel: { type: 'string' },
      platform: { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'policy',
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const format = outputFormat(values, 'policy');
  const config = await loadConfig({ cwd: io.cwd, configPath: values.config, env: io.env });
  let channels: string[] | undefined;
  if (positionals.length > 0) {
    const records = await loadTargets(positionals, { cwd: io.cwd, channel: values.channel, platform: values.platform });
    channels = [...new Set(records.map((r) => r.channel))];
  }
  const view = effectivePolicyView(config, today(), channels);
  io.stdout.write(format === 'json' ? escapeJsonOutput(JSON.stringify(view, null, 2)) + '\n' : renderPolicyText(view));
  return 0;
};
