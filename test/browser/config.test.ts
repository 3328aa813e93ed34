// The config object given to the browser plugin is checked by the same schema and rules as
// under Node, with the same codes and lines: each case goes through createCondaAttestPlugin
// in the bundled build in Chromium and through resolveBrowserConfig unbundled under Node,
// and both answers must be the same. The bundle's validators are generated at bundle time
// (scripts/bundle-browser.ts), so this is also the check that they agree with src/generated/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveBrowserConfig } from '../../src/browser/index.ts';
import { type BrowserPage, browserSkip, openPage } from './harness.ts';

const skip = browserSkip();
const CH = 'https://repo.example.org/my-channel';
const PEM = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----';

const CASES: Record<string, unknown> = {
  'empty config': {},
  'a valid policy': { channels: { [CH]: { require: 'error', trusted_identities: ['github:my-org/my-feedstock'] } }, default: { require: 'warn' } },
  'unknown top-level key (did you mean)': { chanels: {} },
  'unknown policy key (did you mean)': { channels: { [CH]: { trusted_identitie: [] } } },
  'enum value misspelt': { channels: { [CH]: { require: 'errror' } } },
  'wrong types': { default: { require_tlog: 'yes', trusted_identities: 'github:x/y' }, concurrency: 'many' },
  'number out of range': { concurrency: 0, deadline_ms: -5, trust_root_max_age_days: -1 },
  'channel key that is not a URL': { channels: { 'not a url': { require: 'error' } } },
  'trusted key given twice (oneOf)': { channels: { [CH]: { trusted_keys: [{ pem: PEM, key: PEM }] } } },
  'identity object with unknown keys': { channels: { [CH]: { trusted_identities: [{ san: 'x', colour: 'blue' }] } } },
  'file-naming keys refused in the browser': { lockfile: 'conda-attest.lock', cache_dir: '/tmp', trust_root: './root.json', $import: ['a.yml'] },
  'deny entries': { deny: [{ sha256: 'zz' }, { name: 'x', versions: '>=1' }, { bogus: true }] },
  'many problems at once': { default: { require: 1, enabled: 'no', mirrors: 5 }, channels: { [CH]: { packages: { '*': { require: 'never' } } } }, http: { bogus: 1 } },
  'not an object': ['a', 'b'],
};

let b: BrowserPage;
before(async () => {
  if (!skip) b = await openPage();
});
after(() => b?.close());

type Answer = { ok: true } | { code: string; message: string; hint?: string; details?: unknown };

function nodeAnswer(config: unknown): Answer {
  try {
    resolveBrowserConfig(structuredClone(config));
    return { ok: true };
  } catch (e) {
    const x = e as { code: string; message: string; hint?: string; details?: unknown };
    return { code: x.code, message: x.message, hint: x.hint, details: x.details };
  }
}

test('the browser plugin answers every config case exactly as the unbundled resolver under Node (codes, lines, hints)', { skip }, async () => {
  const inPage = await b.page.evaluate(async (cases) => {
    const m = await import(String('/conda-attest.js'));
    const out: Record<string, unknown> = {};
    for (const [name, config] of Object.entries(cases)) {
      try {
        m.createCondaAttestPlugin({ config });
        out[name] = { ok: true };
      } catch (e) {
        const x = e as { code: string; message: string; hint?: string; details?: unknown };
        out[name] = { code: x.code, message: x.message, hint: x.hint, details: x.details };
      }
    }
    return out;
  }, CASES);
  let refused = 0;
  for (const [name, config] of Object.entries(CASES)) {
    const expected = nodeAnswer(config);
    assert.deepEqual(inPage[name], JSON.parse(JSON.stringify(expected)), `${name}: the page and Node disagree`);
    if ('code' in expected) {
      refused++;
      assert.equal(expected.code, 'CONFIG_INVALID', `${name}: ${expected.message}`);
    }
  }
  assert.equal(refused, Object.keys(CASES).length - 2, 'every case but the two valid ones is refused');
});
