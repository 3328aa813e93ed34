// A mambajs lock (ILock) for packages of fixture channels: what JupyterLite hands
// mambajs-core, with the sha256 and size the channel serves unless a test leaves them out.
import type { ILock } from '@emscripten-forge/mambajs-core';
import type { FixtureChannel } from './channel.ts';

export function mambaLock(
  channels: Record<string, FixtureChannel>,
  entries: Array<[channelName: string, filename: string]>,
  opts: { platform?: ILock['platform']; omit?: { hash?: string[]; size?: string[] } } = {},
): ILock {
  const packages: ILock['packages'] = {};
  for (const [name, filename] of entries) {
    const p = channels[name]!.get(filename);
    const idx = p.index as { name: string; version: string; build: string };
    packages[filename] = {
      name: idx.name,
      version: idx.version,
      build: idx.build,
      subdir: p.subdir,
      channel: name,
      ...(opts.omit?.size?.includes(filename) ? {} : { size: p.size }),
      ...(opts.omit?.hash?.includes(filename) ? {} : { hash: { sha256: p.sha256 } }),
    };
  }
  return {
    lockVersion: '1.0.3',
    platform: opts.platform ?? 'noarch',
    specs: [],
    channels: Object.keys(channels),
    channelInfo: Object.fromEntries(Object.entries(channels).map(([name, ch]) => [name, [{ url: ch.url, protocol: 'https' }]])),
    packages,
    pipPackages: {},
  };
}
