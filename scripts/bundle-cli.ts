// `npm run build`, second step: the command-line tool as one bundled module (plus the
// verification worker, and one chunk per lazily loaded command) in dist/cli/, which the
// launcher (bin/launch.js) loads. tsc's dist/src/ stays the library (`exports`, types).
//
// Why a bundle: Node resolves, reads and compiles every ES module separately; a warm
// one-package run loaded ~60 of our own files. Merged, the run spends less CPU in the module
// loader (measured on 2 heavily loaded cores, CPU time of a warm one-package verify, median
// of 10: 270-280 → 260 ms, of which Node's bare start-up is ~100 ms). Dependencies stay in
// node_modules, loaded as they are (resolved from dist/cli/ exactly as from dist/src/).
//
// Layout contracts the sources rely on: src/version.ts finds package.json two levels up
// (dist/cli/ → the package root), and src/verify/pool.ts starts `./pool-worker.js` next to
// itself, so the worker is an entry point named pool-worker.js in the same directory.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

// Dependencies stay in node_modules, except `yaml` (and SMALL, below): Node would resolve, read and compile its
// 72 CommonJS files on every run that reads a YAML config or lockfile; bundled (from its
// ES module build, which needs no `require`) it is one chunk, loaded by src/util/yaml.ts's
// dynamic import() (measured: warm one-package pixi.lock run, process CPU, median of 20
// interleaved runs on 2 loaded cores: 435 → 400 ms, bare `node -e 0` 100 ms).
const YAML_ESM = join(dirname(createRequire(import.meta.url).resolve('yaml/package.json')), 'browser', 'index.js');
// Small dependencies of the verify command's static graph are bundled too: each bare
// specifier Node resolves costs package.json lookups and a module of its own (measured:
// warm one-package run, in-process CPU marks, median of 11 interleaved runs: the command's
// modules 52.6 → 47.7 ms, the whole run 201 → 192 ms CPU; docs/performance.md "Warm runs,
// round 5").
const SMALL = new Set(['p-limit', 'yocto-queue', 'ajv/dist/runtime/ucs2length.js']);
const externalButYaml: Plugin = {
  name: 'external-but-yaml',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) =>
      a.path === 'yaml' ? { path: YAML_ESM } : SMALL.has(a.path) ? undefined : { path: a.path, external: true },
    );
  },
};
const outdir = `${root}dist/cli`;
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts', 'src/verify/pool-worker.ts'],
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  // One chunk per lazily loaded command and module: a single file was slower (measured:
  // ~+15% CPU for a warm one-package run, the whole 400 kB parsed and cached every time).
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  plugins: [externalButYaml],
  sourcemap: 'linked',
  logLevel: 'warning',
});
