// Policy on the whole signer, end to end: certificates issued by the local Sigstore
// instance with chosen Fulcio claims (runner, trigger, ref, repository and owner IDs,
// signer workflow, deployment environment), served by a loopback channel, verified by
// the pipeline. Each constraint, the shorthands at repository boundaries, and per-package
// precedence, against real certificates.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalSigstore } from '../helpers/sigstore.ts';
import type { LocalSigstore, SignOptions } from '../helpers/sigstore.ts';
import { startFixtureChannel } from '../helpers/channel.ts';
import type { FixtureChannel } from '../helpers/channel.ts';
import { simpleFilename as fn } from '../helpers/conda.ts';
import { codes, makeWorkspace, resolveIn, row, runSession } from '../helpers/e2e.ts';
import type { JsonReport, Workspace } from '../helpers/e2e.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { recordFromUrl } from '../../src/targets/index.ts';
import { ConfigError } from '../../src/errors.ts';

const TOOL = 'https://github.com/acme/tool/.github/workflows/build.yml';
const MAIN = `${TOOL}@refs/heads/main`;

/** Package name → how its attestation's certificate differs from a clean acme/tool build on main. */
const SIGNERS: Record<string, SignOptions> = {
  hosted: { san: MAIN, claims: { deploymentEnvironment: 'upload' } },
  selfhosted: { san: MAIN, claims: { deploymentEnvironment: 'upload', runnerEnvironment: 'self-hosted' } },
  prtarget: { san: MAIN, claims: { deploymentEnvironment: 'upload', buildTrigger: 'pull_request_target' } },
  devref: { san: `${TOOL}@refs/heads/dev`, claims: { deploymentEnvironment: 'upload' } },
  // Same name, another repository: deleted and re-created, or a rename squatted.
  reborn: { san: MAIN, claims: { deploymentEnvironment: 'upload', sourceRepositoryId: '6666' } },
  newowner: { san: MAIN, claims: { deploymentEnvironment: 'upload', sourceRepositoryOwnerId: '6667' } },
  noenv: { san: MAIN, claims: { deploymentEnvironment: null } },
  staging: { san: MAIN, claims: { deploymentEnvironment: 'staging' } },
  foreignsigner: {
    san: MAIN,
    claims: { deploymentEnvironment: 'upload', buildSignerUri: 'https://github.com/evil/shared/.github/workflows/build.yml@refs/heads/main' },
  },
  noclaims: {
    san: MAIN,
    claims: Object.fromEntries(
      ['buildSignerUri', 'buildSignerDigest', 'runnerEnvironment', 'sourceRepositoryUri', 'sourceRepositoryDigest', 'sourceRepositoryRef', 'sourceRepositoryId', 'sourceRepositoryOwnerUri', 'sourceRepositoryOwnerId', 'buildConfigUri', 'buildConfigDigest', 'buildTrigger', 'runInvocationUri', 'sourceRepositoryVisibility'].map((k) => [k, null]),
    ),
  },
  // Boundary attacks on `github:acme/tool`.
  neighbour: { san: 'https://github.com/acme/tool-evil/.github/workflows/build.yml@refs/heads/main' },
  // acme/tool's public reusable workflow, called by someone else's repository.
  reusable: {
    san: MAIN,
    claims: { sourceRepositoryUri: 'https://github.com/evil/app', sourceRepositoryOwnerUri: 'https://github.com/evil' },
  },
  dotdot: { san: MAIN, claims: { sourceRepositoryUri: 'https://github.com/acme/tool/../x' } },
  otherissuer: { san: MAIN, issuer: 'https://issuer.evil.example' },
};

let sig: LocalSigstore;
let forge: FixtureChannel;
let ws: Workspace;

before(async () => {
  sig = await startLocalSigstore();
  ws = makeWorkspace('conda-attest-signer-policy-');
  forge = await startFixtureChannel({
    sigstore: sig,
    name: 'forge',
    packages: Object.entries(SIGNERS).map(([name, signOptions]) => ({
      spec: { name, version: '1.0', build: 'h0_0', files: { [`share/${name}.txt`]: `${name}\n` } },
      signOptions,
    })),
  });
});

after(async () => {
  await forge?.close();
  await sig?.close();
  ws?.cleanup();
});

let lockN = 0;
function config(channel: Record<string, unknown>) {
  return resolveIn(ws, {
    trust_root: sig.trustedRootPath,
    cache_dir: 'cache',
    channels: { [forge.url]: channel },
  });
}
async function verify(names: string[], channel: Record<string, unknown>, lockfile = ws.path(`lock-${++lockN}.json`)): Promise<JsonReport> {
  const records = names.map((n) => {
    const p = forge.get(fn(n));
    return { ...recordFromUrl(p.url), sha256: p.sha256 };
  });
  return runSession(config(channel), records, { lockfile });
}
function reasonText(report: JsonReport, name: string): string {
  return row(report, fn(name)).reasons.map((r) => r.message).join('\n');
}

// The example constraints, written as YAML would give them (a numeric ID unquoted).
const ALL_CONSTRAINTS = {
  identity: 'github:acme/tool',
  repository_id: 1001,
  owner_id: '2001',
  ref: 'refs/heads/main',
  signer_workflow: `${TOOL.replace('build.yml', '*.yml')}@refs/heads/*`,
  trigger: ['push', 'release', 'workflow_dispatch'],
  runner: 'github-hosted',
  environment: 'upload',
};

test('each claim constraint, against real certificates: the failing constraint and the certificate value are named', async () => {
  const expected: Record<string, string | null> = {
    hosted: null,
    selfhosted: 'runner: wanted github-hosted, certificate says self-hosted',
    prtarget: 'trigger: wanted one of push, release, workflow_dispatch, certificate says pull_request_target',
    devref: 'ref: wanted refs/heads/main, certificate says refs/heads/dev',
    reborn: 'repository_id: wanted 1001, certificate says 6666',
    newowner: 'owner_id: wanted 2001, certificate says 6667',
    noenv: 'environment: wanted upload, certificate has no Deployment Environment claim (OID 1.3.6.1.4.1.57264.1.23)',
    staging: 'environment: wanted upload, certificate says staging',
    foreignsigner: 'signer_workflow: wanted https://github.com/acme/tool/.github/workflows/*.yml@refs/heads/*, certificate says https://github.com/evil/shared/.github/workflows/build.yml@refs/heads/main',
  };
  const report = await verify(Object.keys(expected), { trusted_identities: [ALL_CONSTRAINTS] });
  for (const [name, failure] of Object.entries(expected)) {
    const p = row(report, fn(name));
    if (failure === null) {
      assert.equal(p.status, 'verified', `${name}: ${reasonText(report, name)}`);
      assert.equal(p.identity?.deployment_environment, 'upload', 'the .23 claim is decoded and reported');
      continue;
    }
    assert.equal(p.status, 'untrusted', name);
    assert.equal(p.action, 'block', name);
    assert.deepEqual(codes(p), ['IDENTITY_UNTRUSTED'], name);
    assert.ok(reasonText(report, name).includes(failure), `${name}: want "${failure}" in\n${reasonText(report, name)}`);
    assert.match(p.reasons[0]!.hint ?? '', /trusted_identities/);
  }
});

test('a certificate without the claims satisfies no constraint (one line per missing claim)', async () => {
  const report = await verify(['noclaims'], { trusted_identities: [{ ...ALL_CONSTRAINTS, identity: MAIN, issuer: 'https://token.actions.githubusercontent.com' }] });
  const p = row(report, fn('noclaims'));
  assert.equal(p.status, 'untrusted');
  const text = reasonText(report, 'noclaims');
  for (const oid of ['.15', '.17', '.14', '.9', '.20', '.11', '.23']) assert.ok(text.includes(`OID 1.3.6.1.4.1.57264.1${oid})`), `${oid} in ${text}`);
});

test('constraints on a SAN pattern work the same; a matching pattern without constraints is not needed', async () => {
  const report = await verify(['hosted', 'selfhosted'], {
    trusted_identities: [{ identity: `${TOOL.replace('build.yml', '*.yml')}@refs/heads/main`, issuer: 'https://token.actions.githubusercontent.com', runner: 'github-hosted' }],
  });
  assert.equal(row(report, fn('hosted')).status, 'verified');
  assert.equal(row(report, fn('selfhosted')).status, 'untrusted');
});

test('github:acme/tool: builds of exactly that repository; neighbours, reusable-workflow callers, path tricks and other issuers are untrusted', async () => {
  const report = await verify(['hosted', 'devref', 'neighbour', 'reusable', 'dotdot', 'otherissuer', 'noclaims'], { trusted_identities: ['github:acme/tool'] });
  assert.equal(row(report, fn('hosted')).status, 'verified');
  assert.equal(row(report, fn('devref')).status, 'verified', 'no @ref: any ref');
  for (const name of ['neighbour', 'reusable', 'dotdot', 'otherissuer', 'noclaims']) {
    const p = row(report, fn(name));
    assert.equal(p.status, 'untrusted', name);
    assert.match(reasonText(report, name), /matches none of the trusted identities: github:acme\/tool \(issuer https:\/\/token\.actions\.githubusercontent\.com\)/, name);
  }
});

test('github:acme/tool@ref as an object with constraints', async () => {
  const report = await verify(['hosted', 'devref', 'selfhosted'], {
    trusted_identities: [{ identity: 'github:acme/tool@refs/heads/main', runner: 'github-hosted' }],
  });
  assert.equal(row(report, fn('hosted')).status, 'verified');
  assert.match(reasonText(report, 'devref'), /ref: wanted refs\/heads\/main, certificate says refs\/heads\/dev/);
  assert.match(reasonText(report, 'selfhosted'), /runner: wanted github-hosted, certificate says self-hosted/);
});

test('per-package rules: exact over glob, longer glob over shorter, unmatched names keep the channel policy', async () => {
  const channel = { trusted_identities: ['github:acme/tool@refs/heads/main'] };
  const dev = { trusted_identities: ['github:acme/tool@refs/heads/dev'] };
  // A glob rule allows the dev branch for dev* packages only.
  let r = await verify(['devref', 'hosted', 'selfhosted'], { ...channel, packages: { 'dev*': dev } });
  assert.equal(row(r, fn('devref')).status, 'verified');
  assert.equal(row(r, fn('hosted')).status, 'verified');
  // A longer glob wins (and sets only `require`: identities come from the channel).
  r = await verify(['devref'], { ...channel, packages: { 'dev*': dev, 'devr*': { require: 'warn' } } });
  let p = row(r, fn('devref'));
  assert.equal(p.status, 'untrusted');
  assert.equal(p.action, 'warn');
  assert.match(p.reasons[0]!.hint ?? '', /packages\["devr\*"\]\.trusted_identities/);
  // The exact name wins over both globs.
  r = await verify(['devref', 'selfhosted'], { ...channel, packages: { 'dev*': { require: 'warn' }, 'devr*': { require: 'warn' }, devref: { ...dev, require: 'error' } } });
  assert.equal(row(r, fn('devref')).status, 'verified');
  // A package matching no rule is judged by the channel.
  p = row(r, fn('selfhosted'));
  assert.equal(p.status, 'verified', 'channel trusts main with no runner constraint');
  // Equally specific globs that can match the same name: a configuration error.
  assert.throws(
    () => config({ ...channel, packages: { 'dev*': dev, '*ref': { require: 'warn' } } }),
    (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID' && JSON.stringify(e.details).includes('is as specific as'),
  );
});

test('exceptions: an active one passes the package with status and reasons kept; an expired one is judged normally with EXCEPTION_EXPIRED', async () => {
  const channel = { trusted_identities: [{ identity: 'github:acme/tool', runner: 'github-hosted' }] };
  const lock = ws.path('exceptions.lock');
  let r = await verify(['selfhosted', 'hosted'], { ...channel, exceptions: [{ package: 'self*', until: '2999-12-31', reason: 'runner migration' }] }, lock);
  let p = row(r, fn('selfhosted'));
  assert.equal(p.status, 'untrusted');
  assert.equal(p.action, 'pass');
  assert.deepEqual(codes(p), ['IDENTITY_UNTRUSTED']);
  assert.match(reasonText(r, 'selfhosted'), /runner: wanted github-hosted, certificate says self-hosted/);
  assert.deepEqual((p as unknown as { exception: unknown }).exception, { until: '2999-12-31', reason: 'runner migration' });
  assert.ok(p.notes.some((n) => /^exception until 2999-12-31 \(\d+ days left\): runner migration$/.test(n)), p.notes.join());
  assert.equal(r.summary.blocked, 0);
  assert.equal((row(r, fn('hosted')) as unknown as { exception?: unknown }).exception, undefined, 'a non-matching name has no exception');

  // Expired: judged normally (blocked), and a notice names the package.
  r = await verify(['selfhosted'], { ...channel, exceptions: [{ package: 'selfhosted', until: '2020-01-31', reason: 'runner migration' }] });
  p = row(r, fn('selfhosted'));
  assert.equal(p.action, 'block');
  assert.equal((p as unknown as { exception?: unknown }).exception, undefined);
  // Once, as a notice (JSON warnings no longer repeat the notices: see CHANGELOG.md).
  const { notices } = r as unknown as { notices: { code: string; message: string }[] };
  const expired = notices.filter((n) => n.code === 'EXCEPTION_EXPIRED');
  assert.equal(expired.length, 1);
  assert.match(expired[0]!.message, /^The exception for selfhosted .* expired after 2020-01-31/);

  // An exception for a look-alike name does not apply.
  r = await verify(['selfhosted'], { ...channel, exceptions: [{ package: 'selfhosted-evil', until: '2999-12-31' }] });
  assert.equal(row(r, fn('selfhosted')).action, 'block');
});

test('exceptions never change the identity lockfile: nothing is pinned on first use, a changed identity stays pinned as it was', async () => {
  const lock = ws.path('exempt.lock');
  // First use under an exception: verified, but nothing pinned.
  let r = await verify(['hosted'], { trusted_identities: ['github:acme/tool'], exceptions: [{ package: 'hosted', until: '2999-12-31' }] }, lock);
  assert.equal(row(r, fn('hosted')).status, 'verified');
  assert.ok(!row(r, fn('hosted')).notes.includes('recorded'));
  assert.ok(!existsSync(lock) || !readFileSync(lock, 'utf8').includes('"hosted"'), 'nothing pinned under an exception');
  // Pinned normally, then the pinned identity is made to differ (as if the signer changed).
  r = await verify(['hosted'], { trusted_identities: ['github:acme/tool'] }, lock);
  assert.ok(row(r, fn('hosted')).notes.includes('recorded'));
  writeFileSync(lock, readFileSync(lock, 'utf8').replaceAll('acme/tool', 'acme/older'));
  const pinned = readFileSync(lock, 'utf8');
  r = await verify(['hosted'], { trusted_identities: ['github:acme/tool'], exceptions: [{ package: 'hosted', until: '2999-12-31', reason: 'moved repository' }] }, lock);
  const p = row(r, fn('hosted'));
  assert.equal(p.status, 'identity-changed');
  assert.equal(p.action, 'pass');
  assert.ok(codes(p).includes('IDENTITY_CHANGED'));
  assert.equal(readFileSync(lock, 'utf8'), pinned, 'the lockfile is untouched');
  // Without the exception, the same run blocks and still pins nothing new.
  r = await verify(['hosted'], { trusted_identities: ['github:acme/tool'] }, lock);
  assert.equal(row(r, fn('hosted')).action, 'block');
});
