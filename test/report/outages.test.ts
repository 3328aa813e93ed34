// Outages are one line, not hundreds: packages that failed retrieval for one cause are
// printed once with their count and a few names (all with --verbose); every package keeps
// its own row in the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PackageReport, Report } from '../../src/types.ts';
import { outageKey, renderTerminal } from '../../src/report/terminal.ts';

function failed(i: number, host = 'conda.example', code = 'SIDECAR_UNAVAILABLE'): PackageReport {
  const url = `https://${host}/ch/noarch/pkg${i}-1.0-0.conda`;
  return {
    filename: `pkg${i}-1.0-0.conda`,
    name: `pkg${i}`,
    version: '1.0',
    build: '0',
    channel: `https://${host}/ch`,
    subdir: 'noarch',
    url,
    sha256: null,
    digest_source: null,
    status: 'retrieval-failed',
    action: 'block',
    identity: null,
    reasons: [
      {
        code,
        message: `${url}.sigs: Request to ${url}.sigs failed: DNS lookup failed for ${host} (ENOTFOUND).`,
        hint: 'Check the network connection and the host name.',
      },
    ],
    notes: [],
    sidecar: null,
    bundles: [],
  } as PackageReport;
}

function report(packages: PackageReport[]): Report {
  const s = { total: packages.length, verified: 0, missing: 0, invalid: 0, untrusted: 0, 'identity-changed': 0, 'retrieval-failed': 0, skipped: 0, blocked: 0, warned: 0 };
  for (const p of packages) {
    (s as Record<string, number>)[p.status]++;
    if (p.action === 'block') s.blocked++;
  }
  return { version: 1, summary: s, packages, trust_root: null } as unknown as Report;
}

test('300 packages of one unreachable channel: one outage line with the cause in words, the count and 5 names', () => {
  const rows = Array.from({ length: 300 }, (_, i) => failed(i));
  const other = failed(1000, 'mirror.example');
  const out = renderTerminal(report([...rows, other]), { color: false });
  const lines = out.split('\n');
  const head = lines.filter((l) => l.includes('300 packages'));
  assert.equal(head.length, 1, out);
  assert.match(head[0]!, /✖ blocked 300 packages retrieval-failed: SIDECAR_UNAVAILABLE https:\/\/conda\.example: Request to https:\/\/conda\.example failed: DNS lookup failed for conda\.example \(ENOTFOUND\)\./);
  assert.equal(lines.filter((l) => l.includes('hint: Check the network')).length, 2, 'the hint once per cause (and once for the lone other failure)');
  assert.ok(out.includes('pkg0-1.0-0.conda, pkg1-1.0-0.conda, pkg2-1.0-0.conda, pkg3-1.0-0.conda, pkg4-1.0-0.conda, and 295 more (--verbose lists them all)'));
  assert.ok(!out.includes('pkg5-1.0-0.conda'));
  // A different cause (another host) stays its own line, with its full URL.
  assert.ok(out.includes('https://mirror.example/ch/noarch/pkg1000-1.0-0.conda.sigs'));
  assert.ok(lines.length < 20, `${lines.length} lines`);
  assert.match(out, /301 packages: 0 verified, 301 retrieval-failed/);
});

test('--verbose lists every package of the outage', () => {
  const rows = Array.from({ length: 40 }, (_, i) => failed(i));
  const out = renderTerminal(report(rows), { color: false, verbose: true });
  for (let i = 0; i < 40; i++) assert.ok(out.includes(`pkg${i}-1.0-0.conda`), `pkg${i}`);
  assert.ok(!out.includes('more (--verbose'));
});

test('outage keys: only retrieval failures; the same cause on two hosts, or with another action, is two causes', () => {
  assert.equal(outageKey(failed(1)), outageKey(failed(2)));
  assert.notEqual(outageKey(failed(1)), outageKey(failed(1, 'other.example')));
  assert.notEqual(outageKey(failed(1)), outageKey({ ...failed(2), action: 'warn' }));
  assert.equal(outageKey({ ...failed(1), status: 'invalid' }), null);
});
