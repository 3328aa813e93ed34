// The installer plugin applies deny entries like the CLI (the judge stage is shared): a
// denied package's download rejects with PackageBlockedError even on a `require: warn`
// channel, and its bytes are never handed to the installer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageBlockedError } from '../../plugin/contract.ts';
import { createCondaAttestPlugin } from '../../plugin/conda-attest.ts';
import { wrapFetch } from '../../plugin/hosts/fetch.ts';
import { ALPHA, BETA, LOOSE, startPluginFixture } from './fixture.ts';
import type { PluginFixture } from './fixture.ts';

let fx: PluginFixture;
before(async () => {
  fx = await startPluginFixture();
});
after(() => fx?.close());

test('attack: a denied package is blocked by the plugin, on a strict and on a warn channel; others still pass', async () => {
  const configPath = join(fx.dir, 'deny.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      trust_root: fx.sigstore.trustedRootPath,
      cache_dir: join(fx.dir, 'cache-deny'),
      channels: {
        [fx.strict.url]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'], deny: [{ package: 'Alpha', versions: '1.0.*', reason: 'compromised release' }] },
        [fx.lenient.url]: { require: 'warn', trusted_identities: ['https://github.com/test-org/**'] },
      },
      deny: [{ package: 'loose', versions: '>=3', reason: 'withdrawn' }],
    }),
  );
  const verified = wrapFetch(fetch, createCondaAttestPlugin({ configPath, noTufRefresh: true, lockfile: fx.lockfile() }));
  await assert.rejects(verified(fx.strict.get(ALPHA).url), (e) => e instanceof PackageBlockedError && e.record.filename === ALPHA);
  await assert.rejects(verified(fx.lenient.get(LOOSE).url), (e) => e instanceof PackageBlockedError && e.record.filename === LOOSE);
  const beta = await verified(fx.strict.get(BETA).url);
  assert.equal(beta.status, 200);
  await beta.arrayBuffer();
  const report = await verified.afterInstall();
  const byName = new Map(report!.packages.map((p) => [p.filename, p]));
  for (const [f, reason] of [[ALPHA, /compromised release/], [LOOSE, /withdrawn/]] as const) {
    const p = byName.get(f)!;
    assert.deepEqual([p.status, p.action, p.reasons[0]?.code], ['untrusted', 'block', 'DENIED'], f);
    assert.match(p.reasons[0]!.message, reason);
  }
  assert.equal(byName.get(BETA)!.status, 'verified');
  assert.equal(report!.summary.blocked, 2);
});
