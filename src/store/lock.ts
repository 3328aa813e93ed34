// The inter-process lock: `<path>.lock`, created with O_EXCL, holding the owner's pid, host,
// time and a random token. Stale when its pid is dead on this host, or when it is older
// than `staleMs` (pid reuse, another host, a writer that hung).
//
// Hand-written on purpose rather than proper-lockfile 4.x: proper-lockfile judges a lock
// only by its mtime, refreshed by a timer in the holder, so a holder killed with SIGKILL
// blocks every other writer until the stale age (at least 2 s, 10 s by default) runs out,
// and a holder whose event loop is busy past that age has its lock taken from under it
// (its default reaction to that is an uncaught exception). Measured (holder SIGKILLed, next
// writer retrying every 20-50 ms, 3 runs each): 5-51 ms until the next writer holds this
// lock, 1,470-2,450 ms with proper-lockfile at its smallest stale age (2 s, update 1 s).
// Writers hold the lock for milliseconds, so no refresh timer is needed.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { open, readFile, stat, unlink, writeFile } from 'node:fs/promises';

interface LockHolder {
  pid: number;
  host: string;
}

interface Owner extends LockHolder {
  time: number;
  token: string;
  /** The holder's temp file of the moment (removed with its lock when the holder died). */
  temp?: string;
}

interface FileLockOptions {
  /** How long to wait for another holder before `busy` (ms). */
  waitMs: number;
  /** A lock older than this is stale even if its pid is alive (ms). */
  staleMs: number;
  /** The error to throw when the wait runs out. */
  busy: (lockPath: string, holder: LockHolder | undefined) => Error;
  /** The error to throw when the lock file cannot be created at all. */
  cannotCreate: (lockPath: string, cause: unknown) => Error;
}

export interface FileLock {
  /**
   * Record the temp file this holder is writing next to the locked file: if the holder
   * dies, whoever breaks its stale lock removes that temp file too.
   */
  noteTemp(tempPath: string): Promise<void>;
  release(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function parseOwner(text: string): Owner | null {
  try {
    const o = JSON.parse(text) as Owner;
    return typeof o.pid === 'number' && typeof o.time === 'number' && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

async function readIfExists(path: string): Promise<{ text: string; mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function isStale(seen: { text: string; mtimeMs: number }, staleMs: number): boolean {
  const owner = parseOwner(seen.text);
  // A lock file without a readable owner: its creator died between create and write
  // (a window of microseconds); judge it by age alone.
  if (!owner) return Date.now() - seen.mtimeMs > Math.min(staleMs, 5000);
  if (owner.host === hostname() && !pidAlive(owner.pid)) return true;
  return Date.now() - owner.time > staleMs;
}

/** The dead holder's temp file, if it names a sibling of the locked file (never anything else). */
async function removeTempOf(lockedPath: string, owner: Owner | null): Promise<void> {
  const temp = owner?.temp;
  if (typeof temp !== 'string') return;
  if (dirname(temp) !== dirname(lockedPath) || !basename(temp).startsWith(`${basename(lockedPath)}.`)) return;
  if (!/^\d+$/.test(basename(temp).slice(basename(lockedPath).length + 1))) return;
  await unlink(temp).catch(() => undefined);
}

/**
 * Remove the lock at `lockPath` if it is stale. Two waiters may judge the same lock stale
 * at once; breaking is serialised by a second O_EXCL file, and the lock is removed only if
 * its content is still the one judged stale, so a waiter never removes a FRESH lock that
 * another waiter took in between. Returns true when the caller should retry at once.
 */
async function breakIfStale(lockPath: string, lockedPath: string, staleMs: number): Promise<boolean> {
  const seen = await readIfExists(lockPath);
  if (!seen) return true;
  if (!isStale(seen, staleMs)) return false;
  const breaker = `${lockPath}.break`;
  let fd;
  try {
    fd = await open(breaker, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A breaker holds its file for microseconds; an old one belongs to a dead breaker.
    const b = await readIfExists(breaker);
    if (b && Date.now() - b.mtimeMs > 10_000) await unlink(breaker).catch(() => undefined);
    return false;
  }
  try {
    const again = await readIfExists(lockPath);
    if (!again) return true;
    if (again.text !== seen.text) return true;
    await unlink(lockPath);
    await removeTempOf(lockedPath, parseOwner(seen.text));
    return true;
  } finally {
    await fd.close();
    await unlink(breaker).catch(() => undefined);
  }
}

/** Take the lock on `path` (the file `<path>.lock`), waiting up to `waitMs` for another holder. */
export async function acquireFileLock(path: string, o: FileLockOptions): Promise<FileLock> {
  const lockPath = `${path}.lock`;
  const owner: Owner = { pid: process.pid, host: hostname(), time: Date.now(), token: randomBytes(8).toString('hex') };
  const deadline = Date.now() + o.waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = await open(lockPath, 'wx', 0o644);
      try {
        owner.time = Date.now();
        await fd.writeFile(JSON.stringify(owner) + '\n');
      } finally {
        await fd.close();
      }
      const ours = async (): Promise<boolean> => parseOwner((await readIfExists(lockPath).catch(() => null))?.text ?? '')?.token === owner.token;
      return {
        async noteTemp(tempPath) {
          // Rewritten in place: a waiter reading it meanwhile sees other text than before
          // and simply looks again; the lock is never judged by this content while its pid lives.
          if (await ours()) await writeFile(lockPath, JSON.stringify({ ...owner, temp: tempPath }) + '\n');
        },
        async release() {
          // Remove only our own lock: if it was (wrongly) broken as stale, the file is someone else's now.
          if (await ours()) await unlink(lockPath).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw o.cannotCreate(lockPath, e);
    }
    if (await breakIfStale(lockPath, path, o.staleMs)) continue;
    if (Date.now() >= deadline) {
      const holder = parseOwner((await readIfExists(lockPath))?.text ?? '');
      throw o.busy(lockPath, holder ? { pid: holder.pid, host: holder.host } : undefined);
    }
    await sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 6)) + Math.random() * 10);
  }
}

