// The trusted times of a bundle (RFC 3161 timestamps and transparency-log times), as
// sigstore-js is to check them: RFC 3161 genTime read by us, Rekor v2 entries without one.
import type { RFC3161Timestamp } from '@sigstore/core';
import type { SignedEntity } from '@sigstore/verify';
import { timestampSigningTime } from './evidence.ts';
import { failCheck } from './fail.ts';

/** Entry versions written by Rekor v2: no integrated time, no SET. */
export const REKOR_V2_VERSION = '0.0.2';
export const REKOR_V2_KINDS = new Set(['hashedrekord', 'dsse']);

/** A Rekor v2 entry (kind and version): it carries no trusted time. */
export function isRekorV2(kv: { kind: string; version: string } | undefined): boolean {
  return kv !== undefined && REKOR_V2_KINDS.has(kv.kind) && kv.version === REKOR_V2_VERSION;
}

/**
 * The times sigstore-js may trust: each RFC 3161 timestamp with its genTime pinned (sigstore-js
 * rejects valid DER times), and no transparency-log time of a Rekor v2 entry (rekor-v2 spec:
 * times come only from TSAs there).
 */
export function trustedTimes(timestamps: SignedEntity['timestamps']): SignedEntity['timestamps'] {
  for (const t of timestamps) if (t.$case === 'timestamp-authority') pinSigningTime(t.timestamp);
  return timestamps.filter((t) => t.$case !== 'transparency-log' || !isRekorV2(t.tlogEntry.kindVersion));
}

/**
 * Gives the timestamp its signing time from our own genTime parse (TSTInfo field 5), so
 * sigstore-js's checks (TSA validity window, certificate chain at that time) use it.
 * The TSTInfo is signed, so this only reads authenticated bytes differently; a genTime
 * that is not a valid GeneralizedTime fails closed.
 */
function pinSigningTime(ts: RFC3161Timestamp): void {
  const time = timestampSigningTime(ts);
  if (!time) failCheck('timestamp', 'SIGSTORE_VERIFICATION_FAILED', 'The bundle holds an RFC 3161 timestamp whose genTime is not a valid GeneralizedTime.', 'The timestamp authority response is malformed; timestamp the signature again.');
  Object.defineProperty(ts, 'signingTime', { value: time, configurable: true });
}

