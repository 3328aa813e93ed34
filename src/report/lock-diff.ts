// A lock diff (computed in src/lock/diff.ts) as coloured (or plain) terminal text, as
// Markdown for a pull-request comment, and one lockfile as text lines (git textconv). chalk
// is loaded when a diff is rendered as text, not by every run that only computes lock
// decisions (it brings node:tty and four modules of its own).
import { createRequire } from 'node:module';
import { type LockChange, isIdentityChange, sortChanges } from '../lock/diff.ts';
import { IDENTITY_FIELDS, compareStrings, identityLabel, normalizeIdentities } from '../lock/identity.ts';
import type { Lock, LockIdentity, Seen } from '../lock/types.ts';
import { escapeText, markdownCode } from '../text/escape.ts';
import { getOrMake } from '../util/memo.ts';

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

// ---------------------------------------------------------------------------------------
// Renderings. Identity values come from certificates, i.e. from whoever signed: every
// value is escaped for its medium (control characters for terminals, HTML/Markdown for
// PR comments) so a crafted SAN cannot rewrite the screen or the comment.

/** Control characters (terminal escapes, newlines) as visible `\uXXXX` (see src/text/escape.ts). */
const safeText = escapeText;

function seenText(s: Seen | null): string {
  return s ? `${safeText(s.version)} (${safeText(s.date)})` : '(none)';
}

function groupByPackage(changes: readonly LockChange[]): Map<string, LockChange[]> {
  const groups = new Map<string, LockChange[]>();
  for (const c of sortChanges([...changes])) getOrMake(groups, `${c.channel}/${c.name}`, () => []).push(c);
  return groups;
}

function identityFieldLines(id: LockIdentity): string[] {
  return IDENTITY_FIELDS.filter((f) => id[f] !== undefined).map((f) => `${f}: ${safeText(id[f] as string)}`);
}

/** A value inside a Markdown table cell: HTML-escaped in <code>, pipes and newlines neutralised. */
function md(v: string | null): string {
  return v === null ? '_(absent)_' : markdownCode(v);
}

function mdSeen(s: Seen | null): string {
  return s ? `${md(s.version)} (${md(s.date)})` : '_(none)_';
}

function mdIdentityTable(id: LockIdentity): string[] {
  const rows = ['| field | value |', '| --- | --- |'];
  for (const f of IDENTITY_FIELDS) if (id[f] !== undefined) rows.push(`| ${f} | ${md(id[f] as string)} |`);
  return rows;
}

/** Markdown for a pull-request comment: one section per package, a table per identity. */
export function renderDiffMarkdown(changes: readonly LockChange[]): string {
  const lines: string[] = ['### conda-attest: signer identity changes', ''];
  const relevant = changes.filter(isIdentityChange);
  if (relevant.length === 0) lines.push('No signer identity changes.', '');
  else lines.push(`${relevant.length} identity change(s) to review.`, '');
  for (const [, group] of groupByPackage(changes)) {
    const { channel, name } = group[0];
    lines.push(`#### ${md(name)} from ${md(channel)}`, '');
    for (const ch of group) {
      switch (ch.type) {
        case 'package-added':
          lines.push(`**New pin** (first seen ${mdSeen(ch.first_seen)}, last seen ${mdSeen(ch.last_seen)}):`, '');
          for (const id of ch.identities) lines.push(...mdIdentityTable(id), '');
          break;
        case 'package-removed':
          lines.push('**Pin removed**:', '');
          for (const id of ch.identities) lines.push(...mdIdentityTable(id), '');
          break;
        case 'identity-changed':
          lines.push(`**Identity changed** (${md(identityLabel(ch.old))}):`, '');
          for (const r of ch.reregistered ?? []) lines.push(`> [!WARNING]`, `> **${r.message}**. ${r.hint}`, '');
          lines.push('| field | old | new |', '| --- | --- | --- |');
          for (const f of ch.fields) lines.push(`| ${f.field} | ${md(f.old)} | ${md(f.new)} |`);
          lines.push('');
          break;
        case 'identity-added':
          lines.push('**Identity added**:', '', ...mdIdentityTable(ch.identity), '');
          break;
        case 'identity-removed':
          lines.push('**Identity removed**:', '', ...mdIdentityTable(ch.identity), '');
          break;
        case 'seen-changed':
          lines.push(`- ${ch.which}: ${mdSeen(ch.old)} → ${mdSeen(ch.new)}`, '');
          break;
      }
    }
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

/**
 * One lockfile as text lines, one fact per line, each line self-contained
 * (`<channel> <name> <identity> <field> <value>`), sorted: what the git `textconv`
 * driver shows, so `git diff` hunks name the package and identity they belong to.
 */
export function renderLockText(lock: Lock): string {
  const lines: string[] = [`# conda-attest identity lockfile, format version ${lock.version}`];
  for (const channel of Object.keys(lock.channels).sort(compareStrings)) {
    const pkgs = lock.channels[channel];
    for (const name of Object.keys(pkgs).sort(compareStrings)) {
      const e = pkgs[name];
      const p = `${safeText(channel)} ${safeText(name)}`;
      lines.push(`${p} first_seen ${seenText(e.first_seen)}`);
      lines.push(`${p} last_seen ${seenText(e.last_seen)}`);
      for (const id of normalizeIdentities(e.identities)) {
        const label = `[${safeText(identityLabel(id))}]`;
        for (const f of IDENTITY_FIELDS) {
          if (f === 'kind' || id[f] === undefined) continue;
          lines.push(`${p} ${label} ${f} ${safeText(id[f] as string)}`);
        }
      }
    }
  }
  return lines.join('\n') + '\n';
}
