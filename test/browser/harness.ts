// Headless Chromium for the browser-build tests: the system's `chromium-headless-shell`
// (Debian package; .ci/run installs it) driven by playwright-core, a page served from a
// loopback origin (a secure context, like a JupyterLite page), and the browser entry built
// from the current sources into a temporary directory (scripts/bundle-browser.ts).
//
// Without the browser the tests skip with a message; under CI=true (or .ci/run's
// CONDA_ATTEST_REQUIRE_BROWSER=1) they fail instead, so CI cannot pass without them.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { bundleBrowser } from '../../scripts/bundle-browser.ts';
import { type Loopback, startLoopback, send } from '../helpers/loopback.ts';
import { SHARED } from '../helpers/e2e.ts';

/** The shared test data (conformance cases, the real signed package); CONDA_ATTEST_SHARED points elsewhere (a worktree). */
export const SHARED_DIR = process.env.CONDA_ATTEST_SHARED ?? SHARED;

export const CHROMIUM = process.env.CONDA_ATTEST_CHROMIUM ?? '/usr/bin/chromium-headless-shell';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** `skip` option for node:test: a reason without the browser, false with it; throws under CI. */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === 'true' || process.env.CONDA_ATTEST_REQUIRE_BROWSER === '1') {
    throw new Error(`No browser at ${CHROMIUM}, and this is CI: install chromium-headless-shell (.ci/run does).`);
  }
  return `needs a headless Chromium at ${CHROMIUM} (apt-get install --no-install-recommends chromium-headless-shell)`;
}

let built: Promise<{ code: Buffer; dir: string; files: string[]; loadedWithEntry: string[] }> | undefined;

/** The browser build (entry `index.js`, `code`, and its chunks), bundled once per test process from the current sources. */
export function browserBundle(): Promise<{ code: Buffer; dir: string; files: string[]; loadedWithEntry: string[] }> {
  return (built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conda-attest-browser-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const { files, loadedWithEntry } = await bundleBrowser({ outdir: dir });
    return { code: readFileSync(join(dir, 'index.js')), dir, files, loadedWithEntry };
  })());
}

/** Serve the build on `site`: the entry at `/conda-attest.js`, its chunks beside it (`/chunks/…`), as a page imports them. */
export async function serveBrowserBuild(site: Loopback): Promise<void> {
  const { code, dir, files } = await browserBundle();
  site.route('/conda-attest.js', send(code, 200, { 'content-type': 'text/javascript' }));
  for (const f of files.filter((x) => x !== 'index.js')) site.route(`/${f}`, send(readFileSync(join(dir, f)), 200, { 'content-type': 'text/javascript' }));
}

const pageBuilt = new Map<string, Promise<Buffer>>();

/**
 * A host side of the page, bundled once per test process: `mamba-entry` (mambajs-core and
 * untarjs) or `mambajs-entry` (the whole @emscripten-forge/mambajs, with rattler's solver).
 */
export function pageBundle(entry: 'mamba-entry' | 'mambajs-entry'): Promise<Buffer> {
  let p = pageBuilt.get(entry);
  if (!p) {
    p = (async () => {
      const { build } = await import('esbuild');
      const { dir } = await browserBundle();
      const outfile = join(dir, `${entry}.js`);
      await build({
        entryPoints: [fileURLToPath(new URL(`./page/${entry}.ts`, import.meta.url))],
        outfile,
        bundle: true,
        format: 'esm',
        platform: 'browser',
        loader: { '.wasm': 'file' },
        logLevel: 'error',
      });
      return readFileSync(outfile);
    })();
    pageBuilt.set(entry, p);
  }
  return p;
}

/** The page's mambajs-core host (test/browser/page/mamba-entry.ts). */
export const mambaBundle = (): Promise<Buffer> => pageBundle('mamba-entry');

/** untarjs's wasm, served to the page at /unpack.wasm. */
export const UNTAR_WASM = fileURLToPath(new URL('../../node_modules/@emscripten-forge/untarjs/lib/unpack.wasm', import.meta.url));

export interface BrowserPage {
  browser: Browser;
  page: Page;
  /** The loopback origin serving the page and the build (`/conda-attest.js` and its chunks). */
  site: Loopback;
  /** Messages the page logged to its console (errors included), for failure output. */
  console: string[];
  close(): Promise<void>;
}

/** Launch the system's headless Chromium with the arguments that work here. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Launch Chromium and open a blank page on a loopback origin that serves the browser entry. */
export async function openPage(): Promise<BrowserPage> {
  const site = await startLoopback();
  site.route('/', send('<!doctype html><meta charset="utf-8"><title>conda-attest</title>', 200, { 'content-type': 'text/html' }));
  await serveBrowserBuild(site);
  const browser = await launchChromium();
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  // Nothing leaves the machine: only the loopback origins the test serves are reachable.
  await page.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => route.abort());
  await page.goto(site.url + '/');
  return {
    browser,
    page,
    site,
    console: logs,
    async close() {
      await browser.close();
      await site.close();
    },
  };
}

/** The module as the page imports it (`await import('/conda-attest.js')`). */
export type BrowserModule = typeof import('../../src/browser/index.ts');
