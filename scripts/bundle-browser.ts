// `npm run build`, third step: the browser entry `conda-attest/browser` as one ES module
// in dist/browser/ (docs/browser.md). The shared core is bundled as it is; the host picks
// its adapters here, at bundle time:
// - `crypto` / `node:crypto` → src/crypto/browser.ts (synchronous, exact: @noble/curves);
// - `util` → src/browser/node-util.ts (isDeepStrictEqual, which the npm polyfill lacks);
// - `node:module` → src/browser/node-module.ts (libraries the core loads on first use under
//   Node are bundled; `createRequire` answers from that fixed table);
// - every free `Buffer` and `globalThis.Buffer` → the npm `buffer` module, bound inside the
//   bundle (src/browser/buffer.ts), never installed on the page's globalThis;
// - `@sigstore/tuf/seeds.json` → only the public-good `trusted_root.json` target it holds
//   (the TUF root.json and other targets serve a TUF client, which the browser has not).
// src/verify/accelerate.ts (the byte-identical DER encoder and the CA-chain memo) is bundled
// as under Node: it patches the copy of @sigstore/core inside this bundle, nothing of the
// page, and each memo holds exact answers of the synchronous crypto above (never a
// provisional one), so a CA certificate's signature is checked once per page, not per bundle.
// The build fails when anything still imports a Node built-in: nothing is left external.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/browser`;

const adapters: Plugin = {
  name: 'conda-attest-browser-adapters',
  setup(b) {
    b.onResolve({ filter: /^(node:)?crypto$/ }, () => ({ path: `${root}src/crypto/browser.ts` }));
    b.onResolve({ filter: /^(node:)?util$/ }, () => ({ path: `${root}src/browser/node-util.ts` }));
    b.onResolve({ filter: /^node:module$/ }, () => ({ path: `${root}src/browser/node-module.ts` }));
    b.onResolve({ filter: /^@sigstore\/tuf\/seeds\.json$/ }, () => ({ path: 'seeds.json', namespace: 'public-good-root' }));
    b.onLoad({ filter: /.*/, namespace: 'public-good-root' }, () => {
      const seeds = JSON.parse(readFileSync(`${root}node_modules/@sigstore/tuf/seeds.json`, 'utf8')) as Record<string, { targets: Record<string, string> }>;
      const only = Object.fromEntries(Object.entries(seeds).map(([url, s]) => [url, { targets: { 'trusted_root.json': s.targets['trusted_root.json'] } }]));
      return { contents: JSON.stringify(only), loader: 'json' };
    });
    b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `${args.path} imported by ${args.importer}: the browser build takes no Node built-in` }] }));
  },
};

export async function bundleBrowser(opts: { minify?: boolean; outfile?: string } = {}): Promise<{ bytes: number; metafile: import('esbuild').Metafile }> {
  const outfile = opts.outfile ?? `${outdir}/index.js`;
  const r = await build({
    absWorkingDir: root,
    entryPoints: ['src/browser/index.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    inject: [`${root}src/browser/buffer.ts`],
    define: { 'globalThis.Buffer': 'Buffer', 'process.env.NODE_ENV': '"production"' },
    plugins: [adapters],
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  const bytes = r.metafile.outputs[Object.keys(r.metafile.outputs).find((k) => k.endsWith('.js'))!]!.bytes;
  return { bytes, metafile: r.metafile };
}

if (import.meta.main) {
  rmSync(outdir, { recursive: true, force: true });
  await bundleBrowser();
  // The types: tsc emitted them with the library (dist/src/browser/).
  writeFileSync(`${outdir}/index.d.ts`, "export * from '../src/browser/index.js';\n");
}
