// Red-team: CI log injection. The GitHub Actions runner acts on workflow commands in every
// line a step prints: `::name::…` at the start of a line (after leading whitespace) and the
// legacy `##[name]…` anywhere in a line (`##[stop-commands]tok` silences every later
// annotation). Channel-controlled text — a signer SAN, a statement's targetChannel, URLs,
// messages quoting sidecars — must never carry either into a line conda-attest prints, on
// any output path: the text report, `--format github` (annotations and overflow lines),
// Markdown, JSON, CLI errors, notices, and the Action's own lines. Markdown additionally
// must not turn attacker text into links, @mentions or #references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { escapeJsonOutput, escapeLines, escapeMarkdown, escapeText, markdownCode } from '../../src/text/escape.ts';
import { renderGithub } from '../../src/report/github.ts';
import { renderMarkdownReport } from '../../src/report/markdown.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { buildReport } from '../../src/report/build.ts';
import { locateNothing } from '../../src/report/locations.ts';
import { serializeLock } from '../../src/lock/file.ts';
import { emptyLock, type Lock } from '../../src/lock/types.ts';
import { main } from '../../src/cli/main.ts';
import type { PackageReport } from '../../src/types.ts';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.ts';
import { packageRow } from '../helpers/report-rows.ts';

/** What the runner would act on, line by line (its own parse: trimmed start `::`, or `##[` anywhere). */
function commandLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trimStart().startsWith('::') || l.includes('##['));
}

const STOP = '##[stop-commands]tok';
const NEWLINE_ERROR = 'x\n::error::forged';
const LEADING = '  ::warning file=README.md::forged';
const PAYLOADS = [STOP, NEWLINE_ERROR, LEADING, `##[set-output name=x;]y`, `\u00a0::notice::x`, `###[group]x`];

function row(over: Partial<PackageReport>): PackageReport {
  return packageRow('evil', { status: 'invalid', action: 'block', ...over }, 'https://example.org/ch');
}

/** Rows whose every outside field carries a payload: SAN, targetChannel message, URL, channel, hint, notes. */
function hostileRows(payload: string, n = 1): PackageReport[] {
  return Array.from({ length: n }, (_, i) =>
    row({
      filename: `${payload}-${i}.conda`,
      channel: `https://m/${payload}`,
      url: `https://m/${payload}/noarch/${i}`,
      status: i % 2 ? 'verified' : 'invalid',
      action: i % 2 ? 'warn' : 'block',
      identity: i % 2 ? { kind: 'uri', san: payload } : null,
      reasons: [{ code: 'CEP27_TARGET_CHANNEL_MISMATCH', message: `targetChannel "${payload}" is not this channel`, hint: payload }],
      notes: [payload],
    }),
  );
}

test('escape module: `##[` anywhere and a line-leading `::` are broken visibly, nothing else changes', () => {
  assert.equal(escapeText(STOP), '#\\u0023[stop-commands]tok');
  assert.equal(escapeText(NEWLINE_ERROR), 'x\\u000a::error::forged');
  assert.equal(escapeText(LEADING), '  \\u003a:warning file=README.md::forged');
  assert.equal(escapeText('\u00a0::x'), '\u00a0\\u003a:x', 'the runner trims Unicode spaces too');
  assert.equal(escapeText('###[a'), '##\\u0023[a', 'no `##[` is left after the replacement');
  assert.equal(escapeText('a::b https://x/y#1 @me'), 'a::b https://x/y#1 @me', 'a `::` inside a line is harmless');
  assert.equal(escapeLines('ok\n  ::error::x\n##[group]y'), 'ok\n  \\u003a:error::x\n#\\u0023[group]y');
  // JSON: the same value to a parser, no command to the runner.
  const json = escapeJsonOutput(JSON.stringify({ san: STOP, m: NEWLINE_ERROR }, null, 2));
  assert.deepEqual(JSON.parse(json), { san: STOP, m: NEWLINE_ERROR });
  assert.deepEqual(commandLines(json), []);
});

test('attack: every payload in every field of the text report (as printed under GITHUB_ACTIONS) starts no command', () => {
  for (const p of PAYLOADS) {
    const report = buildReport(hostileRows(p, 2));
    report.notices = [{ code: 'CHANNEL_UNUSED', message: `The configured channel ${p} matches no package`, hint: p }];
    report.trust_root = { source: p, digest: 'd', age_days: 1 };
    const out = renderTerminal(report, { color: false, verbose: true });
    assert.deepEqual(commandLines(out), [], `${JSON.stringify(p)}:\n${out}`);
  }
});

test('attack: --format github — cause and per-package annotations carry no command but ours', () => {
  for (const p of PAYLOADS) {
    // 25 rows: 13 invalid (blocked, per package) and 12 warned, all of one code: one cause
    // annotation of each kind (payloads in the names they list), ten per-package ones, and
    // the summary line counting the three not annotated.
    const out = renderGithub(buildReport(hostileRows(p, 25)), locateNothing);
    const lines = out.trimEnd().split('\n');
    for (const l of commandLines(out)) {
      // Only our own annotations, each a single command at the line start, no legacy opener.
      assert.match(l, /^::(error|warning|notice) /, l);
      assert.ok(!l.includes('##['), l);
    }
    assert.equal(commandLines(out).length, 12, 'two causes, ten per-package errors');
    assert.equal(lines.length, 13, out);
    assert.match(lines.at(-1)!, /^conda-attest: 25 packages: .*; 3 more packages with per-package problems not annotated/);
  }
});

test('attack: Markdown (job summary, PR comment) — no autolink, @mention, #reference or command from outside text', () => {
  const payload = `see https://evil.example/x and www.evil.example, ping @org/team and @alice, fixes #1 ${STOP}\n::error::x`;
  const md = renderMarkdownReport(buildReport(hostileRows(payload, 2)), { locate: locateNothing });
  assert.deepEqual(commandLines(md), []);
  assert.doesNotMatch(md, /https:\/\/evil/);
  assert.doesNotMatch(md, /www\.evil/i);
  assert.doesNotMatch(md, /@org|@alice/);
  assert.doesNotMatch(md, /#1\b/);
  // Still readable: the text is there, split by invisible zero-width spaces.
  assert.match(md, /@&#8203;org\/team/);
  assert.match(md, /#&#8203;1/);
  assert.match(md, /https:&#8203;\/\/evil\.example/);
  assert.equal(escapeMarkdown('::x'), '&#58;:x');
  assert.equal(markdownCode('user@example.org'), '<code>user@&#8203;example.org</code>');
  // The escapes never break each other: `&#…;` entities stay intact.
  assert.equal(escapeMarkdown('`#1`'), '&#96;#&#8203;1&#96;');
});

function sink(): PassThrough & { text: () => string } {
  const s = new PassThrough() as PassThrough & { text: () => string };
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.text = () => Buffer.concat(chunks).toString('utf8');
  return s;
}

function lockWithSan(san: string): Lock {
  const l = emptyLock();
  l.channels[`https://c/${STOP}`] = {
    pkg: {
      identities: [{ kind: 'uri', uri: san, issuer: 'https://token.actions.githubusercontent.com' }],
      first_seen: { version: '1.0', date: '2026-01-01' },
      last_seen: { version: '1.0', date: '2026-01-01' },
    },
  };
  return l;
}

test('attack: CLI paths — errors on stderr, `diff` text and JSON on stdout — start no command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ca-cilog-'));
  const io = () => ({ stdout: sink(), stderr: sink(), stdin: new PassThrough(), env: { GITHUB_ACTIONS: 'true' }, cwd: dir });
  // A fatal error quoting outside text (an unknown command named by the attacker).
  const e = io();
  assert.equal(await main([`${STOP}\n::error::x`], e), 2);
  assert.deepEqual(commandLines(e.stderr.text()), [], e.stderr.text());
  // A config error whose problems quote the file's own keys, one per line.
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ [`::error::${STOP}`]: 1, channels: { [`${STOP}`]: {} } }));
  const c = io();
  assert.equal(await main(['verify', '--config', join(dir, 'bad.json'), join(dir, 'none.lock')], c), 2);
  assert.deepEqual(commandLines(c.stderr.text()), [], c.stderr.text());
  // Lockfiles whose SANs and channel carry payloads, diffed as text and as JSON.
  writeFileSync(join(dir, 'old.lock'), serializeLock(lockWithSan(`https://github.com/a/${STOP}`)));
  writeFileSync(join(dir, 'new.lock'), serializeLock(lockWithSan(`https://github.com/b\n::error::x ${STOP}`)));
  for (const format of ['text', 'json', 'markdown']) {
    const d = io();
    assert.equal(await main(['diff', join(dir, 'old.lock'), join(dir, 'new.lock'), '--format', format], d), 0, d.stderr.text());
    assert.deepEqual(commandLines(d.stdout.text() + d.stderr.text()), [], d.stdout.text());
    if (format === 'json') assert.match(JSON.stringify(JSON.parse(d.stdout.text())), /stop-commands/, 'the value survives JSON parsing');
  }
});

test('property: no outside string ever starts a runner command through the escape functions', async (t) => {
  const commandy = fc.array(fc.oneof(hostileString(12), fc.constantFrom('##[', '#', '[', '::', ':', ' ', '\u00a0', '\u3000', '\n', '@', 'https://', 'www.', '#1')), { maxLength: 8 }).map((a) => a.join(''));
  await checkProperty(
    t,
    'workflow commands',
    [commandy, commandy],
    (a, b) => {
      // A value at the start of a line, after our own whitespace, or after another value.
      for (const line of [escapeText(a), `    ${escapeText(a)}`, escapeText(a) + escapeText(b)]) {
        assert.deepEqual(commandLines(line), [], JSON.stringify([a, b]));
      }
      assert.deepEqual(commandLines(escapeLines(`${a}\n${b}`)), []);
      assert.ok(!escapeJsonOutput(JSON.stringify([a, b])).includes('##['));
      const md = escapeMarkdown(a);
      assert.deepEqual(commandLines(md), []);
      assert.doesNotMatch(md, /@(?!&#8203;)|(?<!&)#\d|:\/\//, "no mention, reference or URL scheme survives");
    },
    { runs: 400 },
  );
});
