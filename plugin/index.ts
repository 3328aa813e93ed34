// `conda-attest/plugin`: the hook contract, the loader for hosts, conda-attest as a plugin,
// and the host adapters (mambajs untarjs wrapper, fetch wrapper, Node untarjs).
export { PackageBlockedError, SHA256_HEX, digestMismatchReason, unsupportedUrlReason } from './contract.ts';
export type {
  CondaInstallerPlugin,
  DownloadFn,
  DownloadRequest,
  Downloaded,
  PackageBlockedOptions,
  PluginRunResult,
} from './contract.ts';
export { composePlugins, loadPlugins, validatePlugin } from './loader.ts';
export type { LoadPluginsOptions, LoadedPlugins, PluginSpec } from './loader.ts';
export { PLUGIN_NAME, createCondaAttestPlugin } from './conda-attest.ts';
import { createCondaAttestPlugin } from './conda-attest.ts';
/** Hosts that load plugins by name get the conda-attest factory: `(options) => plugin`. */
export default createCondaAttestPlugin;
export type { CondaAttestPluginOptions } from './conda-attest.ts';
export { recordForMambaUrl, wrapUntarjs } from './hosts/mambajs.ts';
export type { MambaLockLike, VerifyingUntar, WrapUntarjsOptions } from './hosts/mambajs.ts';
export { isPackageUrl, wrapFetch } from './hosts/fetch.ts';
export type { FetchFn, VerifyingFetch, WrapFetchOptions } from './hosts/fetch.ts';
export { ArchiveError, createNodeUntar, extractArchive, readTar, readZip } from './hosts/untar-node.ts';
export type { FilesData, NodeUntarOptions, UntarApi } from './hosts/untar-node.ts';
export { fetchDownload, readHashed } from './hosts/download.ts';
export type { FetchLike } from './hosts/download.ts';
export type { Verifier } from './hosts/kit.ts';
export { PluginError } from '../src/errors.ts';
