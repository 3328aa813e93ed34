// A channel URL in its one written form: no trailing slash (lockfile channel keys, report
// rows, and every URL built under a channel: repodata, CEP 50 sidecars, proxied paths).
export type ChannelUrl = string & { readonly __channelUrl: true };

export const ChannelUrl = {
  /** `raw` without its trailing slashes. */
  of: (raw: string): ChannelUrl => raw.replace(/\/+$/, '') as ChannelUrl,
  /** `<channel>/<segment>/…` with one slash between, however the channel was written. */
  join: (channel: string, ...segments: string[]): string => [ChannelUrl.of(channel), ...segments].join('/'),
};
