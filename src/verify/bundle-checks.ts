// The bundle checks other conformant clients make that sigstore-js does not
// (sigstore-conformance): media type and JSON shape, the certificate chain (a leaf only,
// each extension once, RFC 5280 §4.2), transparency-log entries against their checkpoint
// (C2SP tlog-checkpoint), a message digest against the artifact, and the in-toto subject.
import { type Bundle, bundleFromJSON } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { type SignedEntity, toSignedEntity } from '@sigstore/verify';
import { describeError } from '../errors.ts';
import type { SignerIdentity } from '../types.ts';
import { sha256Hex } from '../util/sha256.ts';
import { supportsPrehashed, verifyPrehashed } from './prehashed.ts';
import { INTOTO_STATEMENT_V1 } from './cep27.ts';
import { fail, failCheck } from './fail.ts';
import { isRekorV2, trustedTimes } from './signing-time.ts';
import type { ArtifactRef, VerifiedBundle } from './verifier.ts';

const BUNDLE_MEDIA_TYPES: readonly string[] = [
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
];
const V01 = BUNDLE_MEDIA_TYPES[0];
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Older in-toto statement type still produced by some signers; same subject semantics. */
const INTOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';

const HEX64 = /^[0-9a-f]{64}$/;
const UINT = /^\d+$/;

export function parseBundle(input: unknown): Bundle {
  let obj = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      obj = JSON.parse(input.toString());
    } catch (e) {
      fail('BUNDLE_MALFORMED', 'The bundle is not valid JSON.', undefined, e);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail('BUNDLE_MALFORMED', 'The bundle is not a JSON object.');
  const mediaType = (obj as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.includes(mediaType)) {
    fail('BUNDLE_UNSUPPORTED_MEDIA_TYPE', `The bundle media type ${JSON.stringify(mediaType)} is not a supported Sigstore bundle version (0.1–0.3).`);
  }
  try {
    return bundleFromJSON(obj);
  } catch (e) {
    return fail('BUNDLE_MALFORMED', `The bundle is malformed: ${describeError(e)}${fieldList(e)}.`, undefined, e);
  }
}

function fieldList(e: unknown): string {
  const fields = (e as { fields?: unknown }).fields;
  return Array.isArray(fields) && fields.length ? ` (${fields.join(', ')})` : '';
}

export function leafCertificate(bundle: Bundle): X509Certificate {
  const vm = bundle.verificationMaterial.content;
  const raw = vm.$case === 'certificate' ? vm.certificate.rawBytes : vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates[0]?.rawBytes : undefined;
  if (!raw) return fail('BUNDLE_MALFORMED', 'The bundle has no signing certificate.');
  return X509Certificate.parse(Buffer.from(raw));
}

/**
 * Structural checks beyond sigstore-js, then the SignedEntity sigstore-js verifies.
 * Each check cites the conformance behaviour it enforces.
 */
export function prepare(bundle: Bundle, artifact: ArtifactRef | null): { entity: SignedEntity; mediaType: string; leaf?: X509Certificate } {
  const mediaType = bundle.mediaType;
  const vm = bundle.verificationMaterial;
  let leaf: X509Certificate | undefined;

  // Certificate chain: only the leaf is the bundle's to give. A root (self-signed)
  // certificate in the bundle would let it bring its own anchor; CA leaves are not signers.
  if (vm.content.$case === 'x509CertificateChain' || vm.content.$case === 'certificate') {
    const raws = vm.content.$case === 'certificate' ? [vm.content.certificate.rawBytes] : vm.content.x509CertificateChain.certificates.map((c) => c.rawBytes);
    if (raws.length === 0) fail('BUNDLE_MALFORMED', 'The bundle certificate chain is empty.');
    let certs: X509Certificate[];
    try {
      certs = raws.map((r) => X509Certificate.parse(Buffer.from(r)));
    } catch (e) {
      return fail('BUNDLE_MALFORMED', 'The bundle holds a certificate that cannot be parsed.', undefined, e);
    }
    certs.forEach((c, i) => checkExtensionsOnce(c, i));
    leaf = certs[0];
    if (certs[0]!.isCA) failCheck('certificate_chain', 'SIGSTORE_VERIFICATION_FAILED', 'The bundle signing certificate is a CA certificate, not a signing leaf.');
    for (const c of certs) {
      if (c.subject.equals(c.issuer) && safeVerify(c)) {
        failCheck('certificate_chain', 'SIGSTORE_VERIFICATION_FAILED', 'The bundle certificate chain contains a root certificate; trust anchors come only from the trusted root.');
      }
    }
  }

  // Transparency-log entries: indices are non-negative integers; proofs are internally
  // consistent with their checkpoint (the signed note is what sigstore-js trusts, the
  // proof's own rootHash/treeSize must agree with it).
  const entries: Bundle['verificationMaterial']['tlogEntries'] = [];
  for (const [i, entry] of vm.tlogEntries.entries()) {
    const where = `tlog entry ${i}`;
    if (!UINT.test(entry.logIndex)) failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} has an invalid log index ${JSON.stringify(entry.logIndex)}.`);
    const kv = entry.kindVersion;
    const isV2 = isRekorV2(kv);
    let e = entry;
    const proof = entry.inclusionProof;
    if (proof) {
      if (!UINT.test(proof.logIndex) || !UINT.test(proof.treeSize) || BigInt(proof.logIndex) >= BigInt(proof.treeSize)) {
        failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} has an inclusion proof with an invalid index or tree size.`);
      }
      if (!proof.checkpoint?.envelope) {
        // v0.1 bundles may carry a proof without checkpoint; it authenticates nothing,
        // so it is dropped and the SET (required in v0.1) is what is verified.
        if (mediaType === V01 && entry.inclusionPromise) e = { ...entry, inclusionProof: undefined };
        else fail('BUNDLE_MALFORMED', `The bundle ${where} has an inclusion proof without a checkpoint.`);
      } else {
        checkCheckpointMatchesProof(proof.checkpoint.envelope, proof.rootHash, proof.treeSize, where);
      }
    }
    if (isV2 && !proof) failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} is a Rekor v2 entry without an inclusion proof.`);
    entries.push(e);
  }

  let entity: SignedEntity;
  try {
    const bytes = artifact && 'bytes' in artifact ? artifact.bytes : Buffer.alloc(0);
    // sigstore-js is given the leaf as parsed above instead of parsing the same bytes again
    // (toSignedEntity parses `certificates[0].rawBytes`, which is `raws[0]`, with the same
    // parser): the key it verifies is the object the identity and the evidence are read
    // from. A parse of a bench leaf is ~0.03 ms of a ~1 ms bundle (docs/performance.md
    // "Cold runs, round 5: the worker").
    const material = leaf ? { ...vm, content: { $case: 'publicKey' as const, publicKey: { hint: '' } }, tlogEntries: entries } : { ...vm, tlogEntries: entries };
    entity = toSignedEntity({ ...bundle, verificationMaterial: material } as Bundle, bytes);
    if (leaf) entity.key = { $case: 'certificate', certificate: leaf };
  } catch (e) {
    return fail('BUNDLE_MALFORMED', `The bundle cannot be read: ${describeError(e)}.`, undefined, e);
  }
  entity.timestamps = trustedTimes(entity.timestamps);

  if (bundle.content.$case === 'messageSignature') {
    const md = bundle.content.messageSignature.messageDigest;
    if (artifact === null) fail('ARTIFACT_DIGEST_MISMATCH', 'A message-signature bundle needs the artifact (or its digest) to be verified.');
    const want = 'bytes' in artifact ? sha256Hex(artifact.bytes) : artifact.sha256.toLowerCase();
    // The bundle's messageDigest is an unauthenticated hint: it must agree with the artifact
    // (conformance message-digest-mismatch) before the signature is checked over the artifact.
    if (md && (md.algorithm === 1 /* SHA2_256 */ || md.algorithm === 0)) {
      if (Buffer.from(md.digest).toString('hex') !== want) {
        fail('ARTIFACT_DIGEST_MISMATCH', 'The bundle message digest does not match the artifact.');
      }
    } else if (!('bytes' in artifact)) {
      fail('ARTIFACT_DIGEST_MISMATCH', 'The bundle signs a non-SHA-256 digest, so it cannot be checked against a sha256: digest; pass the artifact file.');
    }
    if (!('bytes' in artifact)) entity.signature = digestSignatureContent(entity, Buffer.from(want, 'hex'));
  }
  // The leaf as parsed here, for the signer identity and the evidence: parsed once, not
  // three times (a leaf parse was ~0.1 ms of a ~1.3 ms bundle; docs/performance.md "Cold runs").
  return leaf ? { entity, mediaType, leaf } : { entity, mediaType };
}

/**
 * RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
 * extension." With two SANs (or two issuer claims) the identity a verifier reads depends
 * on which one it picks first; sigstore-js takes the first, another client may take the
 * last, so such a certificate names no single signer and is refused before anything else.
 */
function checkExtensionsOnce(cert: X509Certificate, index: number): void {
  const seen = new Set<string>();
  let oids: string[];
  try {
    oids = cert.extensions.map((ext) => ext.subs[0]!.toOID());
  } catch (e) {
    return fail('CERT_MALFORMED', `Certificate ${index} of the bundle has an unreadable extension.`, CERT_HINT, e);
  }
  for (const oid of oids) {
    if (seen.has(oid)) fail('CERT_MALFORMED', `Certificate ${index} of the bundle holds extension ${oid} more than once (RFC 5280 §4.2 allows one).`, CERT_HINT);
    seen.add(oid);
  }
}

const CERT_HINT = 'Do not trust this attestation: its certificate is malformed, so the signer it names is ambiguous; report it to the channel.';

function safeVerify(c: X509Certificate): boolean {
  try {
    return c.verify();
  } catch {
    return false;
  }
}

/**
 * Strict checkpoint header (C2SP tlog-checkpoint): origin line non-empty, decimal size,
 * base64 root hash; and it must describe the same tree as the inclusion proof.
 */
function checkCheckpointMatchesProof(envelope: string, rootHash: Buffer, treeSize: string, where: string): void {
  const sep = envelope.indexOf('\n\n');
  if (sep < 0) failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} checkpoint has no signature block.`);
  const lines = envelope.slice(0, sep).split('\n');
  const [origin, size, hash] = lines;
  if (!origin || !size || !UINT.test(size) || !hash || !/^[A-Za-z0-9+/]+={0,2}$/.test(hash)) {
    failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} checkpoint is malformed (origin, size and root hash lines are required).`);
  }
  if (!/^\u2014 \S+ \S+\n/m.test(envelope.slice(sep + 2))) {
    failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} checkpoint has no signature line.`);
  }
  if (BigInt(size) !== BigInt(treeSize) || !Buffer.from(hash, 'base64').equals(Buffer.from(rootHash))) {
    failCheck('tlog_inclusion', 'SIGSTORE_VERIFICATION_FAILED', `The bundle ${where} inclusion proof does not match its checkpoint (tree size or root hash differ).`);
  }
}

/** Message signature checked against a digest: the artifact bytes are not available. */
function digestSignatureContent(entity: SignedEntity, digest: Buffer): SignedEntity['signature'] {
  const inner = entity.signature;
  return {
    signature: inner.signature,
    compareSignature: (s) => inner.compareSignature(s),
    compareDigest: (d) => inner.compareDigest(d),
    compareSignedDigest: (d) => inner.compareSignedDigest(d),
    verifySignature: (key) => {
      if (!supportsPrehashed(key)) {
        failCheck('signature', 'SIGSTORE_VERIFICATION_FAILED', `A ${key.asymmetricKeyType} signature cannot be checked from a digest alone.`, 'Pass the artifact file instead of sha256:<hex>.');
      }
      return verifyPrehashed(key, 'sha256', digest, inner.signature);
    },
  };
}

export function finish(bundle: Bundle, mediaType: string, identity: SignerIdentity, tlog: boolean, artifact: ArtifactRef | null): VerifiedBundle {
  const out: VerifiedBundle = { identity, tlog, mediaType };
  if (bundle.content.$case !== 'dsseEnvelope') return out;
  const env = bundle.content.dsseEnvelope;
  out.payloadType = env.payloadType;
  if (env.payloadType === INTOTO_PAYLOAD_TYPE) {
    try {
      out.statement = JSON.parse(Buffer.from(env.payload).toString('utf8'));
    } catch (e) {
      if (artifact) fail('INTOTO_STATEMENT_INVALID', 'The DSSE payload is not valid JSON.', undefined, e);
    }
  }
  if (artifact) checkStatementSubject(out, artifact);
  return out;
}

/**
 * verify-bundle with a DSSE bundle: the artifact must be one of the in-toto statement's
 * subjects (sigstore-conformance). The statement type must be known: unknown or missing `_type` is not
 * read as v1 (conformance dsse-statement-*-type).
 */
function checkStatementSubject(v: VerifiedBundle, artifact: ArtifactRef): void {
  if (v.payloadType !== INTOTO_PAYLOAD_TYPE) {
    fail('INTOTO_STATEMENT_INVALID', `The DSSE payload type ${JSON.stringify(v.payloadType)} is not an in-toto statement, so no artifact can match it.`);
  }
  const st = v.statement as { _type?: unknown; subject?: unknown } | undefined;
  if (typeof st !== 'object' || st === null || (st._type !== INTOTO_STATEMENT_V1 && st._type !== INTOTO_STATEMENT_V01)) {
    fail('INTOTO_STATEMENT_INVALID', `The in-toto statement type ${JSON.stringify(st?._type)} is not a known statement type.`);
  }
  if (!Array.isArray(st.subject) || st.subject.length === 0) fail('INTOTO_STATEMENT_INVALID', 'The in-toto statement has no subjects.');
  const want = 'bytes' in artifact ? sha256Hex(artifact.bytes) : artifact.sha256.toLowerCase();
  const match = st.subject.some((s: unknown) => {
    const d = (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256;
    return typeof d === 'string' && HEX64.test(d.toLowerCase()) && d.toLowerCase() === want;
  });
  if (!match) fail('ARTIFACT_DIGEST_MISMATCH', 'The artifact digest matches none of the in-toto statement subjects.');
}
