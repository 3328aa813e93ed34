// `verify --format github|markdown|sarif` and the automatic GitHub Actions outputs, end
// to end: the real CLI against two loopback channels (one `require: error`, one
// `require: warn`) signed by the local Sigstore instance, with blocked (missing,
// untrusted, identity added), warned and verified packages. Expected lockfile lines are
// found in the written text by the test itself, independently of the parsers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { stringify as yamlStringify } from 'yaml';
import { publishStatement, type LocalSigstore, TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import { startFixtureChannel, type ChannelPackage, type FixtureChannel } from '../helpers/channel.ts';
import { runCli, type Workspace, startSignedChannel } from '../helpers/e2e.ts';
import { parseLock } from '../../src/lock/file.ts';
import { simpleSpec as spec } from '../helpers/conda.ts';

const require = createRequire(import.meta.url);
// The standard's schema is JSON Schema draft-04: validated with Ajv's draft-04 class and
// the standard formats (uri, uri-reference, date-time) it uses.
const AjvDraft04 = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;
const sarifSchema = JSON.parse(readFileSync(new URL('../fixtures/sarif/sarif-schema-2.1.0.json', import.meta.url), 'utf8'));
const ajv = new AjvDraft04({ allErrors: true, strict: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema);

let sig: LocalSigstore;
let forge: FixtureChannel;
let extra: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;
let all: ChannelPackage[];
const f = (name: string) => `${name}-1.0-h0_0.conda`;

/** A pixi.lock v6 over packages of both channels (the shape pixi writes). */
function pixiLock(pkgs: ChannelPackage[]): string {
  return yamlStringify({
    version: 6,
    environments: {
      default: {
        channels: [{ url: `${forge.url}/` }, { url: `${extra.url}/` }],
        packages: { 'linux-64': pkgs.map((p) => ({ conda: p.url })) },
      },
    },
    packages: pkgs.map((p) => ({ conda: p.url, sha256: p.sha256, md5: p.md5, depends: [], license: 'MIT', size: p.size })),
  });
}

function condaLock(pkgs: ChannelPackage[]): string {
  return yamlStringify({
    version: 1,
    metadata: { content_hash: { 'linux-64': 'x' }, channels: [{ url: forge.url, used_env_vars: [] }], platforms: ['linux-64'], sources: ['environment.yml'] },
    package: pkgs.map((p) => ({
      name: p.index.name,
      version: p.index.version,
      manager: 'conda',
      platform: 'linux-64',
      dependencies: {},
      url: p.url,
      hash: { md5: p.md5, sha256: p.sha256 },
      category: 'main',
      optional: false,
    })),
  });
}

function explicit(pkgs: ChannelPackage[]): string {
  return `# platform: linux-64\n@EXPLICIT\n${pkgs.map((p) => `${p.url}#${p.sha256}`).join('\n')}\n`;
}

/** The 1-based line where the entry holding `url` starts (last occurrence: pixi's `packages` list). */
function entryLine(text: string, url: string): number {
  const lines = text.split('\n');
  let at = -1;
  lines.forEach((l, i) => {
    if (l.endsWith(url) || l.includes(`${url}#`)) at = i;
  });
  assert.ok(at >= 0, `${url} not in the file`);
  while (at > 0 && !/^\s*- /.test(lines[at]!) && !/^https?:/.test(lines[at]!)) at--;
  return at + 1;
}

before(async () => {
  const forgePackages = [
    { spec: spec('good') },
    { spec: spec('util') },
    { spec: spec('bare'), attest: false },
    { spec: spec('stranger'), signOptions: { san: 'https://github.com/evil-org/x/.github/workflows/r.yml@refs/heads/main' } },
  ];
  ({ sig, ch: forge, ws, close } = await startSignedChannel({ name: 'forge', packages: forgePackages }, 'conda-attest-ci-'));
  extra = await startFixtureChannel({ sigstore: sig, name: 'extra', packages: [{ spec: spec('plain'), attest: false }] });
  all = [forge.get(f('good')), forge.get(f('util')), forge.get(f('bare')), forge.get(f('stranger')), extra.get(f('plain'))];
  ws.writeConfig({
    trust_root: sig.trustedRootPath,
    http: { retries: 0, timeout_ms: 5000 },
    channels: { [forge.url]: { trusted_identities: TRUSTED }, [extra.url]: { require: 'warn' } },
  });
  ws.write('env/pixi.lock', pixiLock(all));
  ws.write('env/conda-lock.yml', condaLock(all));
  ws.write('env/explicit.txt', explicit(all));
  // Pin good and util, then another trusted repository appends its signature to util:
  // an identity added to a pinned package (blocked until accepted).
  const pin = await runCli(ws, ['verify', '--json', 'env/pixi.lock']);
  assert.equal(pin.code, 1, pin.stderr);
  const util = forge.get(f('util'));
  forge.appendBundles(util.filename, [
    await sig.attest(publishStatement({ filename: util.filename, sha256: util.sha256, targetChannel: forge.url }), {
      san: 'https://github.com/test-org/util-tools/.github/workflows/sign.yml@refs/heads/main',
    }),
  ]);
});

after(async () => {
  await extra?.close();
  await close?.();
});

const EXPECTED = [
  { name: 'util', level: 'error', code: 'IDENTITY_ADDED' },
  { name: 'bare', level: 'error', code: 'NO_ATTESTATIONS' },
  { name: 'stranger', level: 'error', code: 'IDENTITY_UNTRUSTED' },
  { name: 'plain', level: 'warning', code: 'NO_ATTESTATIONS' },
];

/** Parse `::name k=v,...::message` lines (unescaping the property and data encodings). */
function annotations(stdout: string): { kind: string; props: Record<string, string>; message: string }[] {
  const unescape = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('::'))
    .map((l) => {
      const m = /^::(\w+)(?: ([^:]*))?::(.*)$/.exec(l);
      assert.ok(m, `not a workflow command: ${l}`);
      const props = Object.fromEntries((m[2] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), unescape(kv.slice(kv.indexOf('=') + 1))]));
      return { kind: m[1]!, props, message: unescape(m[3]!) };
    });
}

for (const target of ['env/pixi.lock', 'env/conda-lock.yml', 'env/explicit.txt']) {
  test(`--format github on ${target}: one annotation per problem package, on its entry's line`, async () => {
    const r = await runCli(ws, ['verify', '--frozen', '--format', 'github', target]);
    assert.equal(r.code, 1, r.stderr);
    const text = ws.read(target);
    const got = annotations(r.stdout);
    assert.equal(got.length, EXPECTED.length, r.stdout);
    for (const e of EXPECTED) {
      const pkg = all.find((p) => p.filename === f(e.name))!;
      const a = got.find((x) => x.message.startsWith(`${pkg.filename} `));
      assert.ok(a, `no annotation for ${e.name}: ${r.stdout}`);
      assert.equal(a.kind, e.level);
      assert.equal(a.props.file, target);
      assert.equal(Number(a.props.line), entryLine(text, pkg.url), `${e.name} line`);
      assert.equal(a.props.title, e.code);
      assert.match(a.message, new RegExp(`${e.code}: `));
      // The entry starting on that line really holds the package's URL.
      const from = text.split('\n').slice(Number(a.props.line) - 1);
      const end = from.findIndex((l, i) => i > 0 && (/^\s*- /.test(l) || /^https?:/.test(l)));
      assert.ok(from.slice(0, end < 0 ? undefined : end).join('\n').includes(pkg.url));
    }
    assert.ok(!got.some((a) => a.message.startsWith(f('good'))), 'verified packages are not annotated');
    assert.match(r.stdout, /conda-attest: 5 packages: 1 verified, 3 blocked, 1 warned, 0 skipped\n$/);
  });
}

test('--format sarif validates against the SARIF 2.1.0 schema; one rule per code, one result per problem at its lockfile line', async () => {
  const r = await runCli(ws, ['verify', '--frozen', '--format', 'sarif', 'env/pixi.lock']);
  assert.equal(r.code, 1, r.stderr);
  const log = JSON.parse(r.stdout);
  const valid: boolean = validateSarif(log);
  assert.ok(valid, ajv.errorsText(validateSarif.errors, { separator: '\n' }));
  assert.equal(log.version, '2.1.0');
  const run = log.runs[0];
  assert.equal(run.tool.driver.name, 'conda-attest');
  const ruleIds = run.tool.driver.rules.map((x: { id: string }) => x.id);
  assert.deepEqual(ruleIds, ['IDENTITY_ADDED', 'IDENTITY_UNTRUSTED', 'NO_ATTESTATIONS']);
  for (const rule of run.tool.driver.rules) {
    assert.ok(rule.shortDescription.text.length > 10);
    assert.ok(rule.help.text.length > 10, `${rule.id} has help from its hint`);
  }
  assert.equal(run.results.length, EXPECTED.length);
  const text = ws.read('env/pixi.lock');
  for (const e of EXPECTED) {
    const pkg = all.find((p) => p.filename === f(e.name))!;
    const res = run.results.find((x: { message: { text: string } }) => x.message.text.startsWith(`${pkg.filename} `));
    assert.ok(res, e.name);
    assert.equal(res.ruleId, e.code);
    assert.equal(ruleIds[res.ruleIndex], e.code);
    assert.equal(res.level, e.level);
    assert.equal(res.locations[0].physicalLocation.artifactLocation.uri, 'env/pixi.lock');
    assert.equal(res.locations[0].physicalLocation.region.startLine, entryLine(text, pkg.url));
  }
  // Fingerprints are stable from run to run (code scanning matches alerts by them).
  const again = JSON.parse((await runCli(ws, ['verify', '--frozen', '--format', 'sarif', 'env/pixi.lock'])).stdout);
  assert.deepEqual(again.runs[0].results.map((x: { partialFingerprints: unknown }) => x.partialFingerprints), run.results.map((x: { partialFingerprints: unknown }) => x.partialFingerprints));
});

test('--format markdown: counts, a table of problem packages with reason and hint, and the identity changes', async () => {
  const r = await runCli(ws, ['verify', '--frozen', '--format', 'markdown', 'env/pixi.lock']);
  assert.equal(r.code, 1, r.stderr);
  const md = r.stdout;
  assert.match(md, /^## conda-attest: ❌ 3 blocked\n/);
  assert.match(md, /\| 5 \| 1 \| 3 \| 1 \| 0 \|/);
  assert.match(md, /\| status \| package \| channel \| lockfile \| reason \| hint \|/);
  const rows = md.split('\n').filter((l) => l.startsWith('| ❌') || l.startsWith('| ⚠️'));
  assert.equal(rows.length, 4, md);
  const text = ws.read('env/pixi.lock');
  for (const e of EXPECTED) {
    const pkg = all.find((p) => p.filename === f(e.name))!;
    // Outside values are escaped for Markdown: `_` would start emphasis.
    const line = rows.find((l) => l.includes(`<code>${pkg.filename.replace(/_/g, '&#95;')}</code>`));
    assert.ok(line, e.name);
    assert.ok(line.startsWith(e.level === 'error' ? '| ❌ blocked' : '| ⚠️ warned'));
    assert.ok(line.includes(`<code>${e.code.replace(/_/g, '&#95;')}</code>`), line);
    assert.ok(line.includes(`<code>env/pixi.lock:${entryLine(text, pkg.url)}</code>`));
    assert.equal(line.split(' | ').length, 6, `six cells: ${line}`);
  }
  // The identity added to util, as `diff --format markdown` shows it.
  assert.match(md, /### conda-attest: signer identity changes/);
  // URLs are split by a zero-width space (no autolink from outside text).
  assert.match(md, /#### (<code>)?util(<\/code>)? from <code>http:&#8203;\/\/127\.0\.0\.1:\d+\/forge<\/code>/);
  assert.match(md, /\*\*Identity added\*\*/);
  assert.match(md, /<code>https:&#8203;\/\/github\.com\/test-org\/util-tools<\/code>/);
});

test('inside GitHub Actions the text output also annotates and appends the job summary; --no-github turns both off', async () => {
  const summary = ws.write('summary.md', '# earlier step\n');
  const env = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: ws.dir };
  const r = await runCli(ws, ['verify', '--frozen', 'pixi.lock'], env, ws.path('env'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /✖ blocked bare-1\.0-h0_0\.conda/, 'the text report is still there');
  const got = annotations(r.stdout);
  assert.equal(got.length, 4);
  // Run from env/: paths are relative to the workspace (the repository root).
  assert.ok(got.every((a) => a.props.file === 'env/pixi.lock'), JSON.stringify(got.map((a) => a.props)));
  const written = readFileSync(summary, 'utf8');
  assert.ok(written.startsWith('# earlier step\n## conda-attest: ❌ 3 blocked'), 'appended, not replaced');
  assert.match(written, /\*\*Identity added\*\*/);

  writeFileSync(summary, '');
  const off = await runCli(ws, ['verify', '--frozen', '--no-github', 'env/pixi.lock'], env);
  assert.equal(off.code, 1);
  assert.equal(annotations(off.stdout).length, 0);
  assert.equal(readFileSync(summary, 'utf8'), '');

  // --json stdout stays one JSON document inside Actions; the summary is still written.
  const json = await runCli(ws, ['verify', '--frozen', '--json', 'env/pixi.lock'], env);
  assert.equal(JSON.parse(json.stdout).summary.blocked, 3);
  assert.match(readFileSync(summary, 'utf8'), /^## conda-attest/);
});

test('--report-file writes the JSON report next to any format; --format values are checked', async () => {
  const r = await runCli(ws, ['verify', '--frozen', '--format', 'github', '--report-file', 'out/report.json', 'env/pixi.lock']);
  assert.equal(r.code, 2, 'the directory does not exist: a clear error');
  assert.match(r.stderr, /USAGE_OUTPUT_UNWRITABLE/);
  ws.write('out/.keep', '');
  const ok = await runCli(ws, ['verify', '--frozen', '--format', 'github', '--report-file', 'out/report.json', 'env/pixi.lock']);
  assert.equal(ok.code, 1);
  assert.equal(JSON.parse(ws.read('out/report.json')).summary.blocked, 3);
  const bad = await runCli(ws, ['verify', '--format', 'xml', 'env/pixi.lock']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /USAGE_INVALID_ARGUMENT: Unknown format "xml"/);
  const clash = await runCli(ws, ['verify', '--json', '--format', 'sarif', 'env/pixi.lock']);
  assert.equal(clash.code, 2);
  // The frozen runs left the identity lockfile as the pinning run wrote it.
  assert.ok(Object.keys(parseLock(ws.read('conda-attest.lock'), 'lock').channels).length === 1);
});
