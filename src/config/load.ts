// Finding and reading the configuration file (the policy table, "Configuration"): cosmiconfig
// from the working directory upward, or an explicit --config PATH. This is the I/O edge;
// validation, defaults and resolution are resolveConfig's job (validate.ts).
import { open, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { createRequire } from 'node:module';
// The YAML parser is loaded on first use only (start-up time: JSON configs and explicit
// files never need it).
const requireLazy = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') => (yamlModule ??= requireLazy('yaml') as typeof import('yaml'));
const parseYaml = (src: string, options?: import('yaml').ParseOptions & import('yaml').DocumentOptions & import('yaml').SchemaOptions & import('yaml').ToJSOptions): unknown => yaml().parse(src, options);
import { ConfigError, describeError } from '../errors.ts';
import type { ResolvedConfig } from '../types.ts';
import { resolveConfig } from './validate.ts';

const MODULE = 'conda-attest';

/** Where a configuration is looked for in each directory, in this order (the policy table). */
export const SEARCH_PLACES: readonly string[] = [
  'package.json',
  `.${MODULE}rc`,
  `.${MODULE}rc.json`,
  `.${MODULE}rc.yaml`,
  `.${MODULE}rc.yml`,
  `${MODULE}.config.js`,
  `${MODULE}.config.mjs`,
  `${MODULE}.config.cjs`,
  `${MODULE}.config.ts`,
];

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
    fh = await open(path, 'r');
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
  for (const rel of list) {
    const target = resolve(dirname(file), rel);
    const real = await realpath(target).catch((e: unknown) => {
      throw importFailed(`${chainOf(target)}: the imported file does not exist (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, e);
    });
    if (here.includes(real)) throw importFailed(`${chainOf(real)}: an import cycle (${real} is already being imported).`);
    const ext = extname(real).toLowerCase();
    if (!['.json', '.yaml', '.yml', ''].includes(ext)) throw importFailed(`${chainOf(real)}: only JSON and YAML files can be imported.`);
    const text = await readImport(real, chainOf(real));
    let imported: unknown;
    try {
      imported = ext === '.json' ? JSON.parse(text) : loadYamlDocument(text);
    } catch (e) {
      throw importFailed(`${chainOf(real)} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${describeError(e).split('\n')[0]}`, e);
    }
    if (!isMapping(imported)) throw importFailed(`${chainOf(real)}: an imported configuration must be a mapping.`);
    merged = mergeConfig(merged, await withImports(imported, real, here));
  }
  return mergeConfig(merged, own);
}

const loadJson: Loader = async (filepath, content) => {
  const doc = JSON.parse(content) as unknown;
  // package.json: cosmiconfig picks our key out itself and reads a null value as "absent".
  if (basename(filepath) === 'package.json') {
    if (typeof doc === 'object' && doc !== null && Object.hasOwn(doc, MODULE)) {
      const own = (doc as Record<string, unknown>)[MODULE];
      if (own === null) return { [MODULE]: NULL_DOCUMENT };
      return { ...(doc as Record<string, unknown>), [MODULE]: await withImports(own, filepath) };
    }
    return doc;
  }
  return nullMarked(await withImports(doc, filepath));
};

// The `yaml` package (already a dependency for lockfiles) rather than cosmiconfig's
// js-yaml: one YAML parser in the product. Duplicate keys are errors (uniqueKeys), so a
// second `require:` cannot silently override the first. YAML is a superset of JSON,
// which makes this the loader for the extensionless `.conda-attestrc` too.
// A file holding only comments is an empty file (no document); an explicit `~` / `null`
// is a null document.
function loadYamlDocument(content: string): unknown {
  const doc = yaml().parseDocument(content, { uniqueKeys: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  if (doc.contents === null) return undefined;
  return doc.toJS();
}

const loadYaml: Loader = async (filepath, content) => {
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

const LOADERS = {
  '.json': loadJson,
  '.yaml': loadYaml,
  '.yml': loadYaml,
  noExt: loadYaml,
  '.js': loadModule,
  '.mjs': loadModule,
  '.cjs': loadModule,
  '.ts': loadModule,
  '.mts': loadModule,
  '.cts': loadModule,
};

export interface LoadConfigOptions {
  /** Directory to search from (upward). */
  cwd: string;
  /** Explicit configuration file (`--config PATH`), relative to cwd. No search is done. */
  configPath?: string;
  /** Environment (XDG_CACHE_HOME, HOME) for defaults; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Stop the upward search at this directory (default: the home directory, cosmiconfig's `global` strategy). */
  stopDir?: string;
}

/** The loaded document for validation: a null document is null again (validation rejects it). */
function unmark(config: unknown): unknown {
  return config === NULL_DOCUMENT ? null : config;
}

function parseFailed(file: string, e: unknown): ConfigError {
  if (e instanceof ConfigError) return e; // CONFIG_IMPORT_FAILED from a loader
  // cosmiconfig prefixes its own "JSON Error in <file>:" line; keep only the cause.
  // The parser's first line ends with ":" before its code frame ("at line 3, column 1:").
  const why = describeError(e).replace(/^(JSON|YAML) Error in [^\n]*:\n/, '').split('\n')[0]!.replace(/[:.\s]+$/, '');
  return new ConfigError('CONFIG_PARSE_FAILED', `The configuration file ${file} could not be read: ${why}.`, {
    hint: 'Fix the syntax of the file (JSON, YAML, or a JS/TS module with a default export).',
    cause: e,
  });
}

/**
 * Find, read, validate and resolve the configuration. Search (unless `configPath` is
 * given): from `cwd` upward to the home directory (or `stopDir`), then the user's global
 * config directory (`$XDG_CONFIG_HOME/conda-attest/config.{json,yaml,yml,js,ts,...}`),
 * trying SEARCH_PLACES in each directory. No configuration found → the built-in defaults
 * (every channel disabled, so every package is `skipped`), with `source` undefined.
 * Relative paths inside the file resolve against the file's directory.
 *
 * @throws ConfigError CONFIG_NOT_FOUND (explicit path missing), CONFIG_PARSE_FAILED,
 *   CONFIG_INVALID, CONFIG_KEY_INVALID.
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<ResolvedConfig> {
  const env = opts.env ?? process.env;
  let explorer;
  try {
    explorer = cosmiconfig(MODULE, {
      searchPlaces: [...SEARCH_PLACES],
      loaders: LOADERS,
      searchStrategy: 'global',
      ...(opts.stopDir !== undefined ? { stopDir: resolve(opts.stopDir) } : {}),
      cache: false,
      // An empty file in the project is the project's (empty) configuration, not a reason
      // to keep searching upward into some other directory's config.
      ignoreEmptySearchPlaces: false,
    });
  } catch (e) {
    // cosmiconfig's constructor already reads its meta configuration (package.json and
    // .config/ in the process's working directory) synchronously: a broken package.json
    // fails here, before any search, and must be a config error rather than a crash.
    const file = (e as { filepath?: unknown }).filepath;
    throw parseFailed(typeof file === 'string' ? file : resolve(process.cwd(), 'package.json'), e);
  }

  if (opts.configPath !== undefined) {
    const file = resolve(opts.cwd, opts.configPath);
    try {
      const st = await stat(file);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    } catch (e) {
      throw new ConfigError('CONFIG_NOT_FOUND', `The configuration file ${file} does not exist or is not a file.`, {
        hint: 'Check the --config path (relative paths are resolved against the working directory).',
        cause: e,
      });
    }
    let result;
    try {
      result = await explorer.load(file);
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
    const raw: unknown = result === null || result.isEmpty ? {} : unmark(result.config);
    return resolveConfig(raw, dirname(file), file, { env });
  }

  let result;
  try {
    result = await explorer.search(resolve(opts.cwd));
  } catch (e) {
    const file = (e as { filepath?: unknown }).filepath;
    throw parseFailed(typeof file === 'string' ? file : 'found by the search', e);
  }
  if (!result) return resolveConfig({}, resolve(opts.cwd), undefined, { env });
  // An empty file found by the search is the configuration (defaults apply, the search
  // stops there), as with --config; see ignoreEmptySearchPlaces above.
  return resolveConfig(result.isEmpty ? {} : unmark(result.config), dirname(result.filepath), result.filepath, { env });
}

/**
 * NO_CONFIG: the one-line error (exit 2) for a run that found no configuration. Without one
 * every channel would be skipped and the run would "pass" having checked nothing.
 */
export function noConfigError(cwd: string): ConfigError {
  return new ConfigError(
    'NO_CONFIG',
    `No conda-attest configuration was found (searched from ${cwd} upward and in the user config directory), so there is no policy to verify against.`,
    { hint: 'Create one with `conda-attest init`, write .conda-attestrc.yaml as in the README quick start, or pass --config PATH.' },
  );
}
