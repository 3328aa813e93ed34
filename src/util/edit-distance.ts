// The edit distance of "did you mean" hints under Node, loaded on first use: only an error
// needs it, and the import alone costs ~2.5 ms CPU (measured), which a valid run never pays.
import { createRequire } from 'node:module';

let levenshtein: typeof import('fastest-levenshtein').distance | undefined;

export function editDistance(a: string, b: string): number {
  levenshtein ??= (createRequire(import.meta.url)('fastest-levenshtein') as typeof import('fastest-levenshtein')).distance;
  return levenshtein(a, b);
}
