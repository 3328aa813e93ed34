// The identity lockfile's text: parse + validate against schema/lockfile.schema.json, and
// the deterministic serialisation (one text per lock). Pure; every host stores the text
// its own way (a file under Node: ./file.ts; a page-given adapter in the browser).
import validateLockSchema from '../generated/lockfile-validator.ts';
import type { ValidateFunction } from 'ajv';
import { LockError, describeError } from '../errors.ts';
import { compareStrings, normalizeIdentities } from './identity.ts';
import { LOCK_VERSION, type Lock, type LockEntry, putOwn } from './types.ts';
import { findDuplicateKey, isJsonData, JsonTooDeepError } from '../util/json-strict.ts';

// --- schema (compiled once per process) ----------------------------------------------

// Generated ahead of time from schema/lockfile.schema.json (scripts/generate-validators.ts).
function validate(): ValidateFunction {
  return validateLockSchema as unknown as ValidateFunction;
}

// --- parse / serialise (pure) -------------------------------------------------------------

function corrupt(source: string, why: string, options: { cause?: unknown; details?: unknown } = {}): LockError {
  // One line: parser messages may carry newlines (a code frame); the message is one sentence.
  const oneLine = why.replace(/\s*\n\s*/g, ' ').replace(/[.\s]+$/, '');
  return new LockError('LOCK_CORRUPT', `The identity lockfile ${source} is not valid: ${oneLine}.`, {
    hint: 'Fix it by hand or restore it from version control (git restore); conda-attest never overwrites a lockfile it cannot read.',
    ...options,
  });
}

/** Parse and validate lockfile text. Throws LOCK_CORRUPT / LOCK_UNSUPPORTED_VERSION. */
export function parseLock(text: string, source: string): Lock {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw corrupt(source, `not JSON (${describeError(e)})`, { cause: e });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt(source, 'not a JSON object');
  // JSON.parse keeps the last of two equal keys, a reviewer reads the first (src/util/json-strict.ts).
  let dup;
  try {
    dup = findDuplicateKey(text);
  } catch (e) {
    if (e instanceof JsonTooDeepError) throw corrupt(source, e.message, { cause: e });
    throw e;
  }
  if (dup) throw corrupt(source, `the key ${JSON.stringify(dup.key)} appears twice in one object (again at line ${dup.line}); a reader of the file and conda-attest would disagree on its meaning`);
  // The version is checked before the schema: a newer format is "unsupported", not "corrupt".
  const version = (data as { version?: unknown }).version;
  if (version !== LOCK_VERSION) {
    if (typeof version === 'number') {
      throw new LockError(
        'LOCK_UNSUPPORTED_VERSION',
        `The identity lockfile ${source} has format version ${version}; this conda-attest reads version ${LOCK_VERSION}.`,
        { hint: 'Upgrade conda-attest (or use the version that wrote the file).' },
      );
    }
    throw corrupt(source, 'missing or non-numeric "version"');
  }
  checkSchema(data, source);
  return normalizeLock(data as Lock);
}

/** Throws LOCK_CORRUPT, naming every failing path, when `data` does not match schema/lockfile.schema.json. */
function checkSchema(data: unknown, source: string): void {
  const v = validate();
  if (v(data)) return;
  const details = (v.errors ?? []).map((e) => {
    const key = (e.params as { propertyName?: string }).propertyName;
    return `${e.instancePath || '/'}${key === undefined ? '' : ` key ${JSON.stringify(key)}`} ${e.message ?? 'is invalid'}`;
  });
  throw corrupt(source, `it does not match schema/lockfile.schema.json (${details[0] ?? 'schema violation'})`, { details });
}

function orderedEntry(e: LockEntry): LockEntry {
  return {
    identities: normalizeIdentities(e.identities),
    first_seen: { version: e.first_seen.version, date: e.first_seen.date },
    last_seen: { version: e.last_seen.version, date: e.last_seen.date },
  };
}

/** Canonical form: sorted channels and names, identities sorted and deduplicated, fixed key order, no empty channels. */
function normalizeLock(lock: Lock): Lock {
  const channels: Lock['channels'] = {};
  for (const ch of Object.keys(lock.channels).sort(compareStrings)) {
    const names = Object.keys(lock.channels[ch]).sort(compareStrings);
    if (names.length === 0) continue;
    const pkgs: Record<string, LockEntry> = {};
    for (const n of names) putOwn(pkgs, n, orderedEntry(lock.channels[ch][n]));
    putOwn(channels, ch, pkgs);
  }
  return { version: LOCK_VERSION, channels };
}

/** The exact bytes of the lockfile for `lock` (deterministic). */
export function serializeLock(lock: Lock): string {
  return JSON.stringify(normalizeLock(lock), null, 2) + '\n';
}

/**
 * serializeLock for a writer, which must never write a text the reader refuses: the text and
 * what parseLock would read from it, or parseLock's error (`source` names the file in it).
 * The normalised lock is checked as it is, without parsing the text back: when it is plain
 * JSON data (src/util/json-strict.ts isJsonData), JSON.parse of its text gives it back
 * exactly, with one key per object, this version and no deeper nesting, so the schema check
 * is all parseLock would add, and normalising again changes nothing. The parse of a
 * 10,000-package lockfile (6 MB) was the peak of a cold run: with its digest, the write added
 * 28 MB of RSS; with this and updateText, cold 10,000 packages 272 → 245 MB (median of 5
 * interleaved runs, docs/performance.md "Memory, round 4"). Anything else is parsed back.
 */
export function serializeForWrite(lock: Lock, source: string): { text: string; lock: Lock } {
  const normalized = normalizeLock(lock);
  const text = JSON.stringify(normalized, null, 2) + '\n';
  if (!isJsonData(normalized)) return { text, lock: parseLock(text, source) };
  checkSchema(normalized, source);
  return { text, lock: normalized };
}
