// conda-attest as a plugin, with the real pipeline (src/pipeline.ts) behind it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createSession } from '../../src/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { VerifySession } from '../../src/session-types.ts';
import type { PackageRecord } from '../../src/types.ts';
import { PackageBlockedError } from '../../plugin/contract.ts';
import { loadPlugins } from '../../plugin/loader.ts';
import { createCondaAttestPlugin } from '../../plugin/sigstore.ts';
import { fetchDownload } from '../../plugin/hosts/download.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import { ALPHA, BETA, GAMMA, UNSIGNED, evil, startPluginFixture } from './fixture.ts';
import type { PluginFixture } from './fixture.ts';

let fx: PluginFixture;
before(async () => {
  fx = await startPluginFixture();
});
after(() => fx?.close());

function recordOf(filename: string, extra: Partial<PackageRecord> = {}): PackageRecord {
  return { ...recordFromUrl(fx.strict.get(filename).url), ...extra };
}

/** A real session whose opening, verifications and finishes are counted. */
async function countedSession(lockfile: string) {
  const counts = { opened: 0, verified: 0, finished: 0 };
  const factory = async (): Promise<VerifySession> => {
    counts.opened++;
    const config = await loadConfig({ cwd: fx.dir });
    const real = await createSession({ config, offline: true, lockfile });
    return {
      verifyPackage: (r, d) => (counts.verified++, real.verifyPackage(r, d)),
      finish: () => (counts.finished++, real.finish()),
    };
  };
  return { counts, factory };
}

test('one session per run, opened lazily on the first download, finished once', async () => {
  const { counts, factory } = await countedSession(fx.lockfile());
  const plugin = createCondaAttestPlugin({ session: factory });
  const download = plugin.wrapDownload!(fetchDownload());
  assert.equal(counts.opened, 0, 'nothing is loaded before the first download');
  const results = await Promise.all([ALPHA, BETA].map((f) => download({ record: recordOf(f) })));
  assert.equal(results[0].bytes.byteLength, fx.strict.get(ALPHA).size);
  assert.equal(results[1].sha256, fx.strict.get(BETA).sha256);
  assert.equal(counts.opened, 1);
  assert.equal(counts.verified, 2);
  const report = await plugin.afterInstall!();
  const again = await plugin.afterInstall!();
  assert.equal(counts.finished, 1, 'the lockfile is written once however often the host calls afterInstall');
  assert.equal(again, report);
  assert.deepEqual(
    report?.packages.map((p) => [p.filename, p.status, p.action]),
    [
      [ALPHA, 'verified', 'pass'],
      [BETA, 'verified', 'pass'],
    ],
  );
});

test('a run that downloads nothing opens no session and reports nothing', async () => {
  const { counts, factory } = await countedSession(fx.lockfile());
  const plugin = createCondaAttestPlugin({ session: factory });
  assert.equal(await plugin.afterInstall!(), undefined);
  assert.equal(counts.opened, 0);
});

test('attack: bytes that do not match the host digest are blocked without consulting attestations, and reported', async (t) => {
  fx.strict.setFault(fx.strict.get(GAMMA).url, { kind: 'body', body: evil.bytes });
  t.after(() => fx.strict.clearFaults());
  const { counts, factory } = await countedSession(fx.lockfile());
  const plugin = createCondaAttestPlugin({ session: factory });
  const download = plugin.wrapDownload!(fetchDownload());
  await assert.rejects(download({ record: recordOf(GAMMA, { sha256: fx.strict.get(GAMMA).sha256 }) }), (e) => {
    assert.ok(e instanceof PackageBlockedError);
    assert.deepEqual(e.reasons.map((r) => r.code), ['PACKAGE_DIGEST_MISMATCH']);
    assert.match(e.reasons[0].message, new RegExp(evil.sha256));
    return true;
  });
  assert.equal(counts.verified, 0);
  const report = await plugin.afterInstall!();
  assert.equal(report?.summary.blocked, 1);
  assert.equal(report?.packages[0].status, 'invalid');
});

test('blocked and warned packages: PackageBlockedError carries record, reasons and the report row', async () => {
  const plugin = createCondaAttestPlugin({ cwd: fx.dir, offline: true, lockfile: fx.lockfile() });
  const download = plugin.wrapDownload!(fetchDownload());
  await assert.rejects(download({ record: recordOf(UNSIGNED) }), (e) => {
    assert.ok(e instanceof PackageBlockedError);
    assert.equal(e.record.filename, UNSIGNED);
    assert.equal(e.report?.status, 'missing');
    assert.ok(e.reasons.length > 0 && e.hint);
    assert.match(e.toLine(), /^PACKAGE_BLOCKED: Package unsigned-1\.0-h0_0\.conda from .*strict was blocked/);
    return true;
  });
  const loose = fx.lenient.get('loose-3.0-h0_0.conda');
  const ok = await download({ record: recordFromUrl(loose.url) });
  assert.equal(ok.sha256, loose.sha256, 'a warned package proceeds');
  const report = await plugin.afterInstall!();
  assert.deepEqual(report?.summary && [report.summary.blocked, report.summary.warned], [1, 1]);
});

test('a host loads conda-attest by path from its config, with options, through the loader', async () => {
  const loaded = await loadPlugins([[join(import.meta.dirname, '..', '..', 'plugin', 'index.ts'), { cwd: fx.dir, offline: true, lockfile: fx.lockfile() }]], {
    configDir: fx.dir,
  });
  assert.deepEqual(loaded.plugins.map((p) => p.name), ['conda-attest']);
  const download = loaded.wrapDownload(fetchDownload());
  await download({ record: recordOf(ALPHA) });
  await assert.rejects(download({ record: recordOf(UNSIGNED) }), PackageBlockedError);
  const [result] = await loaded.afterInstall();
  assert.equal(result.plugin, 'conda-attest');
  assert.deepEqual(result.report?.packages.map((p) => p.action), ['pass', 'block']);
});
