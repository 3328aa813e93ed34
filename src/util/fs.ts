// Writing a whole file so that a reader sees the old content or the new, never a part:
// temp file in the same directory, fsync, then rename (replace) or link (create only).
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteAtomicOptions {
  /**
   * Create only: fail with EEXIST when `path` exists, even if another process creates it
   * meanwhile (link(2) does not replace, unlike rename(2)).
   */
  exclusive?: boolean;
  mode?: number;
}

export async function writeFileAtomic(path: string, text: string, o: WriteAtomicOptions = {}): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = await open(tmp, 'wx', o.mode ?? 0o644);
    try {
      await fd.writeFile(text);
      await fd.sync();
    } finally {
      await fd.close();
    }
    if (o.exclusive) {
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
