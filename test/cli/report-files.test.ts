// Report files (`--report-file`, `--output FORMAT=PATH`) are streamed to their temporary
// file piece by piece (src/cli/ci-output.ts writeOutputs): the bytes must be exactly those
// of the whole rendering as one string (the writer before streaming, still used for the job
// summary), for reports over the real lockfiles of test/fixtures/pixi-lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutputs } from '../../src/cli/ci-output.ts';
import { FORMAT_NAMES, renderFormat, type RenderContext } from '../../src/report/formats.ts';
import { buildReport } from '../../src/report/build.ts';
import { locateNothing } from '../../src/report/locations.ts';
import { loadTargetSet } from '../../src/targets/index.ts';
import type { PackageReport } from '../../src/types.ts';
import { packageRow } from '../helpers/report-rows.ts';

const FIXTURES = new URL('../fixtures/pixi-lock/', import.meta.url).pathname;

test('every format written to a file is byte for byte the whole rendering (real pixi.lock v4-v7)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'conda-attest-report-files-'));
  try {
    for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith('.lock'))) {
      const { records, notCovered, inputs } = await loadTargetSet([f], { cwd: FIXTURES });
      // Rows of every kind the renderers tell apart, with text that needs escaping.
      const rows: PackageReport[] = records.map((r, i) =>
        packageRow(r.name, {
          ...r,
          sha256: r.sha256 ?? null,
          digest_source: r.sha256 ? 'lockfile' : null,
          status: (['verified', 'missing', 'skipped', 'invalid'] as const)[i % 4]!,
          action: i % 4 === 1 ? 'block' : 'pass',
          reasons: i % 4 === 0 ? [] : [{ code: 'NO_ATTESTATIONS', message: `no sidecar for ${r.filename} \u001b[31m`, hint: 'Ask the publisher.' }],
          notes: i % 3 ? [] : ['a note with "quotes" and \u2028'],
        }),
      );
      const report = { ...buildReport(rows), inputs: { targets: inputs, config: null } };
      report.summary.not_covered = notCovered;
      const ctx: RenderContext = { locate: locateNothing, color: false, verbose: true, version: '0.0.0', elapsedMs: 1200 };
      const outputs = FORMAT_NAMES.map((format) => ({ format, path: join(dir, `${f}.${format}`), option: `--output ${format}=…` }));
      await writeOutputs(outputs, report, ctx);
      for (const o of outputs) {
        assert.equal(readFileSync(o.path, 'utf8'), await renderFormat(o.format, report, { ...ctx, color: false }), `${f} as ${o.format}`);
      }
      assert.equal((JSON.parse(readFileSync(join(dir, `${f}.json`), 'utf8')) as { packages: unknown[] }).packages.length, records.length);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
