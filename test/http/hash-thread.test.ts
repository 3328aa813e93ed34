// Hashing a large download on a second thread: the digests are those of the bytes, whatever
// the chunking; the size cap still holds; and a download at or above the threshold goes
// through the thread and gives the same answer as hashing inline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createHttpClient } from '../../src/http/client.ts';
import { THREADED_HASH_MIN_BYTES, ThreadedHasher } from '../../src/http/hash-thread.ts';
import { TooLargeSignal } from '../../src/http/hashing.ts';
import { startLoopback } from './loopback.ts';

/** A seeded PRNG (mulberry32): chunk sizes vary between runs only with the seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the threaded hasher gives the SHA-256, MD5 and size of the bytes for any chunking', async () => {
  const bytes = randomBytes(3 * 1024 * 1024 + 12345);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const md5 = createHash('md5').update(bytes).digest('hex');
  for (const seed of [1, 2, 3]) {
    const rnd = prng(seed);
    const h = new ThreadedHasher({ md5: true });
    let off = 0;
    while (off < bytes.length) {
      // From 1 byte to 2.5 MiB: chunks smaller than, equal to and spanning the 1 MiB batches.
      const n = Math.min(bytes.length - off, 1 + Math.floor(rnd() * rnd() * 2.5 * 1024 * 1024));
      await h.add(bytes.subarray(off, off + n));
      off += n;
    }
    assert.deepEqual(await h.digest(), { sha256, md5, size: bytes.length }, `seed ${seed}`);
  }
  const empty = new ThreadedHasher();
  assert.deepEqual(await empty.digest(), { sha256: createHash('sha256').digest('hex'), size: 0 });
});

test('attack: the threaded hasher stops at the size cap', async () => {
  const h = new ThreadedHasher({ maxBytes: 1000 });
  await h.add(Buffer.alloc(1000));
  await assert.rejects(h.add(Buffer.alloc(1)), TooLargeSignal);
  await h.close();
});

test('a download at the threshold (hashed on the second thread) gives the digest of the bytes, and the cap holds', async () => {
  const size = THREADED_HASH_MIN_BYTES;
  const block = randomBytes(1 << 20);
  const h = createHash('sha256');
  for (let i = 0; i < size >> 20; i++) h.update(block);
  const sha256 = h.digest('hex');
  const lb = await startLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': String(size) });
    let sent = 0;
    const pump = () => {
      while (sent < size >> 20) {
        sent++;
        if (!res.write(block)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  const http = createHttpClient({ connectTimeoutMs: 5000, totalTimeoutMs: 120_000, retries: 0, userAgent: 't' });
  try {
    assert.deepEqual(await http.downloadAndHash(`${lb.url}/big.conda`), { sha256, size });
    await assert.rejects(http.downloadAndHash(`${lb.url}/big.conda`, { maxBytes: size - 1 }), { code: 'HTTP_TOO_LARGE' });
  } finally {
    http.close();
    await lb.close();
  }
});
