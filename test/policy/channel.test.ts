import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalChannelUrl, channelFromPackageUrl, policyFor, targetChannelAccepted } from '../../src/policy/channel.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { TargetError } from '../../src/errors.ts';

const config = resolveConfig(
  {
    default: { enabled: true, require: 'warn' },
    channels: {
      'https://prefix.dev/conda-forge': { mirrors: ['https://mirror.example.org/conda-forge/'] },
      'https://prefix.dev/private': { require: 'ignore' },
    },
  },
  '/tmp',
);

test('canonicalChannelUrl: trailing slashes, case of scheme and host, default port, credentials', () => {
  assert.equal(canonicalChannelUrl('https://prefix.dev/conda-forge/'), 'https://prefix.dev/conda-forge');
  assert.equal(canonicalChannelUrl('https://prefix.dev/conda-forge///'), 'https://prefix.dev/conda-forge');
  assert.equal(canonicalChannelUrl('HTTPS://Prefix.DEV/conda-forge'), 'https://prefix.dev/conda-forge');
  assert.equal(canonicalChannelUrl('https://prefix.dev:443/conda-forge'), 'https://prefix.dev/conda-forge');
  assert.equal(canonicalChannelUrl('http://127.0.0.1:8080/ch/'), 'http://127.0.0.1:8080/ch');
  assert.equal(canonicalChannelUrl('https://user:secret@prefix.dev/conda-forge'), 'https://prefix.dev/conda-forge');
  // Path case is significant (servers are case-sensitive).
  assert.equal(canonicalChannelUrl('https://prefix.dev/Conda-Forge'), 'https://prefix.dev/Conda-Forge');
  // Dot segments resolve exactly as fetch() will resolve them on the wire.
  assert.equal(canonicalChannelUrl('https://prefix.dev/conda-forge/%2e%2e/evil'), 'https://prefix.dev/evil');
});

test('canonicalChannelUrl rejects non-URLs, unknown schemes, query and fragment', () => {
  for (const bad of ['conda-forge', 'ftp://x/y', 'javascript:alert(1)', 'https://x/c?token=1', 'https://x/c#frag']) {
    assert.throws(() => canonicalChannelUrl(bad), (e: unknown) => e instanceof TargetError && e.code === 'TARGET_INVALID_URL', bad);
  }
});

test('channelFromPackageUrl: last two segments are subdir and filename', () => {
  assert.deepEqual(channelFromPackageUrl('https://prefix.dev/conda-forge/linux-64/numpy-1.24.3-py310h5f9d8e6_0.conda'), {
    channel: 'https://prefix.dev/conda-forge',
    subdir: 'linux-64',
    filename: 'numpy-1.24.3-py310h5f9d8e6_0.conda',
  });
  // Channel at the server root; query string (signed URL) dropped; filename decoded.
  assert.deepEqual(channelFromPackageUrl('http://127.0.0.1:9/noarch/a%2Bb-1-0.tar.bz2?sig=x'), {
    channel: 'http://127.0.0.1:9',
    subdir: 'noarch',
    filename: 'a+b-1-0.tar.bz2',
  });
  assert.equal(channelFromPackageUrl('https://conda.anaconda.org/conda-forge/label/dev/noarch/x-1-0.conda').channel, 'https://conda.anaconda.org/conda-forge/label/dev');
});

test('channelFromPackageUrl rejects URLs without subdir/filename and encoded separators', () => {
  for (const bad of ['https://x/', 'https://x/file.conda', 'https://x/ch/noarch/', 'https://x/ch/noarch/a%2Fb.conda', 'not a url']) {
    assert.throws(() => channelFromPackageUrl(bad), TargetError, bad);
  }
});

test('policyFor: exact channel, trailing slash, mirror, default', () => {
  const cf = policyFor(config, 'https://prefix.dev/conda-forge/');
  assert.equal(cf.policy.channel, 'https://prefix.dev/conda-forge');
  assert.equal(cf.canonical, 'https://prefix.dev/conda-forge');
  assert.equal(cf.viaMirror, false);

  const m = policyFor(config, 'https://MIRROR.example.org/conda-forge');
  assert.equal(m.policy.channel, 'https://prefix.dev/conda-forge', 'a mirror is judged by its canonical channel');
  assert.equal(m.canonical, 'https://prefix.dev/conda-forge');
  assert.equal(m.viaMirror, true);

  const other = policyFor(config, 'https://example.com/other/');
  assert.equal(other.policy, config.default);
  assert.equal(other.canonical, 'https://example.com/other');
  assert.equal(other.viaMirror, false);
});

test('policyFor: prefix and look-alike attacks fall to default, never to the configured channel', () => {
  const attacks = [
    'https://prefix.dev/conda-forge-evil',
    'https://prefix.dev/conda-forge/evil', // a sub-path is another channel (e.g. a label)
    'https://prefix.dev/conda-forgE',
    'http://prefix.dev/conda-forge', // http and https are different channels
    'https://prefix.dev.evil.com/conda-forge',
    'https://evil.com/https://prefix.dev/conda-forge',
    'https://mirror.example.org/conda-forge-evil',
    'https://prefix.dev/conda-forge?x=1',
  ];
  for (const url of attacks) {
    const r = policyFor(config, url);
    assert.equal(r.policy, config.default, url);
    assert.equal(r.viaMirror, false, url);
    assert.notEqual(r.canonical, 'https://prefix.dev/conda-forge', url);
  }
});

test('targetChannelAccepted: own channel, canonical channel of a mirror, nothing else', () => {
  const viaMirror = policyFor(config, 'https://mirror.example.org/conda-forge');
  assert.ok(targetChannelAccepted('https://prefix.dev/conda-forge', 'https://mirror.example.org/conda-forge', viaMirror));
  assert.ok(targetChannelAccepted('https://mirror.example.org/conda-forge/', 'https://mirror.example.org/conda-forge', viaMirror));
  assert.ok(!targetChannelAccepted('https://prefix.dev/private', 'https://mirror.example.org/conda-forge', viaMirror));
  const own = policyFor(config, 'https://prefix.dev/private');
  assert.ok(!targetChannelAccepted('https://prefix.dev/conda-forge', 'https://prefix.dev/private', own));
  assert.ok(!targetChannelAccepted('not a url', 'https://prefix.dev/private', own));
});
