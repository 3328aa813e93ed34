import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { updateText } from '../../src/util/sha256.ts';

const whole = (text: string) => createHash('sha256').update(text).digest('hex');
const sliced = (text: string) => updateText(createHash('sha256'), text).digest('hex');

test('updateText hashes the same UTF-8 bytes as one update, whatever falls on a slice boundary', async (t) => {
  const SLICE = 1 << 16;
  const around = ['😀', '\ud800', '\udc00', '\ud800\ud800\udc00', 'é', '\u2028', ''];
  for (const offset of [-2, -1, 0, 1]) {
    for (const piece of around) {
      const text = `${'a'.repeat(SLICE + offset)}${piece}b${'c'.repeat(SLICE)}${piece}`;
      assert.equal(sliced(text), whole(text), `${JSON.stringify(piece)} at ${SLICE + offset}`);
    }
  }
  assert.equal(sliced(''), whole(''));
  const { checkProperty, fc } = await import('../helpers/fuzz.ts');
  await checkProperty(
    t,
    'updateText = update',
    [fc.integer({ min: SLICE - 3, max: SLICE + 3 }), fc.string({ unit: 'binary', maxLength: 8 })],
    (n, tail) => {
      const text = 'x'.repeat(n) + tail + tail;
      assert.equal(sliced(text), whole(text));
    },
    { runs: 100 },
  );
  const key = Buffer.alloc(32, 1);
  const text = `${'y'.repeat(SLICE * 2 + 5)}😀`;
  assert.equal(updateText(createHmac('sha256', key), text).digest('hex'), createHmac('sha256', key).update(text).digest('hex'), 'an HMAC too');
});
