// CEP 27 publish-attestation checks over an in-toto statement that already
// passed Sigstore verification. Pure: data in, reasons out; [] means the statement is a
// valid publish attestation for this package.
import type { VerifyErrorCode } from '../errors.ts';
import type { Reason } from '../types.ts';

export const PUBLISH_PREDICATE_TYPE = 'https://schemas.conda.org/attestations-publish-1.schema.json';
export const INTOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

export interface PublishExpectation {
  /** Full package filename (`.conda` or `.tar.bz2`). */
  filename: string;
  /** Lowercase hex SHA-256 of the package bytes. */
  sha256: string;
  /** Channels a `targetChannel` may name: the canonical channel and the one fetched from (no trailing slash). */
  acceptedChannels: string[];
}

const REPORT_IT = 'The sidecar carries a bundle that is not a valid conda publish attestation; report it to the channel.';
/** The remedy for each CEP 27 rule (every rejection says what to do). */
const HINTS: Partial<Record<VerifyErrorCode, string>> = {
  CEP27_STATEMENT_MALFORMED: REPORT_IT,
  CEP27_STATEMENT_TYPE: REPORT_IT,
  CEP27_PREDICATE_TYPE: REPORT_IT,
  CEP27_SUBJECT_COUNT: 'A publish attestation names exactly one package; report the bundle to the channel.',
  CEP27_SUBJECT_NAME: 'The attestation belongs to another package (a substituted sidecar or a renamed file); do not install this package.',
  CEP27_SUBJECT_DIGEST: 'These are not the bytes the publisher signed (altered download or another build); do not install this package.',
  CEP27_PREDICATE_MALFORMED: REPORT_IT,
  CEP27_TARGET_CHANNEL_MISMATCH: 'The package was published for another channel; if this channel mirrors it, list it under that channel\'s mirrors.',
};

function reason(code: VerifyErrorCode, message: string): Reason {
  const hint = HINTS[code];
  return hint ? { code, message, hint } : { code, message };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `predicateType` of a statement, when it has a string one (for reports). */
export function predicateTypeOf(statement: unknown): string | undefined {
  return isObj(statement) && typeof statement.predicateType === 'string' ? statement.predicateType : undefined;
}

/** `predicate.targetChannel` of a statement, when it is a string (for reports). */
export function targetChannelOf(statement: unknown): string | undefined {
  if (!isObj(statement) || !isObj(statement.predicate)) return undefined;
  const t = statement.predicate.targetChannel;
  return typeof t === 'string' ? t : undefined;
}

/** Answers of isChannelUrl by string (a channel's attestations name one or two channels); bounded against misuse. */
const channelUrls = new Map<string, boolean>();
const MAX_CHANNEL_URLS = 256;

/**
 * Whether `v` is a channel URL without a trailing slash. A pure function of the string, kept
 * per string: a WHATWG URL parse was ~1% of a bundle's verification in a worker's CPU profile,
 * and every attestation of a channel names the same `targetChannel`.
 */
function isChannelUrl(v: string): boolean {
  let ok = channelUrls.get(v);
  if (ok === undefined) {
    try {
      const u = new URL(v);
      ok = (u.protocol === 'https:' || u.protocol === 'http:' || u.protocol === 'file:') && !v.endsWith('/');
    } catch {
      ok = false;
    }
    if (channelUrls.size >= MAX_CHANNEL_URLS) channelUrls.clear();
    channelUrls.set(v, ok);
  }
  return ok;
}

/**
 * Every CEP 27 rule that the statement breaks, in rule order. The statement type,
 * predicate type, subject count, name and digest are checked independently so a report
 * names every problem, not just the first.
 */
export function checkPublishStatement(statement: unknown, expect: PublishExpectation): Reason[] {
  if (!isObj(statement)) return [reason('CEP27_STATEMENT_MALFORMED', 'The attestation payload is not a JSON object.')];
  const out: Reason[] = [];
  if (statement._type !== INTOTO_STATEMENT_V1) {
    out.push(reason('CEP27_STATEMENT_TYPE', `The statement type is ${JSON.stringify(statement._type)}, not ${INTOTO_STATEMENT_V1}.`));
  }
  if (statement.predicateType !== PUBLISH_PREDICATE_TYPE) {
    out.push(reason('CEP27_PREDICATE_TYPE', `The predicate type is ${JSON.stringify(statement.predicateType)}, not the conda publish attestation type.`));
  }
  const subjects = statement.subject;
  if (!Array.isArray(subjects) || subjects.length !== 1) {
    const n = Array.isArray(subjects) ? subjects.length : 0;
    out.push(reason('CEP27_SUBJECT_COUNT', `The statement has ${n} subjects; a publish attestation names exactly one package.`));
  } else {
    const s = subjects[0];
    const name = isObj(s) ? s.name : undefined;
    if (name !== expect.filename) {
      out.push(reason('CEP27_SUBJECT_NAME', `The attested filename ${JSON.stringify(name)} is not ${expect.filename}.`));
    }
    const digest = isObj(s) && isObj(s.digest) ? s.digest.sha256 : undefined;
    // Digests are compared as lowercase hex; anything else cannot match a SHA-256.
    if (typeof digest !== 'string' || digest.toLowerCase() !== expect.sha256.toLowerCase()) {
      out.push(reason('CEP27_SUBJECT_DIGEST', 'The attested SHA-256 does not match the package bytes.'));
    }
  }
  const predicate = statement.predicate;
  if (predicate !== undefined && predicate !== null) {
    if (!isObj(predicate)) {
      out.push(reason('CEP27_PREDICATE_MALFORMED', 'The publish predicate is not an object.'));
    } else if (predicate.targetChannel !== undefined) {
      const t = predicate.targetChannel;
      if (typeof t !== 'string' || !isChannelUrl(t)) {
        out.push(reason('CEP27_PREDICATE_MALFORMED', `The targetChannel ${JSON.stringify(t)} is not a channel URL without a trailing slash.`));
      } else if (!expect.acceptedChannels.includes(t)) {
        out.push(reason('CEP27_TARGET_CHANNEL_MISMATCH', `The attestation targets ${t}, not ${expect.acceptedChannels[0] ?? 'this channel'}.`));
      }
    }
  }
  return out;
}
