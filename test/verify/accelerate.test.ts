// The accelerations of src/verify/accelerate.ts and the leaf parsed once per bundle
// (bundle-checks.ts → identity and evidence) change where CPU time goes, never a result:
// the same parse results and errors, the same outcomes and evidence, and a bundle's
// evidence always describes that bundle's own certificate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ASN1Obj, ByteStream, X509Certificate, crypto as sigstoreCrypto } from '@sigstore/core';
import { toSignedEntity } from '@sigstore/verify';
import { installAccelerations, isOidMemoInstalled, isFastParseInstalled, isQuietKeyImportInstalled, isQuietParseInstalled, isStreamReadInstalled, uninstallOidMemo, uninstallQuietKeyImport, uninstallQuietParse, uninstallStreamReads } from '../../src/verify/accelerate.ts';
import { parseBundle, prepare } from '../../src/verify/bundle-checks.ts';
import { fastParse, treeShape } from '../../src/verify/fast-parse.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';
import { uninstallChainMemo } from '../../src/verify/chain-memo.ts';
import { uninstallFastDer } from '../../src/verify/fast-der.ts';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import { bundleEvidence } from '../../src/verify/evidence.ts';
import { certificateIdentity, decodeDerUtf8String } from '../../src/verify/identity.ts';
import { CLAIMS, FULCIO_OID } from '../../src/claims.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { parseTrustedRoot } from '../../src/verify/trust-root.ts';
import { publishStatement, startLocalSigstore, tamperBundle, type BundleJSON, type LocalSigstore } from '../helpers/sigstore.ts';

let sig: LocalSigstore;
before(async () => {
  sig = await startLocalSigstore();
});
after(async () => {
  uninstallQuietParse();
  uninstallQuietKeyImport();
  uninstallStreamReads();
  uninstallOidMemo();
  uninstallChainMemo();
  uninstallFastDer();
  await sig?.close();
});

const FILE = 'acc-1.0-h0_0.conda';
const SHA = 'cd'.repeat(32);
const pkg = { filename: FILE, sha256: SHA, acceptedChannels: [] };

function stockOnly(): void {
  uninstallQuietParse();
  uninstallQuietKeyImport();
  uninstallStreamReads();
  uninstallOidMemo();
  uninstallChainMemo();
  uninstallFastDer();
}

function leafDer(b: BundleJSON): Buffer<ArrayBuffer> {
  return Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
}

/** Parse with whatever parser is installed; the error (class and message) or the re-encoding. */
function parseResult(der: Buffer): { ok: string } | { error: string } {
  try {
    return { ok: ASN1Obj.parseBuffer(Buffer.from(der)).toDER().toString('hex') };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}

test('quiet ASN.1 parsing: the same objects and the same errors as the stock parser, and the stack limit is restored', async () => {
  const good = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }));
  const der = leafDer(good);
  const inputs = [
    der,
    der.subarray(0, der.length - 1), // truncated: the outer length runs past the end
    Buffer.concat([der, Buffer.from([0])]), // trailing byte
    Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), // absurd length
    Buffer.from([0x04, 0x03, 0x30, 0x05, 0x00]), // an OCTET STRING whose content is not DER
    Buffer.alloc(0),
  ];
  stockOnly();
  const stock = inputs.map(parseResult);
  installAccelerations(sig.trustedRoot);
  assert.ok(isQuietParseInstalled());
  const limit = Error.stackTraceLimit;
  const quiet = inputs.map(parseResult);
  assert.deepEqual(quiet, stock);
  assert.ok(stock.filter((r) => 'error' in r).length >= 3, 'malformed inputs are still refused');
  assert.equal(Error.stackTraceLimit, limit, 'restored after parses that threw');
  // An error thrown outside the parser keeps its stack.
  assert.match(new Error('x').stack ?? '', /accelerate\.test\.ts/);
});

test('outcomes and evidence are identical with and without the accelerations, for good and attacked bundles', async () => {
  const root = parseTrustedRoot(Buffer.from(JSON.stringify(sig.trustedRoot)), 'local');
  const good = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }));
  const other = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/other/.github/workflows/x.yml@refs/heads/main' });
  const bundles = [good, other, tamperBundle(good, 'certificate'), tamperBundle(good, 'signature'), tamperBundle(other, 'checkpoint'), tamperBundle(good, 'set')];
  stockOnly();
  const stock = verifyAttestations(bundles, pkg, createVerifier({ trustRoot: root, accelerate: false }));
  const fast = verifyAttestations(bundles, pkg, createVerifier({ trustRoot: root }));
  assert.deepEqual(fast, stock);
  assert.deepEqual(
    stock.map((o) => o.verified),
    [true, true, false, false, false, false],
  );
});

test('attack: each bundle\'s evidence and identity come from its own certificate, never from another bundle\'s parse', async () => {
  const root = parseTrustedRoot(Buffer.from(JSON.stringify(sig.trustedRoot)), 'local');
  const a = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/a/.github/workflows/x.yml@refs/heads/main' });
  const b = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/b/.github/workflows/x.yml@refs/heads/main' });
  // The second certificate differs from the first in one byte (its signature): not verified, and
  // its evidence is that of its own bytes.
  const forged = tamperBundle(a, 'certificate');
  const outcomes = verifyAttestations([a, b, forged], pkg, createVerifier({ trustRoot: root }));
  assert.deepEqual(outcomes.map((o) => o.verified), [true, true, false]);
  [a, b, forged].forEach((bundle, i) => {
    // Evidence as the report builds it from the bundle's JSON alone (the leaf parsed again).
    const fromJson = bundleEvidence({ bundle, identity: outcomes[i]!.identity ?? null, checks: outcomes[i]!.evidence!.checks });
    assert.deepEqual(outcomes[i]!.evidence, fromJson, `bundle ${i}`);
  });
  assert.notEqual(outcomes[0]!.evidence!.certificate!.serial, outcomes[1]!.evidence!.certificate!.serial);
  assert.equal(outcomes[0]!.identity!.san, 'https://github.com/o/a/.github/workflows/x.yml@refs/heads/main');
  assert.equal(outcomes[1]!.identity!.san, 'https://github.com/o/b/.github/workflows/x.yml@refs/heads/main');
});

test('signer identity read in one pass over the extensions equals reading each claim with cert.extension()', async () => {
  const b = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/c/.github/workflows/x.yml@refs/heads/main' });
  const cert = X509Certificate.parse(leafDer(b));
  const id = certificateIdentity(cert);
  const reference: Record<string, string | undefined> = { issuer: decodeDerUtf8String(cert.extension(`${FULCIO_OID}8`)!.value) };
  for (const c of CLAIMS) {
    const ext = cert.extension(FULCIO_OID + c.oid);
    reference[c.field] = ext ? decodeDerUtf8String(ext.value) : undefined;
  }
  const claims = CLAIMS.filter((c) => reference[c.field] !== undefined);
  assert.ok(claims.length >= 10, 'the local Fulcio writes the GitHub claims');
  for (const c of CLAIMS) assert.equal(id[c.field], reference[c.field], c.field);
  assert.equal(id.issuer, reference.issuer);
  assert.equal(id.san, 'https://github.com/o/c/.github/workflows/x.yml@refs/heads/main');
  assert.equal(id.kind, 'github');
});

/** `toOID()` of a DER object with this tag byte and value: the OID, or the error (class and message). */
function oidOf(tag: number, value: Uint8Array): string {
  if (value.length > 127) throw new RangeError('short-form length only');
  const obj = ASN1Obj.parseBuffer(Buffer.from([tag, value.length, ...value]));
  try {
    return `ok ${obj.toOID()}`;
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

test('OID memo: every decoded OID equals the stock decoder\'s, including look-alike encodings asked right after each other', async (t) => {
  const good = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }));
  const cert = X509Certificate.parse(leafDer(good));
  // The leaf's own extension OIDs, then encodings an attacker would pick against a memo: one
  // byte changed, one byte more or less, an arc beyond 32 bits (must not collide with the
  // OID it truncates to), and a value under another tag (must still be refused).
  const fulcio8 = cert.extensions.map((e) => e.subs[0]!.value).find((v) => v.toString('hex').endsWith('0108'))!;
  assert.ok(fulcio8, 'the leaf has the Fulcio issuer (v2) extension');
  const cases: [number, Uint8Array][] = [
    ...cert.extensions.map((e): [number, Uint8Array] => [0x06, e.subs[0]!.value]),
    [0x06, Buffer.concat([fulcio8.subarray(0, -1), Buffer.from([0x09])])],
    [0x06, fulcio8.subarray(0, -1)],
    [0x06, Buffer.concat([fulcio8, Buffer.from([0x01])])],
    [0x06, Buffer.from([0x2b, 0x90, 0x80, 0x80, 0x80, 0x01])], // 1.3.(2^32 + 1)
    [0x06, Buffer.from([0x2b, 0x01])], // 1.3.1: what a 32-bit decoder would make of the arc above
    [0x06, Buffer.from([0x2b, 0x20])], // 1.3.32 and 1.4.1: the same hash in the memo (a collision
    [0x06, Buffer.from([0x2c, 0x01])], // must cost a decode, never the other OID)
    [0x04, fulcio8], // an OCTET STRING with an OID's bytes
    [0x0c, fulcio8], // a UTF8String with an OID's bytes
  ];
  stockOnly();
  const stock = cases.map(([tag, v]) => oidOf(tag, v));
  installAccelerations(sig.trustedRoot);
  assert.ok(isOidMemoInstalled());
  // Twice: the first pass fills the memo, the second reads from it.
  for (const pass of [1, 2]) assert.deepEqual(cases.map(([tag, v]) => oidOf(tag, v)), stock, `pass ${pass}`);
  assert.ok(stock.includes('ok 1.3.1') && stock.includes('ok 1.3.4294967297'), 'the long arc does not collide with its truncation');
  assert.ok(stock.includes('ok 1.3.32') && stock.includes('ok 1.4.1'), 'colliding hashes keep their own OIDs');
  assert.equal(stock.filter((r) => r.startsWith('ASN1TypeError')).length, 2, 'values under other tags are refused');

  // Any value bytes, decoded with the memo twice (filling it, then reading it), give what the
  // stock decoder gives.
  await checkProperty(t, 'OID memo vs stock decoder', [fc.constantFrom(0x06, 0x04), fc.uint8Array({ minLength: 1, maxLength: 24 })], (tag, v) => {
    const fast = [oidOf(tag, v), oidOf(tag, v)];
    uninstallOidMemo();
    const reference = oidOf(tag, v);
    installAccelerations(sig.trustedRoot);
    assert.deepEqual(fast, [reference, reference]);
  }, { runs: 300 });
});

/** A key imported with whatever import is installed: its SPKI DER, or the error (class, code and message). */
function keyResult(key: string | Buffer): string {
  try {
    return `ok ${sigstoreCrypto.createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('hex')}`;
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as { code?: string }).code} ${(e as Error).message}`;
  }
}

test('quiet key import: the same keys and the same errors as the stock import, and the stack limit is restored', async () => {
  const good = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }));
  const spki = X509Certificate.parse(leafDer(good)).publicKey;
  const offCurve = Buffer.from(spki);
  offCurve[offCurve.length - 1]! ^= 0x01; // the point is no longer on the curve
  const inputs: (string | Buffer)[] = [
    spki,
    spki.toString('base64'),
    `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64')}\n-----END PUBLIC KEY-----\n`,
    offCurve,
    spki.subarray(0, spki.length - 1), // truncated
    Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]), // DER, but not a key
    Buffer.alloc(0),
  ];
  stockOnly();
  const stock = inputs.map(keyResult);
  installAccelerations(sig.trustedRoot);
  assert.ok(isQuietKeyImportInstalled());
  const limit = Error.stackTraceLimit;
  assert.deepEqual(inputs.map(keyResult), stock);
  assert.equal(stock.filter((r) => r.startsWith('ok ')).length, 3, 'the leaf key, in every spelling');
  assert.equal(stock.filter((r) => !r.startsWith('ok ')).length, 4, 'off-curve, truncated and non-key inputs are still refused');
  assert.equal(Error.stackTraceLimit, limit, 'restored after imports that threw');
});

test('the certificate sigstore-js verifies is the bundle\'s own leaf, parsed once and the same as its stock parse (both certificate forms)', async () => {
  const v03 = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true });
  const v02 = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, bundleVersion: '0.2' });
  assert.ok(v02.verificationMaterial.x509CertificateChain, 'the 0.2 bundle carries a certificate chain');
  for (const json of [v03, v02]) {
    const bundle = parseBundle(json);
    const { entity, leaf } = prepare(bundle, null);
    assert.equal(entity.key.$case, 'certificate');
    if (entity.key.$case !== 'certificate') continue;
    assert.equal(entity.key.certificate, leaf, 'one object: what sigstore-js checks is what the identity is read from');
    const stock = toSignedEntity(bundle).key;
    assert.equal(stock.$case, 'certificate');
    if (stock.$case !== 'certificate') continue;
    assert.deepEqual(entity.key.certificate.root.toDER(), stock.certificate.root.toDER());
    assert.deepEqual(entity.key.certificate.root.toDER(), leafOf(json));
  }
});

function leafOf(b: BundleJSON): Buffer {
  const vm = b.verificationMaterial;
  return Buffer.from(vm.certificate ? vm.certificate.rawBytes : vm.x509CertificateChain.certificates[0].rawBytes, 'base64');
}

test('attack: a bundle carrying another signer\'s valid certificate is refused, and names no signer', async () => {
  const root = parseTrustedRoot(Buffer.from(JSON.stringify(sig.trustedRoot)), 'local');
  const victim = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/victim/.github/workflows/x.yml@refs/heads/main' });
  const attacker = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }), { freshCertificate: true, san: 'https://github.com/o/attacker/.github/workflows/x.yml@refs/heads/main' });
  // The attacker's signature and log entry under the victim's (genuine, CA-issued) certificate.
  const swapped = structuredClone(attacker);
  swapped.verificationMaterial.certificate = structuredClone(victim.verificationMaterial.certificate);
  installAccelerations(sig.trustedRoot);
  const [fast] = verifyAttestations([swapped], pkg, createVerifier({ trustRoot: root }));
  stockOnly();
  const [stock] = verifyAttestations([swapped], pkg, createVerifier({ trustRoot: root, accelerate: false }));
  assert.equal(fast!.verified, false);
  assert.equal(fast!.identity, undefined, 'no identity is reported for a certificate that did not verify the signature');
  assert.deepEqual(fast, stock);
});

/** Reads of 1 or 2 bytes (`widths`) from a stream over `bytes`, with whatever reads are installed: values, cursor, errors. */
function readsOf(bytes: Uint8Array, widths: number[]): (number | string)[] {
  const stream = new ByteStream(Buffer.from(bytes));
  const out: (number | string)[] = [];
  for (const w of widths) {
    try {
      out.push(w === 1 ? stream.getUint8() : stream.getUint16(), stream.position);
    } catch (e) {
      out.push(`${(e as Error).constructor.name}: ${(e as Error).message}`, stream.position);
    }
  }
  return out;
}

test('in-place stream reads: the same bytes, cursor moves and end-of-buffer errors as the stock reads, and the same parsed certificates', async (t) => {
  const good = await sig.attest(publishStatement({ filename: FILE, sha256: SHA }));
  const der = leafDer(good);
  stockOnly();
  const stockParse = [der, der.subarray(0, 40), Buffer.from([0x30, 0x82, 0x01])].map(parseResult);
  const stockCert = X509Certificate.parse(der);
  installAccelerations(sig.trustedRoot);
  assert.ok(isStreamReadInstalled());
  assert.deepEqual([der, der.subarray(0, 40), Buffer.from([0x30, 0x82, 0x01])].map(parseResult), stockParse);
  // The SCT list is read with getUint16/getUint8 (RFC 6962 §3.3): the same SCTs.
  const sctsOf = (c: X509Certificate) => c.extSCT!.signedCertificateTimestamps.map((x) => [x.version, x.logID.toString('hex'), x.signature.toString('hex')]);
  assert.deepEqual(sctsOf(X509Certificate.parse(der)), sctsOf(stockCert));
  await checkProperty(t, 'stream reads vs stock', [fc.uint8Array({ maxLength: 12 }), fc.array(fc.constantFrom(1, 2), { maxLength: 10 })], (bytes, widths) => {
    const fast = readsOf(bytes, widths);
    uninstallStreamReads();
    const reference = readsOf(bytes, widths);
    installAccelerations(sig.trustedRoot);
    assert.deepEqual(fast, reference);
  }, { runs: 300 });
});

test('the parser without exceptions on real certificates, their mutations and the depth bound: the stock tree or the stock refusal', async () => {
  const CERT = leafDer(await sig.attest(publishStatement({ filename: FILE, sha256: SHA })));
  stockOnly();
  const stockParse = ASN1Obj.parseBuffer.bind(ASN1Obj);
  const stockCert = X509Certificate.parse(CERT);
  const Tag = stockCert.root.tag.constructor as new (enc: number) => ASN1Obj['tag'];
  const fast = fastParse(CERT, Tag);
  assert.ok(fast);
  assert.deepEqual(treeShape(fast), treeShape(stockCert.root));
  // Every single-byte change of the certificate's first 200 bytes (tags, lengths, OIDs).
  for (let i = 0; i < Math.min(200, CERT.length); i++) {
    for (const delta of [1, 0x80]) {
      const der = Buffer.from(CERT);
      der[i] ^= delta;
      let stock: unknown = null;
      try {
        stock = treeShape(stockParse(Buffer.from(der)));
      } catch {
        // refused
      }
      const f = fastParse(der, Tag);
      assert.deepEqual(f === null ? null : treeShape(f), stock, `byte ${i} ^ ${delta}`);
    }
  }
  // Nested SEQUENCEs: 101 levels parse, 102 exceed the stock depth bound (and the input is not bytes: no fast parse).
  const nest = (levels: number): Buffer => {
    let d: Buffer = Buffer.from([0x05, 0x00]);
    for (let i = 1; i < levels; i++) d = Buffer.concat([d.length < 128 ? Buffer.from([0x30, d.length]) : Buffer.from([0x30, 0x81, d.length]), d]);
    return d;
  };
  assert.ok(fastParse(nest(101), Tag));
  assert.throws(() => stockParse(Buffer.from(nest(102))));
  assert.equal(fastParse(nest(102), Tag), null);
  assert.equal(fastParse('30 00', Tag), null);
});

test('installed, the parser without exceptions parses certificates as the stock parser does, and its errors are the stock ones', async () => {
  const der = leafDer(await sig.attest(publishStatement({ filename: FILE, sha256: SHA })));
  stockOnly();
  const stock = treeShape(X509Certificate.parse(der).root);
  const stockError = parseResult(der.subarray(0, 100));
  installAccelerations(sig.trustedRoot);
  assert.ok(isFastParseInstalled());
  assert.deepEqual(treeShape(X509Certificate.parse(der).root), stock);
  assert.deepEqual(parseResult(der.subarray(0, 100)), stockError);
  assert.ok('error' in stockError);
});
