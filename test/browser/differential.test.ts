// Same answers as the CLI: every case of the shared sigstore-conformance subset
// (../shared/conformance) and the project's own attack cases (bundles from the local
// Sigstore instance, tampered one way each; another instance's bundle; a custom trusted
// root that must be refused) go through `conda-attest verify-bundle --format json` under
// Node and through `verifyBundle` in headless Chromium, with the artifact and with its
// sha256: digest. Verdict, code, signer identity and the per-bundle evidence must be the
// same on every case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundleCommand } from '../../src/cli/verify-bundle.ts';
import { runInProcess } from '../helpers/cli-io.ts';
import { DEFAULT_SAN, GITHUB_ISSUER, type TamperKind, generateTestKey, publishStatement, startLocalSigstore, tamperBundle } from '../helpers/sigstore.ts';
import { type BrowserModule, SHARED_DIR, browserSkip, openPage } from './harness.ts';

const CONFORMANCE_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';

interface Case {
  name: string;
  bundle: string;
  artifact: Buffer;
  identity?: string;
  issuer?: string;
  key?: string;
  trustedRoot?: string;
}

/** A case directory in the conformance layout (bundle.sigstore.json, artifact, identity, issuer, key.pub, trusted_root.json). */
function readCase(dir: string, name: string, fallbackArtifact: string): Case {
  const f = (n: string): string => join(dir, n);
  const opt = (n: string): string | undefined => (existsSync(f(n)) ? readFileSync(f(n), 'utf8') : undefined);
  const key = opt('key.pub');
  return {
    name,
    bundle: readFileSync(f('bundle.sigstore.json'), 'utf8'),
    artifact: readFileSync(existsSync(f('artifact')) ? f('artifact') : fallbackArtifact),
    ...(key !== undefined ? { key } : { identity: opt('identity')?.trim() ?? CONFORMANCE_IDENTITY, issuer: opt('issuer')?.trim() ?? GITHUB_ISSUER }),
    ...(opt('trusted_root.json') !== undefined ? { trustedRoot: opt('trusted_root.json') } : {}),
  };
}

/** The project's attack cases, signed by the local Sigstore instance. */
async function attackCases(): Promise<{ cases: Case[]; close(): Promise<void> }> {
  const sigstore = await startLocalSigstore();
  const root = JSON.stringify(sigstore.trustedRoot);
  const artifact = Buffer.from('conda-attest differential artifact\n');
  const sha256 = createHash('sha256').update(artifact).digest('hex');
  const statement = publishStatement({ filename: 'a.txt', sha256, targetChannel: 'https://conda.example/ch' });
  const good = await sigstore.attest(statement);
  const base = { artifact, identity: DEFAULT_SAN, issuer: GITHUB_ISSUER, trustedRoot: root };
  const cases: Case[] = [
    { name: 'attack/good-dsse', bundle: JSON.stringify(good), ...base },
    { name: 'attack/good-message-signature-with-tsa', bundle: JSON.stringify(await sigstore.signBlob(artifact, { tsa: true })), ...base },
    { name: 'attack/good-v0.2-chain', bundle: JSON.stringify(await sigstore.attest(statement, { bundleVersion: '0.2' })), ...base },
    { name: 'attack/other-artifact', bundle: JSON.stringify(good), ...base, artifact: Buffer.from('other bytes\n') },
    { name: 'attack/other-identity', bundle: JSON.stringify(good), ...base, identity: 'https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main' },
    { name: 'attack/other-issuer', bundle: JSON.stringify(good), ...base, issuer: 'https://evil.example' },
    { name: 'attack/wrong-instance-ca', bundle: JSON.stringify(await sigstore.attest(statement, { wrongInstance: { ca: true }, freshCertificate: true })), ...base },
    { name: 'attack/wrong-instance-rekor', bundle: JSON.stringify(await sigstore.attest(statement, { wrongInstance: { rekor: true } })), ...base },
    { name: 'attack/untrusted-root', bundle: JSON.stringify(good), ...base, trustedRoot: JSON.stringify(sigstore.wrongTrustedRoot) },
    { name: 'attack/public-good-root', bundle: JSON.stringify(good), ...base, trustedRoot: undefined },
    { name: 'attack/not-json', bundle: '{"mediaType": ', ...base },
    { name: 'attack/unknown-media-type', bundle: JSON.stringify({ ...good, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=9' }), ...base },
  ];
  for (const kind of ['signature', 'payload', 'set', 'inclusion-proof', 'checkpoint', 'tlog-body', 'certificate'] as TamperKind[]) {
    cases.push({ name: `attack/tampered-${kind}`, bundle: JSON.stringify(tamperBundle(good, kind, { ...statement, predicate: { targetChannel: 'https://evil.example' } })), ...base });
  }
  // Custom trusted roots are validated by the shared core (trust-root-validate.ts) in both hosts.
  const noStart = structuredClone(sigstore.trustedRoot) as { tlogs: { publicKey: { validFor: Record<string, unknown> } }[] };
  delete noStart.tlogs[0]!.publicKey.validFor.start;
  const badChain = structuredClone(sigstore.trustedRoot) as { certificateAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[] };
  badChain.certificateAuthorities[0]!.certChain.certificates[0]!.rawBytes = Buffer.from('not a certificate').toString('base64');
  cases.push({ name: 'attack/root-tlog-without-start', bundle: JSON.stringify(good), ...base, trustedRoot: JSON.stringify(noStart) });
  cases.push({ name: 'attack/root-bad-certificate', bundle: JSON.stringify(good), ...base, trustedRoot: JSON.stringify(badChain) });
  // Self-managed keys: the right key verifies; another key (P-256 and Ed25519) does not.
  const key = generateTestKey();
  const keyed = JSON.stringify(await sigstore.attestWithKey(statement, { privateKey: key.privateKey }));
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const keyBase = { artifact, trustedRoot: root };
  cases.push({ name: 'attack/key-good', bundle: keyed, ...keyBase, key: key.publicKeyPem });
  cases.push({ name: 'attack/key-other-p256', bundle: keyed, ...keyBase, key: other });
  cases.push({ name: 'attack/key-other-ed25519', bundle: keyed, ...keyBase, key: ed });
  cases.push({ name: 'attack/key-not-a-key', bundle: keyed, ...keyBase, key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' });
  cases.push({ name: 'attack/key-for-certificate-bundle', bundle: JSON.stringify(good), ...keyBase, key: key.publicKeyPem });
  return { cases, close: () => sigstore.close() };
}

interface Verdict {
  verified: boolean;
  code: string | null;
  identity: Record<string, string | null> | null;
  evidence: unknown;
}

/** The Node CLI's answer (in process: argument parsing, file reading and trust-root loading included). */
async function cliVerdict(c: Case, form: 'file' | 'digest', dir: string, env: NodeJS.ProcessEnv): Promise<Verdict> {
  const d = join(dir, c.name.replace(/\W/g, '_'));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'bundle.json'), c.bundle);
  writeFileSync(join(d, 'artifact'), c.artifact);
  const args = ['--format', 'json', '--bundle', join(d, 'bundle.json')];
  if (c.key !== undefined) {
    writeFileSync(join(d, 'key.pub'), c.key);
    args.push('--key', join(d, 'key.pub'));
  } else args.push('--certificate-identity', c.identity!, '--certificate-oidc-issuer', c.issuer!);
  if (c.trustedRoot !== undefined) {
    writeFileSync(join(d, 'trusted_root.json'), c.trustedRoot);
    args.push('--trusted-root', join(d, 'trusted_root.json'));
  }
  args.push(form === 'file' ? join(d, 'artifact') : `sha256:${createHash('sha256').update(c.artifact).digest('hex')}`);
  const r = await runInProcess(verifyBundleCommand, args, { cwd: d, env });
  const o = JSON.parse(r.stdout) as Verdict;
  // The CLI names a key by its file; the page gives the key itself (named by its fingerprint).
  if (o.identity) delete o.identity.key_name;
  return { verified: o.verified, code: o.code, identity: o.identity, evidence: o.evidence };
}

test('verifyBundle in Chromium answers like the Node CLI on the conformance suite and the attack cases', { skip: browserSkip(), timeout: 600_000 }, async (t) => {
  const conformance = join(SHARED_DIR, 'conformance');
  const cases: Case[] = [];
  if (existsSync(conformance)) {
    for (const name of readdirSync(conformance).sort()) {
      if (statSync(join(conformance, name)).isDirectory()) cases.push(readCase(join(conformance, name), name, join(conformance, 'a.txt')));
    }
  } else {
    t.diagnostic('../shared/conformance is absent (a fresh clone): only the attack cases run');
  }
  const attacks = await attackCases();
  t.after(() => attacks.close());
  cases.push(...attacks.cases);

  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-diff-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), NO_COLOR: '1' };

  const b = await openPage();
  t.after(() => b.close());
  const inputs = cases.map((c) => ({ ...c, artifact: c.artifact.toString('base64'), digest: `sha256:${createHash('sha256').update(c.artifact).digest('hex')}` }));
  const page = await b.page.evaluate(async (inputs) => {
    const m: BrowserModule = await import(String('/conda-attest.js'));
    const out: Record<string, { verified: boolean; code: string | null; identity: Record<string, string | null> | null; evidence: unknown }> = {};
    for (const c of inputs) {
      const trustedRoot = c.trustedRoot === undefined ? undefined : JSON.parse(c.trustedRoot);
      const signer = c.key !== undefined ? { key: c.key } : { identity: c.identity, issuer: c.issuer };
      const artifact = Uint8Array.from(atob(c.artifact), (ch) => ch.charCodeAt(0));
      for (const [form, given] of [['file', { artifact }], ['digest', { digest: c.digest }]] as const) {
        const v = await m.verifyBundle({ bundle: c.bundle, trustedRoot, ...signer, ...given });
        if (v.identity) delete v.identity.key_name; // see cliVerdict
        out[`${c.name} (${form})`] = { verified: v.verified, code: v.code, identity: v.identity, evidence: v.evidence };
      }
    }
    return out;
  }, inputs);

  let failing = 0;
  for (const c of cases) {
    for (const form of ['file', 'digest'] as const) {
      const cli = await cliVerdict(c, form, dir, env);
      const inPage = page[`${c.name} (${form})`];
      await t.test(`${c.name} (${form})`, () => {
        assert.deepEqual(inPage, cli, `browser and CLI disagree on ${c.name} (${form})`);
        // The suite's own expectation holds as well: `_fail` cases are refused.
        if (c.name.endsWith('_fail')) assert.equal(cli.verified, false);
      });
      if (!cli.verified) failing++;
    }
  }
  // Both kinds of answer were exercised (a differential of only refusals proves little).
  assert.ok(failing > 0 && failing < cases.length * 2, `${failing} of ${cases.length * 2} refused`);
});
