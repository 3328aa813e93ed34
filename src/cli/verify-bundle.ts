// `conda-attest verify-bundle`: the sigstore-conformance verify protocol (issue 3).
//
//   verify-bundle --bundle FILE --certificate-identity ID --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
//   verify-bundle --bundle FILE --key PEM_FILE [--trusted-root FILE] FILE_OR_DIGEST
//
// It enters the pipeline at "verification": the same createVerifier() that package
// verification uses, so what the conformance suite proves holds for `verify` too.
// Without --trusted-root the public-good root is used WITHOUT network access (cached TUF
// refresh or the snapshot embedded in @sigstore/tuf), so the command is deterministic and
// works offline; --refresh-trust-root opts into a TUF refresh first.
import { escapeText } from '../report/escape.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { AttestError, TargetError, UsageError, VerifyError, describeError } from '../errors.ts';
import { resolveConfig } from '../config/validate.ts';
import { loadTrustRoot, PUBLIC_GOOD } from '../verify/trust-root.ts';
import { type ArtifactRef, createVerifier } from '../verify/verifier.ts';
import { parse } from './args.ts';
import type { CliIO, Command } from './io.ts';

const HELP = `Usage:
  conda-attest verify-bundle --bundle FILE --certificate-identity IDENTITY --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
  conda-attest verify-bundle --bundle FILE --key PEM_FILE [--trusted-root FILE] FILE_OR_DIGEST

Verifies one Sigstore bundle for an artifact (a file, or sha256:<64 hex> when no such file
exists). The certificate identity (SAN) and OIDC issuer are compared exactly. With --key the
bundle must be signed by that public key (PEM) and logged in the transparency log.
Without --trusted-root the Sigstore public-good root is used offline (cached TUF refresh or
the embedded snapshot); --refresh-trust-root refreshes it through TUF first.

Exit codes: 0 verified, 1 verification failed, 2 usage or input error. On failure one line
"CODE: message" is written to stderr.
`;

const OPTIONS = {
  bundle: { type: 'string' },
  'certificate-identity': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  key: { type: 'string' },
  'trusted-root': { type: 'string' },
  'refresh-trust-root': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

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
  try {
    const { values, positionals } = parse(argv, OPTIONS, 'verify-bundle');
    if (values.help) {
      io.stdout.write(HELP);
      return 0;
    }
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
    const trustedKeys = keyPath === undefined ? [] : [{ name: basename(keyPath), pem: readInput(resolve(io.cwd, keyPath), 'key').toString('utf8'), source: keyPath }];

    const rootSpec = values['trusted-root'] === undefined ? PUBLIC_GOOD : resolve(io.cwd, values['trusted-root']);
    const cacheDir = resolveConfig({}, io.cwd, undefined, { env: io.env }).cacheDir;
    const root = await loadTrustRoot(rootSpec, { offline: !values['refresh-trust-root'], cacheDir });
    for (const w of root.warnings ?? []) io.stderr.write(`warning: ${escapeText(w)}\n`);

    const verifier = createVerifier({ trustRoot: root, trustedKeys, requireTlog: true });
    const result = verifier.verify(bundleText, artifact);
    if (keyPath !== undefined) {
      if (result.identity.kind !== 'key') throw new VerifyError('KEY_UNTRUSTED', 'The bundle is signed with a certificate, not with the given key.');
    } else if (result.identity.san !== identity || result.identity.issuer !== issuer) {
      throw new VerifyError('IDENTITY_MISMATCH', `The bundle was signed by ${result.identity.san ?? '(no SAN)'} (issuer ${result.identity.issuer ?? 'none'}), not by ${identity} (issuer ${issuer}).`);
    }
    const who = result.identity.kind === 'key' ? `key ${result.identity.keyFingerprint}` : `${result.identity.san} (${result.identity.issuer})`;
    io.stdout.write(`OK: verified, signed by ${escapeText(who)}${result.tlog ? '' : ' (no transparency-log entry)'}\n`);
    return 0;
  } catch (e) {
    // One line on stderr: `CODE: message` (the conformance protocol's failure report).
    if (e instanceof AttestError) {
      io.stderr.write(`${e.code}: ${escapeText(e.message)}\n`);
      return e instanceof VerifyError ? 1 : 2;
    }
    io.stderr.write(`INTERNAL_ERROR: ${escapeText(describeError(e).split('\n')[0])}\n`);
    return 2;
  }
};
