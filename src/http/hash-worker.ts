// The second thread of a threaded download hash (see hash-thread.ts): receives the package
// bytes in batches it owns (transferred, not shared), hashes them, acknowledges each batch so
// the receiving side can bound what is in flight, and answers the digests at the end.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

export type HashWorkerMessage = { type: 'data'; buf: ArrayBuffer; len: number } | { type: 'end' };
export type HashWorkerReply = { type: 'ack' } | { type: 'digest'; sha256: string; md5?: string };

if (parentPort && (workerData as { role?: string } | undefined)?.role === 'conda-attest-hash') {
  const port = parentPort;
  const sha = createHash('sha256');
  const md5 = (workerData as { md5?: boolean }).md5 ? createHash('md5') : undefined;
  port.on('message', (m: HashWorkerMessage) => {
    if (m.type === 'data') {
      const view = new Uint8Array(m.buf, 0, m.len);
      sha.update(view);
      md5?.update(view);
      port.postMessage({ type: 'ack' } satisfies HashWorkerReply);
    } else {
      port.postMessage({ type: 'digest', sha256: sha.digest('hex'), md5: md5?.digest('hex') } satisfies HashWorkerReply);
    }
  });
}
