// Data types of the identity lockfile (`conda-attest.lock`, trust on first use). Plain data, no I/O.
// The on-disk shape is described by schema/lockfile.schema.json; keep both in step.

import type { LockedClaims } from '../claims.ts';

/** The only format version this code reads and writes. */
export const LOCK_VERSION = 1;

export type LockIdentityKind = 'github' | 'gitlab' | 'email' | 'uri' | 'key';

/**
 * The STABLE part of a signer identity, the thing that is pinned (docs/lockfile.md: the
 * `@ref` of a SAN changes every release, the workflow path and numeric IDs do not).
 * Which fields are set depends on `kind`:
 * - github / gitlab: issuer, repository, workflow, and repository_id / owner_id when the
 *   certificate carries them (numeric IDs survive renames and cannot be re-registered);
 * - email: issuer, email;  uri: issuer, uri (without `@ref`);
 * - key (self-managed keys): key_fingerprint (SHA-256 hex of the SPKI DER) and key_name (a label).
 */
export interface LockIdentity extends LockedClaims {
  kind: LockIdentityKind;
  issuer?: string;
  repository?: string;
  workflow?: string;
  email?: string;
  uri?: string;
  key_fingerprint?: string;
  /** Configured name of a self-managed key: a label for humans, NOT compared (see identityKey). */
  key_name?: string;
}

/** A package version and the day (YYYY-MM-DD, UTC) it was seen. */
export interface Seen {
  version: string;
  date: string;
}

/** What is pinned for one (canonical channel, package name). */
export interface LockEntry {
  /** One or more identities (build system + channel, ...), sorted by identityKey, no duplicates. */
  identities: LockIdentity[];
  /** When the current identity set was first recorded or accepted. */
  first_seen: Seen;
  /** Highest package version verified with this identity set, and the day it was first seen. */
  last_seen: Seen;
}

/** The whole lockfile: channel URL → package name → entry. */
export interface Lock {
  version: typeof LOCK_VERSION;
  channels: Record<string, Record<string, LockEntry>>;
}

export function emptyLock(): Lock {
  return { version: LOCK_VERSION, channels: {} };
}

/**
 * Set an own property, even for keys like `__proto__` (a package name is input from a
 * channel; plain assignment would replace the object's prototype instead).
 */
export function putOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  // Only `__proto__` is an accessor on Object.prototype; any other key assigns an own data
  // property, and plain assignment is several times cheaper than defineProperty (reading a
  // 1,000-package lockfile puts 1,000 keys).
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** An own property or undefined (never something inherited such as `__proto__`). */
export function getOwn<T>(obj: Record<string, T> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}
