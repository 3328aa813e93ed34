// Stage 4, judge: evidence → the package's verdict under its channel's policy and the
// identity lockfile (trust on first use). Pure: the lockfile and the date come in as data;
// the decisions themselves are src/policy/ and src/lock/.
import { reasonFromError } from '../errors.ts';
import { decide, type Lock, type LockDecision } from '../lock/decide.ts';
import { firstUseKey, lockJudgement, settleFirstUse } from '../lock/judge.ts';
import { exceptionEffect, exceptionFor } from '../policy/packages.ts';
import { denyMatch, signersOf } from '../policy/deny.ts';
import { actionFor, type Judgement, judgeAttestations, signatureOnlyNotes, type RetrievalState } from '../policy/verdict.ts';
import type { BundleOutcome, PackageReport, PackageStatus, Reason, RequireMode } from '../types.ts';
import type { Evidence, Retrieved } from './retrieve.ts';

export interface JudgeContext {
  /** The identity lockfile as read at the start of the run. */
  lock: Lock;
  /** Today, YYYY-MM-DD (UTC): the granularity of the lockfile's first/last seen. */
  date: string;
  /** CI mode: the lockfile must not change. */
  frozen: boolean;
  /** The lockfile's path, for messages. */
  lockPath: string;
}

/** A judged package: its report row and its lock decision (null when none applies). */
export interface Judged {
  row: PackageReport;
  decision: LockDecision | null;
  /** The channel's `require` (an identity change found later in the run is weighed with it). */
  require: RequireMode;
  /** Passed by an active exception: its lock decision is never written (an exception pins nothing). */
  exempt: boolean;
  /** A run-level notice (EXCEPTION_EXPIRED), reported once per run. */
  notice?: Reason;
}

export function judgePackage(retrieved: Retrieved, ctx: JudgeContext): Judged {
  const { pkg, evidence } = retrieved;
  const { record, canonical, policy } = pkg;
  const row: PackageReport = {
    filename: record.filename,
    name: record.name,
    version: record.version,
    build: record.build,
    channel: canonical,
    subdir: record.subdir,
    url: record.url,
    sha256: retrieved.sha256,
    digest_source: retrieved.digestSource,
    status: 'skipped',
    action: 'pass',
    identity: null,
    reasons: [],
    notes: evidence.kind === 'disabled' ? [`attestation checks are disabled for ${canonical}`] : [],
    sidecar: retrieved.sidecar,
    bundles: evidence.kind === 'bundles' ? evidence.outcomes : [],
  };
  // An active exception lets the package pass whatever its status (status and reasons
  // kept); an expired one changes nothing and is reported once per run.
  const exception = exceptionEffect(exceptionFor(pkg.channelPolicy.exceptions, record.name, ctx.date), record.name, pkg.channelPolicy.channel, ctx.date);
  // Incident response: a deny entry blocks whatever else is found (src/policy/deny.ts),
  // over `require`, exceptions and cached verdicts alike, and pins nothing.
  const digests = [retrieved.sha256, record.sha256, pkg.given?.sha256].filter((d): d is string => typeof d === 'string');
  const denied = pkg.deny.length === 0 ? null : denyMatch(pkg.deny, { name: record.name, version: record.version, sha256: digests, signers: signersOf(row.bundles) });
  const done = (status: PackageStatus, reasons: Reason[], decision: LockDecision | null = null): Judged => {
    if (denied) {
      const notes = row.notes.filter((n) => n !== 'recorded');
      const final: PackageReport = { ...row, status: 'untrusted', action: 'block', reasons: [denied.reason, ...reasons], notes };
      return { row: final, decision: null, require: policy.require, exempt: false };
    }
    // A local package whose archive is damaged is invalid whatever its attestations say
    // (its digest was still checked: a tampered file is reported as such first).
    const damaged = record.unreadable !== undefined && !reasons.includes(record.unreadable);
    if (damaged) {
      status = 'invalid';
      reasons = [...reasons, record.unreadable!];
      decision = null; // nothing is pinned for it
    }
    // CEP 50: bundle order carries no meaning, and a bundle that fails (or is untrusted)
    // beside one that verifies is never dropped silently: the package passes with a
    // warning whose reasons carry that bundle's code.
    const action = exception.pass ? 'pass' : status === 'verified' && reasons.length > 0 ? 'warn' : actionFor(status, policy.require);
    const final: PackageReport = { ...row, status, reasons, action };
    if (damaged) final.notes = final.notes.filter((n) => n !== 'recorded');
    if (exception.exception) final.exception = exception.exception;
    if (exception.note) final.notes = [...final.notes, exception.note];
    // Nothing is pinned under an exception.
    if (exception.pass) final.notes = final.notes.filter((n) => n !== 'recorded');
    return { row: final, decision, require: policy.require, exempt: exception.pass, ...(exception.notice ? { notice: exception.notice } : {}) };
  };
  if (evidence.kind === 'rejected') return done(evidence.status, evidence.reasons);

  const verdict = judgeAttestations({ policy, retrieval: retrievalState(evidence) });
  row.identity = verdict.identity ?? null;
  row.verified_by = verdict.verifiedBy;
  row.bundles = withPolicyChecks(row.bundles, verdict.policyChecks);
  row.notes.push(...signatureOnlyNotes(verdict.status, row.bundles));
  if (verdict.status !== 'verified' && verdict.status !== 'missing') return done(verdict.status, verdict.reasons);

  // Trust on first use: compare the trusted identities with the identity lockfile.
  let decision: LockDecision;
  try {
    const observed = verdict.status === 'verified' ? verdict.trustedIdentities : [];
    decision = decide(ctx.lock, { channel: canonical, name: record.name, version: record.version }, observed, ctx.date);
  } catch (e) {
    // An identity that cannot be pinned (e.g. no issuer) must not pass as verified.
    return done('invalid', [...verdict.reasons, reasonFromError(e, 'LOCK_IDENTITY_INCOMPLETE')]);
  }
  const lock = lockJudgement(decision, ctx.frozen, ctx.lockPath);
  if (!lock) return done(verdict.status, verdict.reasons, decision);
  row.notes.push(...lock.notes);
  if (lock.diff) row.identity_diff = lock.diff;
  return done(lock.status ?? verdict.status, [...verdict.reasons, ...lock.reasons], decision);
}

/** The outcomes with the policy's checks filled in (copies: outcomes may be shared with the verdict cache). */
function withPolicyChecks(outcomes: BundleOutcome[], checks: Judgement['policyChecks']): BundleOutcome[] {
  if (checks.size === 0) return outcomes;
  return outcomes.map((o) => {
    const c = checks.get(o.index);
    return c && o.evidence ? { ...o, evidence: { ...o.evidence, checks: { ...o.evidence.checks, ...c } } } : o;
  });
}

function retrievalState(evidence: Exclude<Evidence, { kind: 'rejected' }>): RetrievalState {
  switch (evidence.kind) {
    case 'disabled':
    case 'none':
      return { kind: evidence.kind };
    case 'failed':
      return { kind: 'failed', reasons: evidence.reasons };
    case 'bundles':
      return { kind: 'bundles', outcomes: evidence.outcomes };
    case 'sidecar':
      // The verify stage turns every sidecar into outcomes; unverified bundles never pass.
      return { kind: 'failed', reasons: [{ code: 'SIGSTORE_VERIFICATION_FAILED', message: 'The sidecar was not verified.' }] };
  }
}

/**
 * First-use consistency (src/lock/judge.ts settleFirstUse) over judged packages: a package
 * first seen in this run whose files disagree on its signers becomes `identity-changed`
 * (IDENTITY_INCONSISTENT) and pins nothing. `earlier(key)`: the first-use decisions of that
 * package already settled in this run. Returns the final packages, in input order.
 */
export function settleJudged(judged: readonly Judged[], frozen: boolean, earlier: (d: LockDecision) => readonly LockDecision[]): Judged[] {
  if (frozen) return [...judged];
  const out = [...judged];
  const groups = new Map<string, number[]>();
  judged.forEach((j, i) => {
    if (j.decision?.kind !== 'new' || j.exempt) return;
    const key = firstUseKey(j.decision);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const indexes of groups.values()) {
    const incoming = indexes.map((i) => judged[i]!.decision!);
    const settled = settleFirstUse(earlier(incoming[0]!), incoming);
    indexes.forEach((i, k) => (out[i] = withDecision(judged[i]!, settled[k]!)));
  }
  return out;
}

/** A judged package under its settled decision: an inconsistent first use is an identity change. */
function withDecision(j: Judged, d: LockDecision): Judged {
  if (d === j.decision || !('reason' in d)) return { ...j, decision: d };
  const row: PackageReport = {
    ...j.row,
    status: 'identity-changed',
    action: actionFor('identity-changed', j.require),
    reasons: [...j.row.reasons, d.reason],
    notes: j.row.notes.filter((n) => n !== 'recorded'),
    identity_diff: d.diff,
  };
  return { ...j, row, decision: d };
}
