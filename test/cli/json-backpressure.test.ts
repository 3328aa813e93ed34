// `verify --json` writes its report one package at a time and waits for 'drain' when the
// reader is slower (src/cli/verify.ts). Each wait must leave no listener behind: a report of
// many packages waits many times, and leftover 'close'/'error' listeners would pile up
// until Node warns (MaxListenersExceededWarning) on every large run into a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { makeWorkspace } from '../helpers/e2e.ts';

test('verify --json into a slow reader: the whole report arrives and no stream listener is left behind', async (t) => {
  const ws = makeWorkspace('conda-attest-backpressure-');
  t.after(() => ws.cleanup());
  // A disabled channel: every package is skipped without any network access, so the run is
  // only about writing the report.
  const channel = 'http://127.0.0.1:9/slow';
  const names = Array.from({ length: 25 }, (_, i) => `pkg${String(i).padStart(2, '0')}`);
  ws.write(
    'explicit.txt',
    `@EXPLICIT\n${names.map((n) => `${channel}/noarch/${n}-1.0-h0_0.conda#${'ab'.repeat(16)}`).join('\n')}\n`,
  );
  const config = ws.writeConfig({ cache_dir: ws.path('cache'), lockfile: ws.path('conda-attest.lock'), channels: { [channel]: { enabled: false } } });

  const chunks: Buffer[] = [];
  // highWaterMark 1: every write reports back-pressure, so the writer waits for 'drain' once per package.
  const stdout = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      setImmediate(cb);
    },
  });
  const baseline = { close: stdout.listenerCount('close'), error: stdout.listenerCount('error'), drain: stdout.listenerCount('drain') };
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));

  const io: CliIO = { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: { ...ws.env, NO_COLOR: '1' }, cwd: ws.dir };
  await main(['verify', '--json', '--config', config, 'explicit.txt'], io);
  await new Promise((r) => setImmediate(r));

  const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { packages: { name: string; status: string }[] };
  assert.deepEqual(report.packages.map((p) => p.name).sort(), names);
  assert.ok(report.packages.every((p) => p.status === 'skipped'));
  assert.deepEqual(
    { close: stdout.listenerCount('close'), error: stdout.listenerCount('error'), drain: stdout.listenerCount('drain') },
    baseline,
    'every wait for drain removes its listeners',
  );
  assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
});
