// How a bundle check fails: a VerifyError with the code, one sentence and a hint (every
// rejection says what to do), and for the named checks of src/verify/evidence.ts the check.
import { VerifyError, type VerifyErrorCode } from '../errors.ts';
import type { CheckName } from './evidence.ts';

/** The remedy when a check gives none of its own (every rejection says what to do). */
const DEFAULT_HINTS: Partial<Record<VerifyErrorCode, string>> = {
  BUNDLE_MALFORMED: 'The sidecar holds a damaged or incomplete Sigstore bundle; report it to the channel.',
  BUNDLE_UNSUPPORTED_MEDIA_TYPE: 'Only Sigstore bundle media types v0.1 to v0.3 are verified; report the bundle to the channel.',
  SIGSTORE_VERIFICATION_FAILED:
    'Do not trust this attestation: its signature, certificate or transparency-log proof does not verify against the trust root (for a private Sigstore instance, set trust_root).',
  ARTIFACT_DIGEST_MISMATCH: 'The bundle was signed over other bytes than these; do not trust the artifact.',
  INTOTO_STATEMENT_INVALID: 'The attestation is not a valid in-toto statement; report it to its publisher.',
};

export function fail(code: VerifyErrorCode, message: string, hint?: string, cause?: unknown): never {
  throw new VerifyError(code, message, { hint: hint ?? DEFAULT_HINTS[code], cause });
}

/** A failure of one named check (src/verify/evidence.ts): the check travels in `details.check`. */
export function failCheck(check: CheckName, code: VerifyErrorCode, message: string, hint?: string, cause?: unknown): never {
  throw new VerifyError(code, message, { hint: hint ?? DEFAULT_HINTS[code], cause, details: { check } });
}

