import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelName, nothingVerifiedNotice, runNotices, unusedChannelNotices } from '../../src/report/notices.ts';
import type { ChannelPolicy, PackageReport, PackageStatus, PackageAction } from '../../src/types.ts';
import { channelPolicy } from '../policy/fixtures.ts';

const policy = (channel: string): ChannelPolicy => channelPolicy({ channel });

const row = (channel: string, status: PackageStatus = 'skipped', action: PackageAction = 'pass'): PackageReport => ({
  filename: 'x-1-0.conda',
  name: 'x',
  version: '1',
  build: '0',
  channel,
  subdir: 'noarch',
  url: `${channel}/noarch/x-1-0.conda`,
  sha256: null,
  digest_source: null,
  status,
  action,
  identity: null,
  reasons: [],
  notes: [],
  sidecar: null,
  bundles: [],
});

const PREFIX = 'https://prefix.dev/conda-forge';
const ANACONDA = 'https://conda.anaconda.org/conda-forge';

test('channelName: last non-empty path segment', () => {
  assert.equal(channelName('https://conda.anaconda.org/conda-forge'), 'conda-forge');
  assert.equal(channelName('https://h/t/tok/private/'), 'private');
  assert.equal(channelName('not a url'), undefined);
});

test('CHANNEL_UNUSED: names the channels used, and proposes the exact mirrors entry for a same-named channel', () => {
  const [n, ...rest] = unusedChannelNotices({ channels: [policy(PREFIX)] }, [row(ANACONDA), row('https://conda.anaconda.org/bioconda')]);
  assert.equal(rest.length, 0);
  assert.equal(n!.code, 'CHANNEL_UNUSED');
  assert.match(n!.message, /https:\/\/prefix\.dev\/conda-forge matches no package of this run; the packages come from https:\/\/conda\.anaconda\.org\/bioconda, https:\/\/conda\.anaconda\.org\/conda-forge\./);
  assert.ok(n!.hint!.endsWith(`channels["${PREFIX}"].mirrors: ["${ANACONDA}"]`), n!.hint);
});

test('CHANNEL_UNUSED: a channel used directly or through a mirror is not reported', () => {
  // Rows carry the canonical channel: a package from a mirror is reported under its channel.
  assert.deepEqual(unusedChannelNotices({ channels: [policy(PREFIX)] }, [row(PREFIX)]), []);
});

test('attack: CHANNEL_UNUSED never proposes a channel whose name only resembles the configured one', () => {
  for (const other of ['https://evil.example/conda-forge-evil', 'https://evil.example/conda', 'https://evil.example/conda-forge/extra']) {
    const [n] = unusedChannelNotices({ channels: [policy(PREFIX)] }, [row(other)]);
    assert.doesNotMatch(n!.hint!, /mirrors:/, other);
  }
  // A channel already claimed by another configured entry is not proposed either.
  const [n] = unusedChannelNotices({ channels: [policy(PREFIX), policy(ANACONDA)] }, [row(ANACONDA)]);
  assert.doesNotMatch(n!.hint!, /mirrors:/);
});

test('NOTHING_VERIFIED: every package skipped, no package at all, or unattested under ignore; never when something was verified or refused', () => {
  const all = nothingVerifiedNotice([row(ANACONDA), row(ANACONDA)]);
  assert.match(all!.message, /all 2 packages were skipped because no enabled channel policy covers https:\/\/conda\.anaconda\.org\/conda-forge/);
  assert.match(nothingVerifiedNotice([row(ANACONDA)])!.message, /: the only package was skipped because/);
  assert.match(nothingVerifiedNotice([])!.message, /no conda package/);
  assert.match(nothingVerifiedNotice([row(ANACONDA, 'missing'), row(PREFIX)])!.message, /require: ignore/);
  assert.equal(nothingVerifiedNotice([row(ANACONDA), row(PREFIX, 'verified')]), undefined);
  assert.equal(nothingVerifiedNotice([row(ANACONDA), row(PREFIX, 'missing', 'block')]), undefined);
  assert.equal(nothingVerifiedNotice([row(ANACONDA), row(PREFIX, 'missing', 'warn')]), undefined);
  assert.deepEqual(runNotices({ channels: [policy(PREFIX)] }, [row(ANACONDA)]).map((n) => n.code), ['CHANNEL_UNUSED', 'NOTHING_VERIFIED']);
});
