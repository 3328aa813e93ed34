// One verification core, hosts at the edges (docs/architecture.md "Core, adapters, hosts"):
// the core's modules — and everything they import — take their I/O through the adapters a
// host chooses (transport, storage, crypto, clock), so none of them may import Node's file
// system, HTTP, network, process or worker modules. `node:crypto` is allowed: it is the
// crypto adapter's interface (the browser build maps it to src/crypto/browser.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** The core: whole directories and single files (docs/architecture.md). */
const CORE = [
  'src/session.ts',
  'src/session-types.ts',
  'src/stages/',
  'src/policy/',
  'src/lock/',
  'src/verify/',
  'src/report/',
  'src/sidecar/',
  'src/util/',
  'src/text/',
  'src/codes.ts',
  'src/errors.ts',
  'src/types.ts',
  'src/config/resolve.ts',
  'src/cache/verdict-key.ts',
  'plugin/attest-plugin.ts',
  'plugin/compose.ts',
  'plugin/hosts/mambajs.ts',
  'plugin/hosts/fetch.ts',
];

/** Adapters that live beside core modules, each with what it adapts. */
const ADAPTERS: Record<string, string> = {
  'src/lock/file.ts': 'storage: the identity lockfile as a file',
  'src/lock/checked.ts': 'storage: the memo of validated lockfile texts',
  'src/verify/trust-root.ts': 'storage + transport: the TUF-backed trust-root cache',
  'src/verify/tuf-check.ts': 'storage: TUF metadata checks of the cached trust root',
  'src/verify/pool.ts': 'crypto: the worker-thread verification pool',
  'src/verify/pool-worker.ts': 'crypto: one worker of that pool',
  'src/report/locations.ts': "the Node host's file paths in SARIF/GitHub locations",
  'src/sidecar/given.ts': 'storage: a sidecar given as a local path (--sigs)',
};

const FORBIDDEN = /^node:(fs|fs\/promises|http|https|http2|net|tls|worker_threads|child_process|os|path|vm|stream|async_hooks|cluster|dgram)$/;

function coreFiles(): string[] {
  return CORE.flatMap((entry) =>
    entry.endsWith('/')
      ? readdirSync(join(REPO, entry))
          .filter((f) => f.endsWith('.ts'))
          .map((f) => entry + f)
      : [entry],
  ).filter((f) => !(f in ADAPTERS));
}

/** Value (not type-only) import specifiers of a module. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)]
    .filter((m) => !/^\s*(?:import|export)\s+type\s/.test(m[0]))
    .map((m) => m[1]!);
}

/** Every forbidden import reachable from `entries` through relative imports, as "a → b → c imports node:x". */
function offenders(entries: string[]): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const queue: { file: string; via: string[] }[] = entries.map((e) => ({ file: resolve(REPO, e), via: [] }));
  while (queue.length) {
    const { file, via } = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const path = [...via, relative(REPO, file)];
    for (const spec of importsOf(file)) {
      if (FORBIDDEN.test(spec)) found.push(`${path.join(' → ')} imports ${spec}`);
      else if (spec.startsWith('.') && spec.endsWith('.ts')) queue.push({ file: resolve(dirname(file), spec), via: path });
    }
  }
  return found.sort();
}

test('no core module imports Node file system, network, process or worker modules (directly or through its imports)', () => {
  const files = coreFiles();
  assert.ok(files.length > 60, `the core was found (${files.length} modules)`);
  assert.deepEqual(offenders(files), []);
});

test('every adapter named beside the core exists (the exception list does not rot)', () => {
  for (const file of Object.keys(ADAPTERS)) assert.ok(existsSync(join(REPO, file)), `${file} exists`);
});

test('the check catches a forbidden import, also through another module', () => {
  const pipeline = offenders(['src/pipeline.ts']);
  assert.ok(pipeline.includes('src/pipeline.ts imports node:fs'), 'the Node host (src/pipeline.ts) is seen importing node:fs');
  assert.ok(
    pipeline.some((o) => o.startsWith('src/pipeline.ts → src/http/client.ts') && / imports node:/.test(o)),
    'and, through its imports, the HTTP adapter',
  );
});

test('process-wide patches of sigstore internals are installed only through the Node crypto adapter (src/verify/accelerate.ts)', () => {
  const patches = /\/(chain-memo|fast-der)\.ts$/;
  const importers = ['src', 'plugin']
    .flatMap((dir) => readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)))
    .filter((f) => f.endsWith('.ts') && !patches.test(f))
    .filter((f) => importsOf(join(REPO, f)).some((spec) => patches.test(spec)));
  assert.deepEqual(importers, ['src/verify/accelerate.ts']);
});
