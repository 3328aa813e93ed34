// Incremental parsing of big lockfiles (pixi.lock, conda-lock.yml). The `yaml` package
// builds a concrete syntax tree and a Document for the whole text before any JS value
// exists: a 50,000-package pixi.lock (≈ 19 MB) peaks at ≈ 940 MB RSS that way (measured:
// bench/memory.ts). Both formats are block-style mappings whose big members are block
// sequences (`packages:` then `- conda: …`, and per-platform lists under
// `environments:`), so the document can be cut where block structure changes — a line at
// the indentation of the enclosing block (YAML 1.2 §8.2: content is indented deeper) —
// and each mapping entry, or each sequence item, parsed on its own. Peak memory is then
// one chunk's tree plus the values.
//
// Conservative by construction: anything outside that shape (directives, `---`, tabs,
// quoted/flow/complex keys, a duplicate key, a chunk that does not parse alone, e.g. an
// alias to an anchor in another chunk) returns undefined and the caller parses the whole
// text as before, with its exact errors and line numbers. A property test checks that a
// split parse, whenever it answers, equals the whole-document parse.

/** Texts smaller than this are parsed whole (the split only pays on big files). */
export const SPLIT_MIN_BYTES = 512 * 1024;

interface SplitOptions {
  /** Entries with more body lines than this are split further (default 2,000). */
  minLines?: number;
  /**
   * Filled with the 1-based line of each item of every top-level block sequence (`packages:`
   * then `- conda: …`): what a whole-document parse's node ranges would give, for the
   * report's file:line annotations. A key whose items cannot be told apart this way is left out.
   */
  itemLines?: Map<string, number[]>;
}

/** Lines of sequence items parsed together (see `sequence`). */
const BATCH_LINES = 60;

const KEY = /^([A-Za-z_][A-Za-z0-9_.-]*):(?:[ \t]+(#.*)?)?$/; // key with its value on the following lines
const KEY_INLINE = /^([A-Za-z_][A-Za-z0-9_.-]*):[ \t]+[^#\s]/; // key with an inline value

class NotSplittable extends Error {}

function indentOf(line: string): number {
  let i = 0;
  while (line.charCodeAt(i) === 0x20) i++;
  return i;
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** The document being split, and what the caller asked for. */
interface Split {
  lines: string[];
  parseChunk: (chunk: string) => unknown;
  minLines: number;
  itemLines: SplitOptions['itemLines'];
}

function chunk(c: Split, from: number, to: number, indent: number): unknown {
  const parts: string[] = [];
  for (let i = from; i < to; i++) {
    const l = c.lines[i]!;
    // A blank line keeps the spaces beyond the indentation: inside a literal block
    // scalar they are content (YAML 1.2 §8.1.1.2).
    if (isBlank(l)) parts.push(l.slice(Math.min(indent, indentOf(l))));
    else if (indentOf(l) < indent) {
      if (l.trimStart().startsWith('#')) continue; // a comment outdented inside the block
      throw new NotSplittable();
    } else parts.push(l.slice(indent));
  }
  try {
    // Each line keeps its line break, as in the document (a `|+` scalar keeps trailing
    // breaks): every line but the document's last one had one.
    return c.parseChunk(parts.join('\n') + (to < c.lines.length ? '\n' : ''));
  } catch {
    throw new NotSplittable();
  }
}

/** Next non-blank, non-comment line at or after `i` (< to), or `to`. */
function nextContent(c: Split, i: number, to: number, indent: number): number {
  while (i < to && (isBlank(c.lines[i]!) || (indentOf(c.lines[i]!) <= indent && c.lines[i]!.trimStart().startsWith('#')))) i++;
  return i;
}

/** 1-based lines of the `- ` items of the block sequence in lines [from, to). */
function itemStarts(c: Split, from: number, to: number): number[] {
  let first = from;
  while (first < to && (isBlank(c.lines[first]!) || c.lines[first]!.trimStart().startsWith('#'))) first++;
  if (first >= to) return [];
  const d = indentOf(c.lines[first]!);
  const starts: number[] = [];
  for (let k = first; k < to; k++) {
    const l = c.lines[k]!;
    if (!isBlank(l) && indentOf(l) === d && (l.slice(d) === '-' || l.slice(d).startsWith('- '))) starts.push(k + 1);
  }
  return starts;
}

/** Lines [from, to) as a block sequence whose `- ` items sit at `indent`. */
function sequence(c: Split, from: number, to: number, indent: number): unknown[] {
  const out: unknown[] = [];
  let i = nextContent(c, from, to, indent);
  // Items are parsed in batches of about BATCH_LINES lines: one parser run per item
  // costs a Document each, and the parser slows down on big chunks (measured on a
  // 50,000-package pixi.lock, 9 lines per item: one item per run 8.9 s of CPU, batches
  // of 25-100 lines 5.9-6.8 s, of 400 lines 10.3 s).
  let batchStart = -1;
  let batchItems = 0;
  const flush = (end: number): void => {
    if (batchItems === 0) return;
    const v = chunk(c, batchStart, end, indent);
    if (!Array.isArray(v) || v.length !== batchItems) throw new NotSplittable();
    for (const x of v) out.push(x);
    batchItems = 0;
  };
  while (i < to) {
    const l = c.lines[i]!;
    if (indentOf(l) !== indent || !(l.slice(indent) === '-' || l.slice(indent).startsWith('- '))) throw new NotSplittable();
    let j = i + 1;
    while (j < to && (isBlank(c.lines[j]!) || indentOf(c.lines[j]!) > indent || (indentOf(c.lines[j]!) < indent && c.lines[j]!.trimStart().startsWith('#')))) j++;
    // A comment at the item indentation ends the item too (it is not content).
    if (batchItems === 0) batchStart = i;
    batchItems++;
    const next = nextContent(c, j, to, indent);
    if (j - batchStart >= BATCH_LINES) flush(j);
    i = next;
  }
  flush(to);
  return out;
}

/** Lines [from, to) as a block mapping whose keys sit at `indent`. */
function mapping(c: Split, from: number, to: number, indent: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = nextContent(c, from, to, indent);
  while (i < to) {
    const l = c.lines[i]!;
    if (indentOf(l) !== indent) throw new NotSplittable();
    const own = l.slice(indent);
    const m = KEY.exec(own) ?? KEY_INLINE.exec(own);
    if (!m) throw new NotSplittable(); // directives, `---`, tabs, quoted/flow/complex keys
    const key = m[1]!;
    if (Object.hasOwn(out, key)) throw new NotSplittable(); // the whole parse reports the duplicate
    // The entry: following lines that are deeper, blank, or a `- ` item at this same
    // indentation (a block sequence may sit at its key's indentation).
    let j = i + 1;
    let seqAtKey = false;
    for (; j < to; j++) {
      const x = c.lines[j]!;
      if (isBlank(x)) continue;
      const d = indentOf(x);
      if (d > indent) continue;
      if (d === indent && (x.slice(indent) === '-' || x.slice(indent).startsWith('- '))) {
        seqAtKey = true;
        continue;
      }
      if (x.trimStart().startsWith('#')) continue;
      break;
    }
    let value: unknown;
    if (KEY.test(own) && j - i > c.minLines) {
      const first = nextContent(c, i + 1, j, indent);
      const fl = first < j ? c.lines[first]! : '';
      const fd = indentOf(fl);
      if (first < j && (fl.slice(fd) === '-' || fl.slice(fd).startsWith('- '))) value = sequence(c, i + 1, j, fd);
      else if (first < j && fd > indent && !seqAtKey) value = mapping(c, i + 1, j, fd);
      else value = undefined;
    }
    if (value === undefined) {
      const v = chunk(c, i, j, indent);
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length !== 1 || !Object.hasOwn(v, key)) throw new NotSplittable();
      value = (v as Record<string, unknown>)[key];
    }
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    if (indent === 0 && c.itemLines && Array.isArray(value)) {
      const starts = itemStarts(c, i + 1, j);
      if (starts.length === value.length) c.itemLines.set(key, starts);
    }
    i = nextContent(c, j, to, indent);
  }
  return out;
}

/**
 * Parse `text` as a block mapping, entry by entry and item by item, with `parseChunk` (a
 * complete-document parser such as yaml.parse with the caller's options). Undefined when
 * the text is not in the splittable shape or a chunk fails: parse the whole text instead.
 */
export function parseSplitYaml(text: string, parseChunk: (chunk: string) => unknown, opts: SplitOptions = {}): Record<string, unknown> | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) if (lines[i]!.endsWith('\r')) lines[i] = lines[i]!.slice(0, -1);

  try {
    const doc = mapping({ lines, parseChunk, minLines: opts.minLines ?? 2000, itemLines: opts.itemLines }, 0, lines.length, 0);
    return Object.keys(doc).length > 0 ? doc : undefined; // an empty document is null, not {}
  } catch (e) {
    if (e instanceof NotSplittable) return undefined;
    throw e;
  }
}
