// The identity lockfile on disk: parse + validate, deterministic serialisation, and a
// crash-safe, concurrency-safe read-modify-write (trust on first use).
//
// Format: JSON, not YAML. Both give one fact per line; JSON was chosen because
// (1) a JSON parser never re-types a value (YAML turns a version `1.10` into 1.1, a
//     numeric repository ID into a number, `no` into false),
// (2) there is exactly one serialisation for given data (JSON.stringify with a fixed key
//     order, 2-space indentation, trailing newline), so "same content = same bytes"
//     holds and the file is rewritten only when a fact changed,
// (3) it is validated as-is by schema/lockfile.schema.json.
// The price (commas and braces in `git diff`) is paid back by `conda-attest diff
// --textconv`, a git diff driver that shows one self-contained fact per line.
import { dirname, resolve } from 'node:path';
import { lstat, mkdir, readFile, readlink } from 'node:fs/promises';
import validateLockSchema from '../generated/lockfile-validator.ts';
import type { ValidateFunction } from 'ajv';
import { LockError, describeError } from '../errors.ts';
import { compareStrings, normalizeIdentities } from './identity.ts';
import { LOCK_VERSION, type Lock, type LockEntry, emptyLock, putOwn } from './types.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { findDuplicateKey } from '../util/json-strict.ts';
import type { CheckedLockTexts } from './checked.ts';
import { acquireFileLock, type FileLock } from '../store/lock.ts';

// --- schema (compiled once per process) ----------------------------------------------

// Generated ahead of time from schema/lockfile.schema.json (scripts/generate-validators.ts).
function validate(): ValidateFunction {
  return validateLockSchema as unknown as ValidateFunction;
}

// --- parse / serialise (pure) -------------------------------------------------------------

function corrupt(source: string, why: string, options: { cause?: unknown; details?: unknown } = {}): LockError {
  // One line: parser messages may carry newlines (a code frame); the message is one sentence.
  const oneLine = why.replace(/\s*\n\s*/g, ' ').replace(/[.\s]+$/, '');
  return new LockError('LOCK_CORRUPT', `The identity lockfile ${source} is not valid: ${oneLine}.`, {
    hint: 'Fix it by hand or restore it from version control (git restore); conda-attest never overwrites a lockfile it cannot read.',
    ...options,
  });
}

/** Parse and validate lockfile text. Throws LOCK_CORRUPT / LOCK_UNSUPPORTED_VERSION. */
export function parseLock(text: string, source: string): Lock {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw corrupt(source, `not JSON (${describeError(e)})`, { cause: e });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt(source, 'not a JSON object');
  // JSON.parse keeps the last of two equal keys, a reviewer reads the first (src/util/json-strict.ts).
  const dup = findDuplicateKey(text);
  if (dup) throw corrupt(source, `the key ${JSON.stringify(dup.key)} appears twice in one object (again at line ${dup.line}); a reader of the file and conda-attest would disagree on its meaning`);
  // The version is checked before the schema: a newer format is "unsupported", not "corrupt".
  const version = (data as { version?: unknown }).version;
  if (version !== LOCK_VERSION) {
    if (typeof version === 'number') {
      throw new LockError(
        'LOCK_UNSUPPORTED_VERSION',
        `The identity lockfile ${source} has format version ${version}; this conda-attest reads version ${LOCK_VERSION}.`,
        { hint: 'Upgrade conda-attest (or use the version that wrote the file).' },
      );
    }
    throw corrupt(source, 'missing or non-numeric "version"');
  }
  const v = validate();
  if (!v(data)) {
    const details = (v.errors ?? []).map((e) => {
      const key = (e.params as { propertyName?: string }).propertyName;
      return `${e.instancePath || '/'}${key === undefined ? '' : ` key ${JSON.stringify(key)}`} ${e.message ?? 'is invalid'}`;
    });
    throw corrupt(source, `it does not match schema/lockfile.schema.json (${details[0] ?? 'schema violation'})`, { details });
  }
  return normalizeLock(data as Lock);
}

function orderedEntry(e: LockEntry): LockEntry {
  return {
    identities: normalizeIdentities(e.identities),
    first_seen: { version: e.first_seen.version, date: e.first_seen.date },
    last_seen: { version: e.last_seen.version, date: e.last_seen.date },
  };
}

/** Canonical form: sorted channels and names, identities sorted and deduplicated, fixed key order, no empty channels. */
function normalizeLock(lock: Lock): Lock {
  const channels: Lock['channels'] = {};
  for (const ch of Object.keys(lock.channels).sort(compareStrings)) {
    const names = Object.keys(lock.channels[ch]).sort(compareStrings);
    if (names.length === 0) continue;
    const pkgs: Record<string, LockEntry> = {};
    for (const n of names) putOwn(pkgs, n, orderedEntry(lock.channels[ch][n]));
    putOwn(channels, ch, pkgs);
  }
  return { version: LOCK_VERSION, channels };
}

/** The exact bytes of the lockfile for `lock` (deterministic). */
export function serializeLock(lock: Lock): string {
  return JSON.stringify(normalizeLock(lock), null, 2) + '\n';
}

// --- reading ----------------------------------------------------------------------------------

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LockError('LOCK_UNREADABLE', `The identity lockfile ${path} cannot be read (${describeError(e)}).`, {
      hint: 'Check the path and its permissions.',
      cause: e,
    });
  }
}

/** Read the lockfile; a missing file is an empty lock (first run). */
export async function readLock(path: string, o: { checked?: CheckedLockTexts } = {}): Promise<Lock> {
  const text = await readText(path);
  return text === null ? emptyLock() : parseLockChecked(text, path, o.checked);
}

/**
 * parseLock, skipping validation and normalisation for a text `checked` knows (the parse of
 * a canonical, valid text is its normalised lock: src/lock/checked.ts), and teaching it a
 * text that turns out valid and canonical.
 */
async function parseLockChecked(text: string, source: string, checked: CheckedLockTexts | undefined): Promise<Lock> {
  if (!checked) return parseLock(text, source);
  const digest = checked.digest(text);
  if (checked.has(digest)) {
    try {
      return JSON.parse(text) as Lock;
    } catch {
      // A digest collision is not expected; the full check below decides.
    }
  }
  const lock = parseLock(text, source);
  if (serializeLock(lock) === text) await checked.add(digest);
  return lock;
}

// --- the inter-process lock (src/store/lock.ts) ------------------------------------------

export interface UpdateLockOptions {
  /** How long to wait for another writer before LOCK_BUSY (ms). Default 15 000. */
  waitMs?: number;
  /**
   * A lock older than this is stale even if its pid is alive (pid reuse; another host).
   * Writers hold the lock for milliseconds. Default 60 000.
   */
  staleMs?: number;
  /** Test hooks (crash simulation); never set in production. */
  hooks?: { afterTempCreated?: (tempPath: string) => void | Promise<void> };
  /** Lockfile texts already validated (see readLock); the text written is added to them. */
  checked?: CheckedLockTexts;
}

export interface UpdateResult {
  lock: Lock;
  written: boolean;
}

function acquire(path: string, waitMs: number, staleMs: number): Promise<FileLock> {
  return acquireFileLock(path, {
    waitMs,
    staleMs,
    busy: (lockPath, holder) =>
      new LockError('LOCK_BUSY', `Another conda-attest process${holder ? ` (pid ${holder.pid} on ${holder.host})` : ''} holds ${lockPath}.`, {
        hint: `Wait for it to finish; if no conda-attest is running, delete ${lockPath}.`,
      }),
    cannotCreate: (lockPath, e) =>
      new LockError('LOCK_WRITE_FAILED', `Cannot create the lock file ${lockPath} (${describeError(e)}).`, {
        hint: 'Check that the lockfile directory exists and is writable.',
        cause: e,
      }),
  });
}

// --- symlinks ------------------------------------------------------------------------------

/** Symlink hops followed before giving up (Linux's own limit, MAXSYMLINKS, is 40). */
const MAX_LINK_HOPS = 40;

/**
 * The file `path` finally names: itself when it is not a symlink (or does not exist), else
 * the end of its chain of links, resolved hop by hop so a dangling link still names the
 * file to create. A loop is an error (LOCK_WRITE_FAILED), never a silent detach.
 */
export async function linkTarget(path: string): Promise<string> {
  let at = resolve(path);
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    let st;
    try {
      st = await lstat(at);
    } catch {
      return at; // absent: this is the file to create
    }
    if (!st.isSymbolicLink()) return at;
    at = resolve(dirname(at), await readlink(at));
  }
  throw new LockError('LOCK_WRITE_FAILED', `The identity lockfile ${path} is a chain of more than ${MAX_LINK_HOPS} symbolic links (a loop?).`, {
    hint: 'Point the link at a regular file, or set `lockfile` / --lockfile to the file itself.',
  });
}

// --- atomic write (src/store/atomic.ts) ---------------------------------------------------

async function writeAtomic(path: string, text: string, lock: FileLock, hooks: UpdateLockOptions['hooks']): Promise<void> {
  try {
    // Temp file in the same directory, fsync, mode and owner of the replaced file kept,
    // rename, directory fsync. The temp file's name goes into the lock record, so whoever
    // breaks this writer's lock after a crash removes it.
    await writeFileAtomic(path, text, {
      onTempCreated: async (tmp) => {
        await lock.noteTemp(tmp);
        if (hooks?.afterTempCreated) await hooks.afterTempCreated(tmp);
      },
    });
  } catch (e) {
    throw new LockError('LOCK_WRITE_FAILED', `Cannot write the identity lockfile ${path} (${describeError(e)}).`, {
      hint: 'Check that its directory is writable and the disk is not full; the previous lockfile is unchanged.',
      cause: e,
    });
  }
}

/**
 * Read-modify-write the lockfile under an inter-process lock (`<path>.lock`, O_EXCL,
 * holding pid/host/time; stale when its pid is dead on this host or it is older than
 * staleMs). The file is RE-READ under the lock, so concurrent runs merge into each
 * other's writes. `mutate` must be fast and pure (no prompts: the lock is held); it
 * returns the new lock or null for "no change". The file is written only when its bytes
 * change, atomically (temp file in the same directory, fsync, rename, mode kept): a crash
 * leaves the previous file intact. A corrupt or newer-version file is an error and is
 * never replaced. An empty result does not create a missing file.
 */
export async function updateLock(
  path: string,
  mutate: (current: Lock) => Lock | null,
  options: UpdateLockOptions = {},
): Promise<UpdateResult> {
  // A configured lockfile in a directory that does not exist yet (e.g. `locks/…`) is
  // created there, as a user would expect; nothing existing is touched.
  // A symlinked lockfile (dotfiles, a shared lock in another checkout) is updated where it
  // points: lock, temp file and rename all happen at the final target, so the link stays a
  // link and the file it names gets the new pins. Renaming onto the link itself would
  // replace it with a regular file and silently detach the target.
  path = await linkTarget(path);
  await mkdir(dirname(path), { recursive: true }).catch(() => undefined);
  const held = await acquire(path, options.waitMs ?? 15_000, options.staleMs ?? 60_000);
  try {
    const text = await readText(path);
    const current = text === null ? emptyLock() : await parseLockChecked(text, path, options.checked);
    const next = mutate(current);
    if (next === null) return { lock: current, written: false };
    const out = serializeLock(next);
    const normalized = parseLock(out, `${path} (about to be written)`); // never write what we could not read back
    if (out === text || (text === null && Object.keys(normalized.channels).length === 0)) {
      return { lock: normalized, written: false };
    }
    await writeAtomic(path, out, held, options.hooks);
    // `out` passed validation just above and is canonical (serializeLock of a normalised lock).
    await options.checked?.add(options.checked.digest(out));
    return { lock: normalized, written: true };
  } finally {
    await held.release();
  }
}
