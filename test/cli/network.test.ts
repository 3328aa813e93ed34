// Network behaviour of `conda-attest verify` end to end (the real CLI as a child process):
// an unreachable channel with a warm cache verifies from cached repodata and sidecars with
// a notice naming the channel and the cache's age; without a cache, every package gets its
// retrieval-failed row and the terminal prints the outage once, with its cause in words.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from '../helpers/conda.ts';
import { makeWorkspace, row, runCli, verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { ageInWords } from '../../src/pipeline.ts';

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'];

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({ name: 'forge', packages: NAMES.map((n) => ({ spec: spec(n) })) }, 'conda-attest-net-'));
  ws.writeConfig({
    trust_root: sig.trustedRootPath,
    lockfile: 'conda-attest.lock',
    http: { retries: 1, timeout_ms: 20_000 },
    channels: { [ch.url]: { trusted_identities: TRUSTED } },
  });
  ws.write('env/explicit.txt', ch.explicitFile());
});

after(() => close?.());

test('--offline, warm cache: verified from cached repodata and sidecars without one request; one notice says the repodata came from the cache', async () => {
  const warm = await verifyJson(ws, ['env/explicit.txt']);
  assert.equal(warm.report.summary.verified, NAMES.length, warm.stderr);
  ch.clearRequests();
  const r = await verifyJson(ws, ['--offline', '--lockfile', 'offline-warm.lock', 'env/explicit.txt']);
  assert.equal(ch.requests.length, 0, `requests sent offline: ${ch.requests.map((q) => q.path).join(', ')}`);
  for (const n of NAMES) assert.equal(row(r.report, fn(n)).status, 'verified', `${n}: ${JSON.stringify(row(r.report, fn(n)).reasons)}`);
  const notices = (r.report as unknown as { notices: { code: string; message: string; hint?: string }[] }).notices;
  assert.deepEqual(notices.map((n) => n.code), ['REPODATA_CACHED']);
  assert.match(notices[0]!.message, new RegExp(`^${ch.url.replace(/[.]/g, '\\.')} \\(noarch\\) was offline \\(--offline\\), so repodata cached up to (less than a minute|\\d+ minutes?) ago was used; `));
  assert.equal(notices[0]!.hint, 'Run once without --offline to refresh the cache.');
  // Once: in `notices`, not again in `warnings` or on stderr.
  assert.deepEqual((r.report as unknown as { warnings: string[] }).warnings, []);
  assert.equal(r.stderr, '');
});

test('--offline, no cache: every package is retrieval-failed with HTTP_OFFLINE (blocked under require: error); the terminal says so in one line naming --no-tuf-refresh', async () => {
  const cold = makeWorkspace('conda-attest-net-offline-');
  try {
    cold.writeConfig({ trust_root: sig.trustedRootPath, channels: { [ch.url]: { trusted_identities: TRUSTED } } });
    cold.write('explicit.txt', ws.read('env/explicit.txt'));
    ch.clearRequests();
    const j = await verifyJson(cold, ['--offline', 'explicit.txt']);
    assert.equal(ch.requests.length, 0);
    assert.equal(j.code, 1);
    for (const n of NAMES) assert.deepEqual(row(j.report, fn(n)).reasons.map((x) => [row(j.report, fn(n)).status, x.code]), [['retrieval-failed', 'HTTP_OFFLINE']]);
    const t = await runCli(cold, ['verify', '--offline', 'explicit.txt']);
    assert.equal(t.code, 1);
    const lines = t.stdout.split('\n');
    assert.equal(lines[0], `✖ blocked --offline: ${NAMES.length} packages need the network and were not checked`);
    assert.match(lines[1]!, /^ {4}nothing was sent; the first request needed: http:\/\/127\.0\.0\.1:\d+\/.* \(HTTP_OFFLINE\)$/);
    assert.match(lines[2]!, /^ {4}hint: .*`--no-tuf-refresh` is the old --offline/);
    assert.equal(t.stderr, '');
    // The old meaning, by its new name: only the trust root stays offline, channels are fetched.
    const old = await verifyJson(cold, ['--no-tuf-refresh', 'explicit.txt']);
    assert.equal(old.report.summary.verified, NAMES.length);
    assert.ok(ch.requests.length > 0);
  } finally {
    cold.cleanup();
  }
});

test('unreachable channel, warm cache: verified from cached repodata and sidecars, with one notice naming the channel, the cause and the age', async () => {
  const channelUrl = ch.url;
  await ch.close();
  // Cold verdicts (--no-cache would also drop the sidecar cache): remove only the verdict
  // cache by pointing at a fresh lockfile, so the run has to look repodata up again.
  const r = await verifyJson(ws, ['--lockfile', 'offline.lock', 'env/explicit.txt']);
  for (const n of NAMES) assert.equal(row(r.report, fn(n)).status, 'verified', `${n}: ${JSON.stringify(row(r.report, fn(n)).reasons)}`);
  const notices = (r.report as unknown as { notices: { code: string; message: string; hint?: string }[] }).notices;
  assert.deepEqual(notices.map((n) => n.code), ['REPODATA_CACHED']);
  assert.match(
    notices[0]!.message,
    new RegExp(`^${channelUrl.replace(/[.]/g, '\\.')} \\(noarch\\) was unreachable \\(connection refused \\(ECONNREFUSED\\)\\), so repodata cached up to (less than a minute|\\d+ minutes?) ago was used; `),
  );
  assert.ok(notices[0]!.hint);
  // Reported once: not copied into `warnings`, not printed on stderr next to the JSON.
  assert.deepEqual((r.report as unknown as { warnings: string[] }).warnings, []);
  assert.doesNotMatch(r.stderr, /REPODATA_CACHED/);
  // The text report prints it once too.
  const t = await runCli(ws, ['verify', '--lockfile', 'offline.lock', 'env/explicit.txt']);
  assert.equal(t.stdout.split('REPODATA_CACHED').length + t.stderr.split('REPODATA_CACHED').length, 3, t.stdout + t.stderr);
});

test('unreachable channel, no cache: every package is retrieval-failed in JSON; the terminal prints the outage once, with host, cause, count and first URL', async () => {
  const cold = makeWorkspace('conda-attest-net-cold-');
  try {
    // The same (now closed) channel URL, with an empty cache directory.
    cold.writeConfig({ trust_root: sig.trustedRootPath, http: { retries: 0 }, channels: { [ch.url]: { trusted_identities: TRUSTED } } });
    cold.write('explicit.txt', ws.read('env/explicit.txt'));
    const j = await verifyJson(cold, ['explicit.txt']);
    assert.equal(j.code, 1);
    assert.equal(j.report.summary['retrieval-failed'], NAMES.length);
    for (const n of NAMES) {
      for (const reason of row(j.report, fn(n)).reasons) assert.doesNotMatch(reason.message, /was not requested: .*was not requested|could not be fetched: .*could not be fetched/, 'no nested causes');
    }
    const t = await runCli(cold, ['verify', 'explicit.txt']);
    assert.equal(t.code, 1);
    const host = new URL(ch.url).host;
    const lines = t.stdout.split('\n');
    assert.equal(lines[0], `✖ blocked ${host}: connection refused (ECONNREFUSED): ${NAMES.length} packages could not be checked`);
    assert.match(lines[1]!, new RegExp(`^ {4}first failed request: ${ch.url.replace(/[.]/g, '\\.')}/noarch/\\S+ \\(REPODATA_UNAVAILABLE\\)$`));
    assert.match(lines[2]!, /^ {4}hint: /);
    assert.match(lines[3]!, /and \d+ more \(--verbose lists them all\)$/);
    // One subdir, one request, retries 0: no host was cut off, and nothing else is printed about it.
    assert.doesNotMatch(t.stdout + t.stderr, /HOST_CUT_OFF/);
    const v = await runCli(cold, ['verify', '--verbose', 'explicit.txt']);
    for (const n of NAMES) assert.ok(v.stdout.includes(fn(n)), n);
  } finally {
    cold.cleanup();
  }
});

test('ages in words', () => {
  assert.equal(ageInWords(5_000), 'less than a minute');
  assert.equal(ageInWords(60_000), '1 minute');
  assert.equal(ageInWords(3 * 3_600_000), '3 hours');
  assert.equal(ageInWords(50 * 3_600_000), '2 days');
});
