// The host side of the page in the mambajs solve tests: the real, unmodified
// @emscripten-forge/mambajs (rattler's solver in WebAssembly, plus mambajs-core) and untarjs
// (its wasm served next to the page), with the in-memory Emscripten FS of the Node tests.
// Bundled by the test harness (esbuild) and imported by the page as /mambajs.js.
export { create, solve } from '@emscripten-forge/mambajs';
export { installPackagesToEmscriptenFS } from '@emscripten-forge/mambajs-core';
export { initUntarJS } from '@emscripten-forge/untarjs';
export { createMemModule } from '../../plugin/memfs.ts';
