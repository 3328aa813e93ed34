// The product version, read once from our own package.json (two levels up from src/,
// three from dist/src/). Part of verdict-cache keys: a new release re-verifies.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'conda-attest' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // not at this level; try the next
    }
  }
  return (cached = '0.0.0-unknown');
}
