// Explicit files with `URL#<md5>` (conda-lock's explicit render, `conda list --explicit
// --md5`): one EXPLICIT_MD5_ONLY notice with the count; each package is downloaded and its
// SHA-256 is what the attestation is checked against; the MD5 is an extra check on the same
// bytes, whose mismatch is PACKAGE_DIGEST_MISMATCH, also for a lockfile under --download.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { codes, row, runCli, startSignedChannel, verifyJson, type SignedChannel } from '../helpers/e2e.ts';

let env: SignedChannel;
let cfg: string;

before(async () => {
  env = await startSignedChannel({
    name: 'forge',
    packages: [{ spec: { name: 'alpha', version: '1.0', build: 'h0_0' } }, { spec: { name: 'beta', version: '1.0', build: 'h0_0' } }],
  }, 'conda-attest-md5-');
  cfg = env.ws.writeConfig({ trust_root: env.sig.trustedRootPath, http: { retries: 0 }, channels: { [env.ch.url]: {} } }, 'md5.json');
});

after(() => env?.close());

const NOTICE = 'EXPLICIT_MD5_ONLY 2 packages are pinned by MD5 only (URL#md5): each is downloaded to take the SHA-256 the attestation is checked against, and the MD5 is checked on the same bytes.';
const HINT = '    hint: Write the explicit file with SHA-256 (`conda list --explicit --sha256`) to check without downloading.';

test('URL#md5: one notice with the count; every package downloaded; the SHA-256 of the bytes is what was verified', async () => {
  const { ws, ch } = env;
  const file = ws.write('env-md5.txt', ch.explicitFile({ hash: 'md5', platform: 'noarch' }));
  ch.clearRequests();
  const text = await runCli(ws, ['verify', '--config', cfg, '--lockfile', 'md5-text.lock', file]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.deepEqual(lines.filter((l) => l.includes('EXPLICIT_MD5_ONLY')), [NOTICE], text.stdout);
  assert.equal(lines[lines.indexOf(NOTICE) + 1], HINT);
  assert.doesNotMatch(text.stderr, /EXPLICIT_MD5_ONLY/, 'said once');
  for (const p of ch.packages) assert.equal(ch.requestsTo(p.url).length, 1, `${p.filename} downloaded`);
  const j = await verifyJson(ws, ['--config', cfg, '--lockfile', 'md5-json.lock', file]);
  assert.deepEqual((j.report as unknown as { notices: { code: string }[] }).notices.filter((n) => n.code === 'EXPLICIT_MD5_ONLY').length, 1);
  for (const p of ch.packages) {
    const r = row(j.report, p.filename);
    assert.equal(r.status, 'verified');
    assert.deepEqual([r.digest_source, r.sha256], ['artifact', p.sha256]);
  }
  // A SHA-256 explicit file: nothing to say.
  const sha = ws.write('env-sha.txt', ch.explicitFile({ hash: 'sha256', platform: 'noarch' }));
  const s = await verifyJson(ws, ['--config', cfg, '--lockfile', 'md5-sha.lock', sha]);
  assert.ok(!JSON.stringify((s.report as unknown as { notices: unknown }).notices).includes('EXPLICIT_MD5_ONLY'));
});

test('attack: bytes whose MD5 is not the one the explicit file pins are rejected (PACKAGE_DIGEST_MISMATCH), whatever their attestation says', async () => {
  const { ws, ch } = env;
  const alpha = ch.get(fn('alpha'));
  const wrong = 'f'.repeat(32);
  const file = ws.write('env-bad-md5.txt', ch.explicitFile({ hash: 'md5', platform: 'noarch' }).replace(`#${alpha.md5}`, `#${wrong}`));
  const j = await verifyJson(ws, ['--config', cfg, '--lockfile', 'bad-md5.lock', file]);
  assert.equal(j.code, 1);
  const r = row(j.report, alpha.filename);
  assert.deepEqual(codes(r), ['PACKAGE_DIGEST_MISMATCH']);
  assert.equal(r.reasons[0]!.message, `${alpha.filename} has MD5 ${alpha.md5}, but the environment file expects ${wrong}.`);
  assert.equal(row(j.report, fn('beta')).status, 'verified');
});

test('a lockfile with SHA-256 and a wrong MD5: trusted by its SHA-256 without --download; with --download the MD5 is checked on the bytes too', async () => {
  const { ws, ch } = env;
  const alpha = ch.get(fn('alpha'));
  const wrong = 'e'.repeat(32);
  const lock = ws.write('md5-pixi/pixi.lock', ch.pixiLock({ platform: 'noarch' }).replace(`md5: ${alpha.md5}`, `md5: ${wrong}`));
  const plain = await verifyJson(ws, ['--config', cfg, '--lockfile', 'md5-pixi.lock', lock]);
  assert.equal(row(plain.report, alpha.filename).status, 'verified');
  assert.equal(row(plain.report, alpha.filename).digest_source, 'lockfile');
  const downloaded = await verifyJson(ws, ['--config', cfg, '--lockfile', 'md5-pixi-dl.lock', '--download', lock]);
  assert.equal(downloaded.code, 1);
  assert.deepEqual(codes(row(downloaded.report, alpha.filename)), ['PACKAGE_DIGEST_MISMATCH']);
  assert.match(row(downloaded.report, alpha.filename).reasons[0]!.message, /has MD5 [0-9a-f]{32}, but the environment file expects e{32}\./);
  assert.ok(!JSON.stringify((downloaded.report as unknown as { notices: unknown }).notices).includes('EXPLICIT_MD5_ONLY'), 'a lockfile with SHA-256 is not MD5-only');
});
