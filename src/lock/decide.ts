// Trust on first use: compare the verified, trusted publish identities of a
// package with what the identity lockfile pins for its (canonical channel, name), and
// compute the next lockfile. Pure: no clock (the caller passes `today`), no files.
//
// Decision kinds (what the pipeline maps to a status, docs/lockfile.md):
// - `new`: nothing pinned. With identities → record them (status `verified`, note
//   `recorded`). With none (unattested, unpinned) → nothing to pin, nothing written.
// - `unchanged`: the observed set equals the pinned set (same SAN with another `@ref` is
//   the same identity). `touch` says whether `last_seen` moves (only to a HIGHER version,
//   so runs that see several versions of one package do not rewrite the file).
// - `changed`: a pinned identity is replaced by another (field-by-field diff).
// - `added`: every pinned identity is still there, plus one more. A change too: a new
//   signer is exactly what an attacker with access to another pipeline would add.
// - `removed`: a pinned identity is missing. `downgrade: true` when the package arrived
//   with NO attestations at all (reason ATTESTATIONS_REMOVED); a PARTIAL loss (signed by
//   build system + channel before, only one of them now) is also `removed`
//   (IDENTITY_REMOVED): a missing co-signature weakens what the pin promised, as pnpm's
//   `no-downgrade` treats any trust-level drop. `accept` records the smaller set.
// For changed/added/removed a normal run keeps the pin as is (`entry` = pinned); only
// `accept` writes `proposed` (`null` = drop the pin of a package now unattested).
import type { Reason, SignerIdentity } from '../types.ts';
import { type LockChange, diffIdentitySets, diffLocks, sortChanges } from './diff.ts';
import { escapeText as safeText } from '../text/escape.ts';
import { compareStrings, identityKey, identityLabel, normalizeIdentities, stableIdentity } from './identity.ts';
import { type Lock, type LockEntry, type LockIdentity, type Seen, getOwn, putOwn } from './types.ts';
import { compareVersions } from './version.ts';
import { ChannelUrl } from '../util/channel-url.ts';
import { getOrMake } from '../util/memo.ts';

export { stableIdentity } from './identity.ts';
export type { Lock, LockEntry, LockIdentity, Seen } from './types.ts';
export { emptyLock } from './types.ts';

export interface PackageKey {
  /** Canonical channel URL (no trailing slash). */
  channel: string;
  name: string;
  version: string;
}

/** The identity part of a decision, as put into a report row (`identity_diff`). */
export interface IdentityDiff {
  pinned: LockIdentity[];
  observed: LockIdentity[];
  changes: LockChange[];
}

interface DecisionBase extends PackageKey {
  /** Observed identities, stable form, sorted, without duplicates ([] = no attestations). */
  identities: LockIdentity[];
  /** What the lockfile pinned when deciding, or null. */
  pinned: LockEntry | null;
  /** What a normal run leaves in the lockfile for this package (null = no entry). */
  entry: LockEntry | null;
  /** What `accept` would write (null = no entry). */
  proposed: LockEntry | null;
  /** True when `entry` differs from `pinned` (a write is due). */
  touch: boolean;
}

export type LockDecision =
  | (DecisionBase & { kind: 'new' | 'unchanged' })
  | (DecisionBase & { kind: 'changed' | 'added' | 'removed'; downgrade: boolean; reason: Reason; diff: IdentityDiff });

/** sortedSetKey(normalizeIdentities(ids)), without copying the identities (it runs for every package: hot path). */
function setKey(ids: readonly LockIdentity[]): string {
  return [...new Set(ids.map(identityKey))].sort(compareStrings).join('\n');
}

/** setKey of a list already in normalizeIdentities form (sorted, no duplicates): no second sort. */
function sortedSetKey(ids: readonly LockIdentity[]): string {
  return ids.map(identityKey).join('\n');
}

function pinnedEntry(lock: Lock, channel: string, name: string): LockEntry | null {
  return getOwn(getOwn(lock.channels, channel), name) ?? null;
}

function freshEntry(identities: LockIdentity[], version: string, today: string): LockEntry {
  return { identities, first_seen: { version, date: today }, last_seen: { version, date: today } };
}

/**
 * How a pin is dropped (docs/lockfile.md): by hand, as a reviewed change. `accept` refuses,
 * since a package that arrives without attestations did not verify.
 */
export const DROP_PIN_HINT =
  'A downgrade is not accepted: ask the publisher why the attestations are gone. If the package has really stopped publishing them, delete its entry from the identity lockfile by hand and commit that change for review (`conda-attest diff` shows it as "package no longer pinned").';

function hintFor(name: string): string {
  return `Review the change with the publisher; if it is legitimate run \`conda-attest accept ${name}\` and commit the lockfile.`;
}

/** The hint of a change: what a re-registration means first (src/policy/reregistered.ts), then how to accept it. */
function changeHint(name: string, changes: LockChange[]): string {
  const seen = changes.flatMap((c) => (c.type === 'identity-changed' ? (c.reregistered ?? []) : [])).map((r) => r.hint);
  return [...new Set(seen), hintFor(name)].join(' ');
}

function describeChanges(changes: LockChange[]): string {
  const parts: string[] = [];
  for (const c of changes) {
    if (c.type === 'identity-changed') {
      const what = (c.reregistered ?? []).map((r) => r.message);
      parts.push([...what, c.fields.map((f) => `${f.field} ${f.old ?? '(absent)'} → ${f.new ?? '(absent)'}`).join(', ')].join('; '));
    } else if (c.type === 'identity-added') parts.push(`added ${identityLabel(c.identity)}`);
    else if (c.type === 'identity-removed') parts.push(`missing ${identityLabel(c.identity)}`);
  }
  return safeText(parts.join('; '));
}

/**
 * Decide what the lockfile says about one verified package. `observed` are the
 * verified AND trusted publish identities (`[]` = the package arrived without
 * attestations). `today` is `YYYY-MM-DD`.
 */
export function decide(lock: Lock, pkg: PackageKey, observed: readonly SignerIdentity[], today: string): LockDecision {
  const identities = normalizeIdentities(observed.map(stableIdentity));
  const pinned = pinnedEntry(lock, pkg.channel, pkg.name);
  const base = { channel: pkg.channel, name: pkg.name, version: pkg.version, identities, pinned };

  if (!pinned) {
    const entry = identities.length > 0 ? freshEntry(identities, pkg.version, today) : null;
    return { ...base, kind: 'new', entry, proposed: entry, touch: entry !== null };
  }

  if (sortedSetKey(identities) === setKey(pinned.identities)) {
    const newer = compareVersions(pkg.version, pinned.last_seen.version) > 0;
    const entry = newer ? { ...pinned, last_seen: { version: pkg.version, date: today } } : pinned;
    return { ...base, kind: 'unchanged', entry, proposed: entry, touch: newer };
  }

  // A renamed self-managed key (key_name only) is not a signer change: identityKey ignores it.
  const changes = diffIdentitySets(pkg, pinned.identities, identities).filter(
    (c) => !(c.type === 'identity-changed' && identityKey(c.old) === identityKey(c.new)),
  );
  const diff: IdentityDiff = { pinned: normalizeIdentities(pinned.identities), observed: identities, changes };
  const proposed = identities.length > 0 ? freshEntry(identities, pkg.version, today) : null;
  const common = { ...base, entry: pinned, proposed, touch: false, diff };
  const what = `${safeText(pkg.name)} ${safeText(pkg.version)} from ${safeText(pkg.channel)}`;

  const list = describeChanges(changes);
  const changed = (kind: 'removed' | 'changed' | 'added', code: Reason['code'], message: string, hint: string, downgrade = false): LockDecision => ({
    ...common,
    kind,
    downgrade,
    reason: { code, message, hint },
  });
  if (identities.length === 0) {
    return changed('removed', 'ATTESTATIONS_REMOVED', `${what} arrived without attestations, but the lockfile pins its signer (${list}).`, DROP_PIN_HINT, true);
  }
  if (changes.some((c) => c.type === 'identity-changed')) {
    return changed('changed', 'IDENTITY_CHANGED', `${what} is signed by another identity than the lockfile pins: ${list}.`, changeHint(pkg.name, changes));
  }
  if (changes.some((c) => c.type === 'identity-removed')) {
    return changed('removed', 'IDENTITY_REMOVED', `${what} lacks a signer identity the lockfile pins: ${list}.`, hintFor(pkg.name));
  }
  return changed('added', 'IDENTITY_ADDED', `${what} is also signed by an identity the lockfile does not pin: ${list}.`, hintFor(pkg.name));
}

/**
 * First use WITHIN one run (trust on first use: "a new additional identity is a change too"). The
 * lockfile is read once per run, so every observation of a package it does not pin yet
 * is decided `new` on its own; if those observations disagree (e.g. the linux-64 build
 * signed by one feedstock and the osx-64 build by another, or one platform arriving
 * without attestations), recording their union would pin the odd signer without anyone
 * having looked. Given every `new` decision of one (channel, name) seen so far in a run:
 * null when they agree; otherwise each one turned into a change (IDENTITY_INCONSISTENT)
 * that a normal run does not pin (`entry` null) and `accept` resolves (`proposed` kept),
 * each with a diff against the identities the OTHER observations showed. Order-independent.
 */
export function inconsistentFirstUse(group: readonly LockDecision[]): LockDecision[] | null {
  const news = group.filter((d) => d.pinned === null);
  if (news.length < 2 || new Set(news.map((d) => setKey(d.identities))).size < 2) return null;
  const label = (ids: readonly LockIdentity[]): string => (ids.length ? ids.map(identityLabel).join(' + ') : 'no attestations');
  return news.map((d, i) => {
    const others = normalizeIdentities(news.filter((_, j) => j !== i).flatMap((o) => o.identities));
    const seen = [...new Set(news.filter((_, j) => j !== i).map((o) => `${safeText(o.version)}: ${safeText(label(o.identities))}`))].sort(compareStrings);
    const changes = diffIdentitySets({ channel: d.channel, name: d.name }, others, d.identities);
    return {
      ...d,
      kind: d.identities.length > 0 && others.every((o) => d.identities.some((x) => identityKey(x) === identityKey(o))) ? 'added' : 'changed',
      downgrade: d.identities.length === 0,
      entry: null,
      touch: false,
      diff: { pinned: [], observed: d.identities, changes },
      reason: {
        code: 'IDENTITY_INCONSISTENT',
        message: `${safeText(d.name)} ${safeText(d.version)} from ${safeText(d.channel)} (${safeText(label(d.identities))}) disagrees with other files of the same package in this run (${seen.join('; ')}); nothing is pinned for it.`,
        hint: hintFor(d.name),
      },
    } satisfies LockDecision;
  });
}

function cloneLock(lock: Lock): Lock {
  const channels: Lock['channels'] = {};
  for (const [ch, pkgs] of Object.entries(lock.channels)) putOwn(channels, ch, { ...pkgs });
  return { version: lock.version, channels };
}

function setEntry(lock: Lock, channel: string, name: string, entry: LockEntry | null): void {
  if (entry) {
    if (!Object.hasOwn(lock.channels, channel)) putOwn(lock.channels, channel, {});
    putOwn(lock.channels[channel], name, entry);
  } else if (Object.hasOwn(lock.channels, channel)) {
    delete lock.channels[channel][name];
    if (Object.keys(lock.channels[channel]).length === 0) delete lock.channels[channel];
  }
}

function groupDecisions<T extends PackageKey>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const d of items) getOrMake(groups, JSON.stringify([d.channel, d.name]), () => []).push(d);
  return groups;
}

function maxSeen(a: Seen, b: Seen): Seen {
  return compareVersions(b.version, a.version) > 0 ? b : a;
}
function minSeen(a: Seen, b: Seen): Seen {
  return compareVersions(b.version, a.version) < 0 ? b : a;
}

/** A first pin made from several observations of one package in a run: union of identities, lowest/highest version. */
function mergeFresh(entries: LockEntry[]): LockEntry {
  return {
    identities: normalizeIdentities(entries.flatMap((e) => e.identities)),
    first_seen: entries.map((e) => e.first_seen).reduce(minSeen),
    last_seen: entries.map((e) => e.last_seen).reduce(maxSeen),
  };
}

/**
 * The lockfile after a normal (non-accepting) run. `lock` may be NEWER than the one the
 * decisions were made against (updateLock re-reads it under the inter-process lock), so:
 * - `new` decisions create an entry only if there is still none (all `new` observations of
 *   one package in the run form its first pin together); an entry written meanwhile by a
 *   concurrent run wins and the next run judges against it;
 * - `unchanged` decisions move `last_seen` forward only if the entry still pins the set
 *   they were judged against;
 * - changed/added/removed never touch the pin (that is `accept`'s job).
 */
export function applyDecisions(lock: Lock, decisions: readonly LockDecision[]): Lock {
  const out = cloneLock(lock);
  for (const group of groupDecisions(decisions).values()) {
    const { channel, name } = group[0];
    const current = pinnedEntry(out, channel, name);
    if (!current) {
      const fresh = group.filter((d) => d.kind === 'new' && d.entry).map((d) => d.entry as LockEntry);
      if (fresh.length > 0) setEntry(out, channel, name, mergeFresh(fresh));
      continue;
    }
    const currentSet = setKey(current.identities);
    let last = current.last_seen;
    for (const d of group) {
      if (d.kind === 'unchanged' && d.touch && d.entry && setKey(d.identities) === currentSet) last = maxSeen(last, d.entry.last_seen);
    }
    if (last !== current.last_seen) setEntry(out, channel, name, { ...current, last_seen: last });
  }
  return out;
}

/** Which packages `accept` takes: all, or a list of `NAME`, `CHANNEL::NAME` (short channel name or URL). */
export type AcceptSelector = { all: true } | { packages: readonly string[] };

/** Whether `spec` (`numpy`, `conda-forge::numpy`, `https://host/ch::numpy`) names this package. */
export function matchesSpec(spec: string, channel: string, name: string): boolean {
  const sep = spec.lastIndexOf('::');
  if (sep < 0) return spec === name;
  const ch = ChannelUrl.of(spec.slice(0, sep));
  if (spec.slice(sep + 2) !== name) return false;
  return ch === channel || channel.endsWith(`/${ch}`);
}

export interface AcceptResult {
  lock: Lock;
  /**
   * Selected pinned packages observed only without attestations (ATTESTATIONS_REMOVED):
   * their pins are kept. Dropping a pin is a hand edit of the lockfile, never `accept`
   * (docs/lockfile.md), so a downgrade can never be accepted away. `CHANNEL::NAME`, sorted.
   */
  keptPins: string[];
  /** What accepting changed, from `lock` to the result (sorted, as `diffLocks`). */
  changes: LockChange[];
  /** Specs of the selector that matched no observed package (usually a CLI error). */
  unmatched: string[];
}

/**
 * `conda-attest accept`: take the currently observed identities of the selected
 * packages into the lock (after the user reviewed `changes`). For each selected package
 * the new pin is the union of the identities of all its observations in the run; a
 * pinned package observed only without attestations keeps its pin (keptPins). Unselected packages keep
 * what a normal run would write (applyDecisions). Pure; write the result with updateLock.
 */
export function acceptInto(lock: Lock, decisions: readonly LockDecision[], selector: AcceptSelector): AcceptResult {
  const specs = 'all' in selector ? [] : [...selector.packages];
  const used = new Set<string>();
  const selected = (d: LockDecision): boolean => {
    if ('all' in selector) return true;
    let hit = false;
    for (const s of specs) {
      if (matchesSpec(s, d.channel, d.name)) {
        used.add(s);
        hit = true;
      }
    }
    return hit;
  };
  const kept: string[] = [];
  const picked = new Set(decisions.filter(selected));
  const rest = decisions.filter((d) => !picked.has(d));
  const out = applyDecisions(lock, rest);
  for (const group of groupDecisions([...picked]).values()) {
    const { channel, name } = group[0];
    const observed = group.filter((d) => d.proposed).map((d) => d.proposed as LockEntry);
    const current = pinnedEntry(out, channel, name);
    if (observed.length === 0) {
      if (current) kept.push(`${channel}::${name}`);
      continue;
    }
    const merged = mergeFresh(observed);
    if (current && setKey(current.identities) === setKey(merged.identities)) {
      // Nothing to accept for this package: keep its history, move last_seen forward only.
      setEntry(out, channel, name, { ...current, last_seen: maxSeen(current.last_seen, merged.last_seen) });
    } else {
      setEntry(out, channel, name, merged);
    }
  }
  return { lock: out, changes: diffLocks(lock, out), unmatched: specs.filter((s) => !used.has(s)).sort(compareStrings), keptPins: kept.sort(compareStrings) };
}

export type { LockChange };

/**
 * What a run changes about signer identities, for a reviewer: new pins (what the run
 * writes, or under --frozen would write) plus every changed, added or removed identity the
 * run refused (what `accept` would take). Same change shapes as `conda-attest diff`, sorted
 * like it, without first/last-seen bookkeeping.
 */
export function identityChanges(lock: Lock, decisions: readonly LockDecision[]): LockChange[] {
  const pinned = diffLocks(lock, applyDecisions(lock, decisions)).filter((c) => c.type !== 'seen-changed');
  const refused = decisions.flatMap((d) => ('diff' in d ? d.diff.changes : []));
  const seen = new Set<string>();
  const out: LockChange[] = [];
  for (const c of [...pinned, ...refused]) {
    const key = JSON.stringify(c);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(c);
    }
  }
  return sortChanges(out);
}
