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

test('unreachable channel, warm cache: verified from cached repodata and sidecars, with a notice naming the channel and the age', async () => {
  const warm = await verifyJson(ws, ['env/explicit.txt']);
  assert.equal(warm.report.summary.verified, NAMES.length, warm.stderr);
  const channelUrl = ch.url;
  await ch.close();
  // Cold verdicts (--no-cache would also drop the sidecar cache): remove only the verdict
  // cache by pointing at a fresh lockfile, so the run has to look repodata up again.
  const r = await verifyJson(ws, ['--lockfile', 'offline.lock', 'env/explicit.txt']);
  for (const n of NAMES) assert.equal(row(r.report, fn(n)).status, 'verified', `${n}: ${JSON.stringify(row(r.report, fn(n)).reasons)}`);
  const warnings = (r.report as unknown as { warnings: string[] }).warnings;
  const notice = warnings.find((w) => w.startsWith('REPODATA_CACHED'));
  assert.ok(notice, JSON.stringify(warnings));
  assert.ok(notice.includes(`${channelUrl} (noarch) could not be reached`), notice);
  assert.match(notice, /cached (less than a minute|\d+ minutes?) ago/);
  assert.match(notice, /refused the connection \(ECONNREFUSED\)/);
  assert.match(r.stderr, /REPODATA_CACHED/);
  // A run-level finding: a structured notice with its code, sentence and hint.
  const structured = (r.report as unknown as { notices: { code: string; message: string; hint?: string }[] }).notices.find((n) => n.code === 'REPODATA_CACHED');
  assert.ok(structured?.message.includes(`${channelUrl} (noarch) could not be reached`), JSON.stringify(structured));
  assert.ok(structured?.hint);
});

test('unreachable channel, no cache: every package is retrieval-failed in JSON; the terminal prints the outage once', async () => {
  const cold = makeWorkspace('conda-attest-net-cold-');
  try {
    // The same (now closed) channel URL, with an empty cache directory.
    cold.writeConfig({ trust_root: sig.trustedRootPath, http: { retries: 0 }, channels: { [ch.url]: { trusted_identities: TRUSTED } } });
    cold.write('explicit.txt', ws.read('env/explicit.txt'));
    const j = await verifyJson(cold, ['explicit.txt']);
    assert.equal(j.code, 1);
    assert.equal(j.report.summary['retrieval-failed'], NAMES.length);
    const t = await runCli(cold, ['verify', 'explicit.txt']);
    assert.equal(t.code, 1);
    const outage = t.stdout.split('\n').filter((l) => l.includes(`${NAMES.length} packages retrieval-failed`));
    assert.equal(outage.length, 1, t.stdout);
    assert.match(outage[0]!, /127\.0\.0\.1 refused the connection \(ECONNREFUSED\)/);
    assert.match(t.stdout, /and \d+ more \(--verbose lists them all\)/);
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
