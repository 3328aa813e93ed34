import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
const { root, bundles } = JSON.parse(readFileSync('/tmp/g-prof/bundles.json', 'utf8'));
const v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)));
const t0 = performance.now();
for (let r = 0; r < 3; r++) for (const b of bundles) v.verify(toSignedEntity(bundleFromJSON(b)));
console.log('ms/bundle', (performance.now() - t0) / (3 * bundles.length));
