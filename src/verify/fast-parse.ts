// A faster ASN.1 DER parser with exactly @sigstore/core's results (docs/performance.md "Cold runs,
// round 5: the worker"), installed by accelerate.ts.
//
// @sigstore/core's parser reads every OCTET STRING as nested DER and throws (and catches) an
// ASN1ParseError when it is not: ~17 times per Fulcio leaf certificate, whose extensions hold
// plain strings, and a leaf is parsed twice per bundle (once by conda-attest, once more in
// sigstore-js's SCT check, which parses a copy). This parser makes the same decisions in the
// same order, but a failure is a returned `null` instead of a thrown error: it builds the same
// tree (new ASN1Obj and ASN1Tag objects, each value a view of one private copy of the input,
// at the same offsets), and where the stock parser would throw to its caller, it hands the
// input to the stock parser, so every error is the stock one. Pure; no Node built-ins.
// Measured: the worker's handler over the 1,000 bench bundles once, fresh worker, 8 interleaved
// runs: 1,036 → 938 ms CPU (median; docs/performance.md "Cold runs, round 5: the worker").
import { ASN1Obj } from '@sigstore/core';

/** @sigstore/core's nesting bound (asn1/obj.js MAX_DEPTH): deeper input is refused. */
const MAX_DEPTH = 100;

type Tag = ASN1Obj['tag'];
type TagClass = new (enc: number) => Tag;

interface Cursor {
  pos: number;
}

/**
 * One object at `c.pos` (stock `parseStream`), or null where the stock parser throws. The
 * checks, in the stock order: nesting depth; the tag byte (no long-form tag number, no
 * universal tag 0); the length (short form, or 1–6 length bytes without a leading zero, not
 * zero and not below 128); the value within the input; the children of a constructed object
 * (a failure fails this object); the children of an OCTET STRING (a failure leaves it
 * primitive, as the stock parser's catch does).
 */
function parseAt(view: Buffer, c: Cursor, depth: number, TagOf: TagClass): ASN1Obj | null {
  if (depth > MAX_DEPTH) return null;
  const size = view.length;
  let p = c.pos;
  if (p + 1 > size) return null;
  const enc = view[p++]!;
  const number = enc & 0x1f;
  const cls = enc >> 6;
  if (number === 0x1f || (cls === 0 && number === 0)) return null;
  if (p + 1 > size) return null;
  const first = view[p++]!;
  let len = first;
  if ((first & 0x80) !== 0) {
    const count = first & 0x7f;
    if (count > 6) return null;
    len = 0;
    for (let i = 0; i < count; i++) {
      if (p + 1 > size) return null;
      const b = view[p++]!;
      if (i === 0 && b === 0) return null;
      len = len * 256 + b;
    }
    if (len === 0 || len < 128) return null;
  }
  const end = p + len;
  if (end > size) return null;
  const value = view.subarray(p, end);
  c.pos = p;
  let subs: ASN1Obj[] = [];
  if ((enc & 0x20) === 0x20) {
    const s = childrenAt(view, c, len, depth, TagOf);
    if (s === null) return null;
    subs = s;
  } else if (cls === 0 && number === 4) {
    const s = childrenAt(view, c, len, depth, TagOf);
    if (s !== null) subs = s;
  }
  if (subs.length === 0) c.pos = end;
  return new ASN1Obj(new TagOf(enc), value, subs);
}

/** The children in the next `len` bytes (stock `collectSubs`), or null where it throws. */
function childrenAt(view: Buffer, c: Cursor, len: number, depth: number, TagOf: TagClass): ASN1Obj[] | null {
  const end = c.pos + len;
  if (end > view.length) return null;
  const subs: ASN1Obj[] = [];
  while (c.pos < end) {
    const s = parseAt(view, c, depth + 1, TagOf);
    if (s === null) return null;
    subs.push(s);
  }
  return c.pos === end ? subs : null;
}

/**
 * The parse of `buf`, or null when the stock parser would throw (its caller then runs the
 * stock parser for the stock error) or when `buf` is not bytes. `TagOf`: @sigstore/core's
 * ASN1Tag class (taken from a stock parse: the package does not export it).
 */
export function fastParse(buf: unknown, TagOf: TagClass): ASN1Obj | null {
  if (!(buf instanceof Uint8Array)) return null;
  // The stock ByteStream copies its input (Buffer.from) and slices every value from the copy.
  const view = Buffer.from(buf);
  const c: Cursor = { pos: 0 };
  const obj = parseAt(view, c, 0, TagOf);
  return obj !== null && c.pos === view.length ? obj : null;
}

/**
 * A tree as comparable data: each object's tag byte, value bytes, the offset of its value in
 * the buffer the tree was parsed into (relative to the root's), and its children. Two parses
 * are the same exactly when their shapes are (the self-test in accelerate.ts and the tests).
 */
export function treeShape(obj: ASN1Obj): unknown {
  const buffer = obj.value.buffer;
  const base = obj.value.byteOffset;
  const walk = (o: ASN1Obj): unknown => [o.tag.toDER(), o.value.buffer === buffer ? o.value.byteOffset - base : 'elsewhere', o.value.toString('hex'), o.subs.map(walk)];
  return walk(obj);
}
