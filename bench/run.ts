// `npm run bench` (issue 6): builds its own signed conda channel with the local Sigstore
// instance, serves it on 127.0.0.1, and measures `conda-attest verify` against a
// sequential in-process loop of raw @sigstore/verify over the same bundles (the
// "reference": what any sigstore-js user gets). It prints figures, targets and
// PASS/MISS; it is a benchmark, not a test, so it exits 0 unless the harness breaks.
//
// Environment:
//   BENCH_N=1000        packages in the environment (default 1000)
//   BENCH_LARGE=1       also: the 10,000-package RSS run (slow)
//   BENCH_DOWNLOAD_MIB  size of the --download package (default 1024: the issue's 1 GiB)
//   BENCH_KEEP=1        keep the temp dir (prints its path)
//
// Every network access is to 127.0.0.1 (the local Sigstore and the fixture channels).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { startFixtureChannel, sidecarBytes } from '../test/helpers/channel.ts';
import type { FixtureChannel } from '../test/helpers/channel.ts';
import { publishStatement, startLocalSigstore } from '../test/helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore } from '../test/helpers/sigstore.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
// The product as users run it: the published bin over dist/ (npm run bench builds it first).
const CLI = join(ROOT, 'bin', 'conda-attest.js');
const NODE = process.execPath;
const N = positive(process.env.BENCH_N, 1000);
const LARGE = process.env.BENCH_LARGE === '1';
const DOWNLOAD_MIB = positive(process.env.BENCH_DOWNLOAD_MIB, 1024);
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

function positive(v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

// ---------------------------------------------------------------------------
// Results table

type Verdict = 'PASS' | 'MISS' | 'n/a';
interface Row {
  figure: string;
  measured: string;
  reference: string;
  ratio: string;
  target: string;
  verdict: Verdict;
  note?: string;
}
const rows: Row[] = [];

function ms(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
}
function mb(kb: number): string {
  return `${(kb / 1024).toFixed(0)} MB`;
}
function log(s: string): void {
  process.stderr.write(`[bench] ${s}\n`);
}

// ---------------------------------------------------------------------------
// Child processes: wall time + peak RSS

interface RunResult {
  code: number | null;
  wallMs: number;
  /** Peak RSS in kB, when measurable. */
  maxRssKb: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `node args...` and measure it. Peak RSS comes from GNU time (`-f %M`, written
 * to a file so the command's stderr stays clean); without it, from polling
 * /proc/<pid>/status VmHWM (the kernel's own high-water mark, so polling cannot miss a peak
 * as long as the process is still alive at the last poll).
 */
async function runNode(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const rssFile = join(opts.cwd, `rss-${process.hrtime.bigint()}.txt`);
  const [cmd, argv] = TIME_BIN ? [TIME_BIN, ['-f', '%M', '-o', rssFile, NODE, ...args]] : [NODE, args];
  const started = performance.now();
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  let hwm = 0;
  const poll = TIME_BIN
    ? null
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch {
          /* process gone */
        }
      }, 20);
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c));
  });
  const wallMs = performance.now() - started;
  if (poll) clearInterval(poll);
  let maxRssKb: number | null = hwm || null;
  if (TIME_BIN) {
    try {
      const n = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      if (Number.isFinite(n) && n > 0) maxRssKb = n;
      rmSync(rssFile, { force: true });
    } catch {
      /* GNU time failed to write: leave null */
    }
  }
  return { code, wallMs, maxRssKb, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

interface VerifyRun extends RunResult {
  /** Why the run does not count, or null when the CLI produced a report. */
  notReady: string | null;
  verified: number | null;
}

/** `conda-attest verify --json` of an explicit file; judge whether the CLI is usable. */
async function cliVerify(dir: string, config: string, target: string, extra: string[] = []): Promise<VerifyRun> {
  const r = await runNode([CLI, 'verify', '--json', '--config', config, ...extra, target], { cwd: dir });
  let notReady: string | null = null;
  let verified: number | null = null;
  try {
    const report = JSON.parse(r.stdout) as { summary?: { verified?: number } };
    verified = report.summary?.verified ?? null;
    if (verified === null) notReady = 'no summary in the report';
  } catch {
    const line = r.stderr.trim().split('\n').find((l) => l.trim()) ?? `exit ${r.code}`;
    notReady = `cli not ready: ${line.slice(0, 160)}`;
  }
  return { ...r, notReady, verified };
}

// ---------------------------------------------------------------------------
// The reference: a sequential in-process loop of raw @sigstore/verify

interface ReferenceResult {
  wallMs: number;
  bundles: number;
  trustMaterialMs: number;
}

function reference(sidecars: Buffer[], trustedRoot: object): ReferenceResult {
  const t0 = performance.now();
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(trustedRoot)));
  const t1 = performance.now();
  let bundles = 0;
  for (const bytes of sidecars) {
    for (const json of JSON.parse(bytes.toString('utf8')) as unknown[]) {
      verifier.verify(toSignedEntity(bundleFromJSON(json)));
      bundles++;
    }
  }
  return { wallMs: performance.now() - t0, bundles, trustMaterialMs: t1 - t0 };
}

// ---------------------------------------------------------------------------
// Environments

interface Env {
  dir: string;
  channel: FixtureChannel;
  config: string;
  explicit: string;
  oneExplicit: string;
}

async function buildEnvironment(sigstore: LocalSigstore, n: number, name: string): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), `conda-attest-bench-${name}-`));
  const t0 = performance.now();
  const channel = await startFixtureChannel({
    sigstore,
    name,
    packages: Array.from({ length: n }, (_, i) => ({
      spec: { name: `pkg${String(i).padStart(5, '0')}`, version: '1.0.0', build: 'h0_0', subdir: 'linux-64' },
    })),
  });
  log(`${name}: built and signed ${n} packages in ${ms(performance.now() - t0)}`);
  const explicit = join(dir, 'explicit.txt');
  writeFileSync(explicit, channel.explicitFile({ platform: 'linux-64' }));
  const oneExplicit = join(dir, 'one.txt');
  writeFileSync(oneExplicit, channel.explicitFile({ platform: 'linux-64', filenames: [channel.packages[0]!.filename] }));
  const config = join(dir, '.conda-attestrc.json');
  writeFileSync(
    config,
    JSON.stringify(
      {
        trust_root: sigstore.trustedRootPath,
        cache_dir: join(dir, 'cache'),
        lockfile: join(dir, 'conda-attest.lock'),
        channels: { [channel.url]: { enabled: true, require: 'error' } },
      },
      null,
      2,
    ),
  );
  return { dir, channel, config, explicit, oneExplicit };
}

// ---------------------------------------------------------------------------
// Large package: generated on the fly, streamed, never held in memory

interface BigServer {
  url: string;
  channelUrl: string;
  filename: string;
  sha256: string;
  size: number;
  close(): Promise<void>;
}

async function startBigPackageServer(sigstore: LocalSigstore, mib: number): Promise<BigServer> {
  // 1 MiB of random bytes repeated: hashing cost is the same as for unique bytes, and the
  // server's memory stays at one block.
  const block = randomBytes(1 << 20);
  const size = mib << 20;
  const h = createHash('sha256');
  for (let i = 0; i < mib; i++) h.update(block);
  const sha256 = h.digest('hex');
  const filename = 'bigpkg-1.0.0-h0_0.conda';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes.get(path);
    if (path === pkgPath) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      let sent = 0;
      const pump = () => {
        while (sent < mib) {
          sent++;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (!route) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': route.length });
    res.end(route);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const channelUrl = `${origin}/big`;
  const pkgPath = `/big/noarch/${filename}`;
  const bundle: BundleJSON = await sigstore.attest(publishStatement({ filename, sha256, targetChannel: channelUrl }));
  const sidecar = sidecarBytes([bundle]);
  const sidecarSha = createHash('sha256').update(sidecar).digest('hex');
  const record = {
    build: 'h0_0',
    build_number: 0,
    depends: [],
    name: 'bigpkg',
    sha256,
    size,
    subdir: 'noarch',
    version: '1.0.0',
    attestations_sha256: sidecarSha,
  };
  const repodata = Buffer.from(JSON.stringify({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': { [filename]: record }, repodata_version: 1 }));
  const routes = new Map<string, Buffer>([
    ['/big/noarch/repodata.json', repodata],
    [`${pkgPath}.sigs.${sidecarSha}`, sidecar],
    [`${pkgPath}.sigs`, sidecar],
  ]);
  return {
    url: `${origin}${pkgPath}`,
    channelUrl,
    filename,
    sha256,
    size,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function shell(cmd: string): Promise<{ code: number | null; wallMs: number; stdout: string }> {
  const t0 = performance.now();
  const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'ignore'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, wallMs: performance.now() - t0, stdout: Buffer.concat(out).toString('utf8') }));
  });
}

function which(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, bin)));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

// ---------------------------------------------------------------------------
// Figures

async function environmentFigures(sigstore: LocalSigstore, env: Env, ref: ReferenceResult): Promise<void> {
  const n = env.channel.packages.length;
  const refCol = `${ms(ref.wallMs)} ref`;
  const cold = await cliVerify(env.dir, env.config, env.explicit);
  if (cold.notReady) {
    for (const f of [`cold verify, ${n} pkgs`, `warm verify, ${n} pkgs`, `peak RSS, ${n} pkgs (cold)`]) {
      rows.push({ figure: f, measured: 'n/a (cli not ready)', reference: refCol, ratio: '-', target: '-', verdict: 'n/a', note: cold.notReady });
    }
    return;
  }
  const sanity = cold.verified === n ? undefined : `only ${cold.verified}/${n} verified (exit ${cold.code})`;
  const coldRatio = cold.wallMs / ref.wallMs;
  rows.push({
    figure: `cold verify, ${n} pkgs`,
    measured: ms(cold.wallMs),
    reference: refCol,
    ratio: `${coldRatio.toFixed(3)}×`,
    target: '≤ 0.35×',
    verdict: coldRatio <= 0.35 && !sanity ? 'PASS' : 'MISS',
    note: sanity,
  });
  const warm = await cliVerify(env.dir, env.config, env.explicit);
  const warmRatio = warm.wallMs / ref.wallMs;
  const warmSanity = warm.notReady ?? (warm.verified === n ? undefined : `only ${warm.verified}/${n} verified (exit ${warm.code})`);
  rows.push({
    figure: `warm verify, ${n} pkgs`,
    measured: ms(warm.wallMs),
    reference: refCol,
    ratio: `${warmRatio.toFixed(3)}×`,
    target: '≤ 0.03×',
    verdict: warmRatio <= 0.03 && !warmSanity ? 'PASS' : 'MISS',
    note: warmSanity,
  });
  const limitMb = n > 5000 ? 400 : 250;
  rows.push({
    figure: `peak RSS, ${n} pkgs (cold)`,
    measured: cold.maxRssKb ? mb(cold.maxRssKb) : 'unmeasured',
    reference: '-',
    ratio: '-',
    target: n > 5000 ? '< 400 MB' : '≤ 250 MB',
    verdict: cold.maxRssKb === null ? 'n/a' : cold.maxRssKb / 1024 <= limitMb ? 'PASS' : 'MISS',
  });
  if (warm.maxRssKb) {
    rows.push({ figure: `peak RSS, ${n} pkgs (warm)`, measured: mb(warm.maxRssKb), reference: '-', ratio: '-', target: '(info)', verdict: 'n/a' });
  }
}

async function startupFigures(env: Env | null): Promise<void> {
  const version: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await runNode([CLI, '--version'], { cwd: tmpdir() });
    if (r.code !== 0) {
      rows.push({ figure: 'start-up: --version', measured: 'n/a (cli not ready)', reference: '-', ratio: '-', target: '≤ 150 ms', verdict: 'n/a', note: r.stderr.split('\n')[0] });
      return;
    }
    version.push(r.wallMs);
  }
  const v = median(version);
  rows.push({ figure: 'start-up: --version (median of 5)', measured: ms(v), reference: '-', ratio: '-', target: '≤ 150 ms', verdict: v <= 150 ? 'PASS' : 'MISS' });
  if (!env) return;
  const one: number[] = [];
  let note: string | undefined;
  for (let i = 0; i < 5; i++) {
    const r = await cliVerify(env.dir, env.config, env.oneExplicit);
    if (r.notReady) {
      rows.push({ figure: 'start-up: 1-pkg verify, warm', measured: 'n/a (cli not ready)', reference: '-', ratio: '-', target: '≤ 150 ms', verdict: 'n/a', note: r.notReady });
      return;
    }
    if (r.verified !== 1) note = `verified ${r.verified}/1 (exit ${r.code})`;
    one.push(r.wallMs);
  }
  const o = median(one);
  rows.push({ figure: 'start-up: 1-pkg verify, warm (median of 5)', measured: ms(o), reference: '-', ratio: '-', target: '≤ 150 ms', verdict: o <= 150 && !note ? 'PASS' : 'MISS', note });
}

async function downloadFigures(sigstore: LocalSigstore): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-dl-'));
  const sizeNote = `${DOWNLOAD_MIB} MiB package`;
  let big: BigServer | undefined;
  try {
    const t0 = performance.now();
    big = await startBigPackageServer(sigstore, DOWNLOAD_MIB);
    log(`download: generated and signed a ${DOWNLOAD_MIB} MiB package in ${ms(performance.now() - t0)}`);
    const config = join(dir, '.conda-attestrc.json');
    writeFileSync(
      config,
      JSON.stringify({
        trust_root: sigstore.trustedRootPath,
        cache_dir: join(dir, 'cache'),
        lockfile: join(dir, 'conda-attest.lock'),
        channels: { [big.channelUrl]: { enabled: true, require: 'error' } },
      }),
    );
    const explicit = join(dir, 'explicit.txt');
    writeFileSync(explicit, `@EXPLICIT\n${big.url}#${big.sha256}\n`);
    let curlMs: number | null = null;
    if (which('curl') && which('openssl')) {
      const r = await shell(`curl -sS --noproxy '*' ${big.url} | openssl dgst -sha256`);
      if (r.code === 0 && r.stdout.includes(big.sha256)) curlMs = r.wallMs;
      else log(`curl | openssl failed or gave another digest: ${r.stdout.trim()}`);
    }
    const run = await cliVerify(dir, config, explicit, ['--download']);
    if (run.notReady) {
      rows.push({ figure: `--download, ${sizeNote}`, measured: 'n/a (cli not ready)', reference: curlMs ? `${ms(curlMs)} curl|openssl` : '-', ratio: '-', target: '≥ 0.8× speed', verdict: 'n/a', note: run.notReady });
      return;
    }
    const mibps = (DOWNLOAD_MIB * 1000) / run.wallMs;
    const speedRatio = curlMs ? curlMs / run.wallMs : null;
    const sanity = run.verified === 1 ? undefined : `verified ${run.verified}/1 (exit ${run.code})`;
    rows.push({
      figure: `--download, ${sizeNote}`,
      measured: `${ms(run.wallMs)} (${mibps.toFixed(0)} MiB/s)`,
      reference: curlMs ? `${ms(curlMs)} curl|openssl (${((DOWNLOAD_MIB * 1000) / curlMs).toFixed(0)} MiB/s)` : 'no curl/openssl',
      ratio: speedRatio ? `${speedRatio.toFixed(2)}× speed` : '-',
      target: '≥ 0.8× speed',
      verdict: speedRatio === null ? 'n/a' : speedRatio >= 0.8 && !sanity ? 'PASS' : 'MISS',
      note: sanity,
    });
    rows.push({
      figure: `peak RSS, --download ${DOWNLOAD_MIB} MiB`,
      measured: run.maxRssKb ? mb(run.maxRssKb) : 'unmeasured',
      reference: '-',
      ratio: '-',
      target: '≤ 150 MB',
      verdict: run.maxRssKb === null ? 'n/a' : run.maxRssKb / 1024 <= 150 ? 'PASS' : 'MISS',
    });
  } finally {
    await big?.close();
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The means, measured in-process (issue 6 "measure each")

async function meansFigures(env: Env, trustedRoot: object, ref: ReferenceResult): Promise<void> {
  const { measureMeans } = await import('./means.ts');
  const lines = await measureMeans({
    sidecars: env.channel.packages.map((p) => ({ bytes: p.sidecar!, sha256: p.sidecarSha256!, filename: p.filename, pkgSha256: p.sha256 })),
    channel: env.channel.url,
    trustedRoot,
    referenceMs: ref.wallMs,
    dir: env.dir,
  });
  means.push(...lines);
}
const means: string[] = [];

// ---------------------------------------------------------------------------

function printTable(): void {
  const head: Row = { figure: 'figure', measured: 'measured', reference: 'reference', ratio: 'ratio', target: 'target', verdict: 'n/a' };
  const cols: (keyof Row)[] = ['figure', 'measured', 'reference', 'ratio', 'target'];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => String(r[c] ?? '').length))]));
  const line = (r: Row, v: string) => cols.map((c) => String(r[c] ?? '').padEnd(width[c]!)).join('  ') + '  ' + v;
  const out: string[] = ['', line(head, 'result'), '-'.repeat(line(head, 'result').length)];
  for (const r of rows) {
    out.push(line(r, r.verdict));
    if (r.note) out.push(`    note: ${r.note}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

async function main(): Promise<void> {
  process.stdout.write(
    `conda-attest bench: N=${N}, ${availableParallelism()} cores, node ${process.version}, RSS via ${TIME_BIN ? 'GNU time' : '/proc VmHWM polling'}\n`,
  );
  const sigstore = await startLocalSigstore();
  const envs: Env[] = [];
  try {
    const env = await buildEnvironment(sigstore, N, 'bench-channel');
    envs.push(env);
    const sidecars = env.channel.packages.map((p) => p.sidecar!);
    const ref = reference(sidecars, sigstore.trustedRoot);
    process.stdout.write(
      `reference: raw @sigstore/verify, sequential, in-process: ${ms(ref.wallMs)} for ${ref.bundles} bundles ` +
        `(${(ref.wallMs / ref.bundles).toFixed(2)} ms/bundle, trust material ${ref.trustMaterialMs.toFixed(1)} ms once)\n`,
    );
    await environmentFigures(sigstore, env, ref);
    await startupFigures(env);
    await downloadFigures(sigstore);
    if (LARGE) {
      const big = await buildEnvironment(sigstore, 10_000, 'bench-channel-10k');
      envs.push(big);
      const bigRef = reference(big.channel.packages.map((p) => p.sidecar!), sigstore.trustedRoot);
      await environmentFigures(sigstore, big, bigRef);
    }
    await meansFigures(env, sigstore.trustedRoot, ref);
    printTable();
    if (means.length) process.stdout.write(`\nmeans (measured in the bench process, same ${N} bundles):\n${means.map((l) => `  ${l}`).join('\n')}\n`);
  } finally {
    for (const e of envs) {
      await e.channel.close();
      if (process.env.BENCH_KEEP === '1') log(`kept ${e.dir}`);
      else rmSync(e.dir, { recursive: true, force: true });
    }
    await sigstore.close();
  }
}

await main();
