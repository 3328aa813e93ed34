// Hosts known to serve the same channel byte-for-byte (CEP 50: mirrors must serve
// sidecars unchanged), for `conda-attest init` to propose as `mirrors`. Pure data and
// one function; a user can always add or remove mirrors in the config.
import { canonicalChannelUrl } from '../policy/channel.ts';

/** Hosts that are one service: every channel on one is the same channel on the others. */
const HOST_ALIASES: readonly (readonly string[])[] = [['prefix.dev', 'repo.prefix.dev']];

/** Channels served under different hosts (name → every URL that serves it). */
const CHANNEL_HOSTS: Readonly<Record<string, readonly string[]>> = {
  'conda-forge': ['https://conda.anaconda.org/conda-forge', 'https://prefix.dev/conda-forge', 'https://repo.prefix.dev/conda-forge'],
};

/** Every URL known to serve `channel` (canonical, itself excluded), sorted. */
export function knownMirrors(channel: string): string[] {
  let canonical: string;
  try {
    canonical = canonicalChannelUrl(channel);
  } catch {
    return [];
  }
  const u = new URL(canonical);
  if (u.protocol !== 'https:') return [];
  const out = new Set<string>();
  for (const urls of Object.values(CHANNEL_HOSTS)) if (urls.includes(canonical)) for (const x of urls) out.add(x);
  for (const hosts of HOST_ALIASES) {
    if (!hosts.includes(u.host)) continue;
    for (const h of hosts) out.add(`https://${h}${u.pathname}`);
  }
  out.delete(canonical);
  return [...out].sort();
}
