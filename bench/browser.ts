// `npm run bench:browser`: the browser build `conda-attest/browser` (docs/browser.md):
//   1. size of the entry, built from the current sources: minified and gzipped (KB = 1000 bytes)
//      (goals ≤ 256 KB and ≤ 80 KB), and of the entry with the chunks it loads on first use
//      (what a page that verifies a package downloads);
//   2. time to verify one bundle (the genuine public-good attestation in ../shared/interop)
//      with verifyBundle in headless Chromium, against the Node CLI's per-bundle time
//      (verify-bundle in process: arguments, files and trust root included, no process
//      start-up); median of max(20, BENCH_RUNS) after one warm-up each (goal: within 2×);
//   3. a BENCH_BROWSER_N-package (default 50) mambajs-core install into the Emscripten FS
//      in Chromium, plain untarjs against wrapUntarjs + the plugin (goal: overhead ≤ 15 %).
//      Each package carries BENCH_BROWSER_KB (default 256) of incompressible data, about a
//      small emscripten-forge package; the overhead is per package, so it shrinks as they grow.
// A benchmark, not a test: figures with their goals, exit 0 unless the harness breaks.
// The last stdout line is `BENCH_ROWS <json>` for bench/run.ts. Every network access is
// to 127.0.0.1; the page's other requests are refused.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { verifyBundleCommand } from '../src/cli/verify-bundle.ts';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import { runInProcess } from '../test/helpers/cli-io.ts';
import { send } from '../test/helpers/loopback.ts';
import { mambaLock } from '../test/helpers/mamba-lock.ts';
import { startLocalSigstore } from '../test/helpers/sigstore.ts';
import { CHROMIUM, SHARED_DIR, UNTAR_WASM, browserBundle, mambaBundle, openPage } from '../test/browser/harness.ts';

const num = (v: string | undefined, d: number): number => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : d);
const RUNS = Math.max(3, num(process.env.BENCH_RUNS, 7));
const N = num(process.env.BENCH_BROWSER_N, 50);
const PKG_KB = num(process.env.BENCH_BROWSER_KB, 256);
/** One bundle takes milliseconds: more runs, so that the median is of warm code on both sides. */
const BUNDLE_RUNS = Math.max(20, RUNS);
const log = (s: string): void => void process.stderr.write(`bench:browser: ${s}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Spread as (max − min) / median, in %. */
const spread = (xs: number[]): number => Math.round(((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 1000) / 10;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline?: number;
  goal?: string;
  runs?: number;
  spread?: number;
}
const rows: Row[] = [];

/** `bytes` of deterministic incompressible data (SHA-256 in counter mode over `seed`). */
function noise(seed: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let off = 0, i = 0; off < bytes; off += 32, i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

if (!existsSync(CHROMIUM)) {
  log(`no browser at ${CHROMIUM} (apt-get install --no-install-recommends chromium-headless-shell): size only`);
}

// ---- 1. size ---------------------------------------------------------------------------
const { dir, files, loadedWithEntry } = await browserBundle();
const sizeOf = (list: string[]): { min: number; gz: number } =>
  list.reduce(
    (acc, f) => {
      const code = readFileSync(join(dir, f));
      return { min: acc.min + code.length, gz: acc.gz + gzipSync(code, { level: 9 }).length };
    },
    { min: 0, gz: 0 },
  );
const kb = (n: number): number => round(n / 1000);
// What `import('conda-attest/browser')` loads: index.js and the chunks it imports statically.
const entry = sizeOf(loadedWithEntry);
rows.push({ figure: `browser entry as imported (${loadedWithEntry.length} files), minified`, value: kb(entry.min), unit: 'KB', goal: '≤ 256' });
rows.push({ figure: `browser entry as imported (${loadedWithEntry.length} files), gzip`, value: kb(entry.gz), unit: 'KB', goal: '≤ 80' });
// What a page that verifies a package loads: also the chunk(s) imported on first use.
const all = sizeOf(files);
rows.push({ figure: `browser build with the verification chunk (${files.length} files), minified`, value: kb(all.min), unit: 'KB' });
rows.push({ figure: `browser build with the verification chunk (${files.length} files), gzip`, value: kb(all.gz), unit: 'KB' });

if (existsSync(CHROMIUM)) {
  // ---- 2. one bundle: Chromium vs the Node CLI ----------------------------------------
  const interop = join(SHARED_DIR, 'interop');
  const PKG = 'signed-package-2.1.0-hb0f4dca_0.conda';
  const SAN = 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main';
  const ISSUER = 'https://token.actions.githubusercontent.com';
  if (existsSync(join(interop, PKG))) {
    const pkg = readFileSync(join(interop, PKG));
    const bundle = JSON.parse(readFileSync(join(interop, `${PKG}.sigs`), 'utf8'))[0];
    const dir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
    try {
      writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle));
      writeFileSync(join(dir, PKG), pkg);
      const env = { HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), NO_COLOR: '1' };
      const args = ['--format', 'json', '--bundle', join(dir, 'bundle.json'), '--certificate-identity', SAN, '--certificate-oidc-issuer', ISSUER, join(dir, PKG)];
      const node: number[] = [];
      for (let i = 0; i <= BUNDLE_RUNS; i++) {
        const t0 = performance.now();
        const r = await runInProcess(verifyBundleCommand, args, { cwd: dir, env });
        const ms = performance.now() - t0;
        if (!(JSON.parse(r.stdout) as { verified: boolean }).verified) throw new Error(`the CLI did not verify the interop bundle: ${r.stdout}`);
        if (i > 0) node.push(ms);
      }
      const b = await openPage();
      try {
        const page = await b.page.evaluate(
          async ({ bundle, pkg, SAN, ISSUER, runs }) => {
            const m = await import(String('/conda-attest.js'));
            const artifact = new Uint8Array(pkg);
            const times: number[] = [];
            for (let i = 0; i <= runs; i++) {
              const t0 = performance.now();
              const v = await m.verifyBundle({ bundle, artifact, identity: SAN, issuer: ISSUER });
              const ms = performance.now() - t0;
              if (!v.verified) throw new Error(`not verified in the page: ${JSON.stringify(v)}`);
              if (i > 0) times.push(ms);
            }
            return times;
          },
          { bundle, pkg: [...pkg], SAN, ISSUER, runs: BUNDLE_RUNS },
        );
        const nodeMs = median(node);
        const pageMs = median(page);
        rows.push({ figure: 'verify one bundle, Node CLI (in process)', value: round(nodeMs), unit: 'ms', runs: BUNDLE_RUNS, spread: spread(node) });
        rows.push({ figure: 'verify one bundle, Chromium', value: round(pageMs), unit: 'ms', baseline: round(nodeMs), goal: '≤ 2× Node', runs: BUNDLE_RUNS, spread: spread(page) });
        rows.push({ figure: 'verify one bundle, Chromium / Node', value: round(pageMs / nodeMs, 2), unit: '×', goal: '≤ 2' });
      } finally {
        await b.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else log(`no ${join(interop, PKG)}: the one-bundle figures are left out`);

  // ---- 3. N-package mambajs-core install, with and without the plugin -------------------
  const sigstore = await startLocalSigstore();
  const names = Array.from({ length: N }, (_, i) => `pkg${String(i).padStart(3, '0')}`);
  log(`signing ${N} packages with the local Sigstore instance`);
  const channel = await startFixtureChannel({
    name: 'bench',
    sigstore,
    cors: () => true,
    packages: names.map((name) => ({
      spec: { name, version: '1.0', build: 'h0_0', files: { [`lib/${name}/data.bin`]: noise(name, PKG_KB * 1024), [`share/${name}.txt`]: name } },
    })),
  });
  const b = await openPage();
  try {
    b.site.route('/mamba.js', send(await mambaBundle(), 200, { 'content-type': 'text/javascript' }));
    b.site.route('/unpack.wasm', send(readFileSync(UNTAR_WASM), 200, { 'content-type': 'application/wasm' }));
    const lock = mambaLock({ bench: channel }, names.map((n) => ['bench', `${n}-1.0-h0_0.conda`]));
    const config = { channels: { [channel.url]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'] } } };
    const times = await b.page.evaluate(
      async ({ lock, config, trustedRoot, runs, n }) => {
        const m = await import(String('/conda-attest.js'));
        const h = await import(String('/mamba.js'));
        const untar = await h.initUntarJS(() => '/unpack.wasm');
        const one = async (verify: boolean): Promise<number> => {
          const Module = h.createMemModule();
          const t0 = performance.now();
          const untarjs = verify ? m.wrapUntarjs(untar, m.createCondaAttestPlugin({ config, trustedRoot }), { lock }) : untar;
          await h.installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, Module, untarjs });
          if (verify) {
            const report = await (untarjs as { afterInstall(): Promise<{ summary: { verified: number } }> }).afterInstall();
            if (report.summary.verified !== n) throw new Error(`verified ${report.summary.verified} of ${n}`);
          }
          return performance.now() - t0;
        };
        const plain: number[] = [];
        const verified: number[] = [];
        // Interleaved, after one warm-up of each (wasm compiled, caches of the page warm).
        await one(false);
        await one(true);
        for (let i = 0; i < runs; i++) {
          plain.push(await one(false));
          verified.push(await one(true));
        }
        return { plain, verified };
      },
      { lock, config, trustedRoot: sigstore.trustedRoot, runs: RUNS, n: N },
    );
    const plain = median(times.plain);
    const verified = median(times.verified);
    rows.push({ figure: `mambajs-core install of ${N} × ${PKG_KB} KB packages, Chromium, plain`, value: round(plain), unit: 'ms', runs: RUNS, spread: spread(times.plain) });
    rows.push({ figure: `mambajs-core install of ${N} × ${PKG_KB} KB packages, Chromium, with the plugin`, value: round(verified), unit: 'ms', baseline: round(plain), runs: RUNS, spread: spread(times.verified) });
    rows.push({ figure: `mambajs-core install of ${N} × ${PKG_KB} KB packages, plugin overhead`, value: round(((verified - plain) / plain) * 100), unit: '%', goal: '≤ 15' });
  } finally {
    await b.close();
    await channel.close();
    await sigstore.close();
  }
}

// ---- report ------------------------------------------------------------------------------
const w = Math.max(...rows.map((r) => r.figure.length));
process.stdout.write(`${'figure'.padEnd(w)}  ${'value'.padStart(9)}  unit  baseline   goal        runs  spread\n`);
for (const r of rows) {
  process.stdout.write(
    `${r.figure.padEnd(w)}  ${String(r.value).padStart(9)}  ${r.unit.padEnd(4)}  ${String(r.baseline ?? '').padStart(8)}   ${(r.goal ?? '').padEnd(10)}  ${String(r.runs ?? '').padStart(4)}  ${r.spread === undefined ? '' : `${r.spread}%`}\n`,
  );
}
process.stdout.write(`BENCH_ROWS ${JSON.stringify(rows)}\n`);
