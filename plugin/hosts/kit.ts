// What every host adapter takes as "the verifier": one plugin, the composed plugins of a
// host config, or a bare conda-attest session — normalised to LoadedPlugins once.
import type { Report } from '../../src/types.ts';
import type { VerifySession } from '../../src/session-types.ts';
import type { CondaInstallerPlugin } from '../contract.ts';
import { composePlugins } from '../compose.ts';
import type { LoadedPlugins } from '../compose.ts';
import { PLUGIN_NAME, attestPlugin } from '../attest-plugin.ts';

export type Verifier = CondaInstallerPlugin | LoadedPlugins | VerifySession;

function isLoaded(v: Verifier): v is LoadedPlugins {
  return Array.isArray((v as LoadedPlugins).plugins) && typeof (v as LoadedPlugins).wrapDownload === 'function';
}

function isSession(v: Verifier): v is VerifySession {
  return typeof (v as VerifySession).verifyPackage === 'function' && typeof (v as VerifySession).finish === 'function';
}

export function toLoadedPlugins(v: Verifier): LoadedPlugins {
  if (isLoaded(v)) return v;
  if (isSession(v)) return composePlugins([attestPlugin(async () => v)]);
  return composePlugins([v]);
}

/** Run the end-of-run hooks; the conda-attest report (else the first report), if any. */
export async function finishRun(plugins: LoadedPlugins): Promise<Report | undefined> {
  const results = await plugins.afterInstall();
  return (results.find((r) => r.plugin === PLUGIN_NAME) ?? results.find((r) => r.report))?.report;
}
