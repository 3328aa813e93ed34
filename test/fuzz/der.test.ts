// Property: the fast DER encoder and the fast certificate equality (src/verify/fast-der.ts)
// give exactly @sigstore/core's answers on generated ASN.1 trees (nested, long lengths,
// OCTET STRINGs holding DER), on their bytes mutated (flipped, inserted, deleted, truncated,
// appended: non-minimal, indefinite and high-tag-number headers included; whatever the
// parser refuses is skipped) and on parsed trees changed afterwards (sub-objects removed,
// duplicated, swapped or taken from another tree, values copied or re-pointed into the parsed
// buffer elsewhere, tags swapped, the parsed buffer written to in place). An attacker's
// certificate must never be "equal" to a trusted one where the stock method says it is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { fastCertEquals, fastDER, originalToDER } from '../../src/verify/fast-der.ts';
import { fastParse, treeShape } from '../../src/verify/fast-parse.ts';
import { checkProperty, fc } from '../helpers/fuzz.ts';

type Tree = { tag: number; kids: Tree[] | null; bytes: Uint8Array; form: number };

/** DER-like bytes of `t`: `form` 0 minimal length, 1 long form even when short, 2 a leading zero byte, 3 indefinite (0x80). */
function encode(t: Tree): Buffer {
  const content = t.kids ? Buffer.concat(t.kids.map(encode)) : Buffer.from(t.bytes);
  const n = content.length;
  const be: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) be.unshift(v % 256);
  let len: number[];
  if (t.form === 3) len = [0x80];
  else if (t.form === 2) len = [0x81 + be.length, 0, ...be];
  else if (t.form === 1 || n >= 128) len = [0x80 | Math.max(be.length, 1), ...(be.length ? be : [0])];
  else len = [n];
  return Buffer.concat([Buffer.from([t.tag, ...len]), content]);
}

const primitiveTag = fc.constantFrom(0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x17, 0x80, 0x81, 0x86, 0x1f, 0x5f, 0x9f);
const constructedTag = fc.constantFrom(0x30, 0x31, 0xa0, 0xa3, 0x24, 0x04, 0x3f, 0xbf);
const content = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: 300 }).map((n) => new Uint8Array(n).fill(n & 0xff)) },
);
const form = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) });
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ tag: primitiveTag, kids: fc.constant(null), bytes: content, form }),
    fc.record({ tag: constructedTag, kids: fc.array(tie('tree'), { maxLength: 4 }), bytes: fc.constant(new Uint8Array(0)), form }),
  ),
}));

type ByteEdit = { kind: 'set' | 'insert' | 'delete' | 'truncate' | 'append'; at: number; byte: number };
const byteEdit = fc.record({ kind: fc.constantFrom('set', 'insert', 'delete', 'truncate', 'append'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) as fc.Arbitrary<ByteEdit>;

function edit(der: Buffer, edits: ByteEdit[]): Buffer {
  let b = Buffer.from(der);
  for (const { kind, at, byte } of edits) {
    const i = b.length ? at % b.length : 0;
    if (kind === 'set' && b.length) b[i] = byte;
    else if (kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
    else if (kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    else if (kind === 'truncate') b = b.subarray(0, i);
    else if (kind === 'append') b = Buffer.concat([b, Buffer.from([byte, byte ^ 0x5a])]);
  }
  return b;
}

type TreeEdit = { kind: 'remove' | 'duplicate' | 'swap' | 'foreign' | 'copy' | 'repoint' | 'tag' | 'poke' | 'pokeValue' | 'copyChanged'; node: number; at: number; byte: number };
const treeEdit = fc.record({
  kind: fc.constantFrom('remove', 'duplicate', 'swap', 'foreign', 'copy', 'repoint', 'tag', 'poke', 'pokeValue', 'copyChanged'),
  node: fc.nat(),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
}) as fc.Arbitrary<TreeEdit>;

/** `o` and every object below it, those below a `skip` object excepted. */
function nodes(o: ASN1Obj, out: ASN1Obj[] = [], skip?: Set<ASN1Obj>): ASN1Obj[] {
  out.push(o);
  for (const s of o.subs) if (!skip?.has(s)) nodes(s, out, skip);
  return out;
}

function parse(der: Buffer): ASN1Obj | null {
  try {
    return ASN1Obj.parseBuffer(der as Buffer<ArrayBuffer>);
  } catch {
    return null;
  }
}

/** Apply `edits` to `root` (parsed from `input`, which `poke` writes into); `other` lends sub-objects. */
function change(root: ASN1Obj, input: Buffer, other: ASN1Obj, edits: TreeEdit[]): void {
  // Lent objects are not edited through `root` (that would edit `other`, and could make a cycle).
  const lent = new Set<ASN1Obj>();
  for (const { kind, node, at, byte } of edits) {
    const all = nodes(root, [], lent);
    const n = all[node % all.length]! as unknown as { tag: ASN1Obj['tag']; value: Buffer; subs: ASN1Obj[] };
    const foreign = nodes(other);
    if (kind === 'remove' && n.subs.length) n.subs.splice(at % n.subs.length, 1);
    else if (kind === 'duplicate' && n.subs.length) n.subs.push(n.subs[at % n.subs.length]!);
    else if (kind === 'swap') n.subs.reverse();
    else if (kind === 'foreign') {
      const s = foreign[at % foreign.length]!;
      lent.add(s);
      n.subs.push(s);
    }
    else if (kind === 'copy') n.value = Buffer.from(n.value);
    else if (kind === 'copyChanged' && n.value.length) {
      // A copy with one byte changed, at the same offset of another memory block: its header
      // bytes in the parent and its offset still match, only the memory differs.
      const v = n.value;
      const copy = Buffer.from(new ArrayBuffer(v.buffer.byteLength), v.byteOffset, v.length);
      v.copy(copy);
      copy[at % copy.length] ^= byte | 1;
      n.value = copy;
    }
    else if (kind === 'repoint' && input.length) {
      // The same memory as the parse, at another place: exactly what `intact` must not trust.
      const start = at % input.length;
      n.value = input.subarray(start, start + (byte % (input.length - start + 1)));
    } else if (kind === 'tag') n.tag = foreign[at % foreign.length]!.tag;
    else if (kind === 'poke' && input.length) input[at % input.length] = byte;
    else if (kind === 'pokeValue' && n.value.length) n.value[at % n.value.length] = byte; // the parse's memory, or a copy's
  }
}

const stockEquals = (a: ASN1Obj, b: ASN1Obj): boolean => originalToDER(a).equals(originalToDER(b));

test('property: fast DER encoding and certificate equality agree with @sigstore/core on generated, mutated and changed-after-parsing trees', async (t) => {
  let parsed = 0;
  let equalPairs = 0;
  await checkProperty(
    t,
    'fast DER',
    [tree, fc.array(byteEdit, { maxLength: 3 }), fc.array(treeEdit, { minLength: 1, maxLength: 4 })],
    (generated, byteEdits, treeEdits) => {
      const der = encode(generated);
      const pristine = parse(Buffer.from(der));
      const twin = parse(Buffer.from(der));
      const mutant = parse(edit(der, byteEdits));
      if (pristine) {
        parsed++;
        // The parser takes strict DER only (minimal definite lengths, low tag numbers): the same bytes out.
        assert.ok(fastDER(pristine).equals(der));
      }
      const input = Buffer.from(der);
      const changed = parse(input);
      // Sub-objects and tags lent by another tree (itself compared too, as it is then).
      const lender = parse(edit(der, byteEdits)) ?? parse(Buffer.from(der));
      if (changed && lender) change(changed, input, lender, treeEdits);
      const trees = [pristine, twin, mutant, changed, lender].filter((o): o is ASN1Obj => o !== null);
      for (const root of trees) for (const n of nodes(root)) assert.ok(fastDER(n).equals(originalToDER(n)), 'fast DER differs from the stock encoder');
      const certs = trees.map((o) => new X509Certificate(o));
      for (const a of certs) {
        for (const b of certs) {
          const want = stockEquals(a.root, b.root);
          if (want) equalPairs++;
          assert.equal(fastCertEquals(a, b), want, 'equals differs from the stock method');
        }
      }
    },
    { runs: 400 },
  );
  // The property has bite: it met parseable trees and equal pairs (besides each with itself).
  assert.ok(parsed > 50, `only ${parsed} generated trees parsed`);
  assert.ok(equalPairs > parsed, 'no two distinct parses compared equal');
});

// The stock parser (this file installs no acceleration) and its ASN1Tag class.
const stockParse = ASN1Obj.parseBuffer.bind(ASN1Obj);
const Tag = stockParse(Buffer.from([0x05, 0x00])).tag.constructor as new (enc: number) => ASN1Obj['tag'];

test('property: the parser without exceptions builds @sigstore/core\'s tree, or refuses exactly where it throws, on generated and mutated DER', async (t) => {
  let parsed = 0;
  let refused = 0;
  await checkProperty(
    t,
    'fast ASN.1 parse vs stock',
    [tree, fc.array(byteEdit, { maxLength: 3 }), fc.boolean()],
    (tr, edits, wrap) => {
      // Wrapped in an OCTET STRING half the time: then a refusal inside is a primitive value.
      let der = edit(encode(tr), edits);
      if (wrap) der = encode({ tag: 0x04, kids: null, bytes: der, form: 0 });
      let stock: unknown = null;
      try {
        stock = treeShape(stockParse(Buffer.from(der)));
      } catch {
        // refused: the fast parser must return null
      }
      const fast = fastParse(Buffer.from(der), Tag);
      assert.deepEqual(fast === null ? null : treeShape(fast), stock);
      if (fast) {
        parsed++;
        // New objects of the stock classes, each value a view of one copy of the input.
        assert.ok(fast instanceof ASN1Obj && fast.tag instanceof Tag);
        // The input written over after the parse: the tree keeps its own copy, as the stock one does.
        der.fill(0x5a);
        assert.deepEqual(treeShape(fast), stock);
      } else refused++;
    },
    { runs: 600 },
  );
  assert.ok(parsed > 50 && refused > 50, `both outcomes exercised (${parsed} parsed, ${refused} refused)`);
});
