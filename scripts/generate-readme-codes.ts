// Writes the README's codes table from the registry (src/codes.ts), between the markers
// below. `npm run generate` runs it; test/codes.test.ts fails when the README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderCodesMarkdown } from '../src/codes.ts';

export const BEGIN = '<!-- codes:begin (generated from src/codes.ts by `npm run generate`) -->';
export const END = '<!-- codes:end -->';

/** The README text with its codes table regenerated; throws when the markers are missing. */
export function withCodesTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, start + BEGIN.length)}\n${renderCodesMarkdown()}${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, withCodesTable(readFileSync(path, 'utf8')));
  process.stdout.write('wrote README.md codes table\n');
}
