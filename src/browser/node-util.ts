// `util` for the browser build: the one function sigstore-js's Verifier imports from
// Node's `util` (duplicate detection among a bundle's signatures and timestamps). The npm
// `util` polyfill has no isDeepStrictEqual, so without this every bundle would fail
// (docs/browser.md). fast-deep-equal's ES6 build compares typed arrays (Buffer) by content
// and requires the same constructor on both sides, as isDeepStrictEqual does for the
// plain data it is given here.
import equal from 'fast-deep-equal/es6/index.js';

export const isDeepStrictEqual = (a: unknown, b: unknown): boolean => equal(a, b);
export default { isDeepStrictEqual };
