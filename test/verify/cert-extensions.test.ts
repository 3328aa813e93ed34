// Attack: a Fulcio-chained leaf that carries one extension twice (RFC 5280 §4.2 allows
// each extension at most once). With two SANs or two issuer claims, which one a client
// reads decides the signer; the certificate must be refused (CERT_MALFORMED), whichever
// order the values come in, before any identity is read from it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { VerifyError } from '../../src/errors.ts';
import { parseTrustedRoot } from '../../src/verify/trust-root.ts';
import { createVerifier } from '../../src/verify/verifier.ts';
import { DEFAULT_SAN, GITHUB_ISSUER, ISSUER_OID_V2, type LocalSigstore, startLocalSigstore } from '../helpers/sigstore.ts';

let sig: LocalSigstore;
before(async () => {
  sig = await startLocalSigstore();
});
after(async () => {
  await sig.close();
});

const artifact = Buffer.from('conda package bytes');
const statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'a.conda', digest: { sha256: createHash('sha256').update(artifact).digest('hex') } }],
  predicateType: 'https://example.com/test',
  predicate: {},
};
const verifier = () => createVerifier({ trustRoot: parseTrustedRoot(Buffer.from(JSON.stringify(sig.trustedRoot)), 'local') });

test('baseline: the same leaf without a repeated extension verifies, with its SAN', async () => {
  const bundle = await sig.attest(statement, { freshCertificate: true });
  assert.equal(verifier().verify(bundle, { bytes: artifact }).identity.san, DEFAULT_SAN);
});

const cases = [
  ['a second SubjectAlternativeName naming the attacker', { oid: '2.5.29.17', value: 'https://github.com/evil/evil/.github/workflows/x.yml@refs/heads/main' }],
  ['a second OIDC issuer claim (Fulcio v2 .1.8)', { oid: ISSUER_OID_V2, value: 'https://evil.example/oidc' }],
  ['a second copy of the issuer claim with the same value', { oid: ISSUER_OID_V2, value: GITHUB_ISSUER }],
] as const;

for (const [what, duplicateExtension] of cases) {
  test(`attack: a Fulcio-chained leaf with ${what} → CERT_MALFORMED`, async () => {
    const bundle = await sig.attest(statement, { freshCertificate: true, duplicateExtension });
    assert.throws(
      () => verifier().verify(bundle, { bytes: artifact }),
      (e: unknown) => e instanceof VerifyError && e.code === 'CERT_MALFORMED' && e.message.includes(`extension ${duplicateExtension.oid} more than once`) && /RFC 5280/.test(e.message) && Boolean(e.hint),
    );
  });
}
