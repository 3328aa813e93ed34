// Pure parsers: lockfile / explicit-file text → PackageRecord[]. No I/O; `where` names the
// file in error messages. Records are deduplicated by URL and sorted by URL so that the
// same input always gives the same output order.
import { yamlParser as yaml } from '../util/yaml.ts';
const parseYaml = (src: string, options?: import('yaml').ParseOptions & import('yaml').DocumentOptions & import('yaml').SchemaOptions & import('yaml').ToJSOptions): unknown => yaml().parse(src, options);
import { TargetError } from '../errors.ts';
import type { PackageRecord } from '../types.ts';
import { SPLIT_MIN_BYTES, parseSplitYaml } from './yaml-split.ts';
import { normalizeMd5, normalizeSha256, normalizeSize, parsePackageFilename, recordFromUrl } from './package-url.ts';

interface Hashes {
  sha256?: unknown;
  md5?: unknown;
  size?: unknown;
}

/** Build one record from a URL plus the hashes a lockfile recorded for it. */
function recordWithHashes(url: string, h: Hashes, where: string, source?: SourceLine): PackageRecord {
  const rec = recordFromUrl(url, where);
  if (source) rec.source = source;
  const sha256 = normalizeSha256(h.sha256, `${where} (sha256 of ${rec.filename})`);
  const md5 = normalizeMd5(h.md5, `${where} (md5 of ${rec.filename})`);
  const size = normalizeSize(h.size, `${where} (size of ${rec.filename})`);
  if (sha256 !== undefined) rec.sha256 = sha256;
  if (md5 !== undefined) rec.md5 = md5;
  if (size !== undefined) rec.size = size;
  return rec;
}

/**
 * Deduplicate by URL. The same URL with two different digests is an input error: one of
 * the two entries is wrong, and guessing which would let a tampered entry through.
 */
export function mergeRecords(records: PackageRecord[], where: string): PackageRecord[] {
  const byUrl = new Map<string, PackageRecord>();
  // A record is copied only when a duplicate adds a field to it (the input is never
  // changed): copying all of them held every record twice (a 50,000-package pixi.lock).
  const copies = new Set<PackageRecord>();
  for (const r of records) {
    let seen = byUrl.get(r.url);
    if (!seen) {
      byUrl.set(r.url, r);
      continue;
    }
    for (const k of ['sha256', 'md5', 'size'] as const) {
      if (r[k] === undefined || seen[k] === r[k]) continue;
      if (seen[k] !== undefined) {
        throw new TargetError('TARGET_PARSE_FAILED', `${where} lists ${r.url} twice with different ${k} values.`, {
          hint: 'Regenerate the lockfile; one of the two entries has been altered.',
        });
      }
      if (!copies.has(seen)) {
        seen = { ...seen };
        copies.add(seen);
        byUrl.set(r.url, seen);
      }
      (seen as unknown as Record<string, unknown>)[k] = r[k];
    }
  }
  return [...byUrl.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
}

/**
 * The fields of a package entry the readers below read: pixi.lock `packages` items
 * (readPixiLock) and conda-lock.yml `package` items (readCondaLock). Everything else an
 * entry carries (depends, constrains, license, purls, timestamps…) is never read.
 */
const READ_FIELDS: Readonly<Record<string, readonly string[]>> = {
  packages: ['kind', 'url', 'path', 'conda', 'pypi', 'conda_source', 'file_name', 'sha256', 'md5', 'size'],
  package: ['manager', 'url', 'name', 'version', 'hash', 'size'],
};

/**
 * A string that does not keep its source alive. V8 makes a substring of 13 or more
 * characters a slice that holds its whole parent: every URL and digest the YAML parser
 * returns would hold the chunk of the lockfile it was parsed from (a 50,000-package
 * pixi.lock: all 19 MB of its `packages` section, alive until the report was written).
 */
function ownString(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

/** `v` with every string its own (see ownString); mappings and lists copied. */
function ownValue(v: unknown): unknown {
  if (typeof v === 'string') return ownString(v);
  if (Array.isArray(v)) return v.map(ownValue);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: ownValue(x), enumerable: true, writable: true, configurable: true });
  return out;
}

/** A package entry reduced to the fields read (anything not a mapping is kept as it is, for the reader's error). */
function keepEntry(fields: readonly string[], entry: unknown): unknown {
  if (!isObject(entry)) return entry;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (Object.hasOwn(entry, f)) out[f] = ownValue(entry[f]);
  return out;
}

/**
 * What the split parse of a big lockfile keeps of each member as it reads it
 * (src/targets/yaml-split.ts `item`): package entries reduced to the fields read, every
 * string its own. The parsed document is never whole: a 50,000-package pixi.lock keeps
 * 50,000 small entries instead of 50,000 full ones plus the text they were cut from.
 * Both readers give the same records and the same errors as on the whole parse (a
 * property test checks it on generated lockfiles).
 */
export function keepReadFields(path: readonly (string | number)[], value: unknown): unknown {
  const fields = path.length > 0 ? READ_FIELDS[path[0] as string] : undefined;
  if (fields && Object.hasOwn(READ_FIELDS, path[0] as string)) {
    if (path.length === 2) return keepEntry(fields, value);
    if (path.length === 1) return Array.isArray(value) ? value.map((e) => keepEntry(fields, e)) : ownValue(value);
  }
  return ownValue(value);
}

/** A target's file (as given) and the 1-based line of an entry in it. */
type SourceLine = NonNullable<PackageRecord['source']>;

/**
 * Where the items of a top-level YAML list start: `itemLine('packages', 3)` is the 1-based
 * line of the fourth entry of `packages:`. Lines come from the parse itself (the YAML
 * parser's node ranges and its line counter), so annotations point at what the parser
 * read, not at a second guess over the text.
 */
interface YamlLines {
  itemLine(key: string, index: number): number | undefined;
}

/**
 * parseYamlTarget plus the line of every top-level list item. One parse: the document is
 * built once, converted to plain data for the parsers, and kept for line look-ups.
 */
export function parseYamlTargetWithLines(text: string, where: string, opts: { splitMinBytes?: number; splitMinLines?: number } = {}): { doc: unknown; lines: YamlLines } {
  // Big lockfiles are parsed entry by entry (bounded memory: a whole-document parse of a
  // 50,000-package pixi.lock peaks near 1 GB), the item lines read off the same cut.
  if (text.length >= (opts.splitMinBytes ?? SPLIT_MIN_BYTES)) {
    const itemLines = new Map<string, number[]>();
    const split = parseSplitYaml(text, (chunk) => parseYaml(chunk, { maxAliasCount: 1000 }), { itemLines, item: keepReadFields, minLines: opts.splitMinLines });
    if (split !== undefined) return { doc: split, lines: { itemLine: (key, index) => itemLines.get(key)?.[index] } };
  }
  const y = yaml();
  const lineCounter = new y.LineCounter();
  let value: unknown;
  let document: import('yaml').Document.Parsed;
  try {
    document = y.parseDocument(text, { lineCounter });
    const first = document.errors[0];
    if (first) throw first;
    value = document.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw yamlFailed(e, where);
  }
  const seqs = new Map<string, readonly unknown[] | null>();
  const itemsOf = (key: string): readonly unknown[] | null => {
    let items = seqs.get(key);
    if (items === undefined) {
      const node = y.isMap(document.contents) ? document.contents.get(key, true) : undefined;
      items = y.isSeq(node) ? node.items : null;
      seqs.set(key, items);
    }
    return items;
  };
  return {
    doc: value,
    lines: {
      itemLine(key, index) {
        const item = itemsOf(key)?.[index] as { range?: [number, number, number] } | undefined;
        const start = item?.range?.[0];
        return start === undefined ? undefined : lineCounter.linePos(start).line;
      },
    },
  };
}

function yamlFailed(e: unknown, where: string): TargetError {
  const line = e instanceof yaml().YAMLError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  return new TargetError('TARGET_PARSE_FAILED', `${where} is not valid YAML${line}: ${first}`, {
    hint: 'Check the file, or regenerate it with pixi / conda-lock.',
    cause: e,
  });
}

/** Parse YAML, turning syntax errors into TARGET_PARSE_FAILED with the line number. */
export function parseYamlTarget(text: string, where: string): unknown {
  // Big lockfiles are parsed entry by entry (bounded memory); anything unusual whole.
  if (text.length >= SPLIT_MIN_BYTES) {
    const split = parseSplitYaml(text, (chunk) => parseYaml(chunk, { maxAliasCount: 1000 }), { item: keepReadFields });
    if (split !== undefined) return split;
  }
  try {
    return parseYaml(text, { maxAliasCount: 1000 });
  } catch (e) {
    throw yamlFailed(e, where);
  }
}

function sourceLine(file: string, line: number | undefined): SourceLine | undefined {
  return line === undefined ? undefined : { file, line };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(where: string, what: string): TargetError {
  return new TargetError('TARGET_PARSE_FAILED', `${where}: ${what}.`, {
    hint: 'Regenerate the lockfile with a current pixi / conda-lock.',
  });
}

/** A `conda:` location that is a URL (binary package) rather than a path (pixi source package). */
function isUrlLocation(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** A package in a channel on this machine (`file:///srv/channel/linux-64/x.conda`). */
function isFileUrl(s: string): boolean {
  return /^file:\/\//i.test(s);
}

/**
 * Entries of an environment file that conda attestations cannot cover: PyPI packages (no
 * CEP 27 publish attestation exists for them) and conda packages without a channel URL
 * (pixi source packages and local paths, built or kept on the user's machine). Counted so
 * that a report can say what it did not check.
 */
export interface NotCovered {
  /** Distinct PyPI packages (by location). */
  pypi: number;
  /** Distinct conda entries without a URL: source packages and local paths. */
  source: number;
  /** Distinct `file://` packages: a channel on this machine, with no attestations to fetch. */
  local: number;
}

/** What a target holds: the conda package records, and the count of what is not covered. */
export interface TargetContents {
  records: PackageRecord[];
  notCovered: NotCovered;
}

const PIXI_LOCK_VERSIONS = [4, 5, 6, 7] as const;

/** Collects distinct PyPI and source locations while a lockfile is walked. */
class Uncovered {
  private readonly pypi = new Set<string>();
  private readonly source = new Set<string>();
  private readonly local = new Set<string>();
  /** A `file://` package: a channel on this machine, which publishes no attestations to fetch. */
  addLocal(location: string): void {
    this.local.add(location);
  }
  /**
   * A PyPI entry located by a URL is a PyPI package; one located by a path (`pypi: ./`, the
   * project itself, or `path: ./local`, an editable package) is built from source here:
   * counted with the source entries, which no index serves or attests.
   */
  addPypi(location: unknown): void {
    if (typeof location === 'string' && !isUrlLocation(location)) this.source.add(location);
    else this.pypi.add(String(location));
  }
  addSource(location: unknown): void {
    this.source.add(String(location));
  }
  counts(): NotCovered {
    return { pypi: this.pypi.size, source: this.source.size, local: this.local.size };
  }
}

/**
 * v7 `platforms:`: a list of `{name, subdir?, virtual-packages?}` (rattler_lock
 * `DeserializablePlatformData`). Environments key their packages by platform NAME, which
 * need not be a subdir (`name: linux-64-cuda, subdir: linux-64`); an environment naming a
 * platform that is not listed is an error in rattler_lock too.
 */
function readPlatforms(doc: Record<string, unknown>, where: string): Set<string> {
  const list = doc.platforms ?? [];
  if (!Array.isArray(list)) throw malformed(where, '`platforms` is not a list');
  const names = new Set<string>();
  list.forEach((p, i) => {
    const at = `${where} platforms[${i}]`;
    if (!isObject(p)) throw malformed(at, 'entry is not a mapping');
    if (typeof p.name !== 'string' || p.name === '') throw malformed(at, '`name` is not a non-empty string');
    if (p.subdir !== undefined && p.subdir !== null && typeof p.subdir !== 'string') throw malformed(at, '`subdir` is not a string');
    const vps = p['virtual-packages'] ?? [];
    if (!Array.isArray(vps) || vps.some((v) => typeof v !== 'string')) throw malformed(at, '`virtual-packages` is not a list of strings');
    if (names.has(p.name)) throw malformed(at, `platform "${p.name}" is listed twice`);
    names.add(p.name);
  });
  return names;
}

/**
 * pixi.lock (rattler_lock v4–v7). Every environment and platform is read: the union of the
 * `environments.<env>.packages.<platform>` references, with digests from the top-level
 * `packages` list (v6–v7: `conda: URL`; v4–v5: `kind: conda` + `url:`). PyPI entries are not
 * conda packages; source packages (v6 `conda: <path>`, v7 `conda_source: name[hash] @ path`
 * or `conda: <path>`) are built on the user's machine and have no channel and no publish
 * attestation by construction. Both are skipped and counted (`notCovered`).
 */
export function readPixiLock(doc: unknown, where: string, lines?: YamlLines): TargetContents {
  if (!isObject(doc)) throw malformed(where, 'the top level is not a mapping');
  const version = doc.version;
  if (!PIXI_LOCK_VERSIONS.includes(version as 4 | 5 | 6 | 7)) {
    throw new TargetError('TARGET_UNSUPPORTED', `${where} has pixi lock version ${JSON.stringify(version)}; supported: ${PIXI_LOCK_VERSIONS.join(', ')}.`, {
      hint: typeof version === 'number' && version > 7
        ? 'This lockfile was written by a newer pixi than this conda-attest understands: upgrade conda-attest.'
        : 'Regenerate it with a pixi release that writes one of the supported versions.',
    });
  }
  const v7 = version === 7;
  // v4 and v5 tag each package with `kind`; v6 merged the kind into the location key
  // (`conda: URL` / `pypi: URL`), which v7 keeps (rattler_lock FileFormatVersion::V6).
  const kindTagged = version === 4 || version === 5;
  const platforms = v7 ? readPlatforms(doc, where) : undefined;
  const records: PackageRecord[] = [];
  const uncovered = new Uncovered();
  const packages = doc.packages ?? [];
  if (!Array.isArray(packages)) throw malformed(where, '`packages` is not a list');
  packages.forEach((p, i) => {
    const at = `${where} packages[${i}]`;
    if (!isObject(p)) throw malformed(at, 'entry is not a mapping');
    let url: unknown;
    if (kindTagged) {
      // v4 and v5 (rattler_lock's V5 model, used for both): `kind: conda` with `url:`, or
      // `kind: pypi` located by `url:` or `path:` (a local or editable PyPI package).
      if (p.kind === 'pypi') return uncovered.addPypi(p.url ?? p.path);
      if (p.kind !== 'conda') throw malformed(at, '`kind` is neither conda nor pypi');
      if (p.url === undefined) throw malformed(at, 'conda entry has no `url`');
      url = p.url;
    } else if (p.conda !== undefined) {
      url = p.conda;
    } else if (p.pypi !== undefined) {
      return uncovered.addPypi(p.pypi);
    } else if (v7 && p.conda_source !== undefined) {
      if (typeof p.conda_source !== 'string') throw malformed(at, '`conda_source` is not a string');
      return uncovered.addSource(p.conda_source);
    } else {
      throw malformed(at, v7 ? 'entry has none of `conda`, `conda_source`, `pypi`' : 'entry has neither `conda` nor `pypi`');
    }
    if (typeof url !== 'string') throw malformed(at, 'conda location is not a string');
    if (isFileUrl(url)) return uncovered.addLocal(url);
    if (!isUrlLocation(url)) return uncovered.addSource(url); // source package or local path
    const rec = recordWithHashes(url, p, at, sourceLine(where, lines?.itemLine('packages', i)));
    if (v7 && p.file_name !== undefined && p.file_name !== null) fileNameOverride(rec, p.file_name, at);
    records.push(rec);
  });
  const envs = doc.environments ?? {};
  if (!isObject(envs)) throw malformed(where, '`environments` is not a mapping');
  for (const [env, e] of Object.entries(envs)) {
    if (!isObject(e)) throw malformed(`${where} environments.${env}`, 'not a mapping');
    const byPlatform = e.packages ?? {};
    if (!isObject(byPlatform)) throw malformed(`${where} environments.${env}.packages`, 'not a mapping');
    for (const [platform, list] of Object.entries(byPlatform)) {
      const at = `${where} environments.${env}.packages.${platform}`;
      if (platforms && !platforms.has(platform)) throw malformed(at, `platform "${platform}" is not listed under \`platforms\``);
      if (!Array.isArray(list)) throw malformed(at, 'not a list');
      for (const ref of list) {
        if (!isObject(ref)) throw malformed(at, 'entry is not a mapping');
        if (ref.conda === undefined) {
          if (ref.pypi !== undefined) uncovered.addPypi(ref.pypi);
          else if (v7 && typeof ref.conda_source === 'string') uncovered.addSource(ref.conda_source);
          else throw malformed(at, 'entry is not a conda, conda_source or pypi reference');
          continue;
        }
        if (typeof ref.conda !== 'string') throw malformed(at, 'conda location is not a string');
        if (isFileUrl(ref.conda)) {
          uncovered.addLocal(ref.conda);
          continue;
        }
        if (!isUrlLocation(ref.conda)) {
          uncovered.addSource(ref.conda);
          continue;
        }
        records.push(recordFromUrl(ref.conda, at));
      }
    }
  }
  return { records: mergeRecords(records, where), notCovered: uncovered.counts() };
}

/** pixi.lock → package records (see {@link readPixiLock}). */
export function parsePixiLock(doc: unknown, where: string, lines?: YamlLines): PackageRecord[] {
  return readPixiLock(doc, where, lines).records;
}

/** conda-lock.yml (version 1): `package:` entries with `manager: conda`; pip entries counted as not covered. */
export function readCondaLock(doc: unknown, where: string, lines?: YamlLines): TargetContents {
  if (!isObject(doc)) throw malformed(where, 'the top level is not a mapping');
  if (doc.version !== 1) {
    throw new TargetError('TARGET_UNSUPPORTED', `${where} has conda-lock version ${JSON.stringify(doc.version)}; supported: 1.`, {
      hint: 'Regenerate it with conda-lock (unified lockfile format, version 1).',
    });
  }
  if (!Array.isArray(doc.package)) throw malformed(where, '`package` is not a list');
  const records: PackageRecord[] = [];
  const uncovered = new Uncovered();
  doc.package.forEach((p, i) => {
    const at = `${where} package[${i}]`;
    if (!isObject(p)) throw malformed(at, 'entry is not a mapping');
    if (p.manager === 'pip') return uncovered.addPypi(p.url ?? `${String(p.name)}==${String(p.version)}`);
    if (p.manager !== 'conda') return;
    if (typeof p.url !== 'string') throw malformed(at, '`url` is not a string');
    if (isFileUrl(p.url)) return uncovered.addLocal(p.url);
    const hash = p.hash ?? {};
    if (!isObject(hash)) throw malformed(at, '`hash` is not a mapping');
    records.push(recordWithHashes(p.url, { sha256: hash.sha256, md5: hash.md5, size: p.size }, at, sourceLine(where, lines?.itemLine('package', i))));
  });
  return { records: mergeRecords(records, where), notCovered: uncovered.counts() };
}

/** conda-lock.yml → package records (see {@link readCondaLock}). */
export function parseCondaLock(doc: unknown, where: string, lines?: YamlLines): PackageRecord[] {
  return readCondaLock(doc, where, lines).records;
}

/** True when the text is a conda explicit file (an `@EXPLICIT` line). */
export function isExplicitText(text: string): boolean {
  return /^@EXPLICIT[ \t]*\r?$/m.test(text);
}

/**
 * conda explicit file: `@EXPLICIT`, then one URL per line with an optional `#<digest>`
 * (32 hex = md5, 64 hex or `sha256:<64 hex>` = sha256, as conda itself accepts).
 */
export function parseExplicit(text: string, where: string): PackageRecord[] {
  return readExplicit(text, where).records;
}

/** {@link parseExplicit}, with the `file://` entries (a channel on this machine) counted as not covered. */
export function readExplicit(text: string, where: string): TargetContents {
  const records: PackageRecord[] = [];
  const uncovered = new Uncovered();
  let started = false;
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = rawLine.trim();
    const at = `${where} line ${i + 1}`;
    if (line === '' || line.startsWith('#')) return;
    if (line === '@EXPLICIT') {
      started = true;
      return;
    }
    if (!started) throw malformed(at, `"${line}" comes before the @EXPLICIT line`);
    const hashAt = line.indexOf('#');
    const url = hashAt < 0 ? line : line.slice(0, hashAt);
    const digest = hashAt < 0 ? undefined : line.slice(hashAt + 1).trim().toLowerCase();
    const h: Hashes = {};
    if (digest !== undefined) {
      if (/^[0-9a-f]{32}$/.test(digest)) h.md5 = digest;
      else if (/^(sha256:)?[0-9a-f]{64}$/.test(digest)) h.sha256 = digest.replace(/^sha256:/, '');
      else throw malformed(at, `"#${digest}" is neither an MD5 (32 hex) nor a SHA-256 (64 hex) digest`);
    }
    if (isFileUrl(url)) return uncovered.addLocal(url);
    records.push(recordWithHashes(url, h, at, { file: where, line: i + 1 }));
  });
  if (!started) throw malformed(where, 'no @EXPLICIT line');
  return { records: mergeRecords(records, where), notCovered: uncovered.counts() };
}

/**
 * pixi.lock v7 `file_name`: the package's file name when the URL's last segment is not it
 * (rattler_lock writes it only then, and takes the package's identity from it). The
 * package is still fetched from the URL, but judged — repodata record, sidecar, CEP 27
 * subject name — as `file_name`, which must itself be a conda package file name.
 */
function fileNameOverride(rec: PackageRecord, fileName: unknown, at: string): void {
  if (typeof fileName !== 'string') throw malformed(at, '`file_name` is not a string');
  const parts = parsePackageFilename(fileName, `${at} (file_name)`);
  rec.filename = fileName;
  rec.name = parts.name;
  rec.version = parts.version;
  rec.build = parts.build;
}
