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
//
// CI logs are a second interpreter: the GitHub Actions runner reads every line a step
// prints and acts on workflow commands in it — `::name::…` at the start of a line (after
// leading whitespace) and the legacy `##[name]…` anywhere in a line (`##[stop-commands]tok`
// silences every later annotation of the job; GitHub Docs, "Workflow commands for GitHub
// Actions"). Outside text must never carry either into a log line, so every function here
// also breaks them, in every output (not only under GITHUB_ACTIONS: the same text is
// pasted into logs, and one rule cannot be forgotten on one path).

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

/** The legacy runner command opener, honoured anywhere in a line. */
const LEGACY_COMMAND = /##\[/g;
/** A workflow command at the start of a line: the runner trims leading whitespace (any Unicode space) first. */
const LINE_COMMAND = /^([^\S\n]*):(?=:)/gm;

/**
 * Break workflow-command syntax in text whose control characters are already escaped:
 * `##[` → `#\u0023[`, and a line-leading `::` → `\u003a:`, both shown visibly like every
 * other escape. Applied after the control escapes, which never produce `#`, `[` or `:`.
 */
function breakCommands(s: string): string {
  return s.replace(LEGACY_COMMAND, '#\\u0023[').replace(LINE_COMMAND, '$1\\u003a');
}

/**
 * One line of text, safe for a terminal and a CI log: every unsafe character (newlines
 * included) as a visible `\uXXXX`, and no workflow command (a `##[`, or a `::` that would
 * start the line). Accepts any value (`null`/`undefined` print as themselves) so a
 * renderer can pass outside fields through without checking their type first.
 */
export function escapeText(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return breakCommands(s.replace(UNSAFE_TEXT, visible));
}

/** Multi-line text (e.g. a raw file shown as-is): keeps LF and TAB, escapes everything else unsafe, breaks workflow commands on every line. */
export function escapeLines(v: string): string {
  return breakCommands(v.replace(UNSAFE_IN_LINES, visible));
}

/**
 * JSON text for stdout (`--format json`, SARIF, `--json`): `##[` inside a string becomes
 * `#\u0023[`, the same string to any JSON parser but no runner command in a log. (`#` only
 * occurs inside strings in JSON, and no JSON line starts with `::`.)
 */
export function escapeJsonOutput(json: string): string {
  return json.replace(LEGACY_COMMAND, '#\\u0023[');
}

/** Zero-width space as a character reference: splits a token for GitHub's linkers, renders as nothing. */
const ZWSP = '&#8203;';

/**
 * A value for Markdown/HTML (PR comments, GitHub summaries): HTML-escaped so it cannot open
 * a tag, a link or a table cell, backticks and pipes neutralised, unsafe characters as
 * numeric character references (rendered visibly by the browser, never interpreted).
 *
 * GitHub also turns plain text into links and notifications: autolinks (`https://…`,
 * `www.…`, `user@host`; GFM spec, "Autolinks (extension)"), `@user` / `@org/team`
 * mentions and `#123` references ("Autolinked references and URLs"). Its mention and
 * reference filters run on the rendered text, where a character reference is already
 * decoded, so escaping `@` or `#` would not stop them: a zero-width space after `@`, after
 * a `#` before a digit, inside `://` and after `www` breaks each token instead. A signer
 * or mirror then cannot ping a team, cross-link an issue or plant a clickable link in a
 * pull request.
 */
export function escapeMarkdown(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return s.replace(MARKDOWN_SPECIAL, markdownEntity).replace(/^(\s*):(?=:)/, '$1&#58;');
}

/** Everything escapeMarkdown rewrites, in one pass (so no replacement is rewritten again). */
const MARKDOWN_SPECIAL = new RegExp(`[&<>"|\`[\\]*_~\\\\]|${UNSAFE_TEXT.source}|@|#(?=\\d)|:(?=//)|\\b[Ww]{3}(?=\\.)`, 'g');

const MARKDOWN_NAMED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function markdownEntity(c: string): string {
  if (c in MARKDOWN_NAMED) return MARKDOWN_NAMED[c]!;
  // Token breakers: the character itself, then a zero-width space.
  if (c === '@' || c === '#' || c === ':' || c.length === 3) return c + ZWSP;
  return `&#${c.charCodeAt(0)};`;
}

/** An outside value as inline code in Markdown (`<code>` with escaped content: safe in table cells too). */
export function markdownCode(v: unknown): string {
  return `<code>${escapeMarkdown(v)}</code>`;
}
