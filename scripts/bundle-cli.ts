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
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { rollup } from 'rollup';

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
// sigstore-js's verification half is bundled too (CommonJS: 62 files that Node resolved,
// read and compiled one by one when the first bundle of a run was verified, 22 of them in
// every warm run). Measured (docs/performance.md "Downloads and the proxy, round 6"): 64 MiB
// `--download`, 11 interleaved runs, load 0.7: CPU after the sidecar arrived 141 → 100 ms,
// process CPU 480 → 420 ms, wall 440 → 412 ms, RSS 75 → 69 MB; warm one-package run the same
// (240 vs 240 ms CPU, 11 runs). test/cli/built-cli.test.ts compares the built CLI's verdicts
// with the sources'.
const SIGSTORE = /^@sigstore\/(core|verify|bundle|protobuf-specs)(\/|$)/;
const externalButYaml: Plugin = {
  name: 'external-but-yaml',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) =>
      a.path === 'yaml' ? { path: YAML_ESM } : SMALL.has(a.path) || SIGSTORE.test(a.path) ? undefined : { path: a.path, external: true },
    );
    // Their two `require`s of Node built-ins: an ES module bundle has no `require`.
    b.onLoad({ filter: /[\\/]node_modules[\\/]@sigstore[\\/](core|verify|bundle|protobuf-specs)[\\/].*\.js$/ }, async (a) => ({
      contents: (await readFile(a.path, 'utf8')).replace(/\brequire\("(crypto|util)"\)/g, 'process.getBuiltinModule("node:$1")'),
      loader: 'js',
    }));
  },
};
// Node's built-in modules are taken with `process.getBuiltinModule` (Node ≥ 22.3) instead of
// an ES import: our sources import them only as `import { a, b as c } from 'node:x';` on one
// line, and each becomes `const { a, b: c } = process.getBuiltinModule('node:x');`. So no
// chunk imports anything Node would have to resolve, which lets the merge below group
// chunks (an external import counts as a side effect that pins a chunk in place); and an ES
// import of node:fs read every export of its facade, whose lazy getters load the file
// streams, fs/promises and readline (~6 ms in a bare script).
const BUILTIN_IMPORT = /^import \{([^}]*)\} from '(node:[a-z_/]+)';$/gm;
const builtinByGetter: Plugin = {
  name: 'builtin-by-getter',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (a) => {
      const text = await readFile(a.path, 'utf8');
      const contents = text.replace(BUILTIN_IMPORT, (_, names: string, mod: string) => {
        const values = names
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n && !n.startsWith('type '))
          .map((n) => n.replace(/^(\S+) as (\S+)$/, '$1: $2'));
        return values.length ? `const { ${values.join(', ')} } = process.getBuiltinModule('${mod}') as typeof import('${mod}');` : '';
      });
      return { contents, loader: 'ts' };
    });
  },
};
const outdir = `${root}dist/cli`;
rmSync(outdir, { recursive: true, force: true });
const split = await build({
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
  plugins: [builtinByGetter, externalButYaml],
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
});

// esbuild makes one chunk per set of entry points (each lazy `import()` is one) that reach a
// module, so the verify command's static graph came in ~33 chunks, many under 1 kB; Node
// resolves, reads, looks up the package scope of and links each ES module on its own. Rollup
// then merges chunks below 200 kB where that loads nothing more for any entry (its
// `experimentalMinChunkSize`; tree-shaking off: esbuild's output is taken as it is, only
// regrouped): a warm one-package run loads 18 of our files instead of 33, the same bytes,
// and no module it did not load before (measured: instructions of the whole process,
// cachegrind, 3 runs each, ~300 → ~275 M, bare `node -e 0` 86 M; docs/performance.md "Warm
// runs, round 6"). Rollup reads esbuild's output from memory, with its source maps.
const files = new Map(split.outputFiles.map((f) => [f.path, f.text]));
const merged = await rollup({
  input: { main: join(outdir, 'main.js'), 'pool-worker': join(outdir, 'pool-worker.js') },
  treeshake: false,
  external: (id) => !id.startsWith('.') && !isAbsolute(id),
  plugins: [
    {
      name: 'esbuild-output',
      resolveId: (id, importer) => (importer && id.startsWith('.') ? resolve(dirname(importer), id) : files.has(id) ? id : null),
      load: (id) => (files.has(id) ? { code: files.get(id)!.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'), map: files.get(`${id}.map`) } : null),
    },
  ],
  // Its count of chunks before and after merging is an info log: not printed.
  onLog: (level, log, handler) => (level === 'info' ? undefined : handler(level, log)),
});
await merged.write({
  dir: outdir,
  format: 'es',
  entryFileNames: '[name].js',
  chunkFileNames: 'chunk-[hash].js',
  experimentalMinChunkSize: 200_000,
  sourcemap: true,
});
await merged.close();
