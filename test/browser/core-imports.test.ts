// One verification core, hosts at the edges (docs/architecture.md): the core's modules —
// and everything they import — take their I/O through the host's adapters, so none of
// them may import Node's file system, HTTP, network, process or worker modules. And the
// browser build, which bundles that core, must contain no Node built-in at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleBrowser } from '../../scripts/bundle-browser.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The core: the session and its stages, policy, lock decisions, verification, config resolution, the shared plugin. */
const CORE_ENTRIES = [
  'src/session.ts',
  'src/config/resolve.ts',
  'src/verify/bundle-outcome.ts',
  'src/verify/trust-root-validate.ts',
  'src/lock/text.ts',
  'plugin/attest-plugin.ts',
  'plugin/compose.ts',
  'plugin/hosts/mambajs.ts',
  'plugin/hosts/fetch.ts',
];
const FORBIDDEN = /^node:(fs|fs\/promises|http|https|http2|net|tls|worker_threads|child_process|os|path|vm|stream|async_hooks|cluster|dgram)$/;

/** Every module reachable from `entries` through relative imports, with its `node:` imports. */
function walk(entries: string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = entries.map((e) => resolve(REPO, e));
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)]
      .filter((m) => !/^\s*(?:import|export)\s+type\s/.test(m[0]))
      .map((m) => m[1]!);
    seen.set(file, specs.filter((s) => s.startsWith('node:')));
    for (const s of specs) if (s.startsWith('.') && s.endsWith('.ts')) queue.push(resolve(dirname(file), s));
  }
  return seen;
}

test('no core module imports Node file system, network, process or worker modules (directly or through its imports)', () => {
  const modules = walk(CORE_ENTRIES);
  assert.ok(modules.size > 40, `the walk found the core (${modules.size} modules)`);
  const offenders = [...modules].flatMap(([file, nodes]) => nodes.filter((n) => FORBIDDEN.test(n)).map((n) => `${relative(REPO, file)} imports ${n}`));
  assert.deepEqual(offenders, []);
});

test('the check itself catches a core module that imports node:fs', () => {
  const modules = walk(['src/pipeline.ts']);
  const pipeline = modules.get(join(REPO, 'src/pipeline.ts')) ?? [];
  assert.ok(pipeline.includes('node:fs'), 'the Node host (src/pipeline.ts) is seen importing node:fs');
});

test('the browser build bundles no Node built-in; the Node-only accelerations stay out', async () => {
  const { metafile } = await bundleBrowser({ outfile: join(REPO, 'node_modules', '.cache', 'conda-attest-browser-check', 'index.js') });
  const out = Object.values(metafile.outputs).find((o) => o.entryPoint)!;
  assert.deepEqual(out.imports.filter((i) => i.external), [], 'nothing is left external');
  const inputs = Object.keys(metafile.inputs);
  assert.ok(!inputs.some((i) => i === 'src/crypto/node.ts' || i.endsWith('src/verify/accelerate.ts')), 'the Node-only accelerations are not in the bundle');
  assert.ok(inputs.includes('src/crypto/browser.ts') && inputs.includes('src/session.ts') && inputs.includes('src/stages/judge.ts'), 'the shared core and the browser crypto adapter are');
});
