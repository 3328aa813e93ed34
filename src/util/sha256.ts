// SHA-256 of bytes in memory, lowercase hex: the one digest rule for sidecars and packages
// (a neutral module: the sidecar parser and every host use it, not only the HTTP edge).
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
