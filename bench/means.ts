// In-process measurements of the means, over the bundles of the bench channel:
// where sigstore-js spends its time per bundle, the product's verifier loop, the worker
// pool, the verdict cache and the sidecar cache. Each returns printable lines.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import type { BundleOutcome } from '../src/types.ts';
import { openSidecarCache } from '../src/cache/sidecar-cache.ts';
import { openVerdictCache, verdictKey } from '../src/cache/verdict-cache.ts';
import { createVerifyPool } from '../src/verify/pool.ts';
import type { LoadedTrustRoot } from '../src/verify/trust-root.ts';

export interface MeansInput {
  sidecars: { bytes: Buffer; sha256: string; filename: string; pkgSha256: string }[];
  channel: string;
  trustedRoot: object;
  referenceMs: number;
  /** Scratch directory (removed by the caller). */
  dir: string;
}

function fmt(x: number): string {
  return x >= 100 ? `${Math.round(x)} ms` : `${x.toFixed(1)} ms`;
}

export async function measureMeans(input: MeansInput): Promise<string[]> {
  const out: string[] = [];
  const n = input.sidecars.length;
  const parsed = input.sidecars.map((s) => JSON.parse(s.bytes.toString('utf8')) as unknown[]);
  const bundles = parsed.reduce((a, b) => a + b.length, 0);

  // 1. Where raw sigstore-js spends its time per bundle (second pass: JIT warm).
  {
    const t0 = performance.now();
    const material = toTrustMaterial(TrustedRoot.fromJSON(input.trustedRoot));
    const verifier = new Verifier(material);
    const tMaterial = performance.now() - t0;
    let tParse = 0;
    let tEntity = 0;
    let tVerify = 0;
    for (const list of parsed) {
      for (const json of list) {
        const a = performance.now();
        const b = bundleFromJSON(json);
        const c = performance.now();
        const e = toSignedEntity(b);
        const d = performance.now();
        verifier.verify(e);
        const f = performance.now();
        tParse += c - a;
        tEntity += d - c;
        tVerify += f - d;
      }
    }
    out.push(
      `raw sigstore-js per bundle (warm JIT): bundleFromJSON ${(tParse / bundles).toFixed(3)} ms, toSignedEntity ${(tEntity / bundles).toFixed(3)} ms, ` +
        `Verifier.verify ${(tVerify / bundles).toFixed(3)} ms; trust material once ${tMaterial.toFixed(1)} ms`,
    );
  }

  const root: LoadedTrustRoot = { source: 'bench', digest: 'bench', ageDays: 0, json: input.trustedRoot };
  const expectations = input.sidecars.map((s) => ({ filename: s.filename, sha256: s.pkgSha256, acceptedChannels: [input.channel] }));

  // 2. The product's verifier on stock sigstore-js (no fast paths), in-process, sequential.
  let inProcess: BundleOutcome[][] = [];
  let inProcessMs = 0;
  {
    const { createVerifier } = await import('../src/verify/verifier.ts');
    const { verifyAttestations } = await import('../src/verify/attestations.ts');
    const t0 = performance.now();
    const v = createVerifier({ trustRoot: root, accelerate: false });
    inProcess = parsed.map((list, i) => verifyAttestations(list, expectations[i]!, v));
    inProcessMs = performance.now() - t0;
    const ok = inProcess.filter((o) => o.every((b) => b.verified)).length;
    out.push(`product verifier (stock engine), in-process sequential: ${fmt(inProcessMs)} (${(inProcessMs / bundles).toFixed(2)} ms/bundle, ${ok}/${n} verified)`);
  }

  // 3. The worker pool (cold: includes worker start-up and trust material per worker),
  //    with stock @sigstore/core and with the fast DER encoder in the workers.
  for (const fastDer of [false, true]) {
    const pool = createVerifyPool({ trustRoot: root, minBundles: 1, fastDer });
    const t0 = performance.now();
    const results = await Promise.all(parsed.map((list, i) => pool.verifyAttestations(list, expectations[i]!, { trustedKeys: [], requireTlog: true })));
    const ms = performance.now() - t0;
    const t1 = performance.now();
    await Promise.all(parsed.map((list, i) => pool.verifyAttestations(list, expectations[i]!, { trustedKeys: [], requireTlog: true })));
    const warmMs = performance.now() - t1;
    await pool.close();
    const same = JSON.stringify(results) === JSON.stringify(inProcess);
    out.push(
      `worker pool (${pool.size} workers${fastDer ? ', fast DER + CA-chain memo' : ', stock engine'}): ${fmt(ms)} cold incl. start-up, ${fmt(warmMs)} warm; ` +
        `×${(input.referenceMs / ms).toFixed(2)} cold / ×${(input.referenceMs / warmMs).toFixed(2)} warm vs reference; outcomes identical to stock in-process: ${same}`,
    );
  }

  // 3b. In-process with the fast DER encoder (installed in this thread from here on).
  {
    const { createVerifier } = await import('../src/verify/verifier.ts');
    const { verifyAttestations } = await import('../src/verify/attestations.ts');
    const { installFastDer, trustRootCertificates } = await import('../src/verify/fast-der.ts');
    const installed = installFastDer(trustRootCertificates(input.trustedRoot));
    const t0 = performance.now();
    const v = createVerifier({ trustRoot: root }); // also installs the CA-chain memo
    const fast = parsed.map((list, i) => verifyAttestations(list, expectations[i]!, v));
    const ms = performance.now() - t0;
    out.push(
      `product verifier + fast DER (installed: ${installed}) + CA-chain memo, in-process sequential: ${fmt(ms)} (${(ms / bundles).toFixed(2)} ms/bundle, ` +
        `×${(input.referenceMs / ms).toFixed(2)} vs reference); outcomes identical to stock: ${JSON.stringify(fast) === JSON.stringify(inProcess)}`,
    );
  }

  // 4. Verdict cache: write all, flush, reopen, read all.
  {
    const dir = mkdtempSync(join(input.dir, 'verdicts-'));
    try {
      const keys = input.sidecars.map((s) =>
        verdictKey({
          sidecarSha256: s.sha256,
          packageSha256: s.pkgSha256,
          filename: s.filename,
          channel: input.channel,
          acceptedChannels: [input.channel],
          trustRootDigest: root.digest,
          policyDigest: 'bench',
          productVersion: 'bench',
        }),
      );
      const t0 = performance.now();
      const c1 = openVerdictCache(dir);
      keys.forEach((k, i) => c1.set(k, inProcess[i]!));
      await c1.flush();
      const writeMs = performance.now() - t0;
      const t1 = performance.now();
      const c2 = openVerdictCache(dir);
      const openMs = performance.now() - t1;
      const t2 = performance.now();
      let hits = 0;
      for (const k of keys) if (c2.get(k)) hits++;
      const getMs = performance.now() - t2;
      out.push(
        `verdict cache, ${n} entries: set+flush ${fmt(writeMs)}, open ${fmt(openMs)}, ${n} gets ${fmt(getMs)} (${hits}/${n} hits); ` +
          `${((openMs + getMs) / n * 1000).toFixed(1)} µs per hit vs ${(inProcessMs / n).toFixed(2)} ms to verify`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // 5. Sidecar cache: put all, then get all (re-hashed on read).
  {
    const dir = mkdtempSync(join(input.dir, 'sidecars-'));
    try {
      const cache = openSidecarCache(dir);
      const t0 = performance.now();
      for (const s of input.sidecars) cache.put(s.sha256, s.bytes);
      await cache.flush();
      const putMs = performance.now() - t0;
      const t1 = performance.now();
      let hits = 0;
      const reopened = openSidecarCache(dir); // read back from disk, not from the write queue
      for (const s of input.sidecars) if (reopened.get(s.sha256)) hits++;
      const getMs = performance.now() - t1;
      out.push(`sidecar cache, ${n} sidecars: put+flush ${fmt(putMs)}, get ${fmt(getMs)} (${hits}/${n} hits, re-hashed)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
