// conda-attest as a Node host plugin: the config found from the working directory (or a
// given file), the session over Node's adapters (src/pipeline.ts), and the plugin itself
// (plugin/attest-plugin.ts), which every host shares.
import type { VerifySession } from '../src/session-types.ts';
import { ConfigError } from '../src/errors.ts';
import type { CondaInstallerPlugin } from './contract.ts';
import { attestPlugin } from './attest-plugin.ts';

export interface CondaAttestPluginOptions {
  /** Where to look for the conda-attest config (cosmiconfig search start). Default: process.cwd(). */
  cwd?: string;
  /** An explicit config file instead of searching. */
  configPath?: string;
  /** No network at all, as `verify --offline`: caches only; a package that needs the network is blocked (HTTP_OFFLINE). */
  offline?: boolean;
  /** Only the trust root stays offline: never contact the TUF repository (cached or embedded root), as `verify --no-tuf-refresh`. */
  noTufRefresh?: boolean;
  /** CI mode: the identity lockfile must not change. */
  frozen?: boolean;
  /** Override of the config's identity lockfile path. */
  lockfile?: string;
  /**
   * How long `afterInstall` waits for downloads still in flight (ones the host gave up on
   * when its run failed), in milliseconds. Default 60,000. What has not settled by then is
   * reported (`DOWNLOAD_UNSETTLED`), left out of the lockfile, and refused if it finishes.
   */
  settleTimeoutMs?: number;
  /**
   * Use this session (or session factory) instead of loading the config and opening one.
   * For hosts that already run conda-attest, and for tests.
   */
  session?: VerifySession | (() => Promise<VerifySession>);
}

export { PLUGIN_NAME } from './attest-plugin.ts';

/**
 * Create the conda-attest plugin. Nothing is loaded until the first download: then the
 * config and the session (trust root, identity lockfile) are opened ONCE for the whole run.
 */
export function createCondaAttestPlugin(options: CondaAttestPluginOptions = {}): CondaInstallerPlugin {
  checkOptions(options);
  return attestPlugin(() => openSession(options), options.settleTimeoutMs);
}

async function openSession(options: CondaAttestPluginOptions): Promise<VerifySession> {
  if (options.session) return typeof options.session === 'function' ? options.session() : options.session;
  // Loaded when the host composes the plugin: a host that never does never pays for the pipeline.
  const [{ loadConfig, noConfigError }, { createSession }] = await Promise.all([
    import('../src/config/load.ts'),
    import('../src/pipeline.ts'),
  ]);
  const cwd = options.cwd ?? process.cwd();
  const config = await loadConfig({ cwd, configPath: options.configPath });
  // No policy, no pass (as for `conda-attest verify`).
  if (config.source === undefined) throw noConfigError(cwd);
  return createSession({ config, offline: options.offline, noTufRefresh: options.noTufRefresh, frozen: options.frozen, lockfile: options.lockfile });
}

/** The options this factory takes, and the type of each (the session option is checked by shape). */
const OPTION_TYPES: Record<keyof CondaAttestPluginOptions, 'string' | 'boolean' | 'session' | 'ms'> = {
  cwd: 'string',
  configPath: 'string',
  offline: 'boolean',
  noTufRefresh: 'boolean',
  frozen: 'boolean',
  lockfile: 'string',
  settleTimeoutMs: 'ms',
  session: 'session',
};

/**
 * Plugin options are configuration: an unknown key (a typo of `frozen`) or a wrong type
 * must not silently weaken a check. Every problem is reported at once, like config files.
 */
function checkOptions(options: unknown): void {
  if (options === undefined) return;
  const problems: string[] = [];
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    problems.push(`(options): must be an object of { ${Object.keys(OPTION_TYPES).join(', ')} }`);
  } else {
    for (const [key, value] of Object.entries(options)) {
      const want = Object.hasOwn(OPTION_TYPES, key) ? OPTION_TYPES[key as keyof CondaAttestPluginOptions] : undefined;
      if (!want) {
        problems.push(`${key}: unknown option — known options: ${Object.keys(OPTION_TYPES).join(', ')}`);
      } else if (value === undefined) {
        continue;
      } else if (want === 'session') {
        const ok = typeof value === 'function' || (value !== null && typeof value === 'object' && typeof (value as VerifySession).verifyPackage === 'function' && typeof (value as VerifySession).finish === 'function');
        if (!ok) problems.push(`${key}: must be a conda-attest session or a function returning one`);
      } else if (want === 'ms') {
        if (!Number.isSafeInteger(value) || (value as number) < 1) problems.push(`${key}: must be a positive whole number of milliseconds (got ${JSON.stringify(value) ?? typeof value})`);
      } else if (typeof value !== want || (want === 'string' && value === '')) {
        problems.push(`${key}: must be a ${want === 'string' ? 'non-empty string' : 'boolean'} (got ${value === null ? 'null' : typeof value})`);
      }
    }
  }
  if (problems.length > 0) {
    throw new ConfigError('CONFIG_INVALID', `The conda-attest plugin options are invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: 'Fix the options given to the conda-attest plugin in the host config.',
      details: problems,
    });
  }
}
