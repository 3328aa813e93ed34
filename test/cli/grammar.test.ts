// One grammar for options and help: every command's --help lists every option it parses
// and its exit codes, the option table of the command in docs/commands.md lists the same options,
// `--format`/`--json` agree, and `-v`/`--version` work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { type CommandSpec, chooseFormat, optionLabel } from '../../src/cli/options.ts';
import { VERIFY_SPEC } from '../../src/cli/verify.ts';
import { VERIFY_BUNDLE_SPEC } from '../../src/cli/verify-bundle.ts';
import { ACCEPT_SPEC } from '../../src/cli/accept.ts';
import { DIFF_SPEC } from '../../src/cli/diff.ts';
import { SERVE_SPEC } from '../../src/cli/serve.ts';
import { packageVersion } from '../../src/version.ts';
import { runInProcess } from '../helpers/cli-io.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SPECS: CommandSpec[] = [VERIFY_SPEC, VERIFY_BUNDLE_SPEC, ACCEPT_SPEC, DIFF_SPEC, SERVE_SPEC];

const cli = (argv: string[]) => runInProcess(main, argv, { cwd: REPO });

/** Long option names in the first column of the option table of docs/commands.md section `## \`conda-attest NAME`. */
function documentedOptions(name: string): Set<string> {
  const page = readFileSync(join(REPO, 'docs', 'commands.md'), 'utf8');
  const start = page.search(new RegExp('^## `conda-attest ' + name.replace('-', '\\-') + '[ `]', 'm'));
  assert.ok(start >= 0, `docs/commands.md has a section for ${name}`);
  const rest = page.slice(start + 3);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const m = /^\| ([^|]*(?:\\\|[^|]*)*) \|/.exec(line);
    if (!m || !m[1]!.includes('`-')) continue;
    for (const o of m[1]!.matchAll(/`--?([a-z][a-z-]*)/g)) if (o[0].startsWith('`--')) names.add(o[1]!);
  }
  return names;
}

for (const spec of SPECS) {
  test(`${spec.name} --help lists every option and the exit codes, as docs/commands.md does`, async () => {
    const r = await cli([spec.name, '--help']);
    assert.equal(r.code, 0);
    for (const o of spec.options) assert.ok(r.stdout.includes(optionLabel(o)), `${spec.name} --help lists ${optionLabel(o)}`);
    assert.match(r.stdout, /^Exit codes:$/m);
    for (const [code, meaning] of spec.exitCodes) assert.ok(r.stdout.includes(`  ${code}  ${meaning}`), `exit code ${code}`);
    assert.deepEqual([...documentedOptions(spec.name)].sort(), spec.options.map((o) => o.name).sort(), `docs/commands.md table of ${spec.name} = its options`);
    // -h is the same help.
    assert.equal((await cli([spec.name, '-h'])).stdout, r.stdout);
  });
}

test('-v, -V and --version print the version; the top-level help lists them', async () => {
  for (const flag of ['-v', '-V', '--version']) {
    const r = await cli([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, packageVersion() + '\n');
  }
  const h = await cli(['--help']);
  assert.match(h.stdout, /-v, --version/);
  for (const s of SPECS) assert.match(h.stdout, new RegExp(`^  ${s.name} `, 'm'));
});

test('--format: the first value is the default, --json is its alias, contradictions and unknown values are usage errors', () => {
  const F = ['text', 'json'] as const;
  assert.equal(chooseFormat({}, F, 'verify'), 'text');
  assert.equal(chooseFormat({ json: true }, F, 'verify'), 'json');
  assert.equal(chooseFormat({ format: 'json' }, F, 'verify'), 'json');
  assert.equal(chooseFormat({ format: 'json', json: true }, F, 'verify'), 'json');
  assert.throws(() => chooseFormat({ format: 'text', json: true }, F, 'verify'), { code: 'USAGE_INVALID_ARGUMENT' });
  assert.throws(() => chooseFormat({ format: 'yaml' }, F, 'verify'), (e: Error & { code: string; hint: string }) => {
    assert.equal(e.code, 'USAGE_INVALID_ARGUMENT');
    assert.match(e.hint, /text or json/);
    return true;
  });
});

test('verify --format with an unknown value or a contradiction exits 2 before any work', async () => {
  for (const argv of [['verify', '--format', 'yaml', 'x.lock'], ['verify', '--format', 'text', '--json', 'x.lock'], ['verify', '--format']]) {
    const r = await cli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, /USAGE_INVALID_ARGUMENT/);
  }
});
