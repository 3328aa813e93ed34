// `npm run bench`: builds its own signed conda channel with the local Sigstore instance,
// serves it on 127.0.0.1, and measures `conda-attest` (the published bin over dist/) against
// three references over the same bundles:
//   - a sequential in-process loop of raw @sigstore/verify (what any sigstore-js user gets),
//   - the crypto floor: only the signature checks no verifier can avoid, node:crypto, one
//     thread (bench/floor.ts); cold runs are also given as a multiple of floor ÷ cores,
//   - a second verifier, @freedomofpress/sigstore-browser (bench/peer.ts): its speed, and
//     whether its verdicts agree, tampered bundles included.
// Every figure is taken over at least 3 runs and printed as min / median / max, with its
// target and PASS/MISS; it is a benchmark, not a test, so it exits 0 unless the harness
// breaks.
//
// Environment:
//   BENCH_N=1000        packages in the environment (default 1000)
//   BENCH_RUNS=3        runs per figure (at least 3)
//   BENCH_LARGE=1       also: the 10,000-package RSS run (slow)
//   BENCH_DOWNLOAD_MIB  size of the --download package (default 1024: 1 GiB)
//   BENCH_KEEP=1        keep the temp dir (prints its path)
//
// Every network access is to 127.0.0.1 (the local Sigstore and the fixture channels).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import type { FixtureChannel } from '../test/helpers/channel.ts';
import { startLocalSigstore } from '../test/helpers/sigstore.ts';
import type { LocalSigstore } from '../test/helpers/sigstore.ts';
import { startBigPackageServer, type BigServer } from './big-package.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
// The product as users run it: the published bin over dist/ (npm run bench builds it first).
const CLI = join(ROOT, 'bin', 'conda-attest.js');
const NODE = process.execPath;
const N = positive(process.env.BENCH_N, 1000);
const LARGE = process.env.BENCH_LARGE === '1';
const DOWNLOAD_MIB = positive(process.env.BENCH_DOWNLOAD_MIB, 1024);
const RUNS = Math.max(3, positive(process.env.BENCH_RUNS, 3));
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
async function runNode(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; noTime?: boolean }): Promise<RunResult> {
  const rssFile = join(opts.cwd, `rss-${process.hrtime.bigint()}.txt`);
  // Start-up figures skip GNU time (one more exec in the measured time) and the RSS poll.
  const timeBin = opts.noTime ? null : TIME_BIN;
  const [cmd, argv] = timeBin ? [timeBin, ['-f', '%M', '-o', rssFile, NODE, ...args]] : [NODE, args];
  const started = performance.now();
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  let hwm = 0;
  const poll = timeBin || opts.noTime
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
  if (timeBin) {
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
async function cliVerify(dir: string, config: string, target: string, extra: string[] = [], noTime = false): Promise<VerifyRun> {
  const r = await runNode([CLI, 'verify', '--json', '--config', config, ...extra, target], { cwd: dir, noTime });
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

interface Stat {
  min: number;
  med: number;
  max: number;
  n: number;
}
function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, med: s[(s.length - 1) >> 1]!, max: s[s.length - 1]!, n: s.length };
}
/** `min / median / max` of a figure. */
function mmm(s: Stat, f: (x: number) => string = ms): string {
  return `${f(s.min)} / ${f(s.med)} / ${f(s.max)}`;
}

// ---------------------------------------------------------------------------
// Figures (each over RUNS runs: min / median / max; a target is judged on the median
// unless it says "every run" or "max")

interface References {
  /** Raw @sigstore/verify loop, ms per run. */
  ref: Stat;
  /** Crypto floor, ms per run (one thread). */
  floor: Stat | null;
  cores: number;
}

function ratio(x: Stat, refMed: number): string {
  return `${(x.med / refMed).toFixed(3)}× (${(x.min / refMed).toFixed(3)}–${(x.max / refMed).toFixed(3)})`;
}

/** Fresh data caches and no identity lockfile: a first run of the product on this machine. */
function clearCaches(env: Env): void {
  rmSync(join(env.dir, 'cache'), { recursive: true, force: true });
  rmSync(join(env.dir, 'conda-attest.lock'), { force: true });
}

async function environmentFigures(env: Env, refs: References, targets: { cold: number; warm: number; rssMb: number }): Promise<void> {
  const n = env.channel.packages.length;
  const refCol = `${ms(refs.ref.med)} raw loop`;
  const colds: VerifyRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    clearCaches(env);
    const r = await cliVerify(env.dir, env.config, env.explicit);
    if (r.notReady) {
      for (const f of [`cold verify, ${n} pkgs`, `warm verify, ${n} pkgs`, `peak RSS, ${n} pkgs (cold)`]) {
        rows.push({ figure: f, measured: 'n/a (cli not ready)', reference: refCol, ratio: '-', target: '-', verdict: 'n/a', note: r.notReady });
      }
      return;
    }
    colds.push(r);
  }
  const bad = colds.find((r) => r.verified !== n);
  const sanity = bad ? `only ${bad.verified}/${n} verified (exit ${bad.code})` : undefined;
  const cold = stat(colds.map((r) => r.wallMs));
  rows.push({
    figure: `cold verify, ${n} pkgs`,
    measured: mmm(cold),
    reference: refCol,
    ratio: ratio(cold, refs.ref.med),
    target: `≤ ${targets.cold.toFixed(2)}×`,
    verdict: cold.med / refs.ref.med <= targets.cold && !sanity ? 'PASS' : 'MISS',
    note: sanity,
  });
  if (refs.floor) {
    const perCore = (refs.floor.med * (n / N)) / refs.cores;
    rows.push({
      figure: `cold verify vs crypto floor ÷ ${refs.cores} cores`,
      measured: mmm(cold),
      reference: `${ms(perCore)} floor÷cores`,
      ratio: `${(cold.med / perCore).toFixed(1)}× (${(cold.min / perCore).toFixed(1)}–${(cold.max / perCore).toFixed(1)})`,
      target: '(info)',
      verdict: 'n/a',
    });
  }
  const warms: VerifyRun[] = [];
  for (let i = 0; i < RUNS; i++) warms.push(await cliVerify(env.dir, env.config, env.explicit));
  const wbad = warms.find((r) => r.notReady || r.verified !== n);
  const warmSanity = wbad ? (wbad.notReady ?? `only ${wbad.verified}/${n} verified (exit ${wbad.code})`) : undefined;
  const warm = stat(warms.map((r) => r.wallMs));
  rows.push({
    figure: `warm verify, ${n} pkgs`,
    measured: mmm(warm),
    reference: refCol,
    ratio: ratio(warm, refs.ref.med),
    target: `≤ ${targets.warm.toFixed(2)}×`,
    verdict: warm.med / refs.ref.med <= targets.warm && !warmSanity ? 'PASS' : 'MISS',
    note: warmSanity,
  });
  const rss = colds.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  rows.push({
    figure: `peak RSS, ${n} pkgs (cold)`,
    measured: rss.length ? mmm(stat(rss), mb) : 'unmeasured',
    reference: '-',
    ratio: '-',
    target: `≤ ${targets.rssMb} MB max`,
    verdict: rss.length === 0 ? 'n/a' : Math.max(...rss) / 1024 <= targets.rssMb ? 'PASS' : 'MISS',
  });
  const wrss = warms.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  if (wrss.length) rows.push({ figure: `peak RSS, ${n} pkgs (warm)`, measured: mmm(stat(wrss), mb), reference: '-', ratio: '-', target: '(info)', verdict: 'n/a' });
}

/** Wall time of a bare `node` run: the start-up no launcher can go below. */
async function bareNode(times: number): Promise<Stat> {
  const xs: number[] = [];
  for (let i = 0; i < times; i++) xs.push((await runNode(['-e', '0'], { cwd: tmpdir(), noTime: true })).wallMs);
  return stat(xs);
}

async function startupFigures(env: Env | null): Promise<void> {
  const times = Math.max(10, RUNS);
  const bare = await bareNode(times);
  const version: number[] = [];
  for (let i = 0; i < times; i++) {
    const r = await runNode([CLI, '--version'], { cwd: tmpdir(), noTime: true });
    if (r.code !== 0) {
      rows.push({ figure: 'conda-attest --version', measured: 'n/a (cli not ready)', reference: '-', ratio: '-', target: '≤ 60 ms p50, ≤ 80 ms max', verdict: 'n/a', note: r.stderr.split('\n')[0] });
      return;
    }
    version.push(r.wallMs);
  }
  const v = stat(version);
  rows.push({
    figure: `conda-attest --version (${times} runs)`,
    measured: mmm(v),
    reference: `${ms(bare.med)} node -e 0`,
    ratio: '-',
    target: '≤ 60 ms p50, ≤ 80 ms max',
    verdict: v.med <= 60 && v.max <= 80 ? 'PASS' : 'MISS',
  });
  if (!env) return;
  const one: number[] = [];
  let note: string | undefined;
  const runs = Math.max(5, RUNS);
  for (let i = 0; i < runs; i++) {
    const r = await cliVerify(env.dir, env.config, env.oneExplicit, [], true);
    if (r.notReady) {
      rows.push({ figure: 'one package, warm', measured: 'n/a (cli not ready)', reference: '-', ratio: '-', target: '≤ 100 ms', verdict: 'n/a', note: r.notReady });
      return;
    }
    if (r.verified !== 1) note = `verified ${r.verified}/1 (exit ${r.code})`;
    one.push(r.wallMs);
  }
  const o = stat(one);
  rows.push({ figure: `one package, warm (${runs} runs)`, measured: mmm(o), reference: `${ms(bare.med)} node -e 0`, ratio: '-', target: '≤ 100 ms', verdict: o.med <= 100 && !note ? 'PASS' : 'MISS', note });
}

async function downloadFigures(sigstore: LocalSigstore): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-dl-'));
  const sizeNote = `${DOWNLOAD_MIB} MiB package`;
  const target = '≥ 0.90× speed every run';
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
    const haveCurl = which('curl') && which('openssl');
    const curl: number[] = [];
    const ours: VerifyRun[] = [];
    const ratios: number[] = [];
    // Interleaved, so both see the same machine load.
    for (let i = 0; i < RUNS; i++) {
      let c: number | null = null;
      if (haveCurl) {
        const r = await shell(`curl -sS --noproxy '*' ${big.url} | openssl dgst -sha256`);
        if (r.code === 0 && r.stdout.includes(big.sha256)) c = r.wallMs;
        else log(`curl | openssl failed or gave another digest: ${r.stdout.trim()}`);
      }
      rmSync(join(dir, 'cache'), { recursive: true, force: true });
      const run = await cliVerify(dir, config, explicit, ['--download']);
      if (run.notReady) {
        rows.push({ figure: `--download, ${sizeNote}`, measured: 'n/a (cli not ready)', reference: '-', ratio: '-', target, verdict: 'n/a', note: run.notReady });
        return;
      }
      ours.push(run);
      if (c !== null) {
        curl.push(c);
        ratios.push(c / run.wallMs);
      }
    }
    const w = stat(ours.map((r) => r.wallMs));
    const bad = ours.find((r) => r.verified !== 1);
    const sanity = bad ? `verified ${bad.verified}/1 (exit ${bad.code})` : undefined;
    const mibps = (x: number) => `${((DOWNLOAD_MIB * 1000) / x).toFixed(0)}`;
    const rs = ratios.length ? stat(ratios) : null;
    const cs = curl.length ? stat(curl) : null;
    rows.push({
      figure: `--download, ${sizeNote}`,
      measured: `${mmm(w)} (${mibps(w.med)} MiB/s)`,
      reference: cs ? `${ms(cs.med)} curl|openssl (${mibps(cs.med)} MiB/s)` : 'no curl/openssl',
      ratio: rs ? `${rs.med.toFixed(2)}× speed (${rs.min.toFixed(2)}–${rs.max.toFixed(2)})` : '-',
      target,
      verdict: rs === null ? 'n/a' : rs.min >= 0.9 && !sanity ? 'PASS' : 'MISS',
      note: sanity,
    });
    const rss = ours.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
    rows.push({
      figure: `peak RSS, --download ${DOWNLOAD_MIB} MiB`,
      measured: rss.length ? mmm(stat(rss), mb) : 'unmeasured',
      reference: '-',
      ratio: '-',
      target: '≤ 150 MB max',
      verdict: rss.length === 0 ? 'n/a' : Math.max(...rss) / 1024 <= 150 ? 'PASS' : 'MISS',
    });
  } finally {
    await big?.close();
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The references: raw @sigstore/verify, the crypto floor, the second verifier

async function references(sigstore: LocalSigstore, env: Env): Promise<References> {
  const cores = availableParallelism();
  const sidecarBytesList = env.channel.packages.map((p) => p.sidecar!);
  const refRuns: ReferenceResult[] = [];
  for (let i = 0; i < RUNS; i++) refRuns.push(reference(sidecarBytesList, sigstore.trustedRoot));
  const bundles = refRuns[0]!.bundles;
  const ref = stat(refRuns.map((r) => r.wallMs));
  refLines.push(`raw @sigstore/verify, sequential loop in one thread: ${mmm(ref)} for ${bundles} bundles (${(ref.med / bundles).toFixed(2)} ms/bundle median; trust material once per run)`);

  const parsed = sidecarBytesList.map((b) => JSON.parse(b.toString('utf8')) as unknown[]);
  let floor: Stat | null = null;
  try {
    const { prepareFloor, runFloor } = await import('./floor.ts');
    const prepared = prepareFloor({ sidecars: parsed, trustedRoot: sigstore.trustedRoot as never });
    const runs = Array.from({ length: RUNS }, () => runFloor(prepared));
    floor = stat(runs.map((r) => r.ms));
    const r0 = runs[0]!;
    refLines.push(
      `crypto floor (leaf-by-CA, SCT, SET/checkpoint, DSSE; node:crypto, one thread): ${mmm(floor)} for ${r0.bundles} bundles, ${r0.signatures} signatures ` +
        `(${(floor.med / r0.bundles).toFixed(3)} ms/bundle; ${r0.allPassed}/${r0.bundles} bundles pass all four); floor ÷ ${cores} cores = ${ms(floor.med / cores)}`,
    );
  } catch (e) {
    refLines.push(`crypto floor: not measured (${e instanceof Error ? e.message : String(e)})`);
  }

  try {
    const { interopCases, omitsZeroLogIndex, runPeer, tamperCases, withExplicitDefaults } = await import('./peer.ts');
    const { DEFAULT_SAN, GITHUB_ISSUER } = await import('../test/helpers/sigstore.ts');
    const base = { trustedRoot: sigstore.trustedRoot, identity: DEFAULT_SAN, issuer: GITHUB_ISSUER };
    const asServed = await runPeer({ ...base, sidecars: parsed });
    const explicit = parsed.map((l) => l.map(withExplicitDefaults));
    const peerRuns = [];
    for (let i = 0; i < RUNS; i++) peerRuns.push(await runPeer({ ...base, sidecars: explicit }));
    const peer = stat(peerRuns.map((r) => r.ms));
    const p0 = peerRuns[0]!;
    refLines.push(
      `@freedomofpress/sigstore-browser (WebCrypto, in Node): ${mmm(peer)} for ${p0.bundles} bundles (${(peer.med / p0.bundles).toFixed(2)} ms/bundle median, ` +
        `${(peer.med / ref.med).toFixed(2)}× the raw loop)`,
    );
    refLines.push(...peerVerdictLines(parsed, asServed, p0, bundles, omitsZeroLogIndex));
    const tamperLines = (cases: Awaited<ReturnType<typeof tamperCases>>, indent: string): string[] =>
      cases.map(
        (c) =>
          `${indent}${c.name}: @sigstore/verify ${c.referenceRejects ? 'rejects' : 'accepts'}, peer ${c.peerRejects ? 'rejects' : 'accepts'}` +
          `${c.peerError ? ` ("${c.peerError.slice(0, 90)}")` : ''}${c.referenceRejects === c.peerRejects ? '' : '  <- DISAGREEMENT'}`,
      );
    const cases = await tamperCases({ ...base, sidecars: explicit });
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
  return { ref, floor, cores };
}
const refLines: string[] = [];

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
  const lines = [
    `  verdicts as served: raw @sigstore/verify accepts ${referenceAccepted}/${asServed.bundles}, the peer ${asServed.accepted}/${asServed.bundles}; ` +
      `they disagree on ${asServed.bundles - asServed.accepted} bundle(s):`,
    `    peer limitation (not a verdict on the signature): ${limitation} bundle(s) whose inclusion proof omits logIndex "0" (proto3 JSON leaves a default out; ` +
      `the peer reads it as absent${limitationMessage ? `: "${limitationMessage.slice(0, 60)}"` : ''}) and which the peer accepts once "0" is written out`,
    `    other disagreements: ${disagreements.length}${disagreements.length ? ` (${disagreements.slice(0, 3).join('; ')}${disagreements.length > 3 ? '; …' : ''})` : ''}`,
    `    bundles that do not rely on the default: ${withoutDefault}, accepted by both: ${withoutDefaultAccepted}` +
      (withoutDefault === 0 ? ' (the local Rekor puts every entry at index 0 of its own tree; see the real bundle below)' : ''),
    `  verdicts with proto3 defaults written out: the peer accepts ${asServed.bundles - explicit.rejections.flat().filter((r) => r !== null).length}/${asServed.bundles}`,
  ];
  return lines;
}

// ---------------------------------------------------------------------------
// The means, measured in-process

async function meansFigures(env: Env, trustedRoot: object, referenceMs: number): Promise<void> {
  const { measureMeans } = await import('./means.ts');
  const lines = await measureMeans({
    sidecars: env.channel.packages.map((p) => ({ bytes: p.sidecar!, sha256: p.sidecarSha256!, filename: p.filename, pkgSha256: p.sha256 })),
    channel: env.channel.url,
    trustedRoot,
    referenceMs,
    dir: env.dir,
  });
  means.push(...lines);
}
const means: string[] = [];

// ---------------------------------------------------------------------------

function printTable(): void {
  const head: Row = { figure: 'figure', measured: 'measured (min / median / max)', reference: 'reference (median)', ratio: 'ratio: median (min–max)', target: 'target', verdict: 'n/a' };
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
    `conda-attest bench: N=${N}, ${RUNS} runs per figure, ${availableParallelism()} cores, node ${process.version}, ` +
      `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, RSS via ${TIME_BIN ? 'GNU time' : '/proc VmHWM polling'}\n`,
  );
  const sigstore = await startLocalSigstore();
  const envs: Env[] = [];
  try {
    const env = await buildEnvironment(sigstore, N, 'bench-channel');
    envs.push(env);
    const refs = await references(sigstore, env);
    process.stdout.write(`\nreferences (same ${N} packages, in the bench process):\n${refLines.map((l) => `  ${l}`).join('\n')}\n`);
    await environmentFigures(env, refs, { cold: 0.2, warm: 0.02, rssMb: 200 });
    await startupFigures(env);
    await downloadFigures(sigstore);
    if (LARGE) {
      const big = await buildEnvironment(sigstore, 10_000, 'bench-channel-10k');
      envs.push(big);
      const bigSidecars = big.channel.packages.map((p) => p.sidecar!);
      const bigRef = stat([reference(bigSidecars, sigstore.trustedRoot).wallMs]);
      await environmentFigures(big, { ref: bigRef, floor: null, cores: refs.cores }, { cold: 0.1, warm: 0.02, rssMb: 350 });
    }
    await meansFigures(env, sigstore.trustedRoot, refs.ref.med);
    printTable();
    if (means.length) process.stdout.write(`\nmeans (measured in the bench process, same ${N} bundles):\n${means.map((l) => `  ${l}`).join('\n')}\n`);
    process.stdout.write(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
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
