// Outages are one line, not hundreds: packages that failed retrieval for one cause (a host
// that cannot be reached, a run that is offline) are printed once with the host, the cause
// in words, the count, the first failed request and a few names (all with --verbose);
// every package keeps its own row in the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Outage, PackageReport, Reason, Report } from '../../src/types.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { groupOutages } from '../../src/report/outages.ts';
import { renderJson } from '../../src/report/json.ts';

const dns = (host: string): Outage => ({ host, cause: 'DNS lookup failed (ENOTFOUND)', url: `https://${host}/ch/noarch/repodata_shards.msgpack.zst` });

function failed(i: number, host = 'conda.example', code: Reason['code'] = 'SIDECAR_UNAVAILABLE', outage: Outage | null = dns(host)): PackageReport {
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
        message: `Sidecar ${url}.sigs could not be fetched: DNS lookup failed (ENOTFOUND).`,
        hint: 'Check the network connection and the host name.',
        ...(outage ? { outage } : {}),
      },
    ],
    notes: [],
    sidecar: null,
    bundles: [],
  } as PackageReport;
}

function report(packages: PackageReport[], notices: Reason[] = []): Report {
  const s = { total: packages.length, verified: 0, missing: 0, invalid: 0, untrusted: 0, 'identity-changed': 0, 'retrieval-failed': 0, skipped: 0, blocked: 0, warned: 0 };
  for (const p of packages) {
    (s as Record<string, number>)[p.status]++;
    if (p.action === 'block') s.blocked++;
  }
  return { version: 1, summary: s, packages, trust_root: null, notices } as unknown as Report;
}

test('489 packages of one unreachable host, across repodata and sidecar failures: one line naming the host, the cause and the count', () => {
  const rows = [
    ...Array.from({ length: 300 }, (_, i) => failed(i)),
    ...Array.from({ length: 189 }, (_, i) => failed(300 + i, 'conda.example', 'REPODATA_UNAVAILABLE')),
  ];
  const cut: Reason = {
    code: 'HOST_CUT_OFF',
    message: 'conda.example failed 3 times in a row (DNS lookup failed (ENOTFOUND)), first at https://conda.example/ch/noarch/repodata_shards.msgpack.zst; its other requests in this run were not sent.',
    hint: 'Check the network connection and the host name.',
    outage: dns('conda.example'),
  };
  const out = renderTerminal(report(rows, [cut]), { color: false });
  assert.equal(
    out,
    [
      '✖ blocked conda.example: DNS lookup failed (ENOTFOUND): 489 packages could not be checked',
      '    first failed request: https://conda.example/ch/noarch/repodata_shards.msgpack.zst (REPODATA_UNAVAILABLE, SIDECAR_UNAVAILABLE); its other requests were not sent',
      '    hint: Check the network connection and the host name.',
      '    pkg0-1.0-0.conda, pkg1-1.0-0.conda, pkg2-1.0-0.conda, pkg3-1.0-0.conda, pkg4-1.0-0.conda, and 484 more (--verbose lists them all)',
      '',
      '489 packages: 0 verified, 489 retrieval-failed',
      '489 blocked',
      '',
    ].join('\n'),
  );
  // The HOST_CUT_OFF notice is told by the group line, not printed again; JSON keeps it once.
  const json = JSON.parse(renderJson(report(rows, [cut])));
  assert.deepEqual(json.notices.map((n: Reason) => n.code), ['HOST_CUT_OFF']);
  assert.deepEqual(Object.keys(json.notices[0]), ['code', 'message', 'hint'], 'the grouping data is not part of --json');
  assert.deepEqual(Object.keys(json.packages[0].reasons[0]), ['code', 'message', 'hint']);
});

test('two hosts, or two causes, or another action: one line each; a failure without a transport cause stays a row of its own', () => {
  const refused: Outage = { host: 'conda.example', cause: 'connection refused (ECONNREFUSED)', url: 'https://conda.example/x' };
  const rows = [failed(1), failed(2), failed(3, 'mirror.example'), failed(4, 'conda.example', 'SIDECAR_UNAVAILABLE', refused), { ...failed(5), action: 'warn' as const }, failed(6, 'conda.example', 'SIDECAR_MALFORMED', null)];
  const groups = groupOutages(report(rows));
  assert.deepEqual(
    groups.map((g) => [g.action, g.outage.host, g.outage.cause, g.rows.map((r) => r.name)]),
    [
      ['block', 'conda.example', 'DNS lookup failed (ENOTFOUND)', ['pkg1', 'pkg2']],
      ['block', 'mirror.example', 'DNS lookup failed (ENOTFOUND)', ['pkg3']],
      ['block', 'conda.example', 'connection refused (ECONNREFUSED)', ['pkg4']],
      ['warn', 'conda.example', 'DNS lookup failed (ENOTFOUND)', ['pkg5']],
    ],
  );
  const out = renderTerminal(report(rows), { color: false });
  assert.match(out, /^✖ blocked conda\.example: DNS lookup failed \(ENOTFOUND\): 2 packages could not be checked$/m);
  assert.match(out, /^▲ warning conda\.example: DNS lookup failed \(ENOTFOUND\): 1 package could not be checked$/m);
  assert.match(out, /^✖ blocked pkg6-1\.0-0\.conda \(https:\/\/conda\.example\/ch\/noarch\) retrieval-failed$/m);
});

test('offline: one line with the count and a hint naming --no-tuf-refresh', () => {
  const off: Outage = { host: '--offline', cause: 'no network access', url: 'https://conda.example/ch/noarch/repodata_shards.msgpack.zst' };
  const rows = Array.from({ length: 12 }, (_, i) => failed(i, 'conda.example', 'HTTP_OFFLINE', off));
  const out = renderTerminal(report(rows), { color: false });
  const lines = out.split('\n');
  assert.equal(lines[0], '✖ blocked --offline: 12 packages need the network and were not checked');
  assert.equal(lines[1], '    nothing was sent; the first request needed: https://conda.example/ch/noarch/repodata_shards.msgpack.zst (HTTP_OFFLINE)');
  assert.match(lines[2]!, /^ {4}hint: .*`--no-tuf-refresh` is the old --offline/);
});

test('--verbose lists every package of the outage', () => {
  const rows = Array.from({ length: 40 }, (_, i) => failed(i));
  const out = renderTerminal(report(rows), { color: false, verbose: true });
  for (let i = 0; i < 40; i++) assert.ok(out.includes(`pkg${i}-1.0-0.conda`), `pkg${i}`);
  assert.ok(!out.includes('more (--verbose'));
});
