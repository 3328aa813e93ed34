// The second verifier: @freedomofpress/sigstore-browser (a WebCrypto Sigstore verifier) over
// the same bundles, in Node. A speed reference, and a second opinion on the verdicts: it must
// accept every bundle raw @sigstore/verify accepts and reject each tampered variant.
// A devDependency of the bench only: nothing in src/ imports it.
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

type Json = Record<string, any>;

export interface PeerInput {
  sidecars: unknown[][];
  trustedRoot: object;
  identity: string;
  issuer: string;
}

export interface PeerRun {
  ms: number;
  bundles: number;
  accepted: number;
  /** First rejection message, if any bundle was rejected. */
  firstError?: string;
  /** The peer's rejection message per bundle (sidecar by sidecar, bundle by bundle); null = accepted. */
  rejections: (string | null)[][];
}

/**
 * True when a bundle relies on proto3 JSON's omitted default for its inclusion proof's
 * `logIndex` (the entry is leaf 0 of its tree, so "0" is left out). Under proto3 JSON the
 * omitted field IS "0"; the peer reads it as absent and fails converting it to a BigInt.
 */
export function omitsZeroLogIndex(bundle: unknown): boolean {
  const entries = (bundle as Json)?.verificationMaterial?.tlogEntries;
  return Array.isArray(entries) && entries.some((e: Json) => e?.inclusionProof && e.inclusionProof.logIndex === undefined);
}

export interface TamperCase {
  name: string;
  referenceRejects: boolean;
  peerRejects: boolean;
  peerError?: string;
}

async function loadPeer(trustedRoot: object) {
  const { SigstoreVerifier, Identity } = await import('@freedomofpress/sigstore-browser');
  const verifier = new SigstoreVerifier();
  await verifier.loadSigstoreRoot(structuredClone(trustedRoot) as never);
  return { verifier, Identity };
}

/**
 * The same bundle with proto3 JSON's omitted defaults written out (`inclusionProof.logIndex`
 * "0" and `hashes` [] for an entry that is the first of its tree). Under proto3 JSON the two
 * forms are the same message; the peer only reads the explicit form.
 */
export function withExplicitDefaults(bundle: unknown): unknown {
  const b = structuredClone(bundle) as Json;
  for (const e of b.verificationMaterial?.tlogEntries ?? []) {
    if (e.inclusionProof) {
      e.inclusionProof.logIndex ??= '0';
      e.inclusionProof.hashes ??= [];
    }
  }
  return b;
}

/** One pass of the peer over every bundle (trust root loaded inside the timing, as for the reference). */
export async function runPeer(input: PeerInput): Promise<PeerRun> {
  const t0 = performance.now();
  const { verifier, Identity } = await loadPeer(input.trustedRoot);
  const policy = new Identity({ identity: input.identity, issuer: input.issuer });
  let bundles = 0;
  let accepted = 0;
  let firstError: string | undefined;
  const rejections: (string | null)[][] = [];
  for (const list of input.sidecars) {
    const row: (string | null)[] = [];
    rejections.push(row);
    for (const b of list) {
      bundles++;
      try {
        await verifier.verifyDsse(b as never, policy);
        accepted++;
        row.push(null);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        firstError ??= message;
        row.push(message);
      }
    }
  }
  return { ms: performance.now() - t0, bundles, accepted, firstError, rejections };
}

function flipBase64(s: string, at = -10): string {
  const b = Buffer.from(s, 'base64');
  const i = at < 0 ? b.length + at : at;
  b[i] = b[i]! ^ 0x01;
  return b.toString('base64');
}

/** Tampered variants of one good bundle: each must be rejected by both verifiers. */
function tampered(good: Json, identity: string): { name: string; bundle: Json; identity: string }[] {
  const c = () => structuredClone(good);
  const out: { name: string; bundle: Json; identity: string }[] = [];
  let b = c();
  b.dsseEnvelope.signatures[0].sig = flipBase64(b.dsseEnvelope.signatures[0].sig);
  out.push({ name: 'DSSE signature altered', bundle: b, identity });
  b = c();
  const payload = Buffer.from(b.dsseEnvelope.payload, 'base64').toString('utf8');
  b.dsseEnvelope.payload = Buffer.from(payload.replace(/"sha256":\s*"([0-9a-f])/, (_m, d: string) => `"sha256":"${d === '0' ? '1' : '0'}`), 'utf8').toString('base64');
  out.push({ name: 'DSSE payload altered (subject digest)', bundle: b, identity });
  b = c();
  const entry = b.verificationMaterial.tlogEntries[0];
  if (entry.inclusionPromise) {
    entry.inclusionPromise.signedEntryTimestamp = flipBase64(entry.inclusionPromise.signedEntryTimestamp);
    out.push({ name: 'tlog SET altered', bundle: b, identity });
    b = c();
  }
  const body = JSON.parse(Buffer.from(b.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64').toString('utf8'));
  body.spec = { ...body.spec, tampered: true };
  b.verificationMaterial.tlogEntries[0].canonicalizedBody = Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
  out.push({ name: 'tlog body altered', bundle: b, identity });
  b = c();
  const vm = b.verificationMaterial;
  if (vm.certificate) vm.certificate.rawBytes = flipBase64(vm.certificate.rawBytes, -5);
  out.push({ name: 'certificate signature altered', bundle: b, identity });
  out.push({ name: 'another identity expected', bundle: c(), identity: `${identity}-other` });
  return out;
}

function referenceRejects(bundle: Json, trustedRoot: object, identity: string, issuer: string): boolean {
  try {
    const v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(trustedRoot)));
    v.verify(toSignedEntity(bundleFromJSON(bundle)), { subjectAlternativeName: identity, extensions: { issuer } });
    return false;
  } catch {
    return true;
  }
}

/**
 * The first bundle unaltered, then each tampered variant of it: both verifiers must accept
 * the first and reject every other.
 */
export async function tamperCases(input: PeerInput): Promise<TamperCase[]> {
  const good = input.sidecars[0]![0] as Json;
  const { verifier, Identity } = await loadPeer(input.trustedRoot);
  const out: TamperCase[] = [];
  for (const t of [{ name: 'unaltered', bundle: good, identity: input.identity }, ...tampered(good, input.identity)]) {
    let peerRejects = false;
    let peerError: string | undefined;
    try {
      await verifier.verifyDsse(t.bundle as never, new Identity({ identity: t.identity, issuer: input.issuer }));
    } catch (e) {
      peerRejects = true;
      peerError = e instanceof Error ? e.message : String(e);
    }
    out.push({ name: t.name, referenceRejects: referenceRejects(t.bundle, input.trustedRoot, t.identity, input.issuer), peerRejects, peerError });
  }
  return out;
}

/**
 * The real public-good bundle of the shared interop data (Rekor v1 entry, a non-zero
 * `logIndex`: no proto3 default involved), unaltered and tampered, against the public-good
 * trusted root embedded in @sigstore/tuf; null when the data is absent (a fresh clone).
 */
export async function interopCases(sharedDir: string): Promise<{ source: string; cases: TamperCase[] } | null> {
  const { existsSync, readFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(sharedDir, 'interop', 'signed-package-2.1.0-hb0f4dca_0.conda.sigs');
  if (!existsSync(file)) return null;
  const { loadTrustRoot } = await import('../src/verify/trust-root.ts');
  const cacheDir = mkdtempSync(join(tmpdir(), 'conda-attest-bench-peer-'));
  try {
    const root = await loadTrustRoot('public-good', { offline: true, cacheDir });
    const sidecar = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
    const cases = await tamperCases({
      sidecars: [sidecar],
      trustedRoot: root.json as object,
      identity: 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main',
      issuer: 'https://token.actions.githubusercontent.com',
    });
    return { source: 'signed-package-2.1.0-hb0f4dca_0.conda.sigs (public-good, Rekor v1)', cases };
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
