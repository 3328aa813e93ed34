import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpClient } from '../../src/http/client.ts';
import { hashPackage } from '../../src/http/download.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import { send, startLoopback } from '../helpers/loopback.ts';

const BYTES = Buffer.from('not really a conda archive');
const SHA = createHash('sha256').update(BYTES).digest('hex');
const MD5 = createHash('md5').update(BYTES).digest('hex');

test('hashPackage: local file without network; URL streamed; md5 whenever the record pins one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ca-hp-'));
  const lb = await startLoopback(send(BYTES));
  const http = createHttpClient({ connectTimeoutMs: 1000, totalTimeoutMs: 3000, retries: 0, userAgent: 't' });
  try {
    await writeFile(join(dir, 'p-1-0.conda'), BYTES);
    const rec = recordFromUrl(`${lb.url}/c/noarch/p-1-0.conda`);
    const local = await hashPackage({ ...rec, localPath: join(dir, 'p-1-0.conda') }, http);
    assert.deepEqual(local, { sha256: SHA, size: BYTES.length });
    assert.equal(lb.requests.length, 0);
    assert.deepEqual(await hashPackage({ ...rec, md5: 'a'.repeat(32) }, http), { sha256: SHA, size: BYTES.length, md5: MD5 });
    assert.deepEqual(await hashPackage({ ...rec, md5: 'a'.repeat(32), sha256: 'b'.repeat(64) }, http), { sha256: SHA, size: BYTES.length, md5: MD5 });
    assert.deepEqual(await hashPackage({ ...rec, sha256: 'b'.repeat(64) }, http), { sha256: SHA, size: BYTES.length });
    assert.equal(lb.requests.length, 3);
  } finally {
    http.close();
    await lb.close();
    await rm(dir, { recursive: true, force: true });
  }
});
