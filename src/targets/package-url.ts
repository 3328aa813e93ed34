// Pure parsing of conda package URLs and filenames into PackageRecord fields.
// Everything here distrusts its input: the values end up in URLs we build (sidecar,
// repodata) and in the CEP 27 subject-name comparison, so shapes are checked, never assumed.
import { TargetError } from '../errors.ts';
import type { PackageRecord, Reason } from '../types.ts';
import { ChannelUrl } from '../util/channel-url.ts';
import lockSchema from '../../schema/lockfile.schema.json' with { type: 'json' };

const PACKAGE_EXTENSIONS = ['.conda', '.tar.bz2'] as const;
const MD5_RE = /^[0-9a-f]{32}$/;
// conda subdirs: `noarch`, `linux-64`, `osx-arm64`, `emscripten-wasm32`, `zos-z`, ...
const SUBDIR_RE = /^[a-z0-9]+(?:-[a-z0-9_]+)?$/;

// The one grammar of package names: the lockfile schema's (a name must be pinnable), used
// here for every package a run judges, whatever parser produced its name.
const PACKAGE_NAME_RE = new RegExp(lockSchema.$defs.packageName.pattern);

/** True when `name` is in the package-name grammar (schema/lockfile.schema.json `packageName`). */
export function isPackageName(name: string): boolean {
  return PACKAGE_NAME_RE.test(name);
}

/**
 * TARGET_INVALID_NAME for a package whose name is outside the grammar, or null. A
 * per-package refusal: the filename parser splits any `<name>-<version>-<build>` so one odd
 * file does not stop a whole environment, and the run refuses that package alone.
 */
export function packageNameProblem(name: string, filename: string): Reason | null {
  if (isPackageName(name)) return null;
  return {
    code: 'TARGET_INVALID_NAME',
    message: `The package name ${JSON.stringify(name)} of ${JSON.stringify(filename)} is not a conda package name, so the package is refused.`,
    hint: 'A conda package name starts with a letter, digit or _ and holds only letters, digits and _ . + - (schema/lockfile.schema.json); ask the channel why it serves this file.',
  };
}

interface ParsedFilename {
  name: string;
  version: string;
  build: string;
}

/**
 * True when a name ends in a conda package extension (`.conda` or `.tar.bz2`), in ANY
 * case: this decides what is checked, and installers treat `X.CONDA` as a conda package
 * (mambajs compares lowercased names), so it must not slip past as "not a package".
 * parsePackageFilename accepts only the lowercase forms, so such a name is then refused.
 */
export function isPackageFilename(name: string): boolean {
  const lower = name.toLowerCase();
  return PACKAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** True when parsePackageFilename accepts `name` (a conda package file name of the one grammar). */
export function isValidPackageFilename(name: string): boolean {
  try {
    parsePackageFilename(name);
    return true;
  } catch {
    return false;
  }
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
  return normalizeHex(value, /^[0-9a-f]{64}$/, 'SHA-256 (64 hex digits)', where);
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

// --- package URLs: parsed and normalised here, and only here ----------------------------
//
// The URL a package is judged by (its channel, subdir and file name; what the lockfile and
// the report show) must be exactly the URL that is fetched. WHATWG URL parsing — what the
// HTTP client and `fetch` use — silently rewrites input: `\` becomes `/` in http(s) URLs,
// TAB/LF/CR are dropped anywhere, leading/trailing C0 controls and spaces are stripped, and
// `.`, `..`, `%2e`, `.%2E`, `%2e%2e` segments are resolved (URL Standard, "URL parsing",
// single-dot and double-dot segments). A check over the raw text that misses one spelling
// lets `…/linux-64\..\..\other/…` be shown under one channel and fetched from another, so
// everything the parser would rewrite is refused before parsing instead.

/** Never accepted in a package URL: C0/C1 controls, space, DEL, backslash, and `?`/`#` (sidecar URLs are built by appending to the path). */
const URL_FORBIDDEN = /[\u0000-\u0020\u007f-\u009f\\?#]/;

/** Percent-decoding as a server might apply it, up to three times; undefined on bad escapes. */
function decodedForms(segment: string): string[] {
  const out = [segment];
  let cur = segment;
  for (let i = 0; i < 3 && cur.includes('%'); i++) {
    try {
      cur = decodeURIComponent(cur);
    } catch {
      break;
    }
    out.push(cur);
  }
  return out;
}

/** Why the raw path segments are unsafe, or undefined: dot segments in any spelling, encoded separators, empty segments. */
function rawPathProblem(rawPath: string): string | undefined {
  const segments = rawPath.split('/').slice(1); // '' before the leading '/'
  for (const seg of segments) {
    for (const form of decodedForms(seg)) {
      if (form === '.' || form === '..') return 'contains a dot segment';
      if (/[/\\]/.test(form)) return 'contains an encoded path separator';
      if (/[\u0000-\u001f\u007f-\u009f]/.test(form)) return 'contains an encoded control character';
    }
  }
  if (segments.slice(0, -1).some((s) => s === '')) return 'contains an empty path segment (//)';
  return undefined;
}

/**
 * An http(s) URL from an input file or a host, refused when WHATWG parsing would rewrite it
 * (backslash, control or space characters, dot segments in any spelling, encoded
 * separators, empty segments) or when it has credentials, a query or a fragment. The
 * returned URL's href is the exact string to fetch. Throws TARGET_INVALID_URL.
 */
export function parseSafeHttpUrl(raw: string, where = raw): URL {
  const invalid = (why: string, hint = 'Give a URL like https://host/<channel>/<subdir>/<name>-<version>-<build>.conda.', cause?: unknown): TargetError =>
    new TargetError('TARGET_INVALID_URL', `Package URL "${raw}" in ${where} ${why}.`, { hint, cause });
  // Surrounding ASCII whitespace is layout (an explicit file's CRLF line); anything inside is not.
  const text = raw.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  const bad = URL_FORBIDDEN.exec(text);
  if (bad) {
    const c = bad[0];
    const what =
      c === '\\' ? 'contains a backslash' : c === '?' || c === '#' ? 'has a query or fragment' : `contains the control or space character U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
    throw invalid(what, c === '?' || c === '#' ? undefined : 'A package URL is printable text without backslashes or spaces; fix the environment file.');
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch (e) {
    throw new TargetError('TARGET_INVALID_URL', `"${raw}" in ${where} is not a valid URL.`, {
      hint: 'Give a URL like https://host/<channel>/<subdir>/<file>.conda.',
      cause: e,
    });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw invalid(`uses the unsupported scheme "${u.protocol}"`, 'Only http(s) package URLs are supported; for a local file use the file path with --channel URL.');
  }
  // Credentials would be copied into reports and lockfiles; token channels use /t/<token>/.
  if (u.username || u.password) throw invalid('embeds credentials', 'Remove user:password from the URL.');
  // The raw path (after `scheme://authority`), checked before WHATWG resolves anything in it.
  const why = rawPathProblem(text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''));
  if (why) throw invalid(why);
  return u;
}

/** A package URL split into what it is judged by; `url` is the exact string to fetch. */
interface PackageUrl {
  /** Normalised absolute URL (WHATWG href): what is fetched, reported and deduplicated. */
  url: string;
  /** `<scheme>//<host><path before subdir>`, no trailing slash. */
  channel: string;
  subdir: string;
  /** Decoded file name (CEP 27 subject name). */
  filename: string;
}

/**
 * THE parser for package URLs from any source (lockfiles of every format, explicit files,
 * the command line, host installers). Only http(s): the whole pipeline (repodata, sidecars)
 * fetches relative to the channel, and a `file:` channel has no such transport here (use a
 * package file target with `--channel` instead). Throws TARGET_INVALID_URL.
 */
export function parsePackageUrl(raw: string, where = raw): PackageUrl {
  const invalid = (why: string, hint = 'Give a URL like https://host/<channel>/<subdir>/<name>-<version>-<build>.conda.', cause?: unknown): TargetError =>
    new TargetError('TARGET_INVALID_URL', `Package URL "${raw}" in ${where} ${why}.`, { hint, cause });
  const u = parseSafeHttpUrl(raw, where);
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
    throw invalid('has bad percent-encoding', 'Each % must start a valid UTF-8 escape (%2B for +); fix the URL in the environment file.', e);
  }
  if (!isPackageFilename(filename)) throw invalid('does not end in .conda or .tar.bz2');
  if (!SUBDIR_RE.test(subdir)) throw invalid(`has "${subdir}" where the conda subdir (e.g. linux-64, noarch) belongs`);
  const channel = `${u.protocol}//${u.host}${segments.slice(0, -2).join('/')}`;
  // The judged parts rebuild the fetched URL exactly (no rewriting left anywhere).
  const url = u.href;
  if (url !== `${channel}/${encSubdir}/${encFile}`) throw invalid('does not normalise to itself');
  return { url, channel, subdir, filename };
}

/** A package URL → record fields (see parsePackageUrl). */
export function recordFromUrl(raw: string, where = raw): PackageRecord {
  const p = parsePackageUrl(raw, where);
  const parts = parsePackageFilename(p.filename, where);
  return { url: p.url, channel: p.channel, subdir: p.subdir, filename: p.filename, ...parts };
}

/**
 * A channel URL given on the command line (`--channel`) or by a host: the same refusals as
 * package URLs (no backslash, control, dot segment in any spelling, credentials, query),
 * returned normalised without a trailing slash. Throws TARGET_INVALID_URL.
 */
export function parseChannelArgument(raw: string, where: string): string {
  const invalid = (why: string, cause?: unknown): TargetError =>
    new TargetError('TARGET_INVALID_URL', `${where} "${raw}" is not an http(s) channel URL: it ${why}.`, {
      hint: 'Give the channel URL, e.g. https://prefix.dev/conda-forge.',
      cause,
    });
  const text = raw.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '').replace(/\/+$/, '');
  if (URL_FORBIDDEN.test(text)) throw invalid('contains a backslash, space, control character, query or fragment');
  let u: URL;
  try {
    u = new URL(text);
  } catch (e) {
    throw invalid('does not parse', e);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalid(`uses the scheme ${u.protocol}`);
  if (u.username || u.password) throw invalid('embeds credentials');
  const why = rawPathProblem(text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') + '/x');
  if (why) throw invalid(why);
  return ChannelUrl.of(u.href);
}

export function isValidSubdir(s: string): boolean {
  return SUBDIR_RE.test(s);
}
