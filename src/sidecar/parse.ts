// Pure: sidecar bytes → bundles. CEP 50: the SHA-256 is checked on the raw bytes BEFORE
// any parsing, so a tampered or substituted sidecar never reaches the JSON parser.
import { SidecarError } from '../errors.ts';
import { sha256Hex } from '../util/sha256.ts';


/**
 * Most bundles accepted in one sidecar. CEP 50 sidecars carry a package's attestations: a
 * publish attestation (CEP 27) and perhaps a few others (provenance, re-signing by a new
 * signer). Each bundle costs milliseconds of signature and certificate-chain checks, so a
 * sidecar of hundreds (≈ 1,000 bundles fit the default 10 MiB size cap, several CPU seconds)
 * is a cheap way to stall a run; far past any real sidecar, it is refused unread.
 */
export const MAX_SIDECAR_BUNDLES = 64;

interface ParsedSidecar {
  sha256: string;
  /** Elements of the array, each a JSON object (bundle validation happens in verification). */
  bundles: unknown[];
  /**
   * The bytes `bundles` were parsed from, when they are that array itself (not one bundle
   * given alone): a verification worker is sent these and parses them again, which costs a
   * tenth of cloning the parsed objects (src/verify/pool.ts).
   */
  bytes?: Buffer;
}

/**
 * Check and parse sidecar bytes.
 * - `expectedSha256` (from repodata) must match the bytes, else SIDECAR_HASH_MISMATCH.
 * - The body must be a non-empty JSON array of objects; `[]` → SIDECAR_EMPTY (callers
 *   probing an unadvertised sidecar treat that as "no attestations").
 * - `allowSingleBundle`: a file given directly (`--sigs`) may hold one bundle object.
 */
export function parseSidecar(
  bytes: Buffer,
  source: string,
  opts: { expectedSha256?: string; allowSingleBundle?: boolean } = {},
): ParsedSidecar {
  const sha256 = sha256Hex(bytes);
  if (opts.expectedSha256 !== undefined && sha256 !== opts.expectedSha256) {
    throw new SidecarError('SIDECAR_HASH_MISMATCH', `${source} has SHA-256 ${sha256}, but repodata advertises ${opts.expectedSha256}.`, {
      hint: 'The sidecar was altered or substituted (mirrors must serve it byte for byte); do not trust this package until it is resolved.',
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new SidecarError('SIDECAR_MALFORMED', `${source} is not JSON.`, {
      hint: 'A sidecar is a JSON array of Sigstore bundles; report the broken file to the channel.',
      cause: e,
    });
  }
  const single = opts.allowSingleBundle && typeof doc === 'object' && doc !== null && !Array.isArray(doc);
  if (single) doc = [doc];
  if (!Array.isArray(doc)) {
    throw new SidecarError('SIDECAR_MALFORMED', `${source} is not a JSON array of bundles.`, {
      hint: 'A sidecar is a JSON array of Sigstore bundles; report the broken file to the channel.',
    });
  }
  if (doc.length === 0) {
    throw new SidecarError('SIDECAR_EMPTY', `${source} is an empty array.`, {
      hint: 'An advertised sidecar must hold at least one bundle; report it to the channel.',
    });
  }
  if (doc.length > MAX_SIDECAR_BUNDLES) {
    throw new SidecarError('SIDECAR_TOO_MANY_BUNDLES', `${source} holds ${doc.length} bundles; at most ${MAX_SIDECAR_BUNDLES} are verified per sidecar.`, {
      hint: 'A package has a few attestations, not hundreds: the sidecar is broken or hostile; report it to the channel.',
    });
  }
  doc.forEach((b, i) => {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) {
      throw new SidecarError('SIDECAR_MALFORMED', `${source}: element ${i} is not a bundle object.`, {
        hint: 'A sidecar is a JSON array of Sigstore bundles; report the broken file to the channel.',
      });
    }
  });
  return single ? { sha256, bundles: doc } : { sha256, bundles: doc, bytes };
}
