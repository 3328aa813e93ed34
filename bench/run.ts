// `npm run bench [-- --quick] [-- --only NAME[,NAME]]`: every performance figure of
// conda-attest in one table, each as a median over several runs with its spread, set against
// a baseline measured in the same run (the machines this runs on are shared and noisy, so
// absolute times mean little; a ratio to a baseline taken under the same load does):
//   - bare `node -e 0` (start-up figures and the RSS of an empty Node process),
//   - a sequential loop of raw @sigstore/verify over the same bundles, in a fresh process
//     (bench/raw-loop.ts: what any sigstore-js user gets),
//   - the crypto floor: only the signature checks no verifier can avoid, node:crypto, one
//     thread (bench/floor.ts); cold runs are also given as a multiple of floor ÷ cores,
//   - `curl | sha256sum` on the same loopback (a Node stream + node:crypto equivalent when
//     curl is absent) for --download.
// Each figure shows the 1-minute load average (the highest seen while it ran) and is marked
// noisy when that exceeds the core count. Rows of the sub-benches (any bench/*.ts whose last
// stdout line is `BENCH_ROWS <json array of {figure, value, unit, baseline?, goal?, runs?,
// spread?}>`, a number spread being (max − min) ÷ median in %: bench/serve.ts, bench/browser.ts)
// join the table. A benchmark, not a test: it
// exits 0 unless the harness breaks; docs/performance.md quotes the table.
//
// The bench channel looks like a real one: a distinct signer (workflow identity) per
// package, CEP 50 repodata (`attestations_sha256` in each record) served with the
// `Cache-Control: max-age` of conda.anaconda.org, and every CLI run in a fresh HOME, with
// caches and lockfile only where its config puts them.
//
// Options: --quick (fewer runs, smaller sizes: a few minutes), --only NAME[,NAME] (see
// --list), --list. Environment: BENCH_N (packages, default 1000), BENCH_RUNS (runs per
// figure, default 5, quick 3), BENCH_KEEP=1 (keep the temp dirs).
//
// Every network access is to 127.0.0.1 (the local Sigstore and the fixture channels).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import type { FixtureChannel } from '../test/helpers/channel.ts';
import { startLocalSigstore } from '../test/helpers/sigstore.ts';
import type { LocalSigstore } from '../test/helpers/sigstore.ts';
import { startBigPackageServer, type BigServer } from './big-package.ts';
import { isolatedEnv, preparePixi, prepareRepodata, type Prepared } from './memory.ts';
import { rawLoop, type RawLoopResult } from './raw-loop.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BENCH = join(ROOT, 'bench');
// The product as users run it: the published bin over dist/ (npm run bench builds it first).
const CLI = join(ROOT, 'bin', 'conda-attest.js');
const NODE = process.execPath;
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const CORES = availableParallelism();

// ---------------------------------------------------------------------------
// Options

const GROUPS: Record<string, string> = {
  cold: 'cold and warm verify of N packages, peak RSS; the raw sigstore-js loop and the crypto floor',
  startup: '`--version` and a warm one-package pixi.lock against bare `node -e 0`',
  large: 'peak RSS of a cold verify of 10,000 packages (quick: 2,000)',
  download: '--download of 64 MiB and 1 GiB (quick: 64 MiB) against curl | sha256sum',
  pixi: 'peak RSS of a 50,000-package pixi.lock (quick: 10,000)',
  repodata: 'peak RSS of one lookup in a 200 MB repodata.json (quick: 50 MB), a guard',
  peer: 'a second verifier (@freedomofpress/sigstore-browser): speed and verdicts (not in --quick)',
  means: 'in-process split of where the time goes (not in --quick)',
};

function positive(v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const SUBBENCHES = readdirSync(BENCH)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && readFileSync(join(BENCH, f), 'utf8').includes('BENCH_ROWS'))
  .map((f) => f.slice(0, -3));
if (!SUBBENCHES.includes('browser')) SUBBENCHES.push('browser'); // reported as skipped while absent
SUBBENCHES.sort();
const ALL = [...Object.keys(GROUPS), ...SUBBENCHES];
if (argv.includes('--list') || argv.includes('--help')) {
  process.stdout.write('npm run bench -- [--quick] [--only NAME[,NAME...]]\n\nNAME:\n');
  for (const [k, v] of Object.entries(GROUPS)) process.stdout.write(`  ${k.padEnd(10)} ${v}\n`);
  for (const k of SUBBENCHES) process.stdout.write(`  ${k.padEnd(10)} rows of bench/${k}.ts (BENCH_ROWS)\n`);
  process.exit(0);
}
const onlyAt = argv.indexOf('--only');
const ONLY = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : null;
for (const a of argv) if (a.startsWith('-') && !['--quick', '--only'].includes(a)) throw new Error(`unknown option ${a} (see --list)`);
for (const o of ONLY ?? []) if (!ALL.includes(o)) throw new Error(`unknown figure group ${o}; groups: ${ALL.join(', ')}`);
if (ONLY && ONLY.length === 0) throw new Error(`--only needs a NAME; groups: ${ALL.join(', ')}`);
const wants = (g: string): boolean => (ONLY ? ONLY.includes(g) : !(QUICK && (g === 'peer' || g === 'means')));

const N = positive(process.env.BENCH_N, QUICK ? 300 : 1000);
const RUNS = Math.max(3, positive(process.env.BENCH_RUNS, QUICK ? 3 : 5));
const N_LARGE = QUICK ? 2_000 : 10_000;
const DOWNLOAD_MIB = QUICK ? [64] : [64, 1024];
const PIXI_N = QUICK ? 10_000 : 50_000;
const REPODATA_MB = QUICK ? 50 : 200;

// ---------------------------------------------------------------------------
// The table

type Result = 'PASS' | 'MISS' | 'info' | 'n/a' | 'skipped';
interface Row {
  figure: string;
  median: string;
  spread: string;
  runs: number | string;
  baseline: string;
  vs: string;
  goal: string;
  result: Result;
  /** Highest 1-minute load average seen while the figure ran. */
  load: number | null;
  note?: string;
}
const rows: Row[] = [];
/** A row of the table, also logged at once (a run cut short still leaves its figures). */
function add(r: Row): void {
  rows.push(r);
  log(`row: ${r.figure}: ${r.median} (${r.spread}, ${r.runs} runs) vs ${r.baseline}: ${r.vs}; goal ${r.goal}: ${r.result}; load ${r.load?.toFixed(1) ?? '-'}${r.note ? `; ${r.note}` : ''}`);
}
const refLines: string[] = [];

function log(s: string): void {
  process.stderr.write(`[bench] ${s}\n`);
}
function ms(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`;
}
function mb(kb: number): string {
  return `${(kb / 1024).toFixed(0)} MB`;
}

interface Stat {
  min: number;
  med: number;
  max: number;
}
function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0]!, med: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, max: s[s.length - 1]! };
}
function spread(s: Stat, f: (x: number) => string): string {
  return `${f(s.min)}–${f(s.max)}`;
}
const times = (x: number): string => `${x.toFixed(x < 0.1 ? 3 : 2)}×`;

/** The highest 1-minute load average seen between start() and the returned stop(). */
function trackLoad(): () => number {
  let max = loadavg()[0]!;
  const timer = setInterval(() => (max = Math.max(max, loadavg()[0]!)), 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    return Math.max(max, loadavg()[0]!);
  };
}

function skipped(figure: string, why: string): void {
  add({ figure, median: '-', spread: '-', runs: 0, baseline: '-', vs: '-', goal: '-', result: 'skipped', load: null, note: why });
}

// ---------------------------------------------------------------------------
// Child processes: wall time, CPU time, peak RSS

interface RunResult {
  code: number | null;
  wallMs: number;
  /** Peak RSS in kB (GNU time `%M`, worker threads included), when measured. */
  maxRssKb: number | null;
  /** User + system CPU time, when measured. */
  cpuMs: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of every measured run: no proxy, no colour, a fresh HOME of the run's own. */
function runEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), XDG_CONFIG_HOME: join(home, '.config'), NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k) || k === 'NODE_USE_ENV_PROXY' || k === 'NODE_OPTIONS') delete env[k];
  mkdirSync(home, { recursive: true });
  return env;
}

/**
 * Run `node args...`. Peak RSS and CPU come from GNU time (written to a file so the
 * command's stderr stays clean); start-up figures skip it (`noTime`: one more exec inside
 * the measured time).
 */
async function runNode(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; noTime?: boolean }): Promise<RunResult> {
  const usageFile = join(tmpdir(), `conda-attest-bench-usage-${process.pid}-${process.hrtime.bigint()}.txt`);
  const timeBin = opts.noTime ? null : TIME_BIN;
  const [cmd, cmdArgs] = timeBin ? [timeBin, ['-f', '%M %U %S', '-o', usageFile, NODE, ...args]] : [NODE, args];
  const started = performance.now();
  const child = spawn(cmd, cmdArgs, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c));
  });
  const wallMs = performance.now() - started;
  let maxRssKb: number | null = null;
  let cpuMs: number | null = null;
  if (timeBin) {
    try {
      const [rss, user, sys] = readFileSync(usageFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      if (rss! > 0) maxRssKb = rss!;
      if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user! + sys!) * 1000;
    } catch {
      /* GNU time wrote nothing: leave null */
    }
    rmSync(usageFile, { force: true });
  }
  return { code, wallMs, maxRssKb, cpuMs, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

interface VerifyRun extends RunResult {
  /** Why the run does not count, or null when the CLI produced a report. */
  notReady: string | null;
  verified: number | null;
}

/** `conda-attest verify --json ...` and whether it produced a report. */
async function cliVerify(cwd: string, env: NodeJS.ProcessEnv, args: string[], noTime = false): Promise<VerifyRun> {
  const r = await runNode([CLI, 'verify', '--json', ...args], { cwd, env, noTime });
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

// ---------------------------------------------------------------------------
// The bench channel

interface Env {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
  channel: FixtureChannel;
  config: string;
  explicit: string;
  onePixi: string;
  /** The one-package project's config (its own identity lockfile). */
  oneConfig: string;
  /** Files for bench/raw-loop.ts. */
  rootFile: string;
  sidecarsFile: string;
}

/** A distinct workflow identity per package, spread over 50 organisations, like a real channel's feedstocks. */
function signerOf(i: number): string {
  return `https://github.com/org${i % 50}/pkg${i}-feedstock/.github/workflows/build.yml@refs/heads/main`;
}

async function buildEnvironment(sigstore: LocalSigstore, n: number, name: string): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), `conda-attest-bench-${name}-`));
  const t0 = performance.now();
  const channel = await startFixtureChannel({
    sigstore,
    name,
    // What conda.anaconda.org sends with repodata.json (libmamba's repodata cache records
    // conda-forge's as `"_cache_control": "public, max-age=1200"`), and what conda and mamba
    // honour by default (`local_repodata_ttl: 1`: the server's max-age): a re-run within 20
    // minutes sends no request for repodata (src/http/client.ts). Without it every warm run
    // revalidated with a conditional GET, which no conda user's re-run does.
    repodataCacheControl: 'public, max-age=1200',
    packages: Array.from({ length: n }, (_, i) => ({
      spec: { name: `pkg${String(i).padStart(5, '0')}`, version: '1.0.0', build: 'h0_0', subdir: 'linux-64' },
      signOptions: { san: signerOf(i) },
    })),
  });
  log(`${name}: built and signed ${n} packages (${n} distinct signers) in ${ms(performance.now() - t0)}`);
  const explicit = join(dir, 'explicit.txt');
  writeFileSync(explicit, channel.explicitFile({ platform: 'linux-64' }));
  const onePixi = join(dir, 'one', 'pixi.lock');
  mkdirSync(join(dir, 'one'));
  writeFileSync(onePixi, channel.pixiLock({ platform: 'linux-64', filenames: [channel.packages[0]!.filename] }));
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
  // The one-package project is a project of its own, as a user's is: its identity lockfile sits
  // next to its pixi.lock and pins its one package (sharing the 1,000-package run's lockfile made
  // every one-package run read and check 1,000 pins, ~600 kB); the caches are the machine's.
  const oneConfig = join(dir, 'one', '.conda-attestrc.json');
  writeFileSync(
    oneConfig,
    JSON.stringify(
      {
        trust_root: sigstore.trustedRootPath,
        cache_dir: join(dir, 'cache'),
        lockfile: join(dir, 'one', 'conda-attest.lock'),
        channels: { [channel.url]: { enabled: true, require: 'error' } },
      },
      null,
      2,
    ),
  );
  const rootFile = join(dir, 'trusted_root.json');
  writeFileSync(rootFile, JSON.stringify(sigstore.trustedRoot));
  const sidecarsFile = join(dir, 'sidecars.json');
  writeFileSync(sidecarsFile, `[${channel.packages.map((p) => p.sidecar!.toString('utf8')).join(',')}]`);
  const home = join(dir, 'home');
  return { dir, home, env: runEnv(home), channel, config, oneConfig, explicit, onePixi, rootFile, sidecarsFile };
}

/** Fresh data caches and no identity lockfile: a first run of the product on this machine. */
function clearCaches(env: Env): void {
  rmSync(join(env.dir, 'cache'), { recursive: true, force: true });
  rmSync(join(env.dir, 'conda-attest.lock'), { force: true });
}

/** The raw sigstore-js loop in a fresh process (bench/raw-loop.ts). */
async function rawLoopChild(env: Env): Promise<RawLoopResult> {
  const r = await runNode([join(BENCH, 'raw-loop.ts'), env.rootFile, env.sidecarsFile], { cwd: env.dir, env: env.env, noTime: true });
  if (r.code !== 0) throw new Error(`raw sigstore-js loop failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RawLoopResult;
}

// ---------------------------------------------------------------------------
// Figures

/** Bare `node -e 0`: wall time (the start-up no launcher goes below) and peak RSS. */
async function bareNode(cwd: string, env: NodeJS.ProcessEnv, noTime: boolean): Promise<RunResult> {
  return runNode(['-e', '0'], { cwd, env, noTime });
}

async function coldFigures(env: Env): Promise<void> {
  const n = env.channel.packages.length;
  const stop = trackLoad();
  const raws: RawLoopResult[] = [];
  const colds: VerifyRun[] = [];
  // Interleaved: the reference and the product see the same machine load.
  for (let i = 0; i < RUNS; i++) {
    raws.push(await rawLoopChild(env));
    clearCaches(env);
    const r = await cliVerify(env.dir, env.env, ['--config', env.config, env.explicit]);
    if (r.notReady) {
      stop();
      for (const f of [`cold verify, ${n} pkgs`, `warm verify, ${n} pkgs`, `peak RSS, cold verify of ${n} pkgs`]) skipped(f, r.notReady);
      return;
    }
    colds.push(r);
    log(`cold ${i + 1}/${RUNS}: raw loop ${ms(raws.at(-1)!.ms)}, conda-attest ${ms(r.wallMs)}`);
  }
  const warms: VerifyRun[] = [];
  for (let i = 0; i < RUNS; i++) warms.push(await cliVerify(env.dir, env.env, ['--config', env.config, env.explicit]));
  const load = stop();

  const bundles = raws[0]!.bundles;
  const raw = stat(raws.map((r) => r.ms));
  const rawCpu = stat(raws.map((r) => r.cpuMs));
  const rawName = `raw sigstore-js loop ${ms(raw.med)} (${(raw.med / bundles).toFixed(2)} ms/bundle)`;
  refLines.push(
    `raw @sigstore/verify, sequential, fresh process per run: ${ms(raw.med)} median (${spread(raw, ms)}) for ${bundles} bundles = ` +
      `${(raw.med / bundles).toFixed(2)} ms/bundle wall, ${(rawCpu.med / bundles).toFixed(2)} ms/bundle CPU`,
  );
  const sanity = (rs: VerifyRun[]): string | undefined => {
    const bad = rs.find((r) => r.notReady || r.verified !== n);
    return bad ? (bad.notReady ?? `only ${bad.verified}/${n} verified (exit ${bad.code})`) : undefined;
  };
  const cold = stat(colds.map((r) => r.wallMs));
  const coldRatios = stat(colds.map((r, i) => r.wallMs / raws[i]!.ms));
  // CPU time moves less with the machine's load than wall time: given beside every ratio.
  const cpuNote = (rs: VerifyRun[]): string => {
    const c = rs.map((r) => r.cpuMs).filter((x): x is number => x !== null);
    return c.length ? `CPU ${ms(stat(c).med)} median = ${times(stat(c).med / rawCpu.med)} the raw loop's CPU (${ms(rawCpu.med)})` : '';
  };
  const coldSanity = sanity(colds);
  add({
    figure: `cold verify, ${n} pkgs`,
    median: ms(cold.med),
    spread: spread(cold, ms),
    runs: RUNS,
    baseline: rawName,
    vs: `${times(coldRatios.med)} (${times(coldRatios.min)}–${times(coldRatios.max)})`,
    goal: '≤ 0.15×',
    result: coldSanity ? 'MISS' : coldRatios.med <= 0.15 ? 'PASS' : 'MISS',
    load,
    note: [coldSanity, cpuNote(colds)].filter(Boolean).join('; ') || undefined,
  });

  try {
    const { prepareFloor, runFloor } = await import('./floor.ts');
    const sidecars = JSON.parse(readFileSync(env.sidecarsFile, 'utf8')) as unknown[][];
    const prepared = prepareFloor({ sidecars, trustedRoot: JSON.parse(readFileSync(env.rootFile, 'utf8')) as never });
    const floorRuns = Array.from({ length: RUNS }, () => runFloor(prepared));
    const floor = stat(floorRuns.map((r) => r.ms));
    const perCore = floor.med / CORES;
    const r0 = floorRuns[0]!;
    refLines.push(
      `crypto floor (leaf-by-CA, SCT, SET/checkpoint, DSSE; node:crypto, one thread): ${ms(floor.med)} median (${spread(floor, ms)}) for ${r0.bundles} bundles, ` +
        `${r0.signatures} signatures (${(floor.med / r0.bundles).toFixed(3)} ms/bundle; ${r0.allPassed}/${r0.bundles} pass all four); ÷ ${CORES} cores = ${ms(perCore)}`,
    );
    add({
      figure: `cold verify, ${n} pkgs ÷ (crypto floor ÷ ${CORES} cores)`,
      median: ms(cold.med),
      spread: spread(cold, ms),
      runs: RUNS,
      baseline: `floor ${ms(floor.med)} ÷ ${CORES} = ${ms(perCore)}`,
      vs: `${(cold.med / perCore).toFixed(1)}× (${(cold.min / perCore).toFixed(1)}–${(cold.max / perCore).toFixed(1)})`,
      goal: '≤ 5×',
      result: cold.med / perCore <= 5 ? 'PASS' : 'MISS',
      load,
    });
  } catch (e) {
    skipped(`cold verify ÷ crypto floor`, `floor not measured: ${e instanceof Error ? e.message : String(e)}`);
  }

  const warm = stat(warms.map((r) => r.wallMs));
  const warmSanity = sanity(warms);
  add({
    figure: `warm verify, ${n} pkgs`,
    median: ms(warm.med),
    spread: spread(warm, ms),
    runs: RUNS,
    baseline: rawName,
    vs: `${times(warm.med / raw.med)} (${times(warm.min / raw.med)}–${times(warm.max / raw.med)})`,
    goal: '≤ 0.02×',
    result: warmSanity ? 'MISS' : warm.med / raw.med <= 0.02 ? 'PASS' : 'MISS',
    load,
    note: [warmSanity, cpuNote(warms)].filter(Boolean).join('; ') || undefined,
  });

  const bare = await bareNode(env.dir, env.env, false);
  const bareRss = bare.maxRssKb ? `bare node ${mb(bare.maxRssKb)}` : '-';
  const rss = colds.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  if (rss.length) {
    const s = stat(rss);
    add({ figure: `peak RSS, cold verify of ${n} pkgs`, median: mb(s.med), spread: spread(s, mb), runs: rss.length, baseline: bareRss, vs: '-', goal: n === 1000 ? '≤ 150 MB' : '(info)', result: n === 1000 ? (s.med / 1024 <= 150 ? 'PASS' : 'MISS') : 'info', load });
  }
  const wrss = warms.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  if (wrss.length) {
    const s = stat(wrss);
    add({ figure: `peak RSS, warm verify of ${n} pkgs`, median: mb(s.med), spread: spread(s, mb), runs: wrss.length, baseline: bareRss, vs: '-', goal: '(info)', result: 'info', load });
  }

  // The same loop inside this process (which holds the fixture channel): see
  // docs/performance.md, "Why two harnesses disagreed".
  if (!QUICK) {
    const sidecars = JSON.parse(readFileSync(env.sidecarsFile, 'utf8')) as unknown[][];
    const inproc = rawLoop(sidecars, JSON.parse(readFileSync(env.rootFile, 'utf8')) as object);
    refLines.push(
      `the same loop once inside the bench process (which also holds and serves the ${n}-package channel): ${(inproc.ms / inproc.bundles).toFixed(2)} ms/bundle wall, ` +
        `${(inproc.cpuMs / inproc.bundles).toFixed(2)} ms/bundle CPU`,
    );
  }
}

async function startupFigures(env: Env): Promise<void> {
  const times_ = QUICK ? 5 : 10;
  const stop = trackLoad();
  const args = ['--config', env.oneConfig, env.onePixi];
  const first = await cliVerify(env.dir, env.env, args); // pins the package and fills the caches: the runs below are warm
  if (first.notReady) {
    stop();
    skipped('warm one-package pixi.lock', first.notReady);
    return;
  }
  const bare: number[] = [];
  const version: number[] = [];
  const one: number[] = [];
  let note: string | undefined;
  for (let i = 0; i < times_; i++) {
    // Interleaved, so the three see the same load.
    bare.push((await bareNode(env.dir, env.env, true)).wallMs);
    const v = await runNode([CLI, '--version'], { cwd: env.dir, env: env.env, noTime: true });
    if (v.code !== 0) note = `--version exit ${v.code}: ${v.stderr.split('\n')[0]}`;
    version.push(v.wallMs);
    const o = await cliVerify(env.dir, env.env, args, true);
    if (o.notReady || o.verified !== 1) note = o.notReady ?? `verified ${o.verified}/1 (exit ${o.code})`;
    one.push(o.wallMs);
  }
  const load = stop();
  const b = stat(bare);
  add({ figure: 'bare `node -e 0`', median: ms(b.med), spread: spread(b, ms), runs: times_, baseline: '-', vs: '-', goal: '(baseline)', result: 'info', load });
  for (const [figure, xs, budget] of [
    ['`conda-attest --version`', version, 15],
    ['warm one-package pixi.lock', one, 60],
  ] as const) {
    const s = stat(xs);
    const over = stat(xs.map((x, i) => x - bare[i]!));
    add({
      figure,
      median: ms(s.med),
      spread: spread(s, ms),
      runs: times_,
      baseline: `bare node ${ms(b.med)}`,
      vs: `+${Math.round(over.med)} ms (${Math.round(over.min)}–${Math.round(over.max)})`,
      goal: `≤ bare + ${budget} ms`,
      result: note ? 'MISS' : over.med <= budget ? 'PASS' : 'MISS',
      load,
      note,
    });
  }
}

async function largeFigures(sigstore: LocalSigstore): Promise<void> {
  const env = await buildEnvironment(sigstore, N_LARGE, `bench-channel-${N_LARGE}`);
  try {
    const stop = trackLoad();
    const runs: VerifyRun[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      clearCaches(env);
      const r = await cliVerify(env.dir, env.env, ['--config', env.config, env.explicit]);
      if (r.notReady) {
        stop();
        return skipped(`peak RSS, cold verify of ${N_LARGE} pkgs`, r.notReady);
      }
      runs.push(r);
      log(`large ${i + 1}: ${ms(r.wallMs)}, ${r.maxRssKb ? mb(r.maxRssKb) : '?'}`);
    }
    const load = stop();
    const bad = runs.find((r) => r.verified !== N_LARGE);
    const note = bad ? `only ${bad.verified}/${N_LARGE} verified (exit ${bad.code})` : undefined;
    const rss = runs.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
    const w = stat(runs.map((r) => r.wallMs));
    if (rss.length) {
      const s = stat(rss);
      add({ figure: `peak RSS, cold verify of ${N_LARGE} pkgs`, median: mb(s.med), spread: spread(s, mb), runs: rss.length, baseline: '-', vs: '-', goal: N_LARGE === 10_000 ? '≤ 250 MB' : '(info)', result: N_LARGE === 10_000 ? (s.med / 1024 <= 250 ? 'PASS' : 'MISS') : 'info', load, note });
    }
    add({ figure: `cold verify, ${N_LARGE} pkgs`, median: ms(w.med), spread: spread(w, ms), runs: runs.length, baseline: '-', vs: '-', goal: '(info)', result: 'info', load });
  } finally {
    await closeEnv(env);
  }
}

async function downloadFigures(sigstore: LocalSigstore, mib: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-dl-'));
  const figure = `--download of ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`}`;
  const goal = mib >= 1024 ? 0.95 : 0.7;
  let big: BigServer | undefined;
  try {
    const t0 = performance.now();
    big = await startBigPackageServer(sigstore, mib);
    log(`download: generated and signed a ${mib} MiB package in ${ms(performance.now() - t0)}`);
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
    const env = runEnv(join(dir, 'home'));
    // The reference: curl | sha256sum, or the same in Node (a stream into node:crypto).
    const curl = which('curl') && which('sha256sum');
    const refName = curl ? 'curl | sha256sum' : 'node http.get → sha256';
    const refCmd = curl
      ? `curl -sS --noproxy '*' ${big.url} | sha256sum`
      : `${JSON.stringify(NODE)} -e 'const h=require("crypto").createHash("sha256");require("http").get(process.argv[1],r=>r.on("data",c=>h.update(c)).on("end",()=>console.log(h.digest("hex"))))' ${big.url}`;
    const stop = trackLoad();
    const refs: number[] = [];
    const ours: VerifyRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await shell(refCmd);
      if (r.code !== 0 || !r.stdout.includes(big.sha256)) throw new Error(`${refName} failed or gave another digest: ${r.stdout.trim()}`);
      refs.push(r.wallMs);
      rmSync(join(dir, 'cache'), { recursive: true, force: true });
      const run = await cliVerify(dir, env, ['--config', config, '--download', explicit]);
      if (run.notReady) {
        stop();
        return skipped(figure, run.notReady);
      }
      ours.push(run);
    }
    const load = stop();
    const w = stat(ours.map((r) => r.wallMs));
    const c = stat(refs);
    const speed = stat(ours.map((r, i) => refs[i]! / r.wallMs));
    const mibps = (x: number): string => `${((mib * 1000) / x).toFixed(0)} MiB/s`;
    const bad = ours.find((r) => r.verified !== 1);
    add({
      figure,
      median: `${ms(w.med)} (${mibps(w.med)})`,
      spread: spread(w, ms),
      runs: RUNS,
      baseline: `${refName} ${ms(c.med)} (${mibps(c.med)})`,
      vs: `${speed.med.toFixed(2)}× speed (${speed.min.toFixed(2)}–${speed.max.toFixed(2)})`,
      goal: `≥ ${goal.toFixed(2)}×`,
      result: bad ? 'MISS' : speed.med >= goal ? 'PASS' : 'MISS',
      load,
      note: bad ? `verified ${bad.verified}/1 (exit ${bad.code})` : undefined,
    });
    // Process CPU moves far less with the load than wall time (docs/performance.md).
    const cpu = ours.map((r) => r.cpuMs).filter((x): x is number => x !== null);
    if (cpu.length) {
      const s = stat(cpu);
      add({ figure: `process CPU, ${figure}`, median: ms(s.med), spread: spread(s, ms), runs: cpu.length, baseline: '-', vs: '-', goal: '(info)', result: 'info', load });
    }
    const rss = ours.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
    if (rss.length) {
      const s = stat(rss);
      add({ figure: `peak RSS, ${figure}`, median: mb(s.med), spread: spread(s, mb), runs: rss.length, baseline: '-', vs: '-', goal: '(info)', result: 'info', load });
    }
  } finally {
    await big?.close();
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
}

/** Peak RSS of a memory case (bench/memory.ts) run through the published bin. */
async function memoryFigure(prepare: (dir: string) => Promise<Prepared> | Prepared, goalMb: number, guard: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-mem-'));
  const p = await prepare(dir);
  try {
    const stop = trackLoad();
    const env = { ...process.env, ...isolatedEnv(p.cwd) };
    const bare = await bareNode(p.cwd, env, false);
    const runs: RunResult[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) runs.push(await runNode([CLI, ...p.args], { cwd: p.cwd, env }));
    const load = stop();
    const rss = runs.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
    let note: string | undefined;
    try {
      const rep = JSON.parse(runs[0]!.stdout) as { packages?: unknown[] };
      note = `${rep.packages?.length ?? '?'} packages in the report; wall ${ms(stat(runs.map((r) => r.wallMs)).med)}`;
    } catch {
      note = `no report: ${runs[0]!.stderr.trim().split('\n')[0]?.slice(0, 120)}`;
    }
    if (!rss.length) return skipped(`peak RSS, ${p.what}`, 'GNU time (/usr/bin/time) is needed for peak RSS');
    const s = stat(rss);
    add({
      figure: `peak RSS, ${p.what}`,
      median: mb(s.med),
      spread: spread(s, mb),
      runs: rss.length,
      baseline: bare.maxRssKb ? `bare node ${mb(bare.maxRssKb)}` : '-',
      vs: '-',
      goal: `≤ ${goalMb} MB${guard}`,
      result: s.med / 1024 <= goalMb ? 'PASS' : 'MISS',
      load,
      note,
    });
  } finally {
    p.close();
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Sub-benches (the BENCH_ROWS protocol)

interface SubRow {
  figure: string;
  value: number;
  unit: string;
  baseline?: string | number;
  goal?: string | number;
  runs?: number;
  spread?: string | number;
}

/**
 * PASS/MISS for a goal written `≥ X` or `≤ X`, with nothing after the number or the row's
 * own unit; anything else (`≤ 2× Node`: relative to another figure) is not judged here.
 */
function judge(value: number, unit: string, goal: string | undefined): Result {
  const m = /^\s*(≥|>=|≤|<=)\s*(-?[\d.]+)\s*(.*)$/.exec(goal ?? '');
  if (!m || (m[3] !== '' && m[3]!.trim() !== unit.trim())) return 'info';
  const x = Number(m[2]);
  return (m[1] === '≥' || m[1] === '>=' ? value >= x : value <= x) ? 'PASS' : 'MISS';
}

async function subBench(name: string): Promise<void> {
  const file = join(BENCH, `${name}.ts`);
  if (!existsSync(file)) return skipped(`${name} (bench/${name}.ts)`, `bench/${name}.ts is absent`);
  if (name === 'browser') {
    try {
      const { browserSkip } = (await import('../test/browser/harness.ts')) as { browserSkip: () => string | false };
      const why = browserSkip();
      if (why) return skipped('browser (bench/browser.ts)', why);
    } catch (e) {
      return skipped('browser (bench/browser.ts)', `no browser check: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  log(`${name}: running bench/${name}.ts`);
  const stop = trackLoad();
  const env = { ...process.env, BENCH_RUNS: String(RUNS), ...(QUICK ? { BENCH_QUICK: '1' } : {}) };
  const r = await runNode([file], { cwd: ROOT, env, noTime: true });
  const load = stop();
  const lines = r.stdout.trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  if (r.code !== 0 || !last.startsWith('BENCH_ROWS ')) {
    const why = r.stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${r.code}`;
    return skipped(`${name} (bench/${name}.ts)`, `no BENCH_ROWS line (exit ${r.code}): ${why.slice(0, 160)}`);
  }
  for (const l of lines.slice(0, -1)) log(`${name}: ${l}`);
  let sub: SubRow[];
  try {
    sub = JSON.parse(last.slice('BENCH_ROWS '.length)) as SubRow[];
    if (!Array.isArray(sub)) throw new Error('not an array');
  } catch (e) {
    return skipped(`${name} (bench/${name}.ts)`, `BENCH_ROWS is not a JSON array: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const s of sub) {
    const bad = typeof s?.figure !== 'string' || typeof s.value !== 'number' || typeof s.unit !== 'string';
    if (bad) {
      skipped(`${name}: a malformed row`, JSON.stringify(s).slice(0, 120));
      continue;
    }
    // Optional fields as the sub-bench wrote them: text or a number.
    const text = (x: unknown): string | undefined => (x === undefined || x === null ? undefined : String(x));
    add({
      figure: s.figure,
      median: `${s.value} ${s.unit}`,
      // A number is the sub-bench's (max − min) ÷ median in %, a number baseline is in the row's unit.
      spread: typeof s.spread === 'number' ? `${s.spread}% of median` : (text(s.spread) ?? '-'),
      runs: text(s.runs) ?? '-',
      baseline: typeof s.baseline === 'number' ? `${s.baseline} ${s.unit}` : (text(s.baseline) ?? '-'),
      vs: '-',
      goal: text(s.goal) ?? '(info)',
      result: judge(s.value, s.unit, text(s.goal)),
      load,
    });
  }
}

// ---------------------------------------------------------------------------
// The second verifier and the means (references and splits, in this process)

async function peerFigures(sigstore: LocalSigstore, env: Env): Promise<void> {
  const parsed = JSON.parse(readFileSync(env.sidecarsFile, 'utf8')) as unknown[][];
  try {
    const { interopCases, omitsZeroLogIndex, runPeer, tamperCases, withExplicitDefaults } = await import('./peer.ts');
    const { GITHUB_ISSUER } = await import('../test/helpers/sigstore.ts');
    // The peer checks one identity per call: each bundle against its own signer.
    const asServed = await runPeerPerSigner(runPeer, parsed, sigstore.trustedRoot, GITHUB_ISSUER);
    const explicit = parsed.map((l) => l.map(withExplicitDefaults));
    const peerRuns = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) peerRuns.push(await runPeerPerSigner(runPeer, explicit, sigstore.trustedRoot, GITHUB_ISSUER));
    const peer = stat(peerRuns.map((r) => r.ms));
    const p0 = peerRuns[0]!;
    refLines.push(`@freedomofpress/sigstore-browser (WebCrypto, in Node): ${ms(peer.med)} median for ${p0.bundles} bundles (${(peer.med / p0.bundles).toFixed(2)} ms/bundle)`);
    refLines.push(...peerVerdictLines(parsed, asServed, p0, asServed.bundles, omitsZeroLogIndex));
    const tamperLines = (cases: Awaited<ReturnType<typeof tamperCases>>, indent: string): string[] =>
      cases.map(
        (c) =>
          `${indent}${c.name}: @sigstore/verify ${c.referenceRejects ? 'rejects' : 'accepts'}, peer ${c.peerRejects ? 'rejects' : 'accepts'}` +
          `${c.peerError ? ` ("${c.peerError.slice(0, 90)}")` : ''}${c.referenceRejects === c.peerRejects ? '' : '  <- DISAGREEMENT'}`,
      );
    const cases = await tamperCases({ trustedRoot: sigstore.trustedRoot, identity: signerOf(0), issuer: GITHUB_ISSUER, sidecars: explicit });
    const agreeing = (cs: typeof cases) => cs.filter((c) => c.referenceRejects === c.peerRejects).length;
    refLines.push(`  one bench bundle unaltered and tampered (proto3 defaults written out): verdicts agree on ${agreeing(cases)}/${cases.length}`);
    refLines.push(...tamperLines(cases, '    '));
    const real = await interopCases(join(ROOT, '..', 'shared'));
    if (real) {
      refLines.push(`  a real bundle, ${real.source}, logIndex not omitted, unaltered and tampered: verdicts agree on ${agreeing(real.cases)}/${real.cases.length}`);
      refLines.push(...tamperLines(real.cases, '    '));
    } else {
      refLines.push('  a real public-good bundle: not checked (the shared interop data is absent)');
    }
  } catch (e) {
    refLines.push(`@freedomofpress/sigstore-browser: not measured (${e instanceof Error ? e.message : String(e)})`);
  }
}

type RunPeer = (typeof import('./peer.ts'))['runPeer'];
type PeerRun = Awaited<ReturnType<RunPeer>>;

/** runPeer, each sidecar against the identity of its own package's signer. */
async function runPeerPerSigner(runPeer: RunPeer, sidecars: unknown[][], trustedRoot: object, issuer: string): Promise<PeerRun> {
  const total: PeerRun = { ms: 0, bundles: 0, accepted: 0, rejections: [] };
  for (let i = 0; i < sidecars.length; i++) {
    const r = await runPeer({ trustedRoot, identity: signerOf(i), issuer, sidecars: [sidecars[i]!] });
    total.ms += r.ms;
    total.bundles += r.bundles;
    total.accepted += r.accepted;
    total.firstError ??= r.firstError;
    total.rejections.push(...r.rejections);
  }
  return total;
}

/**
 * The peer's verdicts on the bundles as served, bundle by bundle, against raw
 * @sigstore/verify (which accepted every one of them: the reference loop throws otherwise).
 * A rejection is a peer LIMITATION, not a disagreement on the signature, only when the bundle
 * omits the inclusion proof's `logIndex` "0" (a proto3 JSON default) and the peer accepts
 * the same bundle once the default is written out; every other rejection is a disagreement.
 */
function peerVerdictLines(
  parsed: unknown[][],
  asServed: { bundles: number; accepted: number; rejections: (string | null)[][] },
  explicit: { rejections: (string | null)[][] },
  referenceAccepted: number,
  omitsZeroLogIndex: (b: unknown) => boolean,
): string[] {
  let limitation = 0;
  let limitationMessage: string | undefined;
  let withoutDefault = 0;
  let withoutDefaultAccepted = 0;
  const disagreements: string[] = [];
  parsed.forEach((list, i) =>
    list.forEach((bundle, j) => {
      const served = asServed.rejections[i]![j]!;
      const written = explicit.rejections[i]![j]!;
      const usesDefault = omitsZeroLogIndex(bundle);
      if (!usesDefault) {
        withoutDefault++;
        if (served === null) withoutDefaultAccepted++;
      }
      if (served === null) return;
      if (usesDefault && written === null) {
        limitation++;
        limitationMessage ??= served;
      } else disagreements.push(`sidecar ${i} bundle ${j}: "${served.slice(0, 90)}"`);
    }),
  );
  return [
    `  verdicts as served: raw @sigstore/verify accepts ${referenceAccepted}/${asServed.bundles}, the peer ${asServed.accepted}/${asServed.bundles}; ` +
      `they disagree on ${asServed.bundles - asServed.accepted} bundle(s):`,
    `    peer limitation (not a verdict on the signature): ${limitation} bundle(s) whose inclusion proof omits logIndex "0" (proto3 JSON leaves a default out; ` +
      `the peer reads it as absent${limitationMessage ? `: "${limitationMessage.slice(0, 60)}"` : ''}) and which the peer accepts once "0" is written out`,
    `    other disagreements: ${disagreements.length}${disagreements.length ? ` (${disagreements.slice(0, 3).join('; ')}${disagreements.length > 3 ? '; …' : ''})` : ''}`,
    `    bundles that do not rely on the default: ${withoutDefault}, accepted by both: ${withoutDefaultAccepted}` +
      (withoutDefault === 0 ? ' (the local Rekor puts every entry at index 0 of its own tree; see the real bundle below)' : ''),
    `  verdicts with proto3 defaults written out: the peer accepts ${asServed.bundles - explicit.rejections.flat().filter((r) => r !== null).length}/${asServed.bundles}`,
  ];
}

async function meansFigures(env: Env, trustedRoot: object): Promise<string[]> {
  const { measureMeans } = await import('./means.ts');
  const sidecars = env.channel.packages.map((p) => ({ bytes: p.sidecar!, sha256: p.sidecarSha256!, filename: p.filename, pkgSha256: p.sha256 }));
  const referenceMs = rawLoop(sidecars.map((s) => JSON.parse(s.bytes.toString('utf8')) as unknown[]), trustedRoot).ms;
  return measureMeans({ sidecars, channel: env.channel.url, trustedRoot, referenceMs, dir: env.dir });
}

// ---------------------------------------------------------------------------

async function closeEnv(e: Env): Promise<void> {
  await e.channel.close();
  if (process.env.BENCH_KEEP === '1') log(`kept ${e.dir}`);
  else rmSync(e.dir, { recursive: true, force: true });
}

function machine(): string {
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    /* not a git checkout */
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return [
    `conda-attest bench, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}${commit ? `, commit ${commit}` : ''}${QUICK ? ', --quick' : ''}${ONLY ? `, --only ${ONLY.join(',')}` : ''}`,
    `machine: ${CORES} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, node ${process.version}`,
    `load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (a figure is marked noisy when the 1-minute load exceeded ${CORES} while it ran)`,
    `N = ${N} packages, ${RUNS} runs per figure; medians, spread = min–max; RSS via ${TIME_BIN ? 'GNU time %M' : 'nothing (no /usr/bin/time)'}`,
  ].join('\n');
}

function table(): string {
  const head = ['figure', 'median', 'spread', 'runs', 'baseline (same run)', 'vs baseline', 'goal', 'result', 'load'];
  const body = rows.map((r) => [
    r.figure,
    r.median,
    r.spread,
    String(r.runs),
    r.baseline,
    r.vs,
    r.goal,
    r.result,
    r.load === null ? '-' : `${r.load.toFixed(1)}${r.load > CORES ? ' noisy' : ''}`,
  ]);
  const esc = (c: string): string => c.replaceAll('|', '\\|');
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)];
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.figure}: ${r.note}`);
  return [...out, ...(notes.length ? ['', 'notes:', ...notes] : [])].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  process.stdout.write(`${machine()}\n`);
  const needsSigstore = ['cold', 'startup', 'large', 'download', 'peer', 'means'].some(wants);
  const sigstore = needsSigstore ? await startLocalSigstore() : null;
  let env: Env | null = null;
  const means: string[] = [];
  try {
    if (sigstore && ['cold', 'startup', 'peer', 'means'].some(wants)) env = await buildEnvironment(sigstore, N, 'bench-channel');
    if (env && wants('cold')) await coldFigures(env);
    if (env && wants('startup')) await startupFigures(env);
    if (sigstore && wants('download')) for (const mib of DOWNLOAD_MIB) await downloadFigures(sigstore, mib);
    if (sigstore && wants('large')) await largeFigures(sigstore);
    if (wants('pixi')) await memoryFigure((d) => preparePixi(d, PIXI_N), 250, '');
    if (wants('repodata')) await memoryFigure((d) => prepareRepodata(d, REPODATA_MB), 200, ' (guard)');
    if (sigstore && env && wants('peer')) await peerFigures(sigstore, env);
    if (sigstore && env && wants('means')) means.push(...(await meansFigures(env, sigstore.trustedRoot)));
    // Sub-benches last: each starts its own servers and processes.
    if (env) {
      await closeEnv(env);
      env = null;
    }
    for (const s of SUBBENCHES) if (wants(s)) await subBench(s);
  } finally {
    if (env) await closeEnv(env);
    await sigstore?.close();
  }
  process.stdout.write(`\n${table()}\n`);
  if (refLines.length) process.stdout.write(`\nreferences (same bundles):\n${refLines.map((l) => `  ${l}`).join('\n')}\n`);
  if (means.length) process.stdout.write(`\nmeans (measured in the bench process):\n${means.map((l) => `  ${l}`).join('\n')}\n`);
  process.stdout.write(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; bench took ${ms(performance.now() - started)}\n`);
}

await main();
