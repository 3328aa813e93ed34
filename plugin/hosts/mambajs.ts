// The @emscripten-forge/mambajs(-core) adapter.
//
// mambajs-core installs conda packages by calling `untarjs.extract(url)` for each one
// (docs/plugin.md "mambajs") and checks no hashes. Wrapping the `untarjs` object the caller passes to
// `installPackagesToEmscriptenFS` / `bootstrapEmpackPackedEnvironment` puts verification
// between the download and the extraction: `extract(url)` fetches the bytes itself (hashed
// while streaming), checks them against the mambajs lock, runs the plugins (conda-attest
// verifies under the channel policy), and ONLY THEN hands them to the wrapped
// `extractData`. A blocked package throws before extraction: nothing of it reaches the FS.
import type { Report } from '../../src/types.ts';
import { fetchDownload } from './download.ts';
import { mapLimit } from '../../src/util/concurrency.ts';
import type { FetchLike } from './download.ts';
import { expectLockedDigest, finishRun, recordOrRefuse, toLoadedPlugins } from './kit.ts';
import type { Verifier } from './kit.ts';
import { type MambaLockLike, lockIndex, lockKeyOf, lockedUrl, mustVerify, recordForMambaUrl } from './mambajs-lock.ts';
import type { FilesData, UntarApi } from './untar-node.ts';

export type { MambaLockLike } from './mambajs-lock.ts';

export interface WrapUntarjsOptions {
  /** The mambajs lock of the environment: expected sha256 / size per package, channel names → URLs. */
  lock?: MambaLockLike;
  /** The fetch used to download packages (default: global fetch). */
  fetch?: FetchLike;
}

/** An untarjs whose `extract(url)` verifies conda packages first, plus the end-of-run hook. */
export interface VerifyingUntar extends UntarApi {
  /** Run the plugins' end-of-run hooks once; resolves to the conda-attest report. */
  afterInstall(): Promise<Report | undefined>;
}

/**
 * Wrap an untarjs object for mambajs-core. `verifier` is the conda-attest plugin, the
 * composed plugins of a host config, or a conda-attest session. `extract(url)` is guarded
 * for every URL that names a conda package (`.conda`, `.tar.bz2`, in any case) or a
 * package of the lock; `extractData` has no URL and is what mambajs uses for the inner
 * `pkg-*.tar.zst` members after `extract` returned. Other URLs (empack mount points) go
 * to the wrapped untarjs: pass the lock, so that every package is known by name.
 */
export function wrapUntarjs(untarjs: UntarApi, verifier: Verifier, options: WrapUntarjsOptions = {}): VerifyingUntar {
  const plugins = toLoadedPlugins(verifier);
  // Composed once per run, not per package.
  const download = plugins.wrapDownload(fetchDownload(options.fetch));
  const entries = lockIndex(options.lock);

  /** Download, check against the lock and verify one package: its bytes, or a PackageBlockedError. */
  async function verified(url: string): Promise<Uint8Array> {
    const record = recordOrRefuse(url, (u) => recordForMambaUrl(u, options.lock));
    // Bytes that are not what the environment was locked to never reach extractData.
    return expectLockedDigest(record, await download({ record })).bytes;
  }

  // With the lock, the whole environment is verified before its first package is extracted:
  // mambajs-core extracts packages in parallel, so otherwise a package verified early could
  // already be in the FS when a later one is blocked. The bytes are held until mambajs asks
  // for each package (it holds each package in memory anyway).
  let whole: Promise<Map<string, Uint8Array>> | undefined;
  const verifyWhole = (firstUrl: string, firstKey: string): Promise<Map<string, Uint8Array>> =>
    (whole ??= (async () => {
      const keys = Object.keys(options.lock!.packages).sort();
      const settled = await mapLimit(keys, WHOLE_LOCK_CONCURRENCY, async (key) => {
        try {
          return { key, bytes: await verified(key === firstKey ? firstUrl : lockedUrl(options.lock!, key, firstUrl, firstKey)) };
        } catch (error) {
          return { key, error };
        }
      });
      // The first refusal in key order answers every extract: nothing is installed.
      for (const r of settled) if ('error' in r) throw r.error;
      return new Map(settled.map((r) => [r.key, (r as { bytes: Uint8Array }).bytes]));
    })());

  return {
    extractData: (data, decompressionOnly) => untarjs.extractData(data, decompressionOnly),
    async extract(url: string): Promise<FilesData> {
      if (!mustVerify(url, entries)) return untarjs.extract(url);
      const key = lockKeyOf(url, entries);
      if (key === undefined) return untarjs.extractData(await verified(url), false);
      const all = await verifyWhole(url, key);
      const bytes = all.get(key);
      all.delete(key);
      // Asked twice for one package: verify it again rather than extract unverified bytes.
      return untarjs.extractData(bytes ?? (await verified(url)), false);
    },
    afterInstall: () => finishRun(plugins),
  };
}

/** Downloads in flight while a whole lock is verified. */
const WHOLE_LOCK_CONCURRENCY = 6;
