// `verify --output FORMAT=PATH` (repeatable) and `--report-file PATH` end to end: the real
// CLI against a loopback channel signed by the local Sigstore instance. Text goes to the
// terminal while SARIF, Markdown and JSON go to files, each the same as that format on
// stdout; a bad FORMAT or an unwritable PATH is a usage error (exit 2) before any request;
// each run-level finding is told once (the format on stdout, or stderr when it cannot).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { TEST_ORG_WORKFLOWS as TRUSTED } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleSpec as spec } from '../helpers/conda.ts';
import { assertJsonStdout, runCli, startSignedChannel, type Workspace } from '../helpers/e2e.ts';

const NAMES = ['alpha', 'beta'];
const UNUSED = 'https://unused.example.org/other';
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;

/** The counts line ends with the time taken, which differs per run: normalised. */
const normalise = (s: string) => s.replace(/ in (\d+(\.\d)?s|\d+m \d\ds)$/gm, ' in <time>');

before(async () => {
  let sig;
  ({ sig, ch, ws, close } = await startSignedChannel({ name: 'forge', packages: NAMES.map((n) => ({ spec: spec(n) })) }, 'conda-attest-outputs-'));
  // A second, unused channel gives the run one notice (CHANNEL_UNUSED) to be told once.
  ws.writeConfig({ trust_root: sig.trustedRootPath, channels: { [ch.url]: { trusted_identities: TRUSTED }, [UNUSED]: { require: 'warn' } } });
  ws.write('explicit.txt', ch.explicitFile());
  // Pin the signers first: later runs compare equal (no identity changes between them).
  assert.equal((await runCli(ws, ['verify', 'explicit.txt'])).code, 0);
});

after(() => close?.());

test('--output sarif=… --output markdown=… --report-file …: text on the terminal, each file as its format on stdout', async () => {
  mkdirSync(ws.path('out'), { recursive: true });
  const r = await runCli(ws, ['verify', '--output', 'sarif=out/results.sarif', '--output', 'markdown=comment.md', '--report-file', 'report.json', 'explicit.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const text = normalise(r.stdout).split('\n');
  // The signer of what passed, then the counts with the time taken (normalised).
  assert.deepEqual(text.slice(-4), [
    '2 packages verified, signed by github.com/test-org/test-feedstock (build.yml)',
    '2 packages: 2 verified in <time>',
    'all passed',
    '',
  ], r.stdout);
  // Each file equals what `--format X` prints on stdout (same report, same renderer).
  for (const [format, file] of [['sarif', 'out/results.sarif'], ['markdown', 'comment.md'], ['json', 'report.json']] as const) {
    const alone = await runCli(ws, ['verify', '--format', format, 'explicit.txt']);
    assert.equal(alone.code, 0, alone.stderr);
    assert.equal(ws.read(file), alone.stdout, `${file} = --format ${format}`);
  }
  const json = assertJsonStdout(ws.read('report.json'));
  assert.deepEqual((json as unknown as { inputs: unknown }).inputs, { targets: [ws.path('explicit.txt')], config: ws.path('.conda-attestrc.json') });
  assert.equal((JSON.parse(ws.read('out/results.sarif')) as { version: string }).version, '2.1.0');
  assert.match(ws.read('comment.md'), /^## conda-attest: ✅ all passed\n/);
  // Written by rename: no temporary file is left next to them.
  assert.deepEqual(readdirSync(ws.path('out')), ['results.sarif']);
});

test('--output text=PATH: the text report in a file has no colour even when the terminal would', async () => {
  const r = await runCli(ws, ['verify', '--json', '--output', 'text=report.txt', 'explicit.txt'], { FORCE_COLOR: '1' });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(ws.read('report.txt'), /\u001b\[/);
  assert.match(normalise(ws.read('report.txt')), /^2 packages: 2 verified in <time>$/m);
});

test('a bad --output is a usage error (exit 2) with its code, before a single request', async () => {
  mkdirSync(ws.path('a-directory'), { recursive: true });
  const cases: [string[], string][] = [
    [['--output', 'xml=r.xml'], 'USAGE_INVALID_ARGUMENT: Unknown format "xml" in --output xml=r.xml. (hint: FORMAT is one of text, json, github, markdown, sarif.)'],
    [['--output', 'results.sarif'], 'USAGE_INVALID_ARGUMENT: --output takes FORMAT=PATH, not "results.sarif". (hint: For example --output sarif=results.sarif; FORMAT is one of text, json, github, markdown, sarif.)'],
    [['--output', 'sarif='], 'USAGE_INVALID_ARGUMENT: --output takes FORMAT=PATH, not "sarif=". (hint: For example --output sarif=results.sarif; FORMAT is one of text, json, github, markdown, sarif.)'],
    [['--output', 'json=r.json', '--report-file', 'r.json'], 'USAGE_INVALID_ARGUMENT: --output json=r.json and --report-file r.json write the same file. (hint: Give each output its own path.)'],
    [['--output', 'sarif=no/such/dir/r.sarif'], `USAGE_OUTPUT_UNWRITABLE: Cannot write ${ws.path('no/such/dir/r.sarif')} (--output sarif=no/such/dir/r.sarif): its directory does not exist. (hint: Point it at a file in an existing, writable directory.)`],
    [['--report-file', 'a-directory'], `USAGE_OUTPUT_UNWRITABLE: Cannot write ${ws.path('a-directory')} (--report-file a-directory): it is a directory. (hint: Point it at a file in an existing, writable directory.)`],
  ];
  for (const [args, line] of cases) {
    ch.clearRequests();
    const r = await runCli(ws, ['verify', ...args, 'explicit.txt']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `conda-attest: ${line}\n`);
    assert.equal(r.stdout, '');
    assert.equal(ch.requests.length, 0, `${args.join(' ')}: requests were sent`);
  }
  assert.equal(existsSync(ws.path('r.xml')), false);
});

test('a run-level notice is told once: by the format on stdout when it shows notices, else on stderr (SARIF)', async () => {
  const notice = `CHANNEL_UNUSED: The configured channel ${UNUSED} matches no package of this run; the packages come from ${ch.url}.`;
  const text = await runCli(ws, ['verify', 'explicit.txt']);
  assert.equal(text.stderr, '');
  assert.equal(text.stdout.split('CHANNEL_UNUSED').length, 2, text.stdout);

  const json = await runCli(ws, ['verify', '--json', 'explicit.txt']);
  assert.equal(json.stderr, '');
  const report = JSON.parse(json.stdout) as { notices: { code: string }[]; warnings: string[] };
  assert.deepEqual(report.notices.map((n) => n.code), ['CHANNEL_UNUSED']);
  assert.deepEqual(report.warnings, []);

  const md = await runCli(ws, ['verify', '--format', 'markdown', 'explicit.txt']);
  assert.equal(md.stderr, '');
  assert.equal(md.stdout.split('CHANNEL&#95;UNUSED').length, 2, md.stdout);

  const gh = await runCli(ws, ['verify', '--format', 'github', 'explicit.txt']);
  assert.equal(gh.stderr, '');
  assert.match(gh.stdout, /^::notice title=CHANNEL_UNUSED::The configured channel /m);

  // SARIF on stdout is for a machine: the person at the terminal reads the notice on stderr, once.
  const sarif = await runCli(ws, ['verify', '--format', 'sarif', '--output', 'markdown=c2.md', 'explicit.txt']);
  assert.equal(sarif.code, 0);
  assert.equal(sarif.stderr.split('\n').filter((l) => l.startsWith(`conda-attest: ${notice}`)).length, 1, sarif.stderr);
  assert.doesNotMatch(sarif.stdout, /CHANNEL_UNUSED/);
  assert.equal(readFileSync(ws.path('c2.md'), 'utf8').split('CHANNEL&#95;UNUSED').length, 2);
});
