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
  /**
   * What to keep of each value as it is read: called with every item of a split block
   * sequence (`path` = the keys down to the sequence, then the item's index) and every
   * mapping entry parsed in one piece (`path` = the keys down to the entry's, included), in
   * document order; its answer is stored instead. A reader that keeps only the fields it
   * reads never holds the whole parsed document (a sequence must stay a sequence of the
   * same length).
   */
  item?: (path: readonly (string | number)[], value: unknown) => unknown;
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

/** Per-line flags (see `Split.flags`). */
const BLANK = 1;
const COMMENT = 2; // first non-blank character is `#`
const ITEM = 4; // `-` or `- …` at the line's own indentation

/**
 * The document being split, and what the caller asked for. The text is never cut into an
 * array of line strings (half a million strings for a 50,000-package pixi.lock, all alive
 * through the parse): each line is kept as its offsets in the text plus its indentation and
 * flags, and sliced from the text only when a chunk is built.
 */
interface Split {
  text: string;
  /** Offset of line i in `text`, and of its end (without `\n`, nor a `\r` before it). */
  starts: Uint32Array;
  ends: Uint32Array;
  /** Leading spaces of line i. */
  indents: Uint32Array;
  /** BLANK | COMMENT | ITEM of line i. */
  flags: Uint8Array;
  count: number;
  parseChunk: (chunk: string) => unknown;
  minLines: number;
  itemLines: SplitOptions['itemLines'];
  item: SplitOptions['item'];
}

/** The line table of `text`, split on `\n` (a trailing `\r` dropped), as String.split would cut it. */
function lineTable(text: string): Pick<Split, 'starts' | 'ends' | 'indents' | 'flags' | 'count'> {
  let count = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) count++;
  const starts = new Uint32Array(count);
  const ends = new Uint32Array(count);
  const indents = new Uint32Array(count);
  const flags = new Uint8Array(count);
  let from = 0;
  for (let i = 0; i < count; i++) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const end = to > from && text.charCodeAt(to - 1) === 0x0d ? to - 1 : to;
    starts[i] = from;
    ends[i] = end;
    // The same tests as on a line string (trim() and trimStart() strip any white space, not
    // only spaces), on a short-lived slice: a young-generation string, collected at once.
    const l = text.slice(from, end);
    const d = indentOf(l);
    indents[i] = d;
    flags[i] = (l.trim() === '' ? BLANK : 0) | (l.trimStart().startsWith('#') ? COMMENT : 0) | (l.slice(d) === '-' || l.startsWith('- ', d) ? ITEM : 0);
    from = to + 1;
  }
  return { starts, ends, indents, flags, count };
}

function lineOf(c: Split, i: number): string {
  return c.text.slice(c.starts[i]!, c.ends[i]!);
}

const isBlank = (c: Split, i: number): boolean => (c.flags[i]! & BLANK) !== 0;
const isComment = (c: Split, i: number): boolean => (c.flags[i]! & COMMENT) !== 0;
const isItem = (c: Split, i: number): boolean => (c.flags[i]! & ITEM) !== 0;

function chunk(c: Split, from: number, to: number, indent: number): unknown {
  const parts: string[] = [];
  for (let i = from; i < to; i++) {
    const l = lineOf(c, i);
    // A blank line keeps the spaces beyond the indentation: inside a literal block
    // scalar they are content (YAML 1.2 §8.1.1.2).
    if (isBlank(c, i)) parts.push(l.slice(Math.min(indent, c.indents[i]!)));
    else if (c.indents[i]! < indent) {
      if (isComment(c, i)) continue; // a comment outdented inside the block
      throw new NotSplittable();
    } else parts.push(l.slice(indent));
  }
  try {
    // Each line keeps its line break, as in the document (a `|+` scalar keeps trailing
    // breaks): every line but the document's last one had one.
    return c.parseChunk(parts.join('\n') + (to < c.count ? '\n' : ''));
  } catch {
    throw new NotSplittable();
  }
}

/** Next non-blank, non-comment line at or after `i` (< to), or `to`. */
function nextContent(c: Split, i: number, to: number, indent: number): number {
  while (i < to && (isBlank(c, i) || (c.indents[i]! <= indent && isComment(c, i)))) i++;
  return i;
}

/** 1-based lines of the `- ` items of the block sequence in lines [from, to). */
function itemStarts(c: Split, from: number, to: number): number[] {
  let first = from;
  while (first < to && (isBlank(c, first) || isComment(c, first))) first++;
  if (first >= to) return [];
  const d = c.indents[first]!;
  const starts: number[] = [];
  for (let k = first; k < to; k++) {
    if (!isBlank(c, k) && c.indents[k] === d && isItem(c, k)) starts.push(k + 1);
  }
  return starts;
}

/** Lines [from, to) as a block sequence whose `- ` items sit at `indent`; `path`: the keys down to it. */
function sequence(c: Split, from: number, to: number, indent: number, path: readonly string[]): unknown[] {
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
    for (const x of v) out.push(c.item ? c.item([...path, out.length], x) : x);
    batchItems = 0;
  };
  while (i < to) {
    if (c.indents[i] !== indent || !isItem(c, i)) throw new NotSplittable();
    let j = i + 1;
    while (j < to && (isBlank(c, j) || c.indents[j]! > indent || (c.indents[j]! < indent && isComment(c, j)))) j++;
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

/** Lines [from, to) as a block mapping whose keys sit at `indent`; `path`: the keys down to it. */
function mapping(c: Split, from: number, to: number, indent: number, path: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = nextContent(c, from, to, indent);
  while (i < to) {
    if (c.indents[i] !== indent) throw new NotSplittable();
    const own = lineOf(c, i).slice(indent);
    const m = KEY.exec(own) ?? KEY_INLINE.exec(own);
    if (!m) throw new NotSplittable(); // directives, `---`, tabs, quoted/flow/complex keys
    const key = m[1]!;
    if (Object.hasOwn(out, key)) throw new NotSplittable(); // the whole parse reports the duplicate
    // The entry: following lines that are deeper, blank, or a `- ` item at this same
    // indentation (a block sequence may sit at its key's indentation).
    let j = i + 1;
    let seqAtKey = false;
    for (; j < to; j++) {
      if (isBlank(c, j)) continue;
      const d = c.indents[j]!;
      if (d > indent) continue;
      if (d === indent && isItem(c, j)) {
        seqAtKey = true;
        continue;
      }
      if (isComment(c, j)) continue;
      break;
    }
    let value: unknown;
    if (KEY.test(own) && j - i > c.minLines) {
      const first = nextContent(c, i + 1, j, indent);
      const fd = first < j ? c.indents[first]! : 0;
      if (first < j && isItem(c, first)) value = sequence(c, i + 1, j, fd, [...path, key]);
      else if (first < j && fd > indent && !seqAtKey) value = mapping(c, i + 1, j, fd, [...path, key]);
      else value = undefined;
    }
    if (value === undefined) {
      const v = chunk(c, i, j, indent);
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length !== 1 || !Object.hasOwn(v, key)) throw new NotSplittable();
      value = (v as Record<string, unknown>)[key];
      if (c.item) value = c.item([...path, key], value);
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
  const c: Split = { text, ...lineTable(text), parseChunk, minLines: opts.minLines ?? 2000, itemLines: opts.itemLines, item: opts.item };
  try {
    const doc = mapping(c, 0, c.count, 0, []);
    return Object.keys(doc).length > 0 ? doc : undefined; // an empty document is null, not {}
  } catch (e) {
    if (e instanceof NotSplittable) return undefined;
    throw e;
  }
}
