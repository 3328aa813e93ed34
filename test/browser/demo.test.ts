// `npm run demo:browser` as a user runs it: the demo process starts, prints its URL, and
// the page it serves — loaded in headless Chromium — installs its two environments with
// mambajs-core through the browser build, showing one report row per package. Ctrl-C
// (SIGINT) stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { browserSkip, launchChromium } from './harness.ts';

const DEMO = fileURLToPath(new URL('../../demo/browser.ts', import.meta.url));

test('the browser demo serves a page whose report shows the attested environment verified and the bad dependencies blocked with their codes', { skip: browserSkip(), timeout: 180_000 }, async (t) => {
  const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}) before printing its URL:\n${stdout}\n${stderr}`)));
  });

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  // Only the demo's loopback origins are reachable.
  await page.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => route.abort());
  await page.goto(url);
  await page.waitForSelector('#done:not([hidden])', { timeout: 120_000 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs.join('\n')}`);
  });
  const sections = await page.$$eval('section', (ss) =>
    ss.map((s) => ({
      outcome: s.querySelector('.outcome')?.textContent ?? '',
      rows: [...s.querySelectorAll('tr[data-package]')].map((r) => [r.getAttribute('data-package'), r.getAttribute('data-status'), r.getAttribute('data-action'), r.getAttribute('data-reasons')]),
    })),
  );
  assert.equal(sections.length, 2);
  const [good, bad] = sections;
  assert.equal(good!.outcome, 'installed');
  assert.deepEqual(good!.rows.sort(), [
    ['base-lite-1.0-h0_0.conda', 'verified', 'pass', ''],
    ['libblas-lite-1.0-h0_0.conda', 'verified', 'pass', ''],
    ['numpy-lite-1.0-h0_0.conda', 'verified', 'pass', ''],
  ]);
  assert.match(bad!.outcome, /^refused: /);
  const byName = Object.fromEntries(bad!.rows.map((r) => [r[0], r.slice(1)]));
  assert.deepEqual(byName['fonts-unsigned-1.0-h0_0.conda']?.slice(1), ['block', 'NO_ATTESTATIONS']);
  assert.deepEqual(byName['helper-evil-1.0-h0_0.conda']?.slice(1), ['block', 'IDENTITY_UNTRUSTED']);
  assert.equal(await page.locator('section').nth(1).locator('p').nth(1).textContent(), 'Files in the environment: (none)');

  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
});
