// Finding and reading the configuration file (docs/configuration.md): a bounded
// search from the working directory upward, or an explicit --config PATH. This is the I/O
// edge, with resolveConfig below (key files are read here); validation, defaults and
// resolution are pure functions in resolve.ts.
//
// A configuration is data (docs/configuration.md). The search finds only declarative files
// (JSON, YAML, a package.json key); a JS/TS config runs code, so it is loaded only when the
// user names it (--config, the plugin's configPath). Files are read through cosmiconfig's
// Explorer, not its `cosmiconfig()` factory: the factory reads cosmiconfig's own "meta
// config" (`.config/config.*`, including .js/.ts that it executes, and a `cosmiconfig` key
// in package.json) from the process's working directory before any search, and has no
// option to turn that off. The Explorer is given its options directly (no meta config), and
// the version is pinned exactly in package.json because this class is cosmiconfig-internal.
import { constants, readFileSync } from 'node:fs';
import { lstat, open, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Loader } from 'cosmiconfig';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
// cosmiconfig's Explorer and fastest-levenshtein are loaded on first use only (start-up
// time); the YAML parser likewise (src/util/yaml.ts).
const requireLazy = createRequire(import.meta.url);
import { ConfigError, describeError } from '../errors.ts';
import type { ResolvedConfig } from '../types.ts';
import { editDistance } from '../util/edit-distance.ts';
import { JsonTooDeepError, MAX_JSON_DEPTH, parseStrictJson } from '../util/json-strict.ts';
import { type ConfigHost, configSchema, keyFilePaths, resolveConfigOn } from './resolve.ts';
import type { Config } from '../generated/config-types.ts';
import { type CheckedTexts, openCheckedTexts } from '../lock/checked.ts';
import { loadVerdictKey, stateDir } from '../cache/verdict-cache.ts';
import { packageVersion } from '../version.ts';
import { loadYamlParser, yamlParser } from '../util/yaml.ts';

export { configSchema } from './resolve.ts';

const MODULE = 'conda-attest';

/** Declarative configuration files, looked for in each directory of the search. */
const DATA_PLACES: readonly string[] = ['package.json', `.${MODULE}rc`, `.${MODULE}rc.json`, `.${MODULE}rc.yaml`, `.${MODULE}rc.yml`];
/** Configuration modules: documented, never loaded by the search (CONFIG_CODE_NOT_LOADED). */
const CODE_PLACES: readonly string[] = [`${MODULE}.config.js`, `${MODULE}.config.mjs`, `${MODULE}.config.cjs`, `${MODULE}.config.ts`];
/** Every documented configuration file name of a project directory. */
export const SEARCH_PLACES: readonly string[] = [...DATA_PLACES, ...CODE_PLACES];
/** The same in the user-wide directory ($XDG_CONFIG_HOME/conda-attest). */
const USER_DATA_PLACES: readonly string[] = ['config', 'config.json', 'config.yaml', 'config.yml'];
const USER_CODE_PLACES: readonly string[] = ['config.js', 'config.mjs', 'config.cjs', 'config.ts'];

/**
 * What a loader returns for a document that is explicitly `null` (JSON `null`, YAML `~` or
 * `null`, a module exporting null, `"conda-attest": null` in package.json). cosmiconfig
 * reads a bare null as "no configuration here" and would silently fall back to the
 * defaults (every check off); this marker reaches validation instead, which rejects it:
 * a configuration document must be a mapping.
 */
const NULL_DOCUMENT: object = Object.freeze({ __condaAttestNullDocument: true });
const nullMarked = (v: unknown): unknown => (v === null ? NULL_DOCUMENT : v);

// `$import` (cosmiconfig's key for "merge these files under this one"): followed by us, not
// by cosmiconfig, which reads any path — a device, a FIFO, a file of any size — with no
// depth bound. Here an import is a regular JSON or YAML file of at most MAX_IMPORT_BYTES,
// at most MAX_IMPORT_DEPTH levels deep, never one already being imported (a cycle); anything
// else is CONFIG_IMPORT_FAILED. The loaders return the merged document without the key, so
// cosmiconfig never sees it. Merge: imports in order, then the importing file; mappings
// merge key by key, any other value (lists included) is replaced by the later one, so a
// shared base can never add to a list (e.g. trusted_identities) that a project sets.
const MAX_IMPORT_DEPTH = 4;
const MAX_IMPORT_BYTES = 1 << 20;
const IMPORT_HINT = 'A $import names JSON or YAML files (relative to the importing file), at most 1 MiB each and 4 levels deep, without cycles.';

function importFailed(message: string, cause?: unknown): ConfigError {
  return new ConfigError('CONFIG_IMPORT_FAILED', message, { hint: IMPORT_HINT, cause });
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && v !== NULL_DOCUMENT;
}

/** `over` on top of `base`: mappings key by key, anything else replaced. Own keys only (`__proto__` is data). */
function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(over)) {
    const merged = Object.hasOwn(out, k) ? mergeConfig(out[k], v) : v;
    Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A regular file's text, refusing anything else or anything larger than the cap (checked on the open file). */
async function readImport(path: string, chain: string): Promise<string> {
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; the
    // open file is then checked to be a regular file before a byte is read.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw importFailed(`${chain} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw importFailed(`${chain} is not a regular file.`);
    if (st.size > MAX_IMPORT_BYTES) throw importFailed(`${chain} is ${st.size} bytes, more than the ${MAX_IMPORT_BYTES}-byte cap for an imported file.`);
    const buf = Buffer.alloc(MAX_IMPORT_BYTES + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > MAX_IMPORT_BYTES) throw importFailed(`${chain} is more than the ${MAX_IMPORT_BYTES}-byte cap for an imported file.`);
    }
    return buf.toString('utf8', 0, got);
  } finally {
    await fh.close();
  }
}

const IMPORT_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml'];

/** True when `path` is `dir` or below it. */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * A `$import` path is data from the importing file, and what it names becomes policy: only
 * a relative path to a .json/.yaml/.yml file inside the importing file's directory tree. Any
 * other is refused before anything is read, so the error can never show a foreign file's
 * content or keys (docs/configuration.md).
 */
function importOutside(rel: string, file: string, why: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `${file}: $import ${JSON.stringify(rel)} ${why}.`, {
    hint: 'A $import names a .json, .yaml or .yml file by a relative path inside the importing file\'s directory (e.g. policy/base.yaml); copy a shared base policy into the project.',
  });
}

function checkImportPath(rel: string, file: string): void {
  if (isAbsolute(rel) || /^[A-Za-z]:/.test(rel) || rel.startsWith('\\')) throw importOutside(rel, file, 'is an absolute path');
  if (rel.split(/[\\/]/).includes('..')) throw importOutside(rel, file, 'leads outside its directory (`..`)');
  if (!IMPORT_EXTENSIONS.includes(extname(rel).toLowerCase())) throw importOutside(rel, file, 'does not end in .json, .yaml or .yml');
}

/** `doc` (loaded from `file`) with its `$import` followed and merged, recursively. */
async function withImports(doc: unknown, file: string, stack: readonly string[] = []): Promise<unknown> {
  if (!isMapping(doc) || !Object.hasOwn(doc, '$import')) return doc;
  const chainOf = (p: string): string => [...stack, file, p].join(' → ');
  const spec = doc.$import;
  const list = typeof spec === 'string' ? [spec] : Array.isArray(spec) && spec.every((x) => typeof x === 'string') ? (spec as string[]) : undefined;
  if (!list) throw importFailed(`${file}: $import must be a file path or a list of file paths.`);
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (k !== '$import') Object.defineProperty(own, k, { value: v, enumerable: true, writable: true, configurable: true });
  const self = await realpath(file).catch(() => resolve(file));
  const here = [...stack, self];
  if (here.length > MAX_IMPORT_DEPTH) throw importFailed(`${here.join(' → ')}: imports nest more than ${MAX_IMPORT_DEPTH} levels deep.`);
  let merged: unknown = {};
  const home = await realpath(dirname(file)).catch(() => resolve(dirname(file)));
  for (const rel of list) {
    checkImportPath(rel, file);
    const target = resolve(dirname(file), rel);
    const real = await realpath(target).catch((e: unknown) => {
      throw importFailed(`${chainOf(target)}: the imported file does not exist (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, e);
    });
    // A symbolic link inside the tree that points out of it escapes just like `..`.
    if (!isInside(home, real)) throw importOutside(rel, file, 'leads outside its directory (through a symbolic link)');
    if (here.includes(real)) throw importFailed(`${chainOf(real)}: an import cycle (${real} is already being imported).`);
    const ext = extname(real).toLowerCase();
    if (!IMPORT_EXTENSIONS.includes(ext)) throw importFailed(`${chainOf(real)}: only JSON and YAML files can be imported.`);
    const text = await readImport(real, chainOf(real));
    let imported: unknown;
    try {
      imported = ext === '.json' ? parseStrictJson(text) : loadYamlDocument(text);
    } catch (e) {
      throw importFailed(`${chainOf(real)} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${describeError(e).split('\n')[0]}`, e);
    }
    if (!isMapping(imported)) throw importFailed(`${chainOf(real)}: an imported configuration must be a mapping.`);
    merged = mergeConfig(merged, await withImports(imported, real, here));
  }
  return mergeConfig(merged, own);
}

/**
 * The strict parse (no duplicate keys, bounded depth: src/util/json-strict.ts) of a JSON
 * configuration file, or, for exact bytes that passed it before, JSON.parse alone: the scan
 * loads jsonc-parser and walks the text on every run (measured: require 6-8 ms of CPU). The
 * memo is the configuration's (below), its entries HMACs of the text under the cache key.
 */
async function strictJson(content: string, memo: CheckedTexts | undefined): Promise<unknown> {
  const digest = memo?.digest(`strict JSON\n${content}`);
  if (digest !== undefined && memo!.has(digest)) return JSON.parse(content);
  const doc = parseStrictJson(content);
  if (digest !== undefined) await memo!.add(digest);
  return doc;
}

/** The JSON loader, remembering texts that passed the strict parse in `memo` (when given). */
const jsonLoader = (memo: CheckedTexts | undefined): Loader => async (filepath, content) => {
  const doc = JSON.parse(content) as unknown;
  // package.json: cosmiconfig picks our key out itself and reads a null value as "absent".
  if (basename(filepath) === 'package.json') {
    if (typeof doc === 'object' && doc !== null && Object.hasOwn(doc, MODULE)) {
      // A second "conda-attest" key (or any duplicate) would let the file show one policy
      // and enforce another; a package.json without our key is not ours to judge.
      await strictJson(content, memo);
      const own = (doc as Record<string, unknown>)[MODULE];
      if (own === null) return { [MODULE]: NULL_DOCUMENT };
      return { ...(doc as Record<string, unknown>), [MODULE]: await withImports(own, filepath) };
    }
    return doc;
  }
  return nullMarked(await withImports(await strictJson(content, memo), filepath));
};

// The `yaml` package (already a dependency for lockfiles) rather than cosmiconfig's
// js-yaml: one YAML parser in the product. Duplicate keys are errors (uniqueKeys), so a
// second `require:` cannot silently override the first. YAML is a superset of JSON,
// which makes this the loader for the extensionless `.conda-attestrc` too.
// A file holding only comments is an empty file (no document); an explicit `~` / `null`
// is a null document.
function loadYamlDocument(content: string): unknown {
  const doc = yamlParser().parseDocument(content, { uniqueKeys: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  if (doc.contents === null) return undefined;
  return doc.toJS();
}

const loadYaml: Loader = async (filepath, content) => {
  await loadYamlParser();
  const doc = loadYamlDocument(content);
  if (doc === undefined) return undefined;
  return nullMarked(await withImports(doc, filepath));
};

/**
 * JS and TS configs by dynamic import. Node 24 strips TypeScript types natively, so a
 * `.ts` config needs no compiler at runtime (cosmiconfig's own TS loader would require the
 * `typescript` package, a devDependency only). The modification time in the URL keeps
 * Node's module cache from serving a stale config to a long-lived process.
 */
const loadModule: Loader = async (filepath) => {
  const { mtimeMs } = await stat(filepath);
  const mod = (await import(`${pathToFileURL(filepath).href}?mtime=${mtimeMs}`)) as { default?: unknown };
  if (!('default' in mod) || mod.default === undefined) {
    throw new Error('the module has no default export (write `export default { ... }`)');
  }
  return nullMarked(await withImports(await mod.default, filepath));
};

const loaders = (memo: CheckedTexts | undefined) => ({
  '.json': jsonLoader(memo),
  '.yaml': loadYaml,
  '.yml': loadYaml,
  noExt: loadYaml,
  '.js': loadModule,
  '.mjs': loadModule,
  '.cjs': loadModule,
  '.ts': loadModule,
  '.mts': loadModule,
  '.cts': loadModule,
});

/** The part of cosmiconfig's internal Explorer used here (see the top of this file). */
interface CosmiconfigExplorer {
  load(filepath: string): Promise<{ config: unknown; filepath: string; isEmpty?: boolean } | null>;
}
let explorerModule: { Explorer: new (options: object) => CosmiconfigExplorer } | undefined;

/** A cosmiconfig Explorer with our loaders and no meta configuration (it only ever `load`s named files). */
function explorer(memo?: CheckedTexts): CosmiconfigExplorer {
  explorerModule ??= requireLazy('cosmiconfig/dist/Explorer.js') as { Explorer: new (options: object) => CosmiconfigExplorer };
  return new explorerModule.Explorer({
    moduleName: MODULE,
    searchPlaces: [...DATA_PLACES],
    loaders: loaders(memo),
    transform: (x: unknown) => x,
    cache: false,
    metaConfigFilePath: null,
    searchStrategy: 'none',
    mergeImportArrays: true,
    mergeSearchPlaces: false,
    ignoreEmptySearchPlaces: false,
  });
}

export interface LoadConfigOptions {
  /** Directory to search from (upward). */
  cwd: string;
  /** Explicit configuration file (`--config PATH`), relative to cwd. No search is done. JS/TS files are run. */
  configPath?: string;
  /** Environment (XDG_CONFIG_HOME, XDG_CACHE_HOME, HOME); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** A further directory where the upward search stops (tests: a temporary root). */
  stopDir?: string;
  /**
   * Remember a configuration once validated, in the state directory of `env`, and take a
   * document validated before without validating it again (see `validated` below). The
   * command-line tool turns it on; a library caller gets no files written.
   */
  memo?: boolean;
}

/** The loaded document for validation: a null document is null again (validation rejects it). */
function unmark(config: unknown): unknown {
  return config === NULL_DOCUMENT ? null : config;
}

function parseFailed(file: string, e: unknown): ConfigError {
  if (e instanceof ConfigError) return e; // CONFIG_IMPORT_FAILED / CONFIG_INVALID from a loader
  // Valid JSON, only nested deeper than any configuration can be: the same answer as the
  // depth bound of a parsed document (src/config/resolve.ts), not a syntax error.
  if (e instanceof JsonTooDeepError) {
    return new ConfigError('CONFIG_INVALID', `The configuration in ${file} is nested more than ${MAX_JSON_DEPTH} levels deep.`, {
      hint: 'Fix the file: schema/config.schema.json documents every key (none is nested that deep).',
      cause: e,
    });
  }
  // cosmiconfig prefixes its own "JSON Error in <file>:" line; keep only the cause.
  // The parser's first line ends with ":" before its code frame ("at line 3, column 1:").
  const why = describeError(e).replace(/^(JSON|YAML) Error in [^\n]*:\n/, '').split('\n')[0]!.replace(/[:.\s]+$/, '');
  return new ConfigError('CONFIG_PARSE_FAILED', `The configuration file ${file} could not be read: ${why}.`, {
    hint: 'Fix the syntax of the file (JSON without duplicate keys, YAML, or a JS/TS module with a default export).',
    cause: e,
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The directories the search reads, nearest first: the start and each parent up to and
 * including the first that is a git repository root (holds `.git`), the home directory or
 * `stopDir`. With none of them at or above the start, the start alone: a shared,
 * world-writable parent (`/tmp`, `/srv`) is never read (docs/configuration.md).
 */
export async function searchDirectories(start: string, home: string, stopDir?: string): Promise<string[]> {
  const dirs: string[] = [];
  for (let dir = start; ; dir = dirname(dir)) {
    dirs.push(dir);
    if (dir === home || dir === stopDir || (await exists(join(dir, '.git')))) return dirs;
    if (dirname(dir) === dir) return [start];
  }
}

/** The configuration files among `places` in `dir` (package.json only with our key). */
async function configFilesIn(dir: string, places: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const place of places) {
    const file = join(dir, place);
    if (!(await isFile(file))) continue;
    if (place === 'package.json') {
      let doc: unknown;
      try {
        doc = JSON.parse(await readFile(file, 'utf8'));
      } catch (e) {
        throw parseFailed(file, e);
      }
      if (typeof doc !== 'object' || doc === null || !Object.hasOwn(doc, MODULE)) continue;
    }
    found.push(file);
  }
  return found;
}

/** The one configuration file of a directory, refusing two of them and a module (it would run code). */
async function pickIn(dir: string, data: readonly string[], code: readonly string[]): Promise<string | undefined> {
  const found = await configFilesIn(dir, [...data, ...code]);
  if (found.length > 1) {
    throw new ConfigError('CONFIG_AMBIGUOUS', `${dir} holds ${found.length} configuration files: ${found.join(', ')}; conda-attest never picks one silently.`, {
      hint: 'Keep one of them (delete or rename the others), or name the one to use with --config PATH.',
    });
  }
  const file = found[0];
  if (file !== undefined && code.includes(basename(file))) {
    throw new ConfigError('CONFIG_CODE_NOT_LOADED', `The configuration ${file} is a JavaScript/TypeScript module: the search does not run code, and it does not look further up for another policy.`, {
      hint: `If you trust this file, load it explicitly with --config ${file} (that runs it); otherwise remove it or write the policy as .conda-attestrc.yaml.`,
    });
  }
  return file;
}

/** `$XDG_CONFIG_HOME/conda-attest` (default `~/.config/conda-attest`). */
function userConfigDir(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), MODULE);
}

/** Read one configuration file through cosmiconfig (our loaders). Empty file: `{}`. */
async function readConfigFile(loader: CosmiconfigExplorer, file: string): Promise<unknown> {
  let result;
  try {
    result = await loader.load(file);
  } catch (e) {
    throw parseFailed(file, e);
  }
  // cosmiconfig answers null for a package.json without our key.
  if (result === null && basename(file) === 'package.json') {
    throw new ConfigError('CONFIG_NOT_FOUND', `${file} has no "${MODULE}" key.`, {
      hint: `Add a "${MODULE}" object to package.json, or point --config at a dedicated file.`,
    });
  }
  // An empty file is an empty configuration: defaults apply, but it is still the source.
  return result === null || result.isEmpty ? {} : unmark(result.config);
}

/**
 * Find, read, validate and resolve the configuration. With `configPath`: that file, of any
 * kind (a JS/TS module is run). Otherwise the search: the directories of searchDirectories,
 * nearest first, then the user-wide directory; in each, the declarative files of
 * DATA_PLACES. The first directory holding a configuration decides: two files there are
 * CONFIG_AMBIGUOUS, a module there is CONFIG_CODE_NOT_LOADED (never skipped in favour of a
 * policy further up). No configuration found → the built-in defaults (every channel
 * disabled, so every package is `skipped`), with `source` undefined. Relative paths inside
 * the file resolve against the file's directory.
 *
 * @throws ConfigError CONFIG_NOT_FOUND (explicit path missing), CONFIG_PARSE_FAILED,
 *   CONFIG_INVALID, CONFIG_KEY_INVALID, CONFIG_AMBIGUOUS, CONFIG_CODE_NOT_LOADED.
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<ResolvedConfig> {
  const env = opts.env ?? process.env;
  const memo = opts.memo ? openCheckedTexts(join(stateDir(env), CONFIG_MEMO), loadVerdictKey(env)) : undefined;
  const loader = explorer(memo);

  if (opts.configPath !== undefined) {
    const file = resolve(opts.cwd, opts.configPath);
    if (!(await isFile(file))) {
      throw new ConfigError('CONFIG_NOT_FOUND', `The configuration file ${file} does not exist or is not a file.`, {
        hint: 'Check the --config path (relative paths are resolved against the working directory).',
      });
    }
    const raw = await readConfigFile(loader, file);
    return resolveValidated(await validated(raw, file, memo), dirname(file), file, { env });
  }

  const start = resolve(opts.cwd);
  const home = resolve(env.HOME || homedir());
  const dirs = await searchDirectories(start, home, opts.stopDir === undefined ? undefined : resolve(opts.stopDir));
  let file: string | undefined;
  for (const dir of dirs) {
    file = await pickIn(dir, DATA_PLACES, CODE_PLACES);
    if (file !== undefined) break;
  }
  file ??= await pickIn(userConfigDir(env, home), USER_DATA_PLACES, USER_CODE_PLACES);
  if (file === undefined) return resolveValidated(await validated({}, undefined, memo), start, undefined, { env });
  return resolveValidated(await validated(await readConfigFile(loader, file), file, memo), dirname(file), file, { env });
}

export interface ResolveOptions {
  /** Environment for XDG_CACHE_HOME / HOME (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

function homeOf(env: NodeJS.ProcessEnv): string {
  return env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
}


/** The file's text, or why it cannot be read. */
function readKeyFile(path: string): string | { error: string } {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? 'error' };
  }
}

/**
 * A validated configuration (validateConfig, src/config/resolve.ts) → ResolvedConfig, with
 * paths relative to `baseDir` (the config file's directory) and `~/`, the cache directory
 * after the XDG Base Directory spec, and the key files read here, the only I/O.
 *
 * @throws ConfigError CONFIG_KEY_INVALID (details: one line per unusable key entry).
 */
export function resolveValidated(config: Config, baseDir: string, source?: string, options: ResolveOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  // `~/` is the home directory, relative paths are relative to the config file's directory.
  const resolvePath: ConfigHost['resolvePath'] = (p, dir) => (p === '~' || p.startsWith('~/') ? join(homeOf(env), p.slice(1)) : resolve(dir, p));
  return resolveConfigOn(config, baseDir, source, {
    resolvePath,
    // XDG Base Directory: a relative XDG_CACHE_HOME is invalid and must be ignored.
    defaultCacheDir: () => (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? join(env.XDG_CACHE_HOME, 'conda-attest') : join(homeOf(env), '.cache', 'conda-attest')),
    keyFiles: new Map(keyFilePaths(config, baseDir, resolvePath).map((f) => [f, readKeyFile(f)])),
  });
}

// Configurations validated before. Validation is a pure function of the loaded document
// (all files of a `$import` merged), and loading and running the generated validator was
// ~20 ms of CPU in every run (measured: import 15 ms + one validation 6 ms, median of 5).
// So the document's JSON text, with the version and the schema it was checked against, is
// remembered with its validated form (the schema's defaults filled in) in the state
// directory, under the same HMAC key as the identity lockfile's memo (src/lock/checked.ts):
// a later run that loads the same document takes the validated form and does not load the
// validator. Any other document, one that JSON cannot represent exactly (a JS config's
// functions, NaN, a Date), and any entry whose MAC does not hold (written by someone
// without the key, or damaged) get the full validation; a document that fails it is never
// remembered. Resolution (key files, URLs, patterns) always runs.
const CONFIG_MEMO = 'config-checked-v1.json';

/** The document as JSON text, when JSON represents it exactly (plain data only), else undefined. */
function exactJson(doc: unknown): string | undefined {
  const plain = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
    if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
    if (depth > MAX_JSON_DEPTH || typeof v !== 'object') return false;
    if (Array.isArray(v)) return v.every((x) => plain(x, depth + 1));
    if (Object.getPrototypeOf(v) !== Object.prototype) return false;
    // `__proto__` as a key is data in JSON but not in the copy validation makes of it.
    return !Object.hasOwn(v, '__proto__') && Object.values(v).every((x) => plain(x, depth + 1));
  };
  return plain(doc, 0) ? JSON.stringify(doc) : undefined;
}

let schemaDigest: string | undefined;

/** validateConfig with the generated validator, or the validated form remembered for this exact document. */
async function validated(raw: unknown, source: string | undefined, configMemo: CheckedTexts | undefined): Promise<Config> {
  const text = configMemo ? exactJson(raw === undefined ? {} : raw) : undefined;
  const memo = text === undefined ? undefined : configMemo;
  if (memo) schemaDigest ??= createHash('sha256').update(JSON.stringify(configSchema)).digest('hex');
  const digest = memo?.digest(`${packageVersion()}\n${schemaDigest}\n${text}`);
  const known = digest === undefined ? undefined : memo?.result(digest);
  if (known !== undefined) return JSON.parse(known) as Config;
  const { validateConfigData } = await import('./validator.ts');
  const config = validateConfigData(raw, source);
  if (digest !== undefined) await memo?.add(digest, JSON.stringify(config));
  return config;
}

/**
 * NO_CONFIG: the one-line error (exit 2) for a run that found no configuration. Without one
 * every channel would be skipped and the run would "pass" having checked nothing.
 */
export function noConfigError(cwd: string): ConfigError {
  return new ConfigError(
    'NO_CONFIG',
    `No conda-attest configuration was found (searched from ${cwd} up to the git repository root or the home directory, and in the user config directory), so there is no policy to verify against.`,
    { hint: 'Create one with `conda-attest init`, write .conda-attestrc.yaml as in the README quick start, or pass --config PATH.' },
  );
}
