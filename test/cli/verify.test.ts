// `conda-attest verify` end to end: the real CLI as a child process, with its config in a
// temp dir and HOME / XDG_CONFIG_HOME / XDG_CACHE_HOME pointed into it (no user config
// leaks in), against a local Sigstore instance and a loopback fixture channel. Every
// --json run goes through verifyJson(): exactly one JSON object on stdout, valid against
// schema/report.schema.json, no ANSI, and the exit code matches the summary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { publishStatement, tamperBundle, DEFAULT_SAN, GITHUB_ISSUER, TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from '../helpers/conda.ts';
import { ANSI_RE, SHARED, codes, makeWorkspace, row, runCli, verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;
let configPath: string;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({
    name: 'forge',
    packages: [
      { spec: spec('good', 'linux-64') },
      { spec: spec('util') },
      { spec: spec('bare'), attest: false },
      { spec: spec('stranger'), signOptions: { san: 'https://github.com/evil-org/x/.github/workflows/r.yml@refs/heads/main' } },
    ],
  }, 'conda-attest-cli-'));
  configPath = ws.writeConfig({
    trust_root: sig.trustedRootPath,
    lockfile: 'conda-attest.lock',
    http: { retries: 0, timeout_ms: 30_000 },
    channels: { [ch.url]: { trusted_identities: TRUSTED } },
  });
});

after(() => close?.());

/** A second config next to the first (same channel), for --config runs. */
function altConfig(name: string, channel: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  return ws.writeConfig(
    { trust_root: sig.trustedRootPath, lockfile: `${name}.lock`, http: { retries: 0, timeout_ms: 30_000 }, channels: { [ch.url]: { trusted_identities: TRUSTED, ...channel } }, ...top },
    `${name}.json`,
  );
}

test('targets: pixi.lock, conda-lock.yml, explicit file and package URL give the same verdicts', async () => {
  const filenames = [fn('good'), fn('util'), fn('bare')];
  ws.write('env/pixi.lock', ch.pixiLock({ platform: 'linux-64', filenames }));
  ws.write('env/conda-lock.yml', ch.condaLock({ platform: 'linux-64', filenames }));
  ws.write('env/explicit.txt', ch.explicitFile({ platform: 'linux-64', filenames }));
  const runs = await Promise.all([
    verifyJson(ws, ['--lockfile', 'l1.lock', 'env/pixi.lock']),
    verifyJson(ws, ['--lockfile', 'l2.lock', 'env/conda-lock.yml']),
    verifyJson(ws, ['--lockfile', 'l3.lock', 'env/explicit.txt']),
  ]);
  for (const { code, report } of runs) {
    assert.equal(code, 1, 'bare is missing under require: error');
    assert.equal(report.summary.total, 3);
    for (const name of ['good', 'util']) {
      const p = row(report, fn(name));
      assert.equal(p.status, 'verified', `${name}: ${JSON.stringify(p.reasons)}`);
      assert.equal(p.action, 'pass');
      assert.equal(p.digest_source, 'lockfile');
      assert.equal(p.sha256, ch.get(fn(name)).sha256);
      assert.equal(p.identity!.san, DEFAULT_SAN);
      assert.equal(p.channel, ch.url);
    }
    assert.deepEqual([row(report, fn('bare')).status, row(report, fn('bare')).action], ['missing', 'block']);
  }
  // The identity lockfile was written by the (non-frozen) run.
  assert.ok(readFileSync(ws.path('l1.lock'), 'utf8').includes('test-org/test-feedstock'));

  // A package URL has no recorded digest: the bytes are downloaded and hashed.
  const url = await verifyJson(ws, ['--lockfile', 'l4.lock', ch.get(fn('util')).url]);
  assert.equal(url.code, 0);
  assert.equal(row(url.report, fn('util')).status, 'verified');
  assert.equal(row(url.report, fn('util')).digest_source, 'artifact');
});

test('default target: no TARGET uses ./pixi.lock (config found from the working directory)', async () => {
  const sub = makeWorkspace('conda-attest-cli-default-');
  try {
    sub.writeConfig({ trust_root: sig.trustedRootPath, channels: { [ch.url]: { trusted_identities: TRUSTED } } });
    sub.write('pixi.lock', ch.pixiLock({ platform: 'linux-64', filenames: [fn('good'), fn('util')] }));
    const { code, report } = await verifyJson(sub, []);
    assert.equal(code, 0);
    // Sorted by channel, subdir, filename: linux-64 before noarch.
    assert.deepEqual(report.packages.map((p) => [p.filename, p.status]), [[fn('good'), 'verified'], [fn('util'), 'verified']]);
    assert.ok(existsSync(sub.path('conda-attest.lock')), 'lockfile written next to the config');
    // Without pixi.lock / conda-lock.yml and no TARGET: usage error, exit 2.
    const empty = makeWorkspace('conda-attest-cli-empty-');
    try {
      empty.writeConfig({});
      const r = await runCli(empty, ['verify', '--json']);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /USAGE_NO_TARGET/);
    } finally {
      empty.cleanup();
    }
  } finally {
    sub.cleanup();
  }
});

test('local package file with --channel (subdir in the URL, --platform, or the package\'s own info/index.json)', async () => {
  const good = ch.get(fn('good'));
  const file = ws.write(`files/${good.filename}`, good.bytes);
  const [a, b, c] = await Promise.all([
    verifyJson(ws, ['--lockfile', 'f1.lock', '--channel', `${ch.url}/linux-64`, file]),
    verifyJson(ws, ['--lockfile', 'f2.lock', '--channel', ch.url, '--platform', 'linux-64', file]),
    verifyJson(ws, ['--lockfile', 'f3.lock', '--channel', ch.url, file]),
  ]);
  assert.equal(row(c.report, good.filename).url, `${ch.url}/linux-64/${good.filename}`, 'subdir read from info/index.json');
  for (const { code, report } of [a, b, c]) {
    assert.equal(code, 0);
    const p = row(report, good.filename);
    assert.equal(p.status, 'verified', JSON.stringify(p.reasons));
    assert.equal(p.digest_source, 'artifact');
    assert.equal(p.sha256, good.sha256);
  }
  // Bytes that are not a conda package cannot name their subdir: that package is invalid
  // (nothing to discover a sidecar under), the run itself completes.
  const junk = ws.write(`files/${fn('util')}`, 'not a package');
  const d = await verifyJson(ws, ['--lockfile', 'f4.lock', '--channel', ch.url, junk]);
  assert.equal(d.code, 1);
  const j = row(d.report, fn('util'));
  assert.deepEqual([j.status, j.action, j.url], ['invalid', 'block', `${ch.url}/unknown/${fn('util')}`]);
  assert.deepEqual(codes(j), ['ARCHIVE_MALFORMED']);
});

test('--sigs with a local file whose archive is damaged: its digest is checked first (tampered → CEP27_SUBJECT_DIGEST), a damaged but attested archive is still invalid; exit 1, never a run error', async () => {
  const util = ch.get(fn('util'));
  // One flipped byte near the end: in a .conda that is the zip's central directory, so
  // the archive no longer opens; the attestation names the original bytes.
  const tampered = Buffer.from(util.bytes);
  tampered[tampered.length - 10] ^= 0x01;
  const file = ws.write(`damaged/${util.filename}`, tampered);
  const original = await sig.attest(publishStatement({ filename: util.filename, sha256: util.sha256, targetChannel: ch.url }));
  ws.write('damaged/original.sigs', JSON.stringify([original]));
  // A publisher that signed bytes which are no conda archive: the digest matches, the archive does not open.
  const junk = Buffer.from('a signed file that is no conda archive');
  const junkFile = ws.write(`damaged/junk/${util.filename}`, junk);
  const { createHash } = await import('node:crypto');
  const junkSha = createHash('sha256').update(junk).digest('hex');
  const signedJunk = await sig.attest(publishStatement({ filename: util.filename, sha256: junkSha, targetChannel: ch.url }));
  ws.write('damaged/junk.sigs', JSON.stringify([signedJunk]));
  ch.clearRequests();
  const [t, s] = await Promise.all([
    verifyJson(ws, ['--lockfile', 'dm1.lock', '--channel', ch.url, '--sigs', 'damaged/original.sigs', file]),
    verifyJson(ws, ['--lockfile', 'dm2.lock', '--channel', ch.url, '--sigs', 'damaged/junk.sigs', junkFile]),
  ]);
  assert.equal(t.code, 1, t.stderr);
  const tr = row(t.report, util.filename);
  assert.deepEqual([tr.status, tr.action, tr.digest_source], ['invalid', 'block', 'artifact']);
  assert.notEqual(tr.sha256, util.sha256);
  assert.deepEqual(codes(tr), ['CEP27_SUBJECT_DIGEST', 'ARCHIVE_MALFORMED']);
  assert.equal(s.code, 1, s.stderr);
  const sr = row(s.report, util.filename);
  assert.deepEqual([sr.status, sr.action, sr.sha256], ['invalid', 'block', junkSha]);
  assert.deepEqual(codes(sr), ['ARCHIVE_MALFORMED']);
  assert.equal((s.report as unknown as { lockfile: { pinned: number } }).lockfile.pinned, 0, 'a damaged package pins no signer');
  assert.equal(ch.requests.length, 0, 'with --sigs nothing is fetched');
});

test('--download hashes the bytes and blocks a package that differs from the lockfile (PACKAGE_DIGEST_MISMATCH)', async () => {
  ws.write('dl/pixi.lock', ch.pixiLock({ platform: 'linux-64', filenames: [fn('good'), fn('util')] }));
  const util = ch.get(fn('util'));
  const altered = Buffer.from(util.bytes);
  altered[altered.length >> 1] ^= 0x01;
  ch.setFault(util.url, { kind: 'body', body: altered, contentType: 'application/octet-stream' });
  try {
    const { code, report } = await verifyJson(ws, ['--lockfile', 'dl.lock', '--download', 'dl/pixi.lock']);
    assert.equal(code, 1);
    const g = row(report, fn('good'));
    assert.equal(g.digest_source, 'artifact');
    assert.equal(g.status, 'verified');
    const u = row(report, fn('util'));
    assert.equal(u.status, 'invalid');
    assert.equal(u.action, 'block');
    assert.deepEqual(codes(u), ['PACKAGE_DIGEST_MISMATCH']);
    // Without --download the lockfile digest is trusted (pixi enforces it at install).
    const lazy = await verifyJson(ws, ['--lockfile', 'dl2.lock', 'dl/pixi.lock']);
    assert.equal(lazy.code, 0);
    assert.equal(row(lazy.report, fn('util')).digest_source, 'lockfile');
  } finally {
    ch.clearFaults();
  }
});

test('--sigs PATH: a JSON array or a single bundle object; tampered → invalid; more than one package → exit 2', async () => {
  const bare = ch.get(fn('bare'));
  const bundle = await sig.attest(publishStatement({ filename: bare.filename, sha256: bare.sha256, targetChannel: ch.url }));
  ws.write('sigs/array.sigs', JSON.stringify([bundle]));
  ws.write('sigs/single.json', JSON.stringify(bundle));
  ws.write('sigs/tampered.json', JSON.stringify(tamperBundle(bundle, 'signature')));
  ch.clearRequests();
  const [arr, single, bad, many] = await Promise.all([
    verifyJson(ws, ['--lockfile', 's1.lock', '--sigs', 'sigs/array.sigs', bare.url]),
    verifyJson(ws, ['--lockfile', 's2.lock', '--sigs', ws.path('sigs/single.json'), bare.url]),
    verifyJson(ws, ['--lockfile', 's3.lock', '--sigs', 'sigs/tampered.json', bare.url]),
    runCli(ws, ['verify', '--json', '--sigs', 'sigs/array.sigs', bare.url, ch.get(fn('util')).url]),
  ]);
  for (const { code, report } of [arr, single]) {
    assert.equal(code, 0);
    const p = row(report, bare.filename);
    assert.equal(p.status, 'verified', JSON.stringify(p.reasons));
    assert.equal(p.sidecar!.method, 'given');
  }
  assert.equal(bad.code, 1);
  assert.equal(row(bad.report, bare.filename).status, 'invalid');
  assert.ok(codes(row(bad.report, bare.filename)).includes('SIGSTORE_VERIFICATION_FAILED'));
  assert.equal(many.code, 2);
  assert.match(many.stderr, /USAGE_INVALID_ARGUMENT/);
  // With --sigs nothing is discovered from the channel.
  assert.equal(ch.requests.filter((r) => r.path.includes('.sigs') || r.path.endsWith('repodata.json')).length, 0);
});

test('exit codes: 0 with warnings only, 1 on any block; skipped channels are never contacted', async () => {
  const warnCfg = altConfig('warn', { require: 'warn' });
  const w = await verifyJson(ws, ['--config', warnCfg, ch.get(fn('bare')).url, ch.get(fn('stranger')).url]);
  assert.equal(w.code, 0);
  assert.equal(w.report.summary.warned, 2);
  assert.equal(w.report.summary.blocked, 0);
  assert.equal(row(w.report, fn('stranger')).status, 'untrusted');

  const ignoreCfg = altConfig('ignore', { require: 'ignore' });
  const i = await verifyJson(ws, ['--config', ignoreCfg, ch.get(fn('bare')).url, ch.get(fn('stranger')).url]);
  assert.equal(i.code, 0);
  assert.deepEqual([row(i.report, fn('bare')).status, row(i.report, fn('bare')).action], ['missing', 'pass']);
  // ignore never turns an existing but untrusted attestation into a silent pass.
  assert.deepEqual([row(i.report, fn('stranger')).status, row(i.report, fn('stranger')).action], ['untrusted', 'warn']);

  const errorRun = await verifyJson(ws, ['--lockfile', 'e.lock', ch.get(fn('stranger')).url]);
  assert.equal(errorRun.code, 1);

  // Unlisted channel with default disabled: skipped, nothing fetched even with --download.
  const offCfg = ws.writeConfig({ trust_root: sig.trustedRootPath }, 'off.json');
  ch.clearRequests();
  const s = await verifyJson(ws, ['--config', offCfg, '--download', ch.get(fn('good')).url]);
  assert.equal(s.code, 0);
  assert.deepEqual([row(s.report, fn('good')).status, row(s.report, fn('good')).action], ['skipped', 'pass']);
  assert.deepEqual(ch.requests, []);
});

test('config errors: exit 2, every failing path on stderr, nothing on stdout', async () => {
  const bad = ws.writeConfig(
    {
      max_sidecar_bytes: 'big',
      trusted_identites: [],
      channels: { [ch.url]: { require: 'sometimes', mirrors: 'https://m.example/x' } },
    },
    'bad.json',
  );
  const badKey = ws.writeConfig({ channels: { [ch.url]: { trusted_keys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'] } } }, 'badkey.json');
  const [r, k, missing, unknownOpt, zero, noFile] = await Promise.all([
    runCli(ws, ['verify', '--json', '--config', bad, ch.get(fn('good')).url]),
    runCli(ws, ['verify', '--json', '--config', badKey, ch.get(fn('good')).url]),
    runCli(ws, ['verify', '--json', '--config', 'nope.json', ch.get(fn('good')).url]),
    runCli(ws, ['verify', '--json', '--frobnicate', ch.get(fn('good')).url]),
    runCli(ws, ['verify', '--json', '--concurrency', '0', ch.get(fn('good')).url]),
    runCli(ws, ['verify', '--json', 'no-such-pixi.lock']),
  ]);
  for (const x of [r, k, missing, unknownOpt, zero, noFile]) {
    assert.equal(x.code, 2, x.stderr);
    assert.equal(x.stdout, '', 'nothing on stdout for an error');
    assert.doesNotMatch(x.stderr, ANSI_RE);
  }
  assert.match(r.stderr, /CONFIG_INVALID/);
  for (const path of ['max_sidecar_bytes', 'trusted_identites', `channels["${ch.url}"].require`, `channels["${ch.url}"].mirrors`]) {
    assert.ok(r.stderr.includes(path), `stderr does not name ${path}:\n${r.stderr}`);
  }
  assert.match(k.stderr, /CONFIG_KEY_INVALID/);
  assert.ok(k.stderr.includes(`channels["${ch.url}"].trusted_keys[0]`), k.stderr);
  assert.match(missing.stderr, /CONFIG_NOT_FOUND/);
  assert.match(unknownOpt.stderr, /USAGE_/);
  assert.match(zero.stderr, /USAGE_INVALID_ARGUMENT/);
  assert.match(noFile.stderr, /TARGET_NOT_FOUND/);
});

test('colour: none when not a TTY or with NO_COLOR; --json stdout is plain even when colour is forced', async () => {
  const url = ch.get(fn('stranger')).url;
  const [plain, forced, noColor, json] = await Promise.all([
    runCli(ws, ['verify', '--lockfile', 'c1.lock', url]),
    runCli(ws, ['verify', '--lockfile', 'c2.lock', url], { FORCE_COLOR: '1' }),
    runCli(ws, ['verify', '--lockfile', 'c3.lock', url], { FORCE_COLOR: '1', NO_COLOR: '1' }),
    runCli(ws, ['verify', '--json', '--lockfile', 'c4.lock', url], { FORCE_COLOR: '1' }),
  ]);
  for (const x of [plain, forced, noColor, json]) assert.equal(x.code, 1);
  assert.match(plain.stdout, /untrusted/);
  assert.doesNotMatch(plain.stdout + plain.stderr, ANSI_RE);
  // The control: forcing colour does produce escapes, so the checks above can fail.
  assert.match(forced.stdout, ANSI_RE);
  assert.doesNotMatch(noColor.stdout + noColor.stderr, ANSI_RE);
  const report = JSON.parse(json.stdout);
  assert.equal(report.summary.untrusted, 1);
  assert.doesNotMatch(json.stdout, ANSI_RE);
});

// ---- the real public-good bundle in ../shared/interop, verified offline ----------------

const interop = join(SHARED, 'interop');
const INTEROP_FILE = 'signed-package-2.1.0-hb0f4dca_0.conda';
const INTEROP_CHANNEL = 'https://prefix.dev/sigstore-example';
const INTEROP_SAN = 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main';

test('interop: the real prefix.dev bundle verifies OFFLINE against public-good; flipped byte and other channel fail', { skip: existsSync(interop) ? false : 'needs ../shared (absent in a fresh clone)' }, async () => {
  const iws = makeWorkspace('conda-attest-interop-');
  try {
    const pkg = iws.path(INTEROP_FILE);
    copyFileSync(join(interop, INTEROP_FILE), pkg);
    const sigs = join(interop, `${INTEROP_FILE}.sigs`);
    const flipped = Buffer.from(readFileSync(pkg));
    flipped[flipped.length - 100] ^= 0x01;
    iws.write(`flipped/${INTEROP_FILE}`, flipped);
    const policy = { trusted_identities: [{ identity: INTEROP_SAN, issuer: GITHUB_ISSUER }] };
    iws.writeConfig({ trust_root: 'public-good', channels: { [INTEROP_CHANNEL]: policy, 'https://prefix.dev/other-channel': policy } });
    const strangerCfg = iws.writeConfig(
      { trust_root: 'public-good', channels: { [INTEROP_CHANNEL]: { trusted_identities: ['https://github.com/prefix-dev/other-repo/**'] } } },
      'stranger.json',
    );
    // Offline: an unreachable proxy makes any network attempt fail loudly instead of leaking.
    const offlineEnv = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NODE_USE_ENV_PROXY: '1' };
    const base = ['--offline', '--sigs', sigs, '--platform', 'linux-64'];
    const [ok, flip, flipNoPlatform, other, stranger] = await Promise.all([
      verifyJson(iws, [...base, '--lockfile', 'a.lock', '--channel', INTEROP_CHANNEL, pkg], offlineEnv),
      verifyJson(iws, [...base, '--lockfile', 'b.lock', '--channel', INTEROP_CHANNEL, iws.path('flipped', INTEROP_FILE)], offlineEnv),
      // Without --platform the subdir would come from the archive, which the flipped byte
      // broke: still a verdict on the package (its digest), never a run error.
      verifyJson(iws, ['--offline', '--sigs', sigs, '--lockfile', 'b2.lock', '--channel', INTEROP_CHANNEL, iws.path('flipped', INTEROP_FILE)], offlineEnv),
      verifyJson(iws, [...base, '--lockfile', 'c.lock', '--channel', 'https://prefix.dev/other-channel', pkg], offlineEnv),
      verifyJson(iws, [...base, '--config', strangerCfg, '--lockfile', 'd.lock', '--channel', INTEROP_CHANNEL, pkg], offlineEnv),
    ]);
    const p = row(ok.report, INTEROP_FILE);
    assert.equal(ok.code, 0, JSON.stringify(p.reasons));
    assert.equal(p.status, 'verified');
    assert.equal(p.sha256, '54303491a8418fbed24344b513546182c29b43bf282ceb433af65e2299f9271f');
    assert.equal(p.digest_source, 'artifact');
    assert.equal(p.identity!.san, INTEROP_SAN);
    assert.equal(p.identity!.issuer, GITHUB_ISSUER);
    assert.equal(p.identity!.kind, 'github');
    assert.ok((ok.report.trust_root as { source: string }).source.length > 0);
    // Evidence (the report's own, from the same function as verify-bundle's): the log
    // entry and validity window equal the bundle's own fields and its certificate's.
    const bundle = JSON.parse(readFileSync(sigs, 'utf8'))[0];
    const entry = bundle.verificationMaterial.tlogEntries[0];
    const cert = new X509Certificate(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'));
    const ev = (p.bundles[0] as unknown as { evidence: Record<string, any> }).evidence;
    assert.equal((p as unknown as { verified_by: number }).verified_by, 0);
    assert.equal(ev.tlog.log_index, entry.logIndex);
    assert.equal(ev.tlog.integrated_time, new Date(Number(entry.integratedTime) * 1000).toISOString());
    assert.equal(ev.tlog.inclusion_proof.origin, entry.inclusionProof.checkpoint.envelope.split('\n')[0]);
    assert.equal(ev.tlog.inclusion_proof.tree_size, entry.inclusionProof.treeSize);
    assert.equal(ev.certificate.not_before, new Date(cert.validFrom).toISOString());
    assert.equal(ev.certificate.not_after, new Date(cert.validTo).toISOString());
    assert.deepEqual(Object.entries(ev.checks).filter(([, v]) => v !== true).map(([k]) => k), ['claims_policy']);
    assert.equal(p.identity!.token_subject, null);
    assert.equal(Object.keys(p.identity!).filter((k) => !['kind', 'san', 'issuer'].includes(k)).length, 16);

    assert.equal(flip.code, 1);
    assert.equal(row(flip.report, INTEROP_FILE).status, 'invalid');
    assert.ok(codes(row(flip.report, INTEROP_FILE)).includes('CEP27_SUBJECT_DIGEST'));
    const flipChecks = (row(flip.report, INTEROP_FILE).bundles[0] as unknown as { evidence: { checks: Record<string, boolean | null> } }).evidence.checks;
    assert.equal(flipChecks.signature, true);
    assert.equal(flipChecks.subject_digest, false);
    assert.equal(flipNoPlatform.code, 1);
    assert.deepEqual([row(flipNoPlatform.report, INTEROP_FILE).status, row(flipNoPlatform.report, INTEROP_FILE).action], ['invalid', 'block']);
    assert.equal(codes(row(flipNoPlatform.report, INTEROP_FILE))[0], 'CEP27_SUBJECT_DIGEST');

    assert.equal(other.code, 1);
    assert.equal(row(other.report, INTEROP_FILE).status, 'invalid');
    assert.ok(codes(row(other.report, INTEROP_FILE)).includes('CEP27_TARGET_CHANNEL_MISMATCH'));
    assert.equal((row(other.report, INTEROP_FILE).bundles[0] as unknown as { evidence: { checks: Record<string, boolean | null> } }).evidence.checks.target_channel, false);

    assert.equal(stranger.code, 1);
    assert.equal(row(stranger.report, INTEROP_FILE).status, 'untrusted');
    assert.equal((row(stranger.report, INTEROP_FILE).bundles[0] as unknown as { evidence: { checks: Record<string, boolean | null> } }).evidence.checks.identity_policy, false);
  } finally {
    iws.cleanup();
  }
});

test('--format json is the same report as --json; --format text is the terminal report', async () => {
  const target = ch.get(fn('stranger')).url;
  const a = await runCli(ws, ['verify', '--json', '--lockfile', 'fmt1.lock', target]);
  const b = await runCli(ws, ['verify', '--format', 'json', '--lockfile', 'fmt2.lock', target]);
  assert.equal(a.code, 1);
  assert.equal(b.code, 1);
  const strip = (s: string) => JSON.parse(s, (k, v) => (k === 'age_days' || k === 'generated_at' || k === 'duration_ms' || k === 'lockfile' ? undefined : v));
  assert.deepEqual(strip(b.stdout), strip(a.stdout));
  const t = await runCli(ws, ['verify', '--format', 'text', '--lockfile', 'fmt3.lock', target]);
  assert.equal(t.code, 1);
  assert.throws(() => JSON.parse(t.stdout));
  assert.match(t.stdout, /IDENTITY_UNTRUSTED/);
});
