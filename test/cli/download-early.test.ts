// `verify --download` starts the first downloads with the session, before the trust root and
// the identity lockfile are read (docs/performance.md "Downloads and the proxy"). What must
// not change: the verdicts, and a run whose session fails to open ends at once with its
// error, abandoning the downloads it started, instead of waiting for their bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from '../helpers/conda.ts';
import { codes, row, runCli, verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel(
    {
      name: 'early',
      packages: [
        { spec: spec('good', 'linux-64') },
        { spec: spec('bare'), attest: false },
        { spec: spec('stranger'), signOptions: { san: 'https://github.com/evil-org/x/.github/workflows/r.yml@refs/heads/main' } },
      ],
    },
    'conda-attest-early-',
  ));
});

after(() => close?.());

/** A config whose requests would wait ten minutes for a stalled body: a run that waited for one could not finish the test. */
function config(name: string, top: Record<string, unknown> = {}): string {
  return ws.writeConfig(
    {
      trust_root: sig.trustedRootPath,
      lockfile: `${name}.lock`,
      http: { retries: 2, timeout_ms: 600_000, idle_timeout_ms: 600_000 },
      channels: { [ch.url]: { trusted_identities: TRUSTED } },
      ...top,
    },
    `${name}.json`,
  );
}

test('--download gives the verdicts a run from the lockfile digests gives: verified, missing, untrusted; a changed byte still blocks', async () => {
  const filenames = [fn('good'), fn('bare'), fn('stranger')];
  ws.write('same/pixi.lock', ch.pixiLock({ platform: 'linux-64', filenames }));
  const cfg = config('same');
  const [lazy, eager] = await Promise.all([
    verifyJson(ws, ['--config', cfg, '--lockfile', 'same-lazy.lock', 'same/pixi.lock']),
    verifyJson(ws, ['--config', cfg, '--lockfile', 'same-eager.lock', '--download', 'same/pixi.lock']),
  ]);
  const verdict = (r: typeof lazy, f: string) => {
    const p = row(r.report, f);
    return [p.status, p.action, p.sha256, codes(p)];
  };
  for (const f of filenames) assert.deepEqual(verdict(eager, f), verdict(lazy, f), f);
  assert.deepEqual(filenames.map((f) => row(eager.report, f).digest_source), ['artifact', 'artifact', 'artifact']);
  assert.deepEqual([eager.code, lazy.code], [1, 1]);

  // The bytes are hashed, not taken on trust: one flipped byte is a mismatch, and its
  // (valid) attestation is never what decides.
  const good = ch.get(fn('good'));
  const altered = Buffer.from(good.bytes);
  altered[altered.length >> 1] ^= 0x01;
  ch.setFault(good.url, { kind: 'body', body: altered, contentType: 'application/octet-stream' });
  try {
    const bad = await verifyJson(ws, ['--config', cfg, '--lockfile', 'same-bad.lock', '--download', 'same/pixi.lock']);
    assert.deepEqual([row(bad.report, fn('good')).status, row(bad.report, fn('good')).action], ['invalid', 'block']);
    assert.deepEqual(codes(row(bad.report, fn('good'))), ['PACKAGE_DIGEST_MISMATCH']);
  } finally {
    ch.clearFaults();
  }
});

test('attack: a broken trust root ends a --download run with its error (exit 2) at once, the stalled download it started abandoned', { timeout: 120_000 }, async () => {
  const good = ch.get(fn('good'));
  ws.write('broken-root.json', '{ "mediaType": ');
  ws.write('stall/explicit.txt', `@EXPLICIT\n${good.url}#${good.sha256}\n`);
  ch.setFault(good.url, { kind: 'hang', stage: 'body' });
  try {
    const r = await runCli(ws, ['verify', '--json', '--config', config('stall-root', { trust_root: 'broken-root.json' }), '--download', 'stall/explicit.txt']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TRUST_ROOT_MALFORMED/);
    assert.equal(r.stdout, '', 'no report: the run never started');
  } finally {
    ch.clearFaults();
  }
});

test('attack: a corrupt identity lockfile ends a --download run with its error (exit 2) at once, the stalled download it started abandoned', { timeout: 120_000 }, async () => {
  const good = ch.get(fn('good'));
  ws.write('stall/explicit2.txt', `@EXPLICIT\n${good.url}#${good.sha256}\n`);
  ws.write('stall-lock.lock', 'version: [not a lockfile\n');
  ch.setFault(good.url, { kind: 'hang', stage: 'body' });
  try {
    const r = await runCli(ws, ['verify', '--json', '--config', config('stall-lock'), '--download', 'stall/explicit2.txt']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /LOCK_CORRUPT/);
    assert.ok(!r.stderr.includes('HTTP_'), 'the abandoned download is not reported as a failure of its own');
  } finally {
    ch.clearFaults();
  }
});

