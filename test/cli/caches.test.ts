// The verdict and sidecar caches seen from the CLI: a warm run answers from the
// caches without fetching sidecars, gives the same report, and re-judges under a changed
// policy; --no-cache neither reads nor writes them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { startLocalSigstore, type LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel, type FixtureChannel } from '../helpers/channel.ts';
import { makeWorkspace, runCli, verifyJson, type Workspace } from '../helpers/e2e.ts';

let sigstore: LocalSigstore;
let channel: FixtureChannel;

before(async () => {
  sigstore = await startLocalSigstore();
  channel = await startFixtureChannel({
    sigstore,
    packages: [
      { spec: { name: 'alpha', version: '1.0', subdir: 'noarch' } },
      { spec: { name: 'beta', version: '2.0', subdir: 'noarch' } },
    ],
  });
});
after(async () => {
  await channel?.close();
  await sigstore?.close();
});

function setup(extra: Record<string, unknown> = {}): Workspace {
  const ws = makeWorkspace();
  ws.write('env.txt', channel.explicitFile());
  ws.writeConfig({ trust_root: sigstore.trustedRootPath, cache_dir: ws.path('cache'), channels: { [channel.url]: { require: 'error', ...extra } } });
  return ws;
}

const sidecarFetches = () => channel.requests.filter((r) => /\.sigs/.test(r.path)).length;

test('a warm run fetches no sidecar and reports the same verdicts', async (t) => {
  const ws = setup();
  t.after(() => ws.cleanup());
  const cold = await verifyJson(ws, ['env.txt']);
  assert.equal(cold.report.summary.verified, 2);
  assert.ok(readdirSync(ws.path('cache')).length > 0, 'the cold run filled the cache');
  const before = sidecarFetches();
  const warm = await verifyJson(ws, ['env.txt']);
  assert.equal(sidecarFetches(), before, 'no sidecar requests on a warm run');
  const strip = (r: typeof cold.report) => r.packages.map((p) => ({ ...p, notes: [] }));
  assert.deepEqual(strip(warm.report), strip(cold.report));
});

test('attack: a cached "verified" verdict does not survive a narrowed trusted_identities', async (t) => {
  const ws = setup();
  t.after(() => ws.cleanup());
  assert.equal((await verifyJson(ws, ['env.txt'])).report.summary.verified, 2);
  ws.writeConfig({
    trust_root: sigstore.trustedRootPath,
    cache_dir: ws.path('cache'),
    channels: { [channel.url]: { require: 'error', trusted_identities: ['https://github.com/somebody-else/*/.github/workflows/*.yml@*'] } },
  });
  const r = await verifyJson(ws, ['env.txt']);
  assert.equal(r.code, 1);
  assert.equal(r.report.summary.untrusted, 2);
});

test('--no-cache neither reads nor writes the caches', async (t) => {
  const ws = setup();
  t.after(() => ws.cleanup());
  const before = sidecarFetches();
  await verifyJson(ws, ['env.txt', '--no-cache']);
  await verifyJson(ws, ['env.txt', '--no-cache']);
  assert.equal(sidecarFetches() - before, 4, 'both runs fetched both sidecars');
  const left = existsSync(ws.path('cache')) ? readdirSync(ws.path('cache')).filter((d) => /verdict|sidecar/.test(d)) : [];
  assert.deepEqual(left, [], 'no verdict or sidecar cache written');
});

test('a pixi.lock read before gives the same reports from the memo of lockfiles read; --no-cache and a lost memo parse it', async (t) => {
  const ws = setup();
  t.after(() => ws.cleanup());
  // One package's recorded digest altered: it is blocked, so the reports point at its line.
  ws.write('pixi.lock', channel.pixiLock().replace(/sha256: [0-9a-f]{64}/, `sha256: ${'f'.repeat(64)}`));
  const memo = ws.path('cache', 'targets-read-v1');
  const remembered = () => (existsSync(memo) ? readdirSync(memo).length : 0);
  const cold = await runCli(ws, ['verify', '--json', 'pixi.lock']); // fills the caches and the memo
  assert.equal(cold.code, 1, cold.stderr);
  assert.equal(remembered(), 1, 'the lockfile read is remembered');
  const outputs = async () => {
    const json = await runCli(ws, ['verify', '--json', 'pixi.lock']);
    const text = await runCli(ws, ['verify', '--verbose', 'pixi.lock'], { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: ws.dir });
    // The text report's last line says how long the run took.
    return [json.code, json.stdout, text.code, text.stdout.replace(/ in \d+\.\ds/g, '')];
  };
  const fromMemo = await outputs();
  assert.equal(fromMemo[0], 1, String(fromMemo[1]));
  assert.match(String(fromMemo[3]), /::error file=pixi\.lock,line=\d+/, 'annotations on the lockfile lines');
  rmSync(memo, { recursive: true });
  const parsed = await outputs();
  assert.equal(remembered(), 1, 'remembered again');
  assert.deepEqual(fromMemo, parsed, 'byte for byte the reports of a parse');
  const noCache = await runCli(ws, ['verify', '--json', '--no-cache', 'pixi.lock']);
  assert.deepEqual(JSON.parse(noCache.stdout).packages.map((p: { filename: string; status: string }) => [p.filename, p.status]), JSON.parse(String(fromMemo[1])).packages.map((p: { filename: string; status: string }) => [p.filename, p.status]));
});

test('two runs at once on one cache directory: a warm run afterwards verifies nothing again, with the sidecars gone from the channel and the cache', async (t) => {
  const ch = await startFixtureChannel({ sigstore, packages: Array.from({ length: 12 }, (_, i) => ({ spec: { name: `p${i}`, version: '1.0', subdir: 'noarch' } })) });
  const ws = makeWorkspace();
  t.after(async () => {
    await ch.close();
    ws.cleanup();
  });
  const names = ch.packages.map((p) => p.filename);
  ws.write('a.txt', ch.explicitFile({ filenames: names.slice(0, 6) }));
  ws.write('b.txt', ch.explicitFile({ filenames: names.slice(6) }));
  ws.write('all.txt', ch.explicitFile());
  ws.writeConfig({ trust_root: sigstore.trustedRootPath, cache_dir: ws.path('cache'), lockfile: ws.path('a.lock'), channels: { [ch.url]: { require: 'error' } } }, 'a.json');
  ws.writeConfig({ trust_root: sigstore.trustedRootPath, cache_dir: ws.path('cache'), lockfile: ws.path('b.lock'), channels: { [ch.url]: { require: 'error' } } }, 'b.json');
  ws.writeConfig({ trust_root: sigstore.trustedRootPath, cache_dir: ws.path('cache'), lockfile: ws.path('all.lock'), channels: { [ch.url]: { require: 'error' } } }, 'all.json');
  const [a, b] = await Promise.all([verifyJson(ws, ['--config', 'a.json', 'a.txt']), verifyJson(ws, ['--config', 'b.json', 'b.txt'])]);
  assert.deepEqual([a.report.summary.verified, b.report.summary.verified], [6, 6]);
  // Only a verdict cached by one of the two runs can verify a package now.
  rmSync(ws.path('cache', 'sidecars-v2'), { recursive: true });
  for (const p of ch.packages) for (const r of ch.requests.filter((q) => q.path.includes(`${p.filename}.sigs`))) ch.setFault(r.path, { kind: 'status', status: 404 });
  ch.clearRequests();
  const warm = await verifyJson(ws, ['--config', 'all.json', 'all.txt']);
  assert.equal(warm.report.summary.verified, 12, JSON.stringify(warm.report.packages.filter((p) => p.status !== 'verified').map((p) => [p.filename, p.status])));
  assert.deepEqual(ch.requests.filter((r) => /\.sigs/.test(r.path)), [], 'no sidecar requested: every verdict was cached');
});
