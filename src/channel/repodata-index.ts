// Pure: repodata.json bytes → package records (filename → digests and CEP 50
// `attestations_sha256`), fed chunk by chunk. conda-forge's repodata is hundreds of MB, so
// the document never exists whole — neither as bytes, nor as a string, nor as an object
// graph: a byte scanner walks the top level and the two package maps as the bytes arrive,
// and JSON.parse only sees one package record (or one small top-level value) at a time.
// Every byte still goes through JSON.parse, so malformed input is caught.
//
// Hand-written rather than a streaming tokenizer package: the scanner only needs to find
// where each record ends (strings, escapes and nesting depth) and hands the record to
// V8's JSON.parse. Measured (Node 24, 43 MB of repodata, 100,000 records, 64 KiB chunks):
// this scanner, JSON.parse and compaction included, 0.74 s of CPU; @streamparser/json
// (the most used tokenizer in the package lists; it builds every value token by token in
// JavaScript) 1.5 s just to emit the same records. Holding at most one record (or one
// small top-level value) at a time, both are flat in memory; the scanner is twice as fast.
import { HttpError, RepodataError } from '../errors.ts';
import { isSha256Hex } from '../util/sha256.ts';

/** What is kept per package. `att` is the raw `attestations_sha256` value, validated on lookup. */
export interface RawRepodataEntry {
  sha256?: string;
  md5?: string;
  size?: number;
  att?: unknown;
}

export interface RepodataIndex {
  /** `packages` (.tar.bz2). */
  tarBz2: Map<string, RawRepodataEntry>;
  /** `packages.conda` (.conda). */
  conda: Map<string, RawRepodataEntry>;
}

export type RepodataSection = keyof RepodataIndex;

/** The section a lookup of `filename` reads: `.conda` files from packages.conda, the rest from packages. */
export function sectionOf(filename: string): RepodataSection {
  return filename.endsWith('.conda') ? 'conda' : 'tarBz2';
}

export function emptyIndex(): RepodataIndex {
  return { tarBz2: new Map(), conda: new Map() };
}

/**
 * Largest single value held at once: one package record, one key, or one top-level value
 * other than the package maps (`info`, `removed`, …). Real records are a few KB and
 * conda-forge's `removed` list about 1 MB; anything larger is refused (REPODATA_MALFORMED)
 * instead of being buffered, so no value of a hostile document can occupy more.
 */
export const MAX_REPODATA_VALUE = 16 << 20;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

// Scanner states (plain numbers: the hot loop compares them).
const S = {
  Start: 0, // ws* "{" (a UTF-8 BOM allowed first)
  TopFirst: 1, // ws* (key | "}")
  TopKey: 2, // ws* key
  TopColon: 3, // ws* ":"
  TopValue: 4, // ws* value
  TopAfter: 5, // ws* ("," | "}")
  SecFirst: 6, // ws* (filename | "}")
  SecKey: 7, // ws* filename
  SecColon: 8, // ws* ":"
  SecValue: 9, // ws* record
  SecAfter: 10, // ws* ("," | "}")
  End: 11, // ws*
  Capture: 12, // inside a value being collected
} as const;
type S = (typeof S)[keyof typeof S];

/** What the value being collected is. */
const Cap = { TopKey: 0, TopValue: 1, SecKey: 2, SecValue: 3 } as const;
type Cap = (typeof Cap)[keyof typeof Cap];

const Kind = { String: 0, Nested: 1, Atom: 2 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

type RecordSink = (section: RepodataSection, filename: string, entry: RawRepodataEntry) => void;

/** Incremental repodata.json scanner: `push` chunks in order, then `end`. Throws REPODATA_MALFORMED. */
export class RepodataScanner {
  private readonly where: string;
  private readonly sink: RecordSink;
  private state: S = S.Start;
  /** Bytes consumed before the current chunk (for error offsets). */
  private offset = 0;
  private bom = 0;
  private section: RepodataSection | undefined;
  private topKey = '';
  private filename = '';
  // The value being captured.
  private cap: Cap = Cap.TopKey;
  private kind: Kind = Kind.String;
  private inString = false;
  private escape = false;
  private depth = 0;
  private parts: Buffer[] = [];
  private partsLen = 0;
  private capAt = 0;

  constructor(where: string, sink: RecordSink) {
    this.where = where;
    this.sink = sink;
  }

  private fail(why: string, at: number): RepodataError {
    return new RepodataError('REPODATA_MALFORMED', `${this.where} is not valid repodata JSON (${why} at byte ${at}).`, {
      hint: 'The channel served a broken repodata.json; try again later or report it to the channel.',
    });
  }

  private begin(cap: Cap, kind: Kind, at: number): void {
    this.state = S.Capture;
    this.cap = cap;
    this.kind = kind;
    // Every capture starts ON its first byte (the opening quote or bracket), so a value
    // that begins at the end of a chunk loses nothing.
    this.inString = false;
    this.escape = false;
    this.depth = 0;
    this.parts = [];
    this.partsLen = 0;
    this.capAt = at;
  }

  push(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    let capStart = 0;
    while (i < n) {
      if (this.state === S.Capture) {
        const j = this.valueEnd(buf, i);
        if (this.partsLen + ((j < 0 ? n : j) - capStart) > MAX_REPODATA_VALUE) {
          throw this.fail(`a value larger than ${MAX_REPODATA_VALUE} bytes`, this.capAt);
        }
        if (j < 0) {
          // Copied: the caller may reuse its chunk buffers.
          this.parts.push(Buffer.from(buf.subarray(capStart, n)));
          this.partsLen += n - capStart;
          break;
        }
        const text =
          this.parts.length === 0
            ? buf.toString('utf8', capStart, j)
            : Buffer.concat([...this.parts, buf.subarray(capStart, j)], this.partsLen + (j - capStart)).toString('utf8');
        this.parts = [];
        this.partsLen = 0;
        i = j;
        this.captured(text);
        continue;
      }
      const c = buf[i]!;
      if (isWs(c)) i++;
      // A capture starts ON its byte: the value scan reads it again.
      else if (this.step(c, this.offset + i)) capStart = i;
      else i++;
    }
    this.offset += n;
  }

  /** Where the value being captured ends in `buf` (from `i`): the index after it, or -1 when it goes on past the chunk. */
  private valueEnd(buf: Buffer, i: number): number {
    const n = buf.length;
    const kind = this.kind;
    if (kind === Kind.Atom) {
      for (let j = i; j < n; j++) {
        const c = buf[j]!;
        if (isWs(c) || c === COMMA || c === RBRACE || c === RBRACKET) return j;
      }
      return -1;
    }
    // Strings (with escapes) and nesting depth.
    let { inString, escape, depth } = this;
    let end = -1;
    for (let j = i; j < n && end < 0; j++) {
      const c = buf[j]!;
      if (inString) {
        if (escape) escape = false;
        else if (c === BACKSLASH) escape = true;
        else if (c === QUOTE) {
          inString = false;
          if (kind === Kind.String) end = j + 1;
        }
      } else if (c === QUOTE) inString = true;
      else if (c === LBRACE || c === LBRACKET) depth++;
      else if ((c === RBRACE || c === RBRACKET) && --depth === 0) end = j + 1;
    }
    this.inString = inString;
    this.escape = escape;
    this.depth = depth;
    return end;
  }

  /** One structural byte outside any value (not whitespace) at offset `at`; true when it begins a capture. */
  private step(c: number, at: number): boolean {
    const state = this.state;
    switch (state) {
      case S.Start:
        if (at === this.bom && c === [0xef, 0xbb, 0xbf][this.bom]) {
          this.bom++;
          return false;
        }
        if (c !== LBRACE || (this.bom !== 0 && this.bom !== 3)) throw this.fail('expected "{"', at);
        this.state = S.TopFirst;
        return false;
      case S.TopFirst:
      case S.TopKey:
      case S.SecFirst:
      case S.SecKey: {
        const top = state === S.TopFirst || state === S.TopKey;
        if (c === RBRACE && (state === S.TopFirst || state === S.SecFirst)) {
          this.state = top ? S.End : S.TopAfter;
          return false;
        }
        if (c !== QUOTE) throw this.fail('expected a key', at);
        this.begin(top ? Cap.TopKey : Cap.SecKey, Kind.String, at);
        return true;
      }
      case S.TopColon:
      case S.SecColon:
        if (c !== COLON) throw this.fail('expected ":"', at);
        this.state = state === S.TopColon ? S.TopValue : S.SecValue;
        return false;
      case S.TopValue:
        if (this.section !== undefined) {
          if (c !== LBRACE) throw this.fail(`expected "{" for "${this.topKey}"`, at);
          this.state = S.SecFirst;
          return false;
        }
        if (c === COMMA || c === RBRACE || c === RBRACKET || c === COLON) throw this.fail('expected a value', at);
        this.begin(Cap.TopValue, c === QUOTE ? Kind.String : c === LBRACE || c === LBRACKET ? Kind.Nested : Kind.Atom, at);
        return true;
      case S.SecValue:
        if (c !== LBRACE) throw this.fail(`record of ${JSON.stringify(this.filename).slice(0, 200)} is not an object`, at);
        this.begin(Cap.SecValue, Kind.Nested, at);
        return true;
      case S.TopAfter:
      case S.SecAfter:
        if (c === COMMA) this.state = state === S.TopAfter ? S.TopKey : S.SecKey;
        else if (c === RBRACE) this.state = state === S.TopAfter ? S.End : S.TopAfter;
        else throw this.fail('expected "," or "}"', at);
        return false;
      default:
        throw this.fail('trailing data', at);
    }
  }

  private parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw this.fail('invalid JSON value', this.capAt);
    }
  }

  private captured(text: string): void {
    switch (this.cap) {
      case Cap.TopKey: {
        this.topKey = this.parse(text) as string;
        this.section = this.topKey === 'packages' ? 'tarBz2' : this.topKey === 'packages.conda' ? 'conda' : undefined;
        this.state = S.TopColon;
        return;
      }
      case Cap.SecKey:
        this.filename = this.parse(text) as string;
        this.state = S.SecColon;
        return;
      case Cap.TopValue:
        this.parse(text);
        this.state = S.TopAfter;
        return;
      case Cap.SecValue: {
        const rec = this.parse(text);
        // Starts with "{", so JSON.parse gave an object.
        this.sink(this.section!, this.filename, compact(rec as Record<string, unknown>));
        this.state = S.SecAfter;
        return;
      }
    }
  }

  /** The document is complete: throws REPODATA_MALFORMED when it is not. */
  end(): void {
    if (this.state === S.End) return;
    if (this.state === S.Capture) throw this.fail(this.kind === Kind.String ? 'unterminated string' : 'unterminated value', this.capAt);
    throw this.fail(this.state === S.Start ? 'expected "{"' : 'unexpected end of data', this.offset);
  }
}

/** The whole document at once (tests, small documents): every record kept. */
export function indexRepodata(buf: Buffer, where: string): RepodataIndex {
  const index = emptyIndex();
  const scanner = new RepodataScanner(where, (section, filename, entry) => void index[section].set(filename, entry));
  // In slices, so the value cap applies as it would to a stream.
  for (let at = 0; at < buf.length; at += 1 << 20) scanner.push(buf.subarray(at, Math.min(buf.length, at + (1 << 20))));
  scanner.end();
  return index;
}

/**
 * Keep the few fields we use. Digests are kept only when well-formed (they are
 * informational); `attestations_sha256` is kept raw so that a bad value is reported for
 * that package when it is looked up (CEP 50: reject it before building any URL).
 */
function compact(r: Record<string, unknown>): RawRepodataEntry {
  const e: RawRepodataEntry = {};
  if (typeof r.sha256 === 'string' && isSha256Hex(r.sha256.toLowerCase())) e.sha256 = r.sha256.toLowerCase();
  if (typeof r.md5 === 'string' && /^[0-9a-f]{32}$/i.test(r.md5)) e.md5 = r.md5.toLowerCase();
  if (typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0) e.size = r.size;
  if ('attestations_sha256' in r) e.att = r.attestations_sha256;
  return e;
}

/** What a lookup answers for one package. */
export interface RepodataEntry {
  /** CEP 50 `attestations_sha256`, validated: 64 lowercase hex. */
  attestationsSha256?: string;
  sha256?: string;
  size?: number;
  md5?: string;
}

/** True when the error says the channel has no repodata at all for the subdir (HTTP 404). */
export function isRepodataMissing(e: unknown): boolean {
  return e instanceof RepodataError && e.code === 'REPODATA_UNAVAILABLE' && e.cause instanceof HttpError && e.cause.code === 'HTTP_NOT_FOUND';
}

export function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return (JSON.stringify(v) ?? String(v)).slice(0, 100);
}

/** Pure: validate one raw entry into what callers may use. */
export function entryFromRaw(raw: RawRepodataEntry, filename: string, url: string): RepodataEntry {
  const e: RepodataEntry = {};
  if (raw.sha256 !== undefined) e.sha256 = raw.sha256;
  if (raw.md5 !== undefined) e.md5 = raw.md5;
  if (raw.size !== undefined) e.size = raw.size;
  if (raw.att !== undefined) {
    // CEP 50: exactly 64 lowercase hex, rejected before any URL is built from it.
    if (!isSha256Hex(raw.att)) {
      throw new RepodataError(
        'REPODATA_INVALID_ATTESTATIONS_SHA256',
        `${url} gives ${filename} the invalid attestations_sha256 ${describe(raw.att)}.`,
        { hint: 'attestations_sha256 must be 64 lowercase hex characters (or 32 bytes in a CEP 16 shard); report this to the channel.' },
      );
    }
    e.attestationsSha256 = raw.att;
  }
  return e;
}
