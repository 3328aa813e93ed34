// What every host adapter is made of (docs/plugin.md): the verifier normalised to composed
// plugins, the record of a package URL or its refusal, the one sha256 rule, and the
// end-of-run hook. An adapter adds only how its host downloads and hands bytes on.
import type { PackageRecord, Report } from '../../src/types.ts';
import type { VerifySession } from '../../src/session-types.ts';
import { TargetError } from '../../src/errors.ts';
import { isPackageFilename } from '../../src/targets/package-url.ts';
import type { CondaInstallerPlugin, Downloaded } from '../contract.ts';
import { PackageBlockedError, lockedDigestReason, placeholderRecord, unsupportedUrlReason, urlFilename } from '../contract.ts';
import { composePlugins } from '../compose.ts';
import type { LoadedPlugins } from '../compose.ts';
import { PLUGIN_NAME, attestPlugin } from '../attest-plugin.ts';

/** What every host adapter takes as "the verifier": one plugin, the composed plugins of a host config, or a bare conda-attest session. */
export type Verifier = CondaInstallerPlugin | LoadedPlugins | VerifySession;

export function toLoadedPlugins(v: Verifier): LoadedPlugins {
  if (Array.isArray((v as LoadedPlugins).plugins) && typeof (v as LoadedPlugins).wrapDownload === 'function') return v as LoadedPlugins;
  const session = v as VerifySession;
  if (typeof session.verifyPackage === 'function' && typeof session.finish === 'function') return composePlugins([attestPlugin(async () => session)]);
  return composePlugins([v]);
}

/** Run the end-of-run hooks; the conda-attest report (else the first report), if any. */
export async function finishRun(plugins: LoadedPlugins): Promise<Report | undefined> {
  const results = await plugins.afterInstall();
  return (results.find((r) => r.plugin === PLUGIN_NAME) ?? results.find((r) => r.report))?.report;
}

/**
 * The record the host's `toRecord` reads from a package URL, or a PackageBlockedError
 * (PACKAGE_URL_UNSUPPORTED) for a URL no attestation can be matched to (a query string, a
 * path that is not `<channel>/<subdir>/<file>`): refused, never passed on unverified.
 */
export function recordOrRefuse(url: string, toRecord: (url: string) => PackageRecord): PackageRecord {
  try {
    return toRecord(url);
  } catch (e) {
    if (e instanceof TargetError && (e.code === 'TARGET_INVALID_URL' || e.code === 'TARGET_INVALID_FILENAME')) {
      throw new PackageBlockedError(placeholderRecord(url), [unsupportedUrlReason(e.message, e.hint)], { cause: e });
    }
    throw e;
  }
}

/**
 * The one sha256 rule of every host, applied to what the plugins handed back: bytes that are
 * not what the host locked (`record.sha256`) are refused whatever plugins are configured
 * (src/policy/digest.ts decides). Returns `downloaded` when they are.
 */
export function expectLockedDigest(record: Readonly<PackageRecord>, downloaded: Downloaded): Downloaded {
  const mismatch = lockedDigestReason(record, downloaded.sha256);
  if (mismatch) throw new PackageBlockedError(record, [mismatch]);
  return downloaded;
}

/** True for URLs whose path names a conda package (`.conda`, `.tar.bz2`, in any case). */
export function isPackageUrl(url: string): boolean {
  return URL.canParse(url) && isPackageFilename(urlFilename(new URL(url).pathname));
}
