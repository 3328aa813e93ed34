// The configuration file `conda-attest init` writes, as YAML with comments: `$schema`,
// one entry per channel of the environment, mirrors, proposed trusted identities with the
// number of packages each covers, and why a channel got `require: warn` or no identities.
// Pure: the plan in, the text out.
import { createRequire } from 'node:module';
import type { ProposedIdentity } from '../policy/propose.ts';
import { escapeText } from '../text/escape.ts';

const requireLazy = createRequire(import.meta.url);
const yaml = (): typeof import('yaml') => requireLazy('yaml') as typeof import('yaml');

/**
 * `$schema` of the written file, so editors validate and complete it: the schema the
 * package ships (`schema/` is in its files), where a project that installs conda-attest has
 * it. The schema's `$id` is a name, not an address that serves it.
 */
export const CONFIG_SCHEMA_PATH = './node_modules/conda-attest/schema/config.schema.json';

export interface InitChannel {
  /** Canonical channel URL (the key). */
  channel: string;
  mirrors: string[];
  /** Packages of the environment from this channel (mirrors included). */
  packages: number;
  require: 'error' | 'warn';
  /**
   * attested: signers observed; unattested: no package has attestations; unknown: the
   * attestations could not be checked (why in `problem`); offline: not checked at all.
   */
  state: 'attested' | 'unattested' | 'unknown' | 'offline';
  identities: ProposedIdentity[];
  /** Attested channel: packages without attestations (blocked under require: error). */
  unattested: number;
  /** Packages signed with a self-managed key (to add under trusted_keys by hand). */
  keySigned: number;
  problem?: string;
}

export interface InitPlan {
  /** The environment file(s) the channels came from, as given. */
  targets: string[];
  /** `trust_root` to write (path relative to the config, or undefined for the default). */
  trustRoot?: string;
  channels: InitChannel[];
  /** Why no identities were proposed for any channel (offline). */
  offlineReason?: string;
  /** YYYY-MM-DD of the run, for "checked on" comments. */
  date: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * A comment line never carries a newline (it would end the comment and start YAML) or any
 * other control character (not printable YAML): package names come from URLs.
 */
function oneLine(s: string): string {
  return escapeText(s);
}

function identityComment(p: ProposedIdentity): string {
  const more = p.packages > p.examples.length ? ', …' : '';
  return ` ${plural(p.packages, 'package')}: ${p.examples.join(', ')}${more}`;
}

function channelComment(c: InitChannel, date: string): string[] {
  const lines = [`${plural(c.packages, 'package')} in the environment`];
  switch (c.state) {
    case 'attested':
      lines[0] += `; signers observed on ${date}, never a pattern wider than what was seen.`;
      if (c.unattested > 0) lines.push(`${plural(c.unattested, 'package has', 'packages have')} no attestations: blocked under require: error (use require: warn until they are attested).`);
      if (c.keySigned > 0) lines.push(`${plural(c.keySigned, 'package is', 'packages are')} signed with a self-managed key: add its public key under trusted_keys.`);
      break;
    case 'unattested':
      lines[0] += `; none has attestations (checked on ${date}), so require: warn.`;
      lines.push('Switch to require: error once the channel publishes attestations.');
      break;
    case 'unknown':
      lines[0] += `; its attestations could not be checked, so no trusted_identities are proposed.`;
      if (c.problem) lines.push(c.problem);
      lines.push('Run `conda-attest init --force` again, or add trusted_identities by hand.');
      break;
    case 'offline':
      lines[0] += '; not checked (offline), so no trusted_identities are proposed.';
      break;
  }
  if (c.mirrors.length) lines.push('mirrors: other hosts known to serve this channel byte-for-byte.');
  return lines.map((l) => ` ${oneLine(l)}`);
}

export function renderInitConfig(plan: InitPlan): string {
  const Y = yaml();
  const doc = new Y.Document({ $schema: CONFIG_SCHEMA_PATH } as Record<string, unknown>);
  const header = [
    ` conda-attest configuration, written by \`conda-attest init\` from ${plan.targets.join(', ')} on ${plan.date}.`,
    ' Every channel of the environment is checked; review the proposed trusted_identities,',
  ];
  // Offline, no signer was seen: the next step is proposals, not a lockfile that no run wrote.
  if (plan.offlineReason) header.push(' then run `conda-attest verify`.', ` No trusted_identities were proposed: ${oneLine(plan.offlineReason)}`);
  else header.push(' then run `conda-attest verify` (it writes conda-attest.lock) and commit this file with it.');
  doc.commentBefore = header.join('\n');
  if (plan.trustRoot !== undefined) doc.set('trust_root', plan.trustRoot);
  const channels = new Y.YAMLMap();
  for (const c of plan.channels) {
    const body: Record<string, unknown> = { require: c.require };
    if (c.mirrors.length) body.mirrors = c.mirrors;
    if (c.identities.length) body.trusted_identities = c.identities.map((p) => p.entry);
    const node = doc.createNode(body) as import('yaml').YAMLMap;
    const list = node.get('trusted_identities', true) as import('yaml').YAMLSeq | undefined;
    c.identities.forEach((p, i) => {
      const item = list!.items[i] as import('yaml').Node;
      // A trailing comment for a one-line entry, a comment above a mapping entry.
      if (typeof p.entry === 'string') item.comment = oneLine(identityComment(p));
      else item.commentBefore = oneLine(identityComment(p));
      // A pinned ID says which repository's certificates it came from.
      for (const [field, source] of Object.entries(p.idSource ?? {})) {
        const value = (item as import('yaml').YAMLMap).get(field, true) as import('yaml').Scalar | undefined;
        if (value && source) value.comment = oneLine(` ${field === 'owner_id' ? 'owner of' : 'ID of'} ${source}, from its certificates`);
      }
    });
    const key = doc.createNode(c.channel) as import('yaml').Scalar;
    key.commentBefore = channelComment(c, plan.date).join('\n');
    channels.items.push(doc.createPair(key, node));
  }
  doc.set('channels', channels);
  return doc.toString({ lineWidth: 0 });
}
