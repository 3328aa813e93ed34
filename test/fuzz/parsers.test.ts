// Properties over every input parser (seeded and bounded here; `npm run fuzz` runs them
// long): environment files (pixi.lock, conda-lock.yml, @EXPLICIT), the identity lockfile,
// configuration documents, duplicate JSON keys, and the configuration search. Each parser either returns well-formed data or throws an
// AttestError with a code and a message — never another exception, never a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { AttestError } from '../../src/errors.ts';
import { parseCondaLock, parseExplicit, parsePixiLock, parseYamlTarget } from '../../src/targets/lockfiles.ts';
import { parseLock, serializeLock } from '../../src/lock/file.ts';
import { loadConfig } from '../../src/config/load.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';
import { findDuplicateKey } from '../../src/util/json-strict.ts';

/** Throws unless `e` is one of the product's errors with a code and a one-line message. */
function expectAttestError(e: unknown): void {
  assert.ok(e instanceof AttestError, `not an AttestError: ${e instanceof Error ? e.stack : String(e)}`);
  assert.match(e.code, /^[A-Z0-9_]+$/);
  assert.ok(e.message.length > 0);
}

const SHA = 'a'.repeat(64);
const url = fc.oneof(
  fc.constantFrom(
    'https://prefix.dev/conda-forge/linux-64/numpy-1.24.3-py310h5f9d8e6_0.conda',
    'https://conda.anaconda.example/main/noarch/six-1.16.0-pyhd3eb1b0_1.tar.bz2',
    'https://prefix.dev/conda-forge/linux-64\\..\\..\\other/linux-64/x-1-0.conda',
    'https://prefix.dev/conda-forge/.\t./x/linux-64/x-1-0.conda',
  ),
  hostileString(60),
  fc.tuple(fc.constantFrom('https://h', 'http://127.0.0.1:1', 'HTTPS://H'), fc.array(fc.constantFrom('ch', 'linux-64', 'noarch', '..', '%2e', 'a\\b', ''), { maxLength: 3 }), fc.constantFrom('x-1-0.conda', 'y-2-h_0.tar.bz2', 'z.zip')).map(([o, p, f]) => [o, ...p, f].join('/')),
);
const value = fc.oneof(url, fc.jsonValue({ maxDepth: 2 }), fc.constant(SHA), fc.constant(null));
const pkg = fc.record(
  { conda: value, url: value, kind: fc.constantFrom('conda', 'pypi', 42), sha256: value, md5: value, size: fc.oneof(fc.nat(), value), hash: fc.record({ sha256: value, md5: value }, { requiredKeys: [] }), manager: fc.constantFrom('conda', 'pip'), platform: value, name: value, version: value },
  { requiredKeys: [] },
);

test('property: environment files (pixi.lock, conda-lock.yml, @EXPLICIT) parse or fail with a code', async (t) => {
  await checkProperty(
    t,
    'environment files',
    [fc.constantFrom(4, 5, 6, 7, '6', null), fc.array(pkg, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), fc.array(fc.oneof(url, hostileString(30)), { maxLength: 5 }), fc.string({ maxLength: 60 })],
    (version, packages, envs, lines, junk) => {
      const docs: [string, (d: unknown) => unknown][] = [
        [toYaml({ version, environments: { default: { channels: [{ url: 'https://prefix.dev/conda-forge' }], packages: { 'linux-64': packages.map((p) => ({ conda: p.conda })) } } }, packages }), (d) => parsePixiLock(d, 'pixi.lock')],
        [toYaml({ version, environments: envs, packages }), (d) => parsePixiLock(d, 'pixi.lock')],
        [toYaml({ version: 1, package: packages, metadata: envs }), (d) => parseCondaLock(d, 'conda-lock.yml')],
        [junk, (d) => parsePixiLock(d, 'pixi.lock')],
      ];
      for (const [text, parse] of docs) {
        try {
          const records = parse(parseYamlTarget(text, 'env')) as { url: string }[];
          for (const r of records) assert.equal(typeof r.url, 'string');
        } catch (e) {
          expectAttestError(e);
        }
      }
      try {
        parseExplicit(`@EXPLICIT\n${lines.map((l, i) => (i % 2 ? `${l}#${SHA}` : l)).join('\n')}\n`, 'explicit.txt');
      } catch (e) {
        expectAttestError(e);
      }
    },
    { runs: 100 },
  );
});

const identity = fc.record(
  { kind: fc.constantFrom('github', 'gitlab', 'email', 'uri', 'key', 'x'), issuer: value, repository: value, repository_id: value, workflow: value, uri: value, email: value, key_fingerprint: value, key_name: value },
  { requiredKeys: ['kind'] },
);
const seen = fc.oneof(fc.record({ version: value, date: fc.oneof(fc.constant('2026-01-01'), value) }), value);

test('property: identity lockfiles parse (and round-trip) or fail with a code', async (t) => {
  await checkProperty(
    t,
    'identity lockfile',
    [fc.constantFrom(1, 2, '1', null), fc.dictionary(hostileString(20), fc.dictionary(hostileString(12), fc.record({ identities: fc.oneof(fc.array(identity, { maxLength: 3 }), value), first_seen: seen, last_seen: seen }, { requiredKeys: [] }), { maxKeys: 3 }), { maxKeys: 3 }), fc.nat(20)],
    (version, channels, cut) => {
      const text = JSON.stringify({ version, channels }, null, 2);
      for (const t of [text, text.slice(0, text.length - cut)]) {
        try {
          const lock = parseLock(t, 'conda-attest.lock');
          // Whatever parses is written back byte-stably.
          const out = serializeLock(lock);
          assert.equal(serializeLock(parseLock(out, 'again')), out);
        } catch (e) {
          expectAttestError(e);
        }
      }
    },
    { runs: 100 },
  );
});

// Deny entries: every form, mixed forms, specs and dates that do not parse (incident response).
const denyEntry = fc.record(
  {
    sha256: fc.oneof(fc.constant('AB'.repeat(32)), value),
    package: fc.oneof(fc.constantFrom('libfoo*', 'NumPy'), value),
    versions: fc.oneof(fc.constantFrom('>=1.2,<1.3', '1.2.*', '>=', '((1', '*', '==1.0|'), hostileString(20)),
    identity: fc.oneof(fc.constantFrom('github:a/b', 'github:a', 're:(', 'https://github.com/**'), hostileString(30)),
    signed_after: fc.oneof(fc.constantFrom('2026-03-01', '2026-02-30', '2026-03-01T25:00:00Z', '2026-03-01T10:00+01:00'), value),
    signed_before: fc.oneof(fc.constant('2026-03-02'), value),
    reason: fc.oneof(fc.constant('advisory'), value),
  },
  { requiredKeys: [] },
);
const deny = fc.oneof(fc.array(denyEntry, { maxLength: 3 }), value);

const policy = fc.record(
  { deny, enabled: fc.oneof(fc.boolean(), value), require: fc.constantFrom('error', 'warn', 'ignore', 'fatal', null), trusted_identities: fc.oneof(fc.array(fc.oneof(hostileString(30), fc.record({ identity: value, issuer: value })), { maxLength: 2 }), value), mirrors: fc.oneof(fc.array(url, { maxLength: 2 }), value), discovery: fc.oneof(fc.constant(['repodata']), value) },
  { requiredKeys: [] },
);

test('property: configuration documents resolve or fail with a code (null and non-mappings included)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ca-fuzz-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  await checkProperty(
    t,
    'config documents',
    [fc.oneof(fc.record({ channels: fc.dictionary(url, policy, { maxKeys: 2 }), default: policy, deny, concurrency: value, max_sidecar_bytes: value, http: value }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 3 })), fc.boolean()],
    async (doc, asYaml) => {
      try {
        const c = resolveConfig(doc, dir, 'mem', { env: {} });
        assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), 'only a mapping can resolve');
        assert.equal(typeof c.default.enabled, 'boolean');
        // A deny entry that resolves has a reason and exactly one form.
        for (const d of [...c.deny, ...c.channels.flatMap((p) => p.deny ?? [])]) {
          assert.ok(typeof d.reason === 'string' && d.reason.length > 0);
          assert.equal(['sha256', 'package', 'identity'].filter((k) => k in d).length, 1, JSON.stringify(d));
        }
      } catch (e) {
        expectAttestError(e);
      }
      // Through the file loader too (a few cases: it touches the disk).
      if (n++ % 10 === 0) {
        const file = join(dir, `c${n}${asYaml ? '.yaml' : '.json'}`);
        writeFileSync(file, asYaml ? toYaml(doc) : JSON.stringify(doc));
        try {
          await loadConfig({ cwd: dir, configPath: file, env: {}, stopDir: dir });
          assert.ok(typeof doc === 'object' && doc !== null && !Array.isArray(doc), 'only a mapping can load');
        } catch (e) {
          expectAttestError(e);
        }
      }
    },
    { runs: 80 },
  );
});

// --- duplicate keys: JSON a person reviews (src/util/json-strict.ts) --------------------------

/**
 * A JSON text built from a tree of objects whose key lists are generated, so whether a key
 * repeats in one object is known (the model); keys are written in random escaped spellings
 * (`"a"`, `"\u0061"`), with random whitespace.
 */
type Tree = { keys: string[]; children: (Tree | number)[] };
const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc
    .array(fc.tuple(fc.constantFrom('a', 'b', 'version', 'channels', '__proto__', 'é', '\u0000', '"'), fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.nat(9), tie('tree'))), { maxLength: 4 })
    .map((pairs) => ({ keys: pairs.map(([k]) => k), children: pairs.map(([, v]) => v) })),
})).tree;

function spell(key: string, escapeAll: boolean): string {
  if (!escapeAll) return JSON.stringify(key);
  return `"${[...key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;
}

function render(t: Tree | number, ws: string, escapes: boolean[], i = { n: 0 }): string {
  if (typeof t === 'number') return String(t);
  const parts = t.keys.map((k, j) => `${ws}${spell(k, escapes[i.n++ % escapes.length] ?? false)}${ws}:${ws}${render(t.children[j]!, ws, escapes, i)}`);
  return `{${parts.join(',')}${ws}}`;
}

function hasDuplicate(t: Tree | number): boolean {
  if (typeof t === 'number') return false;
  return new Set(t.keys).size !== t.keys.length || t.children.some(hasDuplicate);
}

test('property: duplicate JSON keys are found exactly when the model has one (any escaping, any whitespace); a lockfile with one is LOCK_CORRUPT naming the key', async (t) => {
  await checkProperty(
    t,
    'duplicate keys',
    [treeArb, fc.constantFrom('', ' ', '\n', '\t\r\n  '), fc.array(fc.boolean(), { minLength: 1, maxLength: 5 })],
    (tree, ws, escapes) => {
      const text = render(tree, ws, escapes);
      JSON.parse(text); // the rendering is valid JSON
      const found = findDuplicateKey(text);
      assert.equal(found !== undefined, hasDuplicate(tree), text);
      if (found) {
        assert.ok(found.line >= 1 && found.line <= text.split('\n').length);
        // As a lockfile document: refused, naming the key, before the schema is consulted.
        const lock = `{"version":1,"channels":{"https://c.example/x":${text}}}`;
        assert.throws(() => parseLock(lock, 'fuzz.lock'), (e: unknown) => e instanceof AttestError && e.code === 'LOCK_CORRUPT' && e.message.includes(JSON.stringify(found.key)));
      }
    },
    { runs: 200 },
  );
});

// --- where the configuration comes from (src/config/load.ts) ---------------------------------

const DATA_FILES = ['.conda-attestrc', '.conda-attestrc.json', '.conda-attestrc.yaml', '.conda-attestrc.yml', 'package.json'] as const;
const CODE_FILES = ['conda-attest.config.js', 'conda-attest.config.mjs', 'conda-attest.config.cjs', 'conda-attest.config.ts'] as const;
const OTHER_FILES = ['.config/config.yaml', '.config/config.mjs', 'package.yaml', 'conda-attest.config.json', '.conda-attestrc.toml'] as const;

test('property: the config search picks the nearest directory with a config, up to the git root or $HOME, and refuses two files or a module there', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ca-fuzz-search-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  // Levels: 0 = the start directory, 3 = the top. Per level: the files in it, and whether it holds `.git`.
  const level = fc.record({ files: fc.subarray([...DATA_FILES, ...CODE_FILES, ...OTHER_FILES], { maxLength: 3 }), git: fc.boolean() });
  await checkProperty(
    t,
    'config search',
    [fc.array(level, { minLength: 4, maxLength: 4 }), fc.constantFrom(-1, 0, 1, 2, 3)],
    async (levels, homeLevel) => {
      const top = join(base, `s${++n}`);
      const dirs = [3, 2, 1, 0].map((k) => join(top, ...Array.from({ length: 3 - k }, (_, i) => `d${i}`)));
      const dirAt = (k: number): string => dirs[3 - k]!;
      for (let k = 0; k < 4; k++) {
        const dir = dirAt(k);
        mkdirSync(join(dir, '.config'), { recursive: true });
        if (levels[k]!.git) mkdirSync(join(dir, '.git'));
        for (const f of levels[k]!.files) {
          // Every JS/TS file, if it ever ran, would leave a marker; the documented ones carry a policy.
          const body = f.endsWith('js') || f.endsWith('.ts') ? `require('node:fs').writeFileSync(${JSON.stringify(join(top, 'ran'))}, '1'); module.exports = {};` : f === 'package.json' ? JSON.stringify({ name: 'x', 'conda-attest': { concurrency: k + 1 } }) : `{"concurrency": ${k + 1}}`;
          writeFileSync(join(dir, f), f.endsWith('.mjs') || f.endsWith('.ts') || f.endsWith('.js') ? body.replace("require('node:fs').writeFileSync", "(await import('node:fs')).writeFileSync").replace('module.exports =', 'export default') : body);
        }
      }
      const home = homeLevel < 0 ? join(base, 'elsewhere') : dirAt(homeLevel);
      // The model: levels read = 0..first boundary (git or $HOME); with none, level 0 alone.
      let last = -1;
      for (let k = 0; k < 4 && last < 0; k++) if (levels[k]!.git || k === homeLevel) last = k;
      const read = last < 0 ? [0] : Array.from({ length: last + 1 }, (_, k) => k);
      let want: { code: string } | { concurrency: number } | { none: true } = { none: true };
      for (const k of read) {
        const docs = levels[k]!.files.filter((f) => (DATA_FILES as readonly string[]).includes(f) || (CODE_FILES as readonly string[]).includes(f));
        if (docs.length === 0) continue;
        want = docs.length > 1 ? { code: 'CONFIG_AMBIGUOUS' } : (CODE_FILES as readonly string[]).includes(docs[0]!) ? { code: 'CONFIG_CODE_NOT_LOADED' } : { concurrency: k + 1 };
        break;
      }
      try {
        const c = await loadConfig({ cwd: dirAt(0), env: { HOME: home, XDG_CONFIG_HOME: join(base, 'no-xdg') } });
        if ('none' in want) assert.equal(c.source, undefined);
        else assert.deepEqual({ concurrency: c.concurrency }, want);
      } catch (e) {
        expectAttestError(e);
        assert.deepEqual({ code: (e as AttestError).code }, want);
      }
      assert.equal(existsSync(join(top, 'ran')), false, 'no configuration module ran');
    },
    { runs: 40 },
  );
});
