// What `verify` and `accept` share: the config (with --trusted-root), the environment's
// package records (TARGETs, or ./pixi.lock / ./conda-lock.yml), and the verification loop.
import { homedir } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { escapeText } from '../text/escape.ts';
import { existsSync } from 'node:fs';
import { TrustRootError, UsageError } from '../errors.ts';
import { loadConfig, noConfigError } from '../config/load.ts';
import { loadTargetSet, searchDefaultTarget, type NotCovered } from '../targets/index.ts';
import { openTargetsMemo, type PackageInput, type PipelineSession } from '../pipeline.ts';
import { loadGivenSidecar } from '../sidecar/given.ts';
import type { GivenSidecar } from '../session-types.ts';
import type { PackageRecord, ResolvedConfig } from '../types.ts';
import type { CliIO } from './io.ts';

interface EnvironmentOptions {
  configPath?: string;
  /** `--timeout SECONDS` (ms): one whole request. */
  timeoutMs?: number;
  /** `--deadline SECONDS` (ms): the whole run. */
  deadlineMs?: number;
  trustedRoot?: string;
  targets: string[];
  channel?: string;
  platform?: string;
  /** How the command names its targets, for the "nothing found" hint. */
  targetHint: string;
  /** `--no-cache`: lockfiles are read without the memo of those read before. */
  noCache?: boolean;
}

/** What a command verifies: the config, the package records, and what the targets hold that is not covered. */
interface Environment {
  config: ResolvedConfig;
  records: PackageRecord[];
  notCovered: NotCovered;
  /** The targets read (absolute paths, or URLs as given). */
  inputs: string[];
}

export async function loadEnvironment(io: CliIO, o: EnvironmentOptions): Promise<Environment> {
  const config = await loadConfig({ cwd: io.cwd, configPath: o.configPath, env: io.env, memo: true });
  // No policy, no pass: without a config every channel would be skipped and the run would
  // "succeed" having checked nothing. A config that exists but enables nothing is a choice.
  if (config.source === undefined) throw noConfigError(io.cwd);
  if (o.trustedRoot) config.trustRoot = resolve(io.cwd, o.trustedRoot);
  if (o.timeoutMs !== undefined) config.http.totalTimeoutMs = o.timeoutMs;
  if (o.deadlineMs !== undefined) config.deadlineMs = o.deadlineMs;
  // A trust root path that does not exist is an input error now, not only once some
  // package happens to need it (a run where everything is skipped would hide it).
  if (config.trustRoot !== 'public-good' && !existsSync(config.trustRoot)) {
    throw new TrustRootError('TRUST_ROOT_NOT_FOUND', `The trusted root ${config.trustRoot} does not exist.`, {
      hint: 'Give the path of a trusted_root.json (trust_root in the config, or --trusted-root), or public-good.',
    });
  }
  const targets = o.targets.length ? o.targets : [await defaultTarget(io, o.targetHint)];
  const memo = o.noCache ? undefined : openTargetsMemo(config.cacheDir);
  const { records, notCovered, inputs } = await loadTargetSet(targets, { cwd: io.cwd, channel: o.channel, platform: o.platform, memo });
  return { config, records, notCovered, inputs };
}

/**
 * `--sigs`: the sidecar of the one package the targets hold. A file is read and checked
 * once, here: a missing or malformed file is an input error (exit 2), not a property of
 * the package. A URL is fetched by the pipeline.
 */
export async function givenSidecar(io: CliIO, sigs: string | undefined, records: readonly PackageRecord[], config: ResolvedConfig): Promise<string | GivenSidecar | undefined> {
  if (!sigs) return undefined;
  if (records.length !== 1) {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `--sigs gives the sidecar of one package, but the targets hold ${records.length}.`, {
      hint: 'Verify a single package URL or file with --sigs.',
    });
  }
  if (/^https?:\/\//i.test(sigs)) return sigs;
  const loaded = await loadGivenSidecar(resolve(io.cwd, sigs), { maxBytes: config.maxSidecarBytes });
  return { url: loaded.url, sha256: loaded.sha256, bundles: loaded.bundles };
}

/**
 * The target of a command run without TARGET: the nearest pixi.lock / conda-lock.yml at or
 * above the working directory, found the way the config is (up to the git repository root
 * or the home directory). One found above is named on stderr (the user did not name it);
 * none found is USAGE_NO_TARGET, naming any lockfile one directory below.
 */
export async function defaultTarget(io: CliIO, hint: string): Promise<string> {
  const { found, searched, below } = await searchDefaultTarget(io.cwd, io.env.HOME || homedir());
  if (found) {
    if (dirname(found) !== resolve(io.cwd)) io.stderr.write(`conda-attest: using ${escapeText(relative(io.cwd, found))} (found above the current directory)\n`);
    return found;
  }
  const where = searched.length > 1 ? `${io.cwd} or above it (up to ${searched.at(-1)})` : io.cwd;
  throw new UsageError('USAGE_NO_TARGET', `No target given and no pixi.lock or conda-lock.yml in ${where}.`, {
    hint: below.length ? `There is ${below.map((b) => relative(io.cwd, b)).join(', ')}: pass it, or run from its directory.` : hint,
  });
}

/**
 * Verify every record with at most `concurrency` in flight, all files of one package
 * judged together. The digest comes from the environment lockfile (`digest_source:
 * "lockfile"`: sound because pixi and conda enforce these hashes at install) unless
 * `download` asks for the bytes, the record has no hash, or it is a local file: then the
 * pipeline hashes the bytes.
 */
export async function verifyRecords(
  session: PipelineSession,
  records: readonly PackageRecord[],
  o: { concurrency: number; download?: boolean; onDone?: (done: number) => void },
): Promise<void> {
  await session.verifyPackages(packageInputs(records, o.download), { concurrency: o.concurrency, onDone: o.onDone });
}

/** Each record with the digest it is verified under (null: the pipeline hashes the bytes), as verifyRecords describes. */
export function packageInputs(records: readonly PackageRecord[], download: boolean | undefined): PackageInput[] {
  return records.map((record) => ({
    record,
    digest: !download && record.sha256 && !record.localPath ? { sha256: record.sha256, source: 'lockfile' as const } : null,
  }));
}
