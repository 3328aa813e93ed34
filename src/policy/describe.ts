// Human-readable forms of trusted identities and their constraints (reasons, the
// `conda-attest policy` command). Pure.
import type { ClaimConstraints, IdentityPattern } from '../types.ts';
import { CONSTRAINTS, wantedText } from './constraints.ts';

/** `runner github-hosted, trigger one of push, release` (empty string: no constraints). */
export function describeConstraints(c: ClaimConstraints | undefined): string {
  if (!c) return '';
  const parts: string[] = [];
  for (const spec of CONSTRAINTS) {
    const w = wantedText(spec, c);
    if (w !== undefined) parts.push(`${spec.key} ${w}`);
  }
  return parts.join(', ');
}

/** `<identity> (issuer <issuer>[; <constraints>])`. */
export function describePattern(p: IdentityPattern): string {
  const constraints = describeConstraints(p.constraints);
  return `${p.identity} (issuer ${p.issuer}${constraints ? `; ${constraints}` : ''})`;
}
