// Prints the functions longer than a limit (default 80 lines, docs/development.md), longest
// first, as `lines  file:line  name`, then their count. A function's length is its span
// from the first line of its declaration to its closing brace, nested functions included
// (each nested one is also measured on its own). Generated files are left out.
//   node scripts/long-functions.ts [--max N] [DIR|FILE ...]   (default: src plugin)
import ts from 'typescript';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
}

function tsFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return path.endsWith('.ts') ? [path] : [];
  return readdirSync(path).flatMap((f) => (f === 'generated' || f === 'node_modules' ? [] : tsFiles(join(path, f))));
}

function nameOf(node: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  if (node.name) return node.name.getText(sf);
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText(sf);
  if (ts.isCallExpression(p)) return `(callback of ${p.expression.getText(sf).slice(0, 40)})`;
  return '(anonymous)';
}

/** The function-like nodes of `files` longer than `max` lines, longest first. */
export function longFunctions(files: string[], max: number): LongFunction[] {
  const found: LongFunction[] = [];
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const lines = sf.getLineAndCharacterOfPosition(node.getEnd()).line - start + 1;
        if (lines > max) found.push({ file: relative(ROOT, file), line: start + 1, name: nameOf(node, sf), lines });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--max');
  const max = at >= 0 ? Number(args.splice(at, 2)[1]) : 80;
  const roots = args.length ? args : ['src', 'plugin'];
  const found = longFunctions(
    roots.flatMap((r) => tsFiles(join(ROOT, r))),
    max,
  );
  for (const f of found) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`);
  console.log(`${found.length} functions over ${max} lines`);
}
