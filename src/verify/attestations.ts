// Verifies every bundle of a sidecar (CEP 50 body: a JSON array of bundles) for one
// package: Sigstore verification through the shared verifier, then CEP 27 checks for
// publish attestations. Other predicate types (e.g. SLSA) are verified and reported with
// publish=false; they never satisfy the publish check (specs §1). Never throws.
import { AttestError, describeError } from '../errors.ts';
import type { BundleOutcome, Reason } from '../types.ts';
import { PUBLISH_PREDICATE_TYPE, type PublishExpectation, checkPublishStatement, predicateTypeOf, targetChannelOf } from './cep27.ts';
import { type BundleVerifier, INTOTO_PAYLOAD_TYPE } from './verifier.ts';
import { jsonShapeProblem } from '../util/json-bounds.ts';

function reasonOf(e: unknown): Reason {
  if (e instanceof AttestError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { code: 'SIGSTORE_VERIFICATION_FAILED', message: `Verification failed unexpectedly: ${describeError(e)}.` };
}

function mediaTypeOf(bundle: unknown): string | undefined {
  const m = (bundle as { mediaType?: unknown } | null)?.mediaType;
  return typeof m === 'string' ? m : undefined;
}

/** One outcome per bundle, in sidecar order. */
export function verifyAttestations(bundles: unknown[], pkg: PublishExpectation, verifier: BundleVerifier): BundleOutcome[] {
  return bundles.map((bundle, index) => verifyOne(bundle, index, pkg, verifier));
}

function verifyOne(bundle: unknown, index: number, pkg: PublishExpectation, verifier: BundleVerifier): BundleOutcome {
  const outcome: BundleOutcome = { index, publish: false, verified: false, reasons: [] };
  const mediaType = mediaTypeOf(bundle);
  if (mediaType !== undefined) outcome.mediaType = mediaType;
  // Checked before anything recursive (sigstore-js parsing, structured cloning to a worker)
  // sees the bundle, so every path rejects an absurdly deep or large bundle the same way.
  const shape = jsonShapeProblem(bundle);
  if (shape) {
    outcome.reasons.push({
      code: 'BUNDLE_MALFORMED',
      message:
        shape.kind === 'depth'
          ? `The bundle is nested more than ${shape.limit} levels deep; a Sigstore bundle is at most a few levels deep.`
          : `The bundle holds more than ${shape.limit} JSON values; a Sigstore bundle holds a few dozen.`,
      hint: 'This is not a Sigstore bundle (a broken or hostile sidecar); report it to the channel.',
    });
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
    return outcome;
  }
  outcome.identity = verified.identity;
  outcome.tlog = verified.tlog;
  const predicateType = predicateTypeOf(verified.statement);
  if (predicateType !== undefined) outcome.predicateType = predicateType;
  const target = targetChannelOf(verified.statement);
  if (target !== undefined) outcome.targetChannel = target;

  if (verified.payloadType === undefined) {
    outcome.reasons.push({ code: 'CEP27_NOT_DSSE', message: 'The bundle signs a message, not a DSSE in-toto statement, so it cannot be a publish attestation.' });
    return outcome;
  }
  if (verified.payloadType !== INTOTO_PAYLOAD_TYPE) {
    outcome.reasons.push({ code: 'CEP27_PAYLOAD_TYPE', message: `The DSSE payload type ${JSON.stringify(verified.payloadType)} is not ${INTOTO_PAYLOAD_TYPE}.` });
    return outcome;
  }
  outcome.publish = predicateType === PUBLISH_PREDICATE_TYPE;
  if (!outcome.publish) {
    // Reported, never counted: e.g. SLSA provenance next to the publish attestation.
    outcome.verified = verified.statement !== undefined;
    if (!outcome.verified) outcome.reasons.push({ code: 'CEP27_STATEMENT_MALFORMED', message: 'The DSSE payload is not valid JSON.' });
    return outcome;
  }
  outcome.reasons.push(...checkPublishStatement(verified.statement, pkg));
  outcome.verified = outcome.reasons.length === 0;
  return outcome;
}
