import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSidecarCache, sidecarCacheDir } from '../../src/cache/sidecar-cache.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const BODY = Buffer.from(JSON.stringify([{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]));

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-sidecars-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const fileOf = (dir: string, h: string) => join(sidecarCacheDir(dir), h.slice(0, 2), h);

test('put then get returns the same bytes, also from a new cache object', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  const c = openSidecarCache(dir);
  assert.equal(c.get(h), undefined);
  c.put(h, BODY);
  assert.ok(BODY.equals(c.get(h)!), 'served from memory before the background write lands');
  await c.flush();
  assert.ok(BODY.equals(openSidecarCache(dir).get(h)!));
  assert.ok(existsSync(fileOf(dir, h)));
  assert.deepEqual(readdirSync(join(sidecarCacheDir(dir), h.slice(0, 2))), [h], 'no temp files left');
});

test('put refuses bytes under a name that is not their SHA-256', (t) => {
  const c = openSidecarCache(tmp(t));
  assert.throws(() => c.put(sha(Buffer.from('other')), BODY), TypeError);
  assert.throws(() => c.put('../../escape', BODY), TypeError);
});

test('adversarial: bytes replaced on disk are never returned, and the file is removed', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  const first = openSidecarCache(dir);
  first.put(h, BODY);
  await first.flush();
  // Same length, one byte changed: only a re-hash can notice.
  const forged = Buffer.from(BODY);
  forged[forged.length - 2] ^= 1;
  writeFileSync(fileOf(dir, h), forged);
  const c = openSidecarCache(dir);
  assert.equal(c.get(h), undefined);
  assert.equal(existsSync(fileOf(dir, h)), false);
  assert.equal(c.warnings.length, 1);
  // Fetched again and stored: served normally.
  c.put(h, BODY);
  assert.ok(BODY.equals(c.get(h)!));
});

test('adversarial: an oversized planted file is not read into memory', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  const first = openSidecarCache(dir);
  first.put(h, BODY);
  await first.flush();
  writeFileSync(fileOf(dir, h), Buffer.alloc(4096, 0x20));
  const c = openSidecarCache(dir, { maxBytes: 1024 });
  assert.equal(c.get(h), undefined);
  assert.match(c.warnings[0]!, /larger than 1024/);
});

test('get of a malformed name is a miss (no path traversal)', (t) => {
  const c = openSidecarCache(tmp(t));
  for (const name of ['../../../etc/passwd', 'A'.repeat(64), 'a'.repeat(63), '']) assert.equal(c.get(name), undefined);
});

test('put does not throw when the cache cannot be written', async (t) => {
  const dir = tmp(t);
  const blocked = join(dir, 'file');
  writeFileSync(blocked, 'x');
  const c = openSidecarCache(blocked);
  c.put(sha(BODY), BODY);
  await c.flush();
  assert.equal(c.get(sha(BODY)), undefined);
  assert.equal(c.warnings.length, 1);
});
