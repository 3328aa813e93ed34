import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { TrustRootError } from '../../src/errors.ts';
import { loadTrustRoot, parseTrustedRoot, trustRootLabel, validateTrustedRoot, PUBLIC_GOOD } from '../../src/verify/trust-root.ts';
import { closedPort } from '../helpers/loopback.ts';

const require = createRequire(import.meta.url);
const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
const snapshotBytes = Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!, 'base64');
const good = (): any => JSON.parse(snapshotBytes.toString('utf8'));

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-tr-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function rejects(json: unknown, pattern: RegExp): void {
  assert.throws(
    () => validateTrustedRoot(json),
    (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_INVALID' && pattern.test(e.message),
  );
}

test('the embedded public-good snapshot validates', () => {
  validateTrustedRoot(good());
});

test('malformed trusted roots are rejected with a message naming the entry', async (t) => {
  await t.test('not an object', () => rejects([], /document is not a JSON object/));
  await t.test('wrong mediaType', () => rejects({ ...good(), mediaType: 'application/json' }, /mediaType/));
  await t.test('tlog without validFor.start', () => {
    const r = good();
    delete r.tlogs[0].publicKey.validFor.start;
    rejects(r, /tlogs\[0\]\.publicKey\.validFor has no start/);
  });
  await t.test('tlog without validFor at all', () => {
    const r = good();
    delete r.tlogs[1].publicKey.validFor;
    rejects(r, /tlogs\[1\]\.publicKey has no validFor/);
  });
  await t.test('ctlog without validFor.start', () => {
    const r = good();
    delete r.ctlogs[0].publicKey.validFor.start;
    rejects(r, /ctlogs\[0\]\.publicKey\.validFor has no start/);
  });
  await t.test('CA without validFor.start', () => {
    const r = good();
    r.certificateAuthorities[0].validFor = { end: '2030-01-01T00:00:00Z' };
    rejects(r, /certificateAuthorities\[0\]\.validFor has no start/);
  });
  await t.test('TSA without validFor.start', () => {
    const r = good();
    delete r.timestampAuthorities[0].validFor.start;
    rejects(r, /timestampAuthorities\[0\]\.validFor has no start/);
  });
  await t.test('validity ending before it starts', () => {
    const r = good();
    r.tlogs[0].publicKey.validFor.end = '2020-01-01T00:00:00Z';
    rejects(r, /ends before it starts/);
  });
  await t.test('a non-RFC 3339 start', () => {
    const r = good();
    r.tlogs[0].publicKey.validFor.start = 'yesterday';
    rejects(r, /RFC 3339/);
  });
  await t.test('bad base64 in a key', () => {
    const r = good();
    r.tlogs[0].publicKey.rawBytes = 'not base64!!';
    rejects(r, /tlogs\[0\]\.publicKey\.rawBytes is not valid base64/);
  });
  await t.test('base64 that is not a key', () => {
    const r = good();
    r.tlogs[0].publicKey.rawBytes = Buffer.from('hello world, not a key').toString('base64');
    rejects(r, /is not a public key/);
  });
  await t.test('missing key', () => {
    const r = good();
    delete r.ctlogs[1].publicKey;
    rejects(r, /ctlogs\[1\] has no publicKey/);
  });
  await t.test('missing log ID', () => {
    const r = good();
    delete r.tlogs[0].logId;
    rejects(r, /tlogs\[0\] has no logId/);
  });
  await t.test('CA without certificates', () => {
    const r = good();
    r.certificateAuthorities[0].certChain.certificates = [];
    rejects(r, /certificateAuthorities\[0\] has no certificates/);
  });
  await t.test('TSA with an empty chain next to a real one (validity borrowing)', () => {
    const r = good();
    r.timestampAuthorities.push({ validFor: { start: '2025-06-01T00:00:00Z' }, certChain: { certificates: [] } });
    rejects(r, /timestampAuthorities\[1\] has no certificates/);
  });
  await t.test('certificate bytes that are not X.509', () => {
    const r = good();
    r.certificateAuthorities[1].certChain.certificates[0].rawBytes = Buffer.from('garbage').toString('base64');
    rejects(r, /is not an X\.509 certificate/);
  });
  await t.test('chain out of order (inconsistent)', () => {
    const r = good();
    const ca = r.certificateAuthorities.find((c: any) => c.certChain.certificates.length > 1);
    ca.certChain.certificates.reverse();
    rejects(r, /is inconsistent/);
  });
  await t.test('one log ID naming two keys (inconsistent)', () => {
    const r = good();
    r.tlogs[1].logId = r.tlogs[0].logId;
    rejects(r, /reuses the log ID/);
  });
  await t.test('no logs and no CAs', () => rejects({ mediaType: good().mediaType, tlogs: [], certificateAuthorities: [] }, /no transparency logs/));
  await t.test('a list that is not a list', () => rejects({ ...good(), tlogs: {} }, /tlogs is not a list/));
});

test('validity end null means open-ended (protobuf JSON)', () => {
  const r = good();
  r.tlogs[0].publicKey.validFor.end = null;
  validateTrustedRoot(r);
});

test('invalid JSON is TRUST_ROOT_MALFORMED', () => {
  assert.throws(() => parseTrustedRoot(Buffer.from('{"mediaType":'), 'x.json'), (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_MALFORMED');
});

test('public-good offline comes from the embedded snapshot, with digest and age', async (t) => {
  const cacheDir = tmp(t);
  const now = new Date('2026-01-01T00:00:00Z');
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, now });
  assert.equal(r.source, 'public-good (embedded snapshot)');
  assert.match(r.digest, /^[0-9a-f]{64}$/);
  // Newest validFor.start in the snapshot is 2025-09-23 (the Rekor v2 log key).
  assert.equal(r.ageDays, 100);
  assert.equal(r.warnings, undefined);
});

test('the embedded snapshot is dated by the signed TUF root that came with it (expires minus its tuf-on-ci expiry period), not by its newest key', async (t) => {
  const tufRoot = JSON.parse(Buffer.from((seeds['https://tuf-repo-cdn.sigstore.dev'] as unknown as Record<string, string>)['root.json']!, 'base64').toString());
  const signed = Date.parse(tufRoot.signed.expires) - tufRoot.signed['x-tuf-on-ci-expiry-period'] * 86_400_000;
  const now = new Date(signed + 10 * 86_400_000 + 1000);
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir: tmp(t), now });
  assert.equal(r.asOf, new Date(signed).toISOString());
  assert.equal(r.ageDays, 10);
  assert.equal(trustRootLabel(r), `public-good of ${new Date(signed).toISOString().slice(0, 10)}`);
});

// A cached TUF refresh (and every way of planting one): trust-root-cache.test.ts.

test('a damaged cache is ignored in favour of the snapshot', async (t) => {
  const cacheDir = tmp(t);
  mkdirSync(join(cacheDir, 'trust-root'));
  writeFileSync(join(cacheDir, 'trust-root', 'trusted_root.json'), '{"mediaType": "nope"}');
  writeFileSync(join(cacheDir, 'trust-root', 'meta.json'), JSON.stringify({ fetchedAt: '2026-03-01T00:00:00.000Z', mirror: 'x' }));
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir });
  assert.equal(r.source, 'public-good (embedded snapshot)');
});

test('TUF unreachable: falls back to the snapshot with a warning', async (t) => {
  const cacheDir = tmp(t);
  // A port that was free a moment ago: connection refused on 127.0.0.1, no other network.
  const port = await closedPort();
  const r = await loadTrustRoot(PUBLIC_GOOD, { cacheDir, tufMirrorUrl: `http://127.0.0.1:${port}`, tufTimeoutMs: 3000 });
  assert.equal(r.source, 'public-good (embedded snapshot)');
  assert.equal(r.warnings?.length, 1);
  // One line: the cause, and the root used instead with its date.
  assert.match(r.warnings![0]!, /^TRUST_ROOT_REFRESH_FAILED: could not refresh the public-good trusted root through TUF \([^\n]*\); using public-good of \d{4}-\d{2}-\d{2} \(--no-tuf-refresh skips the refresh\)\.$/);
  // An hour without retrying: no connection attempt (a listener now on that port sees none).
  let connections = 0;
  // A plain TCP listener that counts connections and drops them at once.
  const listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', () => resolve()));
  t.after(() => listener.close());
  const again = await loadTrustRoot(PUBLIC_GOOD, { cacheDir, tufMirrorUrl: `http://127.0.0.1:${port}`, tufTimeoutMs: 3000 });
  assert.equal(again.source, 'public-good (embedded snapshot)');
  assert.match(again.warnings![0]!, /failed less than an hour ago/);
  assert.equal(connections, 0);
  // After the hour, it tries again.
  const later = new Date(Date.now() + 61 * 60 * 1000);
  await loadTrustRoot(PUBLIC_GOOD, { cacheDir, tufMirrorUrl: `http://127.0.0.1:${port}`, tufTimeoutMs: 500, now: later });
  assert.ok(connections > 0, 'retried after an hour');
});

test('a custom trusted root file: missing → NOT_FOUND, invalid → INVALID, valid → loaded', async (t) => {
  const d = tmp(t);
  await assert.rejects(loadTrustRoot(join(d, 'nope.json'), { cacheDir: d }), (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_NOT_FOUND');
  const bad = good();
  delete bad.tlogs[0].publicKey.validFor.start;
  writeFileSync(join(d, 'bad.json'), JSON.stringify(bad));
  await assert.rejects(loadTrustRoot(join(d, 'bad.json'), { cacheDir: d }), (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_INVALID');
  writeFileSync(join(d, 'ok.json'), snapshotBytes);
  const r = await loadTrustRoot(join(d, 'ok.json'), { cacheDir: d });
  assert.equal(r.source, join(d, 'ok.json'));
});

test('attack: one entry whose validFor.start is in the future (2099) cannot make an old root look new: ignored for the age, TRUST_ROOT_SUSPICIOUS warns', () => {
  const now = new Date('2026-12-07T00:00:00Z');
  const r = good();
  const newestPast = Math.max(...[...r.tlogs, ...r.ctlogs].map((e: any) => Date.parse(e.publicKey.validFor.start)), ...[...r.certificateAuthorities, ...r.timestampAuthorities].map((e: any) => Date.parse(e.validFor.start)));
  const honestAge = Math.floor((now.getTime() - newestPast) / 86_400_000);
  assert.ok(honestAge > 400, `the snapshot is old at ${now.toISOString()} (${honestAge} days)`);
  r.ctlogs[0].publicKey.validFor.start = '2099-01-01T00:00:00Z';
  delete r.ctlogs[0].publicKey.validFor.end;
  const loaded = parseTrustedRoot(Buffer.from(JSON.stringify(r)), 'forged.json', now);
  assert.equal(loaded.ageDays, honestAge, 'the future start does not reset the age to 0');
  assert.equal(loaded.warnings?.length, 1);
  assert.match(loaded.warnings![0]!, /^TRUST_ROOT_SUSPICIOUS: .*forged\.json.*ctlogs\[0\] from 2099-01-01/);
  // Every start in the future: the age is unknown (a configured limit then fails closed).
  const all = good();
  for (const e of [...all.tlogs, ...all.ctlogs]) e.publicKey.validFor.start = '2099-01-01T00:00:00Z';
  for (const e of [...all.certificateAuthorities, ...all.timestampAuthorities]) e.validFor.start = '2099-01-01T00:00:00Z';
  for (const e of [...all.tlogs, ...all.ctlogs]) delete e.publicKey.validFor.end;
  for (const e of [...all.certificateAuthorities, ...all.timestampAuthorities]) delete e.validFor.end;
  const unknown = parseTrustedRoot(Buffer.from(JSON.stringify(all)), 'all-future.json', now);
  assert.equal(unknown.ageDays, null);
  assert.match(unknown.warnings![0]!, /TRUST_ROOT_SUSPICIOUS/);
  // An honest root has no such warning.
  assert.equal(parseTrustedRoot(snapshotBytes, 'snapshot', now).warnings, undefined);
});

test('attack: a trusted_root.json with a duplicate key (a second "tlogs" after the reviewed one) is TRUST_ROOT_MALFORMED naming the key and line', () => {
  const text = JSON.stringify(good(), null, 2).replace(/\n}$/, ',\n  "tlogs": []\n}');
  assert.throws(
    () => parseTrustedRoot(Buffer.from(text), 'dup.json'),
    (e: unknown) => e instanceof TrustRootError && e.code === 'TRUST_ROOT_MALFORMED' && /"tlogs" appears twice .*line \d+/.test(e.message),
  );
});
