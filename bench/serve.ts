// `npm run bench:serve`: `conda-attest serve` (the published bin over dist/, as users run it:
// the launcher's V8 flags included; `npm run bench:serve` builds first) in front
// of loopback channels signed by the local Sigstore instance:
//   1. throughput: one large package (BENCH_SERVE_MIB, default 1024 = 1 GiB) downloaded
//      direct and through the proxy (median of BENCH_RUNS): target ≥ 0.9× direct;
//   2. latency: 1,000 packages (BENCH_SERVE_N) fetched by 50 concurrent clients (BENCH_SERVE_CLIENTS),
//      direct and through the proxy, cold (first verification, one pass) and warm (BENCH_RUNS
//      rounds of a direct pass then a proxied one, the median of the rounds); p50/p99 added
//      latency per package;
//   3. memory: the proxy's RSS (VmRSS / VmHWM of its process) after serving 10% of the
//      packages and after all of them: flat in the number of packages served.
// A benchmark, not a test: figures with their targets, exit 0 unless the harness breaks.
// Its last stdout line is `BENCH_ROWS <json>` (the rows bench/run.ts puts in its table);
// BENCH_QUICK=1 (`npm run bench -- --quick`) uses 64 MiB and 200 packages.
// Every network access is to 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import { startLocalSigstore } from '../test/helpers/sigstore.ts';
import { startBigPackageServer } from './big-package.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(ROOT, 'bin', 'conda-attest.js');
const num = (v: string | undefined, d: number): number => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : d);
const QUICK = process.env.BENCH_QUICK === '1';
const MIB = num(process.env.BENCH_SERVE_MIB, QUICK ? 64 : 1024);
const N = num(process.env.BENCH_SERVE_N, QUICK ? 200 : 1000);
const CLIENTS = num(process.env.BENCH_SERVE_CLIENTS, 50);
// Throughput rounds (direct, then through the proxy, interleaved): at least 5, the ratio
// taken per round (both legs under the same load) and its median reported.
const RUNS = Math.max(5, num(process.env.BENCH_RUNS, 5));

const log = (s: string): void => void process.stderr.write(`bench:serve: ${s}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** GET a URL, discard the body; ms from request to last byte and the bytes received. */
function fetchTimed(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const t0 = performance.now();
  return new Promise((resolveFetch, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolveFetch({ ms: performance.now() - t0, bytes, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Run `items` through `clients` concurrent workers. */
async function pool<T, R>(items: T[], clients: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(clients, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function startProxy(dir: string, config: unknown): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [CLI, 'serve', '--config', 'config.json', '--listen', '127.0.0.1:0', '--no-tuf-refresh', '--log-format', 'text'], {
    cwd: dir,
    env: { ...process.env, HOME: dir, XDG_CACHE_HOME: join(dir, 'xdg-cache') },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+) /.exec(out);
      if (m) ok(m[1]!);
    });
    child.on('exit', (code) => fail(new Error(`serve exited with ${code}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

const rows: string[][] = [['figure', 'measured', 'target', '']];
/** The same figures for bench/run.ts's table (the `BENCH_ROWS` protocol). */
const benchRows: { figure: string; value: number; unit: string; baseline?: string; goal?: string; runs?: number; spread?: string }[] = [];
const mibps = (bytes: number, ms: number): number => bytes / (1 << 20) / (ms / 1000);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-serve-'));
  const sig = await startLocalSigstore();
  try {
    // 1. Throughput.
    const t0 = performance.now();
    const big = await startBigPackageServer(sig, MIB);
    log(`generated and signed a ${MIB} MiB package in ${Math.round(performance.now() - t0)} ms`);
    const identities = ['https://github.com/test-org/**'];
    const bigProxy = await startProxy(dir, {
      trust_root: sig.trustedRootPath,
      cache_dir: join(dir, 'cache-big'),
      lockfile: join(dir, 'big.lock'),
      channels: { [big.channelUrl]: { require: 'error', trusted_identities: identities } },
    });
    const viaProxy = `${bigProxy.url}/big/noarch/${big.filename}`;
    const first = await fetchTimed(viaProxy); // verification and pinning, not timed below
    if (first.status !== 200 || first.bytes !== big.size) throw new Error(`proxy answered ${first.status} with ${first.bytes} bytes`);
    const direct: number[] = [];
    const proxied: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      direct.push(mibps(big.size, (await fetchTimed(big.url)).ms));
      proxied.push(mibps(big.size, (await fetchTimed(viaProxy)).ms));
    }
    const perRun = proxied.map((p, i) => p / direct[i]!);
    const ratio = median(perRun);
    rows.push([`${MIB} MiB direct, MiB/s (median of ${RUNS})`, median(direct).toFixed(0), '', '']);
    rows.push([`${MIB} MiB through the proxy, MiB/s`, median(proxied).toFixed(0), '', '']);
    rows.push(['proxy ÷ direct (median of the rounds\' ratios)', ratio.toFixed(2), '≥ 0.90', ratio >= 0.9 ? 'PASS' : 'MISS']);
    benchRows.push({
      figure: `serve: ${MIB} MiB through the proxy ÷ direct`,
      value: Number(ratio.toFixed(2)),
      unit: '×',
      baseline: `direct loopback ${median(direct).toFixed(0)} MiB/s`,
      goal: '≥ 0.90×',
      runs: RUNS,
      spread: `${Math.min(...perRun).toFixed(2)}–${Math.max(...perRun).toFixed(2)}`,
    });
    const peakMb = Math.round(rssOf(bigProxy.child.pid!).hwm / (1 << 20));
    rows.push([`proxy RSS after ${MIB} MiB (peak)`, `${peakMb} MB`, '', '']);
    benchRows.push({ figure: `serve: peak RSS of the proxy after ${RUNS + 1} × ${MIB} MiB`, value: peakMb, unit: 'MB', runs: 1 });
    await bigProxy.stop();
    await big.close();

    // 2 and 3. Latency and memory over N packages.
    const t1 = performance.now();
    const ch = await startFixtureChannel({
      name: 'many',
      sigstore: sig,
      packages: Array.from({ length: N }, (_, i) => ({ spec: { name: `pkg${i}`, version: '1.0', files: { [`lib/pkg${i}.txt`]: `package ${i}` } } })),
    });
    log(`built a channel of ${N} signed packages in ${Math.round(performance.now() - t1)} ms`);
    const proxy = await startProxy(dir, {
      trust_root: sig.trustedRootPath,
      cache_dir: join(dir, 'cache-many'),
      lockfile: join(dir, 'many.lock'),
      channels: { [ch.url]: { require: 'error', trusted_identities: identities } },
    });
    const files = ch.packages.map((p) => `noarch/${p.filename}`);
    const tenth = files.slice(0, Math.max(1, Math.floor(N / 10)));
    const directMs = (await pool(files, CLIENTS, (f) => fetchTimed(`${ch.url}/${f}`))).map((r) => r.ms);
    const coldTenth = await pool(tenth, CLIENTS, (f) => fetchTimed(`${proxy.url}/many/${f}`));
    const memTenth = rssOf(proxy.child.pid!);
    const cold = [...coldTenth, ...(await pool(files.slice(tenth.length), CLIENTS, (f) => fetchTimed(`${proxy.url}/many/${f}`)))];
    const memAll = rssOf(proxy.child.pid!);
    const tWarm = performance.now();
    const warm = await pool(files, CLIENTS, (f) => fetchTimed(`${proxy.url}/many/${f}`));
    const warmWallMs = performance.now() - tWarm;
    const memWarm = rssOf(proxy.child.pid!);
    // Warm added latency moves with the load of the moment: RUNS more rounds, each a direct
    // pass then a warm pass (both under the same load), the difference taken per round.
    const warmRounds: { p50: number; p99: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const d = (await pool(files, CLIENTS, (f) => fetchTimed(`${ch.url}/${f}`))).map((r) => r.ms);
      const round = await pool(files, CLIENTS, (f) => fetchTimed(`${proxy.url}/many/${f}`));
      warm.push(...round);
      const w = round.map((r) => r.ms);
      warmRounds.push({ p50: pct(w, 50) - pct(d, 50), p99: pct(w, 99) - pct(d, 99) });
    }
    const refused = [...cold, ...warm].filter((r) => r.status !== 200).length;
    if (refused) throw new Error(`${refused} requests through the proxy were not 200`);
    const added = (xs: number[]): string => `p50 ${(pct(xs, 50) - pct(directMs, 50)).toFixed(1)} ms, p99 ${(pct(xs, 99) - pct(directMs, 99)).toFixed(1)} ms`;
    const coldMs = cold.map((r) => r.ms);
    const warmMs = warm.slice(0, N).map((r) => r.ms);
    rows.push([`${CLIENTS} clients × ${N} packages, direct`, `p50 ${pct(directMs, 50).toFixed(1)} ms, p99 ${pct(directMs, 99).toFixed(1)} ms`, '', '']);
    rows.push([`  through the proxy, cold (verified now)`, `p50 ${pct(coldMs, 50).toFixed(1)} ms, p99 ${pct(coldMs, 99).toFixed(1)} ms`, '', '']);
    rows.push([`  added latency, cold`, added(coldMs), '', '']);
    rows.push([`  through the proxy, warm (cached verdicts)`, `p50 ${pct(warmMs, 50).toFixed(1)} ms, p99 ${pct(warmMs, 99).toFixed(1)} ms`, '', '']);
    rows.push([`  added latency, warm`, added(warmMs), '', '']);
    const warmP = (p: 'p50' | 'p99') => warmRounds.map((r) => r[p]);
    rows.push([`  added latency, warm, median of ${RUNS} paired rounds`, `p50 ${median(warmP('p50')).toFixed(1)} ms, p99 ${median(warmP('p99')).toFixed(1)} ms`, '', '']);
    const mb = (b: number): string => `${(b / (1 << 20)).toFixed(0)} MB`;
    const growth = memAll.rss / memTenth.rss;
    rows.push([`proxy RSS after ${tenth.length} / ${N} / ${N} warm packages`, `${mb(memTenth.rss)} / ${mb(memAll.rss)} / ${mb(memWarm.rss)}`, '', '']);
    rows.push([`RSS growth ${tenth.length} → ${N} packages`, `×${growth.toFixed(2)}`, '≤ ×1.5 (flat)', growth <= 1.5 ? 'PASS' : 'MISS']);
    const base = `direct p50 ${pct(directMs, 50).toFixed(1)} ms, p99 ${pct(directMs, 99).toFixed(1)} ms`;
    for (const p of [50, 99] as const) {
      // Cold happens once per proxy: one pass, against the direct pass just before it.
      benchRows.push({ figure: `serve: added latency p${p}, cold, ${CLIENTS} clients × ${N} pkgs`, value: Number((pct(coldMs, p) - pct(directMs, p)).toFixed(1)), unit: 'ms', baseline: base, runs: 1 });
    }
    for (const p of ['p50', 'p99'] as const) {
      const xs = warmP(p);
      benchRows.push({
        figure: `serve: added latency ${p}, warm, ${CLIENTS} clients × ${N} pkgs`,
        value: Number(median(xs).toFixed(1)),
        unit: 'ms',
        baseline: 'a direct pass before each warm pass',
        runs: RUNS,
        spread: `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} ms`,
      });
    }
    benchRows.push({ figure: `serve: throughput, ${CLIENTS} clients, warm`, value: Math.round((N * 1000) / warmWallMs), unit: 'pkg/s', runs: 1 });
    benchRows.push({ figure: `serve: RSS growth ${tenth.length} → ${N} pkgs`, value: Number(growth.toFixed(2)), unit: '×', baseline: `${mb(memTenth.rss)} after ${tenth.length}`, goal: '≤ 1.5×', runs: 1 });
    await proxy.stop();
    await ch.close();
  } finally {
    await sig.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd() + '\n');
  process.stdout.write(`BENCH_ROWS ${JSON.stringify(benchRows)}\n`);
}

await main();
