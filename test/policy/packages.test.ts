// Per-package rules and exceptions (pure): precedence, ties, expiry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  daysLeft,
  effectivePolicy,
  exceptionFor,
  globsOverlap,
  globTies,
  isCalendarDate,
  packageMatches,
  ruleFor,
} from '../../src/policy/packages.ts';
import type { ChannelPolicy, PackageRule } from '../../src/types.ts';
import { channelPolicy } from './fixtures.ts';

const GH = 'https://token.actions.githubusercontent.com';

const base: ChannelPolicy = channelPolicy({
  trustedIdentities: [{ identity: 'github:conda-forge/*-feedstock', issuer: GH }],
  packages: [
    { pattern: 'legacy-*', require: 'warn' },
    { pattern: 'lib*', require: 'ignore' },
    { pattern: 'libssl*', require: 'warn' },
    { pattern: 'openssl', trustedIdentities: [{ identity: 'github:conda-forge/openssl-feedstock@refs/heads/main', issuer: GH }] },
  ],
});

test('package names: exact or anchored `*` glob', () => {
  assert.equal(packageMatches('openssl', 'openssl'), true);
  assert.equal(packageMatches('openssl', 'openssl-evil'), false);
  assert.equal(packageMatches('openssl', 'xopenssl'), false);
  assert.equal(packageMatches('legacy-*', 'legacy-tool'), true);
  assert.equal(packageMatches('legacy-*', 'legacy-'), true);
  assert.equal(packageMatches('legacy-*', 'notlegacy-tool'), false);
  assert.equal(packageMatches('py.*', 'pyx'), false, '`.` is literal');
  assert.equal(packageMatches('*-feedstock', 'a-feedstock'), true);
});

test('precedence: exact name over any glob, longer glob over shorter', () => {
  assert.equal(ruleFor(base.packages, 'openssl')?.pattern, 'openssl');
  assert.equal(ruleFor(base.packages, 'libssl3')?.pattern, 'libssl*');
  assert.equal(ruleFor(base.packages, 'libzstd')?.pattern, 'lib*');
  assert.equal(ruleFor(base.packages, 'numpy'), undefined);
  // An exact rule wins even over a longer glob.
  const rules: PackageRule[] = [{ pattern: 'libssl-very-long-*', require: 'warn' }, { pattern: 'libssl-very-long-x', require: 'ignore' }];
  assert.equal(ruleFor(rules, 'libssl-very-long-x')?.pattern, 'libssl-very-long-x');
});

test('effective policy overrides only what the rule sets, and is the same object per rule', () => {
  const ssl = effectivePolicy(base, 'openssl');
  assert.equal(ssl.require, 'error');
  assert.equal(ssl.trustedIdentities[0]!.identity, 'github:conda-forge/openssl-feedstock@refs/heads/main');
  assert.equal(ssl.rule, 'openssl');
  assert.equal(effectivePolicy(base, 'openssl'), ssl, 'cached per rule');
  const legacy = effectivePolicy(base, 'legacy-tool');
  assert.equal(legacy.require, 'warn');
  assert.equal(legacy.trustedIdentities, base.trustedIdentities);
  assert.equal(effectivePolicy(base, 'numpy'), base);
  // An attacker's look-alike name does not borrow a looser rule.
  assert.equal(effectivePolicy(base, 'openssl-evil'), base);
});

test('ties: equally long globs that can match one name are reported; others are not', () => {
  assert.equal(globsOverlap('lib*', '*ssl'), true); // libssl
  assert.equal(globsOverlap('a*b', 'a*c'), false);
  assert.equal(globsOverlap('ab*', 'ba*'), false);
  assert.equal(globsOverlap('*x*', '*y*'), true);
  assert.deepEqual(globTies(['lib*', '*ssl', 'openssl', 'py-x*', 'r-*x']), [['*ssl', 'lib*']]);
  assert.deepEqual(globTies(['a*b', 'a*c', 'abc']), []);
  // fuzz (seeded): globsOverlap agrees with brute force over short names
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pick = (n: number, al: string) => Array.from({ length: n }, () => al[Math.floor(rnd() * al.length)]).join('');
  const names: string[] = [''];
  for (let len = 1; len <= 5; len++) for (let i = 0; i < 3 ** len; i++) names.push(i.toString(3).padStart(len, '0').replace(/0/g, 'a').replace(/1/g, 'b').replace(/2/g, 'c'));
  for (let n = 0; n < 300; n++) {
    const a = pick(1 + Math.floor(rnd() * 3), 'ab*');
    const b = pick(1 + Math.floor(rnd() * 3), 'bc*');
    const brute = names.some((x) => packageMatches(a, x) && packageMatches(b, x));
    assert.equal(globsOverlap(a, b), brute, `${a} vs ${b}`);
  }
});

test('exceptions: active through the last day, expired after; the latest active one wins', () => {
  const ex = [
    { package: 'legacy-tool', until: '2027-01-31', reason: 'upstream does not attest yet' },
    { package: 'legacy-*', until: '2026-06-30', reason: 'old' },
  ];
  assert.deepEqual(exceptionFor(ex, 'legacy-tool', '2027-01-31'), { exception: ex[0], expired: false });
  assert.deepEqual(exceptionFor(ex, 'legacy-tool', '2027-02-01'), { exception: ex[0], expired: true });
  assert.deepEqual(exceptionFor(ex, 'legacy-other', '2026-12-01'), { exception: ex[1], expired: true });
  assert.deepEqual(exceptionFor(ex, 'legacy-other', '2026-06-30'), { exception: ex[1], expired: false });
  assert.equal(exceptionFor(ex, 'legacy', '2026-01-01'), null);
  assert.equal(exceptionFor(ex, 'xlegacy-tool', '2026-01-01'), null);
  assert.equal(exceptionFor(undefined, 'a', '2026-01-01'), null);
  assert.equal(daysLeft('2027-01-31', '2027-01-31'), 0);
  assert.equal(daysLeft('2027-01-31', '2027-01-01'), 30);
  assert.equal(daysLeft('2027-01-31', '2027-02-02'), -2);
});

test('calendar dates', () => {
  assert.equal(isCalendarDate('2027-01-31'), true);
  assert.equal(isCalendarDate('2028-02-29'), true);
  assert.equal(isCalendarDate('2027-02-29'), false);
  assert.equal(isCalendarDate('2027-13-01'), false);
  assert.equal(isCalendarDate('27-01-31'), false);
});

test('attack: padding a glob with stars does not make it more specific (`**o**` vs `to*`): specificity is the number of literal characters', async () => {
  const { resolveConfig } = await import('../../src/config/validator.ts');
  const CH = 'https://prefix.dev/conda-forge';
  // The reviewed rule pins `tool`'s signer strictly; a later, padded rule would waive it.
  const config = resolveConfig(
    { channels: { [CH]: { require: 'error', packages: { 'to*': { require: 'error' }, '**o**': { require: 'ignore' } } } } },
    '/tmp',
    'mem',
    { env: {} },
  );
  const policy = config.channels.find((c) => c.channel === CH)!;
  assert.equal(ruleFor(policy.packages, 'tool')?.pattern, 'to*');
  assert.equal(effectivePolicy(policy, 'tool').require, 'error');
  assert.equal(ruleFor(policy.packages, 'zoo')?.pattern, '**o**', 'the padded rule still applies where it is the only match');
  // Stars never add weight: `lib**` does not beat `lib*`; the two tie and the config says so.
  assert.deepEqual(globTies(['lib*', 'lib**']), [['lib*', 'lib**']]);
  assert.deepEqual(globTies(['to*', '**o**']), []);
  assert.throws(
    () => resolveConfig({ channels: { [CH]: { packages: { 'lib*': { require: 'warn' }, 'lib***': { require: 'ignore' } } } } }, '/tmp', 'mem', { env: {} }),
    (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'CONFIG_INVALID' && /same number of literal characters/.test(JSON.stringify((e as { details?: unknown }).details) + e.message),
  );
  // Equal specificity that cannot match one name is fine; more literals win over fewer.
  assert.deepEqual(globTies(['a*b', 'a*c']), []);
  assert.equal(ruleFor([{ pattern: '*o*', require: 'ignore' }, { pattern: 't*ol', require: 'warn' }], 'tool')?.pattern, 't*ol');
});
