// `node --import ./bench/fast-der-preload.ts ...`: run anything (e.g. the conformance suite's
// CLI children through NODE_OPTIONS) with the @sigstore/core accelerations installed (fast
// DER encoder, CA-chain memo), as the verification pool runs them, to check they change no result.
import { installAccelerations } from '../src/verify/accelerate.ts';

if (!installAccelerations(undefined)) throw new Error('fast DER encoder refused: its self-test found a difference');
