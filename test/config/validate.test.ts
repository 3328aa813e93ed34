import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../src/config/load.ts';
import { resolveConfig } from '../../src/config/validator.ts';
import { ConfigError } from '../../src/errors.ts';
import { keyFingerprint } from '../../src/policy/identity.ts';

const GH = 'https://token.actions.githubusercontent.com';

/** The example configuration of the original policy specification, verbatim. */
const ISSUE_EXAMPLE = `trust_root: public-good          # or a path to a trusted_root.json
lockfile: conda-attest.lock      # identity lockfile (used by the TOFU issue)
max_sidecar_bytes: 10485760
default:                         # applies to channels not listed below
  enabled: false
channels:
  "https://prefix.dev/conda-forge":          # canonical channel URL (no trailing slash)
    enabled: true
    require: error                          # error | warn | ignore
    trusted_identities:
      - identity: "https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main"
        issuer: "https://token.actions.githubusercontent.com"
    mirrors: ["https://mirror.example.org/conda-forge"]   # URLs that serve this channel
    discovery: [repodata, sigs, v0-sigs]    # sidecar discovery methods, in order
`;

/** Run fn expecting a ConfigError with this code; return its detail lines. */
function failLines(fn: () => unknown, code = 'CONFIG_INVALID'): string[] {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.hint);
  assert.ok(Array.isArray(caught.details));
  return caught.details as string[];
}

test('the schema has a $id, forbids unknown keys and describes every property', () => {
  const s = configSchema as Record<string, unknown>;
  assert.equal(s.$id, 'https://conda-attest.dev/schema/config.schema.json');
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  const undocumented: string[] = [];
  const open: string[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}[${i}]`));
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.properties && typeof o.properties === 'object') {
      for (const [k, v] of Object.entries(o.properties as Record<string, unknown>)) {
        if (typeof (v as { description?: unknown }).description !== 'string') undocumented.push(`${where}.${k}`);
      }
      // An `if` is a condition over the data, not a shape: it need not close its object.
      if (o.additionalProperties !== false && !o.$ref && !where.endsWith('/if')) open.push(where);
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'default') walk(v, `${where}/${k}`);
  };
  walk(s, '#');
  assert.deepEqual(undocumented, []);
  assert.deepEqual(open, []);
});

test('the issue example (YAML, verbatim) is accepted and resolved', () => {
  const c = resolveConfig(parseYaml(ISSUE_EXAMPLE), '/proj', '/proj/.conda-attestrc.yaml', { env: { HOME: '/home/u' } });
  assert.equal(c.source, '/proj/.conda-attestrc.yaml');
  assert.equal(c.trustRoot, 'public-good');
  assert.equal(c.lockfile, '/proj/conda-attest.lock');
  assert.equal(c.maxSidecarBytes, 10485760);
  assert.equal(c.default.enabled, false);
  assert.equal(c.channels.length, 1);
  const cf = c.channels[0];
  assert.equal(cf.channel, 'https://prefix.dev/conda-forge');
  assert.equal(cf.enabled, true);
  assert.equal(cf.require, 'error');
  assert.deepEqual(cf.trustedIdentities, [
    { identity: 'https://github.com/conda-forge/*-feedstock/.github/workflows/*.yml@refs/heads/main', issuer: GH },
  ]);
  assert.deepEqual(cf.mirrors, ['https://mirror.example.org/conda-forge']);
  assert.deepEqual(cf.discovery, ['repodata', 'sigs', 'v0-sigs']);
  assert.equal(cf.requireTlog, true);
  assert.equal(c.cacheDir, '/home/u/.cache/conda-attest');
});

test('defaults come from the schema: unlisted channels off, listed channels on and fail closed', () => {
  const c = resolveConfig({ channels: { 'https://a.example/ch': {} } }, '/base', undefined, { env: { XDG_CACHE_HOME: '/xdg' } });
  assert.equal(c.source, undefined);
  assert.equal(c.default.enabled, false);
  assert.equal(c.default.require, 'error');
  assert.equal(c.default.channel, 'default');
  const p = c.channels[0];
  assert.equal(p.enabled, true);
  assert.equal(p.require, 'error');
  assert.deepEqual(p.trustedIdentities, []);
  assert.deepEqual(p.trustedKeys, []);
  assert.equal(p.requireTlog, true);
  assert.deepEqual(p.discovery, ['repodata', 'sigs', 'v0-sigs']);
  assert.deepEqual(c.http, { connectTimeoutMs: 10000, totalTimeoutMs: 120000, idleTimeoutMs: 30000, retries: 2 });
  assert.equal(c.deadlineMs, 3_600_000);
  assert.equal(c.concurrency, 8);
  assert.equal(c.cacheDir, '/xdg/conda-attest');
  // A relative XDG_CACHE_HOME is invalid per the XDG spec and ignored.
  assert.equal(resolveConfig({}, '/b', undefined, { env: { XDG_CACHE_HOME: 'rel', HOME: '/h' } }).cacheDir, '/h/.cache/conda-attest');
  // No document (undefined) = empty configuration; a null document is not a mapping.
  assert.equal(resolveConfig(undefined, '/b').default.enabled, false);
  assert.throws(() => resolveConfig(null, '/b'), (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID');
});

test('every field is accepted and resolved; relative paths against the config directory', () => {
  const raw = {
    $schema: 'https://conda-attest.dev/schema/config.schema.json',
    trust_root: 'roots/trusted_root.json',
    lockfile: '../locks/x.lock',
    max_sidecar_bytes: 2048,
    cache_dir: '~/cache',
    concurrency: 3,
    http: { connect_timeout_ms: 1, timeout_ms: 2, idle_timeout_ms: 3, retries: 0 },
    deadline_ms: 4,
    default: { enabled: true, require: 'ignore', require_tlog: false, discovery: ['sigs'] },
    channels: {
      'HTTPS://Prefix.DEV/conda-forge/': {
        enabled: false,
        require: 'warn',
        trusted_identities: ['https://github.com/org/*', 'https://gitlab.com/group/**', { identity: 're:.*@example\\.org', issuer: 'https://accounts.google.com' }],
        mirrors: ['https://m2.example/cf/', 'https://m1.example/cf'],
        discovery: ['v0-sigs', 'repodata'],
      },
    },
  };
  const before = JSON.stringify(raw);
  const c = resolveConfig(raw, '/etc/proj', '/etc/proj/c.json', { env: { HOME: '/home/u' } });
  assert.equal(JSON.stringify(raw), before, 'the caller’s data is not mutated by defaulting');
  assert.equal(c.trustRoot, '/etc/proj/roots/trusted_root.json');
  assert.equal(c.lockfile, '/etc/locks/x.lock');
  assert.equal(c.maxSidecarBytes, 2048);
  assert.equal(c.cacheDir, '/home/u/cache');
  assert.equal(c.concurrency, 3);
  assert.deepEqual(c.http, { connectTimeoutMs: 1, totalTimeoutMs: 2, idleTimeoutMs: 3, retries: 0 });
  assert.equal(c.deadlineMs, 4);
  assert.equal(c.default.enabled, true);
  assert.equal(c.default.require, 'ignore');
  assert.equal(c.default.requireTlog, false);
  assert.deepEqual(c.default.discovery, ['sigs']);
  const p = c.channels[0];
  assert.equal(p.channel, 'https://prefix.dev/conda-forge');
  assert.equal(p.enabled, false);
  assert.equal(p.require, 'warn');
  assert.deepEqual(p.trustedIdentities, [
    { identity: 'https://github.com/org/*', issuer: GH },
    { identity: 'https://gitlab.com/group/**', issuer: 'https://gitlab.com' },
    { identity: 're:.*@example\\.org', issuer: 'https://accounts.google.com' },
  ]);
  assert.deepEqual(p.mirrors, ['https://m1.example/cf', 'https://m2.example/cf']);
  assert.deepEqual(p.discovery, ['v0-sigs', 'repodata']);
});

test('three errors → three lines, each `<path>: <what> — <fix>`', () => {
  const lines = failLines(() =>
    resolveConfig({ channels: { 'https://x.example/c': { require: 'fatal', enabled: 'yes' } }, concurrency: 0 }, '/b'),
  );
  assert.deepEqual(lines, [
    'channels["https://x.example/c"].enabled: must be a boolean — write true or false',
    'channels["https://x.example/c"].require: must be one of error, warn, ignore — set it to "error" to block unverified packages (or "warn" to only report them)',
    'concurrency: must be at least 1 — use a value >= 1 (default 8)',
  ]);
});

test('unknown keys are errors and name the closest known key (typos must not weaken security)', () => {
  const lines = failLines(() =>
    resolveConfig(
      {
        requir: 'error',
        http: { timeout: 5 },
        default: { enable: true },
        channels: { 'https://x.example/c': { trusted_identites: [], zzzzzz: 1, trusted_identities: [{ identity: 'a', issuer: 'https://b.example', repo: 'c' }] } },
      },
      '/b',
    ),
  );
  assert.equal(lines.length, 6, lines.join('\n'));
  const has = (re: RegExp): void => assert.ok(lines.some((l) => re.test(l)), `${re} in\n${lines.join('\n')}`);
  has(/^requir: unknown key .*"require" is a channel setting: put it under default \(unlisted channels\) or channels\["<channel URL>"\]$/);
  has(/^http\.timeout: unknown key .*did you mean "timeout_ms"\?/);
  has(/^default\.enable: unknown key .*did you mean "enabled"\?/);
  has(/^channels\["https:\/\/x\.example\/c"\]\.trusted_identites: unknown key .*did you mean "trusted_identities"\?/);
  has(/^channels\["https:\/\/x\.example\/c"\]\.zzzzzz: unknown key .*remove it; known keys here: enabled, require/);
  has(/^channels\["https:\/\/x\.example\/c"\]\.trusted_identities\[0\]\.repo: unknown key .*did you mean "repository_id"\?/);
});

test('identity entries: a bare string needs a GitHub/GitLab SAN; objects need an issuer; re: must compile', () => {
  const lines = failLines(() =>
    resolveConfig(
      {
        channels: {
          'https://x.example/c': {
            trusted_identities: [
              'https://evil.example/github.com/x', // issuer cannot be inferred
              'https://github.com.evil.example/x', // look-alike host
              { identity: 'https://x' },
              { identity: 're:x)|(.*', issuer: GH }, // would unanchor the pattern
              42,
            ],
          },
        },
      },
      '/b',
    ),
  );
  assert.equal(lines.length, 5, lines.join('\n'));
  assert.match(lines[0], /trusted_identities\[0\]: a bare string identity must be an https:\/\/github\.com\/… or https:\/\/gitlab\.com\/… SAN/);
  assert.match(lines[1], /trusted_identities\[1\]: a bare string identity/);
  assert.match(lines[2], /trusted_identities\[2\]\.issuer: is required — add issuer/);
  assert.match(lines[3], /trusted_identities\[3\]\.identity: .*not a valid regular expression/);
  assert.match(lines[4], /trusted_identities\[4\]: must be a mapping/);
});

test('channel URLs: non-http keys, duplicates after normalisation, query strings', () => {
  const lines = failLines(() =>
    resolveConfig(
      {
        channels: {
          'ftp://x.example/c': {},
          'conda-forge': {},
          'https://a.example/c': {},
          'HTTPS://A.example/c/': {},
          'https://b.example/c?token=1': {},
        },
      },
      '/b',
    ),
  );
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('channels["ftp://x.example/c"]: a channel key must be an http:// or https:// URL')));
  assert.ok(lines.some((l) => l.startsWith('channels["conda-forge"]: a channel key must be')));
  assert.ok(lines.some((l) => /^channels\["(HTTPS:\/\/A\.example\/c\/|https:\/\/a\.example\/c)"\]: is the same channel as/.test(l)));
  assert.ok(lines.some((l) => l.startsWith('channels["https://b.example/c?token=1"]: ') && /query or fragment/.test(l)));
});

test('mirrors: one channel per mirror, a mirror is not a channel, none in default, http(s) only', () => {
  const lines = failLines(() =>
    resolveConfig(
      {
        default: { mirrors: ['https://m.example/x'] },
        channels: {
          'https://a.example/c': { mirrors: ['https://m.example/shared', 'https://b.example/c', 'file:///srv/c'] },
          'https://b.example/c': { mirrors: ['https://M.example/shared/'] },
        },
      },
      '/b',
    ),
  );
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.ok(lines.some((l) => /^channels\["https:\/\/a\.example\/c"\]\.mirrors\[1\]: "https:\/\/b\.example\/c" is itself a configured channel/.test(l)));
  assert.ok(lines.some((l) => /^channels\["https:\/\/a\.example\/c"\]\.mirrors\[2\]: must be an http\(s\) URL/.test(l)));
  assert.ok(lines.some((l) => /^channels\["https:\/\/b\.example\/c"\]\.mirrors\[0\]: .* is already a mirror of channels\["https:\/\/a\.example\/c"\]/.test(l)));
  assert.ok(lines.some((l) => /^default\.mirrors: mirrors need a canonical channel/.test(l)));
});

test('types, enums, ranges, duplicates and the root', () => {
  const lines = failLines(() =>
    resolveConfig(
      {
        trust_root: '',
        lockfile: 7,
        max_sidecar_bytes: 1.5,
        http: { retries: 99 },
        channels: { 'https://a.example/c': { discovery: ['sigs', 'sigs', 'oci'], require_tlog: 'no', trusted_keys: [{ name: 'k' }] } },
      },
      '/b',
    ),
  );
  const expect = [
    /^channels\["https:\/\/a\.example\/c"\]\.discovery: lists "sigs" more than once — remove the duplicate$/,
    /^channels\["https:\/\/a\.example\/c"\]\.discovery\[2\]: must be one of repodata, sigs, v0-sigs — use repodata, sigs or v0-sigs$/,
    /^channels\["https:\/\/a\.example\/c"\]\.require_tlog: must be a boolean/,
    /^channels\["https:\/\/a\.example\/c"\]\.trusted_keys\[0\]: must have exactly one of key, path, pem/,
    /^http\.retries: must be at most 10/,
    /^lockfile: must be a string/,
    /^max_sidecar_bytes: must be an integer/,
    /^trust_root: must not be empty/,
  ];
  assert.equal(lines.length, expect.length, lines.join('\n'));
  expect.forEach((re, i) => assert.match(lines[i], re));
  assert.deepEqual(failLines(() => resolveConfig([1, 2], '/b')), [
    '(config): must be a mapping — write a mapping of keys to values',
  ]);
  assert.deepEqual(failLines(() => resolveConfig('channels: {}', '/b')).length, 1);
});

test('trusted keys: inline PEM, file paths (relative to the config), PKCS#1 RSA, names, fingerprints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ca-keys-'));
  try {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    writeFileSync(join(dir, 'ed.pem'), ed);
    writeFileSync(join(dir, 'rsa.pem'), rsa.export({ type: 'pkcs1', format: 'pem' }).toString());
    const c = resolveConfig(
      { default: { trusted_keys: [ec, { key: 'ed.pem', name: 'release' }, 'rsa.pem', ec] } },
      dir,
    );
    const keys = c.default.trustedKeys;
    assert.equal(keys.length, 3, 'the duplicate inline key is dropped');
    assert.equal(keys[0].source, 'inline');
    assert.equal(keys[0].fingerprint, keyFingerprint(ec));
    assert.equal(keys[1].source, join(dir, 'ed.pem'));
    assert.equal(keys[1].name, 'release');
    assert.equal(keys[1].fingerprint, keyFingerprint(ed));
    // PKCS#1 is normalised to SPKI PEM; the fingerprint is over the SPKI DER.
    assert.match(keys[2].pem, /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(keys[2].fingerprint, keyFingerprint(rsa.export({ type: 'spki', format: 'pem' }).toString()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trusted keys that cannot be used → CONFIG_KEY_INVALID naming every entry; private keys refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ca-keys-'));
  try {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'garbage.pem'), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
    writeFileSync(join(dir, 'private.pem'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const lines = failLines(
      () =>
        resolveConfig(
          {
            default: { trusted_keys: ['missing.pem'] },
            channels: { 'https://a.example/c': { trusted_keys: ['garbage.pem', { key: 'private.pem', name: 'oops' }] } },
          },
          dir,
        ),
      'CONFIG_KEY_INVALID',
    );
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0], /^channels\["https:\/\/a\.example\/c"\]\.trusted_keys\[0\]: .*garbage\.pem is not a PEM public key/);
    assert.match(lines[1], /^channels\["https:\/\/a\.example\/c"\]\.trusted_keys\[1\]: .*private\.pem is a PRIVATE key/);
    assert.match(lines[2], /^default\.trusted_keys\[0\]: cannot read key file .*missing\.pem \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trust_root: a near miss of public-good is a typo with a did-you-mean; an issuer must be a URL', () => {
  const typo = failLines(() => resolveConfig({ trust_root: 'public-goood' }, '/b'));
  assert.deepEqual(typo, ['trust_root: "public-goood" is neither public-good nor a trusted_root.json path — did you mean "public-good"?']);
  // Paths are paths, even short ones.
  assert.equal(resolveConfig({ trust_root: './public-good.json' }, '/b').trustRoot, '/b/public-good.json');
  const issuer = failLines(() =>
    resolveConfig({ channels: { 'https://x.example/c': { trusted_identities: [{ identity: 'https://github.com/o/r/**', issuer: 'github-actions' }] } } }, '/b'),
  );
  assert.equal(issuer.length, 1, issuer.join('\n'));
  assert.match(issuer[0]!, /^channels\["https:\/\/x\.example\/c"\]\.trusted_identities\[0\]\.issuer: must be the OIDC issuer URL — /);
});

test('x-hint: every schema annotation names a keyword of its own schema node, with a fix (a stale hint would never show)', () => {
  let hints = 0;
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const hint = (node as Record<string, unknown>)['x-hint'] as Record<string, { fix?: unknown }> | undefined;
    for (const [keyword, h] of Object.entries(hint ?? {})) {
      hints++;
      assert.ok(keyword in (node as object), `x-hint.${keyword} beside ${JSON.stringify(Object.keys(node as object))}`);
      assert.equal(typeof h.fix, 'string');
    }
    Object.values(node as object).forEach(walk);
  };
  walk(configSchema);
  assert.ok(hints >= 15, `${hints} hints`);
});

test('x-hint: a bad serve route name gets the route-name fix (it used to get the channel-key fix)', () => {
  assert.throws(
    () => resolveConfig({ serve: { routes: { '-x': 'https://a.example/c' } } }, '/'),
    (e: ConfigError) => (e.details as string[]).some((l) => l.startsWith('serve.routes["-x"]: a route name must be') && l.includes('"conda-forge"')),
  );
});
