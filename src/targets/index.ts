// Targets → PackageRecord[]: the I/O edge (reading files) in front of the pure parsers in
// lockfiles.ts and package-url.ts. The kind of each target is detected from its content
// (or its name for package files), never from a flag.
import { readdir, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AttestError, TargetError, reasonFromError } from '../errors.ts';
import type { PackageRecord, Reason } from '../types.ts';
import { loadYamlParser } from '../util/yaml.ts';
import { isExplicitText, mergeRecords, parseYamlTargetWithLines, readExplicit, readCondaLock, readPixiLock, type NotCovered, type TargetContents } from './lockfiles.ts';
import { encodePathSegment, isPackageFilename, isValidSubdir, parseChannelArgument, parsePackageFilename, recordFromUrl } from './package-url.ts';
import { readPackageIndex } from './package-index.ts';
import type { CheckedTexts } from '../lock/checked.ts';

export { parsePackageFilename, parsePackageUrl, recordFromUrl, encodePathSegment, isPackageFilename } from './package-url.ts';
export { parsePixiLock, parseCondaLock, parseExplicit, mergeRecords, readPixiLock, readCondaLock } from './lockfiles.ts';
export type { NotCovered, TargetContents } from './lockfiles.ts';

export interface LoadTargetsOptions {
  /** Base for relative paths. */
  cwd: string;
  /** Channel URL for local package files (`--channel`). May end in `/<subdir>`. */
  channel?: string;
  /** conda subdir for local package files (`--platform`), when `channel` does not end in one. */
  platform?: string;
  /** Lockfiles read before: the memo of the file at an absolute path (see readLockfileText). */
  memo?: (path: string) => CheckedTexts;
}

/** Default targets looked for in the working directory, in order. */
const DEFAULT_TARGETS = ['pixi.lock', 'conda-lock.yml'] as const;

/** `pixi.lock`, else `conda-lock.yml`, in `cwd`; undefined when neither exists. */
export function findDefaultTarget(cwd: string): string | undefined {
  for (const name of DEFAULT_TARGETS) {
    const p = resolve(cwd, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Where the default target was looked for, and what was found. */
export interface DefaultTargetSearch {
  /** The nearest pixi.lock / conda-lock.yml at or above `cwd` (within the search), if any. */
  found?: string;
  /** The directories searched, nearest first. */
  searched: string[];
  /** When none was found: lockfiles one directory below `cwd` (sorted, at most 5), to say where one is. */
  below: string[];
}

/**
 * The default target of a run without TARGET, found the way the config is: in `cwd`, then
 * each parent up to the git repository root or the home directory (never a shared parent
 * like /tmp; `searchDirectories`, docs/configuration.md). A lockfile in a parent is the
 * project's from a subdirectory of it, as `pixi` itself finds it.
 */
export async function searchDefaultTarget(cwd: string, home: string): Promise<DefaultTargetSearch> {
  const { searchDirectories } = await import('../config/load.ts');
  const searched = await searchDirectories(resolve(cwd), resolve(home));
  for (const dir of searched) {
    const found = findDefaultTarget(dir);
    if (found) return { found, searched, below: [] };
  }
  return { searched, below: (await lockfilesBelow(cwd)).slice(0, 5) };
}

/** The pixi.lock / conda-lock.yml files directly in the subdirectories of `dir`, sorted. */
async function lockfilesBelow(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules').map((d) => d.name);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const found = findDefaultTarget(join(dir, name));
    if (found) out.push(found);
  }
  return out;
}

/** The lockfiles a directory given as a target holds (pixi.lock, conda-lock.yml), by name. */
export function lockfilesIn(dir: string): string[] {
  return DEFAULT_TARGETS.filter((name) => existsSync(join(dir, name)));
}

/**
 * EXPLICIT_MD5_ONLY: how many packages the targets pin by MD5 alone (`URL#<md5>`, as
 * conda-lock's explicit render and `conda list --explicit --md5` write it). An MD5 is not
 * what an attestation names (CEP 27: the SHA-256 of the package), so each is downloaded
 * and hashed, and the MD5 is checked on the same bytes (docs/lockfile.md). Pure.
 */
export function md5OnlyNotice(records: readonly PackageRecord[]): Reason | undefined {
  const n = records.filter((r) => r.md5 !== undefined && r.sha256 === undefined && !r.localPath).length;
  if (n === 0) return undefined;
  return {
    code: 'EXPLICIT_MD5_ONLY',
    message: `${n} package${n === 1 ? ' is' : 's are'} pinned by MD5 only (URL#md5): ${n === 1 ? 'it is' : 'each is'} downloaded to take the SHA-256 the attestation is checked against, and the MD5 is checked on the same bytes.`,
    hint: 'Write the explicit file with SHA-256 (`conda list --explicit --sha256`) to check without downloading.',
  };
}

const KNOWN_SUBDIR_RE = /^(noarch|(linux|osx|win|emscripten|wasi|zos|freebsd)-[a-z0-9_]+)$/;
const SCHEME_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Every target of a run: its package records, what it holds that is not covered, and the files read. */
export interface TargetSet extends TargetContents {
  /** The targets as given (absolute paths for files, URLs as written), in order. */
  inputs: string[];
}

/** Load every target, deduplicated by URL (conflicting digests are an error) and sorted by URL. */
export async function loadTargets(targets: string[], opts: LoadTargetsOptions): Promise<PackageRecord[]> {
  return (await loadTargetSet(targets, opts)).records;
}

/** {@link loadTargets}, also counting the entries conda attestations do not cover. */
export async function loadTargetSet(targets: string[], opts: LoadTargetsOptions): Promise<TargetSet> {
  const all: PackageRecord[] = [];
  const notCovered: NotCovered = { pypi: 0, source: 0, local: 0 };
  for (const t of targets) {
    const got = await loadTarget(t, opts);
    all.push(...got.records);
    notCovered.pypi += got.notCovered.pypi;
    notCovered.source += got.notCovered.source;
    notCovered.local += got.notCovered.local;
  }
  return {
    // One target's records are merged and sorted already (a second pass would only copy them).
    records: targets.length === 1 ? all : mergeRecords(all, 'the targets'),
    notCovered,
    inputs: targets.map((t) => (SCHEME_RE.test(t) ? t : resolve(opts.cwd, t))),
  };
}

const NOTHING_UNCOVERED: NotCovered = Object.freeze({ pypi: 0, source: 0, local: 0 });
const only = (records: PackageRecord[]): TargetContents => ({ records, notCovered: { ...NOTHING_UNCOVERED } });

async function loadTarget(target: string, opts: LoadTargetsOptions): Promise<TargetContents> {
  if (SCHEME_RE.test(target)) return only([recordFromUrl(target, 'the command line')]);
  const path = resolve(opts.cwd, target);
  if (isPackageFilename(basename(path))) return only([await localPackageRecord(path, opts)]);
  const text = await readTargetText(path, target);
  return readLockfileText(text, target, opts.memo?.(path));
}

/** Contents up to this size (JSON characters, ~3,000 packages) are remembered. */
const MEMO_MAX_CHARS = 1 << 20;

/**
 * A pixi.lock, conda-lock.yml or explicit file. What a read gives is a pure function of the
 * text and the name it was given by (`target`: error messages, and each record's source
 * line), so the contents of a text read before come from `memo` (one JSON parse), without
 * loading or running the YAML parser or checking each URL again (measured, process CPU,
 * median of interleaved runs: a warm one-package pixi.lock run 245 → 223 ms, bare node 90
 * ms; docs/performance.md "Warm runs, round 4"). The memo is the identity lockfile's kind
 * (src/lock/checked.ts): entries are MACs under the cache key, so a writer of cache_dir
 * cannot make a text read as other records, and a damaged or unreadable entry is a parse.
 * Only a read that succeeded is remembered: a text that fails is read, and fails, on every
 * run.
 */
async function readLockfileText(text: string, target: string, memo: CheckedTexts | undefined): Promise<TargetContents> {
  const digest = memo?.digest(`${target}\n`, text); // in parts: the text is not copied (src/util/sha256.ts updateText)
  const known = digest === undefined ? undefined : contentsOf(memo!.result(digest));
  if (known) return known;
  const contents = isExplicitText(text) ? readExplicit(text, target) : await readYamlText(text, target);
  if (digest !== undefined) {
    const json = JSON.stringify(contents);
    if (json.length <= MEMO_MAX_CHARS) await memo!.add(digest, json);
  }
  return contents;
}

async function readYamlText(text: string, target: string): Promise<TargetContents> {
  await loadYamlParser();
  const { doc, lines } = parseYamlTargetWithLines(text, target);
  const kind = detectYamlKind(doc);
  if (kind === 'pixi') return readPixiLock(doc, target, lines);
  if (kind === 'conda-lock') return readCondaLock(doc, target, lines);
  throw new TargetError('TARGET_UNSUPPORTED', `${target} is not a pixi.lock, conda-lock.yml, conda explicit file or package.`, {
    hint: 'Give a pixi.lock, a conda-lock.yml, an @EXPLICIT file, a package URL, or a .conda/.tar.bz2 file with --channel.',
  });
}

/** Remembered contents, when they have the shape a read gives (anything else is read again). */
function contentsOf(json: string | undefined): TargetContents | undefined {
  if (json === undefined) return undefined;
  try {
    const v = JSON.parse(json) as Partial<TargetContents> | null;
    const n = v?.notCovered;
    if (!Array.isArray(v?.records) || !n || ![n.pypi, n.source, n.local].every(Number.isInteger)) return undefined;
    return v as TargetContents;
  } catch {
    return undefined;
  }
}

/** pixi.lock has `environments` + `packages`; conda-lock.yml has `package` + `metadata`/`version`. */
function detectYamlKind(doc: unknown): 'pixi' | 'conda-lock' | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  if ('environments' in d && 'version' in d) return 'pixi';
  if ('package' in d && 'version' in d) return 'conda-lock';
  return undefined;
}

async function readTargetText(path: string, shown: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw directoryError(path, shown);
    throw fileError(e, shown);
  }
}

/** A directory given as a target: name the lockfiles it holds, so the user can pass one. */
function directoryError(path: string, shown: string): TargetError {
  const held = lockfilesIn(path);
  const inside = (name: string) => join(shown, name);
  if (held.length === 0) {
    return new TargetError('TARGET_IS_DIRECTORY', `${shown} is a directory, and it holds no pixi.lock or conda-lock.yml.`, {
      hint: 'Pass a pixi.lock, a conda-lock.yml, an @EXPLICIT file, a package URL, or a .conda/.tar.bz2 file with --channel.',
    });
  }
  return new TargetError('TARGET_IS_DIRECTORY', `${shown} is a directory; it holds ${held.join(' and ')}: pass ${held.length === 1 ? 'that' : 'one of them'}.`, {
    hint: `For example: ${inside(held[0]!)}`,
  });
}

function fileError(e: unknown, shown: string): TargetError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new TargetError('TARGET_NOT_FOUND', `${shown} does not exist.`, { hint: 'Check the path.', cause: e });
  }
  return new TargetError('TARGET_UNREADABLE', `${shown} cannot be read (${code ?? 'error'}).`, {
    hint: 'Check the path and its permissions.',
    cause: e,
  });
}

/**
 * A local package file. Its channel cannot be known from the bytes, so `--channel` is
 * required. The subdir comes from `--platform`, else a channel URL that ends in it
 * (`https://host/channel/linux-64`), else a `<subdir>/` directory the file is kept in, else
 * the package's own `info/index.json` (every .conda and .tar.bz2 carries one). The digest
 * is computed later from the bytes (`localPath`), never trusted from anywhere else.
 */
async function localPackageRecord(path: string, opts: LoadTargetsOptions): Promise<PackageRecord> {
  const filename = basename(path);
  const parts = parsePackageFilename(filename, path);
  if (!opts.channel) {
    throw new TargetError('TARGET_NO_CHANNEL', `The package file ${filename} needs the channel it belongs to.`, {
      hint: 'Pass --channel URL (e.g. --channel https://prefix.dev/conda-forge/linux-64).',
    });
  }
  let channel = parseChannelArgument(opts.channel, '--channel');
  let subdir = opts.platform;
  // Only well-known platform names are taken from the URL: a channel may well be called
  // `my-channel`, which looks like `<os>-<arch>`.
  const last = channel.slice(channel.lastIndexOf('/') + 1);
  if (subdir === undefined && KNOWN_SUBDIR_RE.test(last)) {
    subdir = last;
    channel = channel.slice(0, channel.lastIndexOf('/'));
  }
  // A file kept in a channel-shaped directory (`…/linux-64/foo.conda`) names its subdir.
  const parent = basename(dirname(path));
  if (subdir === undefined && KNOWN_SUBDIR_RE.test(parent)) subdir = parent;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
  } catch (e) {
    throw fileError(e, path);
  }
  if (subdir === undefined) {
    // The package says it itself: the one thing its attestation cannot give (a CEP 27
    // subject names the file and its digest, not the subdir). A damaged archive is a
    // problem of this package, judged like any other (invalid, blocked), not of the run:
    // its digest is still checked against the attestation, which a tampered file fails.
    let index: ReturnType<typeof readPackageIndex>;
    try {
      index = readPackageIndex(path);
    } catch (e) {
      if (!(e instanceof AttestError) || e.code === 'TARGET_UNREADABLE') throw e;
      return { ...localRecord(channel, UNKNOWN_SUBDIR, filename, parts, path), unreadable: reasonFromError(e, 'ARCHIVE_MALFORMED') };
    }
    // A file name that disagrees with what the package says it is would be verified under
    // the wrong name (CEP 27 compares the subject name with the file name): an input
    // error, whichever of the two is wrong.
    for (const k of ['name', 'version', 'build'] as const) {
      if (index[k] !== parts[k]) {
        throw new TargetError(
          'TARGET_INVALID_FILENAME',
          `The package file ${filename} is named as ${k} "${parts[k]}", but its info/index.json says ${k} "${index[k]}".`,
          { hint: `Rename the file to ${index.name}-${index.version}-${index.build}${filename.endsWith('.conda') ? '.conda' : '.tar.bz2'}, or check where it came from.` },
        );
      }
    }
    subdir = index.subdir;
  }
  if (!isValidSubdir(subdir)) {
    throw new TargetError('TARGET_INVALID_URL', `"${subdir}" is not a conda subdir.`, { hint: 'Use e.g. linux-64, osx-arm64 or noarch.' });
  }
  return localRecord(channel, subdir, filename, parts, path);
}

/** The subdir of a local package whose archive could not say (its record is `unreadable`). */
const UNKNOWN_SUBDIR = 'unknown';

function localRecord(channel: string, subdir: string, filename: string, parts: Pick<PackageRecord, 'name' | 'version' | 'build'>, path: string): PackageRecord {
  return { url: `${channel}/${subdir}/${encodePathSegment(filename)}`, channel, subdir, filename, ...parts, localPath: path };
}
