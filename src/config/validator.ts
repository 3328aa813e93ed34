// The configuration's schema validator (generated from schema/config.schema.json by
// scripts/generate-validators.ts, 200 kB) and what needs it synchronously. A module of its
// own so that the CLI's start-up does not load it: `loadConfig` imports it only for a
// configuration it has not validated before (src/config/load.ts).
import type { ValidateFunction } from 'ajv/dist/2020.js';
import generated from '../generated/config-validator.ts';
import type { ResolvedConfig } from '../types.ts';
import type { Config } from '../generated/config-types.ts';
import { editDistance } from '../util/edit-distance.ts';
import { validateConfig } from './resolve.ts';
import { type ResolveOptions, resolveValidated } from './load.ts';

export const configValidator = generated as unknown as ValidateFunction;

/** validateConfig (src/config/resolve.ts) with the generated validator and the Node host's edit distance. */
export function validateConfigData(raw: unknown, source: string | undefined): Config {
  return validateConfig(raw, source, editDistance, configValidator);
}

/**
 * Raw configuration data (as loaded from any config file, or `{}`) → ResolvedConfig:
 * validated (every failing path reported) with the schema's defaults, then resolved
 * (src/config/resolve.ts) with paths relative to `baseDir` (the config file's directory)
 * and `~/`, the cache directory after the XDG Base Directory spec, and the key files read.
 *
 * @throws ConfigError CONFIG_INVALID (details: one line per failing path) or
 *   CONFIG_KEY_INVALID (details: one line per unusable key entry).
 */
export function resolveConfig(raw: unknown, baseDir: string, source?: string, options: ResolveOptions = {}): ResolvedConfig {
  return resolveValidated(validateConfigData(raw, source), baseDir, source, options);
}
