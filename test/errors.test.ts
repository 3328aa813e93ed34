import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttestError, TrustRootError, VerifyError, attestErrorFrom, reasonFromError } from '../src/errors.ts';

test('an error rebuilt from its plain form (a worker answer) keeps its subclass, code and hint', () => {
  const e = attestErrorFrom({ name: 'TrustRootError', code: 'TRUST_ROOT_INVALID', message: 'bad root', hint: 'fix it' });
  assert.ok(e instanceof TrustRootError);
  assert.deepEqual([e.code, e.message, e.hint], ['TRUST_ROOT_INVALID', 'bad root', 'fix it']);
  assert.ok(attestErrorFrom({ name: 'VerifyError', code: 'BUNDLE_MALFORMED', message: 'm' }) instanceof VerifyError);
});

test('attack: a plain form naming no known class (or an inherited property) is a plain AttestError', () => {
  for (const name of ['toString', '__proto__', 'Error', undefined]) {
    const e = attestErrorFrom({ name, code: 'TRUST_ROOT_INVALID', message: 'm' });
    assert.equal(e.constructor, AttestError);
    assert.ok(!(e instanceof TrustRootError));
  }
});

test('reasonFromError: own code and hint, or the fallback code for a foreign error', () => {
  assert.deepEqual(reasonFromError(new VerifyError('BUNDLE_MALFORMED', 'm', { hint: 'h' }), 'SIDECAR_UNAVAILABLE'), {
    code: 'BUNDLE_MALFORMED',
    message: 'm',
    hint: 'h',
  });
  assert.deepEqual(reasonFromError(new Error('boom'), 'SIDECAR_UNAVAILABLE'), { code: 'SIDECAR_UNAVAILABLE', message: 'boom' });
});
