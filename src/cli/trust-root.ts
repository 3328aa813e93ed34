// `conda-attest trust-root status|refresh|export FILE`: the Sigstore trust root in use —
// where it comes from, how old it is, its digest and validity windows; a TUF refresh
// (online); and a copy of it for air-gapped machines (which then point trust_root at it).
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { TrustRootError, UsageError } from '../errors.ts';
import { PUBLIC_GOOD, loadTrustRoot, refreshTrustRoot, trustRootLabel, trustRootWindows, type LoadedTrustRoot } from '../verify/trust-root.ts';
import { NOTICE_AGE_DAYS, trustRootFreshness } from '../policy/trust-root-age.ts';
import type { ResolvedConfig } from '../types.ts';
import { escapeJsonOutput, escapeText } from '../text/escape.ts';
import { writeFileAtomicSync } from '../store/atomic.ts';
import type { CliIO, Command } from './io.ts';
import { parse } from './args.ts';
import { outputFormat } from './policy.ts';

const HELP = `Usage: conda-attest trust-root <status|refresh|export FILE> [options]

  status        show the trust root in use: source, age, digest, validity windows, and
                whether it is within trust_root_max_age_days (never contacts the network)
  refresh       refresh the public-good trust root through TUF now (needs the network)
  export FILE   write the trust root in use to FILE (trusted_root.json), e.g. for an
                air-gapped machine whose config then says trust_root: FILE

Options:
  --config PATH         config file (default: searched from the current directory up)
  --trusted-root PATH   use this trusted_root.json instead of the config's trust_root
  --tuf-mirror URL      TUF repository for refresh (default: the public-good CDN)
  --format text|json    output format of status and refresh (default text)
  --json                same as --format json
  -h, --help            this help

Exit codes: 0 done, 2 usage, config or trust-root error (e.g. a refresh that failed).
`;

async function configFor(io: CliIO, values: { config?: string; 'trusted-root'?: string }): Promise<ResolvedConfig> {
  const config = await loadConfig({ cwd: io.cwd, configPath: values.config, env: io.env });
  if (values['trusted-root']) config.trustRoot = resolve(io.cwd, values['trusted-root']);
  return config;
}

function statusJson(config: ResolvedConfig, root: LoadedTrustRoot): Record<string, unknown> {
  const freshness = trustRootFreshness(root, config.trustRoot, config.trustRootMaxAgeDays);
  return {
    trust_root: config.trustRoot,
    source: root.source,
    digest: root.digest,
    age_days: root.ageDays,
    as_of: root.asOf ? root.asOf.slice(0, 10) : null,
    max_age_days: config.trustRootMaxAgeDays ?? null,
    stale: freshness.kind === 'stale',
    notices: freshness.kind === 'fresh' ? [] : [freshness.reason],
    warnings: root.warnings ?? [],
    validity: trustRootWindows(root.json),
  };
}

function statusText(s: Record<string, unknown>): string {
  const lines = [
    `trust root: ${String(s.trust_root)}`,
    `source:     ${String(s.source)}`,
    `digest:     sha256:${String(s.digest)}`,
    `dated:      ${s.as_of === null ? 'unknown' : String(s.as_of)}`,
    `age:        ${s.age_days === null ? 'unknown' : `${String(s.age_days)} days`}${
      s.max_age_days !== null ? ` (limit ${String(s.max_age_days)} days${s.stale ? ': STALE' : ''})` : ` (notice above ${NOTICE_AGE_DAYS} days)`
    }`,
    'validity:',
  ];
  for (const w of s.validity as ReturnType<typeof trustRootWindows>) {
    lines.push(`  ${w.kind.padEnd(20)} ${w.name}  ${w.start ?? '?'} → ${w.end ?? 'open'}`);
  }
  for (const n of s.notices as { code: string; message: string; hint?: string }[]) {
    lines.push(`${n.code}: ${n.message}`);
    if (n.hint) lines.push(`  hint: ${n.hint}`);
  }
  for (const w of s.warnings as string[]) lines.push(`warning: ${w}`);
  return lines.map((l) => escapeText(l)).join('\n') + '\n';
}

/** Write bytes to `path` atomically (the persistence module: temp file, then rename). */
function writeAtomic(path: string, data: Buffer | string): void {
  try {
    writeFileAtomicSync(path, data, { mkdirs: true });
  } catch (e) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `Cannot write ${path}: ${(e as Error).message}.`, {
      hint: 'Give a path in a writable directory.',
      cause: e,
    });
  }
}

export const trustRootCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const { values, positionals } = parse(
    argv,
    {
      config: { type: 'string' },
      'trusted-root': { type: 'string' },
      'tuf-mirror': { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'trust-root',
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [sub, ...args] = positionals;
  const format = outputFormat(values, 'trust-root');
  const expectArgs = (n: number, usage: string): void => {
    if (args.length !== n) {
      throw new UsageError(n === 0 ? 'USAGE_INVALID_ARGUMENT' : 'USAGE_MISSING_ARGUMENT', `\`conda-attest trust-root ${usage}\` ${n === 0 ? 'takes no further arguments' : 'needs exactly one FILE'}.`, {
        hint: `Run \`conda-attest trust-root ${usage}\`.`,
      });
    }
  };
  switch (sub) {
    case 'status': {
      expectArgs(0, 'status');
      const config = await configFor(io, values);
      // Offline: status shows what a run would use without refreshing (the cached TUF
      // refresh, else the embedded snapshot), and never waits on the network.
      const root = await loadTrustRoot(config.trustRoot, { offline: true, cacheDir: config.cacheDir });
      const s = statusJson(config, root);
      io.stdout.write(format === 'json' ? escapeJsonOutput(JSON.stringify(s, null, 2)) + '\n' : statusText(s));
      return 0;
    }
    case 'refresh': {
      expectArgs(0, 'refresh');
      const config = await configFor(io, values);
      if (config.trustRoot !== PUBLIC_GOOD) {
        throw new TrustRootError('TRUST_ROOT_REFRESH_FAILED', `trust_root is the file ${config.trustRoot}; only the public-good root is refreshed through TUF.`, {
          hint: 'Replace that file with a current trusted_root.json from its deployment, or set trust_root: public-good.',
        });
      }
      const root = await refreshTrustRoot({ cacheDir: config.cacheDir, ...(values['tuf-mirror'] ? { tufMirrorUrl: values['tuf-mirror'] } : {}), tufTimeoutMs: 15_000 });
      const s = statusJson(config, root);
      io.stdout.write(format === 'json' ? escapeJsonOutput(JSON.stringify(s, null, 2)) + '\n' : `refreshed.\n${statusText(s)}`);
      return 0;
    }
    case 'export': {
      expectArgs(1, 'export FILE');
      const config = await configFor(io, values);
      const root = await loadTrustRoot(config.trustRoot, { offline: true, cacheDir: config.cacheDir });
      const target = resolve(io.cwd, args[0]!);
      writeAtomic(target, root.bytes ?? JSON.stringify(root.json, null, 2) + '\n');
      io.stderr.write(
        escapeText(`conda-attest: wrote the trust root in use (${trustRootLabel(root)}) to ${target}`) +
          '\n' +
          escapeText(`  point trust_root at it on the target machine, e.g. trust_root: ${JSON.stringify(target)}`) +
          '\n',
      );
      return 0;
    }
    case undefined:
      throw new UsageError('USAGE_MISSING_ARGUMENT', '`conda-attest trust-root` needs a subcommand.', { hint: 'Use status, refresh or export FILE.' });
    default:
      throw new UsageError('USAGE_UNKNOWN_COMMAND', `Unknown trust-root subcommand "${sub}".`, { hint: 'Use status, refresh or export FILE.' });
  }
};
