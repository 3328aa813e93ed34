// Configurations validated before (src/config/load.ts, `memo`): a document validated once
// gives the same resolved configuration without the validator; any other document — one
// byte changed, a memo damaged or written without this machine's key — is validated in
// full, and an invalid one is rejected with every failing path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { packageVersion } from '../../src/version.ts';

const CH = 'https://conda.example.org/forge';
const VALID = { channels: { [CH]: { enabled: true, require: 'error', trusted_identities: ['github:forge/*'] } }, concurrency: 4 };
// Two failing paths: an unknown value and a wrong type.
const INVALID = { channels: { [CH]: { enabled: true, require: 'errorx' } }, concurrency: 'four' };

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-config-memo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { HOME: join(dir, 'home'), XDG_STATE_HOME: join(dir, 'state'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_CONFIG_HOME: join(dir, 'config') };
  const file = join(dir, '.conda-attestrc.json');
  const memoFile = join(dir, 'state', 'conda-attest', 'config-checked-v1.json');
  const keyFile = join(dir, 'state', 'conda-attest', 'verdict-cache.key');
  const load = (doc: unknown, memo = true) => {
    writeFileSync(file, JSON.stringify(doc, null, 2));
    return loadConfig({ cwd: dir, configPath: file, env, memo });
  };
  return { dir, env, file, memoFile, keyFile, load };
}

/** The memo's validated forms ([digest, form, MAC]); the strict JSON parse's entries are bare digests. */
function forms(memoFile: string): [string, string, string][] {
  return (JSON.parse(readFileSync(memoFile, 'utf8')) as unknown[]).filter((e): e is [string, string, string] => Array.isArray(e));
}

/** The error a configuration gets from the full validation (no memo at all). */
async function fullError(load: (doc: unknown, memo?: boolean) => Promise<unknown>, doc: unknown): Promise<ConfigError> {
  try {
    await load(doc, false);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e;
  }
  assert.fail('the full validation accepted it');
}

/** What an entry for `doc` claims, under `key`: the text the memo digests, as the source says. */
function forgedEntry(key: Buffer, doc: unknown, validatedForm: unknown): [string, string, string] {
  const schema = createHash('sha256').update(JSON.stringify(configSchema)).digest('hex');
  const mac = (s: string) => createHmac('sha256', key).update(s).digest('hex');
  const digest = mac(`${packageVersion()}\n${schema}\n${JSON.stringify(doc)}`);
  const result = JSON.stringify(validatedForm);
  return [digest, result, mac(`${digest}\n${result}`)];
}

test('a configuration validated before resolves to the same configuration, from the memo', async (t) => {
  const { load, memoFile } = setup(t);
  const fresh = await load(VALID, false);
  assert.equal(existsSync(memoFile), false, 'without `memo` nothing is written');
  const first = await load(VALID);
  assert.ok(existsSync(memoFile), 'the validated document is remembered');
  const entries = forms(memoFile);
  assert.equal(entries.length, 1);
  const second = await load(VALID);
  assert.deepEqual(first, fresh);
  assert.deepEqual(second, fresh, 'same defaults, same resolution');
  assert.equal(forms(memoFile).length, 1, 'a hit adds nothing');
});

test('a configuration changed by one byte is validated again; an invalid one is rejected with every failing path', async (t) => {
  const { load, memoFile } = setup(t);
  await load(VALID);
  const oneByte = { ...VALID, concurrency: 5 };
  assert.equal((await load(oneByte)).concurrency, 5);
  assert.equal(forms(memoFile).length, 2);
  const expected = await fullError(load, INVALID);
  assert.ok(expected.details && (expected.details as string[]).length >= 2, 'the fixture fails on two paths');
  for (let i = 0; i < 2; i++) {
    await assert.rejects(load(INVALID), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.deepEqual(e.details, expected.details, 'every failing path, as without a memo');
      return true;
    });
  }
  assert.equal(forms(memoFile).length, 2, 'an invalid document is never remembered');
});

test('a memo entry made without this machine key cannot make an invalid configuration pass', async (t) => {
  const { load, memoFile, keyFile } = setup(t);
  await load(VALID); // makes the state directory and this machine's key
  const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
  const validForm = await load(VALID).then(() => JSON.parse(forms(memoFile)[0]![1]));
  const expected = await fullError(load, INVALID);

  // An attacker who can write the state directory but not read the key: entries under their own key.
  writeFileSync(memoFile, JSON.stringify([forgedEntry(Buffer.alloc(32, 7), INVALID, validForm)]));
  await assert.rejects(load(INVALID), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID' && JSON.stringify(e.details) === JSON.stringify(expected.details));

  // A plain SHA-256 in place of the MAC (anyone can compute it).
  const [, result] = forgedEntry(key, INVALID, validForm);
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  writeFileSync(memoFile, JSON.stringify([[sha(JSON.stringify(INVALID)), result, sha(result)]]));
  await assert.rejects(load(INVALID), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID');

  // Control: the same construction under the real key is taken, so the entries above were
  // well-formed and were refused for their key alone.
  writeFileSync(memoFile, JSON.stringify([forgedEntry(key, INVALID, validForm)]));
  assert.equal((await load(INVALID)).concurrency, VALID.concurrency);
});

test("an entry's validated form cannot be swapped for another's", async (t) => {
  const { load, memoFile } = setup(t);
  const strict = await load(VALID);
  const lax = { channels: { [CH]: { enabled: false } } };
  await load(lax);
  const entries = forms(memoFile);
  assert.equal(entries.length, 2);
  // The strict config's digest with the lax config's validated form (and its MAC).
  writeFileSync(memoFile, JSON.stringify([[entries[0]![0], entries[1]![1], entries[1]![2]], entries[1]]));
  const again = await load(VALID);
  assert.deepEqual(again, strict, 'validated again, not the swapped form');
  assert.equal(again.channels[0]!.enabled, true);
});

test('a damaged or foreign memo file is ignored: valid configurations load, invalid ones are rejected', async (t) => {
  const { load, memoFile } = setup(t);
  const fresh = await load(VALID, false);
  const expected = await fullError(load, INVALID);
  mkdirSync(join(memoFile, '..'), { recursive: true });
  for (const junk of ['not json', '{"a":1}', '[1, null, ["x"], ["a","b"]]', JSON.stringify([['0'.repeat(64), '{}', '1'.repeat(64)]]), '']) {
    writeFileSync(memoFile, junk);
    assert.deepEqual(await load(VALID), fresh);
    writeFileSync(memoFile, junk);
    await assert.rejects(load(INVALID), (e: unknown) => e instanceof ConfigError && JSON.stringify(e.details) === JSON.stringify(expected.details));
  }
});

test('a damaged entry is replaced by the good one once the configuration is validated again', async (t) => {
  const { load, memoFile } = setup(t);
  await load(VALID);
  const [good] = forms(memoFile);
  writeFileSync(memoFile, JSON.stringify([[good![0], good![1].replace('"concurrency":4', '"concurrency":64'), good![2]]]));
  assert.equal((await load(VALID)).concurrency, 4, 'a payload that does not match its MAC is not used');
  assert.deepEqual(forms(memoFile), [good]);
});

test('a JSON configuration with a duplicate key is refused even beside a memo entry made without the key', async (t) => {
  const { file, env, dir, memoFile, keyFile, load } = setup(t);
  await load(VALID); // the key and the memo exist
  const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
  // The reviewer reads "error"; JSON.parse would keep "warn".
  const text = `{"channels": {"${CH}": {"enabled": true, "require": "error", "require": "warn"}}}`;
  writeFileSync(file, text);
  const loadText = () => loadConfig({ cwd: dir, configPath: file, env, memo: true });
  const refused = (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_PARSE_FAILED' && /require/.test(e.message);
  await assert.rejects(loadText(), refused);
  const entry = (k: Buffer) => createHmac('sha256', k).update(`strict JSON\n${text}`).digest('hex');
  writeFileSync(memoFile, JSON.stringify([entry(Buffer.alloc(32, 5)), createHash('sha256').update(text).digest('hex')]));
  await assert.rejects(loadText(), refused);
  // Control: the same entry under this machine's key is taken (the forged ones were well-formed).
  writeFileSync(memoFile, JSON.stringify([entry(key)]));
  assert.equal((await loadText()).channels[0]!.require, 'warn');
});
