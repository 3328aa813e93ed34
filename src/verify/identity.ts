// Decoding signer identities from Fulcio certificates and self-managed keys (the claims: src/claims.ts).
// Pure: takes parsed certificates / key bytes, returns plain SignerIdentity data.
import { sha256Hex } from '../util/sha256.ts';
import type { X509Certificate } from '@sigstore/core';
import type { SignerIdentity } from '../types.ts';
import { CLAIMS, FULCIO_OID as FULCIO } from '../claims.ts';

/** Legacy issuer extension: the raw string is the extension value (no DER wrapper). */
const OID_ISSUER_V1 = FULCIO + '1';
/** Issuer extension v2: a DER UTF8String. */
const OID_ISSUER_V2 = FULCIO + '8';
/** Fulcio `otherName` SAN used for username identities. */
const OID_OTHERNAME_USERNAME = FULCIO + '7';

const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
const GITLAB_ISSUER = 'https://gitlab.com';


/**
 * Decodes a DER UTF8String (tag 0x0c) as found in Fulcio v2 extensions. Returns
 * undefined for anything else, so a malformed claim is absent rather than garbage.
 */
export function decodeDerUtf8String(der: Buffer): string | undefined {
  if (der.length < 2 || der[0] !== 0x0c) return undefined;
  let len = der[1]!;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || der.length < 2 + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
    off = 2 + n;
  }
  if (off + len !== der.length) return undefined;
  return der.subarray(off).toString('utf8');
}

/** The certificate identity of a Fulcio leaf: SAN, issuer, GitHub/GitLab claims, kind. */
export function certificateIdentity(cert: X509Certificate): SignerIdentity {
  const id: SignerIdentity = { kind: 'uri' };
  const sanExt = cert.extSubjectAltName;
  const email = sanExt?.rfc822Name;
  const san = sanExt?.uri ?? email ?? sanExt?.otherName(OID_OTHERNAME_USERNAME);
  if (san !== undefined) id.san = san;

  // The extensions by OID, read once: `cert.extension(oid)` decodes every extension's OID
  // on each call, and a Fulcio leaf is asked for 16 of them (measured: 10% of a bundle's
  // verification, 1,000 local-instance bundles). The first of a repeated OID wins, as with
  // `cert.extension` (a repeated extension is refused earlier: bundle-checks.ts).
  const values = new Map<string, Buffer>();
  for (const ext of cert.extensions) {
    const oid = ext.subs[0]!.toOID();
    // X509Extension.value: the extnValue OCTET STRING, the extension's last element.
    if (!values.has(oid)) values.set(oid, ext.subs[ext.subs.length - 1]!.value);
  }
  const v2 = values.get(OID_ISSUER_V2);
  const issuer = v2 ? decodeDerUtf8String(v2) : values.get(OID_ISSUER_V1)?.toString('utf8');
  if (issuer !== undefined) id.issuer = issuer;

  for (const c of CLAIMS) {
    const ext = values.get(FULCIO + c.oid);
    const value = ext ? decodeDerUtf8String(ext) : undefined;
    if (value !== undefined) id[c.field] = value;
  }
  id.kind = identityKind(id, email !== undefined && sanExt?.uri === undefined);
  return id;
}

function identityKind(id: SignerIdentity, isEmail: boolean): SignerIdentity['kind'] {
  if (id.issuer === GITHUB_ACTIONS_ISSUER) return 'github';
  if (id.issuer === GITLAB_ISSUER) return 'gitlab';
  return isEmail ? 'email' : 'uri';
}

/** SHA-256 (hex) of a SubjectPublicKeyInfo DER: the key's stable fingerprint (self-managed keys). */
export function keyFingerprint(spkiDer: Buffer): string {
  return sha256Hex(spkiDer);
}

/** Identity of a bundle verified with a self-managed key. */
export function keyIdentity(spkiDer: Buffer, name?: string): SignerIdentity {
  const fp = keyFingerprint(spkiDer);
  return { kind: 'key', keyFingerprint: fp, keyName: name ?? fp };
}
