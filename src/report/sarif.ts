// SARIF 2.1.0 (OASIS Standard, errata 01) for code scanning: one rule per reason code
// (§3.49 reportingDescriptor: the stable code as `id`, a short description, help from
// the hint) and one result per problem package (§3.27), located at the line of its entry
// in the environment file (§3.28 location → §3.29 physicalLocation → §3.30 region). Pure.
import { createHash } from 'node:crypto';
import type { PackageReport, Report } from '../types.ts';
import { escapeText } from './escape.ts';
import type { Locate } from './locations.ts';
import { packageLabel, primaryCode, problemReasons, problemRows } from './problems.ts';

export const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** Short descriptions of the reason codes a package row can carry (SARIF rule shortDescription). */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  NO_ATTESTATIONS: 'The channel publishes no attestations for the package.',
  NO_PUBLISH_ATTESTATION: 'No CEP 27 publish attestation among the package attestations.',
  IDENTITY_UNTRUSTED: 'The package was signed by an identity outside the channel trusted_identities.',
  IDENTITY_CHANGED: 'The signer identity differs from the one pinned in the identity lockfile.',
  IDENTITY_ADDED: 'A signer identity was added to the ones pinned in the identity lockfile.',
  IDENTITY_REMOVED: 'A signer identity pinned in the identity lockfile no longer signs the package.',
  ATTESTATIONS_REMOVED: 'The package had pinned signer identities but now has no attestations.',
  IDENTITY_INCONSISTENT: 'Files of one package disagree on their signers.',
  LOCK_ENTRY_MISSING: 'No signer identity is pinned for the package in the frozen identity lockfile.',
  PACKAGE_DIGEST_MISMATCH: 'The package bytes do not match the digest the lockfile records.',
  CHANNEL_DISABLED: 'Attestation checks are disabled for the channel.',
  SIGSTORE_VERIFICATION_FAILED: 'Sigstore verification of an attestation bundle failed.',
  ARTIFACT_DIGEST_MISMATCH: 'The attestation signs a different digest than the package has.',
  BUNDLE_MALFORMED: 'An attestation bundle is malformed.',
  BUNDLE_UNSUPPORTED_MEDIA_TYPE: 'An attestation bundle has an unsupported media type.',
  KEY_UNTRUSTED: 'The package was signed with a key outside the channel trusted_keys.',
  TLOG_REQUIRED: 'A key-signed attestation has no verified transparency-log entry.',
  CEP27_TARGET_CHANNEL_MISMATCH: 'The publish attestation names a different target channel.',
  CEP27_SUBJECT_NAME: 'The publish attestation names a different package file.',
  CEP27_SUBJECT_DIGEST: 'The publish attestation names a different package digest.',
  SIDECAR_UNAVAILABLE: 'The advertised attestation sidecar could not be retrieved.',
  SIDECAR_NOT_FOUND: 'The advertised attestation sidecar was not found.',
  SIDECAR_TOO_LARGE: 'The attestation sidecar exceeds the size cap.',
  SIDECAR_HASH_MISMATCH: 'The attestation sidecar does not match the hash the repodata advertises.',
  SIDECAR_MALFORMED: 'The attestation sidecar is not a JSON array of bundles.',
  SIDECAR_EMPTY: 'The attestation sidecar holds no bundles.',
};

function describe(code: string): string {
  if (DESCRIPTIONS[code]) return DESCRIPTIONS[code];
  if (code.startsWith('CEP27_')) return 'The publish attestation fails a CEP 27 statement check.';
  if (code.startsWith('REPODATA_')) return 'The channel repodata could not be used.';
  if (code.startsWith('HTTP_')) return 'A download needed for verification failed.';
  return `conda-attest reason ${code}.`;
}

/** `NO_ATTESTATIONS` → `NoAttestations` (SARIF rule `name`, §3.49.7: a readable identifier). */
function ruleName(code: string): string {
  return code
    .toLowerCase()
    .split('_')
    .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join('');
}

function level(row: PackageReport): 'error' | 'warning' {
  return row.action === 'block' ? 'error' : 'warning';
}

export interface SarifOptions {
  locate: Locate;
  version: string;
}

/** The SARIF log object (serialise with JSON.stringify). */
export function renderSarifObject(report: Report, o: SarifOptions): Record<string, unknown> {
  const problems = problemRows(report.packages);
  // Rules: one per code seen in any problem row, sorted; help text from the first hint seen.
  const help = new Map<string, string | undefined>();
  for (const row of problems) for (const r of problemReasons(row)) if (!help.has(r.code) || (help.get(r.code) === undefined && r.hint)) help.set(r.code, r.hint);
  const codes = [...help.keys()].sort();
  const index = new Map(codes.map((c, i) => [c, i]));
  const rules = codes.map((code) => ({
    id: code,
    name: ruleName(code),
    shortDescription: { text: describe(code) },
    help: { text: escapeText(help.get(code) ?? describe(code)) },
  }));
  const results = problems.map((row) => {
    const reasons = problemReasons(row);
    const code = primaryCode(row);
    const where = o.locate(row);
    const text = [`${packageLabel(row)} is ${row.action === 'block' ? 'blocked' : 'warned'} (${row.status}).`, ...reasons.map((r) => `${r.code}: ${r.message}${r.hint ? ` (hint: ${r.hint})` : ''}`)]
      .map(escapeText)
      .join('\n');
    const result: Record<string, unknown> = {
      ruleId: code,
      ruleIndex: index.get(code),
      level: level(row),
      message: { text },
      // Stable across runs and line moves (§3.27.17): the package and the code it failed with.
      partialFingerprints: {
        'condaAttestPackage/v1': createHash('sha256').update(`${row.channel}\n${row.subdir}\n${row.filename}\n${code}`).digest('hex'),
      },
      properties: { status: row.status, action: row.action, channel: row.channel, subdir: row.subdir, url: row.url, codes: reasons.map((r) => r.code) },
    };
    if (where) {
      result.locations = [
        {
          physicalLocation: {
            artifactLocation: where.file.startsWith('/') ? { uri: new URL(`file://${where.file}`).href } : { uri: encodeURI(where.file), uriBaseId: '%SRCROOT%' },
            region: { startLine: where.line },
          },
        },
      ];
    }
    return result;
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'conda-attest', version: o.version, semanticVersion: o.version, rules } },
        results,
        columnKind: 'utf16CodeUnits',
      },
    ],
  };
}

export function renderSarif(report: Report, o: SarifOptions): string {
  return JSON.stringify(renderSarifObject(report, o), null, 2) + '\n';
}
