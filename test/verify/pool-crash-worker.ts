// A verification worker for test/verify/pool.test.ts that crashes (uncaught exception)
// on a package named `crash-*`, and otherwise answers like the real worker.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequestHandler, serveRequests, type WireRequest, type WorkerInit } from '../../src/verify/pool-worker.ts';

const handle = createRequestHandler(workerData as WorkerInit);
serveRequests(parentPort!, (req: WireRequest) => {
  if (req.pkg.filename.startsWith('crash-')) throw new Error(`test crash on ${req.pkg.filename}`);
  return handle(req);
});
