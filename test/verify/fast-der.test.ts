import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASN1Obj } from '@sigstore/core';
import { fastDER, installFastDer, isFastDerInstalled, originalToDER, trustRootCertificates, uninstallFastDer } from '../../src/verify/fast-der.ts';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { uninstallQuietParse } from '../../src/verify/accelerate.ts';
import { uninstallChainMemo } from '../../src/verify/chain-memo.ts';
import { publishStatement, startLocalSigstore, tamperBundle } from '../helpers/sigstore.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const shared = join(repo, '..', 'shared');
after(() => uninstallFastDer());

/** Every DER blob we can find in a bundle or trusted root JSON: certificates, timestamps. */
function derBlobs(json: unknown, out: Buffer[] = []): Buffer[] {
  if (Array.isArray(json)) for (const v of json) derBlobs(v, out);
  else if (json && typeof json === 'object') {
    for (const [k, v] of Object.entries(json)) {
      if ((k === 'rawBytes' || k === 'signedTimestamp') && typeof v === 'string') out.push(Buffer.from(v, 'base64'));
      else derBlobs(v, out);
    }
  }
  return out;
}

/** Compare both encoders on `der` and on every nested object. Returns objects compared. */
function compareAll(der: Buffer): number {
  let obj: ASN1Obj;
  try {
    obj = ASN1Obj.parseBuffer(Buffer.from(der));
  } catch {
    return 0;
  }
  let n = 0;
  const walk = (o: ASN1Obj) => {
    assert.ok(originalToDER(o).equals(fastDER(o)), 'encodings differ');
    n++;
    for (const s of o.subs) walk(s);
  };
  walk(obj);
  // A parsed DER blob re-encodes to itself (strict DER input).
  assert.ok(fastDER(obj).equals(der));
  return n;
}

test('byte-identical to @sigstore/core on every certificate of the public-good root and local bundles', async () => {
  const require = createRequire(import.meta.url);
  const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
  const blobs: Buffer[] = [];
  for (const seed of Object.values(seeds)) {
    const tr = seed.targets['trusted_root.json'];
    if (tr) blobs.push(...derBlobs(JSON.parse(Buffer.from(tr, 'base64').toString('utf8'))));
  }
  const sigstore = await startLocalSigstore();
  try {
    const st = publishStatement({ filename: 'a-1-h0_0.conda', sha256: 'a'.repeat(64) });
    blobs.push(...derBlobs(sigstore.trustedRoot), ...derBlobs(sigstore.wrongTrustedRoot));
    blobs.push(...derBlobs(await sigstore.attest(st, { tsa: true, bundleVersion: '0.2' })));
    blobs.push(...derBlobs(await sigstore.attest(st, { san: 'someone@example.com', issuer: 'https://accounts.example.com' })));
  } finally {
    await sigstore.close();
  }
  let objects = 0;
  for (const b of blobs) objects += compareAll(b);
  assert.ok(blobs.length >= 8 && objects > 500, `${blobs.length} blobs, ${objects} objects`);
});

test('byte-identical on the conformance and interop bundles', { skip: existsSync(shared) ? false : 'needs ../shared (absent in a fresh clone)' }, () => {
  const blobs: Buffer[] = [];
  const conf = join(shared, 'conformance');
  for (const d of readdirSync(conf)) {
    const dir = join(conf, d);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json') || x.endsWith('.sigstore'))) {
      try {
        blobs.push(...derBlobs(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
      } catch {
        /* malformed-JSON cases */
      }
    }
  }
  for (const f of readdirSync(join(shared, 'interop')).filter((x) => x.endsWith('.sigs'))) {
    blobs.push(...derBlobs(JSON.parse(readFileSync(join(shared, 'interop', f), 'utf8'))));
  }
  let objects = 0;
  for (const b of blobs) objects += compareAll(b);
  assert.ok(objects > 100, `${blobs.length} blobs, ${objects} objects`);
});

test('long lengths (1, 2 and 3 length bytes) encode identically', () => {
  for (const size of [1, 127, 128, 255, 256, 65535, 65536, 100_000]) {
    const content = Buffer.alloc(size, 0x41);
    const len = size < 128 ? [size] : size < 256 ? [0x81, size] : size < 65536 ? [0x82, size >> 8, size & 255] : [0x83, size >> 16, (size >> 8) & 255, size & 255];
    const inner = Buffer.concat([Buffer.from([0x04, ...len]), content]);
    const outerLen = inner.length < 128 ? [inner.length] : inner.length < 256 ? [0x81, inner.length] : inner.length < 65536 ? [0x82, inner.length >> 8, inner.length & 255] : [0x83, inner.length >> 16, (inner.length >> 8) & 255, inner.length & 255];
    const der = Buffer.concat([Buffer.from([0x30, ...outerLen]), inner]);
    assert.equal(compareAll(der), 2, `size ${size}: both objects parsed and compared`);
  }
});

test('fresh buffers: a caller mutating one encoding does not change the next', async () => {
  const sigstore = await startLocalSigstore();
  try {
    const der = derBlobs(sigstore.trustedRoot)[0]!;
    const obj = ASN1Obj.parseBuffer(Buffer.from(der));
    const a = fastDER(obj);
    a[0] ^= 0xff;
    assert.ok(fastDER(obj).equals(der));
  } finally {
    await sigstore.close();
  }
});

test('installed: verification outcomes are unchanged for good and tampered bundles', async () => {
  const sigstore = await startLocalSigstore();
  try {
    const trustRoot = { source: 'local', digest: 'x', ageDays: 0, json: sigstore.trustedRoot };
    const filename = 'a-1.0-h0_0.conda';
    const sha256 = 'b'.repeat(64);
    const good = await sigstore.attest(publishStatement({ filename, sha256 }));
    const bundles = [
      good,
      tamperBundle(good, 'certificate'),
      tamperBundle(good, 'signature'),
      tamperBundle(good, 'set'),
      tamperBundle(good, 'inclusion-proof'),
      await sigstore.attest(publishStatement({ filename, sha256 }), { wrongInstance: { ca: true } }),
      await sigstore.attest(publishStatement({ filename, sha256 }), { tsa: true, bundleVersion: '0.2' }),
    ];
    const pkg = { filename, sha256, acceptedChannels: [] };
    uninstallFastDer();
    uninstallChainMemo();
    uninstallQuietParse();
    const stock = verifyAttestations(bundles, pkg, createVerifier({ trustRoot, accelerate: false }));
    assert.equal(installFastDer(trustRootCertificates(sigstore.trustedRoot)), true);
    assert.ok(isFastDerInstalled());
    const fast = verifyAttestations(bundles, pkg, createVerifier({ trustRoot }));
    assert.deepEqual(fast, stock);
    assert.deepEqual(stock.map((o) => o.verified), [true, false, false, false, false, false, true]);
  } finally {
    uninstallFastDer();
    await sigstore.close();
  }
});
