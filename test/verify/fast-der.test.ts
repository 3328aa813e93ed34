import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { fastCertEquals, fastDER, installFastDer, isFastDerInstalled, originalToDER, trustRootCertificates, uninstallFastDer } from '../../src/verify/fast-der.ts';
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

/** A leaf certificate of the local instance (a fresh one per call) and its DER. */
async function leafDer(sigstore: Awaited<ReturnType<typeof startLocalSigstore>>, san: string): Promise<Buffer> {
  const b = await sigstore.attest(publishStatement({ filename: 'a-1-h0_0.conda', sha256: 'a'.repeat(64) }), { freshCertificate: true, san });
  return Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
}

test('attack: a tree changed after parsing is encoded from its objects, never from the bytes it was parsed from', async () => {
  const sigstore = await startLocalSigstore();
  try {
    const der = await leafDer(sigstore, 'https://github.com/o/a/.github/workflows/x.yml@refs/heads/main');
    const stockOf = (o: ASN1Obj) => originalToDER(o);
    const fresh = () => ASN1Obj.parseBuffer(Buffer.from(der));
    const changes: [string, (root: ASN1Obj) => void][] = [
      // What @sigstore/verify does before checking an SCT: the SCT extension removed from a clone.
      ['an extension removed', (r) => void new X509Certificate(r).extensions.splice(-1, 1)],
      ['a sub-object appended', (r) => void r.subs[0]!.subs.push(ASN1Obj.parseBuffer(Buffer.from([0x02, 0x01, 0x05])))],
      ['a sub-object replaced by one of another length', (r) => void (r.subs[0]!.subs[1] = ASN1Obj.parseBuffer(Buffer.from([0x02, 0x02, 0x01, 0x00])))],
      ['a tag changed', (r) => void ((r.subs[0]!.subs[1] as { tag: ASN1Obj['tag'] }).tag = ASN1Obj.parseBuffer(Buffer.from([0x04, 0x00])).tag)],
      ['a value replaced by other bytes of the same length', (r) => void ((r.subs[2] as { value: Buffer }).value = Buffer.alloc(r.subs[2]!.value.length, 0x55))],
      ['a value replaced by an equal copy elsewhere in memory', (r) => void ((r.subs[1]!.subs[0] as { value: Buffer }).value = Buffer.from(r.subs[1]!.subs[0]!.value))],
      ['two sub-objects swapped', (r) => void r.subs.reverse()],
    ];
    for (const [what, change] of changes) {
      const root = fresh();
      change(root);
      const want = stockOf(root);
      assert.ok(fastDER(root).equals(want), `${what}: the same bytes as the stock encoder`);
      if (what !== 'a value replaced by an equal copy elsewhere in memory') assert.ok(!want.equals(der), `${what}: the change shows in the encoding`);
      const orig = new X509Certificate(fresh());
      const changed = new X509Certificate(root);
      assert.equal(fastCertEquals(orig, changed), orig.root.toDER().equals(stockOf(root)), `${what}: equals as the stock method`);
    }
  } finally {
    await sigstore.close();
  }
});

test('certificate equality: the same answers as the stock method, for equal, one-byte-different and changed certificates', async () => {
  const sigstore = await startLocalSigstore();
  try {
    const a = await leafDer(sigstore, 'https://github.com/o/a/.github/workflows/x.yml@refs/heads/main');
    const b = await leafDer(sigstore, 'https://github.com/o/b/.github/workflows/x.yml@refs/heads/main');
    const roots = derBlobs(sigstore.trustedRoot);
    const flipped = Buffer.from(a);
    flipped[flipped.length - 1] ^= 0x01; // the last byte of the signature value
    const ders = [a, Buffer.from(a), b, flipped, ...roots];
    const certs = ders.map((d) => X509Certificate.parse(Buffer.from(d)));
    const sctless = X509Certificate.parse(Buffer.from(a));
    sctless.extensions.splice(-1, 1);
    certs.push(sctless);
    const stock = (x: X509Certificate, y: X509Certificate) => originalToDER(x.root).equals(originalToDER(y.root));
    for (const x of certs) for (const y of certs) assert.equal(fastCertEquals(x, y), stock(x, y));
    assert.equal(fastCertEquals(certs[0]!, certs[1]!), true, 'the same bytes parsed twice');
    assert.equal(fastCertEquals(certs[0]!, certs[3]!), false, 'one signature byte apart');
    assert.equal(fastCertEquals(certs[0]!, sctless), false, 'an extension removed');
  } finally {
    await sigstore.close();
  }
});
