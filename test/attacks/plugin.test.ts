// Red-team: the plugin layer. A buggy or hostile inner plugin hands conda-attest a
// digest that is not the digest of the bytes the host will extract (time-of-check vs
// time-of-use); a host record whose URL and filename disagree. Through composePlugins and
// the conda-attest plugin with a real pipeline session (local Sigstore, loopback channel).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startLocalSigstore, TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { makeWorkspace, resolveIn } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { PluginError } from '../../src/errors.ts';
import { createSession } from '../../src/pipeline.ts';
import { recordFromUrl } from '../../src/targets/index.ts';
import { composePlugins } from '../../plugin/loader.ts';
import { createCondaAttestPlugin } from '../../plugin/conda-attest.ts';
import { PackageBlockedError } from '../../plugin/contract.ts';
import type { CondaInstallerPlugin, DownloadFn } from '../../plugin/contract.ts';
import { fetchDownload } from '../../plugin/hosts/download.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;

before(async () => {
  sig = await startLocalSigstore();
  ch = await startFixtureChannel({
    sigstore: sig,
    name: 'forge',
    packages: [{ spec: { name: 'good', version: '1.0', build: 'h0_0' } }, { spec: { name: 'evil', version: '1.0', build: 'h0_0' }, attest: false }],
  });
  ws = makeWorkspace('conda-attest-attack-plugin-');
});

after(async () => {
  await ch?.close();
  await sig?.close();
  ws?.cleanup();
});

let n = 0;
async function attestPlugin(): Promise<CondaInstallerPlugin> {
  const config = resolveIn(ws, { trust_root: sig.trustedRootPath, cache_dir: `cache-${++n}`, http: { retries: 0 }, channels: { [ch.url]: { trusted_identities: TRUSTED } } });
  const session = await createSession({ config, lockfile: ws.path(`lock-${n}.json`) });
  return createCondaAttestPlugin({ session });
}

test('attack: an inner plugin returns other bytes with the verified package\'s digest → refused before the host gets them', async () => {
  const good = ch.get(fn('good'));
  const evilBytes = new Uint8Array(ch.get(fn('evil')).bytes);
  const swapper: CondaInstallerPlugin = {
    name: 'cache-that-lies',
    wrapDownload: (next: DownloadFn): DownloadFn => async (req) => {
      const real = await next(req);
      return { bytes: evilBytes, sha256: real.sha256 }; // claims the real digest
    },
  };
  const plugins = composePlugins([await attestPlugin(), swapper]);
  const download = plugins.wrapDownload(fetchDownload());
  await assert.rejects(download({ record: recordFromUrl(good.url) }), (e: unknown) => {
    assert.ok(e instanceof PluginError, String(e));
    assert.equal(e.code, 'PLUGIN_BAD_RETURN');
    assert.match(e.message, /cache-that-lies/);
    assert.match(e.message, /SHA-256 of its bytes/);
    return true;
  });
});

test('an inner plugin that replaces the bytes WITH their real digest is verified on those bytes (and blocked here)', async () => {
  const good = ch.get(fn('good'));
  const evilBytes = new Uint8Array(ch.get(fn('evil')).bytes);
  const swapper: CondaInstallerPlugin = {
    name: 'honest-swapper',
    wrapDownload: (next: DownloadFn): DownloadFn => async (req) => {
      await next(req);
      return { bytes: evilBytes, sha256: sha(evilBytes) };
    },
  };
  const plugins = composePlugins([await attestPlugin(), swapper]);
  const download = plugins.wrapDownload(fetchDownload());
  await assert.rejects(download({ record: recordFromUrl(good.url) }), (e: unknown) => {
    assert.ok(e instanceof PackageBlockedError, String(e));
    assert.ok(e.reasons.some((r) => r.code === 'CEP27_SUBJECT_DIGEST'), JSON.stringify(e.reasons));
    return true;
  });
});

test('an inner plugin passing the bytes through unchanged is accepted and verified', async () => {
  const good = ch.get(fn('good'));
  const passthrough: CondaInstallerPlugin = { name: 'logger', wrapDownload: (next) => (req) => next(req) };
  const plugins = composePlugins([await attestPlugin(), passthrough]);
  const out = await plugins.wrapDownload(fetchDownload())({ record: recordFromUrl(good.url) });
  assert.equal(out.sha256, good.sha256);
  assert.equal(sha(out.bytes), good.sha256);
});

test('attack: a host record whose URL serves another package than its filename names: the bytes decide (blocked)', async () => {
  const good = ch.get(fn('good'));
  const evil = ch.get(fn('evil'));
  // The record claims the attested package, the URL serves the unattested one.
  const record = { ...recordFromUrl(good.url), url: evil.url };
  const plugins = composePlugins([await attestPlugin()]);
  await assert.rejects(plugins.wrapDownload(fetchDownload())({ record }), (e: unknown) => {
    assert.ok(e instanceof PackageBlockedError, String(e));
    assert.ok(e.reasons.some((r) => r.code === 'CEP27_SUBJECT_DIGEST'), JSON.stringify(e.reasons));
    return true;
  });
});

test('attack: an inner plugin edits the downloaded array IN PLACE and hands back the same object and digest → refused', async () => {
  const good = ch.get(fn('good'));
  const evilBytes = ch.get(fn('evil')).bytes;
  const editor: CondaInstallerPlugin = {
    name: 'in-place-editor',
    wrapDownload: (next: DownloadFn): DownloadFn => async (req) => {
      const real = await next(req);
      // Same object, same digest string: an identity check would see "unchanged".
      const grown = new Uint8Array(real.bytes.buffer, real.bytes.byteOffset, real.bytes.byteLength);
      grown.fill(0);
      grown.set(evilBytes.subarray(0, Math.min(evilBytes.byteLength, grown.byteLength)));
      return real;
    },
  };
  const plugins = composePlugins([await attestPlugin(), editor]);
  await assert.rejects(plugins.wrapDownload(fetchDownload())({ record: recordFromUrl(good.url) }), (e: unknown) => {
    assert.ok(e instanceof PluginError, String(e));
    assert.equal(e.code, 'PLUGIN_BAD_RETURN');
    assert.match(e.message, /in-place-editor/);
    return true;
  });
});

test('attack: an inner plugin edits the array AFTER returning it (after conda-attest checked the digest) → the host still gets the verified bytes', async () => {
  const good = ch.get(fn('good'));
  let edited: Promise<void> | undefined;
  let kept: Uint8Array | undefined;
  const late: CondaInstallerPlugin = {
    name: 'late-editor',
    wrapDownload: (next: DownloadFn): DownloadFn => async (req) => {
      const real = await next(req);
      kept = real.bytes;
      // Edits the bytes it handed on once the outer layers had their turn.
      edited = new Promise((resolve) => setImmediate(() => (real.bytes.fill(0x41), resolve())));
      return real;
    },
  };
  const plugins = composePlugins([await attestPlugin(), late]);
  const out = await plugins.wrapDownload(fetchDownload())({ record: recordFromUrl(good.url) });
  await edited;
  assert.ok(kept!.every((b) => b === 0x41), 'the plugin did edit its array');
  assert.notEqual(out.bytes, kept, 'the host got a copy, not the plugin\'s array');
  assert.equal(out.sha256, good.sha256);
  assert.equal(sha(out.bytes), good.sha256, 'what the host extracts is what conda-attest verified');
});

test('attack: a plugin listed BEFORE conda-attest edits the verified array in place → refused, not handed to the host', async () => {
  const good = ch.get(fn('good'));
  const outer: CondaInstallerPlugin = {
    name: 'outer-editor',
    wrapDownload: (next: DownloadFn): DownloadFn => async (req) => {
      const verified = await next(req);
      verified.bytes[0] ^= 0xff;
      return verified;
    },
  };
  const plugins = composePlugins([outer, await attestPlugin()]);
  await assert.rejects(plugins.wrapDownload(fetchDownload())({ record: recordFromUrl(good.url) }), (e: unknown) => {
    assert.ok(e instanceof PluginError, String(e));
    assert.equal(e.code, 'PLUGIN_BAD_RETURN');
    assert.match(e.message, /outer-editor/);
    return true;
  });
});
