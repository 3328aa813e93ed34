// A large signed package for the benches, generated on the fly: one 1 MiB random block
// repeated, streamed, never held whole in memory; served with its repodata and sidecar on
// 127.0.0.1 (used by bench/run.ts and bench/serve.ts).
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sidecarBytes } from '../test/helpers/channel.ts';
import { publishStatement } from '../test/helpers/sigstore.ts';
import type { BundleJSON, LocalSigstore } from '../test/helpers/sigstore.ts';


export interface BigServer {
  url: string;
  channelUrl: string;
  filename: string;
  sha256: string;
  size: number;
  close(): Promise<void>;
}

export async function startBigPackageServer(sigstore: LocalSigstore, mib: number): Promise<BigServer> {
  // 1 MiB of random bytes repeated: hashing cost is the same as for unique bytes, and the
  // server's memory stays at one block.
  const block = randomBytes(1 << 20);
  const size = mib << 20;
  const h = createHash('sha256');
  for (let i = 0; i < mib; i++) h.update(block);
  const sha256 = h.digest('hex');
  const filename = 'bigpkg-1.0.0-h0_0.conda';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes.get(path);
    if (path === pkgPath) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      let sent = 0;
      const pump = () => {
        while (sent < mib) {
          sent++;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (!route) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': route.length });
    res.end(route);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const channelUrl = `${origin}/big`;
  const pkgPath = `/big/noarch/${filename}`;
  const bundle: BundleJSON = await sigstore.attest(publishStatement({ filename, sha256, targetChannel: channelUrl }));
  const sidecar = sidecarBytes([bundle]);
  const sidecarSha = createHash('sha256').update(sidecar).digest('hex');
  const record = {
    build: 'h0_0',
    build_number: 0,
    depends: [],
    name: 'bigpkg',
    sha256,
    size,
    subdir: 'noarch',
    version: '1.0.0',
    attestations_sha256: sidecarSha,
  };
  const repodata = Buffer.from(JSON.stringify({ info: { subdir: 'noarch' }, packages: {}, 'packages.conda': { [filename]: record }, repodata_version: 1 }));
  const routes = new Map<string, Buffer>([
    ['/big/noarch/repodata.json', repodata],
    [`${pkgPath}.sigs.${sidecarSha}`, sidecar],
    [`${pkgPath}.sigs`, sidecar],
  ]);
  return {
    url: `${origin}${pkgPath}`,
    channelUrl,
    filename,
    sha256,
    size,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
