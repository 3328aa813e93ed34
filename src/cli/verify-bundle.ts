// `conda-attest verify-bundle`: the sigstore-conformance verify protocol.
//
//   verify-bundle --bundle FILE --certificate-identity ID --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
//   verify-bundle --bundle FILE --key PEM_FILE [--trusted-root FILE] FILE_OR_DIGEST
//
// It enters the pipeline at "verification": the same createVerifier() that package
// verification uses, so what the conformance suite proves holds for `verify` too.
// Without --trusted-root the public-good root is used WITHOUT network access (cached TUF
// refresh or the snapshot embedded in @sigstore/tuf), so the command is deterministic and
// works offline; --refresh-trust-root opts into a TUF refresh first.
import { escapeJsonOutput, escapeText } from '../text/escape.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { TargetError, UsageError, VerifyError } from '../errors.ts';
import { resolveConfig } from '../config/validator.ts';
import { loadTrustRoot, PUBLIC_GOOD } from '../verify/trust-root.ts';
import { type ArtifactRef, createVerifier } from '../verify/verifier.ts';
import { type CommandSpec, chooseFormat, formatOptions, HELP_OPTION, parseCommand, renderHelp } from './options.ts';
import { bundleEvidence } from '../verify/evidence.ts';
import { type BundleVerdict, type ExpectedSigner, bundleJsonOf, bundleVerdict, failedVerdict } from '../verify/bundle-outcome.ts';
import type { CliIO, Command } from './io.ts';

const VERIFY_BUNDLE_FORMATS = ['text', 'json'] as const;

export const VERIFY_BUNDLE_SPEC: CommandSpec = {
  name: 'verify-bundle',
  usage: [
    'conda-attest verify-bundle --bundle FILE --certificate-identity IDENTITY --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST',
    'conda-attest verify-bundle --bundle FILE --key PEM_FILE [--trusted-root FILE] FILE_OR_DIGEST',
  ],
  description: `Verifies one Sigstore bundle for an artifact (a file, or sha256:<64 hex> when no such file
exists). The certificate identity (SAN) and OIDC issuer are compared exactly. With --key the
bundle must be signed by that public key (PEM) and logged in the transparency log.
Without --trusted-root the Sigstore public-good root is used offline (cached TUF refresh or
the embedded snapshot); --refresh-trust-root refreshes it through TUF first.
On failure (text format) one line "CODE: message" is written to stderr; --format json
prints one object {verified, code, message, identity, evidence} on stdout instead
(evidence: transparency-log entry, timestamps, certificate validity, checks, links).`,
  options: [
    { name: 'bundle', type: 'string', arg: 'FILE', help: 'the Sigstore bundle (JSON)' },
    { name: 'certificate-identity', type: 'string', arg: 'IDENTITY', help: 'expected certificate SAN (compared exactly)' },
    { name: 'certificate-oidc-issuer', type: 'string', arg: 'URL', help: 'expected OIDC issuer (compared exactly)' },
    { name: 'key', type: 'string', arg: 'PEM_FILE', help: 'expected signing public key, instead of a certificate identity' },
    { name: 'trusted-root', type: 'string', arg: 'FILE', help: 'Sigstore trusted_root.json (default: public-good, offline)' },
    { name: 'refresh-trust-root', type: 'boolean', help: 'refresh the public-good root through TUF first' },
    ...formatOptions(VERIFY_BUNDLE_FORMATS),
    HELP_OPTION,
  ],
  exitCodes: [
    [0, 'verified'],
    [1, 'verification failed'],
    [2, 'usage or input error'],
  ],
};

const DIGEST_RE = /^sha256:([0-9a-fA-F]{64})$/;

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TargetError('TARGET_UNREADABLE', `Cannot read the ${what} ${path}.`, { hint: 'Check the path.', cause: e });
  }
}

/** FILE_OR_DIGEST: a file on disk wins; otherwise `sha256:<64 hex>` is a digest. */
function artifactRef(arg: string, cwd: string): ArtifactRef {
  const path = resolve(cwd, arg);
  if (existsSync(path) && statSync(path).isFile()) return { bytes: readInput(path, 'artifact') };
  const m = DIGEST_RE.exec(arg);
  if (m) return { sha256: m[1]!.toLowerCase() };
  throw new TargetError('TARGET_NOT_FOUND', `The artifact ${arg} is neither a file nor a sha256:<64 hex> digest.`, {
    hint: 'Give the artifact path, or its digest as sha256:<hex>.',
  });
}

function usage(message: string): UsageError {
  return new UsageError('USAGE_INVALID_ARGUMENT', message, { hint: 'Run `conda-attest verify-bundle --help`.' });
}

export const verifyBundleCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  let json = false;
  const emit = (o: BundleVerdict, exit: number): number => {
    if (json) io.stdout.write(escapeJsonOutput(JSON.stringify(o)) + '\n');
    // One line on stderr: `CODE: message` (the conformance protocol's failure report).
    else if (o.verified) io.stdout.write(`OK: ${escapeText(o.message)}\n`);
    else io.stderr.write(`${o.code}: ${escapeText(o.message)}\n`);
    return exit;
  };
  // Read once the bundle is: a failure after that (e.g. an unusable trust root) still shows it.
  let bundleJson: unknown;
  try {
    const parsed = parseCommand(argv, VERIFY_BUNDLE_SPEC);
    const values = parsed.values as {
      bundle?: string; 'certificate-identity'?: string; 'certificate-oidc-issuer'?: string; key?: string;
      'trusted-root'?: string; 'refresh-trust-root'?: boolean; format?: string; json?: boolean; help?: boolean;
    };
    const positionals = parsed.positionals;
    if (values.help) {
      io.stdout.write(renderHelp(VERIFY_BUNDLE_SPEC));
      return 0;
    }
    json = chooseFormat(values, VERIFY_BUNDLE_FORMATS, 'verify-bundle') === 'json';
    if (!values.bundle) throw new UsageError('USAGE_MISSING_ARGUMENT', '--bundle FILE is required.', { hint: 'Run `conda-attest verify-bundle --help`.' });
    if (positionals.length !== 1) throw usage(`Expected exactly one FILE_OR_DIGEST, got ${positionals.length}.`);
    const identity = values['certificate-identity'];
    const issuer = values['certificate-oidc-issuer'];
    const keyPath = values.key;
    // Key and certificate identity are two different trust models: never both (conformance
    // managed-key-and-client-identity), and a certificate policy needs both halves.
    if (keyPath !== undefined && (identity !== undefined || issuer !== undefined)) {
      throw usage('--key cannot be combined with --certificate-identity / --certificate-oidc-issuer.');
    }
    if (keyPath === undefined && (identity === undefined || issuer === undefined)) {
      throw usage('Give --certificate-identity and --certificate-oidc-issuer, or --key.');
    }

    const artifact = artifactRef(positionals[0]!, io.cwd);
    const bundleText = readInput(resolve(io.cwd, values.bundle), 'bundle');
    bundleJson = bundleJsonOf(bundleText);
    const trustedKeys = keyPath === undefined ? [] : [{ name: basename(keyPath), pem: readInput(resolve(io.cwd, keyPath), 'key').toString('utf8'), source: keyPath }];

    const rootSpec = values['trusted-root'] === undefined ? PUBLIC_GOOD : resolve(io.cwd, values['trusted-root']);
    const cacheDir = resolveConfig({}, io.cwd, undefined, { env: io.env }).cacheDir;
    const root = await loadTrustRoot(rootSpec, { offline: !values['refresh-trust-root'], cacheDir });
    for (const w of root.warnings ?? []) io.stderr.write(`warning: ${escapeText(w)}\n`);

    const verifier = createVerifier({ trustRoot: root, trustedKeys, requireTlog: true });
    const expected: ExpectedSigner = keyPath !== undefined ? { kind: 'key' } : { kind: 'certificate', identity: identity!, issuer: issuer! };
    const { verdict, rejected } = bundleVerdict(verifier, bundleText, artifact, expected);
    return emit(verdict, verdict.verified ? 0 : rejected ? 1 : 2);
  } catch (e) {
    const evidence = bundleJson === undefined ? null : bundleEvidence({ bundle: bundleJson, identity: null, checks: {} });
    return emit(failedVerdict(e, null, evidence), e instanceof VerifyError ? 1 : 2);
  }
};
