// Pure: repodata.json bytes → a small index (filename → digests and CEP 50
// `attestations_sha256`). conda-forge's repodata is hundreds of MB, so the document is
// never turned into one object graph: a byte scanner walks the top level and the two
// package maps, and JSON.parse only sees one package record (or one small top-level
// value) at a time. Every byte still goes through JSON.parse, so malformed input is caught.
import { RepodataError } from '../errors.ts';

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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export function indexRepodata(buf: Buffer, where: string): RepodataIndex {
  const fail = (why: string, at: number): RepodataError =>
    new RepodataError('REPODATA_MALFORMED', `${where} is not valid repodata JSON (${why} at byte ${at}).`, {
      hint: 'The channel served a broken repodata.json; try again later or report it to the channel.',
    });
  let i = 0;
  const n = buf.length;
  const ws = (): void => {
    while (i < n && isWs(buf[i])) i++;
  };
  const expect = (b: number, what: string): void => {
    ws();
    if (buf[i] !== b) throw fail(`expected ${what}`, i);
    i++;
  };
  const stringEnd = (start: number): number => {
    let j = start + 1;
    while (j < n) {
      const b = buf[j];
      if (b === BACKSLASH) j += 2;
      else if (b === QUOTE) return j + 1;
      else j++;
    }
    throw fail('unterminated string', start);
  };
  const valueEnd = (start: number): number => {
    const b = buf[start];
    if (b === QUOTE) return stringEnd(start);
    if (b === 0x7b || b === 0x5b) {
      let depth = 0;
      let j = start;
      while (j < n) {
        const c = buf[j];
        if (c === QUOTE) {
          j = stringEnd(j);
          continue;
        }
        if (c === 0x7b || c === 0x5b) depth++;
        else if (c === 0x7d || c === 0x5d) {
          depth--;
          if (depth === 0) return j + 1;
        }
        j++;
      }
      throw fail('unterminated value', start);
    }
    let j = start;
    while (j < n && !isWs(buf[j]) && buf[j] !== 0x2c && buf[j] !== 0x7d && buf[j] !== 0x5d) j++;
    if (j === start) throw fail('expected a value', start);
    return j;
  };
  const parseSlice = (s: number, e: number): unknown => {
    try {
      return JSON.parse(buf.toString('utf8', s, e));
    } catch {
      throw fail('invalid JSON value', s);
    }
  };
  const key = (): string => {
    ws();
    if (buf[i] !== QUOTE) throw fail('expected a key', i);
    const e = stringEnd(i);
    const k = parseSlice(i, e) as string;
    i = e;
    expect(0x3a, '":"');
    ws();
    return k;
  };
  /** Iterate an object's members, calling `member(key)` with `i` at the value start. */
  const members = (member: (k: string) => void): void => {
    expect(0x7b, '"{"');
    ws();
    if (buf[i] === 0x7d) {
      i++;
      return;
    }
    for (;;) {
      member(key());
      ws();
      if (buf[i] === 0x2c) {
        i++;
        continue;
      }
      if (buf[i] === 0x7d) {
        i++;
        return;
      }
      throw fail('expected "," or "}"', i);
    }
  };

  const index: RepodataIndex = { tarBz2: new Map(), conda: new Map() };
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3; // UTF-8 BOM
  members((k) => {
    const target = k === 'packages' ? index.tarBz2 : k === 'packages.conda' ? index.conda : undefined;
    if (!target) {
      const e = valueEnd(i);
      parseSlice(i, e);
      i = e;
      return;
    }
    members((filename) => {
      const e = valueEnd(i);
      const rec = parseSlice(i, e);
      i = e;
      if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw fail(`record of ${filename} is not an object`, i);
      target.set(filename, compact(rec as Record<string, unknown>));
    });
  });
  ws();
  if (i !== n) throw fail('trailing data', i);
  return index;
}

/**
 * Keep the few fields we use. Digests are kept only when well-formed (they are
 * informational); `attestations_sha256` is kept raw so that a bad value is reported for
 * that package when it is looked up (CEP 50: reject it before building any URL).
 */
function compact(r: Record<string, unknown>): RawRepodataEntry {
  const e: RawRepodataEntry = {};
  if (typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(r.sha256)) e.sha256 = r.sha256.toLowerCase();
  if (typeof r.md5 === 'string' && /^[0-9a-f]{32}$/i.test(r.md5)) e.md5 = r.md5.toLowerCase();
  if (typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0) e.size = r.size;
  if ('attestations_sha256' in r) e.att = r.attestations_sha256;
  return e;
}
