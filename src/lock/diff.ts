// Differences between pinned identity sets and between two lockfiles, and their JSON form
// (the renderings for a terminal and a pull-request comment are src/report/lock-diff.ts). Pure.
//
// JSON shape (diffJson, stable API; `conda-attest diff --format json`):
//   { "version": 1,
//     "identity_changes": <number of changes other than seen-changed>,
//     "changes": [ LockChange... ] }   sorted by channel, name, type, identity
// where each LockChange has `type`, `channel`, `name` and, by type:
//   package-added    identities[], first_seen {version,date}, last_seen {version,date}
//   package-removed  identities[]
//   identity-changed old {identity}, new {identity}, fields [{field, old, new}] (null = absent),
//                    reregistered [{kind, message, hint}] when the same repository URL has a
//                    new repository ID or the owner ID changed (src/policy/reregistered.ts)
//   identity-added   identity
//   identity-removed identity
//   seen-changed     which ("first_seen" | "last_seen"), old {version,date}|null, new {version,date}|null
import {
  COMPARED_FIELDS,
  IDENTITY_FIELDS,
  type IdentityField,
  compareStrings,
  identityKey,
  normalizeIdentities,
} from './identity.ts';
import { type Lock, type LockEntry, type LockIdentity, type Seen, getOwn } from './types.ts';
import { type Reregistration, reregistrations } from '../policy/reregistered.ts';

export interface FieldChange {
  field: IdentityField;
  old: string | null;
  new: string | null;
}

interface Where {
  channel: string;
  name: string;
}

export type LockChange =
  | (Where & { type: 'package-added'; identities: LockIdentity[]; first_seen: Seen; last_seen: Seen })
  | (Where & { type: 'package-removed'; identities: LockIdentity[] })
  | (Where & { type: 'identity-changed'; old: LockIdentity; new: LockIdentity; fields: FieldChange[]; reregistered?: Reregistration[] })
  | (Where & { type: 'identity-added'; identity: LockIdentity })
  | (Where & { type: 'identity-removed'; identity: LockIdentity })
  | (Where & { type: 'seen-changed'; which: 'first_seen' | 'last_seen'; old: Seen | null; new: Seen | null });

type LockChangeType = LockChange['type'];

const TYPE_ORDER: Record<LockChangeType, number> = {
  'package-added': 0,
  'package-removed': 1,
  'identity-changed': 2,
  'identity-removed': 3,
  'identity-added': 4,
  'seen-changed': 5,
};

/** True for every change a reviewer must look at (everything except first/last seen bookkeeping). */
export function isIdentityChange(c: LockChange): boolean {
  return c.type !== 'seen-changed';
}

function fieldChanges(a: LockIdentity, b: LockIdentity): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of IDENTITY_FIELDS) {
    const o = a[f] ?? null;
    const n = b[f] ?? null;
    if (o !== n) out.push({ field: f, old: o, new: n });
  }
  return out;
}

function similarity(a: LockIdentity, b: LockIdentity): number {
  let same = 0;
  for (const f of COMPARED_FIELDS) if ((a[f] ?? null) === (b[f] ?? null) && a[f] !== undefined) same++;
  return same;
}

/**
 * Identity-level changes from the pinned set `before` to `after`: identities only in
 * `before` are paired with the most similar identity only in `after` (greedy, in
 * canonical order) and shown field by field; the rest are plain removals / additions.
 * Same key with another key_name (a renamed self-managed key) is a label change.
 */
export function diffIdentitySets(where: Where, before: readonly LockIdentity[], after: readonly LockIdentity[]): LockChange[] {
  const b = normalizeIdentities(before);
  const a = normalizeIdentities(after);
  const aKeys = new Map(a.map((i) => [identityKey(i), i]));
  const bKeys = new Map(b.map((i) => [identityKey(i), i]));
  const removed = b.filter((i) => !aKeys.has(identityKey(i)));
  const added = a.filter((i) => !bKeys.has(identityKey(i)));
  const out: LockChange[] = [];
  for (const old of b) {
    const now = aKeys.get(identityKey(old));
    if (now && (old.key_name ?? null) !== (now.key_name ?? null)) {
      out.push({ ...where, type: 'identity-changed', old, new: now, fields: fieldChanges(old, now) });
    }
  }
  const unpaired = [...added];
  for (const old of removed) {
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < unpaired.length; i++) {
      const s = similarity(old, unpaired[i]);
      if (s > bestScore) {
        best = i;
        bestScore = s;
      }
    }
    if (best >= 0) {
      const now = unpaired.splice(best, 1)[0];
      const reregistered = reregistrations(old, now);
      out.push({ ...where, type: 'identity-changed', old, new: now, fields: fieldChanges(old, now), ...(reregistered.length ? { reregistered } : {}) });
    } else {
      out.push({ ...where, type: 'identity-removed', identity: old });
    }
  }
  for (const now of unpaired) out.push({ ...where, type: 'identity-added', identity: now });
  return sortChanges(out);
}

function changeIdentityKey(c: LockChange): string {
  switch (c.type) {
    case 'identity-changed':
      return identityKey(c.old);
    case 'identity-added':
    case 'identity-removed':
      return identityKey(c.identity);
    case 'seen-changed':
      return c.which;
    default:
      return '';
  }
}

export function sortChanges(changes: LockChange[]): LockChange[] {
  return [...changes].sort(
    (x, y) =>
      compareStrings(x.channel, y.channel) ||
      compareStrings(x.name, y.name) ||
      TYPE_ORDER[x.type] - TYPE_ORDER[y.type] ||
      compareStrings(changeIdentityKey(x), changeIdentityKey(y)),
  );
}

function sameSeen(a: Seen | undefined, b: Seen | undefined): boolean {
  return a?.version === b?.version && a?.date === b?.date;
}

function entryChanges(where: Where, old: LockEntry | undefined, now: LockEntry | undefined): LockChange[] {
  if (!old && !now) return [];
  if (!old && now) {
    return [
      {
        ...where,
        type: 'package-added',
        identities: normalizeIdentities(now.identities),
        first_seen: now.first_seen,
        last_seen: now.last_seen,
      },
    ];
  }
  if (old && !now) return [{ ...where, type: 'package-removed', identities: normalizeIdentities(old.identities) }];
  const o = old as LockEntry;
  const n = now as LockEntry;
  const out = diffIdentitySets(where, o.identities, n.identities);
  for (const which of ['first_seen', 'last_seen'] as const) {
    if (!sameSeen(o[which], n[which])) out.push({ ...where, type: 'seen-changed', which, old: o[which], new: n[which] });
  }
  return out;
}

/** Every change from lockfile `old` to lockfile `now`, sorted. */
export function diffLocks(old: Lock, now: Lock): LockChange[] {
  const out: LockChange[] = [];
  const channels = new Set([...Object.keys(old.channels), ...Object.keys(now.channels)]);
  for (const channel of channels) {
    const o = getOwn(old.channels, channel) ?? {};
    const n = getOwn(now.channels, channel) ?? {};
    for (const name of new Set([...Object.keys(o), ...Object.keys(n)])) {
      out.push(...entryChanges({ channel, name }, getOwn(o, name), getOwn(n, name)));
    }
  }
  return sortChanges(out);
}

export interface DiffJson {
  version: 1;
  identity_changes: number;
  changes: LockChange[];
}

/** The stable machine-readable shape (see the header of this file). */
export function diffJson(changes: readonly LockChange[]): DiffJson {
  const sorted = sortChanges([...changes]);
  return { version: 1, identity_changes: sorted.filter(isIdentityChange).length, changes: sorted };
}
