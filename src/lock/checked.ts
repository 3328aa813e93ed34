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
// change a pin, and making an invalid text pass would need a SHA-256 collision or write
// access to cache_dir — the same threat model as the verdict cache (out of scope: whoever
// can write there can as well edit the configuration). An unreadable memo is an empty one.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';

const FILE = 'lockfile-checked-v1.json';
/** Texts remembered (the lockfiles of a few projects, or a few recent versions of one). */
const KEEP = 16;
const HEX64 = /^[0-9a-f]{64}$/;

export interface CheckedLockTexts {
  /** SHA-256 (hex) of a lockfile text. */
  digest(text: string): string;
  /** True when the text with this digest passed validation and is canonical. */
  has(digest: string): boolean;
  /** Remember a text that passed validation and is canonical; never rejects (a lost entry costs one validation). */
  add(digest: string): Promise<void>;
}

export function openCheckedLockTexts(cacheDir: string): CheckedLockTexts {
  const path = join(cacheDir, FILE);
  let known: string[] | undefined;
  const load = (): string[] => {
    if (known) return known;
    try {
      const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      known = Array.isArray(v) ? v.filter((d): d is string => typeof d === 'string' && HEX64.test(d)).slice(-KEEP) : [];
    } catch {
      known = [];
    }
    return known;
  };
  return {
    digest: (text) => createHash('sha256').update(text).digest('hex'),
    has: (digest) => load().includes(digest),
    async add(digest) {
      const list = load();
      if (list.includes(digest)) return;
      known = [...list, digest].slice(-KEEP);
      await writeFileAtomic(path, JSON.stringify(known) + '\n', { durable: false, mkdirs: true }).catch(() => undefined);
    },
  };
}
