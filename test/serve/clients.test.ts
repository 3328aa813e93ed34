// Real, unmodified conda clients behind `conda-attest serve` (no conda-attest code in the
// client): mambajs-core installs, the rattler repodata gateway solves, `conda-attest
// verify` pointed at the proxy still verifies (sidecars served unchanged), and pixi /
// micromamba / conda install through it where they are on PATH.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { installPackagesToEmscriptenFS } from '@emscripten-forge/mambajs-core';
import type { ILock } from '@emscripten-forge/mambajs-core';
import { createNodeUntar } from '../../plugin/hosts/untar-node.ts';
import { createMemModule } from '../plugin/memfs.ts';
import { mambaLock } from '../helpers/mamba-lock.ts';
import { codes, row, verifyJson } from '../helpers/e2e.ts';
import { EVIL, GOOD, TAMPERED, UNSIGNED, startServeFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
before(async () => {
  fx = await startServeFixture();
});
after(() => fx?.close());

/** A mambajs lock of upstream packages whose channel URL is the proxy route. */
function lockThroughProxy(files: string[]): ILock {
  const lock = mambaLock({ upstream: fx.ch }, files.map((f) => ['upstream', f]));
  lock.channelInfo = { upstream: [{ url: `${fx.proxy.url}/upstream`, protocol: 'https' }] };
  return lock;
}

async function mambaInstall(files: string[]) {
  const Module = createMemModule();
  const lock = lockThroughProxy(files);
  let error: unknown;
  try {
    // The client as shipped: mambajs-core with an untarjs that downloads with fetch.
    await installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, Module, untarjs: createNodeUntar() });
  } catch (e) {
    error = e;
  }
  return { error, Module };
}

test('mambajs-core installs the good package through the proxy', async () => {
  const { error, Module } = await mambaInstall([GOOD]);
  assert.equal(error, undefined, String(error));
  assert.equal(new TextDecoder().decode(Module.files.get('/lib/good.txt')), 'good');
});

for (const [file, code] of [
  [EVIL, 'IDENTITY_UNTRUSTED'],
  [UNSIGNED, 'NO_ATTESTATIONS'],
] as const) {
  test(`attack: mambajs-core cannot install ${file} through the proxy; nothing of it is written; the access log and /-/metrics name it and ${code}`, async () => {
    const { error, Module } = await mambaInstall([file]);
    assert.ok(error, 'the install failed');
    assert.match(String((error as Error).message ?? error), /403/);
    assert.equal([...Module.files.keys()].filter((p) => !p.startsWith('/conda-meta')).length, 0, `nothing written: ${[...Module.files.keys()].join(', ')}`);
    const line = fx.log.find((l) => l.package?.endsWith(`/noarch/${file}`) && l.status === 403);
    assert.ok(line, 'the access log names the refused package');
    assert.deepEqual(line.verdict?.codes, [code]);
    const metrics = await (await fetch(`${fx.proxy.url}/-/metrics`)).text();
    assert.match(metrics, new RegExp(`conda_attest_serve_verdicts_total\\{[^}]*code="${code}"\\} [1-9]`));
  });
}

test('attack: a tampered package never lands complete in mambajs-core', async () => {
  const { error, Module } = await mambaInstall([TAMPERED]);
  assert.ok(error, 'the install failed');
  assert.ok(![...Module.files.keys()].some((p) => p.includes('tampered') || p.includes('evil')), 'no file of the tampered package');
  assert.ok(fx.log.some((l) => l.package?.endsWith(TAMPERED) && l.verdict?.codes.includes('PACKAGE_DIGEST_MISMATCH')));
});

test('the rattler repodata gateway (@conda-org/rattler simpleSolve) solves through the proxy; its probes get 404, not 400', async () => {
  const rattler = createRequire(import.meta.url)('@conda-org/rattler') as typeof import('@conda-org/rattler');
  const solved = await rattler.simpleSolve(['good'], [`${fx.proxy.url}/upstream`], ['noarch', 'linux-64'], undefined);
  assert.deepEqual(solved.map((p) => p.filename), [GOOD]);
  assert.equal(solved[0]!.sha256, fx.ch.get(GOOD).sha256);
  // The package URLs in repodata are not rewritten: rattler resolves them against the proxy.
  assert.equal(solved[0]!.url, `${fx.proxy.url}/upstream/noarch/${GOOD}`);
  const probes = fx.log.filter((l) => /repodata(_shards\.msgpack\.zst|\.json\.bz2|\.json\.zst)$/.test(l.path));
  assert.ok(probes.length > 0 && probes.every((l) => l.status === 404), JSON.stringify(probes.map((l) => [l.path, l.status])));
});

test('conda-attest verify pointed at the proxy still verifies: the sidecars it fetches through it are unchanged', async () => {
  const via = `${fx.proxy.url}/upstream`;
  const explicit = fx.ch.explicitFile({ filenames: [GOOD, EVIL, UNSIGNED] }).replaceAll(fx.ch.url, via);
  fx.ws.write('through-proxy.txt', explicit);
  fx.ws.writeConfig(
    {
      trust_root: fx.sig.trustedRootPath,
      cache_dir: fx.ws.path('verify-cache'),
      lockfile: fx.ws.path('verify.lock'),
      channels: { [fx.ch.url]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'], mirrors: [via] } },
    },
    'verify-config.json',
  );
  const { report } = await verifyJson(fx.ws, ['--config', 'verify-config.json', '--no-tuf-refresh', 'through-proxy.txt']);
  assert.equal(row(report, GOOD).status, 'verified');
  assert.deepEqual(codes(row(report, EVIL)), ['IDENTITY_UNTRUSTED']);
  assert.deepEqual(codes(row(report, UNSIGNED)), ['NO_ATTESTATIONS']);
  assert.ok(fx.log.some((l) => l.kind === 'sidecar' && l.status === 200), 'the sidecars came through the proxy');
});

/** An executable on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

for (const tool of ['micromamba', 'pixi', 'conda'] as const) {
  const bin = onPath(tool);
  test(`${tool} installs the good package through the proxy and cannot install the evil one`, { skip: bin ? false : `${tool} is not on PATH here` }, () => {
    const prefix = (name: string): string => fx.ws.path(`${tool}-${name}`);
    const channel = `${fx.proxy.url}/upstream`;
    const env = { ...process.env, HOME: fx.ws.dir, CONDARC: fx.ws.path('no-condarc'), PIXI_HOME: fx.ws.path('pixi-home') };
    const install = (spec: string, p: string) =>
      tool === 'pixi'
        ? spawnSync(bin!, ['exec', '--channel', channel, '--spec', spec, '--', 'true'], { env, encoding: 'utf8', timeout: 120_000 })
        : spawnSync(bin!, ['create', '--yes', '--prefix', p, '--override-channels', '--channel', channel, spec], { env, encoding: 'utf8', timeout: 120_000 });
    const ok = install('good', prefix('good'));
    assert.equal(ok.status, 0, ok.stderr);
    const bad = install('evil', prefix('evil'));
    assert.notEqual(bad.status, 0, 'the evil package is refused');
    assert.match(`${bad.stdout}${bad.stderr}`, /403|IDENTITY_UNTRUSTED/);
  });
}
