// Which proxy a request goes through, from the environment, as curl, conda (requests),
// pixi and npm read it: `https_proxy`/`HTTPS_PROXY` for https URLs, `http_proxy`/
// `HTTP_PROXY` for http URLs (lowercase first, as curl does), none when `no_proxy`/
// `NO_PROXY` matches the host.
//
// Hand-written (pure, ~40 lines) rather than taken from proxy-from-env: that package reads
// a bare NO_PROXY entry (`example.com`) as that exact host only, while curl, requests and
// npm also exempt its sub-domains (`pkg.example.com`), and it has no CIDR entries; a user's
// NO_PROXY must mean here what it means to the other tools on the same machine.
import { createRequire } from 'node:module';
// node:net on first use only (a NO_PROXY entry to match): most runs set no proxy at all and
// never load it.
const net = (): typeof import('node:net') => createRequire(import.meta.url)('node:net') as typeof import('node:net');
import { HttpError } from '../errors.ts';

/** `code` of the error a CONNECT answer other than 200 ends a request with (./tunnel.ts). */
export const TUNNEL_REFUSED = 'ERR_PROXY_TUNNEL_REFUSED';

/** Proxy schemes a tunnel can be opened through: http(s) proxies (CONNECT) and SOCKS5. */
const SUPPORTED = new Set(['http:', 'https:', 'socks5:', 'socks5h:']);

/**
 * The proxy URL for `target`, or null for a direct connection. A proxy variable that is set
 * but unusable (unparsable, or a scheme with no tunnel here) throws PROXY_UNSUPPORTED: the
 * user asked for a proxy, so going direct without a word would bypass it.
 */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv): URL | null {
  const scheme = target.protocol === 'https:' ? 'https' : 'http';
  const raw = pick(env, `${scheme}_proxy`);
  if (!raw) return null;
  const proxy = parseProxy(raw, `${scheme}_proxy`);
  if (bypassed(target, pick(env, 'no_proxy') ?? '')) return null;
  return proxy;
}

/**
 * Run start: every proxy variable that is set must be usable, whichever URLs the run will
 * fetch (a run-level error, exit 2, before anything is sent).
 */
export function checkProxyEnv(env: NodeJS.ProcessEnv): void {
  for (const name of ['https_proxy', 'http_proxy']) {
    const raw = pick(env, name);
    if (raw) parseProxy(raw, name);
  }
}

function parseProxy(raw: string, name: string): URL {
  // The variable as set, lowercase or uppercase, for the message.
  let proxy: URL | undefined;
  try {
    // `host:port` without a scheme means an http proxy (curl's default).
    proxy = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    proxy = undefined;
  }
  if (!proxy || !proxy.hostname || !SUPPORTED.has(proxy.protocol)) {
    // Never echo the value: it may carry credentials.
    const what = proxy ? `uses the unsupported scheme ${proxy.protocol.replace(/:$/, '')}://` : 'is not a valid URL';
    throw new HttpError('PROXY_UNSUPPORTED', `The proxy in ${name.toUpperCase()} (or ${name}) ${what}${proxy?.hostname ? ` (${redactProxy(proxy)})` : ''}; requests are not sent direct instead.`, {
      hint: 'Set it to an http://, https://, socks5:// or socks5h:// proxy URL (user:password@ allowed), or unset it to connect directly.',
    });
  }
  return proxy;
}

function pick(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name] || env[name.toUpperCase()];
  return v ? v.trim() : undefined;
}

/** Hostname without IPv6 brackets, lowercase. */
function bareHost(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

function defaultPort(u: URL): string {
  return u.port || (u.protocol === 'https:' ? '443' : '80');
}

/**
 * NO_PROXY: comma- or space-separated entries. `*` exempts everything; `host` and `.host`
 * (and `*.host`) exempt the host and every sub-domain; `host:port` only that port; an IP
 * or CIDR block (`10.0.0.0/8`, `::1`) the addresses in it.
 */
export function bypassed(target: URL, noProxy: string): boolean {
  const host = bareHost(target);
  const port = defaultPort(target);
  for (let entry of noProxy.toLowerCase().split(/[,\s]+/)) {
    if (!entry) continue;
    if (entry === '*') return true;
    const cidr = /^([0-9a-f.:]+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const family = net().isIP(cidr[1]!);
      const hostFamily = net().isIP(host);
      if (family === 0 || family !== hostFamily) continue;
      const list = new (net().BlockList)();
      try {
        list.addSubnet(cidr[1]!, Number(cidr[2]), family === 6 ? 'ipv6' : 'ipv4');
      } catch {
        continue;
      }
      if (list.check(host, family === 6 ? 'ipv6' : 'ipv4')) return true;
      continue;
    }
    let entryPort: string | undefined;
    const withPort = /^(.*[^:]):(\d+)$/.exec(entry);
    if (withPort && !(net().isIP(entry) === 6)) {
      entry = withPort[1]!;
      entryPort = withPort[2]!;
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (entryPort !== undefined && entryPort !== port) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** The proxy as it may be printed: scheme, host and port, never the credentials. */
export function redactProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}
