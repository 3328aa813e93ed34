// The Fulcio certificate claims conda-attest reads, declared once (OIDs under
// 1.3.6.1.4.1.57264.1, as Fulcio's certificate-extension registry numbers them): the
// decoder (verify/identity.ts), the JSON report's `identity` (report/json.ts), the
// lockfile's pinned IDs (lock/identity.ts) and the trusted-identity constraints
// (policy/constraints.ts) all read this table. A new claim is one row here plus its key in
// schema/report.schema.json (and, for a constraint, its entry in schema/config.schema.json
// `trustedIdentity`; for a pinned ID, in schema/lockfile.schema.json `ciIdentity`).

export const FULCIO_OID = '1.3.6.1.4.1.57264.1.';

/** `constraint`: the config key (in trusted_identities) and how it compares; `lock`: the lockfile key that pins it. */
export const CLAIMS = [
  { oid: 9, field: 'buildSignerUri', report: 'build_signer_uri', name: 'Build Signer URI', constraint: { key: 'signer_workflow', field: 'signerWorkflow', match: 'glob' } },
  { oid: 10, field: 'buildSignerDigest', report: 'build_signer_digest' },
  { oid: 11, field: 'runnerEnvironment', report: 'runner_environment', name: 'Runner Environment', constraint: { key: 'runner', field: 'runner', match: 'exact' } },
  { oid: 12, field: 'sourceRepositoryUri', report: 'source_repository_uri', name: 'Source Repository URI' },
  { oid: 13, field: 'sourceRepositoryDigest', report: 'source_repository_digest' },
  { oid: 14, field: 'sourceRepositoryRef', report: 'source_repository_ref', name: 'Source Repository Ref', constraint: { key: 'ref', field: 'ref', match: 'glob' } },
  { oid: 15, field: 'sourceRepositoryId', report: 'source_repository_id', name: 'Source Repository Identifier', lock: 'repository_id', constraint: { key: 'repository_id', field: 'repositoryId', match: 'exact' } },
  { oid: 16, field: 'sourceRepositoryOwnerUri', report: 'source_repository_owner_uri' },
  { oid: 17, field: 'sourceRepositoryOwnerId', report: 'source_repository_owner_id', name: 'Source Repository Owner Identifier', lock: 'owner_id', constraint: { key: 'owner_id', field: 'ownerId', match: 'exact' } },
  { oid: 18, field: 'buildConfigUri', report: 'build_config_uri' },
  { oid: 19, field: 'buildConfigDigest', report: 'build_config_digest' },
  { oid: 20, field: 'buildTrigger', report: 'build_trigger', name: 'Build Trigger', constraint: { key: 'trigger', field: 'trigger', match: 'one-of' } },
  { oid: 21, field: 'runInvocationUri', report: 'run_invocation_uri' },
  { oid: 22, field: 'sourceRepositoryVisibility', report: 'source_repository_visibility' },
  { oid: 23, field: 'deploymentEnvironment', report: 'deployment_environment', name: 'Deployment Environment', constraint: { key: 'environment', field: 'environment', match: 'exact' } },
  { oid: 24, field: 'tokenSubject', report: 'token_subject' },
] as const;

type Claim = (typeof CLAIMS)[number];
type Constraint = Extract<Claim, { constraint: unknown }>['constraint'];

/** The claims of a decoded certificate, by field (only those present). */
export type ClaimValues = { [C in Claim as C['field']]?: string };
/** Claim constraints of a trusted identity: `one-of` takes a list, the others one value. */
export type ClaimConstraintValues = { [C in Constraint as C['field']]?: C['match'] extends 'one-of' ? string[] : string };
/** The numeric IDs the lockfile pins, by lockfile key. */
export type LockedClaims = { [C in Extract<Claim, { lock: string }> as C['lock']]?: string };

/** The row of a claim field (for messages naming a claim and its OID). */
export function claim(field: Claim['field']): { claimName: string; oid: string } {
  const row = CLAIMS.find((c) => c.field === field)!;
  return { claimName: 'name' in row ? row.name : field, oid: FULCIO_OID + row.oid };
}
