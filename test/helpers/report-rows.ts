// Report rows for renderer tests: a verified package `<name>-1.0-h0_0.conda` of one channel,
// with `over` applied (status, action, reasons, identity, …).
import type { PackageReport } from '../../src/types.ts';

export function packageRow(name: string, over: Partial<PackageReport> = {}, channel = 'https://prefix.example/ch'): PackageReport {
  const filename = `${name}-1.0-h0_0.conda`;
  return {
    filename,
    name,
    version: '1.0',
    build: 'h0_0',
    channel,
    subdir: 'noarch',
    url: `${channel}/noarch/${filename}`,
    sha256: null,
    digest_source: null,
    status: 'verified',
    action: 'pass',
    identity: null,
    reasons: [],
    notes: [],
    sidecar: null,
    bundles: [],
    ...over,
  };
}
