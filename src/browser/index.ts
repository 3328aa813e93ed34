// `conda-attest/browser`: the browser host of the shared verification core (docs/browser.md).
// ES modules with no Node built-ins: the core is the same source the CLI runs; only the
// adapters differ (crypto: src/crypto/browser.ts, bound at bundle time; transport: the
// page's fetch; storage: a lockfile adapter given by the page). This entry checks options
// and config and wraps installers; the verification itself (sigstore-js, the crypto
// adapter, the session) is src/browser/core.ts, loaded on first use.
import { distance } from 'fastest-levenshtein';
import { ConfigError } from '../errors.ts';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { resolveConfigOn, validateConfig } from '../config/resolve.ts';
import configValidator from '../generated/config-validator.ts';
import type { ResolvedConfig } from '../types.ts';
import { attestPlugin } from '../../plugin/attest-plugin.ts';
import type { CondaInstallerPlugin } from '../../plugin/contract.ts';
import type { FetchFn, LockfileStorage } from './session.ts';
import type { BundleVerdict } from '../verify/bundle-outcome.ts';

export type { BundleVerdict } from '../verify/bundle-outcome.ts';
export type { FetchFn, LockfileStorage } from './session.ts';
export { PackageBlockedError } from '../../plugin/contract.ts';
export type { CondaInstallerPlugin, DownloadFn, DownloadRequest, Downloaded, PluginRunResult } from '../../plugin/contract.ts';
export { wrapUntarjs } from '../../plugin/hosts/mambajs.ts';
export type { MambaLockLike, VerifyingUntar, WrapUntarjsOptions } from '../../plugin/hosts/mambajs.ts';
export { wrapFetch } from '../../plugin/hosts/fetch.ts';
export type { VerifyingFetch, WrapFetchOptions } from '../../plugin/hosts/fetch.ts';
export { composePlugins } from '../../plugin/compose.ts';
export type { Report, PackageReport, Reason } from '../types.ts';

export interface VerifyBundleInput {
  /** The Sigstore bundle: a JSON object or its text. */
  bundle: unknown;
  /** The artifact's bytes… */
  artifact?: Uint8Array;
  /** …or its digest, `sha256:<64 hex>`. */
  digest?: string;
  /** A trusted_root.json object (default: the public-good root embedded in the build). */
  trustedRoot?: unknown;
  /** Expected certificate SAN and OIDC issuer (compared exactly)… */
  identity?: string;
  issuer?: string;
  /** …or the expected signing public key (PEM). */
  key?: string;
}

/**
 * Verify one Sigstore bundle: the same object `conda-attest verify-bundle --format json`
 * prints for the same input ({ verified, code, message, identity, evidence }). Never
 * throws (it rejects only when the page cannot load the build's verification chunk).
 */
export async function verifyBundle(input: VerifyBundleInput): Promise<BundleVerdict> {
  return (await loadCore()).verifyBundleNow(input);
}

/** The verification chunk (src/browser/core.ts), loaded once, on first use. */
let core: Promise<typeof import('./core.ts')> | undefined;
const loadCore = (): Promise<typeof import('./core.ts')> => (core ??= import('./core.ts'));

// ---------------------------------------------------------------------------------
// The plugin

export interface BrowserPluginOptions {
  /** The conda-attest config as an object (what .conda-attest.yml holds), validated against schema/config.schema.json. */
  config?: unknown;
  /** A trusted_root.json object (default: the public-good root embedded in the build). */
  trustedRoot?: unknown;
  /** Where the identity lockfile is kept; absent: pins are kept in memory for the run (the report says so). */
  lockfile?: LockfileStorage;
  /** The identity lockfile must not change (CI): new or changed identities are blocked under require: error. */
  frozen?: boolean;
  /** The fetch used for repodata and sidecars (default: the page's fetch). */
  fetch?: FetchFn;
}

const OPTION_KEYS = ['config', 'trustedRoot', 'lockfile', 'frozen', 'fetch'];
const CONFIG_SOURCE = 'the plugin options (config)';

/**
 * Config keys that name files: a page has no file system, so the data itself is given
 * instead (trustedRoot, the lockfile adapter, PEM keys inline). Every one found is listed,
 * with what else the browser build cannot do (version-range deny entries).
 */
function fileKeyProblems(raw: unknown): string[] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return [];
  const c = raw as Record<string, unknown>;
  const out: string[] = [];
  if ('$import' in c) out.push('$import: imports name files; give the whole config object');
  if ('lockfile' in c) out.push('lockfile: names a file; pass the lockfile option (a storage adapter { read, write }) instead');
  if ('cache_dir' in c) out.push('cache_dir: names a directory; the browser build keeps no cache');
  if (c.trust_root !== undefined && c.trust_root !== 'public-good') out.push('trust_root: names a file; pass the trusted_root.json object as the trustedRoot option instead');
  const keys = (where: string, list: unknown): void => {
    if (!Array.isArray(list)) return;
    list.forEach((k, i) => {
      const pemLike = (v: unknown): boolean => typeof v === 'string' && /-----BEGIN [A-Z0-9 ]+-----/.test(v);
      const isPath = typeof k === 'string' ? !pemLike(k) : k !== null && typeof k === 'object' && ('path' in k || ('key' in k && !pemLike((k as { key: unknown }).key)));
      if (isPath) out.push(`${where}.trusted_keys[${i}]: names a key file; give the PEM text inline ({ pem: "-----BEGIN PUBLIC KEY-----…" })`);
    });
  };
  // `versions` deny entries are matched by rattler's version specs (7 MB of WebAssembly),
  // which the browser build does not carry.
  const deny = (where: string, list: unknown): void => {
    if (!Array.isArray(list)) return;
    list.forEach((d, i) => {
      if (d !== null && typeof d === 'object' && 'versions' in d) out.push(`${where}deny[${i}].versions: version ranges are not available in the browser build; deny by sha256 or identity, or list exact packages`);
    });
  };
  deny('', c.deny);
  const policy = (where: string, p: unknown): void => {
    if (p === null || typeof p !== 'object') return;
    const pol = p as Record<string, unknown>;
    keys(where, pol.trusted_keys);
    deny(`${where}.`, pol.deny);
    if (pol.packages && typeof pol.packages === 'object') for (const [pat, rule] of Object.entries(pol.packages)) keys(`${where}.packages.${pat}`, (rule as Record<string, unknown> | null)?.trusted_keys);
  };
  policy('default', c.default);
  if (c.channels && typeof c.channels === 'object') for (const [ch, p] of Object.entries(c.channels)) policy(`channels.${ch}`, p);
  return out.sort();
}

/** The config object → ResolvedConfig, by the same schema and rules as the CLI (CONFIG_INVALID, CONFIG_KEY_INVALID). */
export function resolveBrowserConfig(raw: unknown): ResolvedConfig {
  const problems = fileKeyProblems(raw);
  if (problems.length > 0) {
    throw new ConfigError('CONFIG_INVALID', `The configuration in ${CONFIG_SOURCE} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: 'In the browser, give data instead of file names: the trusted root as trustedRoot, the lockfile as a storage adapter, keys as inline PEM.',
      details: problems,
    });
  }
  // No file system: no key files (fileKeyProblems above refuses them).
  return resolveConfigOn(validateConfig(raw, CONFIG_SOURCE, distance, configValidator as unknown as ValidateFunction), '/', CONFIG_SOURCE, { resolvePath: (p) => p, defaultCacheDir: () => '', keyFiles: new Map() });
}

function checkPluginOptions(options: unknown): BrowserPluginOptions {
  if (options === undefined) return {};
  const problems: string[] = [];
  if (options === null || typeof options !== 'object' || Array.isArray(options)) problems.push(`(options): must be an object of { ${OPTION_KEYS.join(', ')} }`);
  else {
    const o = options as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!OPTION_KEYS.includes(k)) problems.push(`${k}: unknown option — known options: ${OPTION_KEYS.join(', ')}`);
    if (o.frozen !== undefined && typeof o.frozen !== 'boolean') problems.push('frozen: must be a boolean');
    if (o.fetch !== undefined && typeof o.fetch !== 'function') problems.push('fetch: must be a function');
    const l = o.lockfile as { read?: unknown; write?: unknown } | undefined;
    if (l !== undefined && (l === null || typeof l !== 'object' || typeof l.read !== 'function' || typeof l.write !== 'function')) problems.push('lockfile: must be a storage adapter { read(): Promise<string | undefined>, write(text): Promise<void> }');
  }
  if (problems.length > 0) {
    throw new ConfigError('CONFIG_INVALID', `The conda-attest plugin options are invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: 'Fix the options given to createCondaAttestPlugin.',
      details: problems,
    });
  }
  return options as BrowserPluginOptions;
}

/**
 * The conda-attest plugin for the page: the same plugin contract as `conda-attest/plugin`
 * (wrapDownload, afterInstall), over the same verification core. The options and the
 * config are checked now (a bad config throws CONFIG_INVALID before anything is fetched);
 * the trust root is loaded on the first package that needs it.
 */
export function createCondaAttestPlugin(options?: BrowserPluginOptions): CondaInstallerPlugin {
  const o = checkPluginOptions(options);
  const config = resolveBrowserConfig(o.config ?? {});
  const fetchFn: FetchFn = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return attestPlugin(async () => {
    const c = await loadCore();
    return c.createBrowserSession({
      config,
      frozen: o.frozen,
      fetch: fetchFn,
      trustRoot: () => c.loadBrowserTrustRoot(o.trustedRoot),
      lockStorage: o.lockfile,
    });
  });
}
