import { writeFileSync } from 'node:fs';
import { startLocalSigstore, publishStatement } from '../test/helpers/sigstore.ts';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
const s = await startLocalSigstore();
const bundles = await Promise.all(Array.from({ length: 300 }, (_, i) => s.attest(publishStatement({ filename: `p${i}-1-h0_0.conda`, sha256: 'a'.repeat(64) }))));
writeFileSync('/tmp/g-prof/bundles.json', JSON.stringify({ root: s.trustedRoot, bundles }));
await s.close();
