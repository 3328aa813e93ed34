// The plugin-layer part of `npm start`: the real JavaScript conda installer
// @emscripten-forge/mambajs-core (used by JupyterLite) installs the demo environment into
// an in-memory Emscripten FS, with conda-attest wrapped around its download step. Blocked
// packages never reach the installer's extractor; the end-of-run hook returns the report.
import { installPackagesToEmscriptenFS } from '@emscripten-forge/mambajs-core';
import type { FixtureChannel } from '../test/helpers/channel.ts';
import type { LocalSigstore } from '../test/helpers/sigstore.ts';
import { createMemModule } from '../test/plugin/memfs.ts';
import { mambaLock } from '../test/helpers/mamba-lock.ts';
import { createCondaAttestPlugin, createNodeUntar, wrapUntarjs, PackageBlockedError } from '../plugin/index.ts';
import type { MambaLockLike } from '../plugin/index.ts';

async function install(work: string, channel: FixtureChannel, filenames: string[]): Promise<void> {
  const lock = mambaLock({ 'demo-forge': channel }, filenames.map((f) => ['demo-forge', f] as [string, string]), { platform: 'linux-64' });
  // One plugin instance per installer run: config and trust root load once, on first use.
  const untarjs = wrapUntarjs(createNodeUntar(), createCondaAttestPlugin({ cwd: work }), { lock: lock as MambaLockLike });
  const Module = createMemModule();
  process.stdout.write(`mambajs installs ${filenames.join(', ')}\n`);
  try {
    await installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, Module, untarjs });
    process.stdout.write('  install succeeded\n');
  } catch (e) {
    if (!(e instanceof PackageBlockedError)) throw e;
    process.stdout.write(`  install refused: ${e.code}: ${e.message}\n`);
  } finally {
    const report = await untarjs.afterInstall();
    const files = [...Module.files.keys()].filter((f) => !f.includes('conda-meta')).sort();
    process.stdout.write(`  files in the environment: ${files.length ? files.join(', ') : '(none)'}\n`);
    if (report) {
      for (const p of report.packages) process.stdout.write(`  ${p.status.padEnd(17)} ${p.action.padEnd(6)} ${p.filename}\n`);
    }
  }
}

export async function runPluginDemo(ctx: { work: string; channel: FixtureChannel; sigstore: LocalSigstore }): Promise<void> {
  await install(ctx.work, ctx.channel, ['libzstd-1.5.6-ha6fb4c9_0.conda', 'tzdata-2025b-h78e105d_0.conda']);
  process.stdout.write('\n');
  await install(ctx.work, ctx.channel, ['tzdata-2025b-h78e105d_0.conda', 'openssl-3.4.1-h7b32b05_0.conda']);
}
