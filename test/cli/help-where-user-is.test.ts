// Help where the user is: "did you mean" for mistyped commands and options, a directory
// given as the target, the lockfile found from a subdirectory of the project, and `accept`
// taking verify's target options (--sigs) with errors that name the real cause. The real
// CLI as a child process; exact lines as the user reads them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { runCli, startSignedChannel, type SignedChannel } from '../helpers/e2e.ts';
import { closedPort } from '../helpers/loopback.ts';

let env: SignedChannel;

before(async () => {
  env = await startSignedChannel({
    name: 'forge',
    packages: [{ spec: { name: 'good', version: '1.0', build: 'h0_0', files: { 'share/good.txt': 'good\n' } } }],
  }, 'conda-attest-help-');
});

after(() => env?.close());

/** The config of the signed channel, with no retries (a dead host fails at once). */
function config(dir = '', channel = env.ch.url): string {
  return env.ws.writeConfig({ trust_root: env.sig.trustedRootPath, http: { retries: 0 }, channels: { [channel]: {} } }, join(dir, '.conda-attestrc.json'));
}

test('did you mean: a mistyped command, a mistyped option of a command, and a global option that is not a command', async () => {
  const { ws } = env;
  const cases: [string[], string][] = [
    [['verfy'], 'conda-attest: USAGE_UNKNOWN_COMMAND: Unknown command "verfy". (hint: Did you mean `conda-attest verify`?)'],
    [['trust-roots'], 'conda-attest: USAGE_UNKNOWN_COMMAND: Unknown command "trust-roots". (hint: Did you mean `conda-attest trust-root`?)'],
    [['--verison'], 'conda-attest: USAGE_UNKNOWN_OPTION: Unknown option "--verison". (hint: Did you mean --version?)'],
    [['--frozen', 'verify'], 'conda-attest: USAGE_UNKNOWN_OPTION: Unknown option "--frozen". (hint: Options of a command go after it (`conda-attest verify --frozen`); the only options before a command are --version and --help.)'],
    [['verify', '--frozn'], "conda-attest: USAGE_UNKNOWN_OPTION: Unknown option '--frozn'. (hint: Did you mean --frozen? Run `conda-attest verify --help` for the options.)"],
    // Read by the parser as the short flags -f -r -o ...: the suggestion is for the word typed.
    [['verify', '-frozen'], "conda-attest: USAGE_UNKNOWN_OPTION: Unknown option '-f'. (hint: Did you mean --frozen? Run `conda-attest verify --help` for the options.)"],
    [['accept', '--no_cache'], "conda-attest: USAGE_UNKNOWN_OPTION: Unknown option '--no_cache'. (hint: Run `conda-attest accept --help` for the options.)"],
    [['init', '--sig', 'x'], "conda-attest: USAGE_UNKNOWN_OPTION: Unknown option '--sig'. (hint: Did you mean --sigs? Run `conda-attest init --help` for the options.)"],
    [['verify', '--xyzzy'], "conda-attest: USAGE_UNKNOWN_OPTION: Unknown option '--xyzzy'. (hint: Run `conda-attest verify --help` for the options.)"],
    [['frobnicate'], 'conda-attest: USAGE_UNKNOWN_COMMAND: Unknown command "frobnicate". (hint: Use one of: init, verify, verify-bundle, accept, diff, policy, trust-root, serve.)'],
  ];
  for (const [args, line] of cases) {
    const r = await runCli(ws, args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `${line}\n`, args.join(' '));
  }
  // A lockfile given without a command: say how to verify it.
  ws.write('given/pixi.lock', env.ch.pixiLock({ platform: 'noarch' }));
  const lock = await runCli(ws, ['pixi.lock'], {}, ws.path('given'));
  assert.equal(lock.stderr, 'conda-attest: USAGE_UNKNOWN_COMMAND: Unknown command "pixi.lock". (hint: To verify it: `conda-attest verify pixi.lock`.)\n');
});

test('a directory as the target names the lockfiles it holds', async () => {
  const { ws } = env;
  config('dirs');
  ws.write('dirs/project/pixi.lock', env.ch.pixiLock({ platform: 'noarch' }));
  ws.write('dirs/project/conda-lock.yml', env.ch.condaLock({ platform: 'noarch' }));
  mkdirSync(ws.path('dirs', 'empty'), { recursive: true });
  const r = await runCli(ws, ['verify', 'project'], {}, ws.path('dirs'));
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'conda-attest: TARGET_IS_DIRECTORY: project is a directory; it holds pixi.lock and conda-lock.yml: pass one of them. (hint: For example: project/pixi.lock)\n');
  const e = await runCli(ws, ['verify', 'empty/'], {}, ws.path('dirs'));
  assert.equal(e.code, 2);
  assert.match(e.stderr, /^conda-attest: TARGET_IS_DIRECTORY: empty\/ is a directory, and it holds no pixi.lock or conda-lock.yml\. \(hint: Pass a pixi.lock/);
});

test('from a subdirectory of the project, the lockfile is found upward (as the config is), and named; with none, one below is named', async () => {
  const { ws, ch } = env;
  // A project: a git root holding the config and the lockfile; the user is in src/deep.
  mkdirSync(ws.path('proj', '.git'), { recursive: true });
  config('proj');
  ws.write('proj/pixi.lock', ch.pixiLock({ platform: 'noarch' }));
  mkdirSync(ws.path('proj', 'src', 'deep'), { recursive: true });
  const r = await runCli(ws, ['verify', '--json'], {}, ws.path('proj', 'src', 'deep'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'conda-attest: using ../../pixi.lock (found above the current directory)\n');
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.inputs.targets, [ws.path('proj', 'pixi.lock')]);
  assert.equal(report.summary.verified, 1);
  // No lockfile at or above (the search stops at the git root), one in a subdirectory: named.
  mkdirSync(ws.path('mono', '.git'), { recursive: true });
  config('mono');
  ws.write('mono/envs/pixi.lock', ch.pixiLock({ platform: 'noarch' }));
  const none = await runCli(ws, ['verify'], {}, ws.path('mono'));
  assert.equal(none.code, 2);
  assert.equal(none.stderr, `conda-attest: USAGE_NO_TARGET: No target given and no pixi.lock or conda-lock.yml in ${ws.path('mono')}. (hint: There is envs/pixi.lock: pass it, or run from its directory.)\n`);
});

test('accept takes verify\'s target options: a local package with --channel and --sigs, offline', async () => {
  const { ws, ch } = env;
  const p = ch.get(fn('good'));
  const file = ws.write(`acc/${fn('good')}`, p.bytes);
  const sigs = ws.write('acc/good.sigs', JSON.stringify(p.bundles));
  const cfg = env.ws.writeConfig({ trust_root: env.sig.trustedRootPath, lockfile: 'acc.lock', channels: { [ch.url]: {} } }, 'acc/.conda-attestrc.json');
  const target = ['--offline', '--config', cfg, '--channel', `${ch.url}/noarch`, '--sigs', sigs];
  // Before any verify: accept says there is nothing to change yet, and who writes the first pins.
  const first = await runCli(ws, ['accept', 'good', '--yes', ...target, '--target', file], {}, ws.path('acc'));
  assert.equal(first.code, 2, first.stdout + first.stderr);
  assert.equal(
    first.stderr,
    `conda-attest: LOCK_MISSING: accept changes the identity lockfile ${ws.path('acc', 'acc.lock')}, which does not exist yet. (hint: Run \`conda-attest verify\` first, with the same targets: it pins the signer of every verified package on first use; accept is for the changes after that.)\n`,
  );
  const v = await runCli(ws, ['verify', ...target, file], {}, ws.path('acc'));
  assert.equal(v.code, 0, v.stderr);
  const r = await runCli(ws, ['accept', 'good', '--yes', ...target, '--target', file], {}, ws.path('acc'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Nothing to accept: the lockfile already pins the observed identities.\n');
  // Without --sigs, offline and with nothing cached (a fresh cache directory), it cannot be checked: said as such.
  const noSigs = await runCli(ws, ['accept', 'good', '--yes', '--offline', '--config', cfg, '--channel', `${ch.url}/noarch`, '--target', file], { XDG_CACHE_HOME: ws.path('acc', 'empty-cache') }, ws.path('acc'));
  assert.equal(noSigs.code, 2);
  assert.match(noSigs.stderr, /Nothing accepted: "good" could not be checked \(HTTP_OFFLINE: /);
});

test('accept names the real cause: a channel that cannot be reached is "could not be checked" with the network error, not "did not verify"', async () => {
  const { ws, ch } = env;
  const dead = `http://127.0.0.1:${await closedPort()}/forge`;
  const cfg = env.ws.writeConfig({ trust_root: env.sig.trustedRootPath, lockfile: 'dead.lock', http: { retries: 0 }, channels: { [dead]: {} } }, 'acc-dead/.conda-attestrc.json');
  ws.write('acc-dead/dead.lock', readFileSync(ws.path('acc', 'acc.lock')));
  const lock = ws.write('acc-dead/pixi.lock', ch.pixiLock({ platform: 'noarch' }).replaceAll(ch.url, dead));
  const r = await runCli(ws, ['accept', 'good', '--yes', '--config', cfg, '--target', lock], {}, ws.path('acc-dead'));
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^conda-attest: USAGE_INVALID_ARGUMENT: Nothing accepted: "good" could not be checked \((HTTP_CONNECTION_FAILED|REPODATA_UNAVAILABLE|HOST_CUT_OFF): [^\n]*127\.0\.0\.1[^\n]*\)\. \(hint: accept verifies each package first, so it needs what verify needs: the channel reachable, or the sidecar given with --sigs \(a cache of an earlier run serves --offline\)\.\)\n$/,
  );
  assert.doesNotMatch(r.stderr, /did not verify/);
});
