// Deny lists end to end: the real CLI against a loopback channel signed by the local Sigstore
// instance. A denied package is blocked (DENIED, the entry's reason) in every form, under
// every `require`, when it is otherwise verified, fetched through a mirror, or judged from a
// warm verdict cache; nothing is pinned for it; `policy` lists the entries.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from '../helpers/conda.ts';
import { codes, row, runCli, verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { JsonReport, Workspace } from '../helpers/e2e.ts';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel(
    { name: 'forge', packages: [{ spec: spec('good') }, { spec: spec('util') }, { spec: spec('bare'), attest: false }] },
    'conda-attest-deny-',
  ));
});

after(() => close?.());

/** A config file for one scenario: its own lockfile and cache, the channel under `policy`, top-level `deny`. */
function config(name: string, policy: Record<string, unknown>, deny: unknown[] = [], channel = ch.url): string {
  return ws.writeConfig(
    {
      trust_root: sig.trustedRootPath,
      lockfile: `${name}.lock`,
      cache_dir: ws.path(`cache-${name}`),
      http: { retries: 0, timeout_ms: 30_000 },
      channels: { [channel]: { trusted_identities: TRUSTED, ...policy } },
      deny,
    },
    `${name}.json`,
  );
}

function pinned(report: JsonReport): number {
  return (report as unknown as { lockfile: { pinned: number } }).lockfile.pinned;
}

function assertDenied(report: JsonReport, filename: string, reason: RegExp): void {
  const p = row(report, filename);
  assert.deepEqual([p.status, p.action], ['untrusted', 'block'], `${filename}: ${JSON.stringify(p.reasons)}`);
  assert.equal(codes(p)[0], 'DENIED');
  assert.match(p.reasons[0]!.message, reason);
  assert.ok(p.reasons[0]!.hint);
}

test('each form blocks an otherwise verified package, under require error, warn and ignore; nothing is pinned for it', async () => {
  const good = ch.get(fn('good'));
  const targets = [good.url, ch.get(fn('util')).url, ch.get(fn('bare')).url];
  const [bySha, byVersion, byIdentity, missing] = await Promise.all([
    // The digest in capitals, the channel on `ignore`.
    verifyJson(ws, ['--config', config('sha', { require: 'ignore', deny: [{ sha256: good.sha256.toUpperCase(), reason: 'backdoored build (ADV-1)' }] }), ...targets]),
    // The name in another case, the version written as 1.0.0 for the package's 1.0, on `warn`.
    verifyJson(ws, ['--config', config('ver', { require: 'warn', deny: [{ package: 'GOOD', versions: '>=1.0.0,<1.0.1', reason: 'CVE-2026-1' }] }), ...targets]),
    // The signer, top-level (every channel), on `warn`: both signed packages.
    verifyJson(ws, ['--config', config('who', { require: 'warn' }, [{ identity: 'github:test-org/test-feedstock', reason: 'stolen publishing token' }]), ...targets]),
    // A package without attestations on `ignore` would pass silently; denied, it is blocked.
    verifyJson(ws, ['--config', config('bare', { require: 'ignore', deny: [{ package: 'bare', versions: '*', reason: 'yanked' }] }), ...targets]),
  ]);

  assert.equal(bySha.code, 1);
  assertDenied(bySha.report, fn('good'), /channels\[".*"\]\.deny\[0\] denies its file \(SHA-256 [0-9a-f]{64}\): backdoored build \(ADV-1\)/);
  assert.equal(row(bySha.report, fn('util')).status, 'verified');
  assert.equal(pinned(bySha.report), 1, 'only util is pinned');

  assert.equal(byVersion.code, 1, 'a deny blocks even under warn');
  assertDenied(byVersion.report, fn('good'), /good 1\.0 \(good >=1\.0\.0,<1\.0\.1\): CVE-2026-1/);
  assert.equal(row(byVersion.report, fn('util')).action, 'pass');

  assert.equal(byIdentity.code, 1);
  for (const f of [fn('good'), fn('util')]) assertDenied(byIdentity.report, f, /deny\[0\] denies its signer https:\/\/github\.com\/test-org\/test-feedstock\/.* \(github:test-org\/test-feedstock.*\): stolen publishing token/);
  assert.deepEqual([row(byIdentity.report, fn('bare')).status, row(byIdentity.report, fn('bare')).action], ['missing', 'warn']);
  assert.equal(pinned(byIdentity.report), 0);
  // The row still says who signed it: the reviewer sees the identity that was denied.
  assert.match(String(row(byIdentity.report, fn('good')).identity?.san), /test-org\/test-feedstock/);

  assert.equal(missing.code, 1);
  assertDenied(missing.report, fn('bare'), /yanked/);
  assert.equal(missing.report.summary.blocked, 1);
});

test('attack: a denied package fetched through a mirror of the channel is still denied', async () => {
  // The configuration names the canonical channel; the packages come from its mirror.
  const canonical = 'https://conda.example.org/forge';
  const cfg = config('mirror', { mirrors: [ch.url], deny: [{ package: 'util', versions: '==1.0', reason: 'compromised release' }] }, [], canonical);
  const r = await verifyJson(ws, ['--config', cfg, ch.get(fn('good')).url, ch.get(fn('util')).url]);
  assert.equal(r.code, 1);
  assertDenied(r.report, fn('util'), /channels\["https:\/\/conda\.example\.org\/forge"\]\.deny\[0\].*compromised release/);
  assert.equal(row(r.report, fn('util')).channel, canonical);
  assert.equal(row(r.report, fn('good')).status, 'verified');
});

test('attack: a verdict from the warm cache does not bypass a deny entry added later', async () => {
  const target = ch.get(fn('util')).url;
  const cache = { cache_dir: ws.path('cache-warm') };
  const first = ws.writeConfig({ trust_root: sig.trustedRootPath, lockfile: 'warm1.lock', ...cache, channels: { [ch.url]: { trusted_identities: TRUSTED } } }, 'warm1.json');
  const second = ws.writeConfig(
    { trust_root: sig.trustedRootPath, lockfile: 'warm2.lock', ...cache, channels: { [ch.url]: { trusted_identities: TRUSTED } }, deny: [{ identity: 'https://github.com/TEST-ORG/**', reason: 'org compromised' }] },
    'warm2.json',
  );
  ch.clearRequests();
  const a = await verifyJson(ws, ['--config', first, target]);
  assert.equal(a.code, 0);
  assert.equal(row(a.report, fn('util')).status, 'verified');
  assert.ok(ch.requests.some((r) => r.path.includes('.sigs')), 'the first run fetched the sidecar');
  ch.clearRequests();
  const b = await verifyJson(ws, ['--config', second, target]);
  assert.equal(ch.requests.filter((r) => r.path.includes('.sigs')).length, 0, 'the second run judged the cached verdict');
  assert.equal(b.code, 1);
  assertDenied(b.report, fn('util'), /org compromised/);
});

test('policy lists the deny entries, top-level and per channel, in text and JSON', async () => {
  const cfg = config('pol', { enabled: false, deny: [{ sha256: 'AB'.repeat(32), reason: 'bad file' }] }, [
    { package: 'libfoo*', versions: '>=1.2,<1.3', reason: 'CVE-2026-2' },
    { identity: 'github:acme/tool', signed_after: '2026-03-01', reason: 'token leak' },
  ]);
  const json = await runCli(ws, ['policy', '--json', '--config', cfg]);
  assert.equal(json.code, 0, json.stderr);
  const view = JSON.parse(json.stdout) as { deny: unknown[]; channels: { channel: string; deny: unknown[] }[] };
  assert.deepEqual(view.deny, [
    { at: 'deny[0]', package: 'libfoo*', versions: '>=1.2,<1.3', reason: 'CVE-2026-2' },
    { at: 'deny[1]', identity: 'github:acme/tool', signed_after: '2026-03-01T00:00:00.000Z', reason: 'token leak' },
  ]);
  assert.deepEqual(view.channels.find((c) => c.channel === ch.url)!.deny, [{ at: `channels[${JSON.stringify(ch.url)}].deny[0]`, sha256: 'ab'.repeat(32), reason: 'bad file' }]);
  const text = await runCli(ws, ['policy', '--config', cfg]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^deny \(every channel; blocks whatever else is found\):\n {2}- libfoo\* >=1\.2,<1\.3: CVE-2026-2 {2}\(deny\[0\]\)\n {2}- signer github:acme\/tool signed from 2026-03-01T00:00:00\.000Z: token leak/m);
  // A disabled channel still shows (and applies) its deny list.
  assert.match(text.stdout, /enabled: false\n {2}deny \(blocks whatever else is found\):\n {4}- file sha256 (ab){32}: bad file/);
});

test('identity window: the verified log time decides (fresh and from the warm cache); a window that ended before the signature lets the package through', async () => {
  const target = ch.get(fn('good')).url;
  const policy = (deny: unknown[]) => ({ trust_root: sig.trustedRootPath, cache_dir: ws.path('cache-window'), channels: { [ch.url]: { trusted_identities: TRUSTED } }, deny });
  const past = ws.writeConfig({ ...policy([{ identity: 'github:test-org/test-feedstock', signed_before: '2000-01-01', reason: 'old compromise' }]), lockfile: 'win1.lock' }, 'win1.json');
  const since = ws.writeConfig({ ...policy([{ identity: 'github:test-org/test-feedstock', signed_after: '2000-01-01', reason: 'ongoing compromise' }]), lockfile: 'win2.lock' }, 'win2.json');
  const before = await verifyJson(ws, ['--config', past, target]);
  assert.equal(before.code, 0, JSON.stringify(row(before.report, fn('good')).reasons));
  assert.equal(row(before.report, fn('good')).status, 'verified');
  ch.clearRequests();
  const after = await verifyJson(ws, ['--config', since, target]);
  assert.equal(ch.requests.filter((r) => r.path.includes('.sigs')).length, 0, 'judged from the warm verdict cache');
  assert.equal(after.code, 1);
  assertDenied(after.report, fn('good'), /\(github:test-org\/test-feedstock, signed \d{4}-\d{2}-\d{2}T[0-9:.]+Z\): ongoing compromise/);
});
