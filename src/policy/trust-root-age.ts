// Trust-root freshness: is the Sigstore trust root in use too old? Pure.
//
// A trust root that is never refreshed keeps trusting keys the deployment has since
// rotated out (and misses new ones), so its age is policy: `trust_root_max_age_days`
// makes an older root a run-level error (exit 2); without it, a root older than
// NOTICE_AGE_DAYS is reported as a notice so the age is never silent (docs/configuration.md "Trust root": "say
// how old its root is").
import type { Reason } from '../types.ts';
import { trustRootLabel } from '../verify/trust-root-validate.ts';

/** Age above which a root is reported when no `trust_root_max_age_days` is configured. */
export const NOTICE_AGE_DAYS = 180;

export interface TrustRootAge {
  /** Where the root came from, as reports name it. */
  source: string;
  /** Whole days (null when unknown). */
  ageDays: number | null;
  /** The date the content dates the root from (ISO 8601), when known. */
  asOf?: string | null;
}

export type Freshness =
  | { kind: 'fresh' }
  /** Older than `trust_root_max_age_days`: the run stops (TRUST_ROOT_STALE, exit 2). */
  | { kind: 'stale'; reason: Reason }
  /** Older than NOTICE_AGE_DAYS with no limit configured: a notice. */
  | { kind: 'old'; reason: Reason };

/** How to get a newer root, for the source at hand. */
function refreshHint(spec: string): string {
  return spec === 'public-good'
    ? 'Run `conda-attest trust-root refresh` on a machine with network access (or run without --offline); on an air-gapped machine, copy a fresh root written by `conda-attest trust-root export FILE` and point trust_root at it.'
    : `Replace ${spec} with a current trusted_root.json from its Sigstore deployment (e.g. \`conda-attest trust-root export FILE\` on a machine that can refresh).`;
}

/**
 * Judge the age of the trust root in use. `spec` is the configured trust_root
 * (`public-good` or a path). An unknown age is never stale (nothing to compare), except
 * that a configured limit cannot be shown to hold: it is then stale, failing closed.
 */
export function trustRootFreshness(root: TrustRootAge, spec: string, maxAgeDays?: number): Freshness {
  const age = root.ageDays;
  if (maxAgeDays !== undefined) {
    if (age === null) {
      return {
        kind: 'stale',
        reason: {
          code: 'TRUST_ROOT_STALE',
          message: `The age of the trust root ${root.source} is unknown, so trust_root_max_age_days (${maxAgeDays}) cannot be shown to hold.`,
          hint: refreshHint(spec),
        },
      };
    }
    if (age > maxAgeDays) {
      return {
        kind: 'stale',
        reason: {
          code: 'TRUST_ROOT_STALE',
          message: `The trust root ${root.source} is ${age} days old${root.asOf ? ` (it dates from ${root.asOf.slice(0, 10)})` : ''}, older than trust_root_max_age_days (${maxAgeDays}).`,
          hint: refreshHint(spec),
        },
      };
    }
    return { kind: 'fresh' };
  }
  if (age !== null && age > NOTICE_AGE_DAYS) {
    // One short line (it is shown on every run until the root is refreshed); the full
    // story is in `conda-attest trust-root status` (docs/commands.md).
    return {
      kind: 'old',
      reason: {
        code: 'TRUST_ROOT_STALE',
        message: `trust root ${trustRootLabel(root)} (${age} days old, more than ${NOTICE_AGE_DAYS})`,
        hint:
          spec === 'public-good'
            ? 'run `conda-attest trust-root refresh` when online'
            : `replace it with a current trusted_root.json (\`conda-attest trust-root export FILE\` where it can refresh)`,
      },
    };
  }
  return { kind: 'fresh' };
}
