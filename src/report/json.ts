// The --json report: stable API, described by schema/report.schema.json.
// Internal types use camelCase; the published JSON uses snake_case throughout, so
// this is the one place that maps between them.
import { CLAIMS } from '../claims.ts';
import type { BundleOutcome, PackageReport, Reason, Report, SignerIdentity } from '../types.ts';

/** Identity fields printed only when set (who signed, and how). */
const IDENTITY_FIELDS: [keyof SignerIdentity, string][] = [
  ['kind', 'kind'],
  ['san', 'san'],
  ['issuer', 'issuer'],
  ['keyFingerprint', 'key_fingerprint'],
  ['keyName', 'key_name'],
];


export function identityToJson(identity: SignerIdentity | null | undefined): Record<string, string | null> | null {
  if (!identity) return null;
  const out: Record<string, string | null> = {};
  for (const [from, to] of IDENTITY_FIELDS) {
    const v = identity[from];
    if (typeof v === 'string' && v !== '') out[to] = v;
  }
  // Every claim of src/claims.ts, always printed: one the certificate lacks is `null`,
  // never a missing key (schema/report.schema.json, `identity`).
  for (const c of CLAIMS) out[c.report] = identity[c.field] ?? null;
  return out;
}

/** A reason or notice as published: code, message, hint (the internal outage grouping stays out). */
function reasonToJson(r: Reason): Record<string, string> {
  return r.hint === undefined ? { code: r.code, message: r.message } : { code: r.code, message: r.message, hint: r.hint };
}

function bundleToJson(b: BundleOutcome): Record<string, unknown> {
  return {
    index: b.index,
    media_type: b.mediaType ?? null,
    predicate_type: b.predicateType ?? null,
    publish: b.publish,
    verified: b.verified,
    identity: identityToJson(b.identity),
    target_channel: b.targetChannel ?? null,
    tlog: b.tlog ?? null,
    reasons: b.reasons.map(reasonToJson),
    evidence: b.evidence ?? null,
  };
}

function packageToJson(p: PackageReport): Record<string, unknown> {
  const out: Record<string, unknown> = {
    filename: p.filename,
    name: p.name,
    version: p.version,
    build: p.build,
    channel: p.channel,
    subdir: p.subdir,
    url: p.url,
    sha256: p.sha256,
    digest_source: p.digest_source,
    status: p.status,
    action: p.action,
    identity: identityToJson(p.identity),
    verified_by: p.verified_by ?? null,
    reasons: p.reasons.map(reasonToJson),
    notes: [...p.notes],
    sidecar: p.sidecar ? { ...p.sidecar } : null,
    bundles: p.bundles.map(bundleToJson),
  };
  const diff = p.identity_diff;
  if (diff !== undefined) out.identity_diff = diff;
  if (p.exception) out.exception = { ...p.exception };
  return out;
}

/** The run-level fields after `packages`, in output order. */
function runFields(report: Report): [string, unknown][] {
  return [
    ['trust_root', report.trust_root ?? null],
    ['warnings', report.warnings ?? []],
    ['notices', (report.notices ?? []).map(reasonToJson)],
    ['inputs', report.inputs ?? null],
    ['lockfile', report.lockfile ?? null],
  ];
}

function summaryToJson(report: Report): Record<string, unknown> {
  return { ...report.summary, not_covered: { pypi: 0, source: 0, ...report.summary.not_covered, local: report.summary.not_covered?.local ?? 0 } };
}

export function reportToJson(report: Report): Record<string, unknown> {
  return {
    version: report.version,
    summary: summaryToJson(report),
    packages: report.packages.map(packageToJson),
    ...Object.fromEntries(runFields(report)),
  };
}

/**
 * The report as JSON text, in pieces: the top-level keys on their own lines and one line
 * per package, so a 10,000-package report is written as it is converted instead of being
 * built as one large string (peak memory). Same object as `reportToJson`.
 */
export function* renderJsonChunks(report: Report): Generator<string> {
  yield `{\n  "version": ${JSON.stringify(report.version)},\n  "summary": ${JSON.stringify(summaryToJson(report))},\n  "packages": [`;
  // Converted one at a time: only one package's JSON object exists at once.
  for (let i = 0; i < report.packages.length; i++) {
    yield `${i === 0 ? '' : ','}\n    ${JSON.stringify(packageToJson(report.packages[i]!))}`;
  }
  const tail = runFields(report).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n');
  yield `${report.packages.length ? '\n  ' : ''}],\n${tail}\n}\n`;
}

export function renderJson(report: Report): string {
  return [...renderJsonChunks(report)].join('');
}
