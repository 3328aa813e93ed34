// Red-team: a hostile mirror / HTTP server between conda-attest and a channel. The mirror
// (configured under the channel's `mirrors`) proxies the real fixture channel on loopback
// and misbehaves per path: compression bombs, Content-Length lies, redirects to another
// host, a repodata that never finishes. CEP 50: an advertised sidecar that cannot be
// retrieved intact is `retrieval-failed`, never `missing` and never `verified`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { condaFilename } from '../helpers/conda.ts';
import { codes, resolveIn, runSession, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { startLoopback, type Loopback } from '../helpers/loopback.ts';
import { recordFromUrl } from '../../src/targets/index.ts';

const FILE = condaFilename({ name: 'good', version: '1.0', build: 'h0_0' });

type Handler = (req: IncomingMessage, res: ServerResponse, upstream: () => Promise<Buffer>) => void | Promise<void>;

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;
let mirror: Loopback;
let mirrorUrl: string;
let elsewhere: Loopback;
let elsewhereOrigin: string;
const overrides = new Map<string, Handler>();

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({ name: 'forge', packages: [{ spec: { name: 'good', version: '1.0', build: 'h0_0' } }] }, 'conda-attest-attack-http-'));
  // The mirror: same paths as the channel, under /mirror/.
  mirror = await startLoopback((req, res) => {
    const path = (req.url ?? '/').replace(/^\/mirror\//, '/forge/');
    const upstream = async () => Buffer.from(await (await fetch(`${ch.origin}${path}`)).arrayBuffer());
    const h = overrides.get(path.replace(/^\/forge\//, ''));
    if (h) return void h(req, res, upstream);
    fetch(`${ch.origin}${path}`).then(async (r) => {
      const body = Buffer.from(await r.arrayBuffer());
      res.writeHead(r.status, { 'content-length': body.length }).end(body);
    }, () => res.destroy());
  });
  mirrorUrl = `${mirror.url}/mirror`;
  // Another host the mirror redirects to (serves the channel's bytes too).
  elsewhere = await startLoopback((req, res) => {
    fetch(`${ch.origin}${req.url}`).then(async (r) => {
      const body = Buffer.from(await r.arrayBuffer());
      res.writeHead(r.status, { 'content-length': body.length }).end(body);
    }, () => res.destroy());
  });
  elsewhereOrigin = elsewhere.url;
});

after(async () => {
  await mirror?.close();
  await elsewhere?.close();
  await close?.();
});

let n = 0;
async function verifyViaMirror(http: Record<string, unknown> = {}) {
  const config = resolveIn(ws, {
    trust_root: sig.trustedRootPath,
    cache_dir: `cache-${++n}`,
    http: { retries: 0, timeout_ms: 3000, connect_timeout_ms: 2000, ...http },
    channels: { [ch.url]: { trusted_identities: TRUSTED, mirrors: [mirrorUrl] } },
  });
  const p = ch.get(FILE);
  const record = { ...recordFromUrl(`${mirrorUrl}/noarch/${FILE}`), sha256: p.sha256 };
  const report = await runSession(config, [record], { lockfile: ws.path(`lock-${n}.json`), noCache: true });
  return report.packages[0]!;
}
const sidecarPath = () => `noarch/${FILE}.sigs.${ch.get(FILE).sidecarSha256}`;

test('baseline: through the mirror the package verifies and is judged under the canonical channel', async () => {
  overrides.clear();
  const p = await verifyViaMirror();
  assert.deepEqual([p.status, p.channel], ['verified', ch.url]);
});

test('attack: a gzip bomb served as the advertised sidecar → retrieval-failed (SIDECAR_TOO_LARGE), decoded bytes capped', async () => {
  overrides.clear();
  // 64 MiB of spaces compress to ~64 KiB; the default cap is 10 MiB of DECODED bytes.
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
  overrides.set(sidecarPath(), (_req, res) => void res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb));
  const p = await verifyViaMirror();
  assert.deepEqual([p.status, p.action], ['retrieval-failed', 'block']);
  assert.deepEqual(codes(p), ['SIDECAR_TOO_LARGE'], JSON.stringify(p.reasons));
});

test('the real sidecar sent gzip-encoded is hashed after decoding (the file\'s bytes): verified', async () => {
  overrides.clear();
  overrides.set(sidecarPath(), async (_req, res, upstream) => {
    const gz = gzipSync(await upstream());
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz);
  });
  assert.equal((await verifyViaMirror()).status, 'verified');
});

test('attack: Content-Length promises more than is sent, then the connection closes → retrieval-failed, never missing', async () => {
  overrides.clear();
  overrides.set(sidecarPath(), async (req, res, upstream) => {
    const body = await upstream();
    res.writeHead(200, { 'content-length': body.length + 1000 });
    res.write(body, () => req.socket.destroy());
  });
  const p = await verifyViaMirror();
  assert.deepEqual([p.status, p.action], ['retrieval-failed', 'block']);
});

test('attack: Content-Length smaller than the body (truncated to the declared length) → hash mismatch → retrieval-failed', async () => {
  overrides.clear();
  overrides.set(sidecarPath(), async (_req, res, upstream) => {
    const body = await upstream();
    res.writeHead(200, { 'content-length': body.length - 10 });
    res.end(body);
  });
  const p = await verifyViaMirror();
  assert.deepEqual([p.status, p.action], ['retrieval-failed', 'block']);
});

test('a sidecar redirected to another host is fine: the bytes are checked against the advertised hash', async () => {
  overrides.clear();
  overrides.set(sidecarPath(), (_req, res) => void res.writeHead(302, { location: `${elsewhereOrigin}/forge/${sidecarPath()}` }).end());
  assert.equal((await verifyViaMirror()).status, 'verified');
  // ...and another host serving other bytes is caught by the same check.
  overrides.set(sidecarPath(), (_req, res) => void res.writeHead(302, { location: `${elsewhereOrigin}/forge/noarch/repodata.json` }).end());
  const p = await verifyViaMirror();
  assert.deepEqual([p.status, codes(p)], ['retrieval-failed', ['SIDECAR_HASH_MISMATCH']]);
});

test('attack: redirect loops end (bounded), as a retrieval failure', async () => {
  overrides.clear();
  overrides.set(sidecarPath(), (_req, res) => void res.writeHead(302, { location: `${mirrorUrl}/${sidecarPath()}` }).end());
  const p = await verifyViaMirror();
  assert.deepEqual([p.status, p.action], ['retrieval-failed', 'block']);
});

test('attack: a repodata.json that trickles forever (slowloris) ends at the transfer timeout → retrieval-failed, not missing', async () => {
  overrides.clear();
  const timers: NodeJS.Timeout[] = [];
  overrides.set('noarch/repodata.json', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"packages": {');
    const tick = () => {
      if (res.destroyed) return;
      res.write(' ');
      timers.push(setTimeout(tick, 100));
    };
    tick();
  });
  for (const kind of ['repodata.json.zst', 'repodata_shards.msgpack.zst']) overrides.set(`noarch/${kind}`, (_req, res) => void res.writeHead(404).end());
  const p = await verifyViaMirror({ timeout_ms: 1500 });
  for (const t of timers) clearTimeout(t);
  assert.deepEqual([p.status, p.action], ['retrieval-failed', 'block']);
});

test('attack: a mirror that stalls every request is cut off (HOST_CUT_OFF names it, once); the run deadline ends the rest (RUN_DEADLINE)', async () => {
  overrides.clear();
  const stall = () => {
    /* accepts, never answers */
  };
  const subdirs = ['noarch', 'linux-64', 'osx-64', 'win-64', 'osx-arm64'];
  for (const subdir of subdirs) for (const kind of ['repodata.json', 'repodata.json.zst', 'repodata_shards.msgpack.zst']) overrides.set(`${subdir}/${kind}`, stall);
  const run = async (extra: Record<string, unknown>) => {
    const config = resolveIn(ws, {
      trust_root: sig.trustedRootPath,
      cache_dir: `cache-${++n}`,
      http: { retries: 0, timeout_ms: 20_000, idle_timeout_ms: 200 },
      channels: { [ch.url]: { trusted_identities: TRUSTED, mirrors: [mirrorUrl] } },
      ...extra,
    });
    // One package per subdir: five repodata documents to ask for, each stalling.
    const records = subdirs.map((subdir) => ({ ...recordFromUrl(`${mirrorUrl}/${subdir}/${condaFilename({ name: 'p', version: '1.0', build: 'h0_0' })}`), sha256: 'f'.repeat(64) }));
    const report = await runSession(config, records, { lockfile: ws.path(`lock-${n}.json`), noCache: true });
    return report as typeof report & { notices: { code: string; message: string; hint?: string }[] };
  };
  const host = new URL(mirrorUrl).host;
  const cut = await run({});
  assert.ok(cut.packages.every((p) => p.status === 'retrieval-failed'), JSON.stringify(cut.packages.map((p) => p.status)));
  const notices = cut.notices.filter((x) => x.code === 'HOST_CUT_OFF');
  assert.equal(notices.length, 1, JSON.stringify(cut.notices));
  assert.match(notices[0]!.message, new RegExp(`^${host.replace(/\./g, '\\.')} failed 3 times in a row \\(stalled: no data for 0\\.2 s\\), first at http://`));
  // Each package keeps the cause (a stall), not a new code.
  for (const p of cut.packages) assert.ok(p.reasons.some((r) => /stalled|failed 3 times/.test(r.message)), JSON.stringify(p.reasons));
  assert.equal(cut.notices.some((x) => x.code === 'RUN_DEADLINE'), false);

  // A deadline shorter than the stalls: RUN_DEADLINE, and every package retrieval-failed.
  const late = await run({ deadline_ms: 100, http: { retries: 0, timeout_ms: 20_000, idle_timeout_ms: 10_000 } });
  assert.ok(late.packages.every((p) => p.status === 'retrieval-failed' && p.action === 'block'));
  const deadline = late.notices.find((x) => x.code === 'RUN_DEADLINE');
  assert.ok(deadline, JSON.stringify(late.notices));
  assert.match(deadline.message, /deadline \(0\.1 s\) passed/);
  assert.match(deadline.hint ?? '', /deadline_ms/);
  overrides.clear();
});

test('attack: repodata stripped (404) on the mirror while the canonical channel advertises: never verified, never silently missing under TOFU', async () => {
  overrides.clear();
  for (const kind of ['repodata.json', 'repodata.json.zst', 'repodata_shards.msgpack.zst']) overrides.set(`noarch/${kind}`, (_req, res) => void res.writeHead(404).end());
  for (const kind of ['.sigs', '.v0.sigs']) overrides.set(`noarch/${FILE}${kind}`, (_req, res) => void res.writeHead(404).end());
  const config = resolveIn(ws, {
    trust_root: sig.trustedRootPath,
    cache_dir: `cache-${++n}`,
    http: { retries: 0 },
    channels: { [ch.url]: { trusted_identities: TRUSTED, mirrors: [mirrorUrl], require: 'ignore' } },
  });
  const lock = ws.path('strip.lock');
  const p = ch.get(FILE);
  // First from the canonical channel: identity pinned.
  await runSession(config, [{ ...recordFromUrl(p.url), sha256: p.sha256 }], { lockfile: lock, noCache: true });
  const stripped = await runSession(config, [{ ...recordFromUrl(`${mirrorUrl}/noarch/${FILE}`), sha256: p.sha256 }], { lockfile: lock, noCache: true });
  const row = stripped.packages[0]!;
  assert.deepEqual([row.status, row.action], ['identity-changed', 'warn']);
  assert.ok(codes(row).includes('ATTESTATIONS_REMOVED'));
});
