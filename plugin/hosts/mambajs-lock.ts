// What the mambajs adapter (plugin/hosts/mambajs.ts) reads from a mambajs lock: the package
// record of a URL mambajs extracts (channel from the URL, expected sha256 and size from
// the lock), the lock key a URL was built from, and the URLs of the other packages.
import { TargetError } from '../../src/errors.ts';
import {
  encodePathSegment,
  isPackageFilename,
  isValidSubdir,
  normalizeSha256,
  normalizeSize,
  parsePackageFilename,
  parseSafeHttpUrl,
  recordFromUrl,
} from '../../src/targets/package-url.ts';
import type { PackageRecord } from '../../src/types.ts';
import { urlFilename } from '../contract.ts';

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

/**
 * The URL mambajs will fetch for another package of the lock, in the layout of the first URL
 * it asked for: `<channel>/<subdir>/<key>` (mambajs-core computePackageUrl), or
 * `<pkgRootUrl>/<key>` (empack).
 */
export function lockedUrl(lock: MambaLockLike, key: string, firstUrl: string, firstKey: string): string {
  const channelUrl = (k: string): string | undefined => {
    const e = lock.packages[k];
    const url = e && typeof e.channel === 'string' ? lock.channelInfo?.[e.channel]?.[0]?.url : undefined;
    return typeof url === 'string' ? url.replace(/\/+$/, '') : undefined;
  };
  const first = lock.packages[firstKey];
  const firstChannel = channelUrl(firstKey);
  const entry = lock.packages[key];
  const channel = channelUrl(key);
  if (first && entry && firstChannel !== undefined && channel !== undefined && firstUrl === [firstChannel, first.subdir, firstKey].filter(Boolean).join('/')) {
    return [channel, entry.subdir, key].filter(Boolean).join('/');
  }
  return `${firstUrl.slice(0, -firstKey.length - 1)}/${key}`;
}

type LockEntry = MambaLockLike['packages'][string];

/** The lock's package keys by their last path segment (mambajs appends the key to a URL as is). */
export function lockIndex(lock: MambaLockLike | undefined): Map<string, string[]> {
  const index = new Map<string, string[]>();
  const packages = lock?.packages;
  if (packages === null || typeof packages !== 'object') return index;
  for (const key of Object.keys(packages)) {
    const last = key.slice(key.lastIndexOf('/') + 1);
    index.set(last, [...(index.get(last) ?? []), key]);
  }
  return index;
}

/** The lock key mambajs built `url` from (`…/<key>`), if any. */
export function lockKeyOf(url: string, index: Map<string, string[]>): string | undefined {
  return index.get(url.slice(url.lastIndexOf('/') + 1))?.find((key) => url.endsWith(`/${key}`) || url === key);
}

/**
 * Whether `extract(url)` must go through verification. mambajs lowercases a name before
 * testing for `.conda` and unpacks every other name as a plain tarball, so a lock entry
 * named `x-1-0.CONDA`, `x-1-0.tar.gz` or `x.tar.gz?.conda` would install unverified if
 * only the exact lowercase extensions were guarded: every lock entry, every URL naming a
 * package in any case, and every URL with a query or fragment (refused as unjudgeable)
 * is verified; only other archives (empack mount points) pass.
 */
export function mustVerify(url: string, index: Map<string, string[]>): boolean {
  return /[?#]/.test(url) || isPackageFilename(urlFilename(url)) || lockKeyOf(url, index) !== undefined;
}

/**
 * The package record for a URL mambajs is about to extract. The channel is ALWAYS the one
 * the URL was fetched from (`<channel>/<subdir>/<file>`), so that the channel policy
 * follows the bytes: the lock's channel label is not trusted to pick it (relabelling a
 * strict channel's package as a lax channel's would otherwise relax its policy). A
 * package served from a mirror (a CDN, empack's `pkgRootUrl`) is judged under a
 * configured channel only when conda-attest's own config lists that URL as one of the
 * channel's `mirrors`. With empack's flat `<pkgRootUrl>/<file>` layout the URL has no
 * subdir; the lock's `subdir` then names it and the channel is `<pkgRootUrl>`.
 *
 * The lock entry (found by the key mambajs appended to the URL) gives the expected sha256
 * and size; its key must be a valid package file name, and its fields of the right type
 * (TargetError otherwise, never a TypeError).
 */
export function recordForMambaUrl(url: string, lock?: MambaLockLike): PackageRecord {
  const key = lockKeyOf(url, lockIndex(lock));
  const filename = key ?? urlFilename(url);
  const where = `the mambajs lock entry for ${JSON.stringify(filename)}`;
  if (key !== undefined) parsePackageFilename(key, 'the mambajs lock');
  const raw: unknown = key === undefined ? undefined : lock!.packages[key];
  if (key !== undefined && (raw === null || typeof raw !== 'object')) {
    throw new TargetError('TARGET_PARSE_FAILED', `${where} is not an object.`, { hint: 'Regenerate the mambajs lock.' });
  }
  const entry = raw as Partial<LockEntry> | undefined;
  const hash: unknown = entry?.hash;
  if (hash !== undefined && hash !== null && typeof hash !== 'object') {
    throw new TargetError('TARGET_PARSE_FAILED', `${where}: hash is not an object.`, { hint: 'Regenerate the mambajs lock; hash is { sha256, md5 }.' });
  }
  const sha256 = normalizeSha256((hash as LockEntry['hash'])?.sha256, `${where}: hash.sha256`);
  const size = normalizeSize(entry?.size, where);
  const expected = { ...(sha256 ? { sha256 } : {}), ...(size !== undefined ? { size } : {}) };
  const subdir = typeof entry?.subdir === 'string' && isValidSubdir(entry.subdir) ? entry.subdir : undefined;
  const safe = parseSafeHttpUrl(url, 'the mambajs install');
  const segments = safe.pathname.split('/');
  if (subdir !== undefined && segments.length >= 2 && segments[segments.length - 2] !== subdir) {
    // Flat layout (`<pkgRootUrl>/<file>`): the URL's directory is the channel it came from.
    const parts = parsePackageFilename(filename, 'the mambajs lock');
    const channel = `${safe.protocol}//${safe.host}${segments.slice(0, -1).join('/')}`;
    if (safe.href !== `${channel}/${encodePathSegment(filename)}`) {
      throw new TargetError('TARGET_INVALID_URL', `Package URL "${url}" in the mambajs install does not end in /${filename}.`, {
        hint: 'mambajs builds package URLs as <channel>/<subdir>/<file> or <pkgRootUrl>/<file>; check the lock and the host configuration.',
      });
    }
    return { url: safe.href, channel, subdir, filename, ...parts, ...expected };
  }
  return { ...recordFromUrl(url, 'the mambajs install'), ...expected };
}
