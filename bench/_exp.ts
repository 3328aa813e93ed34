import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { startFixtureChannel } from '../test/helpers/channel.ts';
import { startLocalSigstore } from '../test/helpers/sigstore.ts';
const N = Number(process.env.N ?? 300);
const sig = await startLocalSigstore();
const mk = async (name: string, claims: 'default' | 'none' | 'distinct') => startFixtureChannel({ sigstore: sig, name, packages: Array.from({ length: N }, (_, i) => ({
  spec: { name: `p${i}`, version: '1.0', build: 'h0_0', subdir: 'linux-64' },
  signOptions: claims === 'none' ? { claims: Object.fromEntries(['buildSignerUri','buildSignerDigest','runnerEnvironment','sourceRepositoryUri','sourceRepositoryDigest','sourceRepositoryRef','sourceRepositoryId','sourceRepositoryOwnerUri','sourceRepositoryOwnerId','buildConfigUri','buildConfigDigest','buildTrigger','runInvocationUri','sourceRepositoryVisibility'].map(k=>[k,null])) as never }
    : claims === 'distinct' ? { san: `https://github.com/org${i % 50}/p${i}-feedstock/.github/workflows/build.yml@refs/heads/main` } : undefined,
})) });
function loop(sidecars: Buffer[]) { const t0 = performance.now(); const v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(sig.trustedRoot))); let n=0; for (const s of sidecars) for (const j of JSON.parse(s.toString()) as unknown[]) { v.verify(toSignedEntity(bundleFromJSON(j))); n++; } return (performance.now()-t0)/n; }
const dir = mkdtempSync(join(tmpdir(), 'exp-'));
writeFileSync(join(dir, 'root.json'), JSON.stringify(sig.trustedRoot));
const child = `import {readFileSync} from 'node:fs'; import { bundleFromJSON } from '@sigstore/bundle'; import { TrustedRoot } from '@sigstore/protobuf-specs'; import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
const root = JSON.parse(readFileSync(process.argv[1]+'/root.json','utf8')); const sc = JSON.parse(readFileSync(process.argv[2],'utf8'));
const t0 = performance.now(); const v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root))); let n=0; for (const s of sc) for (const j of s) { v.verify(toSignedEntity(bundleFromJSON(j))); n++; } console.log(((performance.now()-t0)/n).toFixed(2));`;
writeFileSync(join(process.cwd(), 'bench/_child.mjs'), child);
for (const kind of ['default', 'none', 'distinct'] as const) {
  const ch = await mk(`c-${kind}`, kind);
  const sidecars = ch.packages.map(p => p.sidecar!);
  writeFileSync(join(dir, `${kind}.json`), '[' + sidecars.map(b=>b.toString()).join(',') + ']');
  const certLen = (JSON.parse(sidecars[0]!.toString())[0].verificationMaterial.certificate.rawBytes as string).length * 3 / 4;
  const inproc = [loop(sidecars), loop(sidecars), loop(sidecars)].map(x=>x.toFixed(2));
  const kids = [0,1,2].map(() => spawnSync(process.execPath, ['bench/_child.mjs', dir, join(dir, `${kind}.json`)], {encoding:'utf8'}).stdout.trim());
  console.log(kind, 'cert bytes', certLen, 'in-process ms/bundle', inproc.join(' '), 'child', kids.join(' '), 'load', loadavg()[0].toFixed(1));
  await ch.close();
}
await sig.close();
