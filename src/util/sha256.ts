// SHA-256 of bytes in memory, lowercase hex: the one digest rule for sidecars and packages
// (a neutral module: the sidecar parser and every host use it, not only the HTTP edge).
import { createHash, type Hash, type Hmac } from 'node:crypto';

/** A SHA-256 digest as 64 lowercase hex digits, checked (isSha256Hex) or computed (sha256Hex). */
export type Sha256Hex = string & { readonly __sha256Hex: true };

/** The one SHA-256 hex rule: 64 lowercase hex digits (CEP 50 `attestations_sha256`, package digests, cache keys). */
export function isSha256Hex(s: unknown): s is Sha256Hex {
  return typeof s === 'string' && s.length === 64 && /^[0-9a-f]+$/.test(s);
}

/** SHA-256 of bytes (a string: of its UTF-8), lowercase hex. */
export function sha256Hex(bytes: Uint8Array | string): Sha256Hex {
  return createHash('sha256').update(bytes).digest('hex') as Sha256Hex;
}

/** Code units hashed at a time by updateText. */
const SLICE = 1 << 16;

/**
 * `h.update(text)`, in slices: the same bytes (UTF-8; a slice never ends between the two
 * halves of a surrogate pair), without encoding the whole text at once. A large text (a
 * 10,000-package identity lockfile is 6 MB) was copied whole into a native buffer, and a
 * concatenation in front of it was flattened into a second copy first (measured, cold 10,000
 * packages, phase marks: the lockfile's digest added 11.5 MB of RSS; docs/performance.md
 * "Memory, round 4").
 */
export function updateText<H extends Hash | Hmac>(h: H, text: string): H {
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + SLICE);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    h.update(text.slice(at, end));
    at = end;
  }
  return h;
}
