// The Fulcio claims table (src/claims.ts) is the one declaration of a claim: the decoder,
// the report, the lockfile and the constraints read it, and each schema that publishes a
// claim must name exactly the table's keys, so that a new row cannot be half added.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLAIMS, FULCIO_OID, claim } from '../src/claims.ts';
import { CONSTRAINTS } from '../src/policy/constraints.ts';
import { IDENTITY_FIELDS } from '../src/lock/identity.ts';
import reportSchema from '../schema/report.schema.json' with { type: 'json' };
import configSchema from '../schema/config.schema.json' with { type: 'json' };
import lockSchema from '../schema/lockfile.schema.json' with { type: 'json' };

type Props = { properties: Record<string, unknown>; required?: string[] };

/** Every object schema anywhere in `node` that declares `key` among its properties. */
function withProperty(node: unknown, key: string, out: Props[] = []): Props[] {
  if (node === null || typeof node !== 'object') return out;
  const props = (node as Partial<Props>).properties;
  if (props && typeof props === 'object' && key in props) out.push(node as Props);
  for (const v of Object.values(node)) withProperty(v, key, out);
  return out;
}

test('claims: OIDs, fields and report keys are unique', () => {
  for (const k of ['oid', 'field', 'report'] as const) assert.equal(new Set(CLAIMS.map((c) => c[k])).size, CLAIMS.length, k);
});

test('claims: the report schema identity requires exactly the table report keys (besides kind)', () => {
  const [identity] = withProperty(reportSchema, 'source_repository_uri');
  assert.ok(identity);
  assert.deepEqual(identity.required!.filter((k) => k !== 'kind'), CLAIMS.map((c) => c.report));
  for (const c of CLAIMS) assert.ok(c.report in identity.properties, c.report);
});

test('claims: each constraint is a trustedIdentity key of the config schema and each such key is a constraint, in schema order', () => {
  const [ti] = withProperty(configSchema, 'signer_workflow');
  assert.ok(ti);
  assert.deepEqual(
    CONSTRAINTS.map((c) => c.key),
    Object.keys(ti.properties).filter((k) => k !== 'identity' && k !== 'issuer'),
  );
  const ref = CONSTRAINTS.find((c) => c.key === 'ref')!;
  assert.deepEqual({ claim: ref.claim, oid: ref.oid, claimName: ref.claimName }, { claim: 'sourceRepositoryRef', oid: `${FULCIO_OID}14`, claimName: 'Source Repository Ref' });
  assert.deepEqual(claim('sourceRepositoryUri'), { claimName: 'Source Repository URI', oid: '1.3.6.1.4.1.57264.1.12' });
});

test('claims: each pinned claim is a lockfile key, in the on-disk field order', () => {
  const locked = CLAIMS.flatMap((c) => ('lock' in c ? [c.lock] : []));
  assert.deepEqual(locked, ['repository_id', 'owner_id']);
  const [ci] = withProperty(lockSchema, 'workflow');
  for (const k of locked) {
    assert.ok(k in ci!.properties, k);
    assert.ok(IDENTITY_FIELDS.includes(k), k);
  }
});
