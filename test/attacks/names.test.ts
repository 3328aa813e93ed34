// Red-team: a package name the filename parser splits but the lockfile schema cannot hold
// (`x!!js-1.0-h0_0.conda`). One grammar (schema/lockfile.schema.json `packageName`) decides,
// per package: that package is refused with TARGET_INVALID_NAME, the others are judged
// and pinned, and the lockfile is written (never LOCK_CORRUPT about a file to be written).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { isPackageName, packageNameProblem, parsePackageFilename } from '../../src/targets/package-url.ts';
import { parseLock } from '../../src/lock/file.ts';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({ name: 'forge', packages: [{ spec: { name: 'good', version: '1.0', build: 'h0_0' } }, { spec: { name: 'x!!js', version: '1.0', build: 'h0_0' } }] }, 'conda-attest-attack-names-'));
});
after(() => close?.());

test('one grammar: every name the lockfile schema refuses is refused per package, whatever the filename parser accepted', () => {
  for (const name of ['x!!js', '-x', '.x', '+x', 'x y', 'x@1', 'x/y', 'é', 'x\u200b']) {
    assert.equal(isPackageName(name), false, name);
    assert.equal(packageNameProblem(name, `${name}-1-0.conda`)?.code, 'TARGET_INVALID_NAME', name);
  }
  for (const name of ['numpy', '_libgcc_mutex', 'r-base', 'ca-certificates', 'python.app', 'libstdcxx-ng', 'x+y', '7za']) {
    assert.equal(isPackageName(name), true, name);
    assert.equal(packageNameProblem(name, `${name}-1-0.conda`), null, name);
  }
  // The parser splits the odd filename; the name grammar is what refuses it.
  assert.equal(parsePackageFilename('x!!js-1.0-0.conda').name, 'x!!js');
});

test('attack: a signed package named `x!!js` is refused alone (TARGET_INVALID_NAME, blocked), the other package is verified and pinned, the lockfile is written', async () => {
  ws.writeConfig({ trust_root: sig.trustedRootPath, http: { retries: 0 }, lockfile: 'names.lock', channels: { [ch.url]: { trusted_identities: TRUSTED } } }, 'names.json');
  const { code, report, stderr } = await verifyJson(ws, ['--config', 'names.json', ch.get(fn('good')).url, ch.get(fn('x!!js')).url]);
  assert.equal(code, 1, stderr);
  assert.doesNotMatch(stderr, /LOCK_CORRUPT/);
  const odd = report.packages.find((p) => p.name === 'x!!js')!;
  assert.equal(odd.status, 'invalid');
  assert.equal(odd.action, 'block');
  assert.deepEqual(odd.reasons.map((r) => r.code), ['TARGET_INVALID_NAME']);
  assert.equal(report.packages.find((p) => p.name === 'good')!.status, 'verified');
  const lock = parseLock(ws.read('names.lock'), 'names.lock');
  assert.deepEqual(Object.keys(lock.channels[ch.url]!), ['good']);
});
