// The validators and config types in src/generated/ are generated from schema/*.json; the
// schemas are the single source of truth, so a schema edit without `npm run generate` must fail here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VALIDATORS, generate } from '../scripts/generate-validators.ts';
import { CONFIG_TYPES, generateTypes } from '../scripts/generate-types.ts';

const root = new URL('../', import.meta.url);
const outputs = [...VALIDATORS.map((s) => ({ ...s, make: () => generate(s, root) })), { ...CONFIG_TYPES, make: () => generateTypes(CONFIG_TYPES, root) }];

for (const spec of outputs) {
  test(`${spec.out} is up to date with ${spec.schema}`, () => {
    const onDisk = readFileSync(new URL(spec.out, root), 'utf8');
    assert.equal(onDisk, spec.make(), `run \`npm run generate\` after editing ${spec.schema}`);
  });
}
