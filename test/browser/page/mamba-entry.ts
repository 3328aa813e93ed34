// The host side of the page in the mambajs tests: the real, unmodified mambajs-core and
// untarjs (its wasm served next to the page), and the in-memory Emscripten FS of the Node
// tests. Bundled by the test harness (esbuild) and imported by the page as /mamba.js.
export { initUntarJS } from '@emscripten-forge/untarjs';
export { installPackagesToEmscriptenFS } from '@emscripten-forge/mambajs-core';
export { createMemModule } from '../../plugin/memfs.ts';
