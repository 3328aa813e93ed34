// The package digest step: SHA-256 of the package bytes, in one streamed pass, from the
// local file (package file targets) or from the URL. MD5 is computed in the same pass when
// the record pins one (explicit files `URL#<md5>`, lockfiles' `md5:`): an extra check on the
// same bytes, never a replacement for their SHA-256 (docs/lockfile.md).
import type { PackageRecord } from '../types.ts';
import type { HttpClient } from './client.ts';
import { hashFile, type StreamDigest } from './hashing.ts';

export { hashFile, sha256Hex, type StreamDigest } from './hashing.ts';

interface HashPackageOptions {
  /** Keep the downloaded bytes here (written atomically while hashing). */
  dest?: string;
  maxBytes?: number;
  totalTimeoutMs?: number;
  /** Called when the server has begun sending the bytes (a URL only). */
  onBytes?: () => void;
  /** Abandons a download (a URL only). */
  signal?: AbortSignal;
}

export async function hashPackage(record: PackageRecord, http: HttpClient, opts: HashPackageOptions = {}): Promise<StreamDigest> {
  const md5 = record.md5 !== undefined;
  if (record.localPath) return hashFile(record.localPath, { maxBytes: opts.maxBytes, md5 });
  // No expectedSha256 here: comparing with the lockfile is the pipeline's decision
  // (PACKAGE_DIGEST_MISMATCH with the policy's action), not a transport error.
  return http.downloadAndHash(record.url, { dest: opts.dest, maxBytes: opts.maxBytes, md5, totalTimeoutMs: opts.totalTimeoutMs, onBytes: opts.onBytes, signal: opts.signal });
}
