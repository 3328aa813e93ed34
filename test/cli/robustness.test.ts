// "Never crash, always say why": inputs that once made the real CLI print
// `internal error: <stack>` (or a rejection without a hint). Each case spawns the CLI in
// an isolated workspace and asserts exit 2, one `conda-attest: CODE: message (hint: …)`
// line, no stack trace, and (with --json) nothing on stdout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorkspace, runCli, type Workspace } from '../helpers/e2e.ts';

const CH = 'https://prefix.dev/sigstore-example';
// Offline local-file verification: no network, the public-good root is embedded.
const LOCAL = ['verify', '--json', '--offline', '--no-cache', '--channel', CH, '--platform', 'linux-64', 'x-1-0.conda'];

interface Case {
  name: string;
  setup?: (ws: Workspace) => void;
  args: string[];
  code: string;
  /** Text the one message line must contain. */
  says: RegExp;
}

const deepArray = '['.repeat(100_000) + ']'.repeat(100_000);
const deepObject = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);

const CASES: Case[] = [
  // Command lookup went through the prototype chain: `constructor` "was" a command.
  ...['constructor', '__proto__', 'toString', 'hasOwnProperty'].map(
    (name): Case => ({ name: `unknown command "${name}"`, args: [name], code: 'USAGE_UNKNOWN_COMMAND', says: new RegExp(`Unknown command "${name}"`) }),
  ),
  // The recursive config copy overflowed the stack on hostile nesting.
  {
    name: 'config file nested 100,000 arrays deep (found by the search)',
    setup: (ws) => ws.write('.conda-attestrc.json', deepArray),
    args: LOCAL,
    code: 'CONFIG_INVALID',
    says: /nested more than \d+ levels deep/,
  },
  {
    name: 'config file nested 50,000 objects deep (--config)',
    setup: (ws) => ws.write('c.json', deepObject),
    args: [...LOCAL, '--config', 'c.json'],
    code: 'CONFIG_INVALID',
    says: /c\.json is nested more than \d+ levels deep/,
  },
  // cosmiconfig's constructor reads package.json (meta config) before any search.
  {
    name: 'package.json that is not JSON',
    setup: (ws) => ws.write('package.json', '{{{'),
    args: LOCAL,
    code: 'CONFIG_PARSE_FAILED',
    says: /package\.json could not be read/,
  },
  // Bad percent-encoding was rejected without a hint.
  {
    name: 'explicit file URL with a truncated percent escape',
    setup: (ws) => ws.write('env.txt', `@EXPLICIT\n${CH}/linux-64/%E0%A4%A-1-0.conda\n`),
    args: ['verify', '--json', '--offline', '--no-cache', 'env.txt'],
    code: 'TARGET_INVALID_URL',
    says: /bad percent-encoding/,
  },
  // A --sigs file that is missing or not a sidecar is an input error, not a package
  // status (under require: warn/ignore it once passed with a warning).
  {
    name: '--sigs naming a missing file',
    args: [...LOCAL, '--sigs', 'absent.sigs'],
    code: 'SIDECAR_UNAVAILABLE',
    says: /absent\.sigs cannot be read/,
  },
  {
    name: '--sigs naming a file that is not JSON',
    setup: (ws) => ws.write('garbage.sigs', 'not json'),
    args: [...LOCAL, '--sigs', 'garbage.sigs'],
    code: 'SIDECAR_MALFORMED',
    says: /garbage\.sigs/,
  },
];

for (const c of CASES) {
  test(`robustness: ${c.name} → ${c.code}, exit 2, no crash`, async () => {
    const ws = makeWorkspace('conda-attest-robust-');
    try {
      ws.write('x-1-0.conda', 'not a package');
      // A config that enables nothing is a valid choice and runs (without one: NO_CONFIG).
      ws.write('.conda-attestrc.json', '{}');
      c.setup?.(ws);
      const r = await runCli(ws, c.args);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `crash on stderr:\n${r.stderr}`);
      assert.equal(r.code, 2, `exit ${r.code}, stderr:\n${r.stderr}`);
      const first = r.stderr.split('\n')[0]!;
      assert.match(first, new RegExp(`^conda-attest: ${c.code}: .+ \\(hint: .+\\)$`), r.stderr);
      assert.match(first, c.says);
      assert.equal(r.stdout, '', 'nothing on stdout for a usage/config/input error');
    } finally {
      ws.cleanup();
    }
  });
}
