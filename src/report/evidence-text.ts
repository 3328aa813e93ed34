// `verify --verbose`: the evidence of the bundle that verified a package, as text lines
// under its row — signer, commit and run links, the transparency-log entry (with a link
// to the public log's entry when the trust root is Sigstore's public-good instance, whose
// log that index belongs to) and the certificate's validity window. Pure; every value is
// outside data and goes through escapeText.
import type { ChalkInstance } from 'chalk';
import type { PackageReport } from '../types.ts';
import { publicLogEntryUrl } from '../verify/evidence.ts';
import { escapeText as t } from '../text/escape.ts';

/** The lines for one package (none when no bundle carries evidence). `publicGood`: the run's trust root is public-good. */
export function evidenceLines(p: PackageReport, c: ChalkInstance, publicGood: boolean): string[] {
  const bundle = p.verified_by != null ? p.bundles.find((b) => b.index === p.verified_by) : p.bundles.find((b) => b.evidence);
  const ev = bundle?.evidence;
  if (!bundle || !ev) return [];
  const label = (s: string) => c.dim(`${s}:`.padEnd(11));
  const out: string[] = [];
  const id = bundle.identity;
  if (id) {
    const who = id.kind === 'key' ? `key ${id.keyName ?? id.keyFingerprint ?? ''}` : `${id.san ?? '(no SAN)'} (issuer ${id.issuer ?? 'unknown'})`;
    out.push(`${label('signer')}${t(who)}${p.verified_by != null ? c.dim(` [bundle ${bundle.index}]`) : ''}`);
  }
  if (ev.links.commit) out.push(`${label('commit')}${t(ev.links.commit)}`);
  if (ev.links.run) out.push(`${label('run')}${t(ev.links.run)}`);
  if (ev.tlog) {
    const link = publicGood ? `  ${publicLogEntryUrl(ev.tlog.log_index)}` : '';
    const when = ev.tlog.integrated_time ? c.dim(` (integrated ${ev.tlog.integrated_time})`) : '';
    out.push(`${label('log index')}${t(ev.tlog.log_index)}${when}${t(link)}`);
  }
  if (ev.certificate) out.push(`${label('valid')}${t(ev.certificate.not_before)} – ${t(ev.certificate.not_after)}`);
  return out.map((l) => `    ${l}`);
}
