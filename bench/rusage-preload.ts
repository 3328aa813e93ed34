// `node --import ./bench/rusage-preload.ts ...`: at exit, write this process's resource
// usage (peak RSS in KiB, worker threads included; user and system CPU in µs) to the file
// named by CONDA_ATTEST_RUSAGE_OUT. Used by bench/memory.ts.
import { writeFileSync } from 'node:fs';

const out = process.env.CONDA_ATTEST_RUSAGE_OUT;
if (out) {
  process.on('exit', () => {
    const r = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRSS: r.maxRSS, userCPUTime: r.userCPUTime, systemCPUTime: r.systemCPUTime }));
  });
}
