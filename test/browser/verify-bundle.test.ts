// verifyBundle in headless Chromium: the genuine public-good attestation in ../shared/interop
// verified offline in the page (the trusted root embedded in the build), exact crypto on the
// first pass (a one-byte change to the artifact is refused), nothing set on globalThis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserModule, SHARED_DIR, browserSkip, openPage } from './harness.ts';

const interop = join(SHARED_DIR, 'interop');
const PKG = 'signed-package-2.1.0-hb0f4dca_0.conda';
const SAN = 'https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';

test('the genuine public-good attestation verifies offline in Chromium', { skip: browserSkip() || (existsSync(interop) ? false : 'needs ../shared/interop (absent in a fresh clone)') }, async (t) => {
  const b = await openPage();
  t.after(() => b.close());
  const pkg = readFileSync(join(interop, PKG));
  const bundle = JSON.parse(readFileSync(join(interop, `${PKG}.sigs`), 'utf8'))[0];
  const out = await b.page.evaluate(
    async ({ bundle, pkg, SAN, ISSUER }) => {
      const m: BrowserModule = await import(String('/conda-attest.js'));
      const artifact = new Uint8Array(pkg);
      const good = await m.verifyBundle({ bundle, artifact, identity: SAN, issuer: ISSUER });
      const flipped = artifact.slice();
      flipped[100] ^= 1;
      const tampered = await m.verifyBundle({ bundle, artifact: flipped, identity: SAN, issuer: ISSUER });
      const other = await m.verifyBundle({ bundle, artifact, identity: 'https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main', issuer: ISSUER });
      return { good, tampered, other, buffer: typeof (globalThis as { Buffer?: unknown }).Buffer };
    },
    { bundle, pkg: [...pkg], SAN, ISSUER },
  );
  assert.equal(out.good.verified, true, `${JSON.stringify(out.good)}\n${b.console.join('\n')}`);
  assert.equal(out.good.code, null);
  assert.equal(out.good.identity?.san, SAN);
  assert.deepEqual([out.tampered.verified, out.tampered.code], [false, 'ARTIFACT_DIGEST_MISMATCH']);
  assert.deepEqual([out.other.verified, out.other.code], [false, 'IDENTITY_MISMATCH']);
  assert.equal(out.buffer, 'undefined', 'the build binds Buffer inside the bundle, never on the page');
});
