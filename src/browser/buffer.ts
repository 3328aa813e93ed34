// The `Buffer` binding of the browser build: esbuild injects this module for every free
// `Buffer` (and `globalThis.Buffer`, which @sigstore/protobuf-specs reads) in the bundle,
// so sigstore-js gets a Buffer without the page having one: nothing is set on globalThis.
export { Buffer } from 'buffer';
