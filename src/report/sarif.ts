// SARIF 2.1.0 (OASIS Standard, errata 01) for code scanning: one rule per reason code
// (§3.49 reportingDescriptor: the stable code as `id`, a short description, help from
// the hint) and one result per problem package (§3.27), located at the line of its entry
// in the environment file (§3.28 location → §3.29 physicalLocation → §3.30 region). Pure.
import { createHash } from 'node:crypto';
import { CODES, type Code } from '../codes.ts';
import type { PackageReport, Report } from '../types.ts';
import { escapeText } from '../text/escape.ts';
import { findingLine } from '../errors.ts';
import type { Locate } from './locations.ts';
import { packageLabel, primaryCode, problemReasons, problemRows } from './problems.ts';

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** A rule's short description: the code's one-line meaning in the registry (src/codes.ts). */
function describe(code: string): string {
  return Object.hasOwn(CODES, code) ? CODES[code as Code].meaning : `conda-attest reason ${code}.`;
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

interface SarifOptions {
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
    const text = [`${packageLabel(row)} is ${row.action === 'block' ? 'blocked' : 'warned'} (${row.status}).`, ...reasons.map(findingLine)]
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
