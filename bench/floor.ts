// The crypto floor: for each bundle, only the signature checks that no verifier can avoid,
// done with node:crypto in one thread:
//   1. the leaf certificate's signature by its issuing CA (RFC 5280 §6.1.3 (a)(1)),
//   2. the embedded SCT's signature by its CT log (RFC 6962 §3.2, over the precertificate),
//   3. the transparency-log entry: its SET (signed entry timestamp) by the log key, or, when
//      the entry has no SET, its checkpoint's signature (the inclusion proof's root),
//   4. the DSSE envelope's signature by the leaf key over PAE(payloadType, payload).
// Everything else (parsing, re-encoding the precertificate, canonicalising the SET payload)
// is prepared before the clock starts: the floor is the signatures alone, so it is a lower
// bound, not a verifier. Each bundle is checked on its own, with no memo across bundles.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { ByteStream, EXTENSION_OID_SCT, X509Certificate, X509SCTExtension, dsse, json } from '@sigstore/core';

interface Check {
  data: Buffer;
  signature: Buffer;
  /** A trust-root key (made once), or the leaf's SPKI (made per bundle, inside the timing). */
  key: KeyObject | { leafSpki: Buffer };
  /** Digest for ECDSA/RSA; null for Ed25519. */
  hash: string | null;
}

export interface FloorInput {
  /** Parsed sidecars: each a list of bundle JSON objects. */
  sidecars: unknown[][];
  trustedRoot: {
    certificateAuthorities?: { certChain?: { certificates?: { rawBytes: string }[] } }[];
    ctlogs?: { logId: { keyId: string }; publicKey: { rawBytes: string } }[];
    tlogs?: { logId: { keyId: string }; publicKey: { rawBytes: string } }[];
  };
}

export interface FloorResult {
  bundles: number;
  signatures: number;
  /** Wall time of the timed loop (signature checks only). */
  ms: number;
  /** Bundles whose four checks all passed (a sanity check: all should). */
  allPassed: number;
}

function keyMap(list: { logId: { keyId: string }; publicKey: { rawBytes: string } }[] | undefined): Map<string, KeyObject> {
  const m = new Map<string, KeyObject>();
  for (const l of list ?? []) {
    m.set(Buffer.from(l.logId.keyId, 'base64').toString('hex'), createPublicKey({ key: Buffer.from(l.publicKey.rawBytes, 'base64'), format: 'der', type: 'spki' }));
  }
  return m;
}

function hashOf(alg: string): string | null {
  return /ed25519/i.test(alg) ? null : /384/.test(alg) ? 'sha384' : /512/.test(alg) ? 'sha512' : 'sha256';
}

/** Prepares the four checks of every bundle (untimed). */
export function prepareFloor(input: FloorInput): Check[][] {
  const cas = (input.trustedRoot.certificateAuthorities ?? []).flatMap((ca) =>
    (ca.certChain?.certificates ?? []).map((c) => X509Certificate.parse(Buffer.from(c.rawBytes, 'base64'))),
  );
  const ctKeys = keyMap(input.trustedRoot.ctlogs);
  const tlogKeys = keyMap(input.trustedRoot.tlogs);
  const out: Check[][] = [];
  for (const list of input.sidecars) {
    for (const raw of list) {
      const bundle = bundleFromJSON(raw);
      const vm = bundle.verificationMaterial.content;
      const leafDer = vm.$case === 'certificate' ? vm.certificate.rawBytes : vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates[0]!.rawBytes : null;
      if (!leafDer) throw new Error('floor: a bundle without a certificate (public-key bundles are not in the bench)');
      const leaf = X509Certificate.parse(Buffer.from(leafDer));
      const issuer = cas.find((c) => c.subject.equals(leaf.issuer));
      if (!issuer) throw new Error('floor: no CA in the trusted root issued the leaf');
      const issuerKey = createPublicKey({ key: issuer.publicKey, format: 'der', type: 'spki' });
      const checks: Check[] = [{ data: leaf.tbsCertificate.toDER(), signature: leaf.signatureValue, key: issuerKey, hash: hashOf(leaf.signatureAlgorithm) }];

      // RFC 6962 §3.2: the SCT signs the precertificate TBS (without the SCT extension),
      // prefixed by the SHA-256 of the issuer's key.
      const clone = leaf.clone();
      const at = clone.extensions.findIndex((e) => e.subs[0]!.toOID() === EXTENSION_OID_SCT);
      if (at < 0) throw new Error('floor: the leaf has no SCT extension');
      const sct = new X509SCTExtension(clone.extensions[at]!).signedCertificateTimestamps[0]!;
      clone.extensions.splice(at, 1);
      const tbs = clone.tbsCertificate.toDER();
      const signed = new ByteStream();
      signed.appendChar(sct.version);
      signed.appendChar(0); // certificate_timestamp
      signed.appendView(sct.timestamp);
      signed.appendUint16(1); // precert_entry
      signed.appendView(createHashSha256(issuer.publicKey));
      signed.appendUint24(tbs.length);
      signed.appendView(tbs);
      signed.appendUint16(sct.extensions.byteLength);
      if (sct.extensions.byteLength) signed.appendView(sct.extensions);
      const ctKey = ctKeys.get(sct.logID.toString('hex'));
      if (!ctKey) throw new Error('floor: the SCT names no CT log of the trusted root');
      checks.push({ data: Buffer.from(signed.buffer), signature: sct.signature, key: ctKey, hash: sct.algorithm });

      const entry = bundle.verificationMaterial.tlogEntries[0];
      if (!entry) throw new Error('floor: a bundle without a transparency-log entry');
      const tlogKey = tlogKeys.get(entry.logId.keyId.toString('hex'));
      if (!tlogKey) throw new Error('floor: the entry names no log of the trusted root');
      if (entry.inclusionPromise) {
        const payload = {
          body: entry.canonicalizedBody.toString('base64'),
          integratedTime: Number(entry.integratedTime),
          logIndex: Number(entry.logIndex),
          logID: entry.logId.keyId.toString('hex'),
        };
        checks.push({ data: Buffer.from(json.canonicalize(payload), 'utf8'), signature: entry.inclusionPromise.signedEntryTimestamp, key: tlogKey, hash: 'sha256' });
      } else if (entry.inclusionProof) {
        // A signed note (C2SP signed-note): the signature line's bytes after the 4-byte key hint.
        const envelope = entry.inclusionProof.checkpoint?.envelope ?? '';
        const [text, sigs] = envelope.split('\n\n');
        const sigB64 = sigs!.split('\n')[0]!.split(' ').pop()!;
        checks.push({ data: Buffer.from(`${text}\n`, 'utf8'), signature: Buffer.from(sigB64, 'base64').subarray(4), key: tlogKey, hash: 'sha256' });
      }

      if (bundle.content.$case !== 'dsseEnvelope') throw new Error('floor: bench bundles are DSSE attestations');
      const env = bundle.content.dsseEnvelope;
      checks.push({
        data: dsse.preAuthEncoding(env.payloadType, env.payload),
        signature: env.signatures[0]!.sig,
        key: { leafSpki: leaf.publicKey },
        hash: hashForKey(leaf.publicKey),
      });
      out.push(checks);
    }
  }
  return out;
}

function createHashSha256(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}

/** The digest a key signs with (Sigstore's defaults: P-256/SHA-256, P-384/SHA-384, Ed25519 none). */
function hashForKey(spki: Buffer): string | null {
  const k = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  if (k.asymmetricKeyType === 'ed25519') return null;
  const curve = k.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
}

/** The timed part: every signature check of every bundle, sequentially, in this thread. */
export function runFloor(prepared: Check[][]): FloorResult {
  let signatures = 0;
  let allPassed = 0;
  const t0 = performance.now();
  for (const checks of prepared) {
    let leafKey: KeyObject | undefined;
    let ok = true;
    for (const c of checks) {
      let key: KeyObject;
      if ('leafSpki' in c.key) key = leafKey ??= createPublicKey({ key: c.key.leafSpki, format: 'der', type: 'spki' });
      else key = c.key;
      ok = verify(c.hash, c.data, key, c.signature) && ok;
      signatures++;
    }
    if (ok) allPassed++;
  }
  return { bundles: prepared.length, signatures, ms: performance.now() - t0, allPassed };
}
