// Claim constraints on a trusted identity: checked against the decoded Fulcio certificate
// extensions (src/claims.ts), never against the SAN text. Pure functions.
//
// Every given constraint must hold; a certificate that lacks a constrained claim does not
// satisfy it (fail closed: an older or foreign certificate cannot slip past a constraint
// by leaving the claim out).
import type { ClaimConstraints, SignerIdentity } from '../types.ts';
import { globToRegexSource } from './glob.ts';
import { CLAIMS, FULCIO_OID } from '../claims.ts';
import { getOrMake } from '../util/memo.ts';
import configSchema from '../../schema/config.schema.json' with { type: 'json' };

/** One constraint as configured: its config key, the claim it reads, and how it compares (a row of src/claims.ts). */
export interface ConstraintSpec {
  /** Config key (snake_case), e.g. `runner`. */
  key: string;
  field: keyof ClaimConstraints;
  claim: keyof SignerIdentity;
  /** Fulcio extension OID of the claim. */
  oid: string;
  /** The claim's name in Fulcio's certificate-extension registry. */
  claimName: string;
  match: 'exact' | 'glob' | 'one-of';
}

// The config's order (schema/config.schema.json `trustedIdentity`): the order reasons and
// `conda-attest policy` list them.
const CONFIG_ORDER = Object.keys((configSchema as unknown as { $defs: { trustedIdentity: { else: { properties: object } } } }).$defs.trustedIdentity.else.properties);

export const CONSTRAINTS: readonly ConstraintSpec[] = CLAIMS.flatMap((c) =>
  'constraint' in c ? [{ ...c.constraint, claim: c.field, oid: FULCIO_OID + c.oid, claimName: c.name }] : [],
).sort((a, b) => CONFIG_ORDER.indexOf(a.key) - CONFIG_ORDER.indexOf(b.key));

/** A failed constraint: what was wanted and what the certificate had (null: no such claim). */
export interface ConstraintFailure {
  key: string;
  wanted: string;
  had: string | null;
  /** e.g. `runner: wanted github-hosted, certificate says self-hosted`. */
  message: string;
}

// Compiled glob per pattern text (a handful of distinct patterns per configuration).
const globs = new Map<string, RegExp>();

/** Anchored glob test, the same matcher as identities (`*` never crosses `/`). */
export function globMatches(glob: string, value: string): boolean {
  return getOrMake(globs, glob, () => new RegExp(`^(?:${globToRegexSource(glob)})$`)).test(value);
}

/** The configured value of a constraint, as text (`trigger` lists are joined). */
export function wantedText(spec: ConstraintSpec, c: ClaimConstraints): string | undefined {
  const v = c[spec.field];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? (v.length === 1 ? v[0]! : `one of ${v.join(', ')}`) : v;
}

/** The failure of a claim that must hold for a pattern (shared by constraints and shorthands). */
export function claimFailure(key: string, wanted: string, had: string | undefined, spec: { claimName: string; oid: string }): ConstraintFailure {
  return {
    key,
    wanted,
    had: had ?? null,
    message:
      had === undefined
        ? `${key}: wanted ${wanted}, certificate has no ${spec.claimName} claim (OID ${spec.oid})`
        : `${key}: wanted ${wanted}, certificate says ${had === '' ? '(empty)' : had}`,
  };
}

/** Every constraint of `c` that `identity` fails, in CONSTRAINTS order (empty: all hold). */
export function checkConstraints(c: ClaimConstraints | undefined, identity: SignerIdentity): ConstraintFailure[] {
  if (!c) return [];
  const out: ConstraintFailure[] = [];
  for (const spec of CONSTRAINTS) {
    const wanted = c[spec.field];
    if (wanted === undefined) continue;
    const had = identity[spec.claim];
    const value = typeof had === 'string' ? had : undefined;
    let ok = false;
    if (value !== undefined) {
      if (spec.match === 'exact') ok = value === wanted;
      else if (spec.match === 'glob') ok = globMatches(wanted as string, value);
      else ok = (wanted as string[]).includes(value);
    }
    if (!ok) out.push(claimFailure(spec.key, wantedText(spec, c)!, value, spec));
  }
  return out;
}

/** True when the constraints object constrains anything. */
export function hasConstraints(c: ClaimConstraints | undefined): boolean {
  return c !== undefined && CONSTRAINTS.some((s) => c[s.field] !== undefined);
}
