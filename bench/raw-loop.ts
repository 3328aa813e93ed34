// The reference every cold and warm figure is divided by: what a user of sigstore-js gets
// when verifying the same bundles with a plain sequential loop of raw @sigstore/verify
// (trust material built once, then bundleFromJSON → toSignedEntity → Verifier.verify per
// bundle), in a process of its own.
//
// `node bench/raw-loop.ts ROOT.json SIDECARS.json` prints one JSON line
// {bundles, ms, cpuMs}; bench/run.ts runs it in a fresh process each time (see
// docs/performance.md, "Why two harnesses disagreed": the same loop inside the bench
// process, which holds the whole fixture channel, is slower and noisier).
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

export interface RawLoopResult {
  bundles: number;
  /** Wall time of the loop, trust material included. */
  ms: number;
  /** CPU time (user + system, all threads) over the same span. */
  cpuMs: number;
}

/** The loop itself; `sidecars` are the sidecar documents (each a list of bundle JSON). */
export function rawLoop(sidecars: unknown[][], trustedRoot: object): RawLoopResult {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(trustedRoot)));
  let bundles = 0;
  for (const list of sidecars) {
    for (const json of list) {
      verifier.verify(toSignedEntity(bundleFromJSON(json)));
      bundles++;
    }
  }
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { bundles, ms, cpuMs: (c.user + c.system) / 1000 };
}

if (import.meta.main) {
  const [rootFile, sidecarsFile] = process.argv.slice(2);
  if (!rootFile || !sidecarsFile) throw new Error('usage: node bench/raw-loop.ts ROOT.json SIDECARS.json');
  const root = JSON.parse(readFileSync(rootFile, 'utf8')) as object;
  const sidecars = JSON.parse(readFileSync(sidecarsFile, 'utf8')) as unknown[][];
  process.stdout.write(JSON.stringify(rawLoop(sidecars, root)) + '\n');
}
