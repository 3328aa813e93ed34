// A channel policy as the resolved configuration gives it (require: error, repodata
// discovery, transparency log required, nothing trusted yet), with `over` applied.
import type { ChannelPolicy } from '../../src/types.ts';

export function channelPolicy(over: Partial<ChannelPolicy> = {}): ChannelPolicy {
  return {
    channel: 'https://prefix.dev/conda-forge',
    enabled: true,
    require: 'error',
    trustedIdentities: [],
    trustedKeys: [],
    requireTlog: true,
    mirrors: [],
    discovery: ['repodata'],
    ...over,
  };
}
