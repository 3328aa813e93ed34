// The built CLI (dist/cli/, as the launcher loads it) carries sigstore-js's verification half
// in its own chunks (scripts/bundle-cli.ts), where the sources load it from node_modules. What
// must not change: every verdict and code, for a genuine attestation and for each way an
// attacker might get past sigstore-js (a flipped signature bit, a forged certificate, a
// statement for other bytes, another signer), with `--download` as with the lockfile digests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_ORG_WORKFLOWS as TRUSTED, publishStatement, startLocalSigstore, tamperBundle } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel, type FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec, simpleFilename as fn } from '../helpers/conda.ts';
import { REPO, assertJsonStdout, codes, makeWorkspace, row, runCli, runNode } from '../helpers/e2e.ts';
import type { JsonReport, Workspace } from '../helpers/e2e.ts';

const BUILT = join(REPO, 'bin', 'conda-attest.js');
const built = existsSync(join(REPO, 'dist', 'cli', 'main.js'));

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
const NAMES = ['good', 'flipped', 'forged-cert', 'other-bytes', 'stranger'];

before(async () => {
  if (!built) return;
  sig = await startLocalSigstore();
  const genuine = (name: string, sha256: string) => sig.attest(publishStatement({ filename: fn(name), sha256, targetChannel: null }));
  // Bundles over a digest that is not the package's: each is also broken in its own way, so
  // a verifier that skipped sigstore-js's check would still reject on the subject, but with
  // another code than the sources give.
  ch = await startFixtureChannel({
    sigstore: sig,
    packages: [
      { spec: spec('good') },
      { spec: spec('flipped'), bundles: [tamperBundle(await genuine('flipped', 'a'.repeat(64)), 'signature')] },
      { spec: spec('forged-cert'), bundles: [tamperBundle(await genuine('forged-cert', 'b'.repeat(64)), 'certificate')] },
      { spec: spec('other-bytes'), bundles: [await genuine('other-bytes', 'c'.repeat(64))] },
      { spec: spec('stranger'), signOptions: { san: 'https://github.com/evil-org/x/.github/workflows/r.yml@refs/heads/main' } },
    ],
  });
  ws = makeWorkspace('conda-attest-built-');
});

after(async () => {
  await ch?.close().catch(() => {});
  await sig?.close();
  ws?.cleanup();
});

test('the built CLI gives the verdicts and codes the sources give, --download and lockfile digests alike', { skip: !built && 'dist/ is not built (npm run build)' }, async () => {
  ws.write('env/pixi.lock', ch.pixiLock({ platform: 'noarch', filenames: NAMES.map((n) => fn(n)) }));
  const verdicts = (report: JsonReport) => NAMES.map((n) => [n, row(report, fn(n)).status, codes(row(report, fn(n)))]);
  for (const extra of [[], ['--download']]) {
    // A cache and a lockfile per run: a verdict cached by the other run would spare sigstore-js.
    const args = (who: string) => {
      const name = `${who}${extra.length}`;
      const cfg = ws.writeConfig({ trust_root: sig.trustedRootPath, cache_dir: `${name}-cache`, lockfile: `${name}.lock`, channels: { [ch.url]: { trusted_identities: TRUSTED } } }, `${name}.json`);
      return ['verify', '--json', '--config', cfg, ...extra, 'env/pixi.lock'];
    };
    const fromSource = await runCli(ws, args('source'));
    const fromBuild = await runNode(BUILT, args('built'), { cwd: ws.dir, env: ws.env });
    assert.equal(fromBuild.code, 1, fromBuild.stderr);
    assert.equal(fromBuild.code, fromSource.code);
    const a = verdicts(assertJsonStdout(fromSource.stdout));
    const b = verdicts(assertJsonStdout(fromBuild.stdout));
    assert.deepEqual(b, a);
    assert.equal(b[0]![1], 'verified', JSON.stringify(b));
    for (const [name, status] of b.slice(1)) assert.notEqual(status, 'verified', `${name}: ${JSON.stringify(b)}`);
  }
});
