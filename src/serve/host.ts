// The verification core as a long-running host: the same stages as `verify` and the plugin
// (resolve → retrieve → verify → judge, src/pipeline.ts), over resources opened once for
// the server's life. What differs from a run is only what a server needs:
//   - TOFU pins are written as they happen (under the lockfile's inter-process lock), not
//     once at the end of a run that never ends; `--frozen` never writes;
//   - first use of a package is judged against the lockfile as last written, one judgement
//     at a time, so two files of a new package arriving together cannot pin two signers;
//   - repodata is re-read after a while (a run reads it once): the record store is
//     replaced after `repodataTtlMs`, or on a miss once `missRefreshMs` have passed, so
//     packages published since are found, and records kept in memory stay bounded.
import type { PackageDigest, VerifySessionOptions } from '../session-types.ts';
import type { PackageRecord, PackageReport } from '../types.ts';
import { createRepodataStore } from '../channel/repodata.ts';
import { applyDecisions, type Lock, type LockDecision } from '../lock/decide.ts';
import { readLock, updateLock } from '../lock/file.ts';
import { openResources, requireFrozenLockfile, today, type ServerTransport } from '../pipeline.ts';
import { parsePackageFilename } from '../targets/package-url.ts';
import { resolvePackage } from '../stages/resolve.ts';
import { retrievePackage } from '../stages/retrieve.ts';
import { verifyPackage as verifyStage } from '../stages/verify.ts';
import { judgePackage } from '../stages/judge.ts';
import type { LoadedTrustRoot } from '../verify/trust-root.ts';
import type { HttpClient } from '../http/client.ts';

export interface RecordEntry {
  sha256?: string;
  size?: number;
  md5?: string;
  attestationsSha256?: string;
}

export interface VerifierHost {
  /** The channel's repodata record of a file, or undefined when repodata has none. Throws RepodataError. */
  lookup(channel: string, subdir: string, filename: string): Promise<RecordEntry | undefined>;
  /** The package's verdict under its channel's policy (pins written as they happen). */
  verify(record: PackageRecord, digest: PackageDigest | null): Promise<PackageReport>;
  /** The transport every upstream request goes through. */
  readonly http: HttpClient;
  /** The trust root, if it has been loaded. */
  trustRoot(): LoadedTrustRoot | undefined;
  /** Packages pinned in the identity lockfile as last read or written. */
  pins(): number;
  readonly lockPath: string;
  close(): Promise<void>;
}

interface VerifierHostOptions extends VerifySessionOptions {
  transport: ServerTransport;
  /** Replace the record store after this long (default 10 min). */
  repodataTtlMs?: number;
  /** A lookup that finds nothing re-reads repodata when the store is older than this (default 60 s). */
  missRefreshMs?: number;
}

/**
 * Lock decisions written in batches: one read-modify-write under the lockfile's lock for all
 * that arrived meanwhile (one fsync per batch, not per package). Resolves once on disk.
 */
function batchedLockWriter(lockPath: string): (decision: LockDecision) => Promise<void> {
  let pending: { decision: LockDecision; done: (e?: unknown) => void }[] = [];
  let writing: Promise<void> | undefined;
  return (decision) =>
    new Promise((resolve, reject) => {
      pending.push({ decision, done: (e) => (e ? reject(e) : resolve()) });
      writing ??= (async () => {
        while (pending.length) {
          const batch = pending;
          pending = [];
          try {
            await updateLock(lockPath, (current) => applyDecisions(current, batch.map((b) => b.decision)));
            for (const b of batch) b.done();
          } catch (e) {
            for (const b of batch) b.done(e);
          }
        }
        writing = undefined;
      })();
    });
}

export async function openVerifierHost(options: VerifierHostOptions): Promise<VerifierHost> {
  const { config } = options;
  const lockPath = options.lockfile ?? config.lockfile;
  const frozen = Boolean(options.frozen);
  requireFrozenLockfile(options, lockPath);
  const run = openResources(options, options.transport);
  const { resources } = run;
  let root: LoadedTrustRoot | undefined;
  if (config.trustRoot !== 'public-good') root = await run.loadTrustRoot().catch(async (e: unknown) => {
    await run.close();
    throw e;
  });
  let lock: Lock = await readLock(lockPath);
  // One judgement at a time against the lockfile as last decided (pure, in memory); the
  // decisions are then written in batches (batchedLockWriter). A verdict is returned only
  // once its pin is on disk.
  let judging: Promise<unknown> = Promise.resolve();
  const persist = batchedLockWriter(lockPath);

  const ttl = options.repodataTtlMs ?? 600_000;
  const missRefresh = options.missRefreshMs ?? 60_000;
  let storeBorn = Date.now();
  const renew = (): void => {
    resources.repodata = createRepodataStore({ http: run.http, cacheDir: config.cacheDir });
    storeBorn = Date.now();
  };

  async function lookup(channel: string, subdir: string, filename: string): Promise<RecordEntry | undefined> {
    if (Date.now() - storeBorn > ttl) renew();
    let found;
    try {
      found = await resources.repodata.lookup(channel, subdir, filename);
    } catch (e) {
      // A run's store remembers a failure for the run; a server asks again next time (the
      // transport's breaker keeps a failing host from being hammered).
      renew();
      throw e;
    }
    if (!found && Date.now() - storeBorn > missRefresh) {
      renew();
      found = await resources.repodata.lookup(channel, subdir, filename);
    }
    return found;
  }

  return {
    http: run.http,
    lockPath,
    lookup,
    trustRoot: () => root,
    pins: () => Object.values(lock.channels).reduce((n, names) => n + Object.keys(names).length, 0),
    async verify(record, digest) {
      const pkg = resolvePackage(resources.config, record, digest);
      const retrieved = await verifyStage(await retrievePackage(pkg, resources), resources);
      if (!root && retrieved.evidence.kind === 'bundles') root = await resources.trustRoot().catch(() => undefined);
      const turn = judging.then(() => {
        const judged = judgePackage(retrieved, { lock, date: today(), frozen, lockPath });
        const d = judged.decision;
        // An exception pins nothing; `unchanged` is written only to move last_seen forward.
        const write = !frozen && d && !(judged.exempt && d.kind !== 'unchanged') && (d.kind === 'new' || d.touch) ? d : undefined;
        if (write) lock = applyDecisions(lock, [write]);
        return { row: judged.row, write };
      });
      judging = turn.catch(() => undefined);
      const { row, write } = await turn;
      if (write) await persist(write);
      return row;
    },
    async close() {
      await run.close();
    },
  };
}

/** The record the pipeline judges for a file served under `channel`. */
export function packageRecord(channel: string, subdir: string, filename: string, entry: RecordEntry, url: string): PackageRecord {
  const { name, version, build } = parsePackageFilename(filename);
  return {
    url,
    channel,
    subdir,
    filename,
    name,
    version,
    build,
    ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
    ...(entry.md5 ? { md5: entry.md5 } : {}),
    ...(entry.size !== undefined ? { size: entry.size } : {}),
    ...(entry.attestationsSha256 ? { attestationsSha256: entry.attestationsSha256 } : {}),
  };
}
