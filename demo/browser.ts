// `npm run demo:browser`: conda-attest in a page, as JupyterLite would run it
// (docs/browser.md). At start-up it makes a small conda channel of real .conda packages
// signed by a local Sigstore instance (the same helpers the tests use), serves it on
// 127.0.0.1 with CORS, and serves a page on another loopback port that installs two small
// environments with mambajs-core (untarjs in WebAssembly) through `wrapUntarjs` and the
// browser build's plugin, then shows the report: one row per package, verified or blocked,
// with the codes and messages. It prints the URL and serves until Ctrl-C.
//
//   npm run demo:browser [-- --port N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mambaBundle, serveBrowserBuild, UNTAR_WASM } from '../test/browser/harness.ts';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import { send, startLoopback } from '../test/helpers/loopback.ts';
import { mambaLock } from '../test/helpers/mamba-lock.ts';
import { startLocalSigstore } from '../test/helpers/sigstore.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`demo:browser: --port must be a TCP port (0 for any free one), not ${JSON.stringify(values.port)}\n`);
  process.exit(2);
}

const EVIL_SAN = 'https://github.com/evil-org/evil-feedstock/.github/workflows/build.yml@refs/heads/main';
const sigstore = await startLocalSigstore();
const pkg = (name: string, depends: string[] = []) => ({ name, version: '1.0', build: 'h0_0', depends, files: { [`lib/${name}/README`]: `${name}\n` } });
const channel = await startFixtureChannel({
  name: 'lite-forge',
  sigstore,
  cors: () => true,
  packages: [
    { spec: pkg('numpy-lite', ['libblas-lite']) },
    { spec: pkg('libblas-lite', ['base-lite']) },
    { spec: pkg('base-lite') },
    { spec: pkg('plotter', ['fonts-unsigned', 'helper-evil']) },
    { spec: pkg('fonts-unsigned'), attest: false },
    { spec: pkg('helper-evil'), signOptions: { san: EVIL_SAN } },
  ],
});
const env = (names: string[]) => mambaLock({ 'lite-forge': channel }, names.map((n) => ['lite-forge', `${n}-1.0-h0_0.conda`] as [string, string]));
const ENVIRONMENTS = [
  { title: 'numpy-lite (3 packages, all attested)', lock: env(['numpy-lite', 'libblas-lite', 'base-lite']) },
  { title: 'plotter (one dependency unsigned, one signed by an untrusted identity)', lock: env(['plotter', 'fonts-unsigned', 'helper-evil']) },
];
const CONFIG = { channels: { [channel.url]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'] } } };

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>conda-attest in the browser</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; max-width: 70em; }
  table { border-collapse: collapse; margin: .5em 0 1.5em; }
  td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
  tr[data-action="block"] td { background: #fdecea; }
  tr[data-status="verified"][data-action="pass"] td { background: #eaf7ea; }
  code { font-size: 90%; }
</style>
<h1>conda-attest in the browser</h1>
<p>mambajs-core installs each environment from <code>${channel.url}</code> into an in-memory
Emscripten FS. Every package is verified against its Sigstore attestation in this page
before it is extracted (<code>conda-attest/browser</code>).</p>
<div id="out"></div>
<p id="done" hidden>done</p>
<script type="module">
  const m = await import('/conda-attest.js');
  const h = await import('/mamba.js');
  const untar = await h.initUntarJS(() => '/unpack.wasm');
  const { environments, config, trustedRoot } = await (await fetch('/demo.json')).json();
  const out = document.getElementById('out');
  const el = (tag, attrs = {}, ...kids) => { const e = document.createElement(tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); e.append(...kids); return e; };
  for (const { title, lock } of environments) {
    const plugin = m.createCondaAttestPlugin({ config, trustedRoot });
    const untarjs = m.wrapUntarjs(untar, plugin, { lock });
    const Module = h.createMemModule();
    let outcome;
    try {
      await h.installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, Module, untarjs });
      outcome = 'installed';
    } catch (e) {
      outcome = e.name === 'PackageBlockedError' ? 'refused: ' + e.message : 'failed: ' + e;
    }
    const report = await untarjs.afterInstall();
    const files = [...Module.files.keys()].filter((f) => !f.startsWith('/conda-meta/')).sort();
    const section = el('section', { 'data-environment': title });
    section.append(el('h2', {}, title), el('p', { class: 'outcome' }, outcome), el('p', {}, 'Files in the environment: ' + (files.length ? files.join(', ') : '(none)')));
    const table = el('table', {}, el('tr', {}, el('th', {}, 'package'), el('th', {}, 'status'), el('th', {}, 'action'), el('th', {}, 'reasons')));
    for (const p of report.packages) {
      const reasons = el('td', {});
      for (const r of p.reasons) reasons.append(el('div', {}, el('code', {}, r.code), ' ' + r.message));
      table.append(el('tr', { 'data-package': p.filename, 'data-status': p.status, 'data-action': p.action, 'data-reasons': p.reasons.map((r) => r.code).join(' ') }, el('td', {}, p.filename), el('td', {}, p.status), el('td', {}, p.action), reasons));
    }
    section.append(table);
    out.append(section);
  }
  document.getElementById('done').hidden = false;
</script>
`;

const site = await startLoopback();
site.route('/', send(PAGE, 200, { 'content-type': 'text/html; charset=utf-8' }));
await serveBrowserBuild(site);
site.route('/mamba.js', send(await mambaBundle(), 200, { 'content-type': 'text/javascript' }));
site.route('/unpack.wasm', send(readFileSync(UNTAR_WASM), 200, { 'content-type': 'application/wasm' }));
site.route('/demo.json', send(JSON.stringify({ environments: ENVIRONMENTS, config: CONFIG, trustedRoot: sigstore.trustedRoot }), 200, { 'content-type': 'application/json' }));
if (port !== 0) {
  // startLoopback takes a free port; a fixed one is asked for by re-listening there.
  await new Promise<void>((resolve, reject) => {
    site.server.close(() => {
      site.server.once('error', reject);
      site.server.listen(port, '127.0.0.1', () => resolve());
    });
  });
  site.url = `http://127.0.0.1:${port}`;
}

process.stdout.write(`conda-attest browser demo: channel ${channel.url} (${channel.packages.length} packages, signed by a local Sigstore instance)\n`);
process.stdout.write(`open ${site.url}/ in a browser; Ctrl-C stops the demo\n`);

const stop = async (): Promise<void> => {
  await Promise.all([site.close(), channel.close(), sigstore.close()]);
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
