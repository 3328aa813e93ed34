// What a lock decision means for a package's verdict (status, reasons, notes), and
// first-use consistency within one run. Pure functions over data.
import type { PackageStatus, Reason } from '../types.ts';
import { inconsistentFirstUse, type IdentityDiff, type LockDecision } from './decide.ts';

interface LockJudgement {
  /** Replaces the attestation verdict's status when set (`identity-changed`). */
  status?: PackageStatus;
  reasons: Reason[];
  notes: string[];
  diff?: IdentityDiff;
}

/** Map a lock decision to the package's status (identity-changed) and notes; null = nothing to add. */
export function lockJudgement(decision: LockDecision, frozen: boolean, lockPath: string): LockJudgement | null {
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
      return { status: 'identity-changed', reasons: [decision.reason], notes: [], diff: decision.diff };
  }
}

/** The key files of one package share within a run: (canonical channel, name). */
export function firstUseKey(d: Pick<LockDecision, 'channel' | 'name'>): string {
  return JSON.stringify([d.channel, d.name]);
}

/**
 * First use within one run. The lockfile is read once, so every file of a package it
 * does not pin yet (two platforms, two versions) is decided `new` on its own; when their
 * signers disagree, pinning their union would pin the odd signer without anyone having
 * looked (a new additional identity is a change too).
 *
 * `earlier`: the `new` decisions of the same (channel, name) already settled in this run
 * (their rows were returned: they stand). `incoming`: `new` decisions of that package
 * judged together now. Returns `incoming` settled, in order: unchanged when all of
 * earlier + incoming agree, else every incoming one turned into IDENTITY_INCONSISTENT
 * (nothing pinned for it; `accept` resolves it), with a diff against the others.
 *
 * So a caller that judges all files of a package together (the CLI) pins nothing when
 * they disagree, whatever order they finished in; a host that streams packages one at a
 * time gets what consecutive runs would give: the first file pins, a later disagreeing
 * file is refused before it is extracted.
 */
export function settleFirstUse(earlier: readonly LockDecision[], incoming: readonly LockDecision[]): LockDecision[] {
  const flagged = inconsistentFirstUse([...earlier, ...incoming]);
  return flagged ? flagged.slice(earlier.length) : [...incoming];
}
