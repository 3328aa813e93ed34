// `node --import ./bench/fast-der-preload.ts ...`: run anything (e.g. the conformance suite's
// CLI children through NODE_OPTIONS) with the fast DER encoder and the CA-chain memo
// installed, as the verification pool runs them, to check they change no result.
import { installFastDer } from '../src/verify/fast-der.ts';
import { installChainMemo } from '../src/verify/chain-memo.ts';

if (!installFastDer()) throw new Error('fast DER encoder refused: its self-test found a difference');
installChainMemo();
