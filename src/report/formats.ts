// The output formats of a verification report, in one registry. Each is
// `{ render(report, ctx) }` over the finished report (pure: it only reads the report and
// the context), so the CLI picks one by name for stdout (`--format`) and any number more
// for files (`--output FORMAT=PATH`, docs/commands.md) without a branch per format.
// Renderers load lazily: a `--json` run never loads chalk, a text run never loads SARIF.
import type { LockChange } from '../lock/diff.ts';
import type { Report } from '../types.ts';
import type { Locate } from './locations.ts';

export const FORMAT_NAMES = ['text', 'json', 'github', 'markdown', 'sarif'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** What a renderer may need besides the report (the CLI fills in what the chosen formats need). */
export interface RenderContext {
  /** Where a row's package is written in its environment file (GitHub annotations, SARIF, Markdown). */
  locate: Locate;
  /** Signer identity changes of the run against the lockfile as it was (Markdown). */
  identityChanges?: readonly LockChange[];
  /** Colour (text only; never in a file). */
  color: boolean;
  /** Text: list every package, with the evidence of verified ones. */
  verbose: boolean;
  /** The product version (SARIF's tool driver). */
  version: string;
  /** Wall-clock time of the run, when the host measured it (text: "… in 1.2s"). */
  elapsedMs?: number;
}

export interface ReportFormat {
  /** Needs `ctx.locate` filled from the targets' lines. */
  readonly locations: boolean;
  /** Needs `ctx.identityChanges` (the lockfile as it was before the run). */
  readonly identityChanges: boolean;
  /**
   * Which of the report's run-level findings the format shows a reader. What the format on
   * stdout does not show, the CLI tells on stderr instead (SARIF has no place a person reads
   * them); what it shows, stderr does not repeat. Each finding is told once.
   */
  readonly tells: { readonly notices: boolean; readonly warnings: boolean };
  /** The rendering, as pieces to write in order (JSON: pieces of about 64 KiB). */
  render(report: Report, ctx: RenderContext): Promise<Iterable<string>>;
}

/** Characters of JSON escaped and written at once. */
const JSON_PIECE = 64 * 1024;

/** Every run-level finding is in the rendering (all formats but SARIF). */
const TELLS_ALL = { notices: true, warnings: true } as const;

export const FORMATS: Readonly<Record<FormatName, ReportFormat>> = {
  text: {
    locations: false, identityChanges: false, tells: TELLS_ALL,
    render: async (report, ctx) => [(await import('./terminal.ts')).renderTerminal(report, { color: ctx.color, verbose: ctx.verbose, elapsedMs: ctx.elapsedMs })],
  },
  json: {
    locations: false, identityChanges: false, tells: TELLS_ALL,
    async render(report) {
      const [{ renderJsonChunks }, { escapeJsonOutput }] = await Promise.all([import('./json.ts'), import('../text/escape.ts')]);
      return (function* () {
        // Joined into pieces of ~64 KiB, then escaped: escaping each package's line (a
        // concatenation) made V8 flatten it into a copy (measured, warm 1,000-package run:
        // sampled allocation 52.6 → 48.5 MB, writing the report 42.8 → 38.8 ms CPU, median
        // of 9 interleaved runs).
        let batch: string[] = [];
        let size = 0;
        for (const chunk of renderJsonChunks(report)) {
          batch.push(chunk);
          size += chunk.length;
          if (size < JSON_PIECE) continue;
          yield escapeJsonOutput(batch.join(''));
          batch = [];
          size = 0;
        }
        if (batch.length > 0) yield escapeJsonOutput(batch.join(''));
      })();
    },
  },
  github: {
    locations: true, identityChanges: false, tells: TELLS_ALL,
    render: async (report, ctx) => [(await import('./github.ts')).renderGithub(report, ctx.locate)],
  },
  markdown: {
    locations: true, identityChanges: true, tells: TELLS_ALL,
    render: async (report, ctx) => [(await import('./markdown.ts')).renderMarkdownReport(report, { locate: ctx.locate, identityChanges: ctx.identityChanges })],
  },
  sarif: {
    // SARIF has no place a person reads run-level findings: the CLI tells them on stderr.
    locations: true, identityChanges: false, tells: { notices: false, warnings: false },
    async render(report, ctx) {
      const [{ renderSarif }, { escapeJsonOutput }] = await Promise.all([import('./sarif.ts'), import('../text/escape.ts')]);
      return [escapeJsonOutput(renderSarif(report, { locate: ctx.locate, version: ctx.version }))];
    },
  },
};

/** True for a name of the registry (own keys only: `constructor` is not a format). */
export function isFormatName(name: string): name is FormatName {
  return (FORMAT_NAMES as readonly string[]).includes(name);
}

/** The whole rendering as one string (files, tests). */
export async function renderFormat(name: FormatName, report: Report, ctx: RenderContext): Promise<string> {
  return [...(await FORMATS[name].render(report, ctx))].join('');
}
