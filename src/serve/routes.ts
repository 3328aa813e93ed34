// Routes of `conda-attest serve` and what a request path names under them. Pure.
//
// Only configured channels are served (docs/serve.md "Not an open proxy"): each canonical
// channel under its URL path (`https://conda.anaconda.org/conda-forge` → `/conda-forge`),
// or under a name given with `--route NAME=URL` / `serve.routes`. A channel's mirrors are
// upstream fallbacks of its route, never routes of their own. Under a route only the files
// of a conda channel are named (repodata, CEP 16 shards, channeldata, packages and their
// CEP 50 sidecars); anything else is "not found", so that no upstream request is ever made
// for a name the proxy does not know.
import { ConfigError } from '../errors.ts';
import { canonicalChannelUrl, policyFor } from '../policy/channel.ts';
import { encodePathSegment, isPackageFilename, isValidPackageFilename, isValidSubdir } from '../targets/package-url.ts';
import type { ResolvedConfig } from '../types.ts';
import { ChannelUrl } from '../util/channel-url.ts';

export interface Route {
  /** Path under the proxy, without slashes at either end: `conda-forge`. */
  name: string;
  /** Canonical channel URL the route serves (the policy's key). */
  channel: string;
  /** Upstream fallbacks tried in order after the channel itself (the policy's mirrors). */
  mirrors: string[];
  /** Whether checks are enabled for the channel (false: packages pass unverified). */
  enabled: boolean;
}

/** A route name: path segments of [A-Za-z0-9._-], not starting with `-` (the proxy's own `/-/`). */
const ROUTE_NAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*(\/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$/;

/**
 * The routes: every configured channel under its URL path, then `explicit` (config
 * `serve.routes` and `--route`, NAME → URL), which replace the automatic route of the same
 * channel. Two channels on one path → CONFIG_INVALID naming both; sorted by name.
 */
export function buildRoutes(config: ResolvedConfig, explicit: Record<string, string>): Route[] {
  const problems: string[] = [];
  const byName = new Map<string, Route>();
  const named = new Set<string>();
  const explicitEntries = Object.entries(explicit).map(([name, url]) => {
    let channel = url;
    try {
      channel = canonicalChannelUrl(url);
    } catch {
      problems.push(`route "${name}": "${url}" is not an http(s) channel URL`);
    }
    if (!ROUTE_NAME_RE.test(name) || name.split('/').some((s) => s === '.' || s === '..')) {
      problems.push(`route "${name}": a route name is path segments of letters, digits, ".", "_" and "-", not starting with "-"`);
    }
    return [name, channel] as const;
  });
  for (const [, channel] of explicitEntries) named.add(channel);
  const add = (name: string, channel: string, origin: string): void => {
    const seen = byName.get(name);
    if (seen && seen.channel !== channel) {
      problems.push(`/${name} would serve both ${seen.channel} and ${channel} (${origin}); name one of them with --route NAME=URL or serve.routes`);
      return;
    }
    const lookup = policyFor(config, channel);
    // A route for a mirror of a configured channel serves that channel (judged by its policy).
    byName.set(name, { name, channel: lookup.canonical, mirrors: lookup.policy.mirrors.filter((m) => canonicalChannelUrl(m) !== lookup.canonical), enabled: lookup.policy.enabled });
  };
  for (const policy of config.channels) {
    if (named.has(policy.channel)) continue;
    const name = new URL(policy.channel).pathname.replace(/^\/+|\/+$/g, '');
    if (!name || !ROUTE_NAME_RE.test(name)) {
      problems.push(`${policy.channel} has no path usable as a route; name it with --route NAME=${policy.channel}`);
      continue;
    }
    add(name, policy.channel, 'channels');
  }
  for (const [name, channel] of explicitEntries) add(name, channel, 'routes');
  if (problems.length) {
    throw new ConfigError('CONFIG_INVALID', `The routes of conda-attest serve are invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: 'Give each channel its own path with --route NAME=URL (or the serve.routes config key).',
      details: problems,
    });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `NAME=URL` of `--route`. */
export function parseRouteArgument(raw: string): [string, string] | undefined {
  const at = raw.indexOf('=');
  if (at <= 0 || at === raw.length - 1) return undefined;
  return [raw.slice(0, at).replace(/^\/+|\/+$/g, ''), raw.slice(at + 1)];
}

/** What a request path names. */
export type Target =
  | { kind: 'admin'; name: 'health' | 'metrics' }
  /** Repodata-class documents: passed through byte for byte and kept for stale answers. */
  | { kind: 'index'; route: Route; path: string }
  /** A CEP 16 shard (content-addressed by its name). */
  | { kind: 'shard'; route: Route; path: string }
  /** A CEP 50 sidecar of a package of the channel. */
  | { kind: 'sidecar'; route: Route; path: string; subdir: string; filename: string }
  | { kind: 'package'; route: Route; path: string; subdir: string; filename: string };

type Classified = { ok: true; target: Target } | { ok: false; status: 400 | 404; why: string };

/** Per subdir: the index documents clients ask for (rattler, conda, mamba, pixi). */
const SUBDIR_INDEX = new Set(['repodata.json', 'repodata.json.zst', 'current_repodata.json', 'repodata_shards.msgpack.zst']);
const SHARD_RE = /^[0-9a-f]{64}\.msgpack\.zst$/;
const SIDECAR_RE = /^(.+?\.(?:conda|tar\.bz2))(?:\.sigs\.[0-9a-f]{64}|\.sigs|\.v0\.sigs)$/;

/**
 * Classify a request target (the raw string after the method, RFC 9112 §3.2). Only the
 * origin form is served: absolute form (an open proxy's), authority form (CONNECT) and
 * paths that could mean something else after decoding (dot segments, encoded `/`, `\`,
 * NUL or any control character) are 400; names the proxy does not serve are 404 (clients
 * probe, e.g. rattler's `repodata.json.bz2`, and fall back only on 404).
 */
export function classify(rawTarget: string, routes: readonly Route[]): Classified {
  const bad = (why: string): Classified => ({ ok: false, status: 400, why });
  const none = (why: string): Classified => ({ ok: false, status: 404, why });
  if (!rawTarget.startsWith('/')) return bad('only origin-form request targets are served (this is not an open proxy)');
  const q = rawTarget.search(/[?#]/);
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  if (rawPath.startsWith('//')) return bad('the path starts with "//"');
  if (/[\u0000-\u001f\u007f\\]/.test(rawPath)) return bad('the path contains a control character or a backslash');
  if (/%(?:2f|5c|00|[01][0-9a-f]|7f)/i.test(rawPath)) return bad('the path contains an encoded slash, backslash or control character');
  let segments: string[];
  try {
    segments = rawPath.slice(1).split('/').map((s) => decodeURIComponent(s));
  } catch {
    return bad('the path is not valid percent-encoding');
  }
  if (segments.some((s) => s === '.' || s === '..')) return bad('the path contains a dot segment');
  if (segments.some((s) => /[\u0000-\u001f\u007f\\/]/.test(s))) return bad('the path decodes to a separator or control character');
  const path = segments.join('/');
  if (path === '-/health' || path === '-/metrics') return { ok: true, target: { kind: 'admin', name: path === '-/health' ? 'health' : 'metrics' } };
  // Longest route first: `a/b` before `a`.
  const route = [...routes].sort((x, y) => y.name.length - x.name.length).find((r) => path === r.name || path.startsWith(`${r.name}/`));
  if (!route) return none('no route serves this path');
  const rest = path.slice(route.name.length + 1).split('/');
  if (rest.length === 1) {
    return rest[0] === 'channeldata.json' ? { ok: true, target: { kind: 'index', route, path: rest[0] } } : none('not a file of a conda channel');
  }
  const [subdir, ...tail] = rest;
  if (!subdir || !isValidSubdir(subdir)) return none('not a subdir of a conda channel');
  const sub = tail.join('/');
  if (tail.length === 2 && tail[0] === 'shards' && SHARD_RE.test(tail[1]!)) return { ok: true, target: { kind: 'shard', route, path: `${subdir}/${sub}` } };
  if (tail.length !== 1) return none('not a file of a conda channel');
  const file = tail[0]!;
  if (SUBDIR_INDEX.has(file)) return { ok: true, target: { kind: 'index', route, path: `${subdir}/${file}` } };
  const sidecar = SIDECAR_RE.exec(file);
  if (sidecar && isValidPackageFilename(sidecar[1]!)) return { ok: true, target: { kind: 'sidecar', route, path: `${subdir}/${file}`, subdir, filename: sidecar[1]! } };
  if (isPackageFilename(file) && isValidPackageFilename(file)) return { ok: true, target: { kind: 'package', route, path: `${subdir}/${file}`, subdir, filename: file } };
  return none('not a file of a conda channel');
}

/** The upstream URL of a path under a channel (each segment percent-encoded again). */
export function upstreamUrl(channel: string, path: string): string {
  return ChannelUrl.join(channel, ...path.split('/').map(encodePathSegment));
}
