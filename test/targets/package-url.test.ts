// Package URLs are parsed and normalised in one place (parsePackageUrl): anything WHATWG
// parsing would rewrite — backslashes, TAB/LF/CR, other controls, dot segments in any
// spelling, encoded separators — is refused, so the URL judged (channel, subdir, file) is
// exactly the URL fetched. Attacks from environment files of every format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TargetError } from '../../src/errors.ts';
import { parsePackageUrl, recordFromUrl, parseChannelArgument } from '../../src/targets/package-url.ts';
import { parseExplicit } from '../../src/targets/lockfiles.ts';
import { canonicalChannelUrl } from '../../src/policy/channel.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';

const GOOD = 'https://prefix.dev/conda-forge/linux-64/numpy-1.24.3-py310h5f9d8e6_0.conda';
const invalidUrl = (e: unknown): boolean => e instanceof TargetError && e.code === 'TARGET_INVALID_URL';

test('a normal URL parses into channel, subdir and file that rebuild it exactly', () => {
  const p = parsePackageUrl(GOOD);
  assert.deepEqual(p, { url: GOOD, channel: 'https://prefix.dev/conda-forge', subdir: 'linux-64', filename: 'numpy-1.24.3-py310h5f9d8e6_0.conda' });
  // Percent-encoded `+`/`!` and a token path stay as they are; CRLF layout is trimmed.
  assert.equal(parsePackageUrl('https://h/t/tk-123/ch/noarch/a%2Bb-1.0-0.tar.bz2\r').filename, 'a+b-1.0-0.tar.bz2');
  assert.equal(parsePackageUrl('HTTPS://Prefix.DEV:443/c/noarch/x-1-0.conda').url, 'https://prefix.dev/c/noarch/x-1-0.conda');
});

test('attack: dot segments in any spelling, backslashes and controls are refused, never resolved', () => {
  const base = 'https://prefix.dev/conda-forge/linux-64';
  const file = 'evil-1.0-0.conda';
  for (const raw of [
    `${base}\\..\\..\\other/linux-64/${file}`,
    `${base}/..\\..\\other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/.\t./other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/.\n./other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/../other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/./linux-64/${file}`,
    `https://prefix.dev/conda-forge/%2e%2e/other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/.%2E/other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/%2E./other/linux-64/${file}`,
    `https://prefix.dev/conda-forge/%2e/linux-64/${file}`,
    `https://prefix.dev/conda-forge/%252e%252e/other/linux-64/${file}`,
    `https://prefix.dev/conda-forge%2f..%2fother/linux-64/${file}`,
    `https://prefix.dev/conda-forge%5c..%5cother/linux-64/${file}`,
    `https://prefix.dev/conda-forge//linux-64/${file}`,
    `https://prefix.dev/conda\u0000-forge/linux-64/${file}`,
    `https://prefix.dev/conda-forge/linux-64/${file}\u0085`,
    `https://prefix.dev/conda forge/linux-64/${file}`,
    `https://prefix.dev/conda-forge/linux-64/${file}?x=1`,
    `https://prefix.dev/conda-forge/linux-64/${file}?`,
    `https://prefix.dev/conda-forge/linux-64/${file}#`,
    `https:\\\\prefix.dev/conda-forge/linux-64/${file}`,
    `https://user:pw@prefix.dev/conda-forge/linux-64/${file}`,
  ]) {
    assert.throws(() => parsePackageUrl(raw), invalidUrl, JSON.stringify(raw));
  }
});

test('an explicit file with a backslash or tab traversal is an input error, not another channel', () => {
  for (const line of [
    'https://prefix.dev/conda-forge/linux-64\\..\\..\\other/linux-64/evil-1.0-0.conda',
    'https://prefix.dev/conda-forge/.\t./other/linux-64/evil-1.0-0.conda',
  ]) {
    assert.throws(() => parseExplicit(`@EXPLICIT\n${line}\n`, 'env.txt'), invalidUrl);
  }
});

test('--channel goes through the same refusals and is normalised', () => {
  assert.equal(parseChannelArgument('https://Prefix.dev/conda-forge/', '--channel'), 'https://prefix.dev/conda-forge');
  for (const bad of ['https://h/a/../b', 'https://h/a\\b', 'https://h/a/%2e%2e', 'file:///x', 'https://h/a?x', 'https://u:p@h/a']) {
    assert.throws(() => parseChannelArgument(bad, '--channel'), invalidUrl, bad);
  }
});

test('property: every accepted URL is its own normal form, judged exactly as fetched; never a crash', async (t) => {
  const segment = fc.oneof(hostileString(12), fc.constantFrom('conda-forge', 'linux-64', 'noarch', 't', 'tk-1', '..', '.', '%2e', 'a%2Fb', 'x\\y'));
  const filename = fc.oneof(fc.constant('pkg-1.0-0.conda'), fc.constant('p%2Bq-2-h_1.tar.bz2'), hostileString(20).map((s) => `${s}-1-0.conda`));
  await checkProperty(
    t,
    'package URL normalisation',
    [fc.constantFrom('https://h.example', 'http://127.0.0.1:8080', 'HTTPS://H.Example'), fc.array(segment, { maxLength: 4 }), fc.constantFrom('linux-64', 'noarch', 'lin\\ux', '..'), filename, fc.constantFrom('', '\r', ' ', '\t')],
    (origin, path, subdir, file, trailer) => {
      const raw = `${origin}/${[...path, subdir, file].join('/')}${trailer}`;
      let p;
      try {
        p = parsePackageUrl(raw);
        recordFromUrl(raw);
      } catch (e) {
        assert.ok(invalidUrl(e) || (e instanceof TargetError && e.code === 'TARGET_INVALID_FILENAME'), `unexpected ${String(e)}`);
        return;
      }
      // Accepted: no rewriting is possible any more.
      assert.equal(new URL(p.url).href, p.url);
      assert.equal(parsePackageUrl(p.url).url, p.url, 'idempotent');
      assert.equal(p.url, `${p.channel}/${p.subdir}/${p.url.slice(p.url.lastIndexOf('/') + 1)}`);
      assert.ok(!/[\\\u0000-\u001f]/.test(p.url));
      const segs = new URL(p.url).pathname.split('/');
      assert.ok(!segs.includes('..') && !segs.includes('.'));
      // The channel the package is judged under is the channel it is fetched from.
      assert.equal(canonicalChannelUrl(p.channel), p.channel);
      assert.ok(p.url.startsWith(p.channel + '/'));
    },
    { runs: 400 },
  );
});
