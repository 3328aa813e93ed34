// Whole-file writes a reader sees complete or not at all (the old content, or the new).
//
// Replacing writes go through write-file-atomic: a temp file next to the target, written,
// fsynced (unless `durable: false`), given the target's mode and owner, then renamed over it.
// It writes THROUGH a symbolic link to the file the link names (the link stays a link), and
// its temp file is removed on error and when the process exits (Ctrl-C included: the CLI
// exits on SIGINT, and the exit hook unlinks a temp file still in flight).
//
// Create-only writes (`exclusive`) cannot use rename(2), which replaces; they finish with
// link(2), which fails with EEXIST when another process created the file meanwhile.
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fsyncSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { batched } from '../util/batched.ts';

// Loaded on the first write, not at start-up: a warm run that changes nothing writes no file,
// and importing write-file-atomic with signal-exit costs ~10 ms CPU (measured, median of 9,
// after the built-ins it shares with the rest of the product).
const require = createRequire(import.meta.url);
let lib: typeof import('write-file-atomic') | undefined;
const writeFileAtomicLib = (): typeof import('write-file-atomic') => (lib ??= require('write-file-atomic') as typeof import('write-file-atomic'));
let exitHook: typeof import('signal-exit').onExit | undefined;
const onExit: typeof import('signal-exit').onExit = (cb, opts) => (exitHook ??= (require('signal-exit') as typeof import('signal-exit')).onExit)(cb, opts);

interface WriteAtomicOptions {
  /**
   * Create only: fail with EEXIST when `path` exists, even if another process creates it
   * meanwhile (link(2) does not replace, unlike rename(2)).
   */
  exclusive?: boolean;
  /** Mode of a new file. Default: an existing file's mode is kept; a new one gets 0o666 minus the umask. */
  mode?: number;
  /**
   * fsync the temp file before the rename and the directory after it (default true). Caches
   * pass false: a cache entry lost to a power cut costs a re-fetch, never correctness.
   */
  durable?: boolean;
  /** Create the parent directory first (default false). */
  mkdirs?: boolean;
  /** Called with the temp file's path once it exists (before its bytes are written). */
  onTempCreated?: (tempPath: string) => void | Promise<void>;
  /**
   * Write through a symbolic link at `path` to the file it names (default true). Caches pass
   * false: a link planted in the cache directory is replaced, never followed to overwrite
   * another file.
   */
  followLinks?: boolean;
}

/**
 * Write `data` to `path` atomically. Chunks (an iterable of strings) are streamed to the temp
 * file rather than joined first: a large cache file never exists as one string in memory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Iterable<string>, o: WriteAtomicOptions = {}): Promise<void> {
  const durable = o.durable ?? true;
  if (o.mkdirs) await mkdir(dirname(path), { recursive: true });
  const chunks = typeof data !== 'string' && !(data instanceof Uint8Array);
  if (chunks || (o.followLinks === false && !o.exclusive)) {
    const out = await openAtomicWrite(path, { durable, followLinks: o.followLinks });
    try {
      // Readable.from() passes a string or Buffer on whole, as one chunk; pieces are joined
      // into chunks first (src/util/batched.ts: one stream write per entry of a cache bucket was
      // a third of its flush).
      await pipeline(Readable.from(chunks ? batched(data as Iterable<string>) : data), out.stream);
    } catch (e) {
      await out.abort();
      throw e;
    }
    await out.commit();
    return;
  }
  const bytes = typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (o.exclusive) {
    await writeExclusive(path, bytes, o, durable);
  } else {
    await writeFileAtomicLib()(path, bytes, {
      fsync: durable,
      ...(o.mode !== undefined ? { mode: o.mode } : {}),
      ...(o.onTempCreated ? { tmpfileCreated: o.onTempCreated } : {}),
    });
  }
  if (durable) fsyncDir(dirname(path));
}

/** A file being written in place of `path`: bytes go to a temp file until `commit()`. */
interface AtomicWrite {
  /** Where the bytes go (a temp file next to the target). */
  readonly stream: Writable;
  /** Replace the target with the temp file (after `stream` has finished). */
  commit(): Promise<void>;
  /** Drop the temp file; the target is untouched. */
  abort(): Promise<void>;
}

/** A temp file next to the (symlink-resolved) target, removed at exit unless committed. */
interface Staged {
  readonly tmp: string;
  /** Rename the temp file over the target (the temp file is removed if that fails). */
  commit(): Promise<void>;
  /** Remove the temp file. */
  discard(): Promise<void>;
}

// The temp files in flight, removed at exit by one exit hook. A hook per file made signal-exit
// install its signal listeners at each write and remove them after it (the last hook gone):
// ~0.6 ms per file (CPU profile, 16 buckets per cache flush), ~20 ms at the end of a cold
// 1,000-package run (two caches' buckets, the lockfile, the memos). The hook is dropped
// HOOK_LINGER_MS after the last write ends, not at once, so the writes of a flush (one after
// the other, a read of the bucket on disk between two) share it: dropped at the next turn of
// the event loop instead, a flush of 1,000 verdicts cost 32-35 instead of 23-34 ms CPU (3
// alternating runs). Briefly, so a host's signals are handled as before (src/cli/serve.ts).
const inFlight = new Set<string>();
let exitHookOff: (() => void) | undefined;
let dropHook: ReturnType<typeof setTimeout> | undefined;
const HOOK_LINGER_MS = 50;
function removedOnExit(tmp: string): () => void {
  inFlight.add(tmp);
  if (dropHook) clearTimeout(dropHook);
  dropHook = undefined;
  exitHookOff ??= onExit(() => {
    for (const t of inFlight) {
      try {
        unlinkSync(t);
      } catch {
        // already gone
      }
    }
  });
  return () => {
    inFlight.delete(tmp);
    if (inFlight.size > 0 || dropHook) return;
    dropHook = setTimeout(() => {
      dropHook = undefined;
      if (inFlight.size > 0) return;
      exitHookOff?.();
      exitHookOff = undefined;
    }, HOOK_LINGER_MS);
    dropHook.unref();
  };
}

async function stage(path: string, durable: boolean, followLinks = true): Promise<Staged> {
  const target = followLinks ? await realpath(path).catch(() => path) : path;
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const removeOnExit = removedOnExit(tmp);
  return {
    tmp,
    async commit() {
      try {
        await rename(tmp, target);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      } finally {
        removeOnExit();
      }
      if (durable) fsyncDir(dirname(target));
    },
    async discard() {
      await unlink(tmp).catch(() => undefined);
      removeOnExit();
    },
  };
}

/**
 * Open a streamed atomic write (downloads): write-file-atomic takes the whole content as one
 * string or Buffer, which a download of up to the package size cap must not become. Same
 * rules: temp file next to the (symlink-resolved) target, removed on abort and at exit,
 * fsync before the rename unless `durable: false`.
 */
export async function openAtomicWrite(path: string, o: { durable?: boolean; followLinks?: boolean } = {}): Promise<AtomicWrite> {
  const durable = o.durable ?? true;
  const staged = await stage(path, durable, o.followLinks);
  const stream = createWriteStream(staged.tmp, { flags: 'wx', flush: durable });
  return {
    stream,
    commit: () => staged.commit(),
    async abort() {
      // Wait for the stream to close: an open still in flight would create the file after the unlink.
      if (!stream.closed) {
        await new Promise<void>((r) => {
          stream.once('close', () => r());
          stream.destroy();
        });
      }
      await staged.discard();
    },
  };
}

/** A file written in place of `path` through a file handle: bytes go to a temp file until `commit()`. */
export interface AtomicFile {
  /** The temp file, open for writing. */
  readonly file: FileHandle;
  /** fsync (unless `durable: false`), close and replace the target; on failure the temp file is removed. */
  commit(): Promise<void>;
  /** Close and drop the temp file; the target is untouched. */
  abort(): Promise<void>;
}

/** The same as openAtomicWrite for writers that write through a FileHandle (record lists). */
export async function openAtomicFile(path: string, o: { durable?: boolean; followLinks?: boolean } = {}): Promise<AtomicFile> {
  const durable = o.durable ?? true;
  const staged = await stage(path, durable, o.followLinks);
  let file: FileHandle;
  try {
    file = await open(staged.tmp, 'wx');
  } catch (e) {
    await staged.discard();
    throw e;
  }
  let isOpen = true;
  const close = async (): Promise<void> => {
    if (!isOpen) return;
    isOpen = false;
    await file.close();
  };
  return {
    file,
    async commit() {
      try {
        if (durable) await file.sync();
        await close();
      } catch (e) {
        await close().catch(() => undefined);
        await staged.discard();
        throw e;
      }
      await staged.commit();
    },
    async abort() {
      await close().catch(() => undefined);
      await staged.discard();
    },
  };
}

/** The synchronous form (for the few writers that run outside async code). */
export function writeFileAtomicSync(path: string, data: string | Buffer, o: Pick<WriteAtomicOptions, 'mode' | 'durable' | 'mkdirs'> = {}): void {
  const durable = o.durable ?? true;
  if (o.mkdirs) mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicLib().sync(path, data, { fsync: durable, ...(o.mode !== undefined ? { mode: o.mode } : {}) });
  if (durable) fsyncDir(dirname(path));
}

async function writeExclusive(path: string, data: string | Buffer, o: WriteAtomicOptions, durable: boolean): Promise<void> {
  // The content is staged in full under a temp name, then linked into place.
  const staged = await stage(path, durable);
  try {
    await writeFileAtomicLib()(staged.tmp, data, { fsync: durable, ...(o.mode !== undefined ? { mode: o.mode } : {}), ...(o.onTempCreated ? { tmpfileCreated: o.onTempCreated } : {}) });
    await link(staged.tmp, path);
  } finally {
    await staged.discard();
  }
}

/** Persist a rename itself (best effort: not every platform can fsync a directory). */
function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // ignore
  }
}
