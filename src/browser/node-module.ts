// `node:module` for the browser build: the core loads a few libraries on first use with
// `createRequire(import.meta.url)(name)` (a Node start-up saving). In the bundle they are
// there from the start, so "require" answers from this fixed table; anything else is not
// part of the browser build and says so (e.g. rattler's 7 MB of WebAssembly for `versions`
// deny entries, refused when the config is checked: src/browser/index.ts).
// Only what the core calls is bound, so the bundle keeps no more of each library:
// src/util/json-strict.ts uses jsonc-parser's `visit` (not its formatter or editor).
import { visit } from 'jsonc-parser';
import { distance } from 'fastest-levenshtein';

const BUNDLED: Record<string, unknown> = { 'jsonc-parser/lib/umd/impl/parser.js': { visit }, 'fastest-levenshtein': { distance } };

export function createRequire(_from: string | URL): (id: string) => unknown {
  return (id) => {
    if (Object.hasOwn(BUNDLED, id)) return BUNDLED[id];
    throw new Error(`${id} is not part of the conda-attest browser build`);
  };
}
export default { createRequire };
