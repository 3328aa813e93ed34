// Deny lists (incident response): after a compromise, a validly signed release must still be
// blockable. Pure functions over the resolved configuration and what a package's retrieval
// and verification found; the judge stage (src/stages/judge.ts) applies the result on every
// host, after any verdict-cache hit, so nothing that skips verification skips the deny list.
//
// Every comparison leans towards matching, because a miss lets a compromised package in
// while a spurious match only blocks: package names and SANs are compared without regard to
// case, a shorthand also matches certificates whose SAN or signing workflow lies inside the
// repository (a compromised repository's reusable workflows are compromised too), a version
// conda cannot read and a signature whose time is unknown are inside every range.
import type { BundleOutcome, DenyByIdentity, DenyEntry, Reason, SignerIdentity } from '../types.ts';
import { compileIdentityPattern, globToRegexSource } from './identity.ts';
import { globMatches } from './constraints.ts';
import { packageMatches } from './packages.ts';
import { PROVIDERS, parseShorthand } from './shorthand.ts';
import { versionMatches } from './conda-version.ts';

/** What is known about one package when it is judged. */
export interface DenyFacts {
  name: string;
  version: string;
  /** Every SHA-256 known for the package file (hashed from the bytes, given by the host, from the lockfile). */
  sha256: readonly string[];
  /** The signers of the bundles that verified, each with its signing time (null: unknown). */
  signers: readonly Signer[];
}

export interface Signer {
  identity: SignerIdentity;
  /** ISO 8601. */
  signedAt: string | null;
}

/** The signing time of a verified bundle: its verified log time, else an RFC 3161 timestamp. */
function signingTime(o: BundleOutcome): string | null {
  return o.evidence?.tlog?.integrated_time ?? o.evidence?.timestamps.find((t) => t.signing_time)?.signing_time ?? null;
}

/** The signers of the bundles that passed Sigstore verification (a claim in an unverified bundle is the attacker's). */
export function signersOf(outcomes: readonly BundleOutcome[]): Signer[] {
  return outcomes.filter((o) => o.verified && o.identity).map((o) => ({ identity: o.identity!, signedAt: signingTime(o) }));
}

interface CompiledIdentity {
  /** Over the SAN; for a shorthand, over the Source Repository URI claim. */
  regex: RegExp;
  /** For a shorthand: the repository's URL prefix (`https://github.com/acme/tool/`) as a case-insensitive test. */
  inside?: RegExp;
  ref?: string;
}

const compiled = new Map<string, CompiledIdentity>();

function compileDenyIdentity(identity: string): CompiledIdentity {
  let c = compiled.get(identity);
  if (c) return c;
  const shorthand = parseShorthand(identity);
  // The issuer plays no part: a deny entry names whoever holds that identity.
  const base = compileIdentityPattern({ identity, issuer: '' });
  c = { regex: new RegExp(base.regex.source, 'i') };
  if (shorthand) {
    c.inside = new RegExp(`^${globToRegexSource(PROVIDERS[shorthand.provider].repositoryBase + shorthand.repository)}/`, 'i');
    if (shorthand.ref !== undefined) c.ref = shorthand.ref;
  }
  compiled.set(identity, c);
  return c;
}

function identityMatches(entry: DenyByIdentity, signer: Signer): boolean {
  const id = signer.identity;
  if (id.kind === 'key') return false;
  const c = compileDenyIdentity(entry.identity);
  if (c.inside) {
    const inRepo =
      (id.sourceRepositoryUri !== undefined && c.regex.test(id.sourceRepositoryUri)) ||
      (id.san !== undefined && c.inside.test(id.san)) ||
      (id.buildSignerUri !== undefined && c.inside.test(id.buildSignerUri));
    if (!inRepo) return false;
    if (c.ref !== undefined && id.sourceRepositoryRef !== undefined && !globMatches(c.ref, id.sourceRepositoryRef)) return false;
  } else if (id.san === undefined || !c.regex.test(id.san)) {
    return false;
  }
  if (signer.signedAt === null) return true;
  const at = Date.parse(signer.signedAt);
  if (Number.isNaN(at)) return true;
  if (entry.signedAfter !== undefined && at < Date.parse(entry.signedAfter)) return false;
  if (entry.signedBefore !== undefined && at >= Date.parse(entry.signedBefore)) return false;
  return true;
}

function entryMatches(entry: DenyEntry, facts: DenyFacts): Signer | true | null {
  if ('sha256' in entry) return facts.sha256.some((d) => d.toLowerCase() === entry.sha256) ? true : null;
  if ('package' in entry) {
    if (!packageMatches(entry.package, facts.name.toLowerCase())) return null;
    return versionMatches(entry.versions, facts.version) !== false ? true : null;
  }
  return facts.signers.find((s) => identityMatches(entry, s)) ?? null;
}

/** The first deny entry (in configuration order) that matches, with the reason to report; null when none does. */
export function denyMatch(entries: readonly DenyEntry[], facts: DenyFacts): { entry: DenyEntry; reason: Reason } | null {
  for (const entry of entries) {
    const hit = entryMatches(entry, facts);
    if (hit === null) continue;
    return { entry, reason: deniedReason(entry, facts, hit === true ? null : hit) };
  }
  return null;
}

function deniedReason(entry: DenyEntry, facts: DenyFacts, signer: Signer | null): Reason {
  let what: string;
  if ('sha256' in entry) what = `its file (SHA-256 ${entry.sha256})`;
  else if ('package' in entry) what = `${facts.name} ${facts.version} (${entry.package} ${entry.versions})`;
  else {
    const who = signer?.identity.san ?? signer?.identity.sourceRepositoryUri ?? entry.identity;
    const when = signer?.signedAt ? `, signed ${signer.signedAt}` : entry.signedAfter || entry.signedBefore ? ', signing time unknown' : '';
    what = `its signer ${who} (${entry.identity}${when})`;
  }
  return {
    code: 'DENIED',
    message: `${entry.at} denies ${what}: ${entry.reason}`,
    hint: `The package is blocked whatever its attestations and policy say. Use another build or version; remove ${entry.at} only once the incident is resolved.`,
  };
}
