// CEP 50 as accepted (specs §2), one test per transport rule, through the real pipeline
// against a loopback channel whose bundles are signed by the local Sigstore instance:
// - bundle order in a sidecar carries no meaning: any bundle that verifies under the
//   policy makes the package verified, and the row names which one (`verified_by`);
// - every verified identity is still checked against the identity lockfile, whatever
//   the order (IDENTITY_ADDED / IDENTITY_REMOVED);
// - a bundle that fails beside one that passes is a warning on the row with its code;
// - a wrong Content-Type on a sidecar is not a rejection;
// - a record without attestations_sha256 is not an error by itself: the documented probes
//   (<file>.sigs, then <file>.v0.sigs) run, and nothing found is `missing`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SAN, publishStatement, startLocalSigstore, tamperBundle, TEST_ORG_WORKFLOWS as TRUSTED, type BundleJSON, type LocalSigstore } from './helpers/sigstore.ts';
import { startFixtureChannel, type FixtureChannel } from './helpers/channel.ts';
import { makeCondaPackage } from './helpers/conda.ts';
import { codes, makeWorkspace, resolveIn, row, runSession, type JsonPackage, type Workspace } from './helpers/e2e.ts';
import { recordFromUrl } from '../src/targets/index.ts';
import type { PackageRecord } from '../src/types.ts';

const OTHER = 'https://github.com/test-org/other-feedstock/.github/workflows/build.yml@refs/heads/main';
const STRANGER = 'https://github.com/evil-org/test-feedstock/.github/workflows/build.yml@refs/heads/main';
const spec = (name: string, version = '1.0') => ({ name, version, subdir: 'noarch' });
const file = (name: string, version = '1.0') => `${name}-${version}-h0_0.conda`;

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let lockN = 0;

/** Bundles per package, signed over the package's real bytes once the channel is up. */
const SIDECARS: Record<string, (sign: (san: string) => Promise<BundleJSON>) => Promise<BundleJSON[]>> = {
  [file('badfirst')]: async (s) => {
    const good = await s(DEFAULT_SAN);
    return [tamperBundle(good, 'signature'), good];
  },
  [file('goodfirst')]: async (s) => {
    const good = await s(DEFAULT_SAN);
    return [good, tamperBundle(good, 'signature')];
  },
  [file('strangerfirst')]: async (s) => [await s(STRANGER), await s(DEFAULT_SAN)],
  // One package, three releases: two trusted signers in either order, and one of them alone.
  [file('two', '1.0')]: async (s) => [await s(OTHER), await s(DEFAULT_SAN)],
  [file('two', '2.0')]: async (s) => [await s(DEFAULT_SAN), await s(OTHER)],
  [file('two', '3.0')]: async (s) => [await s(DEFAULT_SAN)],
  [file('one', '1.0')]: async (s) => [await s(DEFAULT_SAN)],
  [file('one', '2.0')]: async (s) => [await s(OTHER), await s(DEFAULT_SAN)],
};

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace('conda-attest-cep50-');
  ch = await startFixtureChannel({
    sigstore: sig,
    name: 'cep50',
    packages: [
      ...Object.keys(SIDECARS).map((f) => {
        const [name, version] = f.split('-') as [string, string];
        return { spec: spec(name, version), attest: false };
      }),
      { spec: spec('ctype') },
      { spec: spec('probed'), advertise: false, serve: ['sigs'] },
      { spec: spec('probedv0'), advertise: false, serve: ['v0'] },
      { spec: spec('unattested'), attest: false },
    ],
  });
  await Promise.all(
    Object.entries(SIDECARS).map(async ([f, make]) => {
      const p = ch.get(f);
      assert.equal(makeCondaPackage(spec(...(f.split('-') as [string, string]))).sha256, p.sha256, 'fixture bytes are deterministic');
      const bundles = await make((san) => sig.attest(publishStatement({ filename: f, sha256: p.sha256, targetChannel: ch.url }), { san }));
      ch.appendBundles(f, bundles);
    }),
  );
});

after(async () => {
  await ch?.close();
  await sig?.close();
  ws?.cleanup();
});

function config(channel: Record<string, unknown> = {}) {
  return resolveIn(ws, { trust_root: sig.trustedRootPath, cache_dir: 'cache', channels: { [ch.url]: { trusted_identities: TRUSTED, ...channel } } });
}

function rec(f: string): PackageRecord {
  const p = ch.get(f);
  return { ...recordFromUrl(p.url), sha256: p.sha256 };
}

async function verify(files: string[], lockfile = ws.path(`lock-${++lockN}.json`)) {
  return runSession(config(), files.map(rec), { lockfile });
}

const verifiedBy = (p: JsonPackage) => (p as unknown as { verified_by: number | null }).verified_by;
const checks = (p: JsonPackage, i: number) => (p.bundles[i] as unknown as { evidence: { checks: Record<string, boolean | null> } }).evidence.checks;

test('bundle order carries no meaning: a verifying bundle first or last verifies the package, and the row names which one', async () => {
  const report = await verify([file('badfirst'), file('goodfirst'), file('strangerfirst')]);
  const bad = row(report, file('badfirst'));
  const good = row(report, file('goodfirst'));
  const stranger = row(report, file('strangerfirst'));
  for (const p of [bad, good, stranger]) {
    assert.equal(p.status, 'verified', p.filename);
    assert.equal(p.identity?.san, DEFAULT_SAN, p.filename);
  }
  assert.equal(verifiedBy(bad), 1);
  assert.equal(verifiedBy(good), 0);
  assert.equal(verifiedBy(stranger), 1);
  assert.equal(stranger.bundles[0]!.identity?.san, STRANGER);
  assert.equal(checks(stranger, 0).identity_policy, false);
  assert.equal(checks(stranger, 1).identity_policy, true);
});

test('a failing (or untrusted) bundle beside a passing one is a warning on the row with its code, never dropped', async () => {
  const report = await verify([file('badfirst'), file('goodfirst'), file('strangerfirst'), file('ctype')]);
  for (const [f, index, code] of [[file('badfirst'), 0, 'SIGSTORE_VERIFICATION_FAILED'], [file('goodfirst'), 1, 'SIGSTORE_VERIFICATION_FAILED'], [file('strangerfirst'), 0, 'IDENTITY_UNTRUSTED']] as const) {
    const p = row(report, f);
    assert.equal(p.status, 'verified', f);
    assert.equal(p.action, 'warn', f);
    assert.deepEqual(codes(p), [code], f);
    assert.match(p.reasons[0]!.message, new RegExp(`^bundle ${index}: `), f);
    assert.equal(p.bundles[index]!.verified, code === 'IDENTITY_UNTRUSTED', f);
  }
  // The tampered signature no longer matches its log entry: the first check to notice fails, the later ones never ran.
  const broken = checks(row(report, file('badfirst')), 0);
  assert.equal(broken.tlog_inclusion, false, JSON.stringify(broken));
  assert.equal(broken.signature, null);
  assert.equal(checks(row(report, file('badfirst')), 1).signature, true);
  // A package whose every bundle passes has nothing to warn about.
  assert.equal(row(report, file('ctype')).action, 'pass');
  assert.equal(report.summary.warned, 3);
  assert.equal(report.summary.blocked, 0);
});

test('every verified identity is checked against the lockfile in any order: IDENTITY_ADDED and IDENTITY_REMOVED keep working', async () => {
  const lock = ws.path('two-signers.lock');
  // 1.0: [other, default] pins both; 2.0: [default, other] is the same set in another order.
  const first = await verify([file('two', '1.0')], lock);
  assert.equal(row(first, file('two', '1.0')).status, 'verified');
  const reordered = await verify([file('two', '2.0')], lock);
  assert.equal(row(reordered, file('two', '2.0')).status, 'verified');
  assert.equal(row(reordered, file('two', '2.0')).action, 'pass');
  // 3.0 lacks one of the pinned signers.
  const removed = await verify([file('two', '3.0')], lock);
  assert.equal(row(removed, file('two', '3.0')).status, 'identity-changed');
  assert.ok(codes(row(removed, file('two', '3.0'))).includes('IDENTITY_REMOVED'));

  // one 1.0 pins the default signer; 2.0 adds another signer BEFORE it in the sidecar.
  const lock2 = ws.path('one-signer.lock');
  await verify([file('one', '1.0')], lock2);
  const added = await verify([file('one', '2.0')], lock2);
  const p = row(added, file('one', '2.0'));
  assert.equal(p.status, 'identity-changed');
  assert.ok(codes(p).includes('IDENTITY_ADDED'), JSON.stringify(p.reasons));
});

test('a wrong Content-Type on a sidecar is not a rejection', async () => {
  const p = ch.get(file('ctype'));
  for (const u of Object.values(p.sidecarUrls)) ch.setFault(u, { kind: 'content-type', value: 'text/html; charset=iso-8859-1' });
  try {
    const report = await verify([file('ctype')]);
    const r = row(report, file('ctype'));
    assert.equal(r.status, 'verified', JSON.stringify(r.reasons));
    assert.equal(r.sidecar?.method, 'repodata');
    assert.ok(ch.requestsTo(p.sidecarUrls.hash).length > 0, 'the sidecar was fetched (with the wrong Content-Type)');
  } finally {
    ch.clearFaults();
  }
});

test('a record without attestations_sha256 is not an error by itself: the documented probes run, nothing found is missing', async () => {
  ch.clearRequests();
  const report = await verify([file('probed'), file('probedv0'), file('unattested')]);
  const sigs = row(report, file('probed'));
  assert.equal(sigs.status, 'verified');
  assert.equal(sigs.sidecar?.method, 'sigs');
  const v0 = row(report, file('probedv0'));
  assert.equal(v0.status, 'verified');
  assert.equal(v0.sidecar?.method, 'v0-sigs');
  const none = row(report, file('unattested'));
  assert.equal(none.status, 'missing');
  assert.deepEqual(codes(none), ['NO_ATTESTATIONS']);
  // Probed in the documented order (discovery: repodata, sigs, v0-sigs); 404s are not errors.
  const u = ch.get(file('unattested')).sidecarUrls;
  assert.equal(ch.requestsTo(u.sigs).length, 1);
  assert.equal(ch.requestsTo(u.v0).length, 1);
  assert.equal(ch.requestsTo(u.hash).length, 0, 'no hash URL without a hash');
});
