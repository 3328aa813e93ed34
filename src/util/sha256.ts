// SHA-256 of bytes in memory, lowercase hex: the one digest rule for sidecars and packages
// (a neutral module: the sidecar parser and every host use it, not only the HTTP edge).
import { createHash } from 'node:crypto';

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
