// Red-team: files an attacker (or a bad pull request) controls — the identity lockfile and
// the configuration — and filesystem faults around them. The real CLI as a child process
// in an isolated temp workspace; a local Sigstore and a loopback channel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { GITHUB_ISSUER, TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { runCli, verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({ name: 'forge', packages: [{ spec: { name: 'good', version: '1.0', build: 'h0_0' } }] }, 'conda-attest-attack-files-'));
});

after(() => close?.());

function baseConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { trust_root: sig.trustedRootPath, http: { retries: 0 }, channels: { [ch.url]: { trusted_identities: TRUSTED } }, ...extra };
}

test('attack: a lockfile symlinked to another file is never written through: a non-lockfile target is refused (exit 2, untouched)', async () => {
  const victim = ws.write('victim.txt', 'precious user data\n');
  symlinkSync(victim, ws.path('link.lock'));
  ws.writeConfig(baseConfig({ lockfile: 'link.lock' }), 'symlink.json');
  const r = await runCli(ws, ['verify', '--json', '--config', 'symlink.json', ch.get(fn('good')).url]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /LOCK_CORRUPT/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious user data\n', 'the symlink target is untouched');
  assert.ok(lstatSync(ws.path('link.lock')).isSymbolicLink());
});

test('a lockfile symlinked to a valid lockfile elsewhere is updated through the link: the target gets the pins, the link stays a link', async () => {
  const shared = ws.write('elsewhere/shared.lock', '{\n  "version": 1,\n  "channels": {}\n}\n');
  symlinkSync(shared, ws.path('link2.lock'));
  ws.writeConfig(baseConfig({ lockfile: 'link2.lock' }), 'symlink2.json');
  const { code, report } = await verifyJson(ws, ['--config', 'symlink2.json', ch.get(fn('good')).url]);
  assert.deepEqual([code, report.packages[0]!.status], [0, 'verified']);
  // Replacing the link by a regular file would silently detach the shared lockfile.
  assert.ok(lstatSync(ws.path('link2.lock')).isSymbolicLink());
  assert.match(readFileSync(shared, 'utf8'), /test-org\/test-feedstock/);
});

test('a lockfile path that cannot be used (its directory is a regular file): exit 2 with a LOCK_ code, nothing on stdout', async () => {
  ws.write('notadir', 'a regular file\n');
  ws.writeConfig(baseConfig({ lockfile: 'notadir/conda-attest.lock' }), 'enotdir.json');
  const r = await runCli(ws, ['verify', '--json', '--config', 'enotdir.json', ch.get(fn('good')).url]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /LOCK_(UNREADABLE|WRITE_FAILED)/);
  assert.equal(readFileSync(ws.path('notadir'), 'utf8'), 'a regular file\n');
});

test('attack: a lockfile with __proto__ / constructor keys is data, never a prototype (and is checked like any other entry)', async () => {
  // Written as text: JSON.stringify would drop a literal __proto__ key.
  const entry = `{"identities":[{"kind":"github","issuer":"${GITHUB_ISSUER}","repository":"https://github.com/evil/x","workflow":"https://github.com/evil/x/.github/workflows/a.yml"}],"first_seen":{"version":"1","date":"2025-01-01"},"last_seen":{"version":"1","date":"2025-01-01"}}`;
  ws.write('proto.lock', `{"version":1,"channels":{"${ch.url}":{"__proto__":${entry},"constructor":${entry}}}}`);
  ws.writeConfig(baseConfig({ lockfile: 'proto.lock' }), 'proto.json');
  const { code, report } = await verifyJson(ws, ['--config', 'proto.json', ch.get(fn('good')).url]);
  assert.equal(code, 0);
  assert.equal(report.packages[0]!.status, 'verified', JSON.stringify(report.packages[0]!.reasons));
  assert.equal(({} as Record<string, unknown>).identities, undefined, 'no prototype was polluted');
  const written = readFileSync(ws.path('proto.lock'), 'utf8');
  assert.match(written, /"__proto__"/, 'the odd entry is kept as data');
  assert.match(written, /"good"/);
});

test('attack: a pull request that pins an attacker identity in the lockfile shows up in `conda-attest diff` and blocks verify', async () => {
  ws.writeConfig(baseConfig({ lockfile: 'pr.lock' }), 'pr.json');
  assert.equal((await verifyJson(ws, ['--config', 'pr.json', ch.get(fn('good')).url])).code, 0);
  const before = readFileSync(ws.path('pr.lock'), 'utf8');
  writeFileSync(ws.path('pr-old.lock'), before);
  writeFileSync(ws.path('pr.lock'), before.replaceAll('test-org/test-feedstock', 'evil-org/test-feedstock'));
  const diff = await runCli(ws, ['diff', '--json', 'pr-old.lock', 'pr.lock']);
  assert.equal(diff.code === 0 || diff.code === 1, true, diff.stderr);
  const parsed = JSON.parse(diff.stdout) as { identity_changes: number; changes: { type: string; fields?: { field: string; new: string }[] }[] };
  assert.ok(parsed.identity_changes >= 1);
  assert.ok(parsed.changes.some((c) => c.fields?.some((f) => f.field === 'repository' && f.new.includes('evil-org'))), diff.stdout);
  const { code, report } = await verifyJson(ws, ['--config', 'pr.json', ch.get(fn('good')).url]);
  assert.deepEqual([code, report.packages[0]!.status], [1, 'identity-changed']);
});

test('attack: a lockfile with a duplicate key (a reviewer reads the first pin, JSON.parse keeps the second) → exit 2 LOCK_CORRUPT naming key and line, file untouched', async () => {
  ws.writeConfig(baseConfig({ lockfile: 'dup.lock' }), 'dup.json');
  assert.equal((await verifyJson(ws, ['--config', 'dup.json', ch.get(fn('good')).url])).code, 0);
  const honest = readFileSync(ws.path('dup.lock'), 'utf8');
  // The attacker appends a second "good" entry pinning their identity after the honest one.
  const entryStart = honest.indexOf('"good": {');
  const entryEnd = honest.indexOf('\n      }', entryStart) + '\n      }'.length;
  const evilEntry = honest.slice(entryStart, entryEnd).replaceAll('test-org/test-feedstock', 'evil-org/test-feedstock');
  const tampered = honest.slice(0, entryEnd) + ',\n      ' + evilEntry + honest.slice(entryEnd);
  JSON.parse(tampered); // still valid JSON
  const line = tampered.slice(0, tampered.lastIndexOf('"good": {')).split('\n').length;
  writeFileSync(ws.path('dup.lock'), tampered);
  const r = await runCli(ws, ['verify', '--json', '--config', 'dup.json', ch.get(fn('good')).url]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /LOCK_CORRUPT/);
  assert.match(r.stderr, new RegExp(`"good" appears twice in one object \\(again at line ${line}\\)`));
  assert.equal(readFileSync(ws.path('dup.lock'), 'utf8'), tampered, 'the lockfile is untouched');
});

test('attack: a JSON config with a duplicate key (require: error, then require: ignore) → exit 2 CONFIG_PARSE_FAILED naming the key and line', async () => {
  const cfg = JSON.stringify(baseConfig(), null, 2).replace(`"${ch.url}": {`, `"${ch.url}": {\n      "require": "error",\n      "require": "ignore",`);
  for (const [name, body] of [
    ['dupkey.json', cfg],
    ['package.json', `{"name": "x", "conda-attest": ${cfg}}`],
  ] as const) {
    const dir = ws.path(`dupcfg-${name}`);
    ws.write(`dupcfg-${name}/${name}`, body);
    const r = await runCli(ws, ['verify', '--json', '--config', `${dir}/${name}`, ch.get(fn('good')).url]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /CONFIG_PARSE_FAILED/);
    assert.match(r.stderr, /"require" appears twice in one object \(again at line \d+/, r.stderr);
  }
});

test('config attacks: YAML alias bomb, a throwing .js config, negative cap, __proto__ key → exit 2, nothing on stdout', async () => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i <= 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const cases: [string, string, RegExp][] = [
    ['bomb.yaml', bomb.join('\n') + '\n', /CONFIG_(PARSE_FAILED|INVALID)/],
    ['throws.config.mjs', 'throw new Error("boom from config");\n', /CONFIG_PARSE_FAILED/],
    ['negative.json', JSON.stringify(baseConfig({ max_sidecar_bytes: -1 })), /CONFIG_INVALID[\s\S]*max_sidecar_bytes/],
    ['huge.json', JSON.stringify(baseConfig({ max_sidecar_bytes: 1e300 })), /CONFIG_INVALID[\s\S]*max_sidecar_bytes/],
    ['proto.json', `{"trust_root": ${JSON.stringify(sig.trustedRootPath)}, "__proto__": {"enabled": true}}`, /CONFIG_INVALID/],
    ['dir-root.json', JSON.stringify(baseConfig({ trust_root: ws.dir })), /TRUST_ROOT_|CONFIG_INVALID/],
  ];
  for (const [name, body, want] of cases) {
    ws.write(name, body);
    const r = await runCli(ws, ['verify', '--json', '--config', name, ch.get(fn('good')).url]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, '', name);
    assert.match(r.stderr, want, name);
  }
  assert.equal(({} as Record<string, unknown>).enabled, undefined);
});

test('a trust root that is a FIFO is refused at once (never blocks reading it)', { skip: process.platform === 'win32' ? 'no mkfifo on Windows' : false }, async () => {
  const fifo = ws.path('root.fifo');
  execFileSync('mkfifo', [fifo]);
  ws.writeConfig(baseConfig({ trust_root: fifo }), 'fifo.json');
  const r = await runCli(ws, ['verify', '--json', '--config', 'fifo.json', ch.get(fn('good')).url]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /TRUST_ROOT_|CONFIG_INVALID/);
});
