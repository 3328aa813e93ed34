// The content-addressed sidecar cache: what it returns is always re-hashed,
// what it stores survives a new process, and damage only costs a re-fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, fstatSync, ftruncateSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSidecarCache, sidecarCacheDir } from '../../src/cache/sidecar-cache.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const BODY = Buffer.from(JSON.stringify([{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]));
const bucketFile = (dir: string, h: string) => join(sidecarCacheDir(dir), `${h[0]}.json`);

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'conda-attest-sidecars-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function stored(dir: string, ...bodies: Buffer[]): Promise<void> {
  const c = openSidecarCache(dir);
  for (const b of bodies) c.put(sha(b), b);
  await c.flush();
}

test('put then get returns the same bytes, also from a new cache object after flush', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  const c = openSidecarCache(dir);
  assert.equal(c.get(h), undefined);
  assert.equal(c.dirty, false, 'a miss writes nothing');
  c.put(h, BODY);
  assert.equal(c.dirty, true);
  assert.ok(BODY.equals(c.get(h)!), 'served from memory before the flush');
  assert.equal(openSidecarCache(dir).get(h), undefined, 'nothing on disk before the flush');
  await c.flush();
  const reader = openSidecarCache(dir);
  assert.ok(BODY.equals(reader.get(h)!));
  assert.equal(reader.dirty, false, 'a hit writes nothing');
  assert.deepEqual(readdirSync(sidecarCacheDir(dir)), [`${h[0]}.json`], 'one bucket file, no temp files left');
});

test('put refuses bytes under a name that is not their SHA-256', (t) => {
  const c = openSidecarCache(tmp(t));
  assert.throws(() => c.put(sha(Buffer.from('other')), BODY), TypeError);
  assert.throws(() => c.put('../../escape', BODY), TypeError);
});

test('adversarial: bytes replaced on disk are never returned, and the entry is removed', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  await stored(dir, BODY);
  // Same length, one byte changed: only a re-hash can notice.
  const forged = Buffer.from(BODY);
  forged[forged.length - 2] ^= 1;
  writeFileSync(bucketFile(dir, h), JSON.stringify({ [h]: forged.toString('base64') }));
  const c = openSidecarCache(dir);
  assert.equal(c.get(h), undefined);
  assert.equal(c.warnings.length, 1);
  assert.equal(c.dirty, true, 'the forged entry is to be removed: a run must flush');
  await c.flush();
  assert.deepEqual(JSON.parse(readFileSync(bucketFile(dir, h), 'utf8')), {}, 'the forged entry is removed from disk');
  // Fetched again and stored: served normally.
  await stored(dir, BODY);
  assert.ok(BODY.equals(openSidecarCache(dir).get(h)!));
});

test('adversarial: an oversized planted entry is not decoded', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  await stored(dir, BODY);
  writeFileSync(bucketFile(dir, h), JSON.stringify({ [h]: Buffer.alloc(4096, 0x20).toString('base64') }));
  const c = openSidecarCache(dir, { maxBytes: 1024 });
  assert.equal(c.get(h), undefined);
  assert.match(c.warnings[0]!, /larger than 1024/);
});

test('a corrupt bucket file is ignored and rewritten', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  await stored(dir, BODY);
  writeFileSync(bucketFile(dir, h), '{"truncated": ');
  const c = openSidecarCache(dir);
  assert.equal(c.get(h), undefined);
  assert.match(c.warnings[0]!, /unreadable/);
  c.put(h, BODY);
  await c.flush();
  assert.ok(BODY.equals(openSidecarCache(dir).get(h)!));
});

test('flushes of two runs merge; the bucket keeps the newest entries up to its cap', async (t) => {
  const dir = tmp(t);
  // Bodies whose hashes share the first hex digit land in one bucket.
  const bodies: Buffer[] = [];
  for (let i = 0; bodies.length < 5; i++) {
    const b = Buffer.from(`[{"n":${i}}]`);
    if (sha(b)[0] === '7') bodies.push(b);
  }
  const a = openSidecarCache(dir, { maxEntriesPerBucket: 4 });
  const b = openSidecarCache(dir, { maxEntriesPerBucket: 4 });
  a.put(sha(bodies[0]!), bodies[0]!);
  a.put(sha(bodies[1]!), bodies[1]!);
  b.put(sha(bodies[2]!), bodies[2]!);
  await a.flush();
  await b.flush();
  const c = openSidecarCache(dir, { maxEntriesPerBucket: 4 });
  for (const body of bodies.slice(0, 3)) assert.ok(body.equals(c.get(sha(body))!), 'both runs kept');
  c.put(sha(bodies[3]!), bodies[3]!);
  c.put(sha(bodies[4]!), bodies[4]!);
  await c.flush();
  const d = openSidecarCache(dir);
  assert.equal(d.get(sha(bodies[0]!)), undefined, 'the oldest entry was evicted');
  for (const body of bodies.slice(1)) assert.ok(body.equals(d.get(sha(body))!));
});

test('two runs flushing one bucket at the same moment both keep their sidecars', async (t) => {
  const dir = tmp(t);
  const bodies: Buffer[] = [];
  for (let i = 0; bodies.length < 2; i++) {
    const b = Buffer.from(`[{"m":${i}}]`);
    if (sha(b)[0] === '3') bodies.push(b);
  }
  const a = openSidecarCache(dir);
  const b = openSidecarCache(dir);
  a.put(sha(bodies[0]!), bodies[0]!);
  b.put(sha(bodies[1]!), bodies[1]!);
  await Promise.all([a.flush(), b.flush()]);
  const c = openSidecarCache(dir);
  for (const body of bodies) assert.ok(body.equals(c.get(sha(body))!), 'both runs kept');
  assert.deepEqual([...a.warnings, ...b.warnings], []);
});

test('get of a malformed name is a miss (no path traversal)', (t) => {
  const c = openSidecarCache(tmp(t));
  for (const name of ['../../../etc/passwd', 'A'.repeat(64), 'a'.repeat(63), '']) assert.equal(c.get(name), undefined);
});

test('flush does not throw when the cache cannot be written', async (t) => {
  const dir = tmp(t);
  const blocked = join(dir, 'file');
  writeFileSync(blocked, 'x');
  const c = openSidecarCache(blocked);
  c.put(sha(BODY), BODY);
  await c.flush();
  assert.equal(c.warnings.length, 1);
  assert.equal(openSidecarCache(blocked).get(sha(BODY)), undefined);
});

test('memory stays bounded: a run keeps at most maxPendingBytes of new sidecars', async (t) => {
  const dir = tmp(t);
  const bodies = Array.from({ length: 10 }, (_, i) => Buffer.from(`[{"n":${i},"pad":"${'x'.repeat(100)}"}]`));
  const c = openSidecarCache(dir, { maxPendingBytes: 3 * bodies[0]!.length + 10 });
  for (const b of bodies) c.put(sha(b), b);
  await c.flush();
  const again = openSidecarCache(dir);
  const kept = bodies.filter((b) => again.get(sha(b)) !== undefined).length;
  assert.equal(kept, 3);
});

test('new sidecars wait in a spill file: served before the flush, nothing left beside the buckets, and puts after a flush start a new one', async (t) => {
  const dir = tmp(t);
  const bodies = Array.from({ length: 40 }, (_, i) => Buffer.from(`[{"n":${i},"pad":"${'y'.repeat(200 + i)}"}]`));
  const c = openSidecarCache(dir);
  for (const b of bodies.slice(0, 20)) c.put(sha(b), b);
  for (const b of bodies.slice(0, 20)) assert.ok(b.equals(c.get(sha(b))!), 'read back from the spill file, byte for byte');
  assert.ok(readdirSync(sidecarCacheDir(dir)).every((f) => !f.startsWith('.')), 'the spill file is unlinked as soon as it is open');
  await c.flush();
  for (const b of bodies.slice(20)) c.put(sha(b), b);
  assert.ok(bodies[25]!.equals(c.get(sha(bodies[25]!))!));
  await c.flush();
  const again = openSidecarCache(dir);
  for (const b of bodies) assert.ok(b.equals(again.get(sha(b))!), 'both flushes stored every sidecar');
  assert.ok(readdirSync(sidecarCacheDir(dir)).every((f) => /^[0-9a-f]\.json$/.test(f)), 'only bucket files remain');
});

test('without a writable cache directory, new sidecars wait in memory and are still served', (t) => {
  const dir = tmp(t);
  const blocked = join(dir, 'file');
  writeFileSync(blocked, 'x');
  const c = openSidecarCache(blocked);
  c.put(sha(BODY), BODY);
  assert.ok(BODY.equals(c.get(sha(BODY))!));
});

/** Sidecar bodies whose hashes share a first hex digit (one bucket file). */
function sameBucket(n: number): Buffer[] {
  const by = new Map<string, Buffer[]>();
  for (let i = 0; ; i++) {
    const b = Buffer.from(`[{"n":${i},"pad":"${'z'.repeat(300 + i)}"}]`);
    const list = by.get(sha(b)[0]!) ?? [];
    by.set(sha(b)[0]!, [...list, b]);
    if (list.length + 1 === n) return [...list, b];
  }
}

/** The descriptor of this process's spill file (unlinked, so found through /proc), or undefined. */
function spillFd(): number | undefined {
  if (!existsSync('/proc/self/fd')) return undefined;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (/\/\.pending-\d+-[0-9a-f]+\.tmp \(deleted\)$/.test(readlinkSync(`/proc/self/fd/${fd}`))) return Number(fd);
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

test('a bucket file, written piece by piece, is exactly JSON.stringify of its entries: those on disk in their order, then this run\'s puts', async (t) => {
  const dir = tmp(t);
  const [a, b, c, d] = sameBucket(4);
  await stored(dir, a!, b!);
  const cache = openSidecarCache(dir);
  cache.put(sha(c!), c!);
  cache.put(sha(a!), a!); // already stored: moves to the end (most recently used)
  cache.put(sha(d!), d!);
  await cache.flush();
  const expected = JSON.stringify(Object.fromEntries([b!, c!, a!, d!].map((x) => [sha(x), x.toString('base64')])));
  assert.equal(readFileSync(bucketFile(dir, sha(a!)), 'utf8'), expected);
});

test('a spill file cut short before the flush: the bucket is not written, the run says why, and nothing unverified is ever served', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc to reach the unlinked spill file' }, async (t) => {
  const dir = tmp(t);
  const [a, b, c] = sameBucket(3);
  await stored(dir, a!);
  const before = readFileSync(bucketFile(dir, sha(a!)), 'utf8');
  const cache = openSidecarCache(dir, { spillBatchBytes: 0 });
  cache.put(sha(b!), b!);
  cache.put(sha(c!), c!);
  const fd = spillFd();
  assert.ok(fd !== undefined, 'the spill file is open');
  ftruncateSync(fd, b!.length + 10);
  assert.equal(cache.get(sha(c!)), undefined, 'a put cut short is a miss, never other bytes');
  await cache.flush();
  assert.ok(cache.warnings.some((w) => w.includes(bucketFile(dir, sha(a!))) && w.includes('not written') && w.includes('spill file truncated')), cache.warnings.join('\n'));
  assert.equal(readFileSync(bucketFile(dir, sha(a!)), 'utf8'), before, 'the bucket on disk is left as it was');
  assert.ok(readdirSync(sidecarCacheDir(dir)).every((f) => /^[0-9a-f]\.json$/.test(f)), 'no temp file left behind');
  const again = openSidecarCache(dir);
  assert.ok(a!.equals(again.get(sha(a!))!));
  assert.equal(again.get(sha(c!)), undefined);
});

test('spilled bytes overwritten before the flush are stored under their old name but never served: every read re-hashes', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc to reach the unlinked spill file' }, async (t) => {
  const dir = tmp(t);
  const [a] = sameBucket(1);
  const cache = openSidecarCache(dir, { spillBatchBytes: 0 });
  cache.put(sha(a!), a!);
  const fd = spillFd();
  assert.ok(fd !== undefined);
  writeSync(fd, Buffer.from('X'), 0, 1, 5);
  assert.equal(cache.get(sha(a!)), undefined);
  await cache.flush();
  const again = openSidecarCache(dir);
  assert.equal(again.get(sha(a!)), undefined);
  assert.ok(again.warnings.some((w) => w.includes('does not match its SHA-256')), again.warnings.join('\n'));
});

test('new sidecars go to the spill file a batch at a time: served from memory until their batch is full, then from the file; the flush writes both', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc to reach the unlinked spill file' }, async (t) => {
  const dir = tmp(t);
  const [a, b, c] = sameBucket(3);
  const cache = openSidecarCache(dir, { spillBatchBytes: a!.length + b!.length });
  cache.put(sha(a!), a!);
  const fd = spillFd();
  assert.ok(fd !== undefined, 'the spill file is open');
  assert.equal(fstatSync(fd).size, 0, 'one put waits in memory');
  assert.ok(a!.equals(cache.get(sha(a!))!));
  cache.put(sha(b!), b!);
  assert.equal(fstatSync(fd).size, a!.length + b!.length, 'a full batch is appended in one write');
  writeSync(fd, Buffer.from('X'), 0, 1, 5);
  assert.equal(cache.get(sha(a!)), undefined, 'once spilled, read back from the file and re-hashed');
  assert.ok(b!.equals(cache.get(sha(b!))!));
  cache.put(sha(c!), c!);
  assert.equal(fstatSync(fd).size, a!.length + b!.length, 'the next batch waits in memory');
  await cache.flush();
  const again = openSidecarCache(dir);
  assert.equal(again.get(sha(a!)), undefined, 'bytes changed in the file are never served');
  assert.ok(b!.equals(again.get(sha(b!))!), 'the spilled put is written');
  assert.ok(c!.equals(again.get(sha(c!))!), 'the put still in memory is written');
});

test('a put while a flush is writing is kept: written by the next flush, never dropped unwritten (the run-end flush may start while a session still retrieves)', async (t) => {
  const dir = tmp(t);
  const bodies = Array.from({ length: 40 }, (_, i) => Buffer.from(`${BODY.toString()}${' '.repeat(i)}`));
  const [first, ...rest] = bodies;
  const c = openSidecarCache(dir);
  c.put(sha(first!), first!);
  const flushing = c.flush();
  // Puts while the first flush is between its bucket writes (every bucket name occurs).
  for (const b of rest) c.put(sha(b), b);
  await flushing;
  assert.equal(c.dirty, true, 'the puts made during the flush are still to be written');
  for (const b of bodies) assert.ok(b.equals(c.get(sha(b))!), 'still served by this run');
  await c.flush();
  assert.equal(c.dirty, false, 'nothing left to write after the second flush');
  const reader = openSidecarCache(dir);
  for (const b of bodies) assert.ok(b.equals(reader.get(sha(b))!), `${sha(b)} on disk`);
});

test('a flush that rewrote a dropped entry or a corrupt bucket leaves nothing to write', async (t) => {
  const dir = tmp(t);
  const h = sha(BODY);
  await stored(dir, BODY);
  writeFileSync(bucketFile(dir, h), JSON.stringify({ [h]: Buffer.from('other bytes').toString('base64') }));
  const c = openSidecarCache(dir);
  assert.equal(c.get(h), undefined, 'replaced bytes are never returned');
  assert.equal(c.dirty, true, 'the bad entry is to be removed');
  await c.flush();
  assert.equal(c.dirty, false, 'removed: a second flush would write nothing');
  assert.deepEqual(JSON.parse(readFileSync(bucketFile(dir, h), 'utf8')), {});
});
