// Real conda packages for tests: `.conda` archives (format v2) built with Node's
// own zstd and a minimal ustar + zip writer. Reading them back goes through the product's
// one archive reader (src/archive/reader.ts).
//
// STATUS: complete for `.conda`. `.tar.bz2` is NOT provided: Node has no bzip2
// compressor and the only bzip2 code installed (seek-bzip) decompresses only, so
// there is no dependency-free way to write one (say so in tests that need it).
//
// Layout (modelled on /work/shared/interop/*.conda, which rattler-build wrote):
//   ZIP, entries STORED (uncompressed), in this order:
//     metadata.json              {"conda_pkg_format_version": 2}
//     pkg-<stem>.tar.zst         the payload files
//     info-<stem>.tar.zst        info/index.json, info/paths.json, ...
// Output is deterministic (fixed mtimes, sorted entries): the same spec gives the
// same bytes, hence the same sha256, across runs.

import { createHash } from 'node:crypto';
import { crc32, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { bufferSource, readTar as readTarArchive, zipEntries, zipMember } from '../../src/archive/reader.ts';

/** What to put in a package. */
export interface CondaPackageSpec {
  name: string;
  version: string;
  /** Build string, e.g. `h1234abc_0`. Default `h0_0`. */
  build?: string;
  /** Default: the trailing `_N` of the build string, else 0. */
  buildNumber?: number;
  /** Default `noarch`. */
  subdir?: string;
  /** Payload files: path inside the environment → content. Default: one small file. */
  files?: Record<string, string | Buffer>;
  depends?: string[];
  constrains?: string[];
  license?: string;
  /** Milliseconds since epoch written to index.json (default fixed: 2025-09-01). */
  timestamp?: number;
  /** Extra keys merged into info/index.json. */
  extraIndex?: Record<string, unknown>;
}

/** A built package with everything a repodata record or lockfile needs. */
export interface BuiltPackage {
  filename: string;
  bytes: Buffer;
  sha256: string;
  md5: string;
  size: number;
  /** The info/index.json content. */
  index: Record<string, unknown>;
  subdir: string;
}

const FIXED_MTIME = Date.UTC(2025, 8, 1, 12, 0, 0); // 2025-09-01T12:00:00Z

/** The tests' everyday package: `<name>-1.0-h0_0` in `subdir`, one small file `share/<name>.txt`. */
export function simpleSpec(name: string, subdir = 'noarch'): CondaPackageSpec & { subdir: string } {
  return { name, version: '1.0', build: 'h0_0', subdir, files: { [`share/${name}.txt`]: `${name}\n` } };
}

/** The filename of simpleSpec(name): `<name>-1.0-h0_0.conda`. */
export function simpleFilename(name: string): string {
  return condaFilename({ name, version: '1.0', build: 'h0_0' });
}

/** `<name>-<version>-<build>`, the stem of the filename. */
export function packageStem(spec: Pick<CondaPackageSpec, 'name' | 'version' | 'build'>): string {
  return `${spec.name}-${spec.version}-${spec.build ?? 'h0_0'}`;
}

/** `<name>-<version>-<build>.conda`. */
export function condaFilename(spec: Pick<CondaPackageSpec, 'name' | 'version' | 'build'>): string {
  return `${packageStem(spec)}.conda`;
}

/** The info/index.json of a spec (defaults applied), sorted keys like conda-build writes. */
export function indexJson(spec: CondaPackageSpec): Record<string, unknown> {
  const build = spec.build ?? 'h0_0';
  const subdir = spec.subdir ?? 'noarch';
  const m = /_(\d+)$/.exec(build);
  const index: Record<string, unknown> = {
    build,
    build_number: spec.buildNumber ?? (m ? Number(m[1]) : 0),
    depends: spec.depends ?? [],
    ...(spec.constrains ? { constrains: spec.constrains } : {}),
    license: spec.license ?? 'BSD-3-Clause',
    name: spec.name,
    ...(subdir === 'noarch' ? { noarch: 'generic' } : {}),
    subdir,
    timestamp: spec.timestamp ?? FIXED_MTIME,
    version: spec.version,
    ...(spec.extraIndex ?? {}),
  };
  return Object.fromEntries(Object.entries(index).sort(([a], [b]) => a.localeCompare(b)));
}

// ---------------------------------------------------------------------------
// ustar writer (POSIX.1-1988): enough for regular files with paths ≤ 255 bytes.

function octal(n: number, width: number): string {
  // width includes the terminating NUL
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One tar entry: a regular file. */
export interface TarEntry {
  path: string;
  data: Buffer;
  /** Unix mode, default 0o644. */
  mode?: number;
  /** Seconds since epoch, default fixed. */
  mtime?: number;
}

/** Write an uncompressed ustar archive (regular files only), entries in the given order. */
export function writeTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const header = Buffer.alloc(512);
    let name = e.path;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      // ustar splits long paths at a '/' into prefix (≤155) and name (≤100).
      const cut = name.lastIndexOf('/', 155);
      if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar path too long: ${name}`);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    header.write(name, 0, 100, 'utf8');
    header.write(octal(e.mode ?? 0o644, 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii'); // uid
    header.write(octal(0, 8), 116, 'ascii'); // gid
    header.write(octal(e.data.length, 12), 124, 'ascii');
    header.write(octal(e.mtime ?? FIXED_MTIME / 1000, 12), 136, 'ascii');
    header.write('        ', 148, 'ascii'); // checksum placeholder: 8 spaces
    header.write('0', 156, 'ascii'); // typeflag: regular file
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    header.write(prefix, 345, 155, 'utf8');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    blocks.push(header, e.data);
    const pad = (512 - (e.data.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024)); // end of archive: two zero blocks
  return Buffer.concat(blocks);
}

/** Read a tar archive with the product's archive reader: `{ path → bytes }` in archive order. */
export function readTar(tar: Buffer): Map<string, Buffer> {
  return new Map(Object.entries(readTarArchive(tar)).map(([name, data]) => [name, Buffer.from(data)]));
}

// ---------------------------------------------------------------------------
// ZIP writer: STORED entries only, as conda's format requires.

/** DOS date/time of the fixed mtime (2025-09-01 12:00:00). */
function dosDateTime(ms: number): { time: number; date: number } {
  const d = new Date(ms);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** Write a ZIP archive of uncompressed (stored) entries, in the given order. */
export function writeZip(entries: { name: string; data: Buffer }[]): Buffer {
  const { time, date } = dosDateTime(FIXED_MTIME);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(0, 8); // method: stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attrs: regular file 0644
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Read a ZIP with the product's archive reader (central directory, sizes and CRC-32 checked). */
export function readZip(zip: Buffer): { name: string; data: Buffer; method: number }[] {
  const src = bufferSource(zip);
  return zipEntries(src)
    .filter((e) => !e.directory)
    .map((e) => ({ name: e.rawName, data: Buffer.from(zipMember(src, e)), method: e.method }));
}

// ---------------------------------------------------------------------------
// The package

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Build a real `.conda` archive (format v2). Deterministic for a given spec. */
export function buildCondaPackage(spec: CondaPackageSpec): Buffer {
  const stem = packageStem(spec);
  const files = spec.files ?? { [`share/${spec.name}/README`]: `${spec.name} ${spec.version}\n` };
  const payload = Object.keys(files)
    .sort()
    .map((path) => ({ path, data: Buffer.isBuffer(files[path]) ? (files[path] as Buffer) : Buffer.from(files[path] as string) }));
  const paths = {
    paths: payload.map((f) => ({ _path: f.path, path_type: 'hardlink', sha256: sha256(f.data), size_in_bytes: f.data.length })),
    paths_version: 1,
  };
  const info: TarEntry[] = [
    { path: 'info/index.json', data: Buffer.from(JSON.stringify(indexJson(spec), null, 2)) },
    { path: 'info/paths.json', data: Buffer.from(JSON.stringify(paths, null, 2)) },
    { path: 'info/about.json', data: Buffer.from(JSON.stringify({ summary: `test package ${spec.name}` })) },
  ];
  return writeZip([
    { name: 'metadata.json', data: Buffer.from(JSON.stringify({ conda_pkg_format_version: 2 })) },
    { name: `pkg-${stem}.tar.zst`, data: zstdCompressSync(writeTar(payload)) },
    { name: `info-${stem}.tar.zst`, data: zstdCompressSync(writeTar(info)) },
  ]);
}

/** Build a package and compute its filename and digests. */
export function makeCondaPackage(spec: CondaPackageSpec): BuiltPackage {
  const bytes = buildCondaPackage(spec);
  return {
    filename: condaFilename(spec),
    bytes,
    sha256: sha256(bytes),
    md5: createHash('md5').update(bytes).digest('hex'),
    size: bytes.length,
    index: indexJson(spec),
    subdir: spec.subdir ?? 'noarch',
  };
}

/** Unpack a `.conda` archive: metadata.json and the files of both inner tarballs. */
export function readCondaPackage(bytes: Buffer): {
  entries: string[];
  metadata: unknown;
  info: Map<string, Buffer>;
  pkg: Map<string, Buffer>;
} {
  const entries = readZip(bytes);
  const get = (re: RegExp) => entries.find((e) => re.test(e.name))?.data;
  const meta = get(/^metadata\.json$/);
  const info = get(/^info-.*\.tar\.zst$/);
  const pkg = get(/^pkg-.*\.tar\.zst$/);
  if (!meta || !info || !pkg) throw new Error('not a .conda archive: missing metadata.json, info- or pkg- tarball');
  return {
    entries: entries.map((e) => e.name),
    metadata: JSON.parse(meta.toString('utf8')),
    info: readTar(zstdDecompressSync(info)),
    pkg: readTar(zstdDecompressSync(pkg)),
  };
}
