// Writes the codes table of docs/codes.md from the registry (src/codes.ts), between the
// markers below. `npm run generate` runs it; test/codes.test.ts fails when the page is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderCodesMarkdown } from '../src/codes.ts';

export const BEGIN = '<!-- codes:begin (generated from src/codes.ts by `npm run generate`) -->';
export const END = '<!-- codes:end -->';

/** The page's text with its codes table regenerated; throws when the markers are missing. */
export function withCodesTable(page: string): string {
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/codes.md lacks the ${BEGIN} … ${END} markers`);
  return `${page.slice(0, start + BEGIN.length)}\n${renderCodesMarkdown()}${page.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../docs/codes.md', import.meta.url);
  writeFileSync(path, withCodesTable(readFileSync(path, 'utf8')));
  process.stdout.write('wrote the codes table of docs/codes.md\n');
}
