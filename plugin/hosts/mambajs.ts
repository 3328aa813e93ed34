// The @emscripten-forge/mambajs(-core) adapter.
//
// mambajs-core installs conda packages by calling `untarjs.extract(url)` for each one
// (specs.md §7) and checks no hashes. Wrapping the `untarjs` object the caller passes to
// `installPackagesToEmscriptenFS` / `bootstrapEmpackPackedEnvironment` puts verification
// between the download and the extraction: `extract(url)` fetches the bytes itself (hashed
// while streaming), checks them against the mambajs lock, runs the plugins (conda-attest
// verifies under the channel policy), and ONLY THEN hands them to the wrapped
// `extractData`. A blocked package throws before extraction: nothing of it reaches the FS.
import { TargetError } from '../../src/errors.ts';
import { isPackageFilename, parsePackageFilename, parseSafeHttpUrl, recordFromUrl } from '../../src/targets/package-url.ts';
import type { PackageRecord, Report } from '../../src/types.ts';
import { PackageBlockedError, SHA256_HEX, digestMismatchReason, placeholderRecord, unsupportedUrlReason } from '../contract.ts';
import { fetchDownload } from './download.ts';
import { mapLimit } from '../../src/util/concurrency.ts';
import type { FetchLike } from './download.ts';
import { finishRun, toLoadedPlugins } from './common.ts';
import type { Verifier } from './common.ts';
import type { FilesData, UntarApi } from './untar-node.ts';

/** The part of a mambajs lock (`ILock`, lockVersion 1.0.x) the adapter reads. */
export interface MambaLockLike {
  /** Keyed by package filename, as in mambajs locks. */
  packages: {
    [filename: string]: {
      name: string;
      version: string;
      build?: string;
      subdir?: string;
      channel: string;
      size?: number;
      hash?: { md5?: string; sha256?: string };
    };
  };
  /** Channel name → mirrors; the first URL is the one mambajs downloads from. */
  channelInfo?: { [name: string]: { url: string }[] };
}

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
 * composed plugins of a host config, or a conda-attest session. Only `extract(url)` of
 * conda packages (`.conda`, `.tar.bz2`) is guarded: `extractData` has no URL and is what
 * mambajs uses for the inner `pkg-*.tar.zst` members after `extract` returned.
 */
export function wrapUntarjs(untarjs: UntarApi, verifier: Verifier, options: WrapUntarjsOptions = {}): VerifyingUntar {
  const plugins = toLoadedPlugins(verifier);
  // Composed once per run, not per package.
  const download = plugins.wrapDownload(fetchDownload(options.fetch));
  const { lock } = options;

  /** Download, verify and check one package against the lock: its bytes, or a PackageBlockedError. */
  async function verified(url: string): Promise<Uint8Array> {
    let record: PackageRecord;
    try {
      record = recordForMambaUrl(url, lock);
    } catch (e) {
      // A package URL this layer cannot judge is refused, never extracted unverified.
      if (e instanceof TargetError && (e.code === 'TARGET_INVALID_URL' || e.code === 'TARGET_INVALID_FILENAME')) {
        throw new PackageBlockedError(placeholderRecord(url), [unsupportedUrlReason(e.message, e.hint)], { cause: e });
      }
      throw e;
    }
    const { bytes, sha256 } = await download({ record });
    // The lock's digest is enforced here too, whatever plugins are configured: bytes
    // that are not what the environment was locked to never reach extractData.
    if (record.sha256 && record.sha256 !== sha256) {
      throw new PackageBlockedError(record, [
        digestMismatchReason(`${record.filename} downloaded with SHA-256 ${sha256}, but the mambajs lock expects ${record.sha256}.`),
      ]);
    }
    return bytes;
  }

  // With the lock, the whole environment is verified before its first package is extracted:
  // mambajs-core extracts packages in parallel, so without this a package verified early
  // could already be in the FS when a later one is blocked (docs/plugin.md). The bytes are
  // held until mambajs asks for each package (it holds each package in memory anyway).
  let whole: Promise<Map<string, Uint8Array>> | undefined;
  function verifyWhole(firstUrl: string, firstFilename: string): Promise<Map<string, Uint8Array>> {
    return (whole ??= (async () => {
      const path = firstUrl.split(/[?#]/)[0]!;
      const root = path.slice(0, path.lastIndexOf('/'));
      const names = Object.keys(lock!.packages).filter(isPackageFilename).sort();
      const settled = await mapLimit(names, WHOLE_LOCK_CONCURRENCY, async (name) => {
        const url = name === firstFilename ? firstUrl : lockedUrl(lock!, name, firstUrl, firstFilename, root);
        try {
          return { name, bytes: await verified(url) };
        } catch (error) {
          return { name, error };
        }
      });
      // The first refusal in filename order answers every extract: nothing is installed.
      const failed = settled.find((r) => 'error' in r);
      if (failed && 'error' in failed) throw failed.error;
      return new Map(settled.map((r) => [r.name, (r as { bytes: Uint8Array }).bytes]));
    })());
  }

  return {
    extractData: (data, decompressionOnly) => untarjs.extractData(data, decompressionOnly),
    async extract(url: string): Promise<FilesData> {
      const filename = filenameOf(url);
      if (!isPackageFilename(filename)) return untarjs.extract(url);
      if (lock?.packages?.[filename]) {
        const all = await verifyWhole(url, filename);
        const bytes = all.get(filename)!;
        all.delete(filename);
        return untarjs.extractData(bytes, false);
      }
      return untarjs.extractData(await verified(url), false);
    },
    afterInstall: () => finishRun(plugins),
  };
}

/** Downloads in flight while a whole lock is verified. */
const WHOLE_LOCK_CONCURRENCY = 6;

/**
 * The URL mambajs will fetch for another package of the lock: the same layout as the first
 * URL it asked for — `<channel>/<subdir>/<file>` (computePackageUrl), or `<root>/<file>`
 * with empack's pkgRootUrl.
 */
function lockedUrl(lock: MambaLockLike, filename: string, firstUrl: string, firstFilename: string, root: string): string {
  const first = lock.packages[firstFilename];
  const firstChannel = first ? lock.channelInfo?.[first.channel]?.[0]?.url?.replace(/\/+$/, '') : undefined;
  const entry = lock.packages[filename]!;
  const channel = lock.channelInfo?.[entry.channel]?.[0]?.url?.replace(/\/+$/, '');
  const viaChannel = first && firstChannel !== undefined && firstUrl.split(/[?#]/)[0]!.slice(0, -firstFilename.length - 1) === `${firstChannel}/${first.subdir}`;
  if (viaChannel && channel !== undefined && entry.subdir) return `${channel}/${entry.subdir}/${filename}`;
  return `${root}/${filename}`;
}

function filenameOf(url: string): string {
  const path = url.split(/[?#]/)[0];
  try {
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
  } catch {
    return path.slice(path.lastIndexOf('/') + 1);
  }
}

/**
 * The package record for a URL mambajs is about to extract. The lock entry (keyed by
 * filename) gives the channel (name → URL through `channelInfo`), subdir, expected sha256
 * and size; without it, everything comes from the URL `<channel>/<subdir>/<file>`. With
 * empack's `pkgRootUrl` the URL has no subdir, so the lock is what names the channel.
 */
export function recordForMambaUrl(url: string, lock?: MambaLockLike): PackageRecord {
  const filename = filenameOf(url);
  const entry = lock?.packages?.[filename];
  const channelUrl = entry ? lock?.channelInfo?.[entry.channel]?.[0]?.url : undefined;
  const sha256 = entry?.hash?.sha256?.toLowerCase();
  if (sha256 !== undefined && !SHA256_HEX.test(sha256)) {
    throw new TargetError('TARGET_PARSE_FAILED', `The mambajs lock entry for ${filename} has a malformed sha256.`, {
      hint: 'Regenerate the lock; hash.sha256 must be 64 hex digits.',
    });
  }
  const expected = {
    ...(sha256 ? { sha256 } : {}),
    ...(typeof entry?.size === 'number' ? { size: entry.size } : {}),
  };
  if (entry && channelUrl) {
    const parts = parsePackageFilename(filename, 'the mambajs lock');
    // The same refusals as every package URL (src/targets/package-url.ts); the normalised
    // URL is the one reported and verified.
    const safe = parseSafeHttpUrl(url, 'the mambajs install').href;
    return {
      url: safe,
      channel: channelUrl.trim().replace(/\/+$/, ''),
      subdir: entry.subdir || subdirFromUrl(safe),
      filename,
      name: parts.name,
      version: parts.version,
      build: parts.build,
      ...expected,
    };
  }
  return { ...recordFromUrl(url, 'the mambajs install'), ...expected };
}

function subdirFromUrl(url: string): string {
  const segments = new URL(url).pathname.split('/');
  return segments.length >= 3 ? decodeURIComponent(segments[segments.length - 2]) : 'noarch';
}
