// trusted_keys entries: a PEM or a path as a string, or an object with exactly
// one of key / path / pem and an optional name; every broken entry is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/validator.ts';
import { ConfigError } from '../../src/errors.ts';

const CH = 'https://conda.example.com/internal';
const pub = (type: 'ec' | 'ed25519' | 'rsa') =>
  (type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519')
  ).publicKey.export({ type: 'spki', format: 'pem' }) as string;

test('string, {key}, {path} and {pem} forms all load, with names', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c, d] = [pub('ec'), pub('rsa'), pub('ed25519'), pub('ec')];
  writeFileSync(join(dir, 'b.pem'), b);
  writeFileSync(join(dir, 'c.pem'), c);
  const config = resolveConfig(
    { channels: { [CH]: { trusted_keys: [a, { key: 'b.pem', name: 'rsa-2024' }, { path: 'c.pem', name: 'ed' }, { pem: d, name: 'inline' }] } } },
    dir,
  );
  const keys = config.channels.find((p) => p.channel === CH)!.trustedKeys;
  assert.equal(keys.length, 4);
  assert.deepEqual(keys.map((k) => k.name ?? null), [null, 'rsa-2024', 'ed', 'inline']);
  assert.deepEqual(keys.map((k) => k.source.endsWith('.pem') ? 'file' : k.source), ['inline', 'file', 'file', 'inline']);
  for (const k of keys) assert.match(k.pem, /^-----BEGIN PUBLIC KEY-----/);
});

test('objects with none or several of key/path/pem, and a pem that is not PEM, are each reported', () => {
  try {
    resolveConfig({ channels: { [CH]: { trusted_keys: [{ name: 'only' }, { key: 'a.pem', path: 'a.pem' }, { pem: 'not a pem' }] } } }, tmpdir());
    assert.fail('must throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const lines = e.details as string[];
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0]!, /trusted_keys\[0\]: must have exactly one of key, path, pem/);
    assert.match(lines[1]!, /trusted_keys\[1\]: must have exactly one of key, path, pem/);
    assert.match(lines[2]!, /trusted_keys\[2\]\.pem: must be a PEM public key/);
  }
});

test('attack: a path that names an inline-looking string is read as a file, never as PEM text', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(
    () => resolveConfig({ channels: { [CH]: { trusted_keys: [{ path: pub('ec') }] } } }, dir),
    (e: unknown) => e instanceof ConfigError && /cannot read key file/.test(String((e.details as string[])[0])),
  );
});
