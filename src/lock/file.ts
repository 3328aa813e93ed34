// The identity lockfile on disk: parse + validate, deterministic serialisation, and a
// crash-safe, concurrency-safe read-modify-write (trust on first use). Parsing and
// serialisation are pure (./text.ts), shared with the browser build's lockfile adapter.
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
import { LockError, describeError } from '../errors.ts';
import { type Lock, emptyLock } from './types.ts';
import { parseLock, serializeForWrite, serializeLock } from './text.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import type { CheckedLockTexts } from './checked.ts';
import { acquireFileLock, type FileLock } from '../store/lock.ts';

export { parseLock, serializeLock } from './text.ts';

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
    // Never write what we could not read back (checked without parsing the text again).
    const { text: out, lock: normalized } = serializeForWrite(next, `${path} (about to be written)`);
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
