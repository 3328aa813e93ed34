// `npm run bench:memory` (or `node bench/memory.ts [CASE...]`): peak RSS and CPU time of
// `conda-attest verify` on hostile or huge input. A benchmark, not a test: it prints
// figures against the goal (peak RSS ≤ 400 MB each) and exits 0 unless the harness breaks.
//
//   bomb        repodata.json.zst that decodes to 1.1 GiB (a compression bomb)
//   repodata    a 200 MB repodata.json (≈ 450,000 records) for one package lookup
//   records     repodata.json.zst of VALID records up to just under the 1 GiB decode cap
//               (a bomb of distinct, well-formed records: nothing to reject early)
//   pixi        a pixi.lock (v6) of 50,000 packages, every channel disabled (parse + report)
//   sidecar     one 9 MiB sidecar (the real public-good interop bundle, repeated), --sigs
//
// Every network access is to 127.0.0.1; HTTPS is pointed at a dead proxy so nothing leaks.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createZstdCompress } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(ROOT, 'src', 'cli', 'run.ts');
const PRELOAD = join(ROOT, 'bench', 'rusage-preload.ts');
const INTEROP = join(ROOT, '..', 'shared', 'interop');
const GOAL_MB = 400;
let dir = '';
const MiB = 1 << 20;
/** Bytes of the package verified in the repodata cases (only its digest matters). */
const PKG_BYTES = Buffer.from('not really a conda archive\n');

/** A prepared case: run `conda-attest <args>` in `cwd` with `env`; `close` stops its server. */
export interface Prepared {
  cwd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  what: string;
  close: () => void;
}

/**
 * The environment of a case's CLI run: a fresh HOME and cache in the workspace (no user
 * config or cache of this machine takes part), HTTPS pointed at a dead proxy so nothing
 * leaves the machine, loopback exempted.
 */
export function isolatedEnv(ws: string): NodeJS.ProcessEnv {
  return { HOME: ws, XDG_CACHE_HOME: join(ws, 'xdg-cache'), XDG_CONFIG_HOME: join(ws, 'xdg-config'), HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1', NODE_USE_ENV_PROXY: '1', NO_COLOR: '1' };
}

interface Usage {
  maxRSS: number;
  userCPUTime: number;
  systemCPUTime: number;
}

async function run(name: string, args: string[], cwd: string): Promise<{ code: number | null; usage: Usage; ms: number; stderr: string; stdout: string }> {
  const out = join(dir, `${name}.rusage.json`);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', PRELOAD, CLI, ...args], {
    cwd,
    env: { ...process.env, ...isolatedEnv(cwd), CONDA_ATTEST_RUSAGE_OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  return { code, usage: JSON.parse(readFileSync(out, 'utf8')) as Usage, ms: performance.now() - started, stderr, stdout };
}

function listen(server: Server): Promise<string> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function config(cwd: string, channel: string): void {
  writeFileSync(join(cwd, '.conda-attestrc.json'), JSON.stringify({ trust_root: 'public-good', channels: { [channel]: { require: 'error', discovery: ['repodata'] } }, http: { retries: 0 } }));
}

/** A channel on loopback whose linux-64 serves `files` (path → file on disk); everything else 404. */
async function channelServing(files: Record<string, string>): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    const file = files[(req.url ?? '').split('?')[0]];
    if (process.env.BENCH_DEBUG) process.stderr.write(`${req.method} ${req.url} ${file ? 200 : 404}\n`);
    if (!file) return void res.writeHead(404, { 'content-length': '0' }).end();
    res.writeHead(200, { 'content-length': String(statSync(file).size) });
    void pipeline(createReadStream(file), res).catch(() => undefined);
  });
  const url = await listen(server);
  return { url, close: () => (server.closeAllConnections(), server.close()) };
}

async function bomb(): Promise<string> {
  const ws = mkdtempSync(join(dir, 'bomb-'));
  const zst = join(ws, 'repodata.json.zst');
  // 1.1 GiB of valid-looking JSON prefix and whitespace, compressed as a stream.
  async function* body() {
    yield Buffer.from('{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{');
    const spaces = Buffer.alloc(64 * MiB, 0x20);
    for (let i = 0; i < 18; i++) yield spaces;
    yield Buffer.from('}}');
  }
  await pipeline(Readable.from(body()), createZstdCompress(), createWriteStream(zst));
  const pkgFile = join(ws, 'x-1.0-0.conda');
  writeFileSync(pkgFile, PKG_BYTES);
  const ch = await channelServing({ '/ch/linux-64/repodata.json.zst': zst, '/ch/linux-64/x-1.0-0.conda': pkgFile });
  try {
    config(ws, `${ch.url}/ch`);
    const r = await run('bomb', ['verify', '--json', `${ch.url}/ch/linux-64/x-1.0-0.conda`], ws);
    return line('repodata.json.zst bomb (1.1 GiB decoded)', r, `${(readFileSync(zst).length / 1024).toFixed(0)} KiB on the wire`);
  } finally {
    ch.close();
  }
}

/** A workspace whose CLI run looks up one package in a `mb` MB repodata.json (≈ 2,250 records per MB). */
export async function prepareRepodata(parent: string, mb: number): Promise<Prepared> {
  const ws = mkdtempSync(join(parent, 'repodata-'));
  const file = join(ws, 'repodata.json');
  const target = 'target-1.0-0.conda';
  const out = createWriteStream(file);
  out.write('{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{');
  let size = 0;
  let i = 0;
  while (size < mb * 1000 * 1000) {
    const name = i === 0 ? target : `pkg${i}-1.${i % 97}-h${(i * 7919).toString(16)}_0.conda`;
    const rec = JSON.stringify({
      build: `h${(i * 7919).toString(16)}_0`,
      build_number: 0,
      depends: ['libgcc-ng >=12', 'python >=3.10,<3.11.0a0', 'python_abi 3.10.* *_cp310'],
      license: 'BSD-3-Clause',
      md5: createHash('md5').update(name).digest('hex'),
      name: `pkg${i}`,
      sha256: i === 0 ? createHash('sha256').update(PKG_BYTES).digest('hex') : createHash('sha256').update(name).digest('hex'),
      size: i === 0 ? PKG_BYTES.length : 123456 + i,
      subdir: 'linux-64',
      timestamp: 1700000000000 + i,
      version: `1.${i % 97}`,
      attestations_sha256: createHash('sha256').update(`att${i}`).digest('hex'),
    });
    const chunk = `${i === 0 ? '' : ','}${JSON.stringify(name)}:${rec}`;
    size += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    i++;
  }
  out.end('}}');
  await new Promise<void>((r) => out.on('finish', () => r()));
  const pkgFile = join(ws, target);
  writeFileSync(pkgFile, PKG_BYTES);
  const ch = await channelServing({ '/ch/linux-64/repodata.json': file, [`/ch/linux-64/${target}`]: pkgFile });
  config(ws, `${ch.url}/ch`);
  return { cwd: ws, args: ['verify', '--json', `${ch.url}/ch/linux-64/${target}`], env: isolatedEnv(ws), what: `repodata.json ${(size / 1e6).toFixed(0)} MB (${i} records)`, close: ch.close };
}

async function repodata(): Promise<string> {
  const p = await prepareRepodata(dir, Number(process.env.BENCH_REPODATA_MB ?? 200));
  try {
    return line(p.what, await run('repodata', p.args, p.cwd));
  } finally {
    p.close();
  }
}

async function records(): Promise<string> {
  const ws = mkdtempSync(join(dir, 'records-'));
  const zst = join(ws, 'repodata.json.zst');
  const target = 'target-1.0-0.conda';
  const limit = Number(process.env.BENCH_RECORDS_MB ?? 1000) * 1e6; // under the 1 GiB (1073.7 MB) cap
  const one = JSON.stringify({ build: 'h0_0', depends: ['python >=3.10'], md5: 'c'.repeat(32), sha256: 'd'.repeat(64), size: 1, attestations_sha256: 'e'.repeat(64) });
  let n = 0;
  async function* body() {
    yield Buffer.from(`{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{${JSON.stringify(target)}:${JSON.stringify({ sha256: createHash('sha256').update(PKG_BYTES).digest('hex'), size: PKG_BYTES.length })}`);
    let size = 0;
    while (size < limit) {
      let chunk = '';
      for (let k = 0; k < 4096; k++) chunk += `,"r${n++}-1.0-0.conda":${one}`;
      size += chunk.length;
      yield Buffer.from(chunk);
    }
    yield Buffer.from('}}');
  }
  await pipeline(Readable.from(body()), createZstdCompress(), createWriteStream(zst));
  const pkgFile = join(ws, target);
  writeFileSync(pkgFile, PKG_BYTES);
  const ch = await channelServing({ '/ch/linux-64/repodata.json.zst': zst, [`/ch/linux-64/${target}`]: pkgFile });
  try {
    config(ws, `${ch.url}/ch`);
    const r = await run('records', ['verify', '--json', `${ch.url}/ch/linux-64/${target}`], ws);
    return line(`repodata.json.zst of ${(n / 1e6).toFixed(1)}M valid records (${(limit / 1e6).toFixed(0)} MB)`, r, `${(readFileSync(zst).length / 1e6).toFixed(1)} MB on the wire`);
  } finally {
    ch.close();
  }
}

/** A workspace with a pixi.lock (v6) of `n` packages, every channel disabled (parse + report). */
export function preparePixi(parent: string, n: number): Prepared {
  const ws = mkdtempSync(join(parent, 'pixi-'));
  const lines = ['version: 6', 'environments:', '  default:', '    channels:', '    - url: https://conda.example/forge/', '    packages:', '      linux-64:'];
  for (let i = 0; i < n; i++) lines.push(`      - conda: https://conda.example/forge/linux-64/pkg${i}-1.0-h${i.toString(16)}_0.conda`);
  lines.push('packages:');
  for (let i = 0; i < n; i++) {
    lines.push(
      `- conda: https://conda.example/forge/linux-64/pkg${i}-1.0-h${i.toString(16)}_0.conda`,
      `  sha256: '${createHash('sha256').update(String(i)).digest('hex')}'`,
      `  md5: '${createHash('md5').update(String(i)).digest('hex')}'`,
      '  depends:',
      '  - __glibc >=2.17,<3.0.a0',
      '  - libgcc >=13',
      '  license: MIT',
      `  size: ${1000 + i}`,
      `  timestamp: ${1700000000000 + i}`,
    );
  }
  writeFileSync(join(ws, 'pixi.lock'), lines.join('\n') + '\n');
  writeFileSync(join(ws, '.conda-attestrc.json'), JSON.stringify({ trust_root: 'public-good' }));
  const mb = (readFileSync(join(ws, 'pixi.lock')).length / 1e6).toFixed(1);
  return { cwd: ws, args: ['verify', '--json', 'pixi.lock'], env: isolatedEnv(ws), what: `pixi.lock ${n} packages (${mb} MB)`, close: () => undefined };
}

async function pixi(): Promise<string> {
  const p = preparePixi(dir, 50_000);
  return line(p.what, await run('pixi', p.args, p.cwd));
}

async function sidecar(): Promise<string> {
  if (!existsSync(INTEROP)) return 'sidecar: skipped (needs ../shared/interop)';
  const ws = mkdtempSync(join(dir, 'sidecar-'));
  const file = 'signed-package-2.1.0-hb0f4dca_0.conda';
  writeFileSync(join(ws, file), readFileSync(join(INTEROP, file)));
  const one = (JSON.parse(readFileSync(join(INTEROP, `${file}.sigs`), 'utf8')) as unknown[])[0];
  const oneText = JSON.stringify(one);
  const count = Math.floor((9 * MiB) / (oneText.length + 1));
  writeFileSync(join(ws, 'big.sigs'), `[${new Array(count).fill(oneText).join(',')}]`);
  writeFileSync(join(ws, '.conda-attestrc.json'), JSON.stringify({ trust_root: 'public-good', channels: { 'https://prefix.dev/sigstore-example': {} } }));
  const r = await run('sidecar', ['verify', '--json', '--offline', '--sigs', 'big.sigs', '--platform', 'linux-64', '--channel', 'https://prefix.dev/sigstore-example', file], ws);
  return line(`sidecar 9 MiB (${count} bundles)`, r);
}

function line(what: string, r: Awaited<ReturnType<typeof run>>, extra = ''): string {
  const mb = r.usage.maxRSS / 1024;
  const cpu = (r.usage.userCPUTime + r.usage.systemCPUTime) / 1e6;
  let status = '';
  try {
    const rep = JSON.parse(r.stdout) as { packages?: { status: string; reasons: { code: string }[] }[] };
    const p = rep.packages?.[0];
    status = rep.packages ? `${rep.packages.length} pkg, first: ${p?.status} ${p?.reasons.map((x) => x.code).join(',') ?? ''}` : '';
  } catch {
    status = r.stderr.trim().split('\n')[0]?.slice(0, 120) ?? '';
  }
  return `${what.padEnd(44)} peak RSS ${mb.toFixed(0).padStart(5)} MB ${mb <= GOAL_MB ? 'PASS' : 'MISS'}  CPU ${cpu.toFixed(2)} s  wall ${(r.ms / 1000).toFixed(1)} s  exit ${r.code}  ${status}${extra ? `  (${extra})` : ''}`;
}

const CASES: Record<string, () => Promise<string>> = { bomb, repodata, records, pixi, sidecar };
// Run as a script (`npm run bench:memory`); bench/run.ts imports the preparers above.
if (import.meta.main) {
  dir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-mem-'));
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(CASES);
  process.stdout.write(`conda-attest memory bench: node ${process.version}, goal peak RSS ≤ ${GOAL_MB} MB\n`);
  try {
    for (const c of wanted) {
      const f = CASES[c];
      if (!f) throw new Error(`unknown case ${c}; cases: ${Object.keys(CASES).join(', ')}`);
      process.stdout.write((await f()) + '\n');
    }
  } finally {
    if (process.env.BENCH_KEEP === '1') process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
