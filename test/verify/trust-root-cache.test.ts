// The trust-root cache is not a trust anchor: every load re-checks the cached
// trusted_root.json against its signed TUF metadata, chained to the TUF root this release
// embeds (here: the root of a loopback TUF repository, handed in as `tufRoot`). Attacks:
// a planted root with a fresh meta.json, a swapped root beside genuine metadata, an
// attacker's own TUF chain, and a refresh time in the future.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrustRoot, PUBLIC_GOOD } from '../../src/verify/trust-root.ts';
import { forgedMetadata, makeTufFiles, startTufRepo, type TufFiles } from '../helpers/tuf-repo.ts';

const require = createRequire(import.meta.url);
const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
const snapshotBytes = Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!, 'base64');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const EMBEDDED = sha(snapshotBytes);
// Valid trusted roots with other bytes than the embedded snapshot: the repository's, and the attacker's.
const genuineRoot = Buffer.from(JSON.stringify(JSON.parse(snapshotBytes.toString())));
const attackerRoot = Buffer.from(JSON.stringify(JSON.parse(snapshotBytes.toString()), null, 3));

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-trc-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A genuine refresh from a loopback TUF repository into `cacheDir`; returns the repository's files. */
async function refreshed(cacheDir: string, now?: Date, signedAt?: Date): Promise<{ files: TufFiles; url: string }> {
  const files = makeTufFiles(genuineRoot, signedAt ? { signedAt } : {});
  const repo = await startTufRepo(files);
  try {
    const r = await loadTrustRoot(PUBLIC_GOOD, { cacheDir, tufMirrorUrl: repo.url, tufRoot: files.root, tufTimeoutMs: 5000, ...(now ? { now } : {}) });
    assert.match(r.source, /^public-good \(TUF, refreshed /, JSON.stringify(r.warnings));
    assert.equal(r.digest, sha(genuineRoot));
    return { files, url: repo.url };
  } finally {
    await repo.close();
  }
}

/** The directory @sigstore/tuf keeps this mirror's metadata in. */
function metadataDir(cacheDir: string): string {
  const base = join(cacheDir, 'trust-root', 'tuf');
  const [hashed] = readdirSync(base);
  const [repo] = readdirSync(join(base, hashed!)).filter((f) => !f.endsWith('.json'));
  return join(base, hashed!, repo!);
}

const DAY = 86_400_000;

test('a genuine TUF refresh is cached, and the cache loads offline (re-checked), dated by its signed TUF metadata', async (t) => {
  const cacheDir = tmp(t);
  // Metadata signed 3 days ago, refreshed today: the root is 3 days old whatever the refresh time.
  const signedAt = new Date(Date.now() - 3 * DAY);
  const { files } = await refreshed(cacheDir, undefined, signedAt);
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.match(r.source, /TUF cache, refreshed/);
  assert.equal(r.digest, sha(genuineRoot));
  assert.equal(r.ageDays, 3);
  assert.equal(r.asOf, signedAt.toISOString().replace(/\.\d+Z$/, '.000Z'));
  assert.equal(r.warnings, undefined);
});

test('a refresh whose TUF metadata does not say when it was signed is dated by its newest key start, not by the refresh time', async (t) => {
  const cacheDir = tmp(t);
  const { files } = await refreshed(cacheDir);
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r.digest, sha(genuineRoot));
  // The newest validFor.start of the public-good root in @sigstore/tuf 5 (the Rekor v2 log key).
  assert.equal(r.asOf, '2025-09-23T00:00:00.000Z');
});

test('attack: a forged fresh timestamp.json beside an old genuine refresh does not make it young', async (t) => {
  const cacheDir = tmp(t);
  const { files, url } = await refreshed(cacheDir, undefined, new Date(Date.now() - 100 * DAY));
  const dir = metadataDir(cacheDir);
  // Claims to be signed now (expires = now + the root's 365-day timestamp period), signed by a key the root does not list.
  const expires = new Date(Date.now() + 365 * DAY).toISOString().replace(/\.\d+Z$/, 'Z');
  writeFileSync(join(dir, 'timestamp.json'), forgedMetadata('timestamp', { expires, meta: { 'snapshot.json': { version: 1 } } }));
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r.digest, sha(genuineRoot), 'the genuine root is still used');
  assert.equal(r.ageDays, 100);
  // A meta.json that claims a refresh today does not make it young either.
  writeFileSync(join(cacheDir, 'trust-root', 'meta.json'), JSON.stringify({ fetchedAt: new Date().toISOString(), mirror: url }));
  const r2 = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r2.ageDays, 100);
});

test('attack: a planted trusted_root.json with a fresh meta.json does not replace the public-good root', async (t) => {
  const cacheDir = tmp(t);
  mkdirSync(join(cacheDir, 'trust-root'));
  writeFileSync(join(cacheDir, 'trust-root', 'trusted_root.json'), attackerRoot);
  writeFileSync(join(cacheDir, 'trust-root', 'meta.json'), JSON.stringify({ fetchedAt: new Date().toISOString(), mirror: 'https://tuf-repo-cdn.sigstore.dev' }));
  for (const offline of [true, false]) {
    // Online, the (unreachable) refresh fails fast and the same check applies to the fallback.
    const r = await loadTrustRoot(PUBLIC_GOOD, { offline, cacheDir, tufMirrorUrl: 'http://127.0.0.1:9', tufTimeoutMs: 2000 });
    assert.equal(r.source, 'public-good (embedded snapshot)');
    assert.equal(r.digest, EMBEDDED);
    assert.ok(r.warnings?.some((w) => /^TRUST_ROOT_INVALID: the cached public-good trusted root is not used: its TUF metadata cannot be read/.test(w)), JSON.stringify(r.warnings));
  }
});

test('attack: the trusted_root.json swapped beside genuine TUF metadata fails the signed hash and length', async (t) => {
  const cacheDir = tmp(t);
  const { files } = await refreshed(cacheDir);
  writeFileSync(join(cacheDir, 'trust-root', 'trusted_root.json'), attackerRoot);
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r.digest, EMBEDDED);
  assert.ok(r.warnings?.some((w) => /trusted_root\.json is \d+ bytes, the signed targets\.json says \d+/.test(w)), JSON.stringify(r.warnings));
  // Same length, other bytes: the hash catches it.
  const sameLength = Buffer.from(genuineRoot.toString().replace('"mediaType"', '"mediaTyp\\u0065"').slice(0, genuineRoot.length));
  assert.equal(sameLength.length, genuineRoot.length);
  writeFileSync(join(cacheDir, 'trust-root', 'trusted_root.json'), sameLength);
  const r2 = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r2.digest, EMBEDDED);
  assert.ok(r2.warnings?.some((w) => /does not have the sha256 that the signed targets\.json names/.test(w)), JSON.stringify(r2.warnings));
});

test("attack: an attacker's own TUF chain (its root, its targets, its trusted root) planted in the cache is refused: it does not chain to the anchor", async (t) => {
  const cacheDir = tmp(t);
  const { files } = await refreshed(cacheDir);
  const evil = makeTufFiles(attackerRoot);
  const dir = metadataDir(cacheDir);
  writeFileSync(join(dir, 'root.json'), evil.root);
  writeFileSync(join(dir, 'targets.json'), evil.targets);
  writeFileSync(join(cacheDir, 'trust-root', 'trusted_root.json'), attackerRoot);
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r.digest, EMBEDDED);
  assert.ok(r.warnings?.some((w) => /cached TUF root version 1 differs from the embedded one/.test(w)), JSON.stringify(r.warnings));
  // Its targets.json beside the genuine root: not signed by the genuine targets key.
  cpSync(join(dir, 'root.json'), join(dir, 'evil-root.json'));
  writeFileSync(join(dir, 'root.json'), files.root);
  const r2 = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r2.digest, EMBEDDED);
  assert.ok(r2.warnings?.some((w) => /targets\.json is not signed by a threshold/.test(w)), JSON.stringify(r2.warnings));
});

test('attack: a refresh time in the future (to look fresh for ever) is refused', async (t) => {
  const cacheDir = tmp(t);
  const { files } = await refreshed(cacheDir);
  writeFileSync(join(cacheDir, 'trust-root', 'meta.json'), JSON.stringify({ fetchedAt: '2099-01-01T00:00:00.000Z', mirror: 'x' }));
  const r = await loadTrustRoot(PUBLIC_GOOD, { offline: true, cacheDir, tufRoot: files.root });
  assert.equal(r.digest, EMBEDDED);
  assert.ok(r.warnings?.some((w) => /refresh time 2099-01-01T00:00:00\.000Z is in the future/.test(w)), JSON.stringify(r.warnings));
});
