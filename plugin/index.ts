// `conda-attest/plugin`, the public API (listed in docs/plugin.md "Public API"): conda-attest
// as a plugin, the loader for hosts, the host adapters (mambajs untarjs, fetch, Node
// untarjs) and the hook contract. Everything else under plugin/ is internal.
import { createCondaAttestPlugin } from './conda-attest.ts';
/** Hosts that load plugins by name get the conda-attest factory: `(options) => plugin`. */
export default createCondaAttestPlugin;
export { createCondaAttestPlugin };
export type { CondaAttestPluginOptions } from './conda-attest.ts';
export { composePlugins, loadPlugins } from './loader.ts';
export type { LoadPluginsOptions, LoadedPlugins, PluginSpec } from './loader.ts';
export { wrapUntarjs } from './hosts/mambajs.ts';
export type { MambaLockLike, VerifyingUntar, WrapUntarjsOptions } from './hosts/mambajs.ts';
export { wrapFetch } from './hosts/fetch.ts';
export type { FetchFn, VerifyingFetch, WrapFetchOptions } from './hosts/fetch.ts';
export { createNodeUntar } from './hosts/untar-node.ts';
export type { FilesData, NodeUntarOptions, UntarApi } from './hosts/untar-node.ts';
export type { FetchLike } from './hosts/download.ts';
export type { Verifier } from './hosts/kit.ts';
export { PackageBlockedError } from './contract.ts';
export type { CondaInstallerPlugin, DownloadFn, DownloadRequest, Downloaded, PackageBlockedOptions, PluginRunResult } from './contract.ts';
export { PluginError } from '../src/errors.ts';
