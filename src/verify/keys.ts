// Self-managed keys (docs/configuration.md "Private channels that sign with their own key"):
// each configured key prepared once, and the key selection for a key-signed bundle.
import { type KeyObject, createHash, createPublicKey } from 'node:crypto';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import type { TrustedKey } from '../types.ts';
import { fail } from './fail.ts';
import type { ArtifactRef } from './verifier.ts';

export interface PreparedKey {
  name: string | undefined;
  key: KeyObject;
  spki: Buffer;
  /** SHA-256 of the SPKI DER, base64 and hex: the usual key hints. */
  hints: Set<string>;
  material: TrustMaterial;
}

/**
 * One TrustMaterial per configured key, sharing the parsed root: the key finder answers
 * with that key whatever the hint, and selection happens in selectKeys().
 */
export function prepareKeys(trusted: readonly TrustedKey[], base: TrustMaterial): PreparedKey[] {
  return trusted.map((k) => {
    let key: KeyObject;
    try {
      key = createPublicKey(k.pem);
    } catch (e) {
      return fail('KEY_UNTRUSTED', `The trusted key from ${k.source} is not a readable public key.`, 'Give a PEM public key (SPKI or PKCS#1).', e);
    }
    const spki = key.export({ format: 'der', type: 'spki' });
    const digest = createHash('sha256').update(spki).digest();
    return {
      name: k.name,
      key,
      spki,
      hints: new Set([digest.toString('base64'), digest.toString('hex')]),
      material: { ...base, publicKey: () => ({ publicKey: key, validFor: () => true }) },
    };
  });
}

/**
 * Key hint selection (self-managed keys): keys whose fingerprint equals the bundle's hint first,
 * then every other configured key; the first whose signature verifies is used. The hint
 * is unauthenticated, so it only orders the search.
 */
export function selectKeys(keys: PreparedKey[], hint: string, entity: SignedEntity, artifact: ArtifactRef | null): PreparedKey[] {
  if (keys.length === 0) {
    fail('KEY_UNTRUSTED', 'The bundle is signed with a self-managed key, and no trusted keys are configured.', 'Add the public key to trusted_keys (or pass --key).');
  }
  const ordered = [...keys.filter((k) => k.hints.has(hint)), ...keys.filter((k) => !k.hints.has(hint))];
  const ok = ordered.filter((k) => {
    try {
      return entity.signature.verifySignature(k.key);
    } catch {
      return false;
    }
  });
  if (ok.length === 0) {
    const digestOnly = artifact !== null && !('bytes' in artifact);
    fail('KEY_UNTRUSTED', `No trusted key verifies the bundle signature (${keys.length} key${keys.length === 1 ? '' : 's'} tried).`, digestOnly ? 'Check the key, or pass the artifact file instead of a digest.' : 'Check that the channel\'s trusted_keys include the signing key.');
  }
  return ok;
}

