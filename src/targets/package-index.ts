// `info/index.json` of a local conda package file: the package's own statement of its
// name, version, build and subdir (conda-build writes it into every .conda and .tar.bz2).
// A local file named on the command line therefore needs no --platform: its subdir is in
// the file.
//
// Archives are untrusted input, read with the product's one archive reader
// (src/archive/reader.ts: path checks, CRC checks, decompression caps), and only the
// part that holds `info/`:
//   - `.conda` (a zip, CEP 2 / conda-package-handling): the central directory and the
//     `info-<stem>.tar.zst` member, by positioned reads; the (large) `pkg-` member is never
//     read.
//   - `.tar.bz2`: decompressed as a stream, and stopped as soon as `info/index.json` is
//     complete (conda writes `info/` first); never more than MAX_SCAN_BYTES decompressed.
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TargetError } from '../errors.ts';
import { ArchiveError, fileSource, findInTarBz2, readTar, zipEntries, zipMember, type ByteSource } from '../archive/reader.ts';

/** What `info/index.json` says about the package. */
export interface PackageIndexFields {
  name: string;
  version: string;
  build: string;
  subdir: string;
}

/** Ceiling on what is decompressed to find `info/index.json`: conda writes `info/` first, and its files before index.json are kilobytes to a few MB. The cap bounds the pure-JS bzip2 work (about 5 s at worst on a loaded 2-core machine). */
const MAX_SCAN_BYTES = 16 * 1024 * 1024;
/** Ceiling on the compressed `info-*.tar.zst` member read from a `.conda`. */
const MAX_INFO_MEMBER_BYTES = 64 * 1024 * 1024;
/** Ceiling on `info/index.json` itself. */
const MAX_INDEX_JSON_BYTES = 1024 * 1024;

const INDEX_JSON = 'info/index.json';

function unreadable(path: string, why: string, cause?: unknown): TargetError {
  return new TargetError('TARGET_PARSE_FAILED', `The package file ${path} has no readable info/index.json: ${why}.`, {
    hint: 'The file is not a complete conda package; download it again, or pass --platform to name its subdir.',
    cause,
  });
}

/** `info/index.json` of a `.conda` file: the `info-*.tar.zst` member only. */
function condaIndexJson(src: ByteSource, path: string, maxScan: number): Uint8Array {
  const info = zipEntries(src).filter((e) => !e.directory && e.name !== undefined && /^info-.*\.tar\.zst$/.test(e.name));
  if (info.length !== 1) throw unreadable(path, info.length === 0 ? 'no info-*.tar.zst member' : 'more than one info-*.tar.zst member');
  const entry = info[0]!;
  if (entry.compressedSize > MAX_INFO_MEMBER_BYTES || entry.size > MAX_INFO_MEMBER_BYTES) {
    throw unreadable(path, `its info member is larger than ${MAX_INFO_MEMBER_BYTES} bytes`);
  }
  let tar: Uint8Array;
  try {
    // node:zlib when a package file is read, not on every run that could read one.
    const { zstdDecompressSync } = createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
    tar = zstdDecompressSync(zipMember(src, entry), { maxOutputLength: maxScan });
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`Corrupt or oversized info member in ${path}: ${(e as Error).message}`, { cause: e });
  }
  const files = readTar(tar, maxScan, { select: (n) => n === INDEX_JSON });
  const bytes = files[INDEX_JSON];
  if (!bytes) throw unreadable(path, 'the info member has no info/index.json');
  return bytes;
}

/** `info/index.json` of a `.tar.bz2` file, decompressed as a stream and stopped early. */
function tarBz2IndexJson(fd: number, path: string, maxScan: number): Uint8Array {
  const bytes = findInTarBz2(fd, INDEX_JSON, {
    maxScan,
    source: path,
    tooFar: () => unreadable(path, `info/index.json is not within the first ${maxScan} decompressed bytes`),
  });
  if (!bytes) throw unreadable(path, 'the archive has no info/index.json');
  return bytes;
}

function field(doc: Record<string, unknown>, key: string, path: string): string {
  const v = doc[key];
  if (typeof v !== 'string' || v === '' || /[/\\\u0000-\u001f]/.test(v)) {
    throw unreadable(path, `"${key}" in info/index.json is ${v === undefined ? 'missing' : `not a usable value (${JSON.stringify(v)?.slice(0, 60)})`}`);
  }
  return v;
}

/**
 * Read `name`, `version`, `build` and `subdir` from a local package file's
 * `info/index.json`. Archive damage is ARCHIVE_MALFORMED / ARCHIVE_UNSAFE_PATH; a missing
 * or unusable index.json is TARGET_PARSE_FAILED.
 */
export function readPackageIndex(path: string, options: { maxScanBytes?: number } = {}): PackageIndexFields {
  const maxScan = options.maxScanBytes ?? MAX_SCAN_BYTES;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new TargetError('TARGET_UNREADABLE', `${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`, {
      hint: 'Check the path and its permissions.',
      cause: e,
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = path.endsWith('.conda') ? condaIndexJson(fileSource(fd), path, maxScan) : tarBz2IndexJson(fd, path, maxScan);
  } finally {
    closeSync(fd);
  }
  if (bytes.byteLength > MAX_INDEX_JSON_BYTES) throw unreadable(path, `info/index.json is larger than ${MAX_INDEX_JSON_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw unreadable(path, 'info/index.json is not JSON', e);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw unreadable(path, 'info/index.json is not a JSON object');
  const d = doc as Record<string, unknown>;
  return { name: field(d, 'name', path), version: field(d, 'version', path), build: field(d, 'build', path), subdir: field(d, 'subdir', path) };
}
