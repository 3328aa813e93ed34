// Configuration validation and resolution under Node (src/config/resolve.ts is the shared,
// host-free part): paths are resolved against the config file's directory and the home
// directory, key files are read from disk, the cache follows the XDG Base Directory spec.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { ResolvedConfig } from '../types.ts';
import { type ConfigHost, resolveConfigOn } from './resolve.ts';

export { configSchema } from './resolve.ts';

export interface ResolveOptions {
  /** Environment for XDG_CACHE_HOME / HOME (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

function homeOf(env: NodeJS.ProcessEnv): string {
  return env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
}

// Edit distance for "did you mean" hints, loaded only when a hint is needed (a valid config
// never asks): the import alone costs ~2.5 ms CPU, measured.
let levenshtein: typeof import('fastest-levenshtein').distance | undefined;
function distance(a: string, b: string): number {
  levenshtein ??= (createRequire(import.meta.url)('fastest-levenshtein') as typeof import('fastest-levenshtein')).distance;
  return levenshtein(a, b);
}

function nodeHost(env: NodeJS.ProcessEnv): ConfigHost {
  return {
    // `~/` is the home directory, relative paths are relative to the config file's directory.
    resolvePath: (p, baseDir) => (p === '~' || p.startsWith('~/') ? join(homeOf(env), p.slice(1)) : resolve(baseDir, p)),
    defaultCacheDir() {
      // XDG Base Directory: a relative XDG_CACHE_HOME is invalid and must be ignored.
      const xdg = env.XDG_CACHE_HOME;
      return xdg && isAbsolute(xdg) ? join(xdg, 'conda-attest') : join(homeOf(env), '.cache', 'conda-attest');
    },
    readKeyFile: (path) => readFileSync(path, 'utf8'),
    distance,
  };
}

/**
 * Raw configuration data (as loaded from any config file, or `{}`) → ResolvedConfig:
 * schema validation (every failing path reported), defaults from the schema, relative
 * paths resolved against `baseDir` (the config file's directory), channel URLs
 * canonicalised, trusted keys read and parsed. Pure apart from reading key files.
 *
 * @throws ConfigError CONFIG_INVALID (details: one line per failing path) or
 *   CONFIG_KEY_INVALID (details: one line per unusable key entry).
 */
export function resolveConfig(raw: unknown, baseDir: string, source?: string, options: ResolveOptions = {}): ResolvedConfig {
  return resolveConfigOn(raw, baseDir, source, nodeHost(options.env ?? process.env));
}
