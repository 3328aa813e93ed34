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
// an empty one. The configuration uses the same memo (openCheckedTexts) with the validated
// form kept beside each digest (src/config/load.ts).
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';
import { isSha256Hex, updateText } from '../util/sha256.ts';

// v2: entries are MACs (v1 held plain SHA-256 digests, which anyone can compute).
const FILE = 'lockfile-checked-v2.json';
/** The key of a process that was given none: only its own entries match. */
const processKey = randomBytes(32);
/** Texts remembered (the lockfiles of a few projects, or a few recent versions of one). */
const KEEP = 16;

export interface CheckedLockTexts {
  /** HMAC-SHA-256 (hex) of a lockfile text under the cache key; given in parts, of their concatenation. */
  digest(...text: string[]): string;
  /** True when the text with this digest passed validation and is canonical. */
  has(digest: string): boolean;
  /** Remember a text that passed validation and is canonical; never rejects (a lost entry costs one validation). */
  add(digest: string): Promise<void>;
}

/**
 * The same memo with a result kept per text: "these exact bytes were checked, and this is
 * what the check made of them" (the configuration: the document with the schema's
 * defaults, src/config/load.ts). The result is bound to its text by a second MAC under the
 * same key, so neither can be swapped for another entry's.
 */
export interface CheckedTexts extends CheckedLockTexts {
  /** The result remembered with this digest, when its MAC holds. */
  result(digest: string): string | undefined;
  /** Remember a text's digest with the result of its check. */
  add(digest: string, result?: string): Promise<void>;
}

export function openCheckedLockTexts(cacheDir: string, key: Buffer = processKey): CheckedLockTexts {
  return openCheckedTexts(join(cacheDir, FILE), key);
}

/** An entry: a digest alone, or [digest, result, MAC of both]. */
type Entry = string | [digest: string, result: string, mac: string];

/** The memo kept in the file `path` (see the top of this file), remembering the last `keep` texts. */
export function openCheckedTexts(path: string, key: Buffer = processKey, keep = KEEP): CheckedTexts {
  let known: Entry[] | undefined;
  // In parts rather than concatenated: a prefix before a large text would copy it whole.
  const mac = (...parts: string[]): string => {
    const h = createHmac('sha256', key);
    for (const part of parts) updateText(h, part);
    return h.digest('hex');
  };
  const digestOf = (e: Entry): string => (typeof e === 'string' ? e : e[0]);
  const load = (): Entry[] => {
    if (known) return known;
    try {
      const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      known = Array.isArray(v) ? v.filter(isEntry).slice(-keep) : [];
    } catch {
      known = [];
    }
    return known;
  };
  return {
    digest: mac,
    has: (digest) => load().some((e) => digestOf(e) === digest),
    result(digest) {
      const e = load().find((x) => typeof x !== 'string' && x[0] === digest);
      return typeof e === 'object' && e[2] === mac(`${e[0]}\n${e[1]}`) ? e[1] : undefined;
    },
    async add(digest, result) {
      const list = load();
      const entry: Entry = result === undefined ? digest : [digest, result, mac(`${digest}\n${result}`)];
      if (list.some((e) => JSON.stringify(e) === JSON.stringify(entry))) return;
      // A damaged entry for the same text is replaced, not kept beside the good one.
      known = [...list.filter((e) => digestOf(e) !== digest), entry].slice(-keep);
      await writeFileAtomic(path, JSON.stringify(known) + '\n', { durable: false, mkdirs: true }).catch(() => undefined);
    },
  };
}

function isEntry(e: unknown): e is Entry {
  if (isSha256Hex(e)) return true;
  return Array.isArray(e) && e.length === 3 && isSha256Hex(e[0]) && typeof e[1] === 'string' && isSha256Hex(e[2]);
}
