// A local Sigstore instance for tests, the benchmark and the `npm start` demo.
//
// STATUS: complete — Fulcio (custom leaf issuance, CT-log SCT), Rekor v1
// (hashedrekord + DSSE canonicalised like real Rekor), TSA, trusted_root.json,
// self-managed keys, a "wrong instance" for negative tests, tamper helpers.
//
// What is real and what is emulated:
// - Signing uses sigstore's own client code from `@sigstore/sign` (FulcioSigner,
//   RekorWitness, TSAWitness, DSSEBundleBuilder / MessageSignatureBundleBuilder)
//   talking real HTTP to ONE `node:http` server on 127.0.0.1 (random port).
// - Behind that server sit the emulators of `@sigstore/mock` (CT log, Rekor
//   transparency log, RFC 3161 TSA), imported by deep path so that `nock` (which
//   the package index pulls in and which patches `node:http`) is never loaded.
// - Fulcio's certificate issuance is our own (with @peculiar/x509, a dependency
//   of @sigstore/mock): the mock CA can only write URI SANs and maps a fixed set of
//   token claims, while the identity-lockfile tests need email SANs and full
//   control over every Fulcio v2 claim (specs.md §4). The leaf still chains to the
//   CA in the trusted root and carries an SCT from the mock CT log.
// - Rekor's emulator logs the proposed entry verbatim. Real Rekor stores a `dsse`
//   entry in canonical form (envelope hash, payload hash, signatures + verifiers),
//   and @sigstore/verify compares the bundle against that canonical body, so the
//   Rekor route canonicalises DSSE (and in-toto) entries before logging them.

import { createHash, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject, webcrypto as NodeWebCrypto } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @peculiar/x509 needs the Reflect metadata polyfill loaded before it (tsyringe).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } from '@sigstore/sign';
import type { Signer, Witness } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { initializeCTLog } from '@sigstore/mock/dist/fulcio/ctlog.js';
import type { CTLog } from '@sigstore/mock/dist/fulcio/ctlog.js';
import { initializeTLog } from '@sigstore/mock/dist/rekor/tlog.js';
import type { TLog } from '@sigstore/mock/dist/rekor/tlog.js';
import { initializeTSA } from '@sigstore/mock/dist/timestamp/tsa.js';
import type { TSA } from '@sigstore/mock/dist/timestamp/tsa.js';
import { tsaHandler } from '@sigstore/mock/dist/timestamp/handler.js';
import { startLoopback } from './loopback.ts';

// ---------------------------------------------------------------------------
// Public types

/** Fulcio v2 certificate claims (specs.md §4), named like `SignerIdentity` in src/types.ts. */
export interface GitHubClaims {
  buildSignerUri: string; // .9
  buildSignerDigest: string; // .10
  runnerEnvironment: string; // .11
  sourceRepositoryUri: string; // .12
  sourceRepositoryDigest: string; // .13
  sourceRepositoryRef: string; // .14
  sourceRepositoryId: string; // .15
  sourceRepositoryOwnerUri: string; // .16
  sourceRepositoryOwnerId: string; // .17
  buildConfigUri: string; // .18
  buildConfigDigest: string; // .19
  buildTrigger: string; // .20
  runInvocationUri: string; // .21
  sourceRepositoryVisibility: string; // .22
  deploymentEnvironment: string; // .23 (from the token's `environment` claim)
}

/** OID (1.3.6.1.4.1.57264.1.N) of each Fulcio v2 claim. */
export const CLAIM_OIDS: Readonly<Record<keyof GitHubClaims, string>> = {
  buildSignerUri: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  sourceRepositoryId: '1.3.6.1.4.1.57264.1.15',
  sourceRepositoryOwnerUri: '1.3.6.1.4.1.57264.1.16',
  sourceRepositoryOwnerId: '1.3.6.1.4.1.57264.1.17',
  buildConfigUri: '1.3.6.1.4.1.57264.1.18',
  buildConfigDigest: '1.3.6.1.4.1.57264.1.19',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
  runInvocationUri: '1.3.6.1.4.1.57264.1.21',
  sourceRepositoryVisibility: '1.3.6.1.4.1.57264.1.22',
  deploymentEnvironment: '1.3.6.1.4.1.57264.1.23',
};

/** Issuer extension OIDs: v2 (DER UTF8String) and legacy v1 (raw string bytes). */
export const ISSUER_OID_V2 = '1.3.6.1.4.1.57264.1.8';
export const ISSUER_OID_V1 = '1.3.6.1.4.1.57264.1.1';

export const DEFAULT_SAN = 'https://github.com/test-org/test-feedstock/.github/workflows/build.yml@refs/heads/main';
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
/** `trusted_identities` that accept every test-org workflow on its main branch (DEFAULT_SAN among them). */
export const TEST_ORG_WORKFLOWS = [{ identity: 'https://github.com/test-org/*/.github/workflows/*.yml@refs/heads/main', issuer: GITHUB_ISSUER }];
/** CEP 27 publish attestation predicate type. */
export const PUBLISH_PREDICATE_TYPE = 'https://schemas.conda.org/attestations-publish-1.schema.json';
export const INTOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Which parts of the signing path use the second, untrusted instance (negative tests). */
export interface WrongInstance {
  /** Certificate issued by a different Fulcio CA (not in `trustedRoot`). */
  ca?: boolean;
  /** Entry logged in a different Rekor (key not in `trustedRoot`). */
  rekor?: boolean;
  /** Timestamp from a different TSA. */
  tsa?: boolean;
}

/** Per-signature identity and witness options. */
export interface SignOptions {
  /** Certificate SAN: a URI, or an email (contains `@` and no `://`) written as an rfc822Name. */
  san?: string;
  /** OIDC issuer written to OID .1.8 (and legacy .1.1). Default: GitHub Actions. */
  issuer?: string;
  /**
   * Fulcio v2 claims. For GitHub SANs, defaults are derived from the SAN (repo URI,
   * repo id '1001', owner id '2001', ref, sha, trigger 'push', runner 'github-hosted',
   * visibility 'public'); give `null` to leave a claim out. Non-GitHub SANs get no
   * claims unless given.
   */
  claims?: Partial<Record<keyof GitHubClaims, string | null>>;
  /** Which issuer extensions to write: both (default, like Fulcio), only v2, only legacy. */
  issuerExtensions?: 'both' | 'v2' | 'legacy';
  /** Add a Rekor entry (default true). */
  tlog?: boolean;
  /** Add an RFC 3161 timestamp (default false). */
  tsa?: boolean;
  /** Rekor entry kind for DSSE bundles: `dsse` (default, current clients) or legacy `intoto`. */
  entryType?: 'dsse' | 'intoto';
  /** Bundle media type: v0.3 (default, single certificate) or v0.2 (certificate chain). */
  bundleVersion?: '0.2' | '0.3';
  /** Use the untrusted second instance for some parts (for "wrong instance" tests). */
  wrongInstance?: WrongInstance;
  /**
   * Force a new ephemeral key and certificate for this signature. By default one
   * key + certificate is reused per identity for 5 minutes (speed).
   */
  freshCertificate?: boolean;
  /**
   * Write this extension twice in the leaf (attack: RFC 5280 §4.2 allows each extension
   * at most once): `san` repeats the SubjectAlternativeName with another SAN (given), or an
   * OID repeats that extension with the value given.
   */
  duplicateExtension?: { oid: string; value: string };
}

/** A self-managed signing key. */
export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key. */
  publicKeyPem: string;
  /** SHA-256 (hex) of the SPKI DER: the fingerprint used as default key hint. */
  fingerprint: string;
}

/** The running local Sigstore instance. */
export interface LocalSigstore {
  /** Base URL of the loopback server (`http://127.0.0.1:PORT`). */
  url: string;
  /** trusted_root.json content (protobuf-specs TrustedRoot JSON). */
  trustedRoot: TrustedRootJSON;
  /** trusted_root.json written to a temp dir (removed by `close`). */
  trustedRootPath: string;
  /** trusted_root.json of the second, untrusted instance (to build "wrong root" tests). */
  wrongTrustedRoot: TrustedRootJSON;
  /** DSSE bundle over an in-toto statement (what conda channels publish); bundle JSON (v0.3 by default). */
  attest(statement: object, opts?: SignOptions): Promise<BundleJSON>;
  /** DSSE bundle over arbitrary payload bytes with an arbitrary payload type (for malformed-statement tests). */
  attestRaw(payload: Buffer, payloadType: string, opts?: SignOptions): Promise<BundleJSON>;
  /** Message-signature (hashedrekord) bundle over raw bytes. */
  signBlob(bytes: Buffer, opts?: SignOptions): Promise<BundleJSON>;
  /**
   * DSSE bundle signed by a self-managed key: verification material is a
   * `publicKey` hint (default: the key's SHA-256 fingerprint). `tlog` defaults to true.
   */
  attestWithKey(
    statement: object,
    key: { privateKey: KeyObject; hint?: string },
    opts?: { tlog?: boolean; tsa?: boolean },
  ): Promise<BundleJSON>;
  /** Number of requests served per route, e.g. `{ 'POST /api/v2/signingCert': 3 }`. */
  requestCounts(): Record<string, number>;
  /** Stop the server and remove the temp dir. */
  close(): Promise<void>;
}

/** A Sigstore bundle as JSON (camelCase protobuf JSON). */
export type BundleJSON = Record<string, any>;

/** TrustedRoot as protobuf JSON. */
export interface TrustedRootJSON {
  mediaType: string;
  tlogs: object[];
  certificateAuthorities: object[];
  ctlogs: object[];
  timestampAuthorities: object[];
}

// ---------------------------------------------------------------------------
// DER helpers (tiny: only what the extensions need)

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function derTLV(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}
/** DER UTF8String, as Fulcio writes its v2 extensions. */
function derUtf8(s: string): Buffer {
  return derTLV(0x0c, Buffer.from(s, 'utf8'));
}
function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
function b64(b: ArrayBufferView): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

// ---------------------------------------------------------------------------
// One Sigstore "instance": CA (root + intermediate), CT log, Rekor, TSA.

const webcrypto = globalThis.crypto;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const DAY = 24 * 3600 * 1000;

interface Instance {
  name: string;
  rootCert: x509.X509Certificate;
  intCert: x509.X509Certificate;
  intKeys: NodeWebCrypto.CryptoKeyPair;
  /** SHA-256 of the intermediate's SPKI: the CT issuer key hash (RFC 6962). */
  issuerKeyHash: ArrayBuffer;
  ctlog: CTLog;
  tlog: TLog;
  tlogPublicKey: Buffer;
  tsa: TSA;
  tsaFn: (body: string) => Promise<{ statusCode: number; response: string | ArrayBufferView; contentType?: string }>;
  validFrom: Date;
}

async function createInstance(name: string, baseURL: string): Promise<Instance> {
  // CA validity starts a day back so certificates issued "now" sit well inside it.
  const validFrom = new Date(Date.now() - DAY);
  const rootKeys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as NodeWebCrypto.CryptoKeyPair;
  const intKeys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as NodeWebCrypto.CryptoKeyPair;
  const rootName = `CN=${name}-root,O=conda-attest.test`;
  const intName = `CN=${name}-intermediate,O=conda-attest.test`;
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: rootName,
      notBefore: validFrom,
      notAfter: new Date(Date.now() + 365 * DAY),
      keys: rootKeys,
      signingAlgorithm: EC_SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  const intCert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '02',
      subject: intName,
      issuer: rootName,
      notBefore: validFrom,
      notAfter: new Date(Date.now() + 365 * DAY),
      publicKey: intKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: EC_SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
        await x509.SubjectKeyIdentifierExtension.create(intKeys.publicKey, false, webcrypto),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  const issuerKeyHash = await webcrypto.subtle.digest('SHA-256', await webcrypto.subtle.exportKey('spki', intKeys.publicKey));
  const ecPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ctlog = await initializeCTLog(ecPair());
  const tlogKeys = ecPair();
  const tlog = await initializeTLog(baseURL, tlogKeys);
  const tsa = await initializeTSA(ecPair());
  // Whole-second genTime, rounded up (never before the certificate's notBefore): the
  // emulator stamps milliseconds and drops trailing zeros (".5Z"), which stock
  // sigstore-js rejects — the product handles those (test/verify/conformance-causes), but
  // the helper's own self-tests verify with stock sigstore-js and must not flake.
  (tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () => new Date(Math.ceil(Date.now() / 1000) * 1000);
  return {
    name,
    rootCert,
    intCert,
    intKeys,
    issuerKeyHash,
    ctlog,
    tlog,
    tlogPublicKey: tlogKeys.publicKey.export({ format: 'der', type: 'spki' }),
    tsa,
    tsaFn: tsaHandler(tsa).fn,
    validFrom,
  };
}

function trustedRootOf(inst: Instance, baseURL: string): TrustedRootJSON {
  const start = inst.validFrom.toISOString();
  const keyId = (der: Buffer) => createHash('sha256').update(der).digest('base64');
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: baseURL,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(inst.tlogPublicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: keyId(inst.tlogPublicKey) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'conda-attest.test', commonName: `${inst.name}-intermediate` },
        uri: baseURL,
        // Leaf-first order, as in the public-good root: intermediate, then root.
        certChain: {
          certificates: [{ rawBytes: b64(new Uint8Array(inst.intCert.rawData)) }, { rawBytes: b64(new Uint8Array(inst.rootCert.rawData)) }],
        },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: baseURL,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(inst.ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(new Uint8Array(inst.ctlog.logID.buffer, inst.ctlog.logID.byteOffset, inst.ctlog.logID.byteLength)) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: baseURL,
        certChain: { certificates: [{ rawBytes: b64(inst.tsa.intCertificate) }, { rawBytes: b64(inst.tsa.rootCertificate) }] },
        validFor: { start },
      },
    ],
  };
}

// ---------------------------------------------------------------------------
// Fulcio: issue a leaf for the token's identity, with an SCT from the CT log.

interface TokenClaims {
  iss: string;
  sub: string;
  email?: string;
  email_verified?: boolean;
  /** Test-only claim: extension OID → value, written verbatim as DER UTF8String. */
  'conda_attest.extensions'?: Record<string, string>;
  /** Test-only claim: which issuer extensions to write. */
  'conda_attest.issuer_extensions'?: 'both' | 'v2' | 'legacy';
  /** Test-only claim: an extension written a second time (OID → value; the SAN OID takes a URI). */
  'conda_attest.duplicate_extension'?: { oid: string; value: string };
}

function decodeJwt(token: string): TokenClaims {
  const part = token.split('.')[1];
  if (!part) throw new Error('malformed identity token');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as TokenClaims;
}

/** Mint an unsigned (alg `none`) OIDC token: the local Fulcio trusts any token, like the mock. */
function mintToken(claims: TokenClaims): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ aud: 'sigstore', iat: Math.floor(Date.now() / 1000), ...claims })}.`;
}

async function issueLeaf(inst: Instance, spkiDer: Buffer, claims: TokenClaims): Promise<Buffer> {
  const publicKey = await webcrypto.subtle.importKey('spki', spkiDer, EC_P256, true, ['verify']);
  const now = new Date();
  const isEmail = claims.email !== undefined;
  const san = isEmail ? claims.email! : claims.sub;
  const issuerMode = claims['conda_attest.issuer_extensions'] ?? 'both';
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, webcrypto),
    await x509.AuthorityKeyIdentifierExtension.create(inst.intKeys.publicKey, false, webcrypto),
    // Fulcio leaves the subject empty, so the SAN extension is critical (RFC 5280 §4.2.1.6).
    new x509.SubjectAlternativeNameExtension([{ type: isEmail ? 'email' : 'url', value: san }], true),
  ];
  if (issuerMode !== 'v2') extensions.push(new x509.Extension(ISSUER_OID_V1, false, toArrayBuffer(Buffer.from(claims.iss, 'utf8'))));
  if (issuerMode !== 'legacy') extensions.push(new x509.Extension(ISSUER_OID_V2, false, toArrayBuffer(derUtf8(claims.iss))));
  const extra = claims['conda_attest.extensions'] ?? {};
  // Sorted by OID arc so certificates are deterministic for the same identity.
  for (const oid of Object.keys(extra).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))) {
    extensions.push(new x509.Extension(oid, false, toArrayBuffer(derUtf8(extra[oid]))));
  }
  const dup = claims['conda_attest.duplicate_extension'];
  if (dup) {
    extensions.push(
      dup.oid === '2.5.29.17'
        ? new x509.SubjectAlternativeNameExtension([{ type: 'url', value: dup.value }], true)
        : new x509.Extension(dup.oid, false, toArrayBuffer(derUtf8(dup.value))),
    );
  }
  const params: x509.X509CertificateCreateParams = {
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    notBefore: now,
    notAfter: new Date(now.getTime() + 10 * 60 * 1000),
    issuer: inst.intCert.subject,
    subject: '',
    publicKey,
    signingKey: inst.intKeys.privateKey,
    signingAlgorithm: EC_SIGN,
    extensions,
  };
  // RFC 6962: the CT log signs the TBS without the SCT list; the verifier removes
  // the SCT extension from the final certificate and checks against that.
  const preCert = await x509.X509CertificateGenerator.create(params, webcrypto);
  // The emulator returns the serialized SCT already prefixed with its u16 length.
  const raw = Buffer.from(await inst.ctlog.log(preCert.rawData, inst.issuerKeyHash));
  const sct = raw.subarray(0, 2 + raw.readUInt16BE(0));
  const sctList = Buffer.concat([u16(sct.length), sct]); // RFC 6962 §3.3 SignedCertificateTimestampList
  extensions.push(new x509.Extension('1.3.6.1.4.1.11129.2.4.2', false, toArrayBuffer(derTLV(0x04, sctList))));
  const cert = await x509.X509CertificateGenerator.create({ ...params, extensions }, webcrypto);
  return Buffer.from(cert.rawData);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function pem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const body = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

async function fulcioRoute(inst: Instance, body: string): Promise<[number, string, string]> {
  const req = JSON.parse(body);
  const token: string = req.credentials?.oidcIdentityToken;
  const keyPem: string = req.publicKeyRequest?.publicKey?.content;
  const pop = Buffer.from(req.publicKeyRequest?.proofOfPossession ?? '', 'base64');
  const claims = decodeJwt(token);
  const key = createPublicKey(keyPem);
  // Like Fulcio: the client proves possession by signing the token's subject (email when present).
  const subject = claims.email ?? claims.sub;
  if (!nodeVerify('sha256', Buffer.from(subject), key, pop)) {
    return [400, 'text/plain', 'proof of possession failed'];
  }
  const leaf = await issueLeaf(inst, key.export({ format: 'der', type: 'spki' }), claims);
  const chain = [pem(leaf), pem(new Uint8Array(inst.intCert.rawData)), pem(new Uint8Array(inst.rootCert.rawData))];
  return [201, 'application/json', JSON.stringify({ signedCertificateEmbeddedSct: { chain: { certificates: chain } } })];
}

// ---------------------------------------------------------------------------
// Rekor: canonicalise like real Rekor, then let the emulator log it.

function sha256hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Real Rekor's canonical body for the entry kinds sigstore-js proposes. */
function canonicalRekorEntry(proposed: any): object {
  if (proposed.kind === 'dsse' && proposed.spec?.proposedContent) {
    // rekor pkg/types/dsse/v0.0.1: keep hashes and signatures, drop the envelope.
    const envelopeJSON: string = proposed.spec.proposedContent.envelope;
    const envelope = JSON.parse(envelopeJSON);
    const verifiers: string[] = proposed.spec.proposedContent.verifiers;
    return {
      apiVersion: proposed.apiVersion,
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256hex(envelopeJSON) },
        payloadHash: { algorithm: 'sha256', value: sha256hex(Buffer.from(envelope.payload, 'base64')) },
        signatures: envelope.signatures.map((s: { sig: string }, i: number) => ({ signature: s.sig, verifier: verifiers[i] ?? verifiers[0] })),
      },
    };
  }
  if (proposed.kind === 'intoto' && proposed.spec?.content?.envelope) {
    // rekor pkg/types/intoto/v0.0.2: the payload is not stored, only its hash.
    const { payload: _payload, ...envelope } = proposed.spec.content.envelope;
    return { ...proposed, spec: { ...proposed.spec, content: { ...proposed.spec.content, envelope } } };
  }
  return proposed; // hashedrekord is already canonical
}

// ---------------------------------------------------------------------------
// The server

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Fresh, default GitHub claims derived from a GitHub Actions workflow SAN. */
export function defaultClaimsFor(san: string): Partial<GitHubClaims> {
  const m = /^https:\/\/github\.com\/([^/]+)\/([^/]+)\/(\.github\/workflows\/[^@]+)@(.+)$/.exec(san);
  if (!m) return {};
  const [, owner, repo, , ref] = m;
  const sha = createHash('sha1').update(`${owner}/${repo}@${ref}`).digest('hex');
  return {
    buildSignerUri: san,
    buildSignerDigest: sha,
    runnerEnvironment: 'github-hosted',
    sourceRepositoryUri: `https://github.com/${owner}/${repo}`,
    sourceRepositoryDigest: sha,
    sourceRepositoryRef: ref,
    sourceRepositoryId: '1001',
    sourceRepositoryOwnerUri: `https://github.com/${owner}`,
    sourceRepositoryOwnerId: '2001',
    buildConfigUri: san,
    buildConfigDigest: sha,
    buildTrigger: 'push',
    runInvocationUri: `https://github.com/${owner}/${repo}/actions/runs/1/attempts/1`,
    sourceRepositoryVisibility: 'public',
  };
}

/** The OIDC token claims for a signature (identity + the extensions the local Fulcio writes). */
function claimsFor(opts: SignOptions): TokenClaims {
  const san = opts.san ?? DEFAULT_SAN;
  const isEmail = san.includes('@') && !san.includes('://');
  const merged: Record<string, string | null | undefined> = { ...defaultClaimsFor(san), ...(opts.claims ?? {}) };
  const extensions: Record<string, string> = {};
  for (const [name, value] of Object.entries(merged)) {
    const oid = CLAIM_OIDS[name as keyof GitHubClaims];
    if (!oid) throw new Error(`unknown claim ${name}`);
    if (value !== null && value !== undefined) extensions[oid] = value;
  }
  return {
    iss: opts.issuer ?? GITHUB_ISSUER,
    sub: san,
    ...(isEmail ? { email: san, email_verified: true } : {}),
    'conda_attest.extensions': extensions,
    'conda_attest.issuer_extensions': opts.issuerExtensions ?? 'both',
    ...(opts.duplicateExtension ? { 'conda_attest.duplicate_extension': opts.duplicateExtension } : {}),
  };
}

/** Generate a self-managed ECDSA P-256 key pair. */
export function generateTestKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey, publicKeyPem: pem(der, 'PUBLIC KEY'), fingerprint: sha256hex(der) };
}

/**
 * Start a local Sigstore instance (plus a second, untrusted one used by
 * `wrongInstance`) behind one HTTP server on 127.0.0.1. Start-up ~80 ms (key and CA generation).
 */
export async function startLocalSigstore(): Promise<LocalSigstore> {
  const counts = new Map<string, number>();
  let good: Instance | undefined;
  let wrong: Instance | undefined;
  const lb = await startLoopback((req, res) =>
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e instanceof Error ? e.message : e));
    }),
  );
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    counts.set(`${req.method} ${path}`, (counts.get(`${req.method} ${path}`) ?? 0) + 1);
    const isWrong = path.startsWith('/wrong/');
    const inst = isWrong ? wrong! : good!;
    const route = isWrong ? path.slice('/wrong'.length) : path;
    if (req.method === 'GET' && route === '/trusted_root.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(isWrong ? wrongRoot : trustedRoot, null, 2));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const body = await readBody(req);
    let status: number, type: string, out: string | Uint8Array;
    if (route === '/api/v2/signingCert') {
      [status, type, out] = await fulcioRoute(inst, body);
    } else if (route === '/api/v1/log/entries') {
      const entry = await inst.tlog.log(canonicalRekorEntry(JSON.parse(body)));
      [status, type, out] = [201, 'application/json', JSON.stringify(entry)];
    } else if (route === '/api/v1/timestamp') {
      const r = await inst.tsaFn(body);
      status = r.statusCode;
      type = r.contentType ?? 'text/plain';
      out = typeof r.response === 'string' ? r.response : new Uint8Array(r.response.buffer, r.response.byteOffset, r.response.byteLength);
    } else {
      [status, type, out] = [404, 'text/plain', 'not found'];
    }
    res.writeHead(status, { 'content-type': type });
    res.end(out);
  }
  // The loopback server keeps idle sockets open until close(): a short server-side idle
  // timeout would race make-fetch-happen's socket reuse (ECONNRESET, retry: 0 below).
  const url = lb.url;
  [good, wrong] = await Promise.all([createInstance('local-sigstore', url), createInstance('wrong-sigstore', `${url}/wrong`)]);
  const trustedRoot = trustedRootOf(good, url);
  const wrongRoot = trustedRootOf(wrong, `${url}/wrong`);
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-sigstore-'));
  const trustedRootPath = join(dir, 'trusted_root.json');
  writeFileSync(trustedRootPath, JSON.stringify(trustedRoot, null, 2));

  const base = (w: boolean | undefined) => (w ? `${url}/wrong` : url);
  // Small retry budget: a failed local call is a bug to surface, not to hide.
  const fetchOpts = { retry: 0, timeout: 10_000 };

  function witnesses(opts: { tlog?: boolean; tsa?: boolean; entryType?: 'dsse' | 'intoto'; wrongInstance?: WrongInstance }): Witness[] {
    const out: Witness[] = [];
    if (opts.tlog ?? true) {
      out.push(new RekorWitness({ rekorBaseURL: base(opts.wrongInstance?.rekor), entryType: opts.entryType ?? 'dsse', ...fetchOpts }));
    }
    if (opts.tsa ?? false) out.push(new TSAWitness({ tsaBaseURL: base(opts.wrongInstance?.tsa), ...fetchOpts }));
    return out;
  }
  // Speed: issuing a certificate (ASN.1 in JS + CT log) is ~80% of a signature's
  // cost, so one ephemeral key + certificate is reused per identity for up to
  // 5 minutes of its 10-minute validity (the first signature goes through
  // FulcioSigner; later ones sign locally with the same key and certificate).
  // `freshCertificate: true` forces a new key and certificate.
  const certCache = new Map<string, Promise<{ cert: string; privateKey: KeyObject; issuedAt: number }>>();
  function fulcioSigner(opts: SignOptions): Signer {
    const claims = claimsFor(opts);
    const fulcioBaseURL = base(opts.wrongInstance?.ca);
    const cacheKey = `${fulcioBaseURL}\n${JSON.stringify(claims)}`;
    const issue = async (data: Buffer): Promise<[Awaited<ReturnType<Signer['sign']>>, KeyObject]> => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
      const keyHolder: Signer = {
        sign: async (d: Buffer) => ({ signature: nodeSign('sha256', d, privateKey), key: { $case: 'publicKey', publicKey: publicKeyPem } }),
      };
      const token = mintToken(claims);
      const signer = new FulcioSigner({ fulcioBaseURL, identityProvider: { getToken: async () => token }, keyHolder, ...fetchOpts });
      return [await signer.sign(data), privateKey];
    };
    return {
      sign: async (data: Buffer) => {
        const cached = opts.freshCertificate ? undefined : certCache.get(cacheKey);
        if (cached) {
          const c = await cached;
          if (Date.now() - c.issuedAt < 5 * 60 * 1000) {
            return { signature: nodeSign('sha256', data, c.privateKey), key: { $case: 'x509Certificate', certificate: c.cert } };
          }
        }
        const p = issue(data);
        const entry = p.then(([sig, privateKey]) => {
          if (sig.key.$case !== 'x509Certificate') throw new Error('Fulcio signer returned no certificate');
          return { cert: sig.key.certificate, privateKey, issuedAt: Date.now() };
        });
        certCache.set(cacheKey, entry);
        entry.catch(() => certCache.delete(cacheKey));
        return (await p)[0];
      },
    };
  }
  async function dsse(payload: Buffer, payloadType: string, signer: Signer, opts: SignOptions): Promise<BundleJSON> {
    const builder = new DSSEBundleBuilder({ signer, witnesses: witnesses(opts), certificateChain: opts.bundleVersion === '0.2' });
    return bundleToJSON(await builder.create({ data: payload, type: payloadType })) as BundleJSON;
  }

  return {
    url,
    trustedRoot,
    trustedRootPath,
    wrongTrustedRoot: wrongRoot,
    attest(statement, opts = {}) {
      return dsse(Buffer.from(JSON.stringify(statement)), INTOTO_PAYLOAD_TYPE, fulcioSigner(opts), opts);
    },
    attestRaw(payload, payloadType, opts = {}) {
      return dsse(payload, payloadType, fulcioSigner(opts), opts);
    },
    async signBlob(bytes, opts = {}) {
      const builder = new MessageSignatureBundleBuilder({ signer: fulcioSigner(opts), witnesses: witnesses(opts) });
      return bundleToJSON(await builder.create({ data: bytes })) as BundleJSON;
    },
    attestWithKey(statement, key, opts = {}) {
      const publicKey = createPublicKey(key.privateKey);
      const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
      const hint = key.hint ?? sha256hex(publicKey.export({ format: 'der', type: 'spki' }));
      const signer: Signer = {
        sign: async (data: Buffer) => ({
          signature: nodeSign('sha256', data, key.privateKey),
          key: { $case: 'publicKey', publicKey: publicKeyPem, hint },
        }),
      };
      return dsse(Buffer.from(JSON.stringify(statement)), INTOTO_PAYLOAD_TYPE, signer, { tlog: opts.tlog ?? true, tsa: opts.tsa });
    },
    requestCounts() {
      return Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
    },
    async close() {
      await lb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Statements and tampering

/** Arguments of `publishStatement`. */
export interface PublishStatementArgs {
  /** Package filename (subject name), e.g. `foo-1.0-h0_0.conda`. */
  filename: string;
  /** SHA-256 (hex) of the package bytes. */
  sha256: string;
  /** `predicate.targetChannel`; `null` writes `predicate: null`; omitted gives `predicate: {}`. */
  targetChannel?: string | null;
  /** Override the predicate type (e.g. SLSA `https://slsa.dev/provenance/v1`). */
  predicateType?: string;
  /** Extra subjects (CEP 27 requires exactly one: use to build invalid statements). */
  extraSubjects?: { name: string; digest: Record<string, string> }[];
  /** Replace the whole predicate (takes precedence over `targetChannel`). */
  predicate?: unknown;
}

/**
 * A CEP 27 in-toto Statement v1 for a conda package. With no `targetChannel`
 * the predicate is an empty object; `targetChannel: null` gives `predicate: null`.
 */
export function publishStatement(args: PublishStatementArgs): object {
  let predicate: unknown = {};
  if (args.targetChannel === null) predicate = null;
  else if (args.targetChannel !== undefined) predicate = { targetChannel: args.targetChannel };
  if ('predicate' in args) predicate = args.predicate;
  return {
    _type: INTOTO_STATEMENT_TYPE,
    subject: [{ name: args.filename, digest: { sha256: args.sha256 } }, ...(args.extraSubjects ?? [])],
    predicateType: args.predicateType ?? PUBLISH_PREDICATE_TYPE,
    predicate,
  };
}

/** Ways `tamperBundle` can break a bundle. */
export type TamperKind =
  /** flip a bit of the DSSE / message signature */
  | 'signature'
  /** replace the DSSE payload (signature no longer covers it) */
  | 'payload'
  /** flip a bit of the Rekor signed entry timestamp */
  | 'set'
  /** move the inclusion proof to a log index outside the checkpoint's tree */
  | 'inclusion-proof'
  /** change the root hash inside the signed checkpoint (its signature no longer matches) */
  | 'checkpoint'
  /** change the logged entry body (no longer matches the bundle) */
  | 'tlog-body'
  /** flip a bit of the leaf certificate's signature */
  | 'certificate';

function flipLastByte(b64s: string): string {
  const b = Buffer.from(b64s, 'base64');
  b[b.length - 1] ^= 0x01;
  return b.toString('base64');
}
function flipMiddleByte(b64s: string): string {
  const b = Buffer.from(b64s, 'base64');
  b[b.length >> 1] ^= 0x01;
  return b.toString('base64');
}

/** A deep copy of `bundle` broken in one way (for negative tests). Pass `payload` for kind `payload`. */
export function tamperBundle(bundle: BundleJSON, kind: TamperKind, payload?: object): BundleJSON {
  const b = structuredClone(bundle);
  const entry = b.verificationMaterial?.tlogEntries?.[0];
  switch (kind) {
    case 'signature':
      if (b.dsseEnvelope) b.dsseEnvelope.signatures[0].sig = flipLastByte(b.dsseEnvelope.signatures[0].sig);
      else b.messageSignature.signature = flipLastByte(b.messageSignature.signature);
      break;
    case 'payload':
      b.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload ?? { _type: INTOTO_STATEMENT_TYPE, subject: [], predicateType: 'x' })).toString('base64');
      break;
    case 'set':
      entry.inclusionPromise.signedEntryTimestamp = flipLastByte(entry.inclusionPromise.signedEntryTimestamp);
      break;
    case 'inclusion-proof':
      // sigstore-js checks the Merkle path against the checkpoint's root hash (not
      // inclusionProof.rootHash), so break the path itself.
      entry.inclusionProof.logIndex = String(Number(entry.inclusionProof.treeSize) + 1);
      break;
    case 'checkpoint': {
      const lines: string[] = entry.inclusionProof.checkpoint.envelope.split('\n');
      lines[2] = flipLastByte(lines[2]);
      entry.inclusionProof.checkpoint.envelope = lines.join('\n');
      break;
    }
    case 'tlog-body': {
      const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8'));
      body.spec.tampered = true;
      entry.canonicalizedBody = Buffer.from(JSON.stringify(body)).toString('base64');
      break;
    }
    case 'certificate': {
      const vm = b.verificationMaterial;
      if (vm.certificate) vm.certificate.rawBytes = flipLastByte(vm.certificate.rawBytes);
      else vm.x509CertificateChain.certificates[0].rawBytes = flipMiddleByte(vm.x509CertificateChain.certificates[0].rawBytes);
      break;
    }
  }
  return b;
}
