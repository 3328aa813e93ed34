// conda-attest as a plugin, with the real pipeline (src/pipeline.ts) behind it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ConfigError, PluginError } from '../../src/errors.ts';
import { createSession } from '../../src/pipeline.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { VerifySession } from '../../src/session-types.ts';
import type { PackageRecord } from '../../src/types.ts';
import { PackageBlockedError } from '../../plugin/contract.ts';
import { composePlugins, loadPlugins } from '../../plugin/loader.ts';
import type { DownloadFn } from '../../plugin/contract.ts';
import { createCondaAttestPlugin } from '../../plugin/conda-attest.ts';
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
    const real = await createSession({ config, noTufRefresh: true, lockfile });
    return {
      verifyPackage: (r, d) => (counts.verified++, real.verifyPackage(r, d)),
      finish: () => (counts.finished++, real.finish()),
    };
  };
  return { counts, factory };
}

test('one session per run, opened when the host composes the plugin (before any download), finished once', async () => {
  const { counts, factory } = await countedSession(fx.lockfile());
  const plugin = createCondaAttestPlugin({ session: factory });
  assert.equal(counts.opened, 0, 'nothing is loaded by the factory itself');
  const download = plugin.wrapDownload!(fetchDownload());
  assert.equal(counts.opened, 1, 'config, trust root and lockfile are loaded when the host composes the plugins');
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
  const plugin = createCondaAttestPlugin({ cwd: fx.dir, noTufRefresh: true, lockfile: fx.lockfile() });
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
  const loaded = await loadPlugins([[join(import.meta.dirname, '..', '..', 'plugin', 'index.ts'), { cwd: fx.dir, noTufRefresh: true, lockfile: fx.lockfile() }]], {
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

test('plugin options are validated like a config: unknown keys and wrong types, every problem in the message', async () => {
  for (const [options, pattern] of [
    [{ frozne: true }, /frozne: unknown option/],
    [{ frozen: 'yes', offline: 1 }, /frozen: must be a boolean[\s\S]*offline: must be a boolean/],
    [{ cwd: '' }, /cwd: must be a non-empty string/],
    [{ session: { finish: 1 } }, /session: must be a conda-attest session/],
  ] as const) {
    assert.throws(
      () => createCondaAttestPlugin(options as never),
      (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID' && pattern.test(e.message),
      JSON.stringify(options),
    );
  }
  // Through a host's loader: a PluginError naming the plugin, with the problems in its message.
  await assert.rejects(
    loadPlugins([[join(import.meta.dirname, '..', '..', 'plugin', 'index.ts'), { frozne: true }]], { configDir: fx.dir }),
    (e: unknown) => e instanceof PluginError && /frozne: unknown option/.test(e.message),
  );
});

test('no config found: the plugin fails with NO_CONFIG when the host composes it, before anything is fetched', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'ca-noconfig-'));
  try {
    let fetched = 0;
    const counting: typeof fetch = (input, init) => (fetched++, fetch(input, init));
    const loaded = await loadPlugins([[join(import.meta.dirname, '..', '..', 'plugin', 'index.ts'), { cwd: empty, noTufRefresh: true }]], { configDir: empty });
    const download = loaded.wrapDownload(fetchDownload(counting));
    await assert.rejects(download({ record: recordOf(ALPHA) }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, 'NO_CONFIG');
      assert.match(e.hint ?? '', /conda-attest init/);
      return true;
    });
    assert.equal(fetched, 0, 'nothing is downloaded without a policy');
    await assert.rejects(loaded.afterInstall(), /NO_CONFIG|configuration/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('attack: URLs the plugin cannot judge are refused with PACKAGE_URL_UNSUPPORTED before they are fetched', async () => {
  let fetched = 0;
  const counting: typeof fetch = (input, init) => (fetched++, fetch(input, init));
  const plugin = createCondaAttestPlugin({ cwd: fx.dir, noTufRefresh: true, lockfile: fx.lockfile() });
  const download = plugin.wrapDownload!(fetchDownload(counting));
  const base = recordOf(ALPHA);
  for (const record of [
    { ...base, url: `${base.url}?X-Amz-Signature=abc` },
    { ...base, url: `${base.url}#frag` },
    { ...base, url: base.url.replace(/\.conda$/, '.zip'), filename: base.filename.replace(/\.conda$/, '.zip') },
    { ...base, url: 'not a url' },
    // A host may still unpack these as packages (mambajs lowercases), but no attestation names them.
    { ...base, url: base.url.replace(/\.conda$/, '.CONDA'), filename: base.filename.replace(/\.conda$/, '.CONDA') },
    { ...base, url: base.url.replace(/-1\.0-h0_0\.conda$/, '.conda'), filename: 'alpha.conda' },
  ]) {
    await assert.rejects(download({ record }), (e: unknown) => {
      assert.ok(e instanceof PackageBlockedError, `${record.url}: ${String(e)}`);
      assert.deepEqual(e.reasons.map((r) => r.code), ['PACKAGE_URL_UNSUPPORTED']);
      assert.ok(e.reasons[0]!.hint);
      return true;
    });
  }
  assert.equal(fetched, 0);
  const report = await plugin.afterInstall!();
  assert.equal(report?.summary.blocked, 6);
});

for (const where of ['the host download', 'a plugin inside conda-attest'] as const) {
  test(`attack: ${where} never settles → afterInstall stops waiting, reports it (DOWNLOAD_UNSETTLED), writes the lockfile for what settled, and refuses it if it finishes later`, async () => {
    const lockfile = fx.lockfile();
    const { factory } = await countedSession(lockfile);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const stall = (next: DownloadFn): DownloadFn => async (req) => {
      if (req.record.filename === BETA) await held; // a download that does not settle until released
      return next(req);
    };
    const attest = createCondaAttestPlugin({ session: factory, settleTimeoutMs: 50 });
    const download =
      where === 'the host download'
        ? attest.wrapDownload!(stall(fetchDownload()))
        : composePlugins([attest, { name: 'stalling-cache', wrapDownload: stall }]).wrapDownload(fetchDownload());
    const alpha = await download({ record: recordOf(ALPHA) });
    assert.equal(alpha.sha256, fx.strict.get(ALPHA).sha256);
    const beta = download({ record: recordOf(BETA) });
    const late = beta.then(
      () => assert.fail('a download finishing after the run ended was handed to the host'),
      (e: unknown) => e,
    );
    const report = await attest.afterInstall!();
    assert.ok(report);
    assert.deepEqual(report.packages.map((p) => [p.filename, p.status]), [[ALPHA, 'verified']]);
    const notice = report.notices?.find((n) => n.code === 'DOWNLOAD_UNSETTLED');
    assert.ok(notice, JSON.stringify(report.notices));
    assert.match(notice.message, new RegExp(`still in flight .*${BETA.replace(/\./g, '\\.')}`));
    assert.ok(report.warnings?.some((w) => w.startsWith('DOWNLOAD_UNSETTLED: ')));
    assert.equal(report.lockfile?.written, true);
    assert.match(readFileSync(lockfile, 'utf8'), /alpha/);
    assert.doesNotMatch(readFileSync(lockfile, 'utf8'), /beta/);
    // Now the stalled download completes: it is refused, never handed on.
    release();
    const e = await late;
    assert.ok(e instanceof PackageBlockedError, String(e));
    assert.deepEqual(e.reasons.map((r) => r.code), ['DOWNLOAD_UNSETTLED']);
  });
}

test('settleTimeoutMs must be a positive whole number of milliseconds', () => {
  for (const bad of [0, -5, 1.5, '100', Number.NaN]) {
    assert.throws(() => createCondaAttestPlugin({ settleTimeoutMs: bad as number }), (e: unknown) => e instanceof ConfigError && /settleTimeoutMs/.test(e.message));
  }
});
