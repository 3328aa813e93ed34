// The one path every package goes through, whoever calls it (CLI or plugin layer):
//
//   policy (canonical channel) → discovery + retrieval (CEP 50) → verification
//   (Sigstore + CEP 27) → judgement (trusted identities, identity lockfile) → report row
//
// This module wires the adapters together; the decisions themselves are the pure
// functions of src/policy/ and src/lock/.
import { existsSync } from 'node:fs';
import { AttestError, LockError, TrustRootError, describeError } from './errors.ts';
import type { PackageDigest, VerifySession, VerifySessionOptions } from './session-types.ts';
import type {
  ChannelPolicy,
  PackageRecord,
  PackageReport,
  PackageStatus,
  Reason,
  Report,
  ResolvedConfig,
  SignerIdentity,
} from './types.ts';
import { policyFor } from './policy/channel.ts';
import { effectivePolicy, exceptionEffect, exceptionFor } from './policy/packages.ts';
import { trustRootFreshness } from './policy/trust-root-age.ts';
import { actionFor, judgeAttestations, type RetrievalState } from './policy/verdict.ts';
import { createHttpClient, type HttpClient } from './http/client.ts';
import { hashPackage } from './http/download.ts';
import { createRepodataStore, type RepodataStore, type StaleRepodata } from './channel/repodata.ts';
import { fetchSidecar, loadGivenSidecar, type SidecarResult } from './sidecar/fetch.ts';
import { loadTrustRoot, type LoadedTrustRoot } from './verify/trust-root.ts';
import type { VerifyPool } from './verify/pool.ts';
import { openVerdictCache, policyDigest, verdictKey, type VerdictCache } from './cache/verdict-cache.ts';
import { openSidecarCache } from './cache/sidecar-cache.ts';
import { ATTESTATIONS_SHA256_RE } from './sidecar/parse.ts';
import { sidecarUrl } from './sidecar/fetch.ts';
import { packageVersion } from './version.ts';
import { decide, applyDecisions, inconsistentFirstUse, type LockDecision, type Lock } from './lock/decide.ts';
import { readLock, updateLock } from './lock/file.ts';
import { buildReport } from './report/build.ts';
import { runNotices as findRunNotices } from './report/notices.ts';

const HEX64 = /^[0-9a-f]{64}$/;

/** Today's date as YYYY-MM-DD (UTC), the granularity of the lockfile's first/last seen. */
function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function reasonOf(e: unknown, fallbackCode: string): Reason {
  if (e instanceof AttestError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { code: fallbackCode, message: describeError(e) };
}

interface Observation {
  record: PackageRecord;
  canonical: string;
  decision: LockDecision | null;
  /** Passed by an exception: its lock decision is never written (an exception pins nothing). */
  exempt?: boolean;
}

/** The pipeline's session: the public contract plus what `conda-attest accept` needs. */
export interface PipelineSession extends VerifySession {
  /** The identity-lockfile decisions of every package verified so far. */
  lockDecisions(): LockDecision[];
  /** The lockfile path this session reads and writes. */
  readonly lockPath: string;
}

export async function createSession(options: VerifySessionOptions): Promise<PipelineSession> {
  const config: ResolvedConfig = options.config;
  const lockPath = options.lockfile ?? config.lockfile;
  // --frozen checks against a committed lockfile: without one there is nothing to check
  // against, which is one input error for the run, not one refusal per package.
  if (options.frozen && !existsSync(lockPath)) {
    throw new LockError('LOCK_MISSING', `--frozen needs the identity lockfile ${lockPath}, which does not exist.`, {
      hint: 'Run `conda-attest verify` once without --frozen (it pins the signer identities) and commit the lockfile, or point --lockfile at it.',
    });
  }
  const http: HttpClient = createHttpClient({
    connectTimeoutMs: config.http.connectTimeoutMs,
    totalTimeoutMs: config.http.totalTimeoutMs,
    idleTimeoutMs: config.http.idleTimeoutMs,
    retries: config.http.retries,
    maxConcurrency: config.concurrency,
    // No stall is unbounded: after this, requests fail and unfinished packages are retrieval-failed.
    deadline: Date.now() + config.deadlineMs,
    deadlineLabel: `${config.deadlineMs / 1000} s`,
  });
  const repodata: RepodataStore = createRepodataStore({ http, cacheDir: config.cacheDir });

  // Loaded once per run, lazily: a run where every channel is disabled never needs it.
  let trustRootPromise: Promise<LoadedTrustRoot> | undefined;
  const trustRoot = (): Promise<LoadedTrustRoot> =>
    (trustRootPromise ??= loadTrustRoot(config.trustRoot, { offline: options.offline, cacheDir: config.cacheDir }).then((root) =>
      checkTrustRootAge(root, config),
    ));
  // The report names the trust root only when a verdict depended on it (a file root is
  // loaded up front to validate it, which alone is not a use).
  let trustRootUsed = false;
  const usedTrustRoot = (): Promise<LoadedTrustRoot> => {
    trustRootUsed = true;
    return trustRoot();
  };
  // Verification goes through one pool per run: in-process for small runs, worker threads
  // (trust material built once per worker) when enough bundles are expected. The verifier
  // modules (sigstore-js) are only loaded when a bundle actually has to be verified.
  let poolPromise: Promise<VerifyPool> | undefined;
  const pool = (): Promise<VerifyPool> =>
    (poolPromise ??= Promise.all([usedTrustRoot(), import('./verify/pool.ts')]).then(([root, { createVerifyPool }]) =>
      createVerifyPool({ trustRoot: root, expectedBundles: options.expectedPackages, fastDer: true }),
    ));
  // Verdicts depend only on their inputs (sidecar, package digest and name, channels, trust
  // root, policy, product version), so unchanged inputs are never verified twice; sidecars
  // are content-addressed (CEP 50) and cached by hash.
  const verdicts: VerdictCache | null = options.noCache ? null : openVerdictCache(config.cacheDir);
  const sidecars = options.noCache ? undefined : openSidecarCache(config.cacheDir, { maxBytes: config.maxSidecarBytes });
  const version = packageVersion();

  // A trust root given as a path is loaded and validated now, before any package: a broken
  // file is an input error even in a run where no signature would have needed it.
  if (config.trustRoot !== 'public-good') {
    try {
      await trustRoot();
    } catch (e) {
      http.close();
      throw e;
    }
  }
  // The identity lockfile is read once; decisions are collected and written once in finish().
  const lock: Lock = await readLock(lockPath);
  const rows: PackageReport[] = [];
  const observations: Observation[] = [];
  const runNotices = new Map<string, Reason>();
  const date = today();

  async function retrieve(record: PackageRecord, policy: ChannelPolicy): Promise<SidecarResult> {
    const sigs = options.sigs;
    if (typeof sigs === 'object') return { state: 'found', method: 'given', url: sigs.url, sha256: sigs.sha256, bundles: sigs.bundles };
    if (sigs) return loadGivenSidecar(sigs, { http, maxBytes: config.maxSidecarBytes });
    return fetchSidecar(record, policy.discovery, { http, repodata, maxBytes: config.maxSidecarBytes, sidecarCache: sidecars });
  }

  /** The package digest: given (lockfile record), or hashed from the bytes in one streamed pass. */
  async function digestOf(record: PackageRecord, given: PackageDigest | null): Promise<PackageDigest & { md5?: string }> {
    if (given) return given;
    const { sha256, md5 } = await hashPackage(record, http);
    return { sha256, source: 'artifact', ...(md5 ? { md5 } : {}) };
  }

  async function verifyPackage(record: PackageRecord, given: PackageDigest | null): Promise<PackageReport> {
    const lookup = policyFor(config, record.channel);
    const { canonical } = lookup;
    // A `packages:` rule of the channel may override require / trusted identities / keys.
    const policy = effectivePolicy(lookup.policy, record.name);
    const row: PackageReport = {
      filename: record.filename,
      name: record.name,
      version: record.version,
      build: record.build,
      channel: canonical,
      subdir: record.subdir,
      url: record.url,
      sha256: given?.sha256 ?? record.sha256 ?? null,
      digest_source: given?.source ?? (record.sha256 ? 'lockfile' : null),
      status: 'skipped',
      action: 'pass',
      identity: null,
      reasons: [],
      notes: [],
      sidecar: null,
      bundles: [],
    };
    // An active exception lets the package pass whatever its status (status and reasons
    // kept); an expired one changes nothing and is reported once per run.
    const exception = exceptionEffect(exceptionFor(lookup.policy.exceptions, record.name, date), record.name, lookup.policy.channel, date);
    if (exception.notice) runNotices.set(exception.notice.message, exception.notice);
    const finishRow = (status: PackageStatus, reasons: Reason[]): PackageReport => {
      row.status = status;
      row.reasons = reasons;
      row.action = exception.pass ? 'pass' : actionFor(status, policy.require);
      if (exception.exception) row.exception = exception.exception;
      if (exception.note) row.notes.push(exception.note);
      rows.push(row);
      return row;
    };

    if (!policy.enabled) {
      row.notes.push(`attestation checks are disabled for ${canonical}`);
      return finishRow('skipped', []);
    }

    // The package digest: from the bytes when we have them, else from the lockfile record.
    let digest: PackageDigest & { md5?: string };
    try {
      digest = await digestOf(record, given);
    } catch (e) {
      return finishRow('retrieval-failed', [reasonOf(e, 'HTTP_CONNECTION_FAILED')]);
    }
    if (!HEX64.test(digest.sha256)) {
      return finishRow('invalid', [
        { code: 'PACKAGE_DIGEST_MISMATCH', message: `The package digest "${digest.sha256}" is not a SHA-256 hex string.` },
      ]);
    }
    row.sha256 = digest.sha256;
    row.digest_source = digest.source;
    // An artifact whose bytes do not match what the lockfile pinned is not the package
    // the user locked, whatever its attestations say.
    if (digest.source === 'artifact' && record.sha256 && record.sha256.toLowerCase() !== digest.sha256) {
      return finishRow('invalid', [
        {
          code: 'PACKAGE_DIGEST_MISMATCH',
          message: `${record.filename} has SHA-256 ${digest.sha256}, but the lockfile expects ${record.sha256}.`,
          hint: 'The download was altered or the lockfile is stale; re-lock from a trusted source.',
        },
      ]);
    }
    // Explicit files may pin only an MD5: still compare it (hashed in the same pass).
    if (digest.source === 'artifact' && !record.sha256 && record.md5 && digest.md5 && record.md5.toLowerCase() !== digest.md5) {
      return finishRow('invalid', [
        {
          code: 'PACKAGE_DIGEST_MISMATCH',
          message: `${record.filename} has MD5 ${digest.md5}, but the environment file expects ${record.md5}.`,
          hint: 'The download was altered or the environment file is stale; re-lock from a trusted source.',
        },
      ]);
    }

    // CEP 27: targetChannel SHOULD equal the channel the package came from; a mirror of a
    // configured channel may carry the canonical channel's name.
    const expectation = { filename: record.filename, sha256: digest.sha256, acceptedChannels: [...new Set([canonical, record.channel])] };
    const keyFor = async (sidecarSha256: string): Promise<string | null> =>
      verdicts
        ? verdictKey({
            sidecarSha256,
            packageSha256: digest.sha256,
            filename: record.filename,
            channel: canonical,
            acceptedChannels: expectation.acceptedChannels,
            trustRootDigest: (await usedTrustRoot()).digest,
            policyDigest: policyDigest(policy),
            productVersion: version,
          })
        : null;

    let retrieval: RetrievalState | undefined;
    // Warm path: repodata advertises the sidecar's hash, and a verdict for exactly these
    // inputs exists: neither the sidecar nor sigstore-js is needed.
    if (verdicts && !options.sigs && policy.discovery[0] === 'repodata') {
      const advertised =
        record.attestationsSha256 ??
        (await repodata.lookup(record.channel, record.subdir, record.filename).catch(() => undefined))?.attestationsSha256;
      if (advertised !== undefined && ATTESTATIONS_SHA256_RE.test(advertised)) {
        const key = await keyFor(advertised);
        const cached = key ? verdicts.get(key) : undefined;
        if (cached) {
          row.sidecar = { url: sidecarUrl(record, 'repodata', advertised), method: 'repodata', sha256: advertised };
          row.bundles = cached;
          retrieval = { kind: 'bundles', outcomes: cached };
        }
      }
    }
    if (!retrieval) {
      let sidecar: SidecarResult;
      try {
        sidecar = await retrieve(record, policy);
      } catch (e) {
        sidecar = { state: 'failed', reasons: [reasonOf(e, 'SIDECAR_UNAVAILABLE')], method: 'repodata' };
      }
      if (sidecar.state === 'none') retrieval = { kind: 'none' };
      else if (sidecar.state === 'failed') retrieval = { kind: 'failed', reasons: sidecar.reasons };
      else {
        row.sidecar = { url: sidecar.url, method: sidecar.method, sha256: sidecar.sha256 };
        const key = await keyFor(sidecar.sha256);
        let outcomes = key ? verdicts?.get(key) : undefined;
        if (!outcomes) {
          try {
            outcomes = await (await pool()).verifyAttestations(sidecar.bundles, expectation, {
              trustedKeys: policy.trustedKeys,
              requireTlog: policy.requireTlog,
            });
          } catch (e) {
            // An unusable trust root is a configuration error for the whole run (exit 2),
            // not a property of this package.
            if (e instanceof TrustRootError || (e instanceof AttestError && e.code.startsWith('TRUST_ROOT_'))) throw e;
            return finishRow('invalid', [reasonOf(e, 'SIGSTORE_VERIFICATION_FAILED')]);
          }
          if (key) verdicts?.set(key, outcomes);
        }
        row.bundles = outcomes;
        retrieval = { kind: 'bundles', outcomes };
      }
    }

    const verdict = judgeAttestations({ policy, retrieval });
    row.identity = verdict.identity ?? null;
    let status = verdict.status;
    const reasons = [...verdict.reasons];
    // Issue 7: with require_tlog: false a key signature without a log entry is accepted,
    // and the report must say it is signature-only (not auditable in a transparency log).
    if (status === 'verified' && retrieval.kind === 'bundles') {
      for (const o of retrieval.outcomes) {
        if (o.verified && o.publish && o.identity?.kind === 'key' && o.tlog === false) {
          row.notes.push(`signature-only: bundle ${o.index} is signed with a trusted key but has no transparency-log entry (require_tlog: false)`);
        }
      }
    }

    // Trust on first use: compare the trusted identities with the identity lockfile.
    const trustedIdentities: SignerIdentity[] = verdict.trustedIdentities ?? [];
    let decision: LockDecision | null = null;
    if (status === 'verified' || status === 'missing') {
      try {
        decision = decide(
          lock,
          { channel: canonical, name: record.name, version: record.version },
          status === 'verified' ? trustedIdentities : [],
          date,
        );
      } catch (e) {
        // An identity that cannot be pinned (e.g. no issuer) must not pass as verified.
        return finishRow('invalid', [...reasons, reasonOf(e, 'LOCK_IDENTITY_INCOMPLETE')]);
      }
      const lockOutcome = lockJudgement(decision, Boolean(options.frozen), lockPath);
      if (lockOutcome) {
        if (lockOutcome.status) status = lockOutcome.status;
        reasons.push(...lockOutcome.reasons);
        row.notes.push(...lockOutcome.notes);
        if (lockOutcome.diff) row.identity_diff = lockOutcome.diff;
      }
    }
    const observation: Observation = { record, canonical, decision, ...(exception.pass ? { exempt: true } : {}) };
    observations.push(observation);
    const out = finishRow(status, reasons);
    if (exception.pass) out.notes = out.notes.filter((n) => n !== 'recorded'); // nothing is pinned under an exception
    else if (decision?.kind === 'new' && !options.frozen) noteFirstUse(observation, out, policy);
    return out;
  }

  // Issue 4 within one run: the lockfile is read once, so two files of one unpinned
  // package (two platforms, two versions) are each decided `new` on their own. When their
  // signers disagree, every one of them is an identity change and nothing is pinned
  // (inconsistentFirstUse); rows already returned are updated in place, so the report is
  // the same whatever order the packages finished in, and the later file is refused at once
  // (a plugin host stops before extracting it).
  const firstUse = new Map<string, { observation: Observation; row: PackageReport; policy: ChannelPolicy; decision: LockDecision }[]>();
  function noteFirstUse(observation: Observation, row: PackageReport, policy: ChannelPolicy): void {
    const decision = observation.decision!;
    const key = JSON.stringify([decision.channel, decision.name]);
    let members = firstUse.get(key);
    if (!members) firstUse.set(key, (members = []));
    members.push({ observation, row, policy, decision });
    const flagged = inconsistentFirstUse(members.map((m) => m.decision));
    if (!flagged) return;
    members.forEach((m, i) => {
      const d = flagged[i]!;
      m.observation.decision = d;
      const r = m.row;
      if (!('reason' in d)) return;
      r.reasons = [...r.reasons.filter((x) => x.code !== 'IDENTITY_INCONSISTENT'), d.reason];
      r.notes = r.notes.filter((n) => n !== 'recorded');
      r.identity_diff = d.diff;
      r.status = 'identity-changed';
      r.action = actionFor('identity-changed', m.policy.require);
    });
  }

  async function finish(): Promise<Report> {
    // An exception never changes what is pinned: its packages' decisions are not written.
    const decisions = observations
      .filter((o) => !o.exempt || o.decision?.kind === 'unchanged')
      .map((o) => o.decision)
      .filter((d): d is LockDecision => d !== null);
    // --frozen: the lockfile must not change. Otherwise write it once, merging into
    // what is on disk now so a concurrent run loses nothing.
    const written = !options.frozen && decisions.some((d) => d.kind !== 'unchanged' || d.touch);
    if (written) await updateLock(lockPath, (current) => applyDecisions(current, decisions));
    const root = trustRootUsed && trustRootPromise ? await trustRootPromise.catch(() => undefined) : undefined;
    await Promise.all([verdicts?.flush(), sidecars?.flush()]);
    if (poolPromise) await (await poolPromise.catch(() => undefined))?.close();
    http.close();
    const report = buildReport(rows, root);
    // Run-level notices: the pipeline's own (EXCEPTION_EXPIRED), sorted for deterministic
    // output, then the findings over the whole run (CHANNEL_UNUSED, NOTHING_VERIFIED).
    const notices = [...runNotices.values()].sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
    // Kept as warning lines too, the form they had before `notices` existed.
    if (notices.length) report.warnings = [...(report.warnings ?? []), ...notices.map((n) => `${n.code}: ${n.message}${n.hint ? ` (hint: ${n.hint})` : ''}`)];
    report.notices = [...notices, ...findRunNotices(config, report.packages)];
    report.lockfile = { path: lockPath, written, pinned: pinnedCount(decisions, Boolean(options.frozen)) };
    const cacheWarnings = [...(verdicts?.warnings ?? []), ...(sidecars?.warnings ?? [])];
    if (cacheWarnings.length) report.warnings = [...(report.warnings ?? []), ...cacheWarnings.map((w) => `cache: ${w}`)];
    const stale = repodata.stale().map(staleRepodataNotice);
    if (stale.length) report.warnings = [...(report.warnings ?? []), ...stale];
    return report;
  }

  const lockDecisions = (): LockDecision[] =>
    observations.map((o) => o.decision).filter((d): d is LockDecision => d !== null);
  return { verifyPackage, finish, lockDecisions, lockPath };
}

/** Packages this run pinned for the first time (written to the lockfile unless frozen). */
function pinnedCount(decisions: readonly LockDecision[], frozen: boolean): number {
  if (frozen) return 0;
  return decisions.filter((d) => d.kind === 'new' && d.identities.length > 0).length;
}

/**
 * Trust-root freshness: older than `trust_root_max_age_days` stops the run
 * (TRUST_ROOT_STALE, exit 2: a run-level configuration error, not a package verdict);
 * without the setting, a root older than 180 days is reported, never silent.
 */
function checkTrustRootAge(root: LoadedTrustRoot, config: ResolvedConfig): LoadedTrustRoot {
  const f = trustRootFreshness(root, config.trustRoot, config.trustRootMaxAgeDays);
  if (f.kind === 'stale') throw new TrustRootError('TRUST_ROOT_STALE', f.reason.message, { hint: f.reason.hint });
  if (f.kind === 'old') root.warnings = [...(root.warnings ?? []), `${f.reason.code}: ${f.reason.message} (hint: ${f.reason.hint})`];
  return root;
}

interface LockJudgement {
  status?: PackageStatus;
  reasons: Reason[];
  notes: string[];
  diff?: unknown;
}

/** Map a lock decision to the package's status (identity-changed) and notes. */
function lockJudgement(decision: LockDecision, frozen: boolean, lockPath: string): LockJudgement | null {
  switch (decision.kind) {
    case 'unchanged':
      return null;
    case 'new':
      if (decision.identities.length === 0) return null; // nothing attested, nothing to pin
      if (frozen) {
        return {
          status: 'identity-changed',
          reasons: [
            {
              code: 'LOCK_ENTRY_MISSING',
              message: `No signer identity is pinned for this package in the frozen lockfile ${lockPath}.`,
              hint: 'Run `conda-attest verify` without --frozen (or `conda-attest accept`) and commit the lockfile.',
            },
          ],
          notes: [],
        };
      }
      return { reasons: [], notes: ['recorded'] };
    case 'changed':
    case 'added':
    case 'removed':
      return {
        status: 'identity-changed',
        reasons: [decision.reason],
        notes: [],
        diff: decision.diff,
      };
  }
}

/** How long ago, in words: "3 minutes", "5 hours", "2 days". */
export function ageInWords(ms: number): string {
  const unit = (n: number, u: string): string => `${n} ${u}${n === 1 ? '' : 's'}`;
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'less than a minute';
  if (min < 60) return unit(min, 'minute');
  const h = Math.floor(min / 60);
  if (h < 48) return unit(h, 'hour');
  return unit(Math.floor(h / 24), 'day');
}

/** The notice for a subdir whose repodata came from the cache because its channel was unreachable. */
function staleRepodataNotice(s: StaleRepodata): string {
  return (
    `REPODATA_CACHED: ${s.channel} (${s.subdir}) could not be reached, so its repodata cached ${ageInWords(s.ageMs)} ago was used ` +
    `(${s.cause.replace(/\.$/, '')}). Sidecars are content-addressed and every bundle is still verified against the package digest; ` +
    `packages published since then are not in it.`
  );
}
