// Trust-root freshness (pure): the configured limit, the 180-day notice, unknown ages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOTICE_AGE_DAYS, trustRootFreshness } from '../../src/policy/trust-root-age.ts';
import { checkTrustRootAge } from '../../src/session.ts';
import type { ResolvedConfig } from '../../src/types.ts';

test('a limit: older is stale (TRUST_ROOT_STALE naming source, age and the refresh); at the limit is fresh', () => {
  const stale = trustRootFreshness({ source: 'public-good (embedded snapshot)', ageDays: 31 }, 'public-good', 30);
  assert.equal(stale.kind, 'stale');
  if (stale.kind !== 'stale') return;
  assert.equal(stale.reason.code, 'TRUST_ROOT_STALE');
  assert.match(stale.reason.message, /public-good \(embedded snapshot\) is 31 days old, older than trust_root_max_age_days \(30\)/);
  assert.match(stale.reason.hint!, /conda-attest trust-root refresh/);
  assert.deepEqual(trustRootFreshness({ source: 's', ageDays: 30 }, 'public-good', 30), { kind: 'fresh' });
  // A file root: the hint says to replace the file.
  const file = trustRootFreshness({ source: '/etc/root.json', ageDays: 400 }, '/etc/root.json', 90);
  assert.equal(file.kind, 'stale');
  if (file.kind === 'stale') assert.match(file.reason.hint!, /Replace \/etc\/root\.json/);
});

test('a limit with an unknown age fails closed', () => {
  const r = trustRootFreshness({ source: 's', ageDays: null }, 'public-good', 30);
  assert.equal(r.kind, 'stale');
});

test('no limit: older than 180 days is a notice, never an error; unknown age is silent', () => {
  assert.equal(NOTICE_AGE_DAYS, 180);
  assert.deepEqual(trustRootFreshness({ source: 's', ageDays: 180 }, 'public-good'), { kind: 'fresh' });
  const old = trustRootFreshness({ source: 'public-good (embedded snapshot)', ageDays: 181, asOf: '2026-06-09T00:00:00.000Z' }, 'public-good');
  assert.equal(old.kind, 'old');
  if (old.kind === 'old') {
    // One short line: which root, of when, and what to do.
    assert.deepEqual(old.reason, {
      code: 'TRUST_ROOT_STALE',
      message: 'trust root public-good of 2026-06-09 (181 days old, more than 180)',
      hint: 'run `conda-attest trust-root refresh` when online',
    });
  }
  assert.deepEqual(trustRootFreshness({ source: 's', ageDays: null }, 'public-good'), { kind: 'fresh' });
});

test('an old root after a failed refresh is one line: the refresh failure names the root and its date, the age is not said again', () => {
  const config = { trustRoot: 'public-good' } as ResolvedConfig;
  const failed = 'TRUST_ROOT_REFRESH_FAILED: could not refresh the public-good trusted root through TUF (DNS lookup failed (ENOTFOUND)); using public-good of 2025-09-23 (--no-tuf-refresh skips the refresh).';
  const root = { source: 'public-good (embedded snapshot)', digest: 'd', json: {}, ageDays: 440, asOf: '2025-09-23T00:00:00.000Z', warnings: [failed] };
  assert.deepEqual(checkTrustRootAge(root, config).warnings, [failed]);
  // Without a failed refresh, the old root is its own one line.
  const quiet = checkTrustRootAge({ ...root, warnings: undefined }, config);
  assert.deepEqual(quiet.warnings, ['TRUST_ROOT_STALE: trust root public-good of 2025-09-23 (440 days old, more than 180); run `conda-attest trust-root refresh` when online.']);
});
