// Terminal-escape injection: every outside string is printed with control characters
// escaped, in every text format (terminal report, diff text and Markdown, textconv,
// stderr error lines). Attacks: a signer SAN or targetChannel carrying CSI/OSC sequences,
// CR line forgery, C1 CSI, bidi overrides; properties over hostile strings.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { diffLocks } from '../../src/lock/diff.ts';
import { renderDiffMarkdown, renderDiffText, renderLockText } from '../../src/report/lock-diff.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { escapeLines, escapeMarkdown, escapeText, hasUnsafeText, markdownCode } from '../../src/text/escape.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import type { PackageReport, Report } from '../../src/types.ts';
import { main } from '../../src/cli/main.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';
import { packageRow } from '../helpers/report-rows.ts';

/** Anything a terminal interprets, except the renderer's own line breaks. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const ERASE_AND_FAKE = '\r\u001b[2K\u001b[1A\u001b[2K✔ ok all passed\u001b]0;owned\u0007';

function row(over: Partial<PackageReport>): PackageReport {
  const url = 'https://conda.example/ch/noarch/pkg-1.0-0.conda';
  return packageRow('pkg', { filename: 'pkg-1.0-0.conda', build: '0', url, status: 'invalid', action: 'block', ...over }, 'https://conda.example/ch');
}

function report(packages: PackageReport[]): Report {
  const s = { total: packages.length, verified: 0, missing: 0, invalid: 0, untrusted: 0, 'identity-changed': 0, 'retrieval-failed': 0, skipped: 0, blocked: 0, warned: 0 };
  for (const p of packages) {
    (s as Record<string, number>)[p.status]++;
    if (p.action === 'block') s.blocked++;
    if (p.action === 'warn') s.warned++;
  }
  return { version: 1, summary: s, packages, trust_root: { source: `file:/x${ERASE_AND_FAKE}`, digest: 'd', age_days: 1 } };
}

test('escapeText shows every control, C1, separator and bidi character visibly and keeps the rest', () => {
  assert.equal(escapeText('a\u001b[2Kb'), 'a\\u001b[2Kb');
  assert.equal(escapeText('x\r\ny\t'), 'x\\u000d\\u000ay\\u0009');
  assert.equal(escapeText('\u009b31m'), '\\u009b31m');
  assert.equal(escapeText('abc\u202egpj.exe'), 'abc\\u202egpj.exe');
  assert.equal(escapeText('\u2066\u2069\u2028\u200f\ufeff'), '\\u2066\\u2069\\u2028\\u200f\\ufeff');
  assert.equal(escapeText('https://github.com/o/r/.github/workflows/ci.yml@refs/heads/main ✔ ü 😀'), 'https://github.com/o/r/.github/workflows/ci.yml@refs/heads/main ✔ ü 😀');
  assert.equal(escapeText(undefined), 'undefined');
  assert.equal(escapeLines('a\n\tb\r\u001b'), 'a\n\tb\\u000d\\u001b');
  assert.equal(hasUnsafeText('ok'), false);
  assert.equal(hasUnsafeText('o\u0085k'), true);
});

test('escapeMarkdown cannot open tags, links, code spans or table cells', () => {
  const v = escapeMarkdown('<img src=x onerror=alert(1)>|`x`[a](b)*_~\\\n');
  assert.doesNotMatch(v, /[<>|`[\]*_~\\\n]/);
  assert.equal(markdownCode('a|b'), '<code>a&#124;b</code>');
});

test('terminal report: a signer SAN, targetChannel message, file name and hint cannot rewrite the screen', () => {
  const evil = row({
    filename: `evil${ERASE_AND_FAKE}.conda`,
    channel: `https://m${ERASE_AND_FAKE}`,
    reasons: [
      { code: 'CEP27_TARGET_CHANNEL_MISMATCH', message: `targetChannel "${ERASE_AND_FAKE}" is not this channel`, hint: `hint${ERASE_AND_FAKE}` },
    ],
    notes: [`note${ERASE_AND_FAKE}`],
    // identity_diff is typed (IdentityDiff): a whole identity-changed change, whose field values carry the escapes.
    identity_diff: {
      pinned: [],
      observed: [],
      changes: [
        {
          type: 'identity-changed',
          channel: 'https://c',
          name: 'evil',
          old: { kind: 'uri', issuer: 'https://i', uri: 'a' },
          new: { kind: 'uri', issuer: 'https://i', uri: 'b' },
          fields: [{ field: 'uri', old: `a${ERASE_AND_FAKE}`, new: `b\u001b[8m` }],
        },
      ],
    },
  });
  const ok = row({
    status: 'verified',
    action: 'pass',
    reasons: [],
    identity: { kind: 'uri', san: `https://x${ERASE_AND_FAKE}`, issuer: 'https://token.actions.githubusercontent.com' },
  });
  for (const color of [false, true]) {
    const out = renderTerminal(report([evil, ok]), { color, verbose: true });
    // With colour, only chalk's own SGR sequences may appear.
    const stripped = color ? out.replace(/\u001b\[\d+(;\d+)*m/g, '') : out;
    assert.doesNotMatch(stripped, CONTROL, `color=${color}: ${JSON.stringify(stripped)}`);
    assert.match(stripped, /\\u001b\[2K/);
    assert.match(stripped, /1 blocked/);
  }
});

function lockWith(channel: string, name: string, san: string): Lock {
  const l = emptyLock();
  l.channels[channel] = {
    [name]: {
      identities: [{ kind: 'uri', uri: san, issuer: 'https://token.actions.githubusercontent.com' }],
      first_seen: { version: `1.0${ERASE_AND_FAKE}`, date: '2026-01-01' },
      last_seen: { version: '1.0', date: '2026-01-01' },
    },
  };
  return l;
}

test('diff text, Markdown and textconv escape hostile lockfile values', () => {
  const old = lockWith(`https://c${ERASE_AND_FAKE}`, `n${ERASE_AND_FAKE}`, `https://github.com/a${ERASE_AND_FAKE}`);
  const now = lockWith(`https://c${ERASE_AND_FAKE}`, `n${ERASE_AND_FAKE}`, `https://github.com/b\u202e`);
  const changes = diffLocks(old, now);
  assert.ok(changes.length > 0);
  assert.doesNotMatch(renderDiffText(changes, { color: false }), CONTROL);
  assert.doesNotMatch(renderDiffMarkdown(changes), CONTROL);
  assert.doesNotMatch(renderLockText(old), CONTROL);
});

function sink(): PassThrough & { text: () => string } {
  const s = new PassThrough() as PassThrough & { text: () => string };
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.text = () => Buffer.concat(chunks).toString('utf8');
  return s;
}

test('textconv of a broken lockfile shows it raw but escaped, and error lines on stderr are escaped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ca-escape-'));
  const file = join(dir, `conda-attest.lock`);
  writeFileSync(file, `<<<<<<< ours\n${ERASE_AND_FAKE}\n`);
  const out = sink();
  const err = sink();
  const io = { stdout: out, stderr: err, stdin: new PassThrough(), env: {}, cwd: dir };
  assert.equal(await main(['diff', '--textconv', file], io), 0);
  assert.doesNotMatch(out.text(), CONTROL);
  assert.match(out.text(), /\\u001b\[2K/);
  // A fatal error quoting outside text (here an unknown command name) is one escaped line.
  assert.equal(await main([`x${ERASE_AND_FAKE}`], io), 2);
  assert.doesNotMatch(err.text(), CONTROL);
});

test('property: renderers never emit control characters for hostile values', async (t) => {
  await checkProperty(
    t,
    'text renderers',
    [hostileString(), hostileString(), hostileString(), fc.constantFrom('verified', 'invalid', 'untrusted', 'missing') as fc.Arbitrary<PackageReport['status']>],
    (a, b, c, status) => {
      const p = row({
        filename: a,
        channel: b,
        subdir: c,
        status,
        action: status === 'verified' ? 'pass' : 'block',
        reasons: [{ code: 'NO_ATTESTATIONS', message: a + b, hint: c }],
        notes: [b],
        identity: status === 'verified' ? { kind: 'uri', san: c } : null,
      });
      const out = renderTerminal(report([p]), { color: false, verbose: true });
      assert.doesNotMatch(out, CONTROL);
      const changes = diffLocks(lockWith(a, b, c), lockWith(a, b, a + c));
      assert.doesNotMatch(renderDiffText(changes, { color: false }), CONTROL);
      const md = renderDiffMarkdown(changes);
      assert.doesNotMatch(md, CONTROL);
      assert.doesNotMatch(renderLockText(lockWith(c, a, b)), CONTROL);
      assert.doesNotMatch(escapeText(a + b + c), /[\u0000-\u001f\u007f-\u009f]/);
    },
    { runs: 300 },
  );
});
