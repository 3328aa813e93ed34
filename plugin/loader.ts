// Resolve, validate and compose the plugins a host's config names.
//
// Plugin code is distrusted: everything it hands back is checked, everything it throws is
// caught and re-raised as a PluginError naming the plugin and the hook (the hook contract), and it
// only ever sees frozen copies of package records. The single exception is
// PackageBlockedError (and our own typed errors raised further down the chain): a refusal is
// the intended outcome and must reach the host unchanged.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exports as resolveExports } from 'resolve.exports';
import { PluginError, describeError } from '../src/errors.ts';
import type { CondaInstallerPlugin } from './contract.ts';
import { type LoadedPlugins, composePlugins, describeValue, validatePlugin } from './compose.ts';

export { composePlugins, validatePlugin } from './compose.ts';
export type { LoadedPlugins } from './compose.ts';

/** A plugin as a host's config names it: a package name or path, optionally with options. */
export type PluginSpec = string | readonly [string, unknown];

export interface LoadPluginsOptions {
  /** Directory of the host's config file: relative paths and package names resolve from it. */
  configDir: string;
}

/** Resolve, import, validate and compose the plugins named in a host's config, in order. */
export async function loadPlugins(specs: readonly PluginSpec[], options: LoadPluginsOptions): Promise<LoadedPlugins> {
  const plugins: CondaInstallerPlugin[] = [];
  for (const spec of specs) {
    const [id, pluginOptions] = typeof spec === 'string' ? [spec, undefined] : spec;
    plugins.push(await loadOne(id, pluginOptions, options.configDir));
  }
  return composePlugins(plugins);
}

async function loadOne(id: string, pluginOptions: unknown, configDir: string): Promise<CondaInstallerPlugin> {
  if (typeof id !== 'string' || id.trim() === '') {
    throw new PluginError('PLUGIN_INVALID', `A plugin entry in the host's config is not a non-empty string (${describeValue(id)}).`, {
      hint: 'Name each plugin by package name or path, e.g. "conda-attest/plugin" or "./my-plugin.js".',
    });
  }
  const url = resolveSpecifier(id, configDir);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new PluginError('PLUGIN_HOOK_FAILED', `Plugin "${id}" failed while loading (module evaluation): ${describeError(e)}.`, {
      hint: 'Fix the error in the plugin module, or remove it from the host config.',
      cause: e,
    });
  }
  let candidate = mod.default !== undefined ? mod.default : mod.plugin;
  if (candidate === undefined) {
    throw new PluginError('PLUGIN_INVALID', `Plugin "${id}" has neither a default export nor a \`plugin\` export.`, {
      hint: 'Export the plugin object (or a factory `(options) => plugin`) as default or as `plugin`.',
    });
  }
  if (typeof candidate === 'function') {
    try {
      candidate = await (candidate as (o: unknown) => unknown)(pluginOptions);
    } catch (e) {
      throw new PluginError('PLUGIN_HOOK_FAILED', `Plugin "${id}" threw in its factory: ${describeError(e)}.`, {
        hint: 'Check the options given to the plugin in the host config.',
        cause: e,
      });
    }
  }
  return validatePlugin(candidate, id);
}

/** True when a plugin entry names a file: `./x`, `../x`, an absolute path (or a `file:` URL). */
function isExplicitPath(id: string): boolean {
  return id.startsWith('./') || id.startsWith('../') || id.startsWith('.\\') || id.startsWith('..\\') || isAbsolute(id);
}

/**
 * Explicit paths (relative to the config dir, or absolute) become file URLs; anything else
 * is a package name, resolved from the config dir's node_modules only. Never a file by a
 * bare name: `events` (a Node built-in name, which `require.resolve` answers as itself) must
 * not become `./events` in the working directory, and global folders or NODE_PATH are not
 * the config's directory. Plugins run code, so where they come from is policy (docs/plugin.md).
 */
function resolveSpecifier(id: string, configDir: string): string {
  if (id.startsWith('file:')) return id;
  if (isExplicitPath(id)) {
    const path = resolvePath(configDir, id);
    if (!existsSync(path)) {
      throw new PluginError('PLUGIN_NOT_FOUND', `Plugin "${id}" was not found at ${path}.`, {
        hint: 'Relative plugin paths resolve from the directory of the host config file.',
      });
    }
    return pathToFileURL(path).href;
  }
  const notFound = (cause?: unknown): PluginError =>
    new PluginError('PLUGIN_NOT_FOUND', `Plugin "${id}" is not an installed package in a node_modules at or above ${configDir}.`, {
      hint: `Install it next to the host config (npm install ${packageName(id)}); a plugin file needs an explicit path, e.g. "./${id}".`,
      cause,
    });
  // A package specifier never steps out of its package directory (`x/../../evil.js`).
  if (id.includes('\\') || id.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) throw notFound();
  // The plugin is loaded with import(), so its package is resolved the way import() would:
  // `exports` with the import conditions, honoured in the object's own key order (the first
  // matching key wins, as in Node's resolver).
  const found = resolveImportTarget(id, configDir);
  if (found === undefined) throw notFound();
  if (found instanceof Error) throw notFound(found);
  return pathToFileURL(found).href;
}

function packageName(id: string): string {
  const parts = id.split('/');
  return id.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * The file `import(id)` would load from `configDir`: the nearest `node_modules/<name>`
 * above it, then its `exports` (import, node, default conditions) or, without `exports`,
 * its `main`. Undefined when no such package directory exists; an Error when it exists but
 * does not export `id` (or its package.json is unreadable).
 */
function resolveImportTarget(id: string, configDir: string): string | Error | undefined {
  const name = packageName(id);
  for (let dir = resolvePath(configDir); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name);
    const pkgJson = join(pkgDir, 'package.json');
    if (existsSync(pkgJson)) {
      try {
        const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { exports?: unknown; main?: unknown };
        let target: string | undefined;
        if (pkg.exports !== undefined && pkg.exports !== null) target = resolveExports(pkg, id)?.[0];
        else if (id === name) target = typeof pkg.main === 'string' ? pkg.main : 'index.js';
        else target = '.' + id.slice(name.length);
        if (target === undefined) return new Error(`${pkgJson} exports no file for "${id}"`);
        const path = join(pkgDir, target);
        return existsSync(path) ? path : new Error(`${path} does not exist`);
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}
