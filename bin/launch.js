// The modern half of the launcher, loaded by conda-attest.js once the Node version is known
// to be supported. It sets up the process (compile cache, V8 flags, stream errors) and then
// loads the CLI (`--version` never gets here: conda-attest.js answers it).
import { enableCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/** @param {string[]} argv */
export async function launch(argv) {
  // Node's on-disk code cache for our modules and dependencies, so a run after the first need
  // not recompile them. Measured on the 2-core development machine with the chunked build, the
  // gain is within noise (one-package warm run 298 vs 308 ms CPU with and without it); kept
  // because it costs nothing measurable either and pays on slower disks and larger builds.
  // V8's flags are part of a cached entry's validity check; every run of a command sets them
  // at the same point (below), so each module is always compiled under the same flags.
  enableCompileCache();

  // A reader that stops early (`conda-attest verify --json | head`) is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }

  let main;
  try {
    ({ main } = await import('../dist/cli/main.js'));
  } catch (err) {
    // A clone where neither `npm run build` nor `npm install` (which builds) has run yet:
    // one line that says what to do, not a module-resolution stack trace.
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('/dist/cli/main.js')) {
      process.stderr.write('conda-attest: dist/ is missing: run `npm run build`\n');
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  try {
    process.exitCode = await main(argv, undefined, { loaded: setV8Flags });
  } catch (err) {
    process.stderr.write(`conda-attest: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 2;
  }
}

/**
 * V8 flags, set here and nowhere else, once the command's modules are loaded and before it
 * runs (a re-exec with the flags on the command line would cost a second Node start-up,
 * ~40 ms, on every run). Not earlier: Node's built-in modules (crypto, fs/promises, http…)
 * come with a code cache that V8 accepts only under the flags it was made with, so every
 * built-in a command loads after a flag change is compiled from source (measured: warm
 * one-package run, process CPU, median of 11, flags set after the command's modules rather
 * than first thing: 143 → 131 ms above the launcher's start; see docs/performance.md).
 * - a young generation that does not grow: V8 sizes it when the isolate is created, so a
 *   maximum set here is ignored (a former `--max-semi-space-size=32` changed nothing), but
 *   the growth factor is read each time it would grow. Left to grow, it reaches ~134 MB
 *   committed in every isolate of a big run (the main thread and each verify worker) on a
 *   machine with plenty of memory. Kept at its initial size instead (measured, GNU time %M,
 *   3 interleaved runs each, bare node 43 MB): cold 1,000 packages 248/252/225 →
 *   168/166/156 MB (CPU +4%); warm 1,000 96 → 81 MB (CPU within noise, 0.78 vs 0.65 s median
 *   of 4); 50,000-package pixi.lock 374 → 234 MB (CPU +10-15%). Loading the modules grows
 *   nothing: they allocate a few MB;
 * - the collector made available to new contexts, so that hashing a large download can
 *   collect the network chunks it is done with (see src/http/hashing.ts).
 */
function setV8Flags() {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--expose-gc');
}
