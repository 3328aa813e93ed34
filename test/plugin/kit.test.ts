// The host-adapter kit: one record-or-refuse rule and one sha256 rule for every host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TargetError } from '../../src/errors.ts';
import { recordFromUrl } from '../../src/targets/package-url.ts';
import { sha256Hex } from '../../src/util/sha256.ts';
import { PackageBlockedError } from '../../plugin/contract.ts';
import { expectLockedDigest, isPackageUrl, recordOrRefuse } from '../../plugin/hosts/kit.ts';

const URL_ = 'https://repo.example/ch/noarch/pkg-1.0-h0_0.conda';
const bytes = new TextEncoder().encode('package bytes');
const digest = sha256Hex(bytes);
const toRecord = (u: string) => recordFromUrl(u, 'a test');

test('recordOrRefuse: a plain package URL gives its record', () => {
  const r = recordOrRefuse(URL_, toRecord);
  assert.deepEqual([r.channel, r.subdir, r.filename], ['https://repo.example/ch', 'noarch', 'pkg-1.0-h0_0.conda']);
});

test('attack: recordOrRefuse refuses a URL with a query string as PACKAGE_URL_UNSUPPORTED (never passed on unverified), other errors propagate', () => {
  assert.throws(
    () => recordOrRefuse(`${URL_}?sig=x`, toRecord),
    (e: unknown) => e instanceof PackageBlockedError && e.reasons.map((r) => r.code).join() === 'PACKAGE_URL_UNSUPPORTED' && e.record.filename === 'pkg-1.0-h0_0.conda',
  );
  const other = new TargetError('TARGET_PARSE_FAILED', 'broken lock');
  assert.throws(() => recordOrRefuse(URL_, () => { throw other; }), (e) => e === other);
});

test('expectLockedDigest: the locked digest (any case) passes the bytes through; no locked digest passes too', () => {
  const downloaded = { bytes, sha256: digest };
  assert.equal(expectLockedDigest({ ...toRecord(URL_), sha256: digest.toUpperCase() }, downloaded), downloaded);
  assert.equal(expectLockedDigest(toRecord(URL_), downloaded), downloaded);
});

test('attack: expectLockedDigest refuses bytes whose SHA-256 is not the locked one (PACKAGE_DIGEST_MISMATCH, naming both digests)', () => {
  const locked = sha256Hex(new TextEncoder().encode('the locked package'));
  assert.throws(
    () => expectLockedDigest({ ...toRecord(URL_), sha256: locked }, { bytes, sha256: digest }),
    (e: unknown) => e instanceof PackageBlockedError && e.reasons[0]!.code === 'PACKAGE_DIGEST_MISMATCH' && e.reasons[0]!.message.includes(locked) && e.reasons[0]!.message.includes(digest),
  );
});

test('isPackageUrl: conda package paths in any case; not other files, not unparsable URLs', () => {
  assert.equal(isPackageUrl(URL_), true);
  assert.equal(isPackageUrl(URL_.replace('.conda', '.CONDA')), true);
  assert.equal(isPackageUrl('https://repo.example/ch/noarch/repodata.json'), false);
  assert.equal(isPackageUrl('/relative/pkg-1.0-h0_0.conda'), false);
});
