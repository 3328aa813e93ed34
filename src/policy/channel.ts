// Channel identity: canonical channel URLs, package URL → channel, and the policy that
// applies to a channel (docs/configuration.md, `mirrors`). Pure functions over data.
//
// Channel matching is EXACT on the canonical form. A prefix match would let
// `https://prefix.dev/conda-forge-evil` or `https://prefix.dev/conda-forge/../evil`
// borrow the policy (and the trusted identities) of `https://prefix.dev/conda-forge`.
import { TargetError } from '../errors.ts';
import type { ChannelPolicy, ResolvedConfig } from '../types.ts';

const CHANNEL_SCHEMES = new Set(['http:', 'https:', 'file:']);

function invalidUrl(url: string, why: string, cause?: unknown): TargetError {
  return new TargetError('TARGET_INVALID_URL', `"${url}" is not a usable channel URL: ${why}.`, {
    hint: 'Write the channel as an http(s) URL without query or fragment, e.g. https://prefix.dev/conda-forge.',
    cause,
  });
}

/** WHATWG-parse a channel or package URL of an allowed scheme, or throw TARGET_INVALID_URL. */
function parseChannelUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch (e) {
    throw invalidUrl(url, 'it does not parse as a URL', e);
  }
  if (!CHANNEL_SCHEMES.has(u.protocol)) throw invalidUrl(url, `scheme "${u.protocol}" is not http, https or file`);
  return u;
}

/**
 * Canonical form of a channel URL: WHATWG URL parsing (the same parser `fetch` uses, so
 * `%2e%2e` and `..` segments resolve exactly as they will on the wire), lowercase scheme
 * and host, default port dropped, credentials dropped (they are not part of a channel's
 * identity and must not leak into reports), trailing slashes stripped (docs/configuration.md: "canonical
 * channel URL (no trailing slash)"). Query and fragment are rejected: a channel is a path.
 * Throws TargetError('TARGET_INVALID_URL') for anything else.
 */
export function canonicalChannelUrl(url: string): string {
  const u = parseChannelUrl(url);
  if (u.search !== '' || u.hash !== '') throw invalidUrl(url, 'it has a query or fragment');
  if (u.protocol !== 'file:' && u.hostname === '') throw invalidUrl(url, 'it has no host');
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${u.host}${path}`;
}

export interface PackageLocation {
  /** Canonical URL of the channel the package was served from (may be a mirror). */
  channel: string;
  subdir: string;
  /** Decoded filename (what CEP 27's subject name is compared with). */
  filename: string;
}

/**
 * `<channel>/<subdir>/<filename>` → parts: the last two path segments are subdir and
 * filename, everything before them is the channel. Query and fragment (e.g. signed
 * download URLs) are not part of the channel. Credentials are dropped.
 */
export function channelFromPackageUrl(url: string): PackageLocation {
  const u = parseChannelUrl(url);
  const segments = u.pathname.split('/');
  // segments[0] is '' (the path starts with '/'); we need at least subdir and filename.
  if (segments.length < 3) throw invalidUrl(url, 'it has no <subdir>/<filename> path');
  const rawFile = segments[segments.length - 1];
  const subdir = segments[segments.length - 2];
  if (rawFile === '' || subdir === '') throw invalidUrl(url, 'it has no <subdir>/<filename> path');
  let filename: string;
  try {
    filename = decodeURIComponent(rawFile);
  } catch (e) {
    throw invalidUrl(url, 'its filename is not valid percent-encoding', e);
  }
  if (/[/\\]/.test(filename)) throw invalidUrl(url, 'its filename contains an encoded path separator');
  const channelPath = segments.slice(0, -2).join('/');
  return { channel: canonicalChannelUrl(`${u.protocol}//${u.host}${channelPath}`), subdir, filename };
}

export interface PolicyLookup {
  /** The effective policy (the channel's own, or `default`). */
  policy: ChannelPolicy;
  /** Canonical channel URL the package is judged under (the configured channel for a mirror). */
  canonical: string;
  /** True when the URL matched one of a configured channel's mirrors. */
  viaMirror: boolean;
}

interface ChannelIndex {
  exact: Map<string, ChannelPolicy>;
  mirrors: Map<string, ChannelPolicy>;
  /** policyFor's answers by the URL as given: a run asks for the same few channel URLs per package. */
  lookups: Map<string, Readonly<PolicyLookup>>;
}

// Answers remembered per config (a long-lived host is asked about whatever URLs its clients
// send: the memo stops growing here). Parsing the URL for every package was ~45 ms of a warm
// 1,000-package run (CPU profile); the memo makes it one parse per distinct URL.
const MAX_LOOKUPS = 1024;

// Built once per ResolvedConfig: policyFor runs for every package (hot path).
const indexes = new WeakMap<ResolvedConfig, ChannelIndex>();

function indexOf(config: ResolvedConfig): ChannelIndex {
  let index = indexes.get(config);
  if (!index) {
    index = { exact: new Map(), mirrors: new Map(), lookups: new Map() };
    for (const p of config.channels) {
      index.exact.set(canonicalChannelUrl(p.channel), p);
      for (const m of p.mirrors) index.mirrors.set(canonicalChannelUrl(m), p);
    }
    indexes.set(config, index);
  }
  return index;
}

/**
 * The policy a channel URL is judged by: the configured channel with exactly this
 * canonical URL, else the configured channel that lists it as a mirror (a package
 * downloaded from a mirror is judged by its canonical channel's policy), else `default`
 * with the URL itself as canonical. An unparseable URL falls to `default` as well
 * (never to a configured channel), keeping the input as its name.
 */
export function policyFor(config: ResolvedConfig, channelUrl: string): PolicyLookup {
  const index = indexOf(config);
  let lookup = index.lookups.get(channelUrl);
  if (!lookup) {
    lookup = Object.freeze(lookupPolicy(config, index, channelUrl));
    if (index.lookups.size < MAX_LOOKUPS) index.lookups.set(channelUrl, lookup);
  }
  return lookup;
}

function lookupPolicy(config: ResolvedConfig, index: ChannelIndex, channelUrl: string): PolicyLookup {
  let canonical: string;
  try {
    canonical = canonicalChannelUrl(channelUrl);
  } catch {
    return { policy: config.default, canonical: channelUrl, viaMirror: false };
  }
  const own = index.exact.get(canonical);
  if (own) return { policy: own, canonical: own.channel, viaMirror: false };
  const viaMirror = index.mirrors.get(canonical);
  if (viaMirror) return { policy: viaMirror, canonical: viaMirror.channel, viaMirror: true };
  return { policy: config.default, canonical, viaMirror: false };
}

/**
 * CEP 27 `predicate.targetChannel` check: it SHOULD equal the channel the package came
 * from; docs/configuration.md accepts the canonical channel for a package served by one of its mirrors.
 * Anything else (including a different channel on the same host) is a mismatch.
 */
export function targetChannelAccepted(targetChannel: string, servedFrom: string, lookup: PolicyLookup): boolean {
  let target: string;
  try {
    target = canonicalChannelUrl(targetChannel);
  } catch {
    return false;
  }
  let served: string;
  try {
    served = canonicalChannelUrl(servedFrom);
  } catch {
    served = servedFrom;
  }
  return target === served || target === lookup.canonical;
}
