// Pure parsing of conda package URLs and filenames into PackageRecord fields.
// Everything here distrusts its input: the values end up in URLs we build (sidecar,
// repodata) and in the CEP 27 subject-name comparison, so shapes are checked, never assumed.
import { TargetError } from '../errors.ts';
import type { PackageRecord } from '../types.ts';

const PACKAGE_EXTENSIONS = ['.conda', '.tar.bz2'] as const;
const SHA256_RE = /^[0-9a-f]{64}$/;
const MD5_RE = /^[0-9a-f]{32}$/;
// conda subdirs: `noarch`, `linux-64`, `osx-arm64`, `emscripten-wasm32`, `zos-z`, ...
const SUBDIR_RE = /^[a-z0-9]+(?:-[a-z0-9_]+)?$/;

export interface ParsedFilename {
  name: string;
  version: string;
  build: string;
}

/** True when a name ends in a conda package extension (`.conda` or `.tar.bz2`). */
export function isPackageFilename(name: string): boolean {
  return PACKAGE_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/**
 * `<name>-<version>-<build>.conda|.tar.bz2` → parts. conda names may contain dashes,
 * versions and builds may not, so the split is on the LAST two dashes.
 */
export function parsePackageFilename(filename: string, where = filename): ParsedFilename {
  const bad = (why: string): TargetError =>
    new TargetError('TARGET_INVALID_FILENAME', `Package filename "${filename}" in ${where} ${why}.`, {
      hint: 'A conda package filename looks like <name>-<version>-<build>.conda (or .tar.bz2).',
    });
  // A filename ends up inside URLs we build: no separators, no dot segments, no controls.
  if (/[/\\]/.test(filename)) throw bad('contains a path separator');
  if (/[\u0000-\u001f\u007f]/.test(filename)) throw bad('contains a control character');
  if (filename.startsWith('.')) throw bad('starts with a dot');
  const ext = PACKAGE_EXTENSIONS.find((e) => filename.endsWith(e));
  if (!ext) throw bad('does not end in .conda or .tar.bz2');
  const stem = filename.slice(0, -ext.length);
  const b = stem.lastIndexOf('-');
  const v = b > 0 ? stem.lastIndexOf('-', b - 1) : -1;
  if (v <= 0 || b - v < 2 || b === stem.length - 1) throw bad('is not <name>-<version>-<build>');
  return { name: stem.slice(0, v), version: stem.slice(v + 1, b), build: stem.slice(b + 1) };
}

/** Lowercase and check a SHA-256 hex digest taken from an input file. */
export function normalizeSha256(value: unknown, where: string): string | undefined {
  return normalizeHex(value, SHA256_RE, 'SHA-256 (64 hex digits)', where);
}

/** Lowercase and check an MD5 hex digest taken from an input file. */
export function normalizeMd5(value: unknown, where: string): string | undefined {
  return normalizeHex(value, MD5_RE, 'MD5 (32 hex digits)', where);
}

function normalizeHex(value: unknown, re: RegExp, what: string, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const s = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (!re.test(s)) {
    throw new TargetError('TARGET_PARSE_FAILED', `${where}: ${JSON.stringify(value)} is not a ${what}.`, {
      hint: 'Regenerate the lockfile; a hash field must be a hex digest.',
    });
  }
  return s;
}

/** Check an optional byte size from an input file. */
export function normalizeSize(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TargetError('TARGET_PARSE_FAILED', `${where}: size ${JSON.stringify(value)} is not a byte count.`, {
      hint: 'Regenerate the lockfile; size must be a non-negative integer.',
    });
  }
  return value;
}

/**
 * Percent-encode a filename for use as one URL path segment, leaving RFC 3986 pchar
 * sub-delimiters (`+`, `!`, ...) literal as conda servers expect them.
 */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(21|24|26|27|28|29|2A|2B|2C|3B|3D|3A|40)/g, (_, h: string) =>
    String.fromCharCode(parseInt(h, 16)),
  );
}

/**
 * A package URL → record fields. Only http(s): the whole pipeline (repodata, sidecars)
 * fetches relative to the channel, and a `file:` channel has no such transport here (use a
 * package file target with `--channel` instead). Query strings and fragments are
 * rejected because sidecar URLs are built by appending to the path.
 */
export function recordFromUrl(raw: string, where = raw): PackageRecord {
  const invalid = (why: string, hint = 'Give a URL like https://host/<channel>/<subdir>/<name>-<version>-<build>.conda.'): TargetError =>
    new TargetError('TARGET_INVALID_URL', `Package URL "${raw}" in ${where} ${why}.`, { hint });
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch (e) {
    throw new TargetError('TARGET_INVALID_URL', `"${raw}" in ${where} is not a valid URL.`, {
      hint: 'Give a URL like https://host/<channel>/<subdir>/<file>.conda.',
      cause: e,
    });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw invalid(`uses the unsupported scheme "${u.protocol}"`, 'Only http(s) package URLs are supported; for a local file use the file path with --channel URL.');
  }
  if (u.search || u.hash) throw invalid('has a query or fragment');
  // Credentials would be copied into reports and lockfiles; token channels use /t/<token>/.
  if (u.username || u.password) throw invalid('embeds credentials', 'Remove user:password from the URL.');
  // Check the raw path, not only the normalised one: WHATWG URL parsing silently resolves
  // `..`, which would let a lockfile entry point somewhere other than it appears to.
  const rawPath = raw.trim().replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  const rawSegments = rawPath.split('/');
  if (rawSegments.some((s) => s === '..' || s === '.' || /^%2e(%2e)?$/i.test(s) || /^\.%2e$|^%2e\.$/i.test(s))) {
    throw invalid('contains a dot segment');
  }
  const segments = u.pathname.split('/');
  if (segments.length < 3) throw invalid('does not end in /<subdir>/<file>');
  const encFile = segments[segments.length - 1];
  const encSubdir = segments[segments.length - 2];
  let filename: string;
  let subdir: string;
  try {
    filename = decodeURIComponent(encFile);
    subdir = decodeURIComponent(encSubdir);
  } catch (e) {
    throw new TargetError('TARGET_INVALID_URL', `Package URL "${raw}" in ${where} has bad percent-encoding.`, {
      hint: 'Each % must start a valid UTF-8 escape (%2B for +); fix the URL in the environment file.',
      cause: e,
    });
  }
  if (!isPackageFilename(filename)) throw invalid('does not end in .conda or .tar.bz2');
  if (!SUBDIR_RE.test(subdir)) throw invalid(`has "${subdir}" where the conda subdir (e.g. linux-64, noarch) belongs`);
  const parts = parsePackageFilename(filename, where);
  const channelPath = segments.slice(0, -2).join('/');
  const channel = `${u.protocol}//${u.host}${channelPath}`.replace(/\/+$/, '');
  return { url: u.href, channel, subdir, filename, ...parts };
}

export function isValidSubdir(s: string): boolean {
  return SUBDIR_RE.test(s);
}
