// Signer identities for the lockfile tests, shaped like decoded Fulcio certificates.
import type { SignerIdentity } from '../../src/types.ts';

export const GH_ISSUER = 'https://token.actions.githubusercontent.com';
export const CH = 'https://conda.example.org/forge';

/** A GitHub Actions identity of `owner/repo` running `workflow` at `ref`. */
export function gh(
  over: Partial<SignerIdentity> & { repo?: string; workflow?: string; ref?: string } = {},
): SignerIdentity {
  const { repo = 'forge/numpy-feedstock', workflow = 'build.yml', ref = 'refs/tags/v1.0.0', ...rest } = over;
  return {
    kind: 'github',
    san: `https://github.com/${repo}/.github/workflows/${workflow}@${ref}`,
    issuer: GH_ISSUER,
    sourceRepositoryUri: `https://github.com/${repo}`,
    sourceRepositoryId: '100',
    sourceRepositoryOwnerId: '200',
    sourceRepositoryRef: ref,
    sourceRepositoryDigest: 'a'.repeat(40),
    buildConfigUri: `https://github.com/${repo}/.github/workflows/${workflow}@${ref}`,
    runnerEnvironment: 'github-hosted',
    ...rest,
  };
}

export function key(fp: string, name?: string): SignerIdentity {
  return { kind: 'key', keyFingerprint: fp, ...(name ? { keyName: name } : {}) };
}

export const FP1 = '1'.repeat(64);
export const FP2 = '2'.repeat(64);
