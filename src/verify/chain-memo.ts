// Work sigstore-js repeats for every bundle, done once (docs/performance.md: "CA chain checks, key
// objects: do it once where that is provably equivalent").
//
// Measured (worker profile, 1,000 local-instance bundles with the fast DER encoder on):
// a third of the verification time goes to building the certificate path. For every
// bundle @sigstore/core's `X509Certificate.verify(issuer)` turns the issuer's SPKI into a
// KeyObject (`crypto.createPublicKey`) and checks the intermediate's signature by the root
// again (a P-384 verification) although both certificates are the same for every bundle.
//
// Two memos, both keyed on the complete inputs of a pure function:
// - KeyObjects by the exact SPKI DER bytes (createPublicKey is a pure function of them);
// - the result of `verify(issuer)` for CA subjects only, by the exact DER of the subject
//   certificate (TBS, algorithm and signature value) and of the issuer's SPKI: the
//   inputs of `crypto.verify`. Leaf certificates (one per signature in the real world)
//   are always verified afresh, so every bundle's own signature chain is still checked.
// Nothing about which certificates are trusted, their validity dates or path building
// changes; the memos only skip recomputing the same answer for the same bytes.
import type { KeyObject } from 'node:crypto';
import { X509Certificate, crypto as sigstoreCrypto } from '@sigstore/core';

interface CertLike {
  publicKey: Buffer;
  isCA: boolean;
  root: { toDER(): Buffer };
  tbsCertificate: { toDER(): Buffer };
  signatureValue: Buffer;
  signatureAlgorithm: string;
}

type VerifyFn = (this: CertLike, issuer?: CertLike) => boolean;

const proto = X509Certificate.prototype as unknown as { verify: VerifyFn };
const original: VerifyFn = proto.verify;

/** Bounded: a run sees a handful of CAs; the bound only guards against misuse. */
const MAX_ENTRIES = 1024;
const keys = new Map<string, KeyObject>();
const verdicts = new Map<string, boolean>();

/**
 * The exact bytes as a map key: latin1 gives one char per byte, so two keys are equal exactly
 * when the bytes are. It replaced a SHA-256 of them (a hash object per lookup, three lookups per
 * bundle: ~2% of a worker's CPU profile); measured with the other round-5 changes
 * (docs/performance.md "Cold runs, round 5: the worker").
 */
const bytesKey = (b: Buffer): string => b.toString('latin1');

function remember<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as string);
  map.set(key, value);
  return value;
}

/** `crypto.createPublicKey(spki)`, once per distinct SPKI. */
function publicKeyOf(spki: Buffer): KeyObject {
  const id = bytesKey(spki);
  // @sigstore/core's own helpers, called as its `verify` calls them: same keys, same errors.
  return keys.get(id) ?? remember(keys, id, sigstoreCrypto.createPublicKey(spki));
}

const memoVerify: VerifyFn = function (this: CertLike, issuer?: CertLike): boolean {
  const spki = (issuer ?? this).publicKey;
  const key = publicKeyOf(spki);
  const check = (): boolean => sigstoreCrypto.verify(this.tbsCertificate.toDER(), key, this.signatureValue, this.signatureAlgorithm);
  if (!this.isCA) return check();
  // The certificate's DER is self-delimiting (a complete TLV), so the pair is unambiguous.
  const id = bytesKey(this.root.toDER()) + bytesKey(spki);
  const known = verdicts.get(id);
  return known ?? remember(verdicts, id, check());
};

export function installChainMemo(): void {
  proto.verify = memoVerify;
}

export function uninstallChainMemo(): void {
  proto.verify = original;
  keys.clear();
  verdicts.clear();
}

export function isChainMemoInstalled(): boolean {
  return proto.verify === memoVerify;
}
