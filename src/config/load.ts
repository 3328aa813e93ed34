// Finding and reading the configuration file (the policy table, "Configuration"): cosmiconfig
// from the working directory upward, or an explicit --config PATH. This is the I/O edge;
// validation, defaults and resolution are resolveConfig's job (validate.ts).
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
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

const loadJson: Loader = (filepath, content) => {
  const doc = JSON.parse(content) as unknown;
  // package.json: cosmiconfig picks our key out itself and reads a null value as "absent".
  if (basename(filepath) === 'package.json') {
    if (typeof doc === 'object' && doc !== null && Object.hasOwn(doc, MODULE) && (doc as Record<string, unknown>)[MODULE] === null) {
      return { [MODULE]: NULL_DOCUMENT };
    }
    return doc;
  }
  return nullMarked(doc);
};

// The `yaml` package (already a dependency for lockfiles) rather than cosmiconfig's
// js-yaml: one YAML parser in the product. Duplicate keys are errors (uniqueKeys), so a
// second `require:` cannot silently override the first. YAML is a superset of JSON,
// which makes this the loader for the extensionless `.conda-attestrc` too.
// A file holding only comments is an empty file (no document); an explicit `~` / `null`
// is a null document.
const loadYaml: Loader = (_filepath, content) => {
  const doc = yaml().parseDocument(content, { uniqueKeys: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  if (doc.contents === null) return undefined;
  return nullMarked(doc.toJS());
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
  return nullMarked(await mod.default);
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
