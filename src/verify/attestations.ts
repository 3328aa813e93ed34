// Verifies every bundle of a sidecar (CEP 50 body: a JSON array of bundles) for one
// package: Sigstore verification through the shared verifier, then CEP 27 checks for
// publish attestations. Other predicate types (e.g. SLSA) are verified and reported with
// publish=false; they never satisfy the publish check (CEP 27). Never throws.
import { AttestError, describeError } from '../errors.ts';
import type { BundleOutcome, Reason } from '../types.ts';
import { PUBLISH_PREDICATE_TYPE, type PublishExpectation, checkPublishStatement, predicateTypeOf, targetChannelOf } from './cep27.ts';
import { type BundleVerifier, INTOTO_PAYLOAD_TYPE, type VerifiedBundle } from './verifier.ts';
import { jsonShapeProblem } from '../util/json-bounds.ts';
import { type CheckName, type Checks, bundleEvidence, emptyChecks, sigstoreChecks } from './evidence.ts';

function reasonOf(e: unknown): Reason {
  if (e instanceof AttestError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { code: 'SIGSTORE_VERIFICATION_FAILED', message: `Verification failed unexpectedly: ${describeError(e)}.` };
}

function mediaTypeOf(bundle: unknown): string | undefined {
  const m = (bundle as { mediaType?: unknown } | null)?.mediaType;
  return typeof m === 'string' ? m : undefined;
}

/** One outcome per bundle, in sidecar order, each with its evidence (src/verify/evidence.ts). */
export function verifyAttestations(bundles: unknown[], pkg: PublishExpectation, verifier: BundleVerifier): BundleOutcome[] {
  return bundles.map((bundle, index) => {
    const checks = emptyChecks();
    const shape = jsonShapeProblem(bundle);
    const seen: Seen = {};
    const outcome = verifyOne(bundle, index, pkg, verifier, checks, shape, seen);
    // A bundle too deep or too large to be one is not read any further, not even for evidence.
    outcome.evidence = bundleEvidence({ bundle: shape ? null : bundle, identity: outcome.identity ?? null, checks, ...(seen.leaf ? { leaf: seen.leaf } : {}) });
    return outcome;
  });
}

/** The check a verifier error stands for: its own `details.check`, else by code. */
export function failedCheck(e: unknown): CheckName | null {
  const tagged = e instanceof AttestError ? (e.details as { check?: CheckName } | undefined)?.check : undefined;
  if (tagged) return tagged;
  switch (e instanceof AttestError ? e.code : undefined) {
    case 'BUNDLE_MALFORMED':
    case 'BUNDLE_UNSUPPORTED_MEDIA_TYPE':
      return 'bundle_format';
    case 'CERT_MALFORMED':
      return 'certificate_chain';
    case 'TLOG_REQUIRED':
      return 'tlog_inclusion';
    case 'KEY_UNTRUSTED':
      return 'signature';
    case 'ARTIFACT_DIGEST_MISMATCH':
    case 'INTOTO_STATEMENT_INVALID':
      return 'subject_digest';
    default:
      return null;
  }
}

/** CEP 27 §Verification reasons → the check each one failed. */
const CEP27_CHECKS: Partial<Record<string, CheckName>> = {
  CEP27_SUBJECT_DIGEST: 'subject_digest',
  CEP27_SUBJECT_NAME: 'subject_name',
  CEP27_SUBJECT_COUNT: 'subject_name',
  CEP27_PREDICATE_TYPE: 'predicate_type',
  CEP27_STATEMENT_TYPE: 'predicate_type',
  CEP27_TARGET_CHANNEL_MISMATCH: 'target_channel',
  CEP27_PREDICATE_MALFORMED: 'target_channel',
};

/** What verification parsed that the evidence can reuse (the leaf certificate of this bundle). */
type Seen = Pick<VerifiedBundle, 'leaf'>;

function verifyOne(bundle: unknown, index: number, pkg: PublishExpectation, verifier: BundleVerifier, checks: Checks, shape: ReturnType<typeof jsonShapeProblem>, seen: Seen): BundleOutcome {
  const outcome: BundleOutcome = { index, publish: false, verified: false, reasons: [] };
  const mediaType = mediaTypeOf(bundle);
  if (mediaType !== undefined) outcome.mediaType = mediaType;
  // Checked before anything recursive (sigstore-js parsing, structured cloning to a worker)
  // sees the bundle, so every path rejects an absurdly deep or large bundle the same way.
  if (shape) {
    outcome.reasons.push({
      code: 'BUNDLE_MALFORMED',
      message:
        shape.kind === 'depth'
          ? `The bundle is nested more than ${shape.limit} levels deep; a Sigstore bundle is at most a few levels deep.`
          : `The bundle holds more than ${shape.limit} JSON values; a Sigstore bundle holds a few dozen.`,
      hint: 'This is not a Sigstore bundle (a broken or hostile sidecar); report it to the channel.',
    });
    checks.bundle_format = false;
    return outcome;
  }
  let verified;
  try {
    // null artifact: a CEP 27 attestation is a DSSE bundle bound to the package by its
    // statement subject, checked below against the package's name and digest.
    verified = verifier.verify(bundle, null);
  } catch (e) {
    // A message-signature bundle over something else, or a forged bundle: not verified.
    outcome.reasons.push(reasonOf(e));
    Object.assign(checks, sigstoreChecks({ failed: failedCheck(e) }));
    return outcome;
  }
  outcome.identity = verified.identity;
  outcome.tlog = verified.tlog;
  if (verified.leaf) seen.leaf = verified.leaf;
  Object.assign(checks, sigstoreChecks({ passed: true, keySigned: verified.identity.kind === 'key', tlog: verified.tlog }));
  const predicateType = predicateTypeOf(verified.statement);
  if (predicateType !== undefined) outcome.predicateType = predicateType;
  const target = targetChannelOf(verified.statement);
  if (target !== undefined) outcome.targetChannel = target;

  if (verified.payloadType === undefined) {
    outcome.reasons.push({ code: 'CEP27_NOT_DSSE', message: 'The bundle signs a message, not a DSSE in-toto statement, so it cannot be a publish attestation.' });
    checks.predicate_type = false;
    return outcome;
  }
  if (verified.payloadType !== INTOTO_PAYLOAD_TYPE) {
    outcome.reasons.push({ code: 'CEP27_PAYLOAD_TYPE', message: `The DSSE payload type ${JSON.stringify(verified.payloadType)} is not ${INTOTO_PAYLOAD_TYPE}.` });
    checks.predicate_type = false;
    return outcome;
  }
  outcome.publish = predicateType === PUBLISH_PREDICATE_TYPE;
  if (!outcome.publish) {
    // Reported, never counted: e.g. SLSA provenance next to the publish attestation.
    outcome.verified = verified.statement !== undefined;
    if (!outcome.verified) outcome.reasons.push({ code: 'CEP27_STATEMENT_MALFORMED', message: 'The DSSE payload is not valid JSON.' });
    checks.predicate_type = false;
    return outcome;
  }
  const problems = checkPublishStatement(verified.statement, pkg);
  outcome.reasons.push(...problems);
  outcome.verified = outcome.reasons.length === 0;
  // Every CEP 27 rule is checked independently (cep27.ts), so each has its own answer.
  checks.subject_digest = checks.subject_name = checks.predicate_type = true;
  checks.target_channel = target === undefined ? null : true;
  for (const r of problems) {
    const check = CEP27_CHECKS[r.code];
    if (check) checks[check] = false;
  }
  return outcome;
}
