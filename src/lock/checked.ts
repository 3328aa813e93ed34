// Lockfile texts already checked: reading a large identity lockfile is mostly its JSON
// Schema validation and its normalisation (a 1,000-package lockfile: ~50 ms and ~15 ms
// of CPU per run, against ~5 ms for JSON.parse), and both are pure functions of its
// bytes. So the SHA-256 of a text that passed both and is already in canonical form
// (what `serializeLock` writes) is remembered in the cache directory; a later run that
// reads exactly those bytes parses them and skips both, because the parse of a canonical,
// valid text IS its normalised lock. Any other text (edited by hand, merged by git) gets
// the full check, and is remembered only once it passes.
//
// What an entry claims is narrow: "these exact bytes were validated before". It cannot
// change a pin, but a planted entry would let an invalid text skip validation, and the
// cache directory may come from elsewhere (docs/caches.md). So an entry is an HMAC-SHA-256
// of the text under the key kept outside the cache directory (the verdict cache's): a
// writer of cache_dir without that key can add nothing that matches. An unreadable memo is
// an empty one.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';
import { isSha256Hex } from '../util/sha256.ts';

// v2: entries are MACs (v1 held plain SHA-256 digests, which anyone can compute).
const FILE = 'lockfile-checked-v2.json';
/** The key of a process that was given none: only its own entries match. */
const processKey = randomBytes(32);
/** Texts remembered (the lockfiles of a few projects, or a few recent versions of one). */
const KEEP = 16;

export interface CheckedLockTexts {
  /** HMAC-SHA-256 (hex) of a lockfile text under the cache key. */
  digest(text: string): string;
  /** True when the text with this digest passed validation and is canonical. */
  has(digest: string): boolean;
  /** Remember a text that passed validation and is canonical; never rejects (a lost entry costs one validation). */
  add(digest: string): Promise<void>;
}

export function openCheckedLockTexts(cacheDir: string, key: Buffer = processKey): CheckedLockTexts {
  const path = join(cacheDir, FILE);
  let known: string[] | undefined;
  const load = (): string[] => {
    if (known) return known;
    try {
      const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      known = Array.isArray(v) ? v.filter((d): d is string => isSha256Hex(d)).slice(-KEEP) : [];
    } catch {
      known = [];
    }
    return known;
  };
  return {
    digest: (text) => createHmac('sha256', key).update(text).digest('hex'),
    has: (digest) => load().includes(digest),
    async add(digest) {
      const list = load();
      if (list.includes(digest)) return;
      known = [...list, digest].slice(-KEEP);
      await writeFileAtomic(path, JSON.stringify(known) + '\n', { durable: false, mkdirs: true }).catch(() => undefined);
    },
  };
}
