// `npm run build`, third step: the browser entry `conda-attest/browser` in dist/browser/
// (docs/browser.md): ES modules, the entry index.js and the chunks it imports on first use. The shared core is bundled as it is; the host picks
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
// The JSON Schemas (schema/*.json, and the copies ajv's validators embed for their verbose
// errors; the validators are generated at bundle time, see below) are bundled without their
// annotations (`description`, `title`, `$comment`, `examples`): no check and no message reads
// them. Every validation keyword, default and x-hint stays.
// The build fails when anything still imports a Node built-in: nothing is left external.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { VALIDATORS, generate } from './generate-validators.ts';

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
    b.onLoad({ filter: /\/schema\/[a-z-]+\.schema\.json$/ }, (args) => ({
      contents: JSON.stringify(withoutAnnotations(JSON.parse(readFileSync(args.path, 'utf8')))),
      loader: 'json',
    }));
    b.onLoad({ filter: /\/src\/generated\/[a-z-]+-validator\.ts$/ }, (args) => {
      const spec = VALIDATORS.find((v) => args.path.endsWith(v.out));
      if (!spec) return { errors: [{ text: `${args.path}: not a validator scripts/generate-validators.ts makes` }] };
      // Generated here from the schema with the same options, except that each $ref'd
      // definition is one function called from every place that uses it instead of a copy
      // inlined at each (ajv inlineRefs: same checks, same errors, less code).
      return { contents: embeddedSchemasWithoutAnnotations(generate({ ...spec, options: { ...spec.options, inlineRefs: false } }, new URL(`file://${root}`))), loader: 'ts' };
    });
    b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `${args.path} imported by ${args.importer}: the browser build takes no Node built-in` }] }));
  },
};

/** Annotation keywords (JSON Schema 2020-12 §9): strings or lists, never a subschema — a property *named* `description` has an object as its value and stays. */
const ANNOTATIONS = new Set(['description', 'title', '$comment', 'examples']);

function withoutAnnotations(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutAnnotations);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (ANNOTATIONS.has(k) && (typeof v === 'string' || (k === 'examples' && Array.isArray(v)))) continue;
    out[k] = withoutAnnotations(v);
  }
  return out;
}

/** ajv's standalone code declares each schema it refers to as `const schemaN = <JSON>;`: those literals, without annotations. */
function embeddedSchemasWithoutAnnotations(code: string): string {
  let out = '';
  let at = 0;
  for (const m of code.matchAll(/const schema\d+ = /g)) {
    const start = m.index + m[0].length;
    if (start < at) continue;
    const end = jsonEnd(code, start);
    out += code.slice(at, start) + JSON.stringify(withoutAnnotations(JSON.parse(code.slice(start, end))));
    at = end;
  }
  return out + code.slice(at);
}

/** End of the JSON object or array starting at `start` (strings and escapes respected). */
function jsonEnd(code: string, start: number): number {
  if (code[start] !== '{' && code[start] !== '[') throw new Error(`not a JSON literal at ${start}: ${code.slice(start, start + 20)}`);
  let depth = 0;
  for (let i = start; i < code.length; i++) {
    const c = code[i];
    if (c === '"') {
      for (i++; code[i] !== '"'; i++) if (code[i] === '\\') i++;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (--depth === 0) return i + 1;
    }
  }
  throw new Error('unterminated JSON literal');
}

export interface BrowserBuild {
  /** The entry module, `<outdir>/index.js`, in bytes. */
  entryBytes: number;
  /** The entry and every chunk it loads, in bytes (the JavaScript files, not maps or licences). */
  totalBytes: number;
  /** The JavaScript files written, relative to outdir (`index.js`, `chunks/…`). */
  files: string[];
  /** Those a page loads when it imports the entry: index.js and the chunks it imports statically (the rest load on first use). */
  loadedWithEntry: string[];
  metafile: import('esbuild').Metafile;
}

/**
 * Build the entry `index.js` and its chunks (`chunks/*.js`, loaded by import() on first
 * use: the verification core, src/browser/core.ts) into `outdir`.
 */
export async function bundleBrowser(opts: { minify?: boolean; outdir?: string } = {}): Promise<BrowserBuild> {
  const out = opts.outdir ?? outdir;
  const r = await build({
    absWorkingDir: root,
    entryPoints: { index: 'src/browser/index.ts' },
    outdir: out,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
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
  const js = Object.entries(r.metafile.outputs).filter(([k]) => k.endsWith('.js'));
  const rel = (k: string): string => relative(out, resolve(root, k));
  const entry = js.find(([, o]) => o.entryPoint)!;
  const loaded = new Set<string>();
  const visit = (k: string): void => {
    if (loaded.has(k)) return;
    loaded.add(k);
    for (const i of r.metafile.outputs[k]!.imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entry[0]);
  return {
    entryBytes: entry[1].bytes,
    totalBytes: js.reduce((n, [, o]) => n + o.bytes, 0),
    files: js.map(([k]) => rel(k)).sort(),
    loadedWithEntry: [...loaded].map(rel).sort(),
    metafile: r.metafile,
  };
}

if (import.meta.main) {
  rmSync(outdir, { recursive: true, force: true });
  await bundleBrowser();
  // The types: tsc emitted them with the library (dist/src/browser/).
  writeFileSync(`${outdir}/index.d.ts`, "export * from '../src/browser/index.js';\n");
}
