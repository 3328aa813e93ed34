// Re-registration: the same repository URL with another numeric ID, or another owner ID.
// Numeric IDs (Fulcio OIDs 1.3.6.1.4.1.57264.1.15 and .17, docs/lockfile.md) survive renames and
// cannot be re-registered by someone else, so a changed ID under a pinned name means the
// repository was deleted and created again, or its owner account changed hands — the
// case a name-only pin cannot see. One sentence and one hint per case, shared by the
// lockfile reasons, the reviewer diff and the policy's claim constraints. Pure.

export interface Reregistration {
  kind: 'repository-recreated' | 'owner-changed';
  message: string;
  hint: string;
}

export function repositoryRecreated(oldId: string, newId: string): Reregistration {
  return {
    kind: 'repository-recreated',
    message: `repository re-created: same URL, new ID ${oldId} → ${newId}`,
    hint: 'The repository at this URL is not the one pinned: it was deleted and created again, possibly by someone else. Confirm with the publisher that they re-created it before accepting.',
  };
}

export function ownerChanged(oldId: string, newId: string): Reregistration {
  return {
    kind: 'owner-changed',
    message: `owner transferred or re-created (owner ID ${oldId} → ${newId})`,
    hint: 'The account that owns the repository is not the one pinned: the repository was transferred, or the owner was deleted and its name taken by another account. Confirm with the publisher before accepting.',
  };
}

/** The pinned and observed values a re-registration is read from (lockfile field names). */
export interface RegisteredIds {
  repository?: string;
  repository_id?: string;
  owner_id?: string;
}

/**
 * What changed hands between a pinned identity and an observed one: the repository
 * (same URL, both IDs known and different) and/or the owner (both owner IDs known and
 * different). An ID missing on either side says nothing (an older pin, or a certificate
 * without the claim) and gives no finding here; the field diff still shows it.
 */
export function reregistrations(old: RegisteredIds, now: RegisteredIds): Reregistration[] {
  const out: Reregistration[] = [];
  if (old.repository !== undefined && old.repository === now.repository && old.repository_id && now.repository_id && old.repository_id !== now.repository_id) {
    out.push(repositoryRecreated(old.repository_id, now.repository_id));
  }
  if (old.owner_id && now.owner_id && old.owner_id !== now.owner_id) out.push(ownerChanged(old.owner_id, now.owner_id));
  return out;
}
