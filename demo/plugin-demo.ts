// The plugin-layer part of `npm start`: a tiny "installer" that downloads each package
// of the environment with a fetch wrapped by conda-attest's download hook. Blocked
// packages never reach the installer; the end-of-run hook returns the report.
import type { FixtureChannel } from '../test/helpers/channel.ts';
import type { LocalSigstore } from '../test/helpers/sigstore.ts';
import { createCondaAttestPlugin, wrapFetch, PackageBlockedError } from '../plugin/index.ts';

export async function runPluginDemo(ctx: { work: string; channel: FixtureChannel; sigstore: LocalSigstore }): Promise<void> {
  // A host registers the plugin once per run; config and trust root load on first use.
  const plugin = createCondaAttestPlugin({ cwd: ctx.work, frozen: true });
  const lockHashes = new Map(ctx.channel.packages.map((p) => [p.url, p.sha256]));
  const fetchVerified = wrapFetch(globalThis.fetch, plugin, {
    lookup: (url) => (lockHashes.has(url) ? { sha256: lockHashes.get(url) } : undefined),
  });
  const installed: string[] = [];
  for (const pkg of ctx.channel.packages) {
    try {
      const res = await fetchVerified(pkg.url);
      const bytes = new Uint8Array(await res.arrayBuffer());
      installed.push(pkg.filename);
      process.stdout.write(`  installed ${pkg.filename} (${bytes.length} bytes)\n`);
    } catch (e) {
      if (e instanceof PackageBlockedError) {
        process.stdout.write(`  refused   ${pkg.filename}: ${e.message}\n`);
      } else throw e;
    }
  }
  const report = await fetchVerified.afterInstall();
  if (report) {
    const s = report.summary;
    process.stdout.write(
      `\nend of run: ${installed.length}/${ctx.channel.packages.length} installed; ${s.verified} verified, ${s.blocked} blocked, ${s.warned} warned\n`,
    );
  }
}
