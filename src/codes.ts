// Every code conda-attest reports: reasons in report rows, errors, run-level notices.
// Codes are API (`--json`, exit paths, scripts that match them): never rename or reuse one.
//
// Adding a code: add one line to CODES below, in its domain's group (the domain decides
// which error class may raise it), with the one-line meaning shown in the README's codes
// table, then run `npm run generate` (test/codes.test.ts fails until the README matches).

/** Where a code belongs: its error class (or `policy` for verdict reasons, `notice` for run-level findings). */
export type CodeDomain =
  | 'usage'
  | 'config'
  | 'target'
  | 'http'
  | 'repodata'
  | 'sidecar'
  | 'trust-root'
  | 'verify'
  | 'policy'
  | 'lock'
  | 'plugin'
  | 'notice';

export interface CodeInfo {
  domain: CodeDomain;
  /** One line: what happened. */
  meaning: string;
}

export const CODES = {
  // usage: the command line (exit code 2)
  USAGE_INVALID_ARGUMENT: { domain: 'usage', meaning: 'An option or argument has a value that cannot be used.' },
  USAGE_MISSING_ARGUMENT: { domain: 'usage', meaning: 'A required option or argument is missing.' },
  USAGE_UNKNOWN_OPTION: { domain: 'usage', meaning: 'The command does not know this option.' },
  USAGE_UNKNOWN_COMMAND: { domain: 'usage', meaning: 'There is no such command.' },
  USAGE_NO_TARGET: { domain: 'usage', meaning: 'No target was given and no pixi.lock or conda-lock.yml was found in the current directory or above it (up to the git repository root or the home directory).' },
  USAGE_OUTPUT_UNWRITABLE: { domain: 'usage', meaning: 'A file the user asked for (e.g. `--report-file`) cannot be written.' },

  // config: the configuration file (exit code 2)
  CONFIG_NOT_FOUND: { domain: 'config', meaning: 'The configuration file named does not exist.' },
  CONFIG_PARSE_FAILED: { domain: 'config', meaning: 'The configuration file is not valid JSON or YAML.' },
  CONFIG_INVALID: { domain: 'config', meaning: 'The configuration does not match schema/config.schema.json (every failing path is listed).' },
  CONFIG_KEY_INVALID: { domain: 'config', meaning: 'A trusted key in the configuration cannot be read or parsed.' },
  NO_CONFIG: { domain: 'config', meaning: 'No config file was found and none was given: no policy, no pass.' },
  CONFIG_IMPORT_FAILED: { domain: 'config', meaning: 'A `$import` in the configuration cannot be followed (not a JSON/YAML file, too large, too deep, or a cycle).' },
  CONFIG_EXISTS: { domain: 'config', meaning: '`init` found a configuration it would replace (or shadow).' },
  CONFIG_AMBIGUOUS: { domain: 'config', meaning: 'Two configuration files sit in one directory of the search; none is picked silently.' },
  CONFIG_CODE_NOT_LOADED: { domain: 'config', meaning: 'The search met a JS/TS configuration: it runs code, so it is loaded only when named with --config.' },

  // target: pixi.lock, conda-lock.yml, explicit files, URLs, package files (exit code 2)
  TARGET_NOT_FOUND: { domain: 'target', meaning: 'The target file does not exist.' },
  TARGET_UNREADABLE: { domain: 'target', meaning: 'The target exists but cannot be read.' },
  TARGET_IS_DIRECTORY: { domain: 'target', meaning: 'The target is a directory; the message names the lockfiles it holds.' },
  TARGET_PARSE_FAILED: { domain: 'target', meaning: 'The target is not a well-formed file of its kind.' },
  TARGET_UNSUPPORTED: { domain: 'target', meaning: 'The target is of a kind or version conda-attest does not read.' },
  TARGET_INVALID_URL: { domain: 'target', meaning: 'A channel or package URL cannot be used.' },
  TARGET_INVALID_FILENAME: { domain: 'target', meaning: 'A package filename is not name-version-build.conda or .tar.bz2.' },
  TARGET_NO_CHANNEL: { domain: 'target', meaning: 'A local package file was given without --channel.' },
  TARGET_NO_SUBDIR: { domain: 'target', meaning: "A local package file's subdir is unknown (no --platform, no <subdir>/ in --channel)." },
  TARGET_INVALID_NAME: { domain: 'target', meaning: 'A package name is outside the conda package-name grammar (the lockfile schema\'s); that package is refused, the others are judged.' },

  // http: transport
  HTTP_STATUS: { domain: 'http', meaning: 'The server answered with an error status.' },
  HTTP_NOT_FOUND: { domain: 'http', meaning: 'The server answered 404 Not Found.' },
  HTTP_TIMEOUT: { domain: 'http', meaning: 'The connection or the whole transfer took longer than allowed.' },
  HTTP_CONNECTION_FAILED: { domain: 'http', meaning: 'The server could not be reached or the connection broke.' },
  HTTP_TOO_LARGE: { domain: 'http', meaning: 'The response is larger than the size cap.' },
  HTTP_OFFLINE: { domain: 'http', meaning: 'A network request was needed in offline mode.' },
  HTTP_BAD_URL: { domain: 'http', meaning: 'The URL cannot be fetched (scheme, syntax or redirect target).' },
  HTTP_WRITE_FAILED: { domain: 'http', meaning: 'A downloaded file could not be written.' },
  PROXY_FAILED: { domain: 'http', meaning: 'The proxy did not open a tunnel (its CONNECT answer was not exactly 200): nothing from it is used as content.' },
  PROXY_UNSUPPORTED: { domain: 'http', meaning: 'A proxy variable (HTTPS_PROXY, HTTP_PROXY) is not a URL of a supported proxy scheme; the run stops instead of going direct (exit code 2).' },
  UPSTREAM_UNAVAILABLE: { domain: 'http', meaning: '`serve`: the upstream channel could not be reached or failed, so the proxy answered 502.' },

  // repodata: channel indexes (CEP 16 shards included)
  REPODATA_UNAVAILABLE: { domain: 'repodata', meaning: "The channel's repodata could not be fetched." },
  REPODATA_MALFORMED: { domain: 'repodata', meaning: "The channel's repodata is not well-formed." },
  REPODATA_INVALID_ATTESTATIONS_SHA256: { domain: 'repodata', meaning: "The package's attestations_sha256 is not 64 lowercase hex characters." },
  REPODATA_SHARD_UNAVAILABLE: { domain: 'repodata', meaning: 'A CEP 16 shard named by the shard index could not be fetched.' },
  REPODATA_SHARD_MISMATCH: { domain: 'repodata', meaning: "A CEP 16 shard's bytes do not hash to the SHA-256 the shard index names." },

  // sidecar: CEP 50 retrieval (status retrieval-failed)
  SIDECAR_UNAVAILABLE: { domain: 'sidecar', meaning: 'The attestation sidecar could not be retrieved.' },
  SIDECAR_NOT_FOUND: { domain: 'sidecar', meaning: 'Repodata advertises a sidecar that is not there.' },
  SIDECAR_TOO_LARGE: { domain: 'sidecar', meaning: 'The sidecar is larger than max_sidecar_bytes.' },
  SIDECAR_HASH_MISMATCH: { domain: 'sidecar', meaning: 'The sidecar does not hash to the advertised attestations_sha256.' },
  SIDECAR_MALFORMED: { domain: 'sidecar', meaning: 'The sidecar is not a JSON array of bundles.' },
  SIDECAR_EMPTY: { domain: 'sidecar', meaning: 'The sidecar holds no bundles.' },
  SIDECAR_TOO_MANY_BUNDLES: { domain: 'sidecar', meaning: 'The sidecar holds more bundles than a sidecar may; refused before any verification.' },

  // trust-root: the Sigstore trusted root (exit code 2)
  TRUST_ROOT_NOT_FOUND: { domain: 'trust-root', meaning: 'The trusted root file does not exist.' },
  TRUST_ROOT_MALFORMED: { domain: 'trust-root', meaning: 'The trusted root is not valid JSON.' },
  TRUST_ROOT_INVALID: { domain: 'trust-root', meaning: 'The trusted root has an unusable entry.' },
  TRUST_ROOT_STALE: { domain: 'trust-root', meaning: 'The trust root in use is older than trust_root_max_age_days (also the notice for one older than 180 days).' },
  TRUST_ROOT_REFRESH_FAILED: { domain: 'trust-root', meaning: 'The public-good trusted root could not be refreshed through TUF; the cached or embedded one is used.' },
  TRUST_ROOT_SUSPICIOUS: { domain: 'trust-root', meaning: 'An entry of the trust root starts its validity in the future; it is ignored for the root\'s age (a warning).' },

  // verify: one bundle (status invalid or untrusted)
  BUNDLE_MALFORMED: { domain: 'verify', meaning: 'The bundle is not a well-formed Sigstore bundle.' },
  BUNDLE_UNSUPPORTED_MEDIA_TYPE: { domain: 'verify', meaning: "The bundle's media type is not a supported Sigstore bundle version." },
  SIGSTORE_VERIFICATION_FAILED: { domain: 'verify', meaning: 'Sigstore verification of the bundle failed.' },
  ARTIFACT_DIGEST_MISMATCH: { domain: 'verify', meaning: 'The bundle signs another artifact digest.' },
  CEP27_NOT_DSSE: { domain: 'verify', meaning: 'A publish attestation is not a DSSE envelope (CEP 27).' },
  CEP27_PAYLOAD_TYPE: { domain: 'verify', meaning: 'The DSSE payload type is not application/vnd.in-toto+json (CEP 27).' },
  CEP27_STATEMENT_MALFORMED: { domain: 'verify', meaning: 'The in-toto statement is not well-formed JSON (CEP 27).' },
  CEP27_STATEMENT_TYPE: { domain: 'verify', meaning: 'The statement _type is not in-toto Statement v1 (CEP 27).' },
  CEP27_PREDICATE_TYPE: { domain: 'verify', meaning: 'The predicate type is not the conda publish attestation (CEP 27).' },
  CEP27_SUBJECT_COUNT: { domain: 'verify', meaning: 'The statement does not have exactly one subject (CEP 27).' },
  CEP27_SUBJECT_NAME: { domain: 'verify', meaning: "The subject name is not the package's filename (CEP 27)." },
  CEP27_SUBJECT_DIGEST: { domain: 'verify', meaning: "The subject digest is not the package's SHA-256 (CEP 27)." },
  CEP27_PREDICATE_MALFORMED: { domain: 'verify', meaning: 'The publish predicate is not well-formed (CEP 27).' },
  CEP27_TARGET_CHANNEL_MISMATCH: { domain: 'verify', meaning: 'predicate.targetChannel names another channel than the package came from (CEP 27).' },
  IDENTITY_MISMATCH: { domain: 'verify', meaning: 'The certificate identity does not match the one required.' },
  KEY_UNTRUSTED: { domain: 'verify', meaning: "The bundle is signed with a key that is not one of the channel's trusted keys." },
  TLOG_REQUIRED: { domain: 'verify', meaning: 'A key signature has no verified transparency-log entry under require_tlog: true.' },
  INTOTO_STATEMENT_INVALID: { domain: 'verify', meaning: 'The DSSE payload is not a valid in-toto statement.' },
  CERT_MALFORMED: { domain: 'verify', meaning: 'A certificate in the bundle breaks RFC 5280 (e.g. an extension appears more than once).' },
  VERIFY_WORKER_FAILED: { domain: 'verify', meaning: 'A verification worker thread died or the pool was closed mid-call.' },
  INTERNAL_ERROR: { domain: 'verify', meaning: '`verify-bundle` met an unexpected error (a bug): the bundle was not verified (exit code 2).' },

  // policy: a package's verdict
  NO_ATTESTATIONS: { domain: 'policy', meaning: 'The channel advertises no attestations for the package (status missing).' },
  NO_PUBLISH_ATTESTATION: { domain: 'policy', meaning: 'The sidecar holds attestations, but no conda publish attestation (status missing).' },
  IDENTITY_UNTRUSTED: { domain: 'policy', meaning: 'The signer matches none of the trusted identities (status untrusted).' },
  IDENTITY_CHANGED: { domain: 'policy', meaning: 'The package is signed by another identity than the lockfile pins.' },
  IDENTITY_ADDED: { domain: 'policy', meaning: 'The package is also signed by an identity the lockfile does not pin.' },
  ATTESTATIONS_REMOVED: { domain: 'policy', meaning: 'The package arrived without attestations, but the lockfile pins its signer.' },
  IDENTITY_REMOVED: { domain: 'policy', meaning: 'The package lacks a signer identity the lockfile pins.' },
  IDENTITY_INCONSISTENT: { domain: 'policy', meaning: 'Files of one package not yet pinned disagree on their signers within a run; nothing is pinned.' },
  LOCK_ENTRY_MISSING: { domain: 'policy', meaning: 'No signer identity is pinned for the package in the frozen lockfile.' },
  PACKAGE_DIGEST_MISMATCH: { domain: 'policy', meaning: 'The package bytes do not match the digest the lockfile pins.' },
  CHANNEL_DISABLED: { domain: 'policy', meaning: 'Attestation checks are disabled for the channel (status skipped).' },
  PACKAGE_URL_UNSUPPORTED: { domain: 'policy', meaning: 'The plugin layer cannot judge a package URL (query string, not a conda package file name).' },
  EXCEPTION_EXPIRED: { domain: 'policy', meaning: 'A configured exception for the package has expired: it was judged normally.' },
  DENIED: { domain: 'policy', meaning: 'A configured deny entry (file digest, package versions or signer) matches the package: it is blocked whatever else was found.' },
  // CI renderings (SARIF, annotations, summary) file a blocked or warned row that carries no
  // reason (it should not happen) under its status, so a problem is never dropped.
  PACKAGE_VERIFIED: { domain: 'policy', meaning: 'A verified row is blocked or warned without a reason (CI renderings only).' },
  PACKAGE_MISSING: { domain: 'policy', meaning: 'A missing row is blocked or warned without a reason (CI renderings only).' },
  PACKAGE_INVALID: { domain: 'policy', meaning: 'An invalid row is blocked or warned without a reason (CI renderings only).' },
  PACKAGE_UNTRUSTED: { domain: 'policy', meaning: 'An untrusted row is blocked or warned without a reason (CI renderings only).' },
  PACKAGE_IDENTITY_CHANGED: { domain: 'policy', meaning: 'An identity-changed row is blocked or warned without a reason (CI renderings only).' },
  PACKAGE_RETRIEVAL_FAILED: { domain: 'policy', meaning: 'A retrieval-failed row is blocked or warned without a reason (CI renderings only).' },
  PACKAGE_SKIPPED: { domain: 'policy', meaning: 'A skipped row is blocked or warned without a reason (CI renderings only).' },

  // lock: the identity lockfile
  LOCK_CORRUPT: { domain: 'lock', meaning: 'The identity lockfile is not valid (exit code 2).' },
  LOCK_UNSUPPORTED_VERSION: { domain: 'lock', meaning: 'The identity lockfile has a format version this release does not read.' },
  LOCK_WRITE_FAILED: { domain: 'lock', meaning: 'The identity lockfile could not be written.' },
  LOCK_BUSY: { domain: 'lock', meaning: 'Another run holds the identity lockfile for too long.' },
  LOCK_FROZEN: { domain: 'lock', meaning: 'The identity lockfile would change under --frozen.' },
  LOCK_NOT_FOUND: { domain: 'lock', meaning: 'The identity lockfile does not exist.' },
  LOCK_IDENTITY_INCOMPLETE: { domain: 'lock', meaning: 'A signer identity lacks what pinning needs (e.g. the issuer).' },
  LOCK_UNREADABLE: { domain: 'lock', meaning: 'The identity lockfile exists but cannot be read.' },
  LOCK_MISSING: { domain: 'lock', meaning: '`--frozen` (CI) without the identity lockfile on disk.' },

  // plugin: host integration
  PLUGIN_NOT_FOUND: { domain: 'plugin', meaning: 'A configured plugin cannot be found.' },
  PLUGIN_INVALID: { domain: 'plugin', meaning: 'A plugin does not export a valid plugin object.' },
  PLUGIN_HOOK_FAILED: { domain: 'plugin', meaning: "A plugin's hook threw." },
  PLUGIN_BAD_RETURN: { domain: 'plugin', meaning: "A plugin's hook returned something outside its contract." },
  PACKAGE_BLOCKED: { domain: 'plugin', meaning: 'The installation stopped because a package was blocked.' },
  ARCHIVE_MALFORMED: { domain: 'plugin', meaning: 'A package archive is not a well-formed .conda or .tar.bz2.' },
  ARCHIVE_UNSAFE_PATH: { domain: 'plugin', meaning: 'A package archive holds a path that escapes the target directory.' },

  // notice: run-level findings (report warnings), never a package verdict
  REPODATA_CACHED: { domain: 'notice', meaning: "A channel could not be reached, so its cached repodata was used (age and cause given)." },
  HOST_CUT_OFF: { domain: 'notice', meaning: 'A host failed (stalled or refused) repeatedly, so its remaining requests in the run failed at once with that cause.' },
  RUN_DEADLINE: { domain: 'notice', meaning: "The run's deadline (deadline_ms, --deadline) passed: unfinished packages are retrieval-failed." },
  CHANNEL_UNUSED: { domain: 'notice', meaning: 'A channel listed in the config matched no package of the run.' },
  NOTHING_VERIFIED: { domain: 'notice', meaning: 'No package was verified, and none was blocked or warned about.' },
  EXPLICIT_MD5_ONLY: { domain: 'notice', meaning: 'Packages pinned by MD5 only (explicit files, URL#<md5>): each is downloaded, its SHA-256 is what the attestation is checked against, and the MD5 is checked on the same bytes.' },
  DOWNLOAD_UNSETTLED: { domain: 'notice', meaning: "A host's package download was still in flight when the run ended and did not settle in time: not reported as a row, not pinned, refused if it finishes later." },
} as const satisfies Record<string, CodeInfo>;

/** Every code. */
export type Code = keyof typeof CODES;

/** The codes of one domain. */
export type CodeIn<D extends CodeDomain> = { [K in Code]: (typeof CODES)[K]['domain'] extends D ? K : never }[Code];

/** The codes in declaration order (grouped by domain): the README's table order. */
function codeTable(): { code: Code; domain: CodeDomain; meaning: string }[] {
  return (Object.keys(CODES) as Code[]).map((code) => ({ code, domain: CODES[code].domain, meaning: CODES[code].meaning }));
}

/** The README's codes table (Markdown), generated from CODES. */
export function renderCodesMarkdown(): string {
  const rows = codeTable().map((c) => `| \`${c.code}\` | ${c.domain} | ${c.meaning.replaceAll('|', '\\|')} |`);
  return ['| code | domain | meaning |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}
