// `conda-attest init [TARGET...]`: write `.conda-attestrc.yaml` for an environment. Its
// channels come from the lockfile (default discovery as `verify`); online, the
// attestations the channels advertise for the locked packages are fetched and verified
// (same trust root, cache and network options as `verify`) and the signers observed
// become proposed trusted_identities (src/policy/propose.ts: never wider than what was
// seen). Nothing is pinned: the identity lockfile is written by the first `verify`.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, TrustRootError, UsageError, describeError } from '../errors.ts';
import { SEARCH_PLACES } from '../config/load.ts';
import { resolveConfig } from '../config/validator.ts';
import { type InitChannel, type InitPlan, renderInitConfig } from '../config/init-file.ts';
import { loadTargets } from '../targets/index.ts';
import { defaultTarget } from './environment.ts';
import { canonicalChannelUrl } from '../policy/channel.ts';
import { knownMirrors } from '../channel/known-mirrors.ts';
import { type EntryForm, proposeIdentities, type SignerObservation } from '../policy/propose.ts';

/** Repository entries as `github:` / `gitlab:` shorthands (matched against the repository claim, not the SAN). */
const ENTRY_FORM: EntryForm = 'shorthand';
import { createSession } from '../pipeline.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { escapeText } from '../text/escape.ts';
import type { PackageRecord, Reason, Report } from '../types.ts';
import { parse, positiveInt } from './args.ts';
import { givenSidecar, verifyRecords } from './environment.ts';
import type { CliIO, Command } from './io.ts';

const INIT_CONFIG_NAME = '.conda-attestrc.yaml';

const HELP = `Usage: conda-attest init [options] [TARGET...]

Write ${INIT_CONFIG_NAME} for the environment in TARGET (default: ./pixi.lock or
./conda-lock.yml): one entry per channel with require: error, known mirrors, and
trusted_identities proposed from the signers observed (--offline: from the caches only).
Channels without attestations get require: warn. Never replaces a configuration
unless --force is given.

Options:
  --trusted-root PATH   Sigstore trusted_root.json (written to the config as trust_root)
  --offline             no network: propose identities from the caches of earlier runs only
                        (and from --sigs)
  --sigs PATH_OR_URL    the sidecar of the one package TARGET names (a package file or URL)
  --force               replace an existing ${INIT_CONFIG_NAME}
  --channel URL         channel of local package files (may end in /<subdir>)
  --platform SUBDIR     subdir of local package files when --channel does not end in one
  --concurrency N       network requests in flight (default 8)
  --no-cache            neither read nor write the verdict and sidecar caches
  -h, --help            this help

Exit codes: 0 written, 2 usage or input error, or a configuration already exists.
`;

/** Connection-level failures: the channel was not reached at all (the run is offline). */
const UNREACHABLE = new Set(['HTTP_CONNECTION_FAILED', 'HTTP_TIMEOUT', 'HTTP_OFFLINE', 'REPODATA_UNAVAILABLE']);

/**
 * A configuration in `dir` that the new file would replace or that would shadow it (the
 * search takes the first of SEARCH_PLACES). `package.json` counts only with our key.
 */
function existingConfig(dir: string): string | undefined {
  for (const name of SEARCH_PLACES) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    if (name === 'package.json') {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as unknown;
        if (typeof pkg !== 'object' || pkg === null || !Object.hasOwn(pkg, 'conda-attest')) continue;
      } catch {
        continue; // not ours to judge here; `verify` reports a broken package.json
      }
    }
    return name;
  }
  return undefined;
}

function relativePath(from: string, to: string): string {
  const rel = relative(from, to);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? to : rel.split(sep).join('/');
}

interface ChannelGroup {
  channel: string;
  mirrors: string[];
  records: PackageRecord[];
}

/**
 * The environment's channels: canonical URLs, those known to be mirrors of one another
 * merged into one entry (a mirror may belong to one channel only), the most used URL as
 * the key. Sorted by URL.
 */
function groupChannels(records: readonly PackageRecord[]): ChannelGroup[] {
  const byUrl = new Map<string, PackageRecord[]>();
  for (const r of records) {
    const c = canonicalChannelUrl(r.channel);
    let list = byUrl.get(c);
    if (!list) byUrl.set(c, (list = []));
    list.push(r);
  }
  const urls = [...byUrl.keys()].sort((a, b) => byUrl.get(b)!.length - byUrl.get(a)!.length || (a < b ? -1 : 1));
  const taken = new Set<string>();
  const groups: ChannelGroup[] = [];
  for (const url of urls) {
    if (taken.has(url)) continue;
    const mirrors = knownMirrors(url);
    const group: ChannelGroup = { channel: url, mirrors, records: [...byUrl.get(url)!] };
    for (const m of mirrors) {
      if (byUrl.has(m) && !taken.has(m)) {
        group.records.push(...byUrl.get(m)!);
        taken.add(m);
      }
    }
    taken.add(url);
    groups.push(group);
  }
  return groups.sort((a, b) => (a.channel < b.channel ? -1 : 1));
}

/** Judge one channel from the rows of its packages. */
function channelFromRows(group: ChannelGroup, rows: Report['packages']): InitChannel {
  const observations: SignerObservation[] = [];
  let unattested = 0;
  let failed: Reason | undefined;
  let failures = 0;
  let keySigned = 0;
  for (const row of rows) {
    const signers = row.bundles.filter((b) => b.publish && b.verified && b.identity && b.identity.kind !== 'key').map((b) => b.identity!);
    if (row.bundles.some((b) => b.identity?.kind === 'key')) keySigned++;
    if (signers.length) observations.push({ package: row.name, identities: signers });
    else if (row.status === 'missing') unattested++;
    else if (!row.bundles.some((b) => b.identity?.kind === 'key')) {
      failures++;
      failed ??= row.reasons[0];
    }
  }
  const proposals = proposeIdentities(observations, ENTRY_FORM);
  const base = { channel: group.channel, mirrors: group.mirrors, packages: group.records.length, identities: proposals.identities, unattested, keySigned };
  if (observations.length > 0 || keySigned > 0) return { ...base, require: 'error', state: 'attested' };
  if (failures > 0) {
    return {
      ...base,
      require: 'error',
      state: 'unknown',
      problem: `${failures} of ${rows.length} packages could not be checked${failed ? ` (${failed.code}: ${failed.message})` : ''}.`,
    };
  }
  return { ...base, require: 'warn', state: 'unattested' };
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export const initCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const { values, positionals } = parse(
    argv,
    {
      'trusted-root': { type: 'string' },
      offline: { type: 'boolean' },
      sigs: { type: 'string' },
      force: { type: 'boolean' },
      channel: { type: 'string' },
      platform: { type: 'string' },
      concurrency: { type: 'string' },
      'no-cache': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'init',
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const concurrency = positiveInt(values.concurrency, '--concurrency') ?? 8;
  const out = resolve(io.cwd, INIT_CONFIG_NAME);

  const existing = existingConfig(io.cwd);
  if (existing && !(values.force && existing === INIT_CONFIG_NAME)) {
    throw new ConfigError('CONFIG_EXISTS', `A configuration already exists here: ${existing}.`, {
      hint:
        existing === INIT_CONFIG_NAME
          ? `Edit it, or pass --force to replace it with a new one.`
          : `Edit ${existing}; init writes only ${INIT_CONFIG_NAME} and would be shadowed or duplicate it (remove ${existing} first to start over).`,
    });
  }

  let trustRoot: string | undefined;
  if (values['trusted-root']) {
    trustRoot = resolve(io.cwd, values['trusted-root']);
    if (!existsSync(trustRoot)) {
      throw new TrustRootError('TRUST_ROOT_NOT_FOUND', `The trusted root ${trustRoot} does not exist.`, {
        hint: 'Give the path of a trusted_root.json with --trusted-root, or leave it out for public-good.',
      });
    }
  }

  let targets = positionals;
  if (targets.length === 0) {
    const found = await defaultTarget(io, 'Run init next to your pixi.lock or conda-lock.yml, or pass the lockfile or explicit file.');
    targets = [relativePath(io.cwd, found)];
  }
  const records = await loadTargets(targets, { cwd: io.cwd, channel: values.channel, platform: values.platform });
  if (records.length === 0) {
    throw new UsageError('USAGE_NO_TARGET', `${targets.join(', ')} lists no conda packages.`, { hint: 'Give the lockfile of an environment with conda packages.' });
  }
  const groups = groupChannels(records);

  const plan: InitPlan = {
    targets,
    ...(trustRoot ? { trustRoot: relativePath(io.cwd, trustRoot) } : {}),
    channels: [],
    date: today(),
  };

  let report: Report | undefined;
  {
    // Probe with every channel enabled under require: warn and nothing trusted yet: every
    // verified signer is observed. Its identity lockfile is a throw-away one in a temp
    // directory: init pins nothing in the project.
    const probe = resolveConfig(
      {
        ...(trustRoot ? { trust_root: trustRoot } : {}),
        channels: Object.fromEntries(groups.map((g) => [g.channel, { require: 'warn', ...(g.mirrors.length ? { mirrors: g.mirrors } : {}) }])),
      },
      io.cwd,
      undefined,
      { env: io.env },
    );
    const scratch = await mkdtemp(join(tmpdir(), 'conda-attest-init-'));
    try {
      const session = await createSession({
        config: probe,
        lockfile: join(scratch, 'probe.lock'),
        // --offline means no network, as for verify: what earlier runs cached still answers.
        offline: Boolean(values.offline),
        sigs: await givenSidecar(io, values.sigs, records, probe),
        expectedPackages: records.length,
        noCache: Boolean(values['no-cache']),
      });
      await verifyRecords(session, records, { concurrency });
      report = await session.finish();
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    for (const w of report.warnings ?? []) io.stderr.write(`conda-attest: warning: ${escapeText(w)}\n`);
    const unreachable = report.packages.filter((p) => p.status === 'retrieval-failed' && p.reasons.some((r) => UNREACHABLE.has(r.code)));
    if (unreachable.length === report.packages.length) {
      const r = unreachable[0]!.reasons[0]!;
      plan.offlineReason = values.offline
        ? '--offline was given and no earlier run cached these packages\' attestations. Run `conda-attest init --force` online to get proposals.'
        : `the channels could not be reached (${r.code}: ${r.message}). Run \`conda-attest init --force\` again when online.`;
      report = undefined;
    }
  }

  for (const g of groups) {
    if (!report) {
      plan.channels.push({ channel: g.channel, mirrors: g.mirrors, packages: g.records.length, require: 'error', state: 'offline', identities: [], unattested: 0, keySigned: 0 });
      continue;
    }
    const urls = new Set(g.records.map((r) => r.url));
    plan.channels.push(channelFromRows(g, report.packages.filter((p) => urls.has(p.url))));
  }

  const text = renderInitConfig(plan);
  // Fail closed on our own output: what is written must load as a valid configuration.
  resolveConfig(parseYaml(text, { uniqueKeys: true }), io.cwd, out, { env: io.env });
  try {
    await writeFileAtomic(out, text, { exclusive: !values.force });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError('CONFIG_EXISTS', `A configuration already exists here: ${INIT_CONFIG_NAME}.`, { hint: 'Edit it, or pass --force to replace it.', cause: e });
    }
    throw new UsageError('USAGE_OUTPUT_UNWRITABLE', `Cannot write ${out} (${describeError(e)}).`, { hint: 'Check that the directory is writable.', cause: e });
  }

  io.stdout.write(summaryText(plan));
  return 0;
};

function summaryText(plan: InitPlan): string {
  const n = (k: InitChannel['state']) => plan.channels.filter((c) => c.state === k).length;
  const identities = plan.channels.reduce((a, c) => a + c.identities.length, 0);
  const parts = [
    n('attested') ? `${n('attested')} with attestations` : '',
    n('unattested') ? `${n('unattested')} without attestations (require: warn)` : '',
    n('unknown') ? `${n('unknown')} not checked (see the comments)` : '',
    n('offline') ? `${n('offline')} not checked (offline)` : '',
  ].filter(Boolean);
  const lines = [
    `Wrote ${INIT_CONFIG_NAME}: ${plan.channels.length} channel${plan.channels.length === 1 ? '' : 's'}${parts.length ? ` (${parts.join(', ')})` : ''}, ${identities} trusted identit${identities === 1 ? 'y' : 'ies'} proposed.`,
  ];
  if (plan.offlineReason) {
    // Nothing was verified and nothing pinned: no lockfile to commit yet.
    lines.push(
      `No trusted identities were proposed: ${escapeText(plan.offlineReason)}`,
      '',
      'Next steps:',
      '  1. When the channels can be reached, propose the signers (or add trusted_identities by hand):',
      '       conda-attest init --force',
      '  2. Then verify the environment: the first run pins its signers in conda-attest.lock;',
      `     commit that file with ${INIT_CONFIG_NAME}.`,
      '',
    );
    return lines.join('\n');
  }
  lines.push(
    '',
    'Next steps:',
    `  1. Review ${INIT_CONFIG_NAME}, then verify the environment and pin its signers:`,
    '       conda-attest verify',
    `  2. Commit the configuration and the identity lockfile that verify wrote:`,
    `       git add ${INIT_CONFIG_NAME} conda-attest.lock && git commit -m "Verify conda packages with conda-attest"`,
    '  3. Enforce it in CI: the GitHub Action (action.yml, see the README) runs `conda-attest verify --frozen`',
    '     on every pull request that touches the lockfile.',
    '  4. Show signer identity changes in `git diff`:',
    "       echo 'conda-attest.lock diff=conda-attest' >> .gitattributes",
    "       git config diff.conda-attest.textconv 'conda-attest diff --textconv'",
    '',
  );
  return lines.join('\n');
}
