// The proof that the plugin layer works in a real host: the REAL @emscripten-forge/mambajs-core installs a small
// environment from loopback fixture channels through the wrapped untarjs, with the real
// conda-attest pipeline (local Sigstore instance, config file, identity lockfile).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { installPackagesToEmscriptenFS } from '@emscripten-forge/mambajs-core';
import type { ILock } from '@emscripten-forge/mambajs-core';
import { PackageBlockedError } from '../../plugin/contract.ts';
import { createCondaAttestPlugin } from '../../plugin/conda-attest.ts';
import { wrapUntarjs } from '../../plugin/hosts/mambajs.ts';
import { recordForMambaUrl } from '../../plugin/hosts/mambajs-lock.ts';
import { TargetError } from '../../src/errors.ts';
import type { MambaLockLike } from '../../plugin/hosts/mambajs.ts';
import { createNodeUntar } from '../../plugin/hosts/untar-node.ts';
import type { Report } from '../../src/types.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { ALPHA, BETA, GAMMA, LOOSE, UNSIGNED, evil, startPluginFixture } from './fixture.ts';
import type { PluginFixture } from './fixture.ts';
import { createMemModule } from './memfs.ts';
import { mambaLock } from '../helpers/mamba-lock.ts';
import { writeTar } from '../helpers/conda.ts';
import type { MemModule } from './memfs.ts';

let fx: PluginFixture;
let strict: FixtureChannel; // require: error
let lenient: FixtureChannel; // require: warn

before(async () => {
  fx = await startPluginFixture();
  ({ strict, lenient } = fx);
});
after(() => fx?.close());

/** A mambajs lock for some packages of the fixture channels (sha256 and size from the channel unless left out). */
function lockFor(entries: Array<[FixtureChannel, string]>, omit: { hash?: string[]; size?: string[] } = {}): ILock {
  return mambaLock(
    { strict, lenient },
    entries.map(([ch, filename]) => [ch === strict ? 'strict' : 'lenient', filename]),
    { omit },
  );
}

interface Run {
  error: unknown;
  report: Report | undefined;
  Module: MemModule;
  /** SHA-256 of every buffer handed to the real extractData. */
  extracted: Set<string>;
  lockfile: string;
}

/** One install run with mambajs-core: a fresh plugin (one session), a fresh in-memory FS. */
async function install(lock: ILock): Promise<Run> {
  const lockfile = fx.lockfile();
  const plugin = createCondaAttestPlugin({ cwd: fx.dir, noTufRefresh: true, lockfile });
  const inner = createNodeUntar();
  const extracted = new Set<string>();
  const spied = {
    extract: inner.extract,
    extractData: (data: Uint8Array, decompressionOnly?: boolean) => {
      extracted.add(createHash('sha256').update(data).digest('hex'));
      return inner.extractData(data, decompressionOnly);
    },
  };
  const untarjs = wrapUntarjs(spied, plugin, { lock: lock as MambaLockLike });
  const Module = createMemModule();
  let error: unknown;
  try {
    await installPackagesToEmscriptenFS({
      packages: { packages: lock.packages, pipPackages: {} },
      channels: lock.channelInfo,
      Module,
      untarjs,
    });
  } catch (e) {
    error = e;
  }
  // The end-of-run hook also waits for downloads still in flight when the host gave up.
  const report = await untarjs.afterInstall();
  return { error, report, Module, extracted, lockfile };
}

function row(report: Report | undefined, filename: string) {
  const r = report?.packages.find((p) => p.filename === filename);
  assert.ok(r, `${filename} is in the report`);
  return r;
}

test('mambajs-core installs attested packages and a warned one; the report lists them and the lockfile pins identities', async () => {
  const run = await install(lockFor([[strict, ALPHA], [strict, BETA], [lenient, LOOSE]]));
  assert.equal(run.error, undefined, `install failed: ${String(run.error)}`);
  assert.equal(new TextDecoder().decode(run.Module.files.get('/lib/alpha.txt')), 'alpha');
  assert.equal(new TextDecoder().decode(run.Module.files.get('/share/beta/data.json')), '{"beta":true}');
  // require: warn — the unattested package is installed and listed as a warning.
  assert.equal(new TextDecoder().decode(run.Module.files.get('/lib/loose.txt')), 'loose');

  assert.equal(row(run.report, ALPHA).status, 'verified');
  assert.equal(row(run.report, ALPHA).action, 'pass');
  assert.equal(row(run.report, ALPHA).digest_source, 'artifact');
  assert.equal(row(run.report, BETA).status, 'verified');
  assert.equal(row(run.report, LOOSE).status, 'missing');
  assert.equal(row(run.report, LOOSE).action, 'warn');
  assert.equal(run.report?.summary.warned, 1);
  assert.equal(run.report?.summary.blocked, 0);
  assert.ok(existsSync(run.lockfile), 'the identity lockfile was written at the end of the run');
  const lockText = readFileSync(run.lockfile, 'utf8');
  assert.match(lockText, /alpha/);
  assert.match(lockText, /test-org/);
});

for (const variant of ['sha256 only', 'sha256 and size'] as const) {
  test(`attack: bytes that differ from the lock (${variant}) are refused before extraction; nothing of them reaches the FS`, async (t) => {
    const gamma = strict.get(GAMMA);
    strict.setFault(gamma.url, { kind: 'body', body: evil.bytes });
    t.after(() => strict.clearFaults());
    const run = await install(lockFor([[strict, ALPHA], [strict, GAMMA]], variant === 'sha256 only' ? { size: [GAMMA] } : {}));
    assert.ok(run.error instanceof PackageBlockedError, `expected PackageBlockedError, got ${String(run.error)}`);
    assert.equal(run.error.code, 'PACKAGE_BLOCKED');
    assert.equal(run.error.record.filename, GAMMA);
    assert.deepEqual(run.error.reasons.map((r) => r.code), ['PACKAGE_DIGEST_MISMATCH']);
    assert.ok(!run.extracted.has(evil.sha256), 'the tampered bytes were never handed to extractData');
    assert.ok(![...run.Module.files.keys()].some((p) => p.includes('evil') || p.includes('gamma')), 'no gamma file in the FS');
    assert.equal(row(run.report, GAMMA).action, 'block');
    // The attested neighbour, downloaded in parallel, was still verified and reported.
    assert.equal(row(run.report, ALPHA).status, 'verified');
  });
}

test('attack: without a lock hash, bytes the attestation was not signed for are refused; nothing reaches the FS', async (t) => {
  const gamma = strict.get(GAMMA);
  strict.setFault(gamma.url, { kind: 'body', body: evil.bytes });
  t.after(() => strict.clearFaults());
  const run = await install(lockFor([[strict, GAMMA]], { hash: [GAMMA], size: [GAMMA] }));
  assert.ok(run.error instanceof PackageBlockedError, `expected PackageBlockedError, got ${String(run.error)}`);
  assert.equal(run.error.record.filename, GAMMA);
  assert.equal(run.error.report?.status, 'invalid');
  assert.ok(run.error.reasons.length > 0);
  assert.ok(!run.extracted.has(evil.sha256), 'the tampered bytes were never handed to extractData');
  assert.equal(run.Module.files.size, 0, 'nothing reached the FS');
  assert.equal(row(run.report, GAMMA).action, 'block');
});

test('attack: an unattested package on a require: error channel is blocked; nothing of it reaches the FS', async () => {
  const run = await install(lockFor([[strict, UNSIGNED]]));
  assert.ok(run.error instanceof PackageBlockedError, `expected PackageBlockedError, got ${String(run.error)}`);
  assert.equal(run.error.record.filename, UNSIGNED);
  assert.equal(run.error.report?.status, 'missing');
  assert.ok(run.error.reasons.some((r) => r.code === 'NO_ATTESTATIONS'), JSON.stringify(run.error.reasons));
  assert.ok(!run.extracted.has(strict.get(UNSIGNED).sha256));
  assert.equal(run.Module.files.size, 0);
  assert.equal(row(run.report, UNSIGNED).action, 'block');
  assert.equal(run.report?.summary.blocked, 1);
});

test('package records: the channel is the URL\'s (flat pkgRootUrl: its directory, subdir from the lock); sha256 and size from the lock', () => {
  const lock: MambaLockLike = {
    packages: {
      [ALPHA]: { name: 'alpha', version: '1.0', build: 'h0_0', subdir: 'emscripten-wasm32', channel: 'cf', size: 10, hash: { sha256: 'AB'.repeat(32) } },
    },
    channelInfo: { cf: [{ url: 'https://prefix.dev/emscripten-forge-dev/' }] },
  };
  // empack's flat layout: judged under the CDN it came from (a `mirrors` entry maps it).
  const fromCdn = recordForMambaUrl(`https://cdn.example/env/${ALPHA}`, lock);
  assert.equal(fromCdn.channel, 'https://cdn.example/env');
  assert.equal(fromCdn.subdir, 'emscripten-wasm32');
  assert.equal(fromCdn.url, `https://cdn.example/env/${ALPHA}`);
  assert.equal(fromCdn.sha256, 'ab'.repeat(32));
  assert.equal(fromCdn.size, 10);
  // <channel>/<subdir>/<file>: the label "cf" does not move a package fetched elsewhere.
  const elsewhere = recordForMambaUrl(`https://other.example/lax/emscripten-wasm32/${ALPHA}`, lock);
  assert.deepEqual([elsewhere.channel, elsewhere.subdir, elsewhere.sha256], ['https://other.example/lax', 'emscripten-wasm32', 'ab'.repeat(32)]);
  // No lock entry: everything from <channel>/<subdir>/<file>.
  const plain = recordForMambaUrl(`https://prefix.dev/conda-forge/noarch/${BETA}`);
  assert.deepEqual([plain.channel, plain.subdir, plain.name, plain.version, plain.build], ['https://prefix.dev/conda-forge', 'noarch', 'beta', '2.0', 'h0_0']);
});

test('attack: a malformed lock entry (hash.sha256 not a string, hash not an object, size not a number, entry null) is a TargetError with a code, never a TypeError', () => {
  const url = `https://cdn.example/env/${ALPHA}`;
  const base = { name: 'alpha', version: '1.0', build: 'h0_0', subdir: 'noarch', channel: 'cf' };
  for (const entry of [
    { ...base, hash: { sha256: 'xyz' } },
    { ...base, hash: { sha256: 42 } },
    { ...base, hash: { sha256: { toLowerCase: 1 } } },
    { ...base, hash: { sha256: ['ab'.repeat(32)] } },
    { ...base, hash: 'ab'.repeat(32) },
    { ...base, size: '10' },
    { ...base, size: -1 },
    null,
    7,
  ]) {
    const lock = { packages: { [ALPHA]: entry } } as unknown as MambaLockLike;
    assert.throws(
      () => recordForMambaUrl(url, lock),
      (e: unknown) => e instanceof TargetError && e.code === 'TARGET_PARSE_FAILED' && e.message.includes(ALPHA),
      JSON.stringify(entry),
    );
  }
});

test('attack: through mambajs-core, a non-string hash.sha256 stops the install with TARGET_PARSE_FAILED before anything is fetched', async () => {
  const lock = lockFor([[strict, ALPHA]]);
  (lock.packages[ALPHA]!.hash as unknown as { sha256: unknown }).sha256 = 1234;
  const before = strict.requests.length;
  const run = await install(lock);
  assert.ok(run.error instanceof TargetError, `expected TargetError, got ${String(run.error)}`);
  assert.equal(run.error.code, 'TARGET_PARSE_FAILED');
  assert.equal(strict.requests.length, before, 'nothing was fetched');
  assert.equal(run.Module.files.size, 0);
});

/** A lock whose one entry is `filename` in `channel` (the label), otherwise the entry of `real`. */
function relabelled(real: string, filename: string, label: 'strict' | 'lenient' = 'strict'): ILock {
  const lock = lockFor([[strict, real]]);
  const entry = lock.packages[real]!;
  delete lock.packages[real];
  lock.packages[filename] = { ...entry, channel: label };
  lock.channelInfo = { strict: [{ url: strict.url, protocol: 'https' }], lenient: [{ url: lenient.url, protocol: 'https' }] } as ILock['channelInfo'];
  return lock;
}

for (const [label, name, body] of [
  ['upper-case extension (mambajs treats it as .conda)', 'unsigned-1.0-h0_0.CONDA', () => strict.get(UNSIGNED).bytes],
  ['a plain tarball name (mambajs unpacks it as a tarball)', 'unsigned-1.0-h0_0.tar.gz', () => gzipSync(writeTar([{ path: 'lib/planted.txt', data: Buffer.from('planted') }]))],
  ['a query that makes the URL end in .conda', 'unsigned-1.0-h0_0.tar.gz?.conda', () => gzipSync(writeTar([{ path: 'lib/planted.txt', data: Buffer.from('planted') }]))],
] as const) {
  test(`attack: a lock entry with ${label} is refused before it is fetched; nothing reaches the FS`, async (t) => {
    const url = `${strict.url}/${strict.get(UNSIGNED).subdir}/${name}`;
    strict.setFault(url.split('?')[0]!, { kind: 'body', body: Buffer.from(body()) });
    t.after(() => strict.clearFaults());
    const lock = relabelled(UNSIGNED, name);
    delete lock.packages[name]!.hash;
    const before = strict.requests.length;
    const run = await install(lock);
    assert.ok(run.error instanceof PackageBlockedError, `expected PackageBlockedError, got ${String(run.error)}`);
    assert.deepEqual(run.error.reasons.map((r) => r.code), ['PACKAGE_URL_UNSUPPORTED']);
    assert.equal(strict.requests.length, before, 'the package was never fetched');
    assert.equal(run.Module.files.size, 0, 'nothing reached the FS');
  });
}

test('attack: an unsigned package of the strict channel relabelled as the lax channel\'s (empack pkgRootUrl) is judged by the URL it came from: blocked, and the report names the strict channel', async () => {
  const lock = relabelled(UNSIGNED, UNSIGNED, 'lenient');
  const lockfile = fx.lockfile();
  const plugin = createCondaAttestPlugin({ cwd: fx.dir, noTufRefresh: true, lockfile });
  const untarjs = wrapUntarjs(createNodeUntar(), plugin, { lock: lock as MambaLockLike });
  const Module = createMemModule();
  const subdir = strict.get(UNSIGNED).subdir;
  let error: unknown;
  try {
    // mambajs fetches <pkgRootUrl>/<file>: here the strict channel's own subdir.
    await installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, pkgRootUrl: `${strict.url}/${subdir}`, Module, untarjs });
  } catch (e) {
    error = e;
  }
  const report = await untarjs.afterInstall();
  assert.ok(error instanceof PackageBlockedError, `expected PackageBlockedError, got ${String(error)}`);
  assert.ok(error.reasons.some((r) => r.code === 'NO_ATTESTATIONS'), JSON.stringify(error.reasons));
  assert.equal(row(report, UNSIGNED).channel, strict.url);
  assert.equal(row(report, UNSIGNED).action, 'block');
  assert.equal(Module.files.size, 0);
});

test('non-package archives (empack mount points) go straight to the wrapped untarjs', async () => {
  const calls: string[] = [];
  const inner = {
    extract: async (url: string) => (calls.push(url), { 'a.txt': new Uint8Array([1]) }),
    extractData: async () => ({}),
  };
  const untarjs = wrapUntarjs(inner, { name: 'never-called', wrapDownload: () => async () => assert.fail('no download for mount points') });
  assert.deepEqual(Object.keys(await untarjs.extract('http://127.0.0.1:9/mounts/env.tar.gz')), ['a.txt']);
  assert.deepEqual(calls, ['http://127.0.0.1:9/mounts/env.tar.gz']);
});
