// The public API of `conda-attest` (the `.` export). The CLI and the plugin layer
// (`conda-attest/plugin`) are built on exactly these pieces.

// Errors: one base class, a stable `code` per domain, `hint`, `cause`.
export {
  AttestError,
  ConfigError,
  HttpError,
  LockError,
  PluginError,
  RepodataError,
  SidecarError,
  TargetError,
  TrustRootError,
  UsageError,
  VerifyError,
  isAttestError,
} from './errors.ts';
export type { ErrorCode } from './errors.ts';
// Every code with its domain and one-line meaning.
export { CODES, type Code, type CodeDomain } from './codes.ts';

// Data types shared by the core and its callers.
export type * from './types.ts';
export type { PackageDigest, VerifySession, VerifySessionOptions } from './session-types.ts';

// The pipeline: one session per run, one call per package, one report.
export { createSession, type PipelineSession } from './pipeline.ts';

// Configuration (cosmiconfig + schema/config.schema.json).
export { loadConfig } from './config/load.ts';
export { resolveConfig } from './config/validator.ts';

// Targets: pixi.lock, conda-lock.yml, explicit files, URLs, package files.
export { findDefaultTarget, loadTargets, loadTargetSet, type NotCovered, type TargetSet } from './targets/index.ts';
export { readPackageIndex, type PackageIndexFields } from './targets/package-index.ts';

// Pure policy core.
export { canonicalChannelUrl, channelFromPackageUrl, policyFor } from './policy/channel.ts';
export { compileIdentityPattern, matchIdentity } from './policy/identity.ts';
export { actionFor, judgeAttestations } from './policy/verdict.ts';
export { parseShorthand, formatShorthand, shorthandFromIdentity, isShorthand, ShorthandError, type Shorthand } from './policy/shorthand.ts';
export { checkConstraints, CONSTRAINTS } from './policy/constraints.ts';
export { effectivePolicy, ruleFor, exceptionFor } from './policy/packages.ts';
export { effectivePolicyView, renderPolicyText } from './policy/effective.ts';
export { trustRootFreshness } from './policy/trust-root-age.ts';

// Verification (sigstore-js + CEP 27).
export { loadTrustRoot, parseTrustedRoot, validateTrustedRoot, type LoadedTrustRoot } from './verify/trust-root.ts';
export { createVerifier, type BundleVerifier, type VerifiedBundle } from './verify/verifier.ts';
export { verifyAttestations } from './verify/attestations.ts';
export { bundleEvidence, sigstoreChecks, type BundleEvidence, type Checks } from './verify/evidence.ts';
export { PUBLISH_PREDICATE_TYPE, checkPublishStatement } from './verify/cep27.ts';

// The identity lockfile (trust on first use).
export { readLock, updateLock, parseLock, serializeLock } from './lock/file.ts';
export { decide, applyDecisions, acceptInto, type Lock, type LockDecision } from './lock/decide.ts';
export { diffLocks, diffJson } from './lock/diff.ts';
export { renderDiffMarkdown, renderDiffText } from './report/lock-diff.ts';

// Reports.
export { buildReport, exitCodeOf } from './report/build.ts';
export { reportToJson, renderJson, renderJsonChunks } from './report/json.ts';
export { runNotices, type Notice } from './report/notices.ts';

// The command line, for embedding.
export { main } from './cli/main.ts';
export { packageVersion } from './version.ts';
