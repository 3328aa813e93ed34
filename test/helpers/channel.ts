// A fixture conda channel served on 127.0.0.1, with CEP 50 sidecars, fault
// injection per URL, a request log, and lockfile writers pointing at it.
//
// STATUS: complete — repodata (ETag/304), packages, the three sidecar URLs,
// faults (status n times, hang, slow, oversized, mismatch, malformed, drop,
// content-type, custom body), request log, append attestations, explicit /
// pixi.lock v6 / conda-lock.yml v1 writers.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify as yamlStringify } from 'yaml';
import { mapLimit } from '../../src/util/concurrency.ts';
import { makeCondaPackage } from './conda.ts';
import { startLoopback } from './loopback.ts';
import type { BuiltPackage, CondaPackageSpec } from './conda.ts';
import { publishStatement } from './sigstore.ts';
import type { BundleJSON, LocalSigstore, SignOptions } from './sigstore.ts';

/** The three CEP 50 sidecar URLs: `<file>.sigs.<sha256>`, `<file>.sigs`, `<file>.v0.sigs`. */
export type SidecarUrlKind = 'hash' | 'sigs' | 'v0';
export const ALL_SIDECAR_KINDS: readonly SidecarUrlKind[] = ['hash', 'sigs', 'v0'];

/**
 * A fault served instead of the normal response. `times`: only the first N
 * requests to that path get the fault, later ones are served normally
 * (default: every request).
 */
export type Fault = { times?: number } & (
  /** Answer with this status (e.g. 404, 500, 503) and a short text body. */
  | { kind: 'status'; status: number }
  /** Never answer: `stage: 'headers'` (default) sends nothing, `'body'` sends headers and part of the body, then stalls. */
  | { kind: 'hang'; stage?: 'headers' | 'body' }
  /** Send the real body in chunks of `chunkBytes` (default 16) every `delayMs`. */
  | { kind: 'slow'; delayMs: number; chunkBytes?: number }
  /** A 200 body of `bytes` bytes (a JSON array padded with spaces), for size caps. */
  | { kind: 'oversized'; bytes: number; chunked?: boolean }
  /** Valid JSON with the same bundles but different bytes: sha256 no longer matches repodata. */
  | { kind: 'mismatch' }
  /** The first half of the real body: truncated, unparseable JSON (and a hash mismatch). */
  | { kind: 'malformed' }
  /** Send headers (with the full Content-Length) and `afterBytes` (default half) of the body, then destroy the socket. */
  | { kind: 'drop'; afterBytes?: number }
  /** Serve the normal body with this Content-Type (CEP 50: clients must not reject on it). */
  | { kind: 'content-type'; value: string }
  /** Serve exactly this body with status 200 (or `status`). */
  | { kind: 'body'; body: string | Buffer; status?: number; contentType?: string }
);

/** One package of the fixture channel. */
export interface FixturePackage {
  spec: CondaPackageSpec;
  /**
   * Generate a CEP 27 publish attestation with the channel's LocalSigstore
   * (default: true when a `sigstore` was given and `bundles`/`sidecarBody` are not).
   */
  attest?: boolean;
  /** Identity of the generated attestation. */
  signOptions?: SignOptions;
  /** `predicate.targetChannel` of the generated attestation (default: the channel URL). */
  targetChannel?: string | null;
  /** More bundles appended to the sidecar after the generated one (e.g. SLSA, tampered, other signer). */
  extraBundles?: BundleJSON[];
  /** The sidecar's bundles exactly (replaces the generated attestation). */
  bundles?: BundleJSON[];
  /** Raw sidecar bytes (replaces everything above; need not be valid JSON). */
  sidecarBody?: Buffer | string;
  /** Write `attestations_sha256` in repodata (default: true when there is a sidecar). */
  advertise?: boolean;
  /** Value written as `attestations_sha256` instead of the real hash (e.g. uppercase, short, wrong). */
  advertisedSha256?: string;
  /** Which sidecar URLs are served (default: all three). Others answer 404. */
  serve?: SidecarUrlKind[];
}

/** A package as served. */
export interface ChannelPackage extends BuiltPackage {
  /** Full download URL. */
  url: string;
  /** The repodata record (as served, including `attestations_sha256` when advertised). */
  record: Record<string, unknown>;
  /** Bundles in the sidecar (empty when there is none or it is a raw body). */
  bundles: BundleJSON[];
  /** Sidecar bytes, or null when the package has no sidecar. */
  sidecar: Buffer | null;
  /** SHA-256 of the sidecar bytes, or null. */
  sidecarSha256: string | null;
  /** Sidecar URLs of this package (served or not). */
  sidecarUrls: Record<SidecarUrlKind, string>;
  serve: SidecarUrlKind[];
}

/** One request the channel received. */
export interface RequestLogEntry {
  method: string;
  /** Path without the origin, e.g. `/test-channel/noarch/repodata.json`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Status sent (0 when the request was hung or dropped before a status). */
  status: number;
  /** The fault applied, if any. */
  fault?: Fault['kind'];
}

export interface FixtureChannelOptions {
  packages: FixturePackage[];
  /** Signs the generated attestations. Required when any package is attested. */
  sigstore?: LocalSigstore;
  /** Path segment of the channel (default `test-channel`): URL is `http://127.0.0.1:PORT/<name>`. */
  name?: string;
  /** Subdirs that get a repodata.json even when empty (noarch always does). */
  subdirs?: string[];
  /**
   * Serve CORS headers (Access-Control-Allow-Origin: *, and answer preflights) on the paths
   * this returns true for, as a channel for pages (JupyterLite) must. Default: none.
   */
  cors?: (path: string) => boolean;
  /**
   * `Cache-Control` sent with each repodata.json (200 and 304), as a real channel sends it
   * (the bench: conda.anaconda.org's `public, max-age=1200`, docs/performance.md). Default:
   * none, so every run revalidates (tests that change repodata between runs rely on it).
   */
  repodataCacheControl?: string;
}

/** Options of the lockfile writers. */
export interface LockfileOptions {
  /** Platform (subdir) of the environment, default: the first non-noarch subdir, else `linux-64`. */
  platform?: string;
  /** Only these filenames (default: every package of the platform and noarch). */
  filenames?: string[];
}

export interface FixtureChannel {
  /** Channel URL, no trailing slash, e.g. `http://127.0.0.1:40123/test-channel`. */
  url: string;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  packages: ChannelPackage[];
  /** Package by filename (throws when unknown). */
  get(filename: string): ChannelPackage;
  /** The repodata.json object of a subdir as currently served. */
  repodata(subdir: string): Record<string, any>;
  /** Inject a fault for a full URL or a path (replaces any fault on it). */
  setFault(urlOrPath: string, fault: Fault): void;
  clearFaults(): void;
  /** Every request so far, in order. */
  readonly requests: readonly RequestLogEntry[];
  /** Requests to a full URL or path. */
  requestsTo(urlOrPath: string): RequestLogEntry[];
  clearRequests(): void;
  /**
   * Append bundles to a package's sidecar (CEP 50: a changed hash in repodata
   * means attestations were appended): new sidecar bytes, new hash URL, new
   * repodata ETag. Returns the updated package.
   */
  appendBundles(filename: string, bundles: BundleJSON[]): ChannelPackage;
  /** conda explicit file: `@EXPLICIT` + `URL#sha256` (or `#md5`, or no hash). */
  explicitFile(opts?: LockfileOptions & { hash?: 'sha256' | 'md5' | 'none' }): string;
  /** Minimal pixi.lock (version 6) for one environment `default`. */
  pixiLock(opts?: LockfileOptions): string;
  /** Minimal conda-lock.yml (version 1). */
  condaLock(opts?: LockfileOptions): string;
  close(): Promise<void>;
}

const LAST_MODIFIED = new Date(Date.UTC(2025, 8, 1, 12, 0, 0)).toUTCString();

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Serialize a sidecar the way channels do: a JSON array of bundles. */
export function sidecarBytes(bundles: BundleJSON[]): Buffer {
  return Buffer.from(JSON.stringify(bundles));
}

/**
 * Build the channel (packages, attestations, repodata) and serve it on
 * 127.0.0.1. Building 20 attested packages takes ~0.1 s.
 */
export async function startFixtureChannel(opts: FixtureChannelOptions): Promise<FixtureChannel> {
  const name = opts.name ?? 'test-channel';
  const faults = new Map<string, { fault: Fault; used: number }>();
  const requests: RequestLogEntry[] = [];
  /** path → [body, content type] of everything served normally. */
  const routes = new Map<string, { body: Buffer; type: string; etag?: string; cacheControl?: string }>();
  const packages: ChannelPackage[] = [];
  const fixtures = new Map<string, FixturePackage>();

  const lb = await startLoopback((req, res) => handle(req, res));
  const origin = lb.url;
  const url = `${origin}/${name}`;
  const toPath = (u: string) => (u.startsWith('http') ? new URL(u).pathname : u);

  // Build packages and sign attestations concurrently (signing is I/O on loopback), 32 at a
  // time: with every package started at once, a 10,000-package channel on a loaded machine got
  // its certificates early and its log entries after the certificates' 10 minutes had passed.
  const built = await mapLimit(opts.packages, 32, async (fx) => {
    const pkg = makeCondaPackage(fx.spec);
    const wantsAttest = fx.attest ?? (opts.sigstore !== undefined && fx.bundles === undefined && fx.sidecarBody === undefined);
    let bundles: BundleJSON[] = fx.bundles ?? [];
    if (wantsAttest && fx.bundles === undefined) {
      if (!opts.sigstore) throw new Error(`package ${pkg.filename}: attest needs a sigstore`);
      const statement = publishStatement({
        filename: pkg.filename,
        sha256: pkg.sha256,
        targetChannel: fx.targetChannel === undefined ? url : fx.targetChannel,
      });
      bundles = [await opts.sigstore.attest(statement, fx.signOptions)];
    }
    bundles = [...bundles, ...(fx.extraBundles ?? [])];
    return { fx, pkg, bundles };
  });
  const seen = new Set<string>();
  for (const { fx, pkg, bundles } of built) {
    const key = `${pkg.subdir}/${pkg.filename}`;
    if (seen.has(key)) throw new Error(`duplicate package ${key}`);
    seen.add(key);
    fixtures.set(pkg.filename, fx);
    packages.push(assemble(fx, pkg, bundles));
  }
  publish();

  /** Compute sidecar, record and URLs of one package. */
  function assemble(fx: FixturePackage, pkg: BuiltPackage, bundles: BundleJSON[]): ChannelPackage {
    const sidecar =
      fx.sidecarBody !== undefined ? Buffer.from(fx.sidecarBody) : bundles.length > 0 ? sidecarBytes(bundles) : null;
    const sidecarSha256 = sidecar ? sha256(sidecar) : null;
    const pkgUrl = `${url}/${pkg.subdir}/${pkg.filename}`;
    const record: Record<string, unknown> = {
      build: pkg.index.build,
      build_number: pkg.index.build_number,
      depends: pkg.index.depends,
      license: pkg.index.license,
      md5: pkg.md5,
      name: pkg.index.name,
      ...(pkg.index.noarch ? { noarch: pkg.index.noarch } : {}),
      sha256: pkg.sha256,
      size: pkg.size,
      subdir: pkg.subdir,
      timestamp: pkg.index.timestamp,
      version: pkg.index.version,
    };
    if (sidecar && (fx.advertise ?? true)) record.attestations_sha256 = fx.advertisedSha256 ?? sidecarSha256;
    else if (fx.advertisedSha256 !== undefined && fx.advertise !== false) record.attestations_sha256 = fx.advertisedSha256;
    return {
      ...pkg,
      url: pkgUrl,
      record,
      bundles: fx.sidecarBody !== undefined ? [] : bundles,
      sidecar,
      sidecarSha256,
      sidecarUrls: {
        hash: `${pkgUrl}.sigs.${sidecarSha256 ?? fx.advertisedSha256 ?? '0'.repeat(64)}`,
        sigs: `${pkgUrl}.sigs`,
        v0: `${pkgUrl}.v0.sigs`,
      },
      serve: fx.serve ?? [...ALL_SIDECAR_KINDS],
    };
  }

  /** (Re)build the route table from `packages`. */
  function publish(): void {
    routes.clear();
    const subdirs = new Set(['noarch', ...(opts.subdirs ?? []), ...packages.map((p) => p.subdir)]);
    for (const subdir of [...subdirs].sort()) {
      const conda: Record<string, unknown> = {};
      const bz2: Record<string, unknown> = {};
      for (const p of packages.filter((x) => x.subdir === subdir).sort((a, b) => a.filename.localeCompare(b.filename))) {
        (p.filename.endsWith('.conda') ? conda : bz2)[p.filename] = p.record;
      }
      const body = Buffer.from(
        JSON.stringify({ info: { subdir }, packages: bz2, 'packages.conda': conda, removed: [], repodata_version: 1 }, null, 1),
      );
      routes.set(`/${name}/${subdir}/repodata.json`, { body, type: 'application/json', etag: `"${sha256(body).slice(0, 32)}"`, cacheControl: opts.repodataCacheControl });
    }
    for (const p of packages) {
      routes.set(toPath(p.url), { body: p.bytes, type: 'application/octet-stream' });
      if (!p.sidecar) continue;
      for (const kind of p.serve) routes.set(toPath(p.sidecarUrls[kind]), { body: p.sidecar, type: 'application/json' });
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = toPath(req.url ?? '/').split('?')[0];
    const entry: RequestLogEntry = { method: req.method ?? 'GET', path, headers: { ...req.headers }, status: 0 };
    requests.push(entry);
    if (opts.cors?.(path)) {
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-expose-headers', '*');
      if (req.method === 'OPTIONS') {
        entry.status = 204;
        res.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': '*', 'access-control-max-age': '600' });
        res.end();
        return;
      }
    }
    const send = (status: number, headers: Record<string, string | number>, body?: Buffer | string) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const route = routes.get(path);
    const f = faults.get(path);
    if (f && (f.fault.times === undefined || f.used < f.fault.times)) {
      f.used++;
      entry.fault = f.fault.kind;
      serveFault(f.fault, route, req, res, entry);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { 'content-type': 'text/plain' }, 'method not allowed');
    if (!route) return send(404, { 'content-type': 'text/plain' }, 'not found');
    const headers: Record<string, string | number> = { 'content-type': route.type, 'content-length': route.body.length };
    const cacheControl: Record<string, string> = route.cacheControl ? { 'cache-control': route.cacheControl } : {};
    if (route.etag) {
      headers.etag = route.etag;
      headers['last-modified'] = LAST_MODIFIED;
      Object.assign(headers, cacheControl);
      if (req.headers['if-none-match'] === route.etag) {
        entry.status = 304;
        res.writeHead(304, { etag: route.etag, 'last-modified': LAST_MODIFIED, ...cacheControl });
        res.end();
        return;
      }
    }
    send(200, headers, route.body);
  }

  function serveFault(fault: Fault, route: { body: Buffer; type: string } | undefined, req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry): void {
    const body = route?.body ?? Buffer.from('[]');
    const type = route?.type ?? 'application/json';
    const ok = (status: number, headers: Record<string, string | number>) => {
      entry.status = status;
      res.writeHead(status, headers);
    };
    switch (fault.kind) {
      case 'status':
        ok(fault.status, { 'content-type': 'text/plain' });
        res.end(`injected ${fault.status}`);
        return;
      case 'hang':
        if (fault.stage === 'body') {
          ok(200, { 'content-type': type, 'content-length': body.length });
          res.write(body.subarray(0, Math.max(1, body.length >> 1)));
        }
        return; // never ends; close() destroys the socket
      case 'slow': {
        ok(200, { 'content-type': type, 'content-length': body.length });
        const step = fault.chunkBytes ?? 16;
        let off = 0;
        const tick = () => {
          if (res.destroyed) return;
          if (off >= body.length) {
            res.end();
            return;
          }
          res.write(body.subarray(off, off + step));
          off += step;
          lb.track(setTimeout(tick, fault.delayMs));
        };
        tick();
        return;
      }
      case 'oversized': {
        const big = Buffer.alloc(fault.bytes, 0x20);
        big[0] = 0x5b; // '['
        big[big.length - 1] = 0x5d; // ']'
        ok(200, fault.chunked ? { 'content-type': type } : { 'content-type': type, 'content-length': big.length });
        res.end(big);
        return;
      }
      case 'mismatch': {
        // Same bundles, pretty-printed: valid JSON, different bytes and sha256.
        let alt: Buffer;
        try {
          alt = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8')), null, 2));
        } catch {
          alt = Buffer.concat([body, Buffer.from(' ')]);
        }
        if (alt.equals(body)) alt = Buffer.concat([alt, Buffer.from('\n')]);
        ok(200, { 'content-type': type, 'content-length': alt.length });
        res.end(alt);
        return;
      }
      case 'malformed': {
        const bad = body.subarray(0, Math.max(1, body.length >> 1));
        ok(200, { 'content-type': type, 'content-length': bad.length });
        res.end(bad);
        return;
      }
      case 'drop': {
        ok(200, { 'content-type': type, 'content-length': body.length });
        res.write(body.subarray(0, fault.afterBytes ?? Math.max(1, body.length >> 1)), () => {
          req.socket.destroy();
        });
        return;
      }
      case 'content-type':
        ok(200, { 'content-type': fault.value, 'content-length': body.length });
        res.end(body);
        return;
      case 'body': {
        const b = Buffer.from(fault.body);
        ok(fault.status ?? 200, { 'content-type': fault.contentType ?? 'application/json', 'content-length': b.length });
        res.end(b);
        return;
      }
    }
  }

  function packagesFor(o: LockfileOptions = {}): { platform: string; list: ChannelPackage[] } {
    const platform = o.platform ?? packages.find((p) => p.subdir !== 'noarch')?.subdir ?? 'linux-64';
    const list = packages
      .filter((p) => (o.filenames ? o.filenames.includes(p.filename) : p.subdir === platform || p.subdir === 'noarch'))
      .sort((a, b) => a.url.localeCompare(b.url));
    return { platform, list };
  }

  const channel: FixtureChannel = {
    url,
    origin,
    packages,
    get(filename) {
      const p = packages.find((x) => x.filename === filename);
      if (!p) throw new Error(`no package ${filename} in the fixture channel`);
      return p;
    },
    repodata(subdir) {
      const r = routes.get(`/${name}/${subdir}/repodata.json`);
      if (!r) throw new Error(`no subdir ${subdir}`);
      return JSON.parse(r.body.toString('utf8'));
    },
    setFault(urlOrPath, fault) {
      faults.set(toPath(urlOrPath), { fault, used: 0 });
    },
    clearFaults() {
      faults.clear();
    },
    get requests() {
      return requests;
    },
    requestsTo(urlOrPath) {
      const p = toPath(urlOrPath);
      return requests.filter((r) => r.path === p);
    },
    clearRequests() {
      requests.length = 0;
    },
    appendBundles(filename, more) {
      const i = packages.findIndex((x) => x.filename === filename);
      if (i < 0) throw new Error(`no package ${filename} in the fixture channel`);
      const old = packages[i];
      const fx = { ...fixtures.get(filename)!, sidecarBody: undefined, advertisedSha256: undefined };
      packages[i] = assemble(fx, old, [...old.bundles, ...more]);
      publish();
      return packages[i];
    },
    explicitFile(o = {}) {
      const { platform, list } = packagesFor(o);
      const hash = o.hash ?? 'sha256';
      const lines = list.map((p) => (hash === 'none' ? p.url : `${p.url}#${hash === 'md5' ? p.md5 : p.sha256}`));
      return `# This file may be used to create an environment using:\n# $ conda create --name <env> --file <this file>\n# platform: ${platform}\n@EXPLICIT\n${lines.join('\n')}\n`;
    },
    pixiLock(o = {}) {
      const { platform, list } = packagesFor(o);
      return yamlStringify({
        version: 6,
        environments: {
          default: {
            channels: [{ url: `${url}/` }],
            packages: { [platform]: list.map((p) => ({ conda: p.url })) },
          },
        },
        packages: list.map((p) => ({
          conda: p.url,
          sha256: p.sha256,
          md5: p.md5,
          depends: p.index.depends,
          license: p.index.license,
          size: p.size,
          timestamp: p.index.timestamp,
        })),
      });
    },
    condaLock(o = {}) {
      const { platform, list } = packagesFor(o);
      return yamlStringify({
        version: 1,
        metadata: {
          content_hash: { [platform]: sha256(list.map((p) => p.sha256).join('')) },
          channels: [{ url, used_env_vars: [] }],
          platforms: [platform],
          sources: ['environment.yml'],
        },
        package: list.map((p) => ({
          name: p.index.name,
          version: p.index.version,
          manager: 'conda',
          platform,
          dependencies: Object.fromEntries(
            (p.index.depends as string[]).map((d) => {
              const [n, ...rest] = d.split(' ');
              return [n, rest.join(' ') || '*'];
            }),
          ),
          url: p.url,
          hash: { md5: p.md5, sha256: p.sha256 },
          category: 'main',
          optional: false,
        })),
      });
    },
    async close() {
      await lb.close();
    },
  };
  return channel;
}
