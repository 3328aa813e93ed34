// The one place where outside strings are made safe to print. Every text format
// (terminal report, `diff` text and Markdown, `--textconv`, stderr error lines, and any
// new renderer) passes every value that came from outside — URLs, SANs, certificate
// claims, statement fields, messages quoting sidecars, repodata or lockfiles — through
// one of these functions, never printing it raw.
//
// Why: a signer controls its certificate SAN and statement; a mirror controls URLs and
// file names. Printed raw, an ESC (CSI/OSC sequences, ECMA-48 §5) can erase a "blocked"
// line, fake a success or retitle the window; a CR or newline can forge a whole report
// line; Unicode bidirectional overrides can reorder what a reviewer reads (CVE-2021-42574,
// "Trojan Source"). Escaped characters are shown as visible `\uXXXX`, so nothing is
// hidden and nothing is lost.

/**
 * Characters never printed raw: C0 controls (including TAB, LF, CR, ESC), DEL, C1
 * controls (0x80–0x9f; 0x9b is a one-byte CSI), the Unicode line/paragraph separators,
 * the bidirectional marks, embeddings, overrides and isolates, and the BOM / zero-width
 * no-break space.
 */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/** Same set without TAB and LF: for multi-line text that is shown as lines (raw file fallback). */
const UNSAFE_IN_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

const UNSAFE_TEST = new RegExp(UNSAFE_TEXT.source);

function visible(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** True when `s` holds a character that {@link escapeText} would escape. */
export function hasUnsafeText(s: string): boolean {
  return UNSAFE_TEST.test(s);
}

/**
 * One line of text, safe for a terminal: every unsafe character (newlines included)
 * as a visible `\uXXXX`. Accepts any value (`null`/`undefined` print as themselves) so a
 * renderer can pass outside fields through without checking their type first.
 */
export function escapeText(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return s.replace(UNSAFE_TEXT, visible);
}

/** Multi-line text (e.g. a raw file shown as-is): keeps LF and TAB, escapes everything else unsafe. */
export function escapeLines(v: string): string {
  return v.replace(UNSAFE_IN_LINES, visible);
}

/**
 * A value for Markdown/HTML (PR comments, GitHub summaries): HTML-escaped so it cannot open
 * a tag, a link or a table cell, backticks and pipes neutralised, unsafe characters as
 * numeric character references (rendered visibly by the browser, never interpreted).
 */
export function escapeMarkdown(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\|/g, '&#124;')
    .replace(/`/g, '&#96;')
    .replace(/[[\]*_~\\]/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(UNSAFE_TEXT, (c) => `&#${c.charCodeAt(0)};`);
}

/** An outside value as inline code in Markdown (`<code>` with escaped content: safe in table cells too). */
export function markdownCode(v: unknown): string {
  return `<code>${escapeMarkdown(v)}</code>`;
}
