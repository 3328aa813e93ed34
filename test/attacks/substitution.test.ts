// Red-team: an attacker who controls a channel's sidecars (or a mirror serving them) tries
// to get a package to `verified` with attestations that are real but belong to something
// else: another package, another archive format, another spelling of the filename, another
// digest; or buries the real check under many or duplicated bundles. Every case goes
// through the pipeline (createSession) against a local Sigstore instance and a loopback
// channel (test/helpers), and every report is checked against the published JSON schema.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startLocalSigstore, publishStatement, tamperBundle, TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from '../helpers/conda.ts';
import { codes, makeWorkspace, resolveIn, row, runSession } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { recordFromUrl } from '../../src/targets/index.ts';
import type { PackageRecord } from '../../src/types.ts';

const STRANGER = 'https://github.com/evil-org/test-feedstock/.github/workflows/build.yml@refs/heads/main';
const SLSA = 'https://slsa.dev/provenance/v1';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;

/** Bundles signed once the channel exists (they need its URL and the packages' digests). */
const LATE: Record<string, (f: string, sha: string) => Promise<BundleJSON[]>> = {
  // The bundle of a DIFFERENT package of the same channel (valid, trusted signer).
  borrowed: async () => ch.get(fn('donor')).bundles,
  // Subject names that differ from the file only in archive format, case or encoding.
  bz2name: async (f, s) => [await sig.attest(publishStatement({ filename: f.replace(/\.conda$/, '.tar.bz2'), sha256: s, targetChannel: ch.url }))],
  casename: async (f, s) => [await sig.attest(publishStatement({ filename: f.toUpperCase().replace('.CONDA', '.conda'), sha256: s, targetChannel: ch.url }))],
  encodedname: async (f, s) => [await sig.attest(publishStatement({ filename: encodeURIComponent(`x/../${f}`), sha256: s, targetChannel: ch.url }))],
  // A digest spelled in uppercase is the same SHA-256 (hex is case-insensitive): still verified.
  upperdigest: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s.toUpperCase(), targetChannel: ch.url }))],
  // A valid, trusted publish attestation for OTHER bytes, next to a tampered one for these bytes.
  otherdigest: async (f, s) => [
    await sig.attest(publishStatement({ filename: f, sha256: createHash('sha256').update('not the package').digest('hex'), targetChannel: ch.url })),
    tamperBundle(await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url })), 'signature'),
  ],
  // Trusted signer only on SLSA provenance; the publish attestation comes from a stranger.
  slsatrusted: async (f, s) => [
    await sig.attest(publishStatement({ filename: f, sha256: s, predicateType: SLSA, predicate: { buildDefinition: {} } })),
    await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url }), { san: STRANGER }),
  ],
  // The publish attestation with a digest entry for another algorithm only.
  sha512only: async (f) => [
    await sig.attest({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: f, digest: { sha512: 'ab'.repeat(64) } }],
      predicateType: 'https://schemas.conda.org/attestations-publish-1.schema.json',
      predicate: { targetChannel: ch.url },
    }),
  ],
  // targetChannel spellings that are not exactly the channel (CEP 27: a URL without trailing
  // slash that SHOULD equal the channel): fail closed.
  tcslash: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: `${ch.url}/` }))],
  tccase: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url.replace('http://', 'HTTP://').replace('/forge', '/FORGE') }))],
  tccreds: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url.replace('http://', 'http://user:pw@') }))],
  tcquery: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: `${ch.url}?x=1` }))],
  tcprefix: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: `${ch.url}-evil` }))],
  // SAN look-alikes of the trusted organisation (Cyrillic "о", another host, a trailing newline).
  sancyrillic: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url }), { san: 'https://github.com/test-\u043erg/x-feedstock/.github/workflows/b.yml@refs/heads/main' })],
  sanhost: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url }), { san: 'https://github.com.evil.example/test-org/x-feedstock/.github/workflows/b.yml@refs/heads/main' })],
  sannewline: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url }), { san: 'https://github.com/test-org/x-feedstock/.github/workflows/b.yml@refs/heads/main\nhttps://evil.example/' })],
  sanencoded: async (f, s) => [await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url }), { san: 'https://github.com/test-org/x%2F..%2F..%2Fevil-org%2Fy/.github/workflows/b.yml@refs/heads/main' })],
  // The same valid bundle three times: verified, and ONE identity pinned (not "added").
  duplicated: async (f, s) => {
    const b = await sig.attest(publishStatement({ filename: f, sha256: s, targetChannel: ch.url }));
    return [b, structuredClone(b), structuredClone(b)];
  },
};

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace('conda-attest-attack-subst-');
  ch = await startFixtureChannel({
    sigstore: sig,
    name: 'forge',
    packages: [{ spec: spec('donor') }, ...Object.keys(LATE).map((name) => ({ spec: spec(name), attest: false }))],
  });
  for (const [name, make] of Object.entries(LATE)) {
    const p = ch.get(fn(name));
    ch.appendBundles(p.filename, await make(p.filename, p.sha256));
  }
});

after(async () => {
  await ch?.close();
  await sig?.close();
  ws?.cleanup();
});

let n = 0;
function config(channelOver: Record<string, unknown> = {}) {
  return resolveIn(ws, {
    trust_root: sig.trustedRootPath,
    cache_dir: `cache-${++n}`,
    http: { retries: 0, timeout_ms: 5000 },
    channels: { [ch.url]: { trusted_identities: TRUSTED, ...channelOver } },
  });
}
function rec(name: string): PackageRecord {
  const p = ch.get(fn(name));
  return { ...recordFromUrl(p.url), sha256: p.sha256 };
}
async function verify(names: string[], download = false) {
  return runSession(config(), names.map(rec), { lockfile: ws.path(`lock-${++n}.json`), download });
}

test('attack: another package\'s valid sidecar served (and advertised) for this package → invalid CEP27_SUBJECT_NAME, blocked', async () => {
  const report = await verify(['borrowed', 'donor'], true);
  const p = row(report, fn('borrowed'));
  assert.equal(p.status, 'invalid');
  assert.equal(p.action, 'block');
  assert.ok(codes(p).includes('CEP27_SUBJECT_NAME'), JSON.stringify(p.reasons));
  assert.ok(codes(p).includes('CEP27_SUBJECT_DIGEST'), 'the digest is another package\'s too');
  assert.equal(p.identity, null);
  // The donor itself is fine: its sidecar is its own.
  assert.equal(row(report, fn('donor')).status, 'verified');
});

test('attack: subject name differing only in archive format (.tar.bz2), case or URL encoding → invalid', async () => {
  const report = await verify(['bz2name', 'casename', 'encodedname'], true);
  for (const name of ['bz2name', 'casename', 'encodedname']) {
    const p = row(report, fn(name));
    assert.deepEqual([p.status, p.action], ['invalid', 'block'], `${name}: ${JSON.stringify(p.reasons)}`);
    assert.deepEqual(codes(p), ['CEP27_SUBJECT_NAME'], name);
  }
});

test('a subject digest in uppercase hex is the same SHA-256: verified (hex is case-insensitive, the bytes still bind)', async () => {
  const report = await verify(['upperdigest'], true);
  assert.equal(row(report, fn('upperdigest')).status, 'verified');
});

test('attack: a subject with only a sha512 digest cannot vouch for the package → invalid CEP27_SUBJECT_DIGEST', async () => {
  const report = await verify(['sha512only'], true);
  const p = row(report, fn('sha512only'));
  assert.deepEqual([p.status, p.action], ['invalid', 'block']);
  assert.ok(codes(p).includes('CEP27_SUBJECT_DIGEST'));
});

test('attack: trusted attestation for other bytes + a tampered one for these bytes → invalid, both reasons listed', async () => {
  const report = await verify(['otherdigest'], true);
  const p = row(report, fn('otherdigest'));
  assert.deepEqual([p.status, p.action], ['invalid', 'block']);
  assert.ok(codes(p).includes('CEP27_SUBJECT_DIGEST'), JSON.stringify(p.reasons));
  assert.ok(codes(p).includes('SIGSTORE_VERIFICATION_FAILED'), JSON.stringify(p.reasons));
  assert.equal(p.bundles.filter((b) => b.verified).length, 0);
});

test('attack: a trusted signer on SLSA provenance does not lend trust to a stranger\'s publish attestation → untrusted', async () => {
  const report = await verify(['slsatrusted'], true);
  const p = row(report, fn('slsatrusted'));
  assert.deepEqual([p.status, p.action], ['untrusted', 'block']);
  assert.ok(codes(p).includes('IDENTITY_UNTRUSTED'));
  assert.equal(p.identity, null);
});

test('the same valid bundle repeated: verified once, one identity pinned, not reported as an added identity', async () => {
  const lock = ws.path('dup.lock');
  const first = await runSession(config(), [rec('duplicated')], { lockfile: lock });
  const p = row(first, fn('duplicated'));
  assert.equal(p.status, 'verified');
  assert.deepEqual(p.notes, ['recorded']);
  assert.equal(p.bundles.length, 3);
  const again = await runSession(config(), [rec('duplicated')], { lockfile: lock });
  assert.equal(row(again, fn('duplicated')).status, 'verified');
});

test('attack: targetChannel with a trailing slash, other case, credentials, a query or a prefix-extended path → invalid', async () => {
  const report = await verify(['tcslash', 'tccase', 'tccreds', 'tcquery', 'tcprefix'], true);
  for (const name of ['tcslash', 'tccase', 'tccreds', 'tcquery', 'tcprefix']) {
    const p = row(report, fn(name));
    assert.deepEqual([p.status, p.action], ['invalid', 'block'], `${name}: ${JSON.stringify(p.reasons)}`);
    assert.ok(codes(p).some((c) => c === 'CEP27_TARGET_CHANNEL_MISMATCH' || c === 'CEP27_PREDICATE_MALFORMED'), name);
  }
});

test('attack: SAN look-alikes of the trusted organisation (homoglyph, host suffix, newline) never match the pattern → untrusted', async () => {
  const report = await verify(['sancyrillic', 'sanhost', 'sannewline'], true);
  for (const name of ['sancyrillic', 'sanhost', 'sannewline']) {
    const p = row(report, fn(name));
    assert.deepEqual([p.status, p.action], ['untrusted', 'block'], `${name}: ${JSON.stringify(p.reasons)}`);
  }
});

test('a percent-encoded SAN is compared literally: `*` spans the encoded text, it is never decoded into extra path segments', async () => {
  // GitHub never issues such a SAN (repository names have no `%`); the point is that the
  // matcher does not decode `%2F` into `/` (which could lift it into another owner's tree).
  const report = await verify(['sanencoded'], true);
  const p = row(report, fn('sanencoded'));
  assert.equal(p.status, 'verified');
  assert.equal(p.identity!.san, 'https://github.com/test-org/x%2F..%2F..%2Fevil-org%2Fy/.github/workflows/b.yml@refs/heads/main');
});

test('attack: a package from an unconfigured channel claiming a configured channel as targetChannel → invalid (default policy on)', async () => {
  const rogue = await startFixtureChannel({ sigstore: sig, name: 'rogue', packages: [{ spec: spec('donor'), targetChannel: ch.url }] });
  try {
    const cfg = resolveIn(ws, {
      trust_root: sig.trustedRootPath,
      cache_dir: `cache-${++n}`,
      http: { retries: 0 },
      default: { enabled: true, require: 'error' },
      channels: { [ch.url]: { trusted_identities: TRUSTED } },
    });
    const p = rogue.get(fn('donor'));
    const report = await runSession(cfg, [{ ...recordFromUrl(p.url), sha256: p.sha256 }], { lockfile: ws.path(`lock-${++n}.json`) });
    const r = report.packages[0]!;
    assert.equal(r.channel, rogue.url, 'judged under the channel it came from, not the one it claims');
    assert.deepEqual([r.status, r.action], ['invalid', 'block']);
    assert.deepEqual(codes(r), ['CEP27_TARGET_CHANNEL_MISMATCH']);
  } finally {
    await rogue.close();
  }
});
