// JSON that a person reviews (the identity lockfile, a JSON config, a trusted_root.json)
// must mean what it shows. RFC 8259 §4 leaves duplicate object keys to the implementation,
// and JSON.parse keeps the LAST one, while a reviewer reads the FIRST. So such input is
// parsed with JSON.parse (syntax, values) and then scanned once for a key that repeats
// within one object; the scan is jsonc-parser's visitor (its scanner unescapes names, so
// `"a"` and `"\u0061"` are the same key, as they are to JSON.parse).
import { createRequire } from 'node:module';

type JsoncParser = Pick<typeof import('jsonc-parser'), 'visit'>;
let jsonc: JsoncParser | undefined;
// Loaded on first use: a run whose lockfile text was validated before never needs it. Only
// the parser (and its scanner): the package's main module also loads its formatter and
// editor, which is twice the CPU (measured: require 13-19 → 6-8 ms, 3 runs each).
const JSONC_PARSER = 'jsonc-parser/lib/umd/impl/parser.js';
const parser = (): JsoncParser => (jsonc ??= createRequire(import.meta.url)(JSONC_PARSER) as JsoncParser);

/** A key that appears twice in one object: the name and the 1-based line and column of its second appearance. */
export interface DuplicateKey {
  key: string;
  line: number;
  column: number;
}

/**
 * Deepest nesting the scan follows. jsonc-parser's visitor recurses once per level, so a
 * hostile 100,000-deep document would overflow the stack; no document a person reviews
 * here (config, lockfile, trusted_root.json) nests more than a handful of levels, and the
 * config's own bound (src/config/resolve.ts) is the same 64.
 */
export const MAX_JSON_DEPTH = 64;

/** Thrown by findDuplicateKey / parseStrictJson for a document nested deeper than MAX_JSON_DEPTH: it is refused, never half-checked. */
export class JsonTooDeepError extends Error {
  override name = 'JsonTooDeepError';
  constructor() {
    super(`the document is nested more than ${MAX_JSON_DEPTH} levels deep`);
  }
}

/** The first duplicate key of `text` (valid JSON), or undefined. Throws JsonTooDeepError before the stack can overflow. */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const open: Set<string>[] = [];
  let depth = 0;
  const enter = () => {
    if (++depth > MAX_JSON_DEPTH) throw new JsonTooDeepError();
  };
  let found: DuplicateKey | undefined;
  parser().visit(
    text,
    {
      onArrayBegin: enter,
      onArrayEnd: () => {
        depth--;
      },
      onObjectBegin: () => {
        enter();
        open.push(new Set());
      },
      onObjectEnd: () => {
        depth--;
        open.pop();
      },
      onObjectProperty: (key, _offset, _length, line, column) => {
        const keys = open[open.length - 1];
        if (!keys || found) return;
        if (keys.has(key)) found = { key, line: line + 1, column: column + 1 };
        keys.add(key);
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return found;
}

/** Thrown by parseStrictJson for a duplicate key (JSON.parse's SyntaxError for bad syntax). */
export class DuplicateKeyError extends Error {
  override name = 'DuplicateKeyError';
  readonly duplicate: DuplicateKey;
  constructor(duplicate: DuplicateKey) {
    super(`the key ${JSON.stringify(duplicate.key)} appears twice in one object (again at line ${duplicate.line}, column ${duplicate.column})`);
    this.duplicate = duplicate;
  }
}

/** JSON.parse, refusing a key that appears twice in one object (DuplicateKeyError). */
export function parseStrictJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const dup = findDuplicateKey(text);
  if (dup) throw new DuplicateKeyError(dup);
  return value;
}

/**
 * True when `v` is already what a JSON round trip gives back: plain objects and arrays (no
 * holes) of strings, booleans, null and finite numbers, no `toJSON`, no undefined values.
 */
export function isJsonData(v: unknown, depth = 0): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== 'object' || depth > 64) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!(i in v) || !isJsonData(v[i], depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype || 'toJSON' in v) return false;
  for (const k of Object.keys(v)) if (!isJsonData((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}
