// The GitHub Action: action.yml's interface (inputs, defaults, outputs, the entry point it
// runs) and its entry point (action/main.ts) under a simulated Actions environment —
// GITHUB_ACTIONS, GITHUB_WORKSPACE, RUNNER_TEMP, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT
// files — against a loopback channel signed by the local Sigstore instance.
import { after, before, test } from 'node:test';
import { sidecarCacheDir } from '../../src/cache/sidecar-cache.ts';
import { verdictCacheDir } from '../../src/cache/verdict-cache.ts';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { GITHUB_ISSUER, type LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { REPO, runCli, runNode, type Workspace, startSignedChannel } from '../helpers/e2e.ts';
import { simpleSpec as spec } from '../helpers/conda.ts';

const ENTRY = join(REPO, 'action', 'main.ts');

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({ name: 'forge', packages: [{ spec: spec('good') }, { spec: spec('bare'), attest: false }] }, 'conda-attest-action-'));
  ws.writeConfig(
    {
      trust_root: sig.trustedRootPath,
      http: { retries: 0, timeout_ms: 5000 },
      channels: { [ch.url]: { trusted_identities: [{ identity: 'https://github.com/test-org/**', issuer: GITHUB_ISSUER }] } },
    },
    'app/.conda-attestrc.json',
  );
  ws.write('app/pixi.lock', ch.pixiLock({ platform: 'linux-64', filenames: ['good-1.0-h0_0.conda'] }));
  ws.write('app/all.lock', ch.pixiLock({ platform: 'linux-64' }));
  ws.write('tmp/.keep', '');
  // Pin the signer (what the developer commits), so that --frozen runs pass.
  const pin = await runCli(ws, ['verify'], {}, ws.path('app'));
  assert.equal(pin.code, 0, pin.stderr);
});

after(() => close?.());

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parse $GITHUB_OUTPUT (`name<<DELIM` blocks and `name=value` lines). */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]!);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      assert.ok(end > i, `unterminated output ${heredoc[1]}`);
      out[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i]!.includes('=')) out[lines[i]!.slice(0, lines[i]!.indexOf('='))] = lines[i]!.slice(lines[i]!.indexOf('=') + 1);
  }
  return out;
}

async function runAction(inputs: Record<string, string>): Promise<ActionRun> {
  const outputFile = ws.write('gh/output', '');
  const summaryFile = ws.write('gh/summary', '');
  const env: NodeJS.ProcessEnv = {
    ...ws.env,
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: ws.dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_RUN_ID: '42',
    RUNNER_TEMP: ws.path('tmp'),
  };
  // As action.yml passes them.
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  const r = await runNode(ENTRY, [], { cwd: ws.dir, env });
  return { ...r, outputs: parseOutputs(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') };
}

test('action.yml: the inputs, defaults and outputs the README documents, and the entry point it runs', () => {
  const action = parseYaml(readFileSync(join(REPO, 'action.yml'), 'utf8'));
  assert.deepEqual(Object.keys(action.inputs), ['targets', 'config', 'frozen', 'format', 'working-directory']);
  assert.equal(action.inputs.frozen.default, 'true');
  assert.deepEqual(Object.keys(action.outputs).slice(0, 3), ['report', 'blocked', 'verified']);
  for (const [name, o] of Object.entries(action.outputs) as [string, { value: string }][]) assert.equal(o.value, `\${{ steps.verify.outputs.${name} }}`);
  assert.equal(action.runs.using, 'composite');
  const step = action.runs.steps.find((s: { id?: string }) => s.id === 'verify');
  assert.match(step.run, /node "\$GITHUB_ACTION_PATH\/action\/main\.ts"/);
  assert.ok(existsSync(ENTRY));
  // Every input reaches the entry point under the name it reads.
  for (const name of Object.keys(action.inputs)) {
    const envName = `INPUT_${name.toUpperCase().replace(/-/g, '_')}`;
    assert.equal(step.env[envName], `\${{ inputs.${name} }}`, envName);
  }
  // Attack surface: the Actions cache is restored by key prefix, so a poisoned run's cache
  // reaches later runs. Only the content-addressed caches (re-hashed on every read) under
  // the cache directory verify uses (XDG_CACHE_HOME) go between runs: never verdicts, the
  // trust root, repodata indexes or the lockfile memo.
  const cacheSteps = action.runs.steps.filter((s: { uses?: string }) => s.uses?.startsWith('actions/cache/'));
  assert.equal(cacheSteps.length, 2);
  const cacheDir = join(step.env.XDG_CACHE_HOME, 'conda-attest');
  for (const s of cacheSteps) {
    const paths = String(s.with.path).trim().split('\n').map((l) => l.trim());
    assert.deepEqual(paths, [sidecarCacheDir(cacheDir), join(cacheDir, 'repodata', 'shards')]);
    for (const p of paths) assert.doesNotMatch(p, /verdicts|trust-root|lockfile-checked|\.records|meta\.json/);
    assert.ok(!paths.some((p) => verdictCacheDir(cacheDir).startsWith(p) || p === step.env.XDG_CACHE_HOME || p === cacheDir));
  }
  assert.equal(cacheSteps[0].with.key, cacheSteps[1].with.key);
  assert.equal(cacheSteps[1].if, 'always()');
  // Inputs reach the code only through the environment: no `run:` interpolates an
  // expression (a `${{ inputs.x }}` there would be pasted into the shell script).
  for (const s of action.runs.steps as { run?: string }[]) if (s.run) assert.doesNotMatch(s.run, /\$\{\{/, s.run);
});

test('attack: a newline in an input cannot inject a workflow command (config, frozen, format, targets, working-directory)', async () => {
  const inject = '\n::error file=README.md::forged\n##[stop-commands]tok';
  for (const [name, value] of [
    ['config', `policy.yaml${inject}`],
    ['frozen', `true${inject}`],
    ['format', `text${inject}`],
    ['working-directory', `app${inject}`],
    ['targets', `pixi.lock ${inject}`],
  ] as const) {
    const r = await runAction({ 'working-directory': 'app', [name]: value });
    assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
    const commands = (r.stdout + r.stderr).split('\n').filter((l) => l.trimStart().startsWith('::') || l.includes('##['));
    if (name === 'targets') {
      // Newlines separate targets: the pieces are file names (not found), printed escaped.
      assert.deepEqual(commands, [], r.stdout + r.stderr);
      assert.match(r.stderr, /TARGET_NOT_FOUND: ::error does not exist/);
      continue;
    }
    // Exactly one command: ours, naming the input, with the value escaped in its message.
    assert.equal(commands.length, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(commands[0]!, new RegExp(`^::error title=conda-attest::Input "${name}" `));
    assert.equal(r.outputs.report, undefined, 'nothing ran');
  }
  const format = await runAction({ 'working-directory': 'app', format: 'yaml' });
  assert.equal(format.code, 2);
  assert.match(format.stdout, /Input "format" must be one of text, json, github, markdown, sarif/);
});

test('entry point, passing run: exit 0, outputs report/blocked/verified, job summary written, frozen by default', async () => {
  const r = await runAction({ 'working-directory': 'app' });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /conda-attest verify --format text --report-file .* --frozen/);
  assert.equal(r.outputs.blocked, '0');
  assert.equal(r.outputs.verified, '1');
  assert.ok(r.outputs.report!.startsWith(ws.path('tmp')));
  const report = JSON.parse(readFileSync(r.outputs.report!, 'utf8'));
  assert.equal(report.summary.verified, 1);
  assert.match(r.summary, /^## conda-attest: ✅ all passed/);
});

test('entry point, blocked package: exit 1, an annotation on the lockfile line (path from the repository root), outputs set', async () => {
  const r = await runAction({ 'working-directory': 'app', targets: 'all.lock' });
  assert.equal(r.code, 1, r.stderr);
  const annotation = r.stdout.split('\n').find((l) => l.startsWith('::error '));
  assert.ok(annotation, r.stdout);
  assert.match(annotation, /^::error file=app\/all\.lock,line=\d+,title=NO_ATTESTATIONS::bare-1\.0-h0_0\.conda /);
  const line = Number(/line=(\d+)/.exec(annotation)![1]);
  assert.match(ws.read('app/all.lock').split('\n')[line - 1]!, /- conda: .*bare-1\.0-h0_0\.conda/);
  assert.equal(r.outputs.blocked, '1');
  assert.equal(r.outputs.verified, '1');
  assert.match(r.summary, /❌ 1 blocked/);
});

test('entry point: frozen: false lets a new signer be pinned; a config error is exit 2 with empty outputs; sarif goes to a file', async () => {
  ws.write('fresh/pixi.lock', ws.read('app/pixi.lock'));
  ws.write('fresh/.conda-attestrc.json', ws.read('app/.conda-attestrc.json'));
  const frozen = await runAction({ 'working-directory': 'fresh' });
  assert.equal(frozen.code, 2, 'nothing pinned yet: --frozen needs the identity lockfile');
  assert.match(frozen.stderr, /LOCK_MISSING/);
  const open = await runAction({ 'working-directory': 'fresh', frozen: 'false' });
  assert.equal(open.code, 0, open.stderr);
  assert.ok(existsSync(ws.path('fresh/conda-attest.lock')));

  const bad = await runAction({ 'working-directory': 'app', config: 'missing.json' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /CONFIG_NOT_FOUND/);
  assert.deepEqual([bad.outputs.report, bad.outputs.blocked, bad.outputs.verified], ['', '', '']);

  const badBool = await runAction({ 'working-directory': 'app', frozen: 'yes please' });
  assert.equal(badBool.code, 2);
  assert.match(badBool.stdout, /::error title=conda-attest::Input "frozen" must be true or false/);

  const sarif = await runAction({ 'working-directory': 'app', targets: 'all.lock', format: 'sarif' });
  assert.equal(sarif.code, 1);
  const log = JSON.parse(readFileSync(sarif.outputs.sarif!, 'utf8'));
  assert.equal(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, 'app/all.lock');
  writeFileSync(ws.path('gh/output'), '');
});
