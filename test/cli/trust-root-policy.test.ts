// `conda-attest trust-root status|refresh|export FILE`, trust-root freshness in `verify`
// (trust_root_max_age_days → TRUST_ROOT_STALE, exit 2; the 180-day notice), and
// `conda-attest policy [TARGET]` — the real CLI as a child process against the local
// Sigstore instance and a loopback channel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LocalSigstore } from '../helpers/sigstore.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { row, runCli, verifyJson, startSignedChannel } from '../helpers/e2e.ts';
import type { Workspace } from '../helpers/e2e.ts';
import { closedPort } from '../helpers/loopback.ts';

const DAY = 86_400_000;

let sig: LocalSigstore;
let ch: FixtureChannel;
let ws: Workspace;
let close: () => Promise<void>;
let agedRoot: string;

before(async () => {
  ({ sig, ch, ws, close } = await startSignedChannel({
    name: 'forge',
    packages: [{ spec: { name: 'good', version: '1.0', build: 'h0_0', files: { 'share/good.txt': 'good\n' } } }],
  }, 'conda-attest-trust-root-'));
  // The same keys, but every entry valid since 400 days ago: the root's age is 400 days.
  const start = new Date(Date.now() - 400 * DAY - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const aged = JSON.parse(JSON.stringify(sig.trustedRoot)) as Record<string, { validFor?: { start: string }; publicKey?: { validFor: { start: string } } }[]>;
  for (const key of ['certificateAuthorities', 'tlogs', 'ctlogs', 'timestampAuthorities']) {
    for (const e of aged[key] ?? []) {
      if (e.validFor) e.validFor.start = start;
      if (e.publicKey?.validFor) e.publicKey.validFor.start = start;
    }
  }
  agedRoot = ws.write('aged-root.json', JSON.stringify(aged));
});

after(() => close?.());

function configFile(name: string, top: Record<string, unknown>, channel: Record<string, unknown> = {}): string {
  return ws.writeConfig({ lockfile: `${name}.lock`, http: { retries: 0, timeout_ms: 5000 }, channels: { [ch.url]: channel }, ...top }, `${name}.json`);
}

test('trust-root status: source, age, digest and validity windows of the root in use', async () => {
  const cfg = configFile('status', { trust_root: sig.trustedRootPath });
  const r = await runCli(ws, ['trust-root', 'status', '--config', cfg, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.source, sig.trustedRootPath);
  assert.equal(s.digest, createHash('sha256').update(readFileSync(sig.trustedRootPath)).digest('hex'));
  // The local instance's keys became valid moments (at most a day) ago.
  assert.ok(s.age_days === 0 || s.age_days === 1, String(s.age_days));
  assert.equal(s.stale, false);
  assert.deepEqual(
    s.validity.map((w: { kind: string }) => w.kind).sort(),
    ['certificate-authority', 'ctlog', 'timestamp-authority', 'tlog'],
  );
  for (const w of s.validity) assert.match(w.start, /^\d{4}-\d{2}-\d{2}T/);
  const text = await runCli(ws, ['trust-root', 'status', '--config', cfg]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^age: +[01] days \(notice above 180 days\)$/m);
  assert.match(text.stdout, /^digest: +sha256:[0-9a-f]{64}$/m);
  // The aged root, with and without a limit.
  const aged = await runCli(ws, ['trust-root', 'status', '--config', configFile('status-aged', { trust_root: agedRoot, trust_root_max_age_days: 30 }), '--json']);
  assert.equal(aged.code, 0, 'status reports; it does not enforce');
  const a = JSON.parse(aged.stdout);
  assert.equal(a.age_days, 400);
  assert.equal(a.stale, true);
  assert.equal(a.notices[0].code, 'TRUST_ROOT_STALE');
});

test('trust-root export FILE writes the root in use byte for byte; a machine pointed at it verifies offline', async () => {
  const cfg = configFile('export', { trust_root: sig.trustedRootPath });
  const out = ws.path('exported', 'trusted_root.json');
  const r = await runCli(ws, ['trust-root', 'export', out, '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(out), readFileSync(sig.trustedRootPath));
  assert.match(r.stderr, /trust_root/);
  const airgapped = configFile('airgapped', { trust_root: out });
  const p = ch.get(fn('good'));
  const v = await verifyJson(ws, ['--config', airgapped, '--no-tuf-refresh', p.url]);
  assert.equal(row(v.report, fn('good')).status, 'verified');
  // Usage errors: no FILE, an unknown subcommand, a file that cannot be written.
  assert.equal((await runCli(ws, ['trust-root', 'export', '--config', cfg])).code, 2);
  assert.equal((await runCli(ws, ['trust-root', 'frobnicate', '--config', cfg])).code, 2);
  const blocked = await runCli(ws, ['trust-root', 'export', ws.path('aged-root.json', 'x.json'), '--config', cfg]);
  assert.equal(blocked.code, 2);
  assert.match(blocked.stderr, /Cannot write/);
});

test('trust-root refresh: a file root is not refreshed through TUF; an unreachable TUF mirror is TRUST_ROOT_REFRESH_FAILED (exit 2)', async () => {
  const file = await runCli(ws, ['trust-root', 'refresh', '--config', configFile('refresh-file', { trust_root: sig.trustedRootPath })]);
  assert.equal(file.code, 2);
  assert.match(file.stderr, /TRUST_ROOT_REFRESH_FAILED: trust_root is the file/);
  // A port that was free a moment ago: connection refused on 127.0.0.1, no other network.
  const port = await closedPort();
  const pg = await runCli(ws, ['trust-root', 'refresh', '--tuf-mirror', `http://127.0.0.1:${port}`, '--config', configFile('refresh-pg', { trust_root: 'public-good' })]);
  assert.equal(pg.code, 2);
  assert.match(pg.stderr, /TRUST_ROOT_REFRESH_FAILED: Could not refresh the public-good trusted root through TUF \(http:\/\/127\.0\.0\.1:/);
  assert.match(pg.stderr, /hint: .*trust-root export/);
});

test('verify: a root older than trust_root_max_age_days stops the run (exit 2, TRUST_ROOT_STALE naming source and age)', async () => {
  const p = ch.get(fn('good'));
  const stale = await runCli(ws, ['verify', '--json', '--config', configFile('stale', { trust_root: agedRoot, trust_root_max_age_days: 30 }), p.url]);
  assert.equal(stale.code, 2, stale.stderr);
  assert.equal(stale.stdout, '');
  assert.match(stale.stderr, new RegExp(`TRUST_ROOT_STALE: The trust root ${agedRoot.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is 400 days old \\(it dates from \\d{4}-\\d{2}-\\d{2}\\), older than trust_root_max_age_days \\(30\\)`));
  assert.match(stale.stderr, /hint: Replace /);
  // Within the limit: verified, no notice.
  const ok = await verifyJson(ws, ['--config', configFile('fresh', { trust_root: agedRoot, trust_root_max_age_days: 400 }), p.url]);
  assert.equal(row(ok.report, fn('good')).status, 'verified');
  assert.ok(!JSON.stringify(ok.report).includes('TRUST_ROOT_STALE'));
  // No limit: the 180-day notice, and the run goes on.
  const noted = await verifyJson(ws, ['--config', configFile('noted', { trust_root: agedRoot }), p.url]);
  assert.equal(row(noted.report, fn('good')).status, 'verified');
  assert.match(JSON.stringify(noted.report), /TRUST_ROOT_STALE: trust root .* \(400 days old, more than 180\)/);
});

/** The date of `days` ago, as the trust-root lines print it. */
const dayAgo = (days: number) => new Date(Date.now() - days * DAY - 3_600_000).toISOString().slice(0, 10);

test('verify text: a stale custom root is one line, said once, and the summary says nothing more about it; --verbose names the root and its date', async () => {
  const p = ch.get(fn('good'));
  const cfg = configFile('stale-text', { trust_root: agedRoot });
  const r = await runCli(ws, ['verify', '--config', cfg, p.url]);
  assert.equal(r.code, 0, r.stderr);
  // Said once, in the report or on stderr (conda-attest: prefix), wherever the text format tells warnings.
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => /trust root|TRUST_ROOT/i.test(l)).map((l) => l.replace(/^conda-attest: /, ''));
  assert.deepEqual(lines, [
    `warning: TRUST_ROOT_STALE: trust root ${agedRoot} of ${dayAgo(400)} (400 days old, more than 180); replace it with a current trusted_root.json (\`conda-attest trust-root export FILE\` where it can refresh).`,
  ]);
  const v = await runCli(ws, ['verify', '--verbose', '--config', cfg, p.url]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^trust root: ${agedRoot.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} of ${dayAgo(400)}, 400 days old$`, 'm'));
});

test('verify --offline with the embedded public-good root prints nothing about its age (dated by its signed TUF metadata, not its newest key); --verbose shows it', async () => {
  const p = ch.get(fn('good'));
  const file = ws.write('offline-pg/' + fn('good'), p.bytes);
  const sigs = ws.write('offline-pg/good.sigs', JSON.stringify(p.bundles));
  const cfg = configFile('offline-pg', { trust_root: 'public-good' });
  const args = ['verify', '--offline', '--config', cfg, '--channel', ch.url, '--sigs', sigs, file];
  const r = await runCli(ws, args);
  // Signed by the local Sigstore instance, so not verified against public-good: the point is what is said about the root.
  assert.equal(r.code, 1, r.stderr);
  // The age rule: the embedded root is as old as its signed TUF root.json (expires minus its tuf-on-ci expiry period).
  const seeds = createRequire(import.meta.url)('@sigstore/tuf/seeds.json') as Record<string, Record<string, string>>;
  const tuf = JSON.parse(Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!['root.json']!, 'base64').toString());
  const signed = Date.parse(tuf.signed.expires) - tuf.signed['x-tuf-on-ci-expiry-period'] * DAY;
  const age = Math.floor((Date.now() - signed) / DAY);
  const date = new Date(signed).toISOString().slice(0, 10);
  const aboutRoot = (r.stdout + r.stderr).split('\n').filter((l) => /TRUST_ROOT_(STALE|REFRESH)|^trust root|days old|public-good of/.test(l)).map((l) => l.replace(/^conda-attest: /, ''));
  // Within 180 days of that signature (true for a current release), nothing; past it, exactly the one line.
  assert.deepEqual(aboutRoot, age > 180 ? [`warning: TRUST_ROOT_STALE: trust root public-good of ${date} (${age} days old, more than 180); run \`conda-attest trust-root refresh\` when online.`] : []);
  const v = await runCli(ws, [...args, '--verbose']);
  assert.match(v.stdout, new RegExp(`^trust root: public-good \\(embedded snapshot\\) of ${date}, ${age} days? old$`, 'm'));
  const j = await runCli(ws, [...args, '--json']);
  const report = JSON.parse(j.stdout);
  assert.deepEqual([report.trust_root.as_of, report.trust_root.age_days], [date, age]);
});

test('re-exporting an old root does not make it young: the exported file is as old as its content says', async () => {
  const out = ws.path('re-exported', 'trusted_root.json');
  const e = await runCli(ws, ['trust-root', 'export', out, '--config', configFile('reexport', { trust_root: agedRoot })]);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, new RegExp(`wrote the trust root in use \\(.* of ${dayAgo(400)}\\)`));
  const s = await runCli(ws, ['trust-root', 'status', '--json', '--config', configFile('reexported', { trust_root: out })]);
  const status = JSON.parse(s.stdout);
  assert.deepEqual([status.age_days, status.as_of], [400, dayAgo(400)]);
});

test('policy: the effective policy of the config, as text and JSON', async () => {
  const cfg = ws.writeConfig(
    {
      trust_root: sig.trustedRootPath,
      trust_root_max_age_days: 90,
      channels: {
        [ch.url]: {
          mirrors: ['https://mirror.example/forge'],
          trusted_identities: ['github:acme/tool@refs/heads/main', { identity: 'github:acme/*', runner: 'github-hosted', trigger: 'release', repository_id: 42 }],
          packages: { openssl: { trusted_identities: ['github:acme/openssl'] }, 'legacy-*': { require: 'warn' } },
          exceptions: [
            { package: 'legacy-tool', until: '2999-12-31', reason: 'upstream does not attest yet' },
            { package: 'old-tool', until: '2000-01-01' },
          ],
        },
      },
    },
    'policy.json',
  );
  const j = await runCli(ws, ['policy', '--config', cfg, '--format', 'json']);
  assert.equal(j.code, 0, j.stderr);
  const view = JSON.parse(j.stdout);
  assert.equal(view.trust_root_max_age_days, 90);
  assert.deepEqual(view.channels.map((c: { channel: string }) => c.channel), [ch.url, 'default']);
  const c = view.channels[0];
  assert.equal(c.require, 'error');
  assert.equal(c.trusted_identities[0].identity, 'github:acme/tool@refs/heads/main');
  assert.equal(c.trusted_identities[0].issuer, 'https://token.actions.githubusercontent.com');
  assert.match(c.trusted_identities[0].expands_to, /https:\/\/github\.com\/acme\/tool .*1\.3\.6\.1\.4\.1\.57264\.1\.12.*refs\/heads\/main/);
  assert.deepEqual(c.trusted_identities[1].constraints, { repository_id: '42', trigger: ['release'], runner: 'github-hosted' });
  assert.deepEqual(c.packages.map((r: { pattern: string }) => r.pattern), ['legacy-*', 'openssl']);
  assert.equal(c.exceptions[0].package, 'legacy-tool');
  assert.equal(c.exceptions[0].expired, false);
  assert.ok(c.exceptions[0].days_left > 300);
  assert.equal(c.exceptions[1].expired, true);
  const t = await runCli(ws, ['policy', '--config', cfg]);
  assert.equal(t.code, 0);
  assert.match(t.stdout, /runner: github-hosted {2}\(Runner Environment, OID 1\.3\.6\.1\.4\.1\.57264\.1\.11\)/);
  assert.match(t.stdout, /legacy-tool until 2999-12-31 \(\d+ days left\): upstream does not attest yet/);
  assert.match(t.stdout, /old-tool until 2000-01-01 \(EXPIRED \d+ days ago\)/);
  assert.equal((await runCli(ws, ['policy', '--config', cfg, '--format', 'yaml'])).code, 2);
});

test('policy TARGET: only the channels the target uses; a mirror shows its channel, an unlisted channel the default', async () => {
  const cfg = ws.writeConfig(
    { trust_root: sig.trustedRootPath, channels: { [ch.url]: { mirrors: ['https://mirror.example/forge'], trusted_identities: ['github:acme/tool'] }, 'https://unused.example/x': {} } },
    'policy-target.json',
  );
  const explicit = ws.write(
    'env.txt',
    `@EXPLICIT\nhttps://mirror.example/forge/noarch/${fn('good')}\nhttps://other.example/ch/noarch/${fn('other')}\n`,
  );
  const r = await runCli(ws, ['policy', '--config', cfg, '--json', explicit]);
  assert.equal(r.code, 0, r.stderr);
  const view = JSON.parse(r.stdout);
  assert.deepEqual(view.channels.map((c: { channel: string }) => c.channel), [ch.url, 'https://other.example/ch']);
  assert.deepEqual(view.channels[0].seen_as, ['https://mirror.example/forge']);
  assert.equal(view.channels[1].enabled, false);
  // A broken config is exit 2 with the failing path.
  const bad = ws.writeConfig({ channels: { [ch.url]: { trusted_identities: ['github:acme'] } } }, 'bad.json');
  const b = await runCli(ws, ['policy', '--config', bad]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /trusted_identities\[0\]: "github:acme" must name exactly one GitHub repository/);
});
