// The report's `lockfile.written` says whether the identity lockfile's bytes changed
// (docs/lockfile.md): a run that decides to pin, but finds the same pins already on disk
// (another run wrote them since it started), writes nothing and says so.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { startLocalSigstore } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { makeWorkspace, resolveIn, runSession } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { simpleSpec } from '../helpers/conda.ts';
import { recordFromUrl } from '../../src/targets/index.ts';
import { createSession } from '../../src/pipeline.ts';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace('conda-attest-lock-written-');
  ch = await startFixtureChannel({ sigstore: sig, name: 'forge', packages: [{ spec: simpleSpec('one') }] });
});

after(async () => {
  await ch?.close();
  await sig?.close();
  ws?.cleanup();
});

/** The report's `lockfile` member (not in the test helpers' JsonReport type). */
const lockOf = (report: object): { written: boolean; pinned: number } | undefined => (report as { lockfile?: { written: boolean; pinned: number } }).lockfile;

let n = 0;
function config() {
  return resolveIn(ws, { trust_root: sig.trustedRootPath, cache_dir: `cache-${++n}`, channels: { [ch.url]: { require: 'error' } } });
}

test('lockfile.written: false when the pins this run decided are already on disk byte for byte; true for the run that wrote them', async () => {
  const lockfile = ws.path('race.lock');
  const record = { ...recordFromUrl(ch.packages[0]!.url), sha256: ch.packages[0]!.sha256 };
  // Run A starts first: it reads the lockfile while it is still absent.
  const late = await createSession({ config: config(), lockfile, noTufRefresh: true });
  // Run B pins the package and writes the file.
  const first = await runSession(config(), [record], { lockfile, noTufRefresh: true });
  assert.equal(lockOf(first)?.written, true);
  assert.equal(lockOf(first)?.pinned, 1);
  const bytes = readFileSync(lockfile);
  const mtime = statSync(lockfile).mtimeMs;

  // Run A decides the same pin ("new" for it) and finishes: the merge changes no byte.
  await late.verifyPackages([{ record, digest: { sha256: record.sha256!, source: 'lockfile' } }], { concurrency: 1 });
  const report = await late.finish();
  assert.equal(report.summary.verified, 1);
  assert.equal(report.lockfile?.written, false, 'no byte changed, so nothing was written');
  assert.deepEqual(readFileSync(lockfile), bytes);
  assert.equal(statSync(lockfile).mtimeMs, mtime, 'the file was not rewritten');

  // A run that does change the file still says so.
  const other = ws.path('other.lock');
  const fresh = await runSession(config(), [record], { lockfile: other, noTufRefresh: true });
  assert.equal(lockOf(fresh)?.written, true);
});
