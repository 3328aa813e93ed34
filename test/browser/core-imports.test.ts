// The browser build, which bundles the verification core, must contain no Node built-in at
// all (that the core imports none of Node's I/O modules is test/core-imports.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleBrowser } from '../../scripts/bundle-browser.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

test('the browser build bundles no Node built-in; the shared core, its accelerations and the browser crypto adapter are in it', async () => {
  const { metafile } = await bundleBrowser({ outdir: join(REPO, 'node_modules', '.cache', 'conda-attest-browser-check') });
  for (const [name, out] of Object.entries(metafile.outputs)) assert.deepEqual(out.imports.filter((i) => i.external), [], `${name}: nothing is left external`);
  const inputs = Object.keys(metafile.inputs);
  for (const core of ['src/crypto/browser.ts', 'src/session.ts', 'src/stages/judge.ts', 'src/verify/chain-memo.ts', 'src/verify/fast-der.ts']) assert.ok(inputs.includes(core), `${core} is in the bundle`);
});
