// Property: a mutated signed sidecar is never `verified` unless stock sigstore-js
// (@sigstore/verify, used directly and independently of the product's verifier) accepts
// the mutated bundle too; parsing never throws anything but a coded error; and the worker
// pool gives exactly the in-process outcomes for every mutant.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { AttestError } from '../../src/errors.ts';
import { parseSidecar } from '../../src/sidecar/parse.ts';
import { verifyAttestations } from '../../src/verify/attestations.ts';
import { createVerifier, type BundleVerifier } from '../../src/verify/verifier.ts';
import { createVerifyPool, type VerifyPool } from '../../src/verify/pool.ts';
import type { LoadedTrustRoot } from '../../src/verify/trust-root.ts';
import type { PublishExpectation } from '../../src/verify/cep27.ts';
import { publishStatement, startLocalSigstore } from '../helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore } from '../helpers/sigstore.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

const CHANNEL = 'http://127.0.0.1:1/fuzz-channel';
let sigstore: LocalSigstore;
let root: LoadedTrustRoot;
let good: BundleJSON;
let goodText: string;
let verifier: BundleVerifier;
let pool: VerifyPool;
let stock: Verifier;
const pkg: PublishExpectation = { filename: 'fuzz-1.0-h0_0.conda', sha256: createHash('sha256').update('fuzz').digest('hex'), acceptedChannels: [CHANNEL] };

/** Every path to a leaf (string, number, boolean) in the bundle. */
function leafPaths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leafPaths(x, [...at, i]));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...at, k]));
  return [at];
}

function setPath(obj: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(obj) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
  return copy;
}

function flipChar(s: string, at: number, to: string): string {
  if (s.length === 0) return to;
  const i = at % s.length;
  return s.slice(0, i) + (s[i] === to ? (to === 'A' ? 'B' : 'A') : to) + s.slice(i + 1);
}

before(async () => {
  sigstore = await startLocalSigstore();
  const json = sigstore.trustedRoot;
  root = { source: sigstore.trustedRootPath, digest: createHash('sha256').update(JSON.stringify(json)).digest('hex'), ageDays: 0, json };
  good = await sigstore.attest(publishStatement({ filename: pkg.filename, sha256: pkg.sha256, targetChannel: CHANNEL }));
  goodText = JSON.stringify([good]);
  verifier = createVerifier({ trustRoot: root });
  pool = createVerifyPool({ trustRoot: root, size: 1, minBundles: 1 });
  stock = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(json)), { tlogThreshold: 1, ctlogThreshold: 1 });
});
after(async () => {
  await pool?.close();
  await sigstore?.close();
});

test('the unmutated sidecar verifies (else the property below proves nothing)', async () => {
  const [o] = verifyAttestations(parseSidecar(Buffer.from(goodText), 'good.sigs').bundles, pkg, verifier);
  assert.equal(o!.verified, true);
  stock.verify(toSignedEntity(bundleFromJSON(good)));
});

test('property: mutated sidecars are never verified unless stock sigstore-js agrees; worker = in-process', async (t) => {
  const paths = leafPaths(good);
  const mutation = fc.oneof(
    // A leaf replaced by another JSON value.
    fc.record({ kind: fc.constant('leaf' as const), path: fc.constantFrom(...paths), value: fc.jsonValue({ maxDepth: 2 }) }),
    // One character of a string leaf changed (base64 signatures, certificates, payloads, hashes).
    fc.record({ kind: fc.constant('char' as const), path: fc.constantFrom(...paths), at: fc.nat(), to: fc.constantFrom('A', 'a', '0', '/', '+', '=', '"', '\\') }),
    // Raw bytes of the sidecar text: one character changed, or a slice removed.
    fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), to: fc.constantFrom('A', '{', ']', ',', '"', '0', ' '), cut: fc.nat(40) }),
  );
  await checkProperty(
    t,
    'sidecar mutants',
    [mutation],
    async (m) => {
      let text: string;
      if (m.kind === 'leaf') text = JSON.stringify([setPath(good, m.path, m.value)]);
      else if (m.kind === 'char') {
        const path = m.path;
        let leaf: unknown = good;
        for (const k of path) leaf = (leaf as Record<string | number, unknown>)[k];
        text = JSON.stringify([setPath(good, path, typeof leaf === 'string' ? flipChar(leaf, m.at, m.to) : m.to)]);
      } else {
        const i = m.at % goodText.length;
        text = m.cut > 0 ? goodText.slice(0, i) + goodText.slice(i + m.cut) : flipChar(goodText, i, m.to);
      }
      if (text === goodText) return;
      let bundles: unknown[];
      let bytes: Buffer | undefined;
      try {
        ({ bundles, bytes } = parseSidecar(Buffer.from(text), 'mutant.sigs'));
      } catch (e) {
        assert.ok(e instanceof AttestError && e.code.startsWith('SIDECAR_'), String(e));
        return;
      }
      assert.equal(bytes?.toString('utf8'), text, 'the bytes a worker is sent are the sidecar\'s own');
      const local = verifyAttestations(bundles, pkg, verifier);
      // As the run sends it: the mutant's own bytes, parsed again in the worker.
      assert.deepEqual(await pool.verifyAttestations(bundles, pkg, {}, bytes), local, 'worker and in-process outcomes differ');
      for (const o of local) {
        if (!o.verified) continue;
        // Verified after a mutation: only acceptable if the mutation is one that stock
        // sigstore-js also accepts (e.g. an unsigned, unchecked field).
        const b = bundles[o.index];
        assert.doesNotThrow(() => stock.verify(toSignedEntity(bundleFromJSON(b))), `verified a mutant stock sigstore-js rejects: ${JSON.stringify(m)}`);
      }
    },
    { runs: 60 },
  );
});
