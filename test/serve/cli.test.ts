// `conda-attest serve` as a command: start-up lines, the access log on stderr, the warning
// for plain HTTP beyond loopback, draining on SIGTERM (exit 0), route conflicts as
// CONFIG_INVALID, and the route/path rules (with a
// seeded property over hostile request targets).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { main } from '../../src/cli/main.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { buildRoutes, classify, upstreamUrl } from '../../src/serve/routes.ts';
import { CLI, NODE } from '../helpers/e2e.ts';
import { runInProcess } from '../helpers/cli-io.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';
import { GOOD, startServeFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
before(async () => {
  fx = await startServeFixture();
});
after(() => fx?.close());

test('serve prints one line per route and the listening line, logs JSON per request on stderr, warns beyond loopback without TLS, and drains on SIGTERM (exit 0)', async () => {
  const good = fx.ch.get(GOOD);
  // Slow upstream: the request is still streaming when SIGTERM arrives.
  fx.ch.setFault(good.url, { kind: 'slow', delayMs: 20, chunkBytes: 64 });
  const child = spawn(NODE, [CLI, 'serve', '--config', '.conda-attestrc.json', '--listen', '0.0.0.0:0', '--no-tuf-refresh'], { cwd: fx.ws.dir, env: fx.ws.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /listening on http:\/\/[^:]+:(\d+)/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const lines = stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.slice(0, 2).map((l) => l.replace(/:\d+\//, ':PORT/')),
      [`http://0.0.0.0:PORT/lenient  ←  ${fx.lenient.url}`, `http://0.0.0.0:PORT/upstream  ←  ${fx.ch.url}`],
    );
    for (let i = 0; i < 100 && !stderr.includes('WARNING'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /WARNING: listening on 0\.0\.0\.0 without TLS: anyone who can reach this address.*--tls-cert\/--tls-key, or terminate TLS in front/);
    const body = new Promise<Buffer>((resolve, reject) => {
      const req = httpRequest(`http://127.0.0.1:${port}/upstream/noarch/${GOOD}`, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          parts.push(c);
          // The first bytes are here: stop the server while the rest is still coming.
          if (parts.length === 1) child.kill('SIGTERM');
        });
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    const got = await body;
    assert.equal(createHash('sha256').update(got).digest('hex'), good.sha256, 'the request in flight was answered completely');
    assert.equal(await exited, 0);
    const log = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { path: string; status: number; verdict?: { status: string } });
    const line = log.find((l) => l.path === `/upstream/noarch/${GOOD}`);
    assert.equal(line?.status, 200);
    assert.equal(line?.verdict?.status, 'verified');
    assert.match(stderr, /SIGTERM: answering the 1 request\(s\) in flight, then stopping/);
  } finally {
    child.kill('SIGKILL');
    fx.ch.clearFaults();
  }
});

test('two canonical channels on one path → CONFIG_INVALID naming both, with the --route hint; --route resolves it', async () => {
  const raw = {
    channels: { 'https://conda.anaconda.org/conda-forge': {}, 'https://prefix.dev/conda-forge': {} },
  };
  fx.ws.writeConfig(raw, 'conflict.json');
  const r = await runInProcess(main, ['serve', '--config', 'conflict.json', '--listen', '127.0.0.1:0'], { cwd: fx.ws.dir, env: fx.ws.env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /CONFIG_INVALID: .*routes/);
  assert.match(r.stderr, /\/conda-forge would serve both https:\/\/conda\.anaconda\.org\/conda-forge and https:\/\/prefix\.dev\/conda-forge/);
  assert.match(r.stderr, /--route NAME=URL/);
  const config = resolveConfig(raw, fx.ws.dir, 'conflict.json');
  const routes = buildRoutes(config, { 'prefix/conda-forge': 'https://prefix.dev/conda-forge' });
  assert.deepEqual(routes.map((x) => [x.name, x.channel]), [
    ['conda-forge', 'https://conda.anaconda.org/conda-forge'],
    ['prefix/conda-forge', 'https://prefix.dev/conda-forge'],
  ]);
});

test('routes: a mirror is an upstream fallback of its channel, never a route; serve.routes is read from the config; bad names are CONFIG_INVALID', () => {
  const config = resolveConfig(
    {
      channels: { 'https://conda.anaconda.org/conda-forge': { mirrors: ['https://mirror.example/conda-forge'] }, 'https://host.example': {} },
      serve: { routes: { cf: 'https://mirror.example/conda-forge', root: 'https://host.example' } },
    },
    '/',
  );
  const routes = buildRoutes(config, config.serve!.routes);
  assert.deepEqual(routes.map((r) => [r.name, r.channel, r.mirrors]), [
    ['cf', 'https://conda.anaconda.org/conda-forge', ['https://mirror.example/conda-forge']],
    ['conda-forge', 'https://conda.anaconda.org/conda-forge', ['https://mirror.example/conda-forge']],
    ['root', 'https://host.example', []],
  ]);
  assert.throws(() => buildRoutes(config, { '-/health': 'https://x.example/a' }), { code: 'CONFIG_INVALID' });
  assert.throws(() => buildRoutes(config, { 'a/../b': 'https://x.example/a' }), { code: 'CONFIG_INVALID' });
  // A host-only channel has no path to serve it under without --route.
  assert.throws(() => buildRoutes(resolveConfig({ channels: { 'https://host.example': {} } }, '/'), {}), /has no path usable as a route/);
  // The schema checks serve.routes too (one error per failing path).
  assert.throws(() => resolveConfig({ serve: { routes: { '-x': 'ftp://x' } } }, '/'), { code: 'CONFIG_INVALID' });
});

test('property: any request target either is refused (400/404) or names a file that stays under its channel upstream', async (t) => {
  const config = resolveConfig({ channels: { 'https://conda.example/cf': {} } }, '/');
  const routes = buildRoutes(config, {});
  const segment = fc.oneof(
    fc.constantFrom('cf', 'noarch', 'linux-64', 'repodata.json', 'x-1-0.conda', 'x-1-0.conda.sigs', '..', '.', '%2e%2e', '%2f', '%5c', '%00', 'shards', ''),
    hostileString(12),
  );
  await checkProperty(
    t,
    'serve classify',
    [fc.array(segment, { maxLength: 6 }), fc.constantFrom('/', '', 'http://evil.example/', '//')],
    (segments, prefix) => {
      const target = prefix + segments.join('/');
      const c = classify(target, routes);
      if (!c.ok) {
        assert.ok(c.status === 400 || c.status === 404);
        return;
      }
      assert.ok(target.startsWith('/') && !target.startsWith('//'));
      if (c.target.kind === 'admin') return;
      const url = new URL(upstreamUrl(c.target.route.channel, c.target.path));
      assert.equal(url.origin, 'https://conda.example');
      assert.ok(url.pathname.startsWith('/cf/'), url.pathname);
      assert.ok(!url.pathname.split('/').some((s) => s === '..' || s === '.'), url.pathname);
    },
    { runs: 2000 },
  );
});
