// The package digest check: are these bytes the package the environment locked? Pure.
// CEP 27 binds an attestation to the package's SHA-256 (the in-toto subject digest), so
// the digest verification runs against must be the one of the bytes actually installed.
import type { PackageDigest } from '../session-types.ts';
import type { PackageRecord, Reason } from '../types.ts';
import { isSha256Hex } from '../util/sha256.ts';

/** A refused digest: the reason, and whether the digest is well-formed SHA-256 hex (then the report shows it). */
interface DigestRefusal {
  reason: Reason;
  wellFormed: boolean;
}

/**
 * Null when `digest` may be verified against, else why not (PACKAGE_DIGEST_MISMATCH):
 * - the digest is not a SHA-256 hex string;
 * - the bytes (source `artifact`) do not hash to the SHA-256 the lockfile pinned: not
 *   the package the user locked, whatever its attestations say;
 * - an MD5 the environment file pins (explicit files may pin only that) does not match
 *   the bytes: hashed in the same pass, an extra check; the digest verified against the
 *   attestation is always the SHA-256 of the bytes (CEP 27 subject digest).
 */
export function checkDigest(record: PackageRecord, digest: PackageDigest): DigestRefusal | null {
  if (!isSha256Hex(digest.sha256)) {
    return { wellFormed: false, reason: { code: 'PACKAGE_DIGEST_MISMATCH', message: `The package digest "${digest.sha256}" is not a SHA-256 hex string.` } };
  }
  if (digest.source !== 'artifact') return null;
  if (record.sha256 && record.sha256.toLowerCase() !== digest.sha256) {
    return refused({
      code: 'PACKAGE_DIGEST_MISMATCH',
      message: `${record.filename} has SHA-256 ${digest.sha256}, but the lockfile expects ${record.sha256}.`,
      hint: 'The download was altered or the lockfile is stale; re-lock from a trusted source.',
    });
  }
  if (record.md5 && digest.md5 && record.md5.toLowerCase() !== digest.md5) {
    return refused({
      code: 'PACKAGE_DIGEST_MISMATCH',
      message: `${record.filename} has MD5 ${digest.md5}, but the environment file expects ${record.md5}.`,
      hint: 'The download was altered or the environment file is stale; re-lock from a trusted source.',
    });
  }
  return null;
}

function refused(reason: Reason): DigestRefusal {
  return { reason, wellFormed: true };
}
