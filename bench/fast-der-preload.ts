// `node --import ./bench/fast-der-preload.ts ...`: run anything (e.g. the conformance suite's
// CLI children through NODE_OPTIONS) with the fast DER encoder installed, to check that it
// changes no verification result before it is enabled in src/verify/verifier.ts.
import { installFastDer } from '../src/verify/fast-der.ts';

if (!installFastDer()) throw new Error('fast DER encoder refused: its self-test found a difference');
