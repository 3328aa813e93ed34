// A lock diff as coloured (or plain) terminal text. chalk is loaded when a diff is rendered
// as text, not by every run that only computes lock decisions (it brings node:tty and four
// modules of its own); the diff itself is computed in src/lock/diff.ts.
import { createRequire } from 'node:module';
import { type LockChange, groupByPackage, identityFieldLines, safeText, seenText } from '../lock/diff.ts';
import { identityLabel } from '../lock/identity.ts';

const require = createRequire(import.meta.url);
let chalk: typeof import('chalk') | undefined;
const loadChalk = (): typeof import('chalk') => (chalk ??= require('chalk') as typeof import('chalk'));


export interface TextOptions {
  color: boolean;
}

/** Coloured (or plain) text, one package per block: `-` red = old, `+` green = new. */
export function renderDiffText(changes: readonly LockChange[], options: TextOptions): string {
  const c = new (loadChalk().Chalk)({ level: options.color ? 1 : 0 });
  if (changes.length === 0) return 'No signer identity changes.\n';
  const lines: string[] = [];
  for (const group of groupByPackage(changes).values()) {
    // "numpy from https://prefix.dev/conda-forge": never `<channel>/<name>`, which reads as a URL.
    lines.push(`${c.bold(safeText(group[0]!.name))} from ${safeText(group[0]!.channel)}`);
    for (const ch of group) {
      switch (ch.type) {
        case 'package-added':
          lines.push(c.green(`  + package pinned (first seen ${seenText(ch.first_seen)}, last seen ${seenText(ch.last_seen)})`));
          for (const id of ch.identities) {
            lines.push(c.green(`    + ${safeText(identityLabel(id))}`));
            for (const l of identityFieldLines(id)) lines.push(c.green(`        ${l}`));
          }
          break;
        case 'package-removed':
          lines.push(c.red('  - package no longer pinned'));
          for (const id of ch.identities) lines.push(c.red(`    - ${safeText(identityLabel(id))}`));
          break;
        case 'identity-changed':
          lines.push(c.yellow(`  ~ identity changed: ${safeText(identityLabel(ch.old))}`));
          for (const r of ch.reregistered ?? []) lines.push(c.red.bold(`    ! ${r.message}`), `      hint: ${r.hint}`);
          for (const f of ch.fields) {
            lines.push(`      ${f.field}:`);
            lines.push(c.red(`        - ${f.old === null ? '(absent)' : safeText(f.old)}`));
            lines.push(c.green(`        + ${f.new === null ? '(absent)' : safeText(f.new)}`));
          }
          break;
        case 'identity-added':
          lines.push(c.green(`  + identity added: ${safeText(identityLabel(ch.identity))}`));
          for (const l of identityFieldLines(ch.identity)) lines.push(c.green(`        ${l}`));
          break;
        case 'identity-removed':
          lines.push(c.red(`  - identity removed: ${safeText(identityLabel(ch.identity))}`));
          break;
        case 'seen-changed':
          lines.push(c.dim(`    ${ch.which}: ${seenText(ch.old)} -> ${seenText(ch.new)}`));
          break;
      }
    }
  }
  return lines.join('\n') + '\n';
}
