// One upstream transfer passed on to its clients (src/serve/flight.ts), over real loopback
// HTTP: a client that stops reading holds the upstream back (the proxy queues a bounded
// amount per client, never the package), and a client that reads gets every byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { startFlight } from '../../src/serve/flight.ts';
import { startLoopback } from '../helpers/loopback.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('a client that stops reading holds the upstream transfer back; once it reads again it gets every byte, verified', async () => {
  const body = randomBytes(64 << 20);
  let sent = 0;
  const upstream = await startLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    const next = (): void => {
      while (sent < body.length) {
        const piece = body.subarray(sent, sent + (1 << 20));
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', next);
      }
      res.end();
    };
    next();
  });
  let ended: unknown;
  const flight = startFlight({
    expected: { sha256: sha256(body), size: body.length },
    fetch: (consume) =>
      new Promise<void>((resolve, reject) => {
        request(`${upstream.url}/p.conda`, (res: IncomingMessage) => consume(res).then(resolve, reject))
          .on('error', reject)
          .end();
      }),
    onEnd: (end) => (ended = end),
  });
  const proxy = await startLoopback((_req, res: ServerResponse) => void flight.join(res, { 'content-length': body.length }));
  try {
    const got = await new Promise<{ digest: string; sentWhilePaused: number }>((resolve, reject) => {
      request(`${proxy.url}/p.conda`, (res) => {
        const h = createHash('sha256');
        let first = true;
        let sentWhilePaused = -1;
        res.on('data', (c: Buffer) => {
          h.update(c);
          if (!first) return;
          first = false;
          res.pause();
          setTimeout(() => {
            sentWhilePaused = sent;
            res.resume();
          }, 1000);
        });
        res.on('end', () => resolve({ digest: h.digest('hex'), sentWhilePaused }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(got.digest, sha256(body));
    assert.deepEqual(ended, { ok: true, bytes: body.length });
    // Socket buffers on both sides of the proxy and its bounded queue per client hold a few
    // MiB; the rest of the package stays upstream until the client reads.
    assert.ok(got.sentWhilePaused > 0 && got.sentWhilePaused < body.length / 3, `upstream held back while the client paused (${got.sentWhilePaused} of ${body.length} bytes sent)`);
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
