// Runs every case of the sigstore-conformance bundle-verify subset in ../shared/conformance
// through the real CLI: `_fail` cases must exit non-zero with one `CODE: message`
// line on stderr, the others must exit 0. Each case runs twice: with the artifact file and
// with `sha256:<hex>` of it (the protocol's digest form).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dir = join(repo, '..', 'shared', 'conformance');
const node = process.execPath;
const cli = join(repo, 'src', 'cli', 'run.ts');
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(node, [cli, 'verify-bundle', ...args], { env, cwd: repo }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 99) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const cases = existsSync(dir) ? readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort() : [];

test('sigstore-conformance bundle-verify cases through the CLI', { skip: existsSync(dir) ? false : 'needs ../shared (absent in a fresh clone)', concurrency: 8 }, async (t) => {
  assert.ok(cases.length > 0, 'the shared conformance folder holds cases');
  // A private, empty cache: public-good must come from the embedded snapshot, offline.
  const home = mkdtempSync(join(tmpdir(), 'conda-attest-conf-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, 'cache'), NO_COLOR: '1' };
  const runs: Promise<void>[] = [];
  for (const name of cases) {
    const c = join(dir, name);
    const f = (n: string) => join(c, n);
    const artifact = existsSync(f('artifact')) ? f('artifact') : join(dir, 'a.txt');
    const args = ['--bundle', f('bundle.sigstore.json')];
    if (existsSync(f('key.pub'))) args.push('--key', f('key.pub'));
    else {
      const identity = existsSync(f('identity')) ? readFileSync(f('identity'), 'utf8').trim() : DEFAULT_IDENTITY;
      const issuer = existsSync(f('issuer')) ? readFileSync(f('issuer'), 'utf8').trim() : DEFAULT_ISSUER;
      args.push('--certificate-identity', identity, '--certificate-oidc-issuer', issuer);
    }
    if (existsSync(f('trusted_root.json'))) args.push('--trusted-root', f('trusted_root.json'));
    const digest = 'sha256:' + createHash('sha256').update(readFileSync(artifact)).digest('hex');
    const mustFail = name.endsWith('_fail');
    for (const [form, input] of [['file', artifact], ['digest', digest]] as const) {
      runs.push(t.test(`${name} (${form})`, async () => {
        const r = await run([...args, input], env);
        if (mustFail) {
          assert.notEqual(r.code, 0, `must be rejected; stdout: ${r.stdout}`);
          const lines = r.stderr.trim().split('\n');
          assert.equal(lines.length, 1, `one stderr line, got: ${r.stderr}`);
          assert.match(lines[0]!, /^[A-Z0-9_]+: \S/);
        } else {
          assert.equal(r.code, 0, `must verify; stderr: ${r.stderr}`);
        }
      }));
    }
  }
  await Promise.all(runs);
});
