// Validate and compose plugin objects (the hook contract), for every host: the Node loader
// (plugin/loader.ts) resolves plugins by name first, the browser build is given objects.
//
// Plugin code is distrusted: everything it hands back is checked, everything it throws is
// caught and re-raised as a PluginError naming the plugin and the hook, and it only ever
// sees frozen copies of package records. The single exception is PackageBlockedError (and
// our own typed errors raised further down the chain): a refusal is the intended outcome
// and must reach the host unchanged.
import { sha256Hex } from '../src/util/sha256.ts';
import { AttestError, PluginError, describeError } from '../src/errors.ts';
import type { PackageRecord, Report } from '../src/types.ts';
import { SHA256_HEX } from './contract.ts';
import type { CondaInstallerPlugin, DownloadFn, DownloadRequest, Downloaded, PluginRunResult } from './contract.ts';

/** Hooks the contract defines; any of them present must be a function. */
const HOOKS = ['wrapDownload', 'afterInstall'] as const;

/** The validated plugins of one run, composed. */
export interface LoadedPlugins {
  /** The validated plugins, in config order. */
  readonly plugins: readonly CondaInstallerPlugin[];
  /**
   * Compose every `wrapDownload` around the host's download. Call ONCE per run: the first
   * plugin is the OUTERMOST layer (it sees the bytes last, exactly as the host will extract
   * them), the host's `base` the innermost. The result guards each layer (frozen records,
   * call-time shape checks, failures attributed to the right plugin).
   */
  wrapDownload(base: DownloadFn): DownloadFn;
  /** Run every `afterInstall` in order; each plugin's report (or undefined). */
  afterInstall(): Promise<PluginRunResult[]>;
}

/**
 * Check a plugin object against the contract. `source` names where it came from (config
 * entry) for errors raised before its name is known.
 */
export function validatePlugin(candidate: unknown, source: string): CondaInstallerPlugin {
  if (candidate === null || typeof candidate !== 'object') {
    throw new PluginError('PLUGIN_INVALID', `Plugin "${source}" is not an object (got ${describeValue(candidate)}).`, {
      hint: 'A plugin is an object `{ name, wrapDownload?, afterInstall? }` or a factory returning one.',
    });
  }
  const plugin = candidate as Record<string, unknown>;
  if (typeof plugin.name !== 'string' || plugin.name.trim() === '') {
    throw new PluginError('PLUGIN_INVALID', `Plugin "${source}" has no \`name\` (a non-empty string is required).`, {
      hint: 'Give the plugin a `name`: it is shown in every error about the plugin.',
    });
  }
  for (const hook of HOOKS) {
    if (plugin[hook] !== undefined && typeof plugin[hook] !== 'function') {
      throw new PluginError(
        'PLUGIN_INVALID',
        `Plugin "${plugin.name}" has a \`${hook}\` hook that is not a function (got ${describeValue(plugin[hook])}).`,
        { hint: `Make \`${hook}\` a function or remove it.` },
      );
    }
  }
  return candidate as CondaInstallerPlugin;
}

/** Validate already-constructed plugin objects (a host may pass them directly) and compose them. */
export function composePlugins(candidates: readonly unknown[]): LoadedPlugins {
  const plugins = Object.freeze(candidates.map((c, i) => validatePlugin(c, `#${i + 1}`)));
  return {
    plugins,
    wrapDownload(base: DownloadFn): DownloadFn {
      // Errors that came up from further down the chain (the host's download or an inner
      // plugin) must not be blamed on the plugin that merely propagated them.
      const downstream = new WeakSet<object>();
      // What each plugin's `next` resolved to, per (frozen) record: lets a layer that passes
      // the bytes on unchanged skip the re-hash below.
      const fromNext = new WeakMap<object, Downloaded>();
      // With more than one plugin, a plugin sits inside another (conda-attest inside an
      // audit logger, or a cache inside conda-attest): every plugin's result is then copied
      // and the copy hashed (see guardLayer), so no plugin can change bytes another has
      // already judged.
      const isolate = plugins.filter((p) => p.wrapDownload).length > 1;
      let chain = guardLayer(base, undefined, downstream, fromNext, false);
      for (let i = plugins.length - 1; i >= 0; i--) {
        const plugin = plugins[i];
        if (!plugin.wrapDownload) continue;
        const next = nextFor(chain, `Plugin "${plugin.name}" hook wrapDownload`, downstream, fromNext);
        let wrapped: unknown;
        try {
          wrapped = plugin.wrapDownload(next);
        } catch (e) {
          throw hookFailed(plugin.name, 'wrapDownload', e);
        }
        if (typeof wrapped !== 'function') {
          throw new PluginError(
            'PLUGIN_BAD_RETURN',
            `Plugin "${plugin.name}" hook wrapDownload returned ${describeValue(wrapped)} instead of a download function.`,
            { hint: 'wrapDownload(next) must return a function `(request) => Promise<{ bytes, sha256 }>`.' },
          );
        }
        chain = guardLayer(wrapped as DownloadFn, plugin.name, downstream, fromNext, isolate);
      }
      const outermost = chain;
      return (req) => outermost(takeRequest(req, 'The host'));
    },
    async afterInstall(): Promise<PluginRunResult[]> {
      const results: PluginRunResult[] = [];
      let firstFailure: PluginError | undefined;
      for (const plugin of plugins) {
        if (!plugin.afterInstall) continue;
        try {
          const report: unknown = await plugin.afterInstall();
          if (report !== undefined && !looksLikeReport(report)) {
            throw new PluginError(
              'PLUGIN_BAD_RETURN',
              `Plugin "${plugin.name}" hook afterInstall returned ${describeValue(report)} instead of a report or nothing.`,
              { hint: 'afterInstall() must resolve to a Report ({ version, summary, packages }) or undefined.' },
            );
          }
          results.push({ plugin: plugin.name, report: report as Report | undefined });
        } catch (e) {
          // Keep going: every plugin's end-of-run work (e.g. writing the lockfile) still runs.
          firstFailure ??= e instanceof PluginError ? e : hookFailed(plugin.name, 'afterInstall', e);
        }
      }
      if (firstFailure) throw firstFailure;
      return results;
    },
  };
}

function looksLikeReport(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return Array.isArray(r.packages) && r.summary !== null && typeof r.summary === 'object';
}

/**
 * The `next` handed to a plugin: checks and freezes what the plugin passes down, and
 * remembers errors coming back up as "from downstream" before rethrowing them.
 */
function nextFor(chain: DownloadFn, caller: string, downstream: WeakSet<object>, fromNext: WeakMap<object, Downloaded>): DownloadFn {
  return async (req) => {
    const checked = takeRequest(req, caller);
    try {
      const out = await chain(checked);
      fromNext.set(checked.record, out);
      return out;
    } catch (e) {
      const err = e !== null && (typeof e === 'object' || typeof e === 'function') ? e : new Error(describeError(e));
      downstream.add(err as object);
      throw err;
    }
  };
}

/**
 * One guarded layer: failures are named after `owner` (a plugin name, or undefined for the
 * host's own download) and what it resolves to is checked against the contract. With
 * `isolate`, the layer hands on a private copy of the plugin's bytes, hashed after it was
 * taken.
 */
function guardLayer(
  fn: DownloadFn,
  owner: string | undefined,
  downstream: WeakSet<object>,
  fromNext: WeakMap<object, Downloaded>,
  isolate: boolean,
): DownloadFn {
  const who = owner === undefined ? 'The host download function' : `Plugin "${owner}" hook wrapDownload`;
  return async (req: DownloadRequest): Promise<Downloaded> => {
    if (owner !== undefined) fromNext.delete(req.record);
    let out: unknown;
    try {
      out = await fn(req);
    } catch (e) {
      // The host's own failures (network, HTTP status) are not plugin failures: pass them on.
      if (owner === undefined || e instanceof AttestError) throw e;
      if (e !== null && typeof e === 'object' && downstream.has(e)) throw e;
      throw hookFailed(owner, 'wrapDownload', e, isFrozenWrite(e) ? 'tried to modify the package record' : undefined);
    }
    const checked = checkDownloaded(out, who, req.record);
    // The hook contract: verification happens on the bytes the host extracts, through the digest each
    // layer hands up. A plugin that returns other bytes (or a digest other than the one it
    // was given) must return THEIR digest: otherwise an outer layer (conda-attest) would
    // verify one package while the host extracts another.
    if (owner === undefined) return checked;
    const badDigest = (): PluginError =>
      new PluginError('PLUGIN_BAD_RETURN', `${who} returned a sha256 for ${req.record.filename} that is not the SHA-256 of its bytes.`, {
        hint: 'A plugin that returns other bytes than it was given must return their own SHA-256, and must not change bytes it handed on; report this to the plugin author.',
      });
    if (isolate) {
      // A Uint8Array is shared, not owned: a plugin could hand back the very array it was
      // given, edited in place, with the old digest — or edit it later, after an outer
      // layer checked its digest. So an identity check proves nothing. Copy first, hash
      // the copy, and hand on only the copy: no plugin holds a reference to it, so the
      // digest the next layer judges stays the digest of the bytes the host extracts.
      const bytes = checked.bytes.slice();
      if (sha256Hex(bytes) !== checked.sha256) throw badDigest();
      return { bytes, sha256: checked.sha256 };
    }
    // The only plugin: bytes passed on unchanged with their digest are not hashed again (no
    // second pass); anything else is checked.
    const inner = fromNext.get(req.record);
    if (!inner || inner.bytes !== checked.bytes || inner.sha256 !== checked.sha256) {
      if (sha256Hex(checked.bytes) !== checked.sha256) throw badDigest();
    }
    return checked;
  };
}

/** Check a download request and give the next layer a frozen copy of its record. */
function takeRequest(req: unknown, caller: string): DownloadRequest {
  const record = (req as DownloadRequest | null | undefined)?.record;
  if (record === null || typeof record !== 'object' || typeof record.url !== 'string' || typeof record.filename !== 'string') {
    throw new PluginError(
      'PLUGIN_HOOK_FAILED',
      `${caller} called the download step without a package record (got ${describeValue(req)}).`,
      { hint: 'Call next({ record }) with the record you were given.' },
    );
  }
  // Records are flat (strings and numbers): a shallow frozen copy is immutable.
  return { record: Object.isFrozen(record) ? record : Object.freeze({ ...record }) };
}

function checkDownloaded(out: unknown, who: string, record: Readonly<PackageRecord>): Downloaded {
  const value = out as Partial<Downloaded> | null;
  if (value === null || typeof value !== 'object' || !(value.bytes instanceof Uint8Array)) {
    throw new PluginError(
      'PLUGIN_BAD_RETURN',
      `${who} resolved to ${describeValue(out)} for ${record.filename}, not { bytes: Uint8Array, sha256 }.`,
      { hint: 'A download function must resolve to { bytes: Uint8Array, sha256: <64 lowercase hex> }.' },
    );
  }
  if (typeof value.sha256 !== 'string' || !SHA256_HEX.test(value.sha256)) {
    throw new PluginError(
      'PLUGIN_BAD_RETURN',
      `${who} returned a sha256 that is not 64 lowercase hex characters for ${record.filename}.`,
      { hint: 'Compute the SHA-256 of the bytes while they stream in and return it as lowercase hex.' },
    );
  }
  return { bytes: value.bytes, sha256: value.sha256 };
}

function isFrozenWrite(e: unknown): boolean {
  return e instanceof TypeError && /read[- ]only|not extensible|Cannot (assign|add|delete|define)/i.test(e.message);
}

function hookFailed(owner: string, hook: string, e: unknown, what?: string): PluginError {
  return new PluginError('PLUGIN_HOOK_FAILED', `Plugin "${owner}" hook ${hook} ${what ?? 'failed'}: ${describeError(e)}.`, {
    hint: `Report this to the author of the "${owner}" plugin, or remove it from the host config.`,
    cause: e,
  });
}

/** A short, safe description of any value for error messages (never dumps large data). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return `a Uint8Array of ${v.byteLength} bytes`;
  switch (typeof v) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `a string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
    case 'function':
      return 'a function';
    case 'object':
      return `an object with keys [${Object.keys(v as object).slice(0, 5).join(', ')}]`;
    default:
      return `${typeof v} ${String(v)}`;
  }
}
