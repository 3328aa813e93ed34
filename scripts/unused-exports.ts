// Lists the exports of src/ and plugin/ that nothing outside their own file uses (source,
// tests, scripts, bench, demo, the action), apart from what the public entry points
// (src/index.ts, plugin/index.ts) publish and the types their signatures name. An export used nowhere else is either dead code
// or should not be an export: `npm run unused-exports` (exit code 1 when any is found).
// Built on the TypeScript compiler API (already a devDependency), so re-exports, type-only
// uses and `import * as` are resolved by the checker, not guessed from text.
import ts from 'typescript';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = ['src/index.ts', 'plugin/index.ts'];
const CHECKED = /^(src|plugin)\//;
const GENERATED = /^src\/generated\//;

const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});
if (!parsed) throw new Error('tsconfig.json could not be read');
const program = ts.createProgram(parsed.fileNames, parsed.options);
const checker = program.getTypeChecker();
const rel = (f: ts.SourceFile): string => relative(ROOT, f.fileName);
const own = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !rel(f).startsWith('..') && !rel(f).includes('node_modules'));

const target = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

// What the entry points publish (through any chain of re-exports).
const published = new Set<ts.Symbol>();
for (const entry of ENTRIES) {
  const sf = program.getSourceFile(join(ROOT, entry));
  const mod = sf && checker.getSymbolAtLocation(sf);
  if (!mod) throw new Error(`${entry} is not in the program`);
  for (const s of checker.getExportsOfModule(mod)) published.add(target(s));
}

// …and the types their signatures name (an options interface of a published function is
// part of the API even when no other file names it).
const pending = [...published];
while (pending.length > 0) {
  const sym = pending.pop()!;
  for (const decl of sym.declarations ?? []) {
    if (decl.getSourceFile().isDeclarationFile) continue;
    const visit = (n: ts.Node): void => {
      // Bodies are implementation, not signature.
      if ((ts.isFunctionLike(n) || ts.isClassElement(n)) && 'body' in n && n.body) {
        const { body, ...sig } = n as ts.FunctionLikeDeclaration;
        void body;
        for (const child of [sig.type, ...(sig.parameters ?? []), ...(sig.typeParameters ?? [])]) if (child) visit(child);
        return;
      }
      if (ts.isTypeReferenceNode(n) || ts.isExpressionWithTypeArguments(n) || ts.isTypeQueryNode(n)) {
        const name = ts.isTypeReferenceNode(n) ? n.typeName : ts.isTypeQueryNode(n) ? n.exprName : n.expression;
        const s = checker.getSymbolAtLocation(name);
        if (s) {
          const t = target(s);
          if (!published.has(t)) {
            published.add(t);
            pending.push(t);
          }
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(decl);
  }
}

// Every symbol referenced from each file, resolved to its declaration.
const usedIn = new Map<ts.Symbol, Set<string>>();
for (const sf of own) {
  const file = rel(sf);
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n)) {
      const s = checker.getSymbolAtLocation(n);
      if (s) {
        // An import or re-export names the symbol in another file: that is a use.
        for (const t of new Set([s, target(s)])) {
          const set = usedIn.get(t) ?? new Set<string>();
          set.add(file);
          usedIn.set(t, set);
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

const unused: { file: string; line: number; name: string; usedInFile: boolean }[] = [];
for (const sf of own) {
  const file = rel(sf);
  if (!CHECKED.test(file) || GENERATED.test(file) || ENTRIES.includes(file)) continue;
  const mod = checker.getSymbolAtLocation(sf);
  if (!mod) continue;
  for (const exp of checker.getExportsOfModule(mod)) {
    const decl = exp.declarations?.[0];
    // Re-exports (`export { x } from`) are judged where x is declared.
    if (!decl || decl.getSourceFile() !== sf || ts.isExportSpecifier(decl)) continue;
    const t = target(exp);
    if (published.has(t)) continue;
    const files = usedIn.get(t) ?? new Set<string>();
    const elsewhere = [...files].filter((f) => f !== file);
    if (elsewhere.length > 0) continue;
    const line = sf.getLineAndCharacterOfPosition(decl.getStart()).line + 1;
    // Its own declaration counts once; more than that is a use inside its file.
    let inFile = 0;
    const count = (n: ts.Node): void => {
      if (ts.isIdentifier(n) && n.text === exp.name && checker.getSymbolAtLocation(n) === t) inFile++;
      ts.forEachChild(n, count);
    };
    count(sf);
    unused.push({ file, line, name: exp.name, usedInFile: inFile > 1 });
  }
}

unused.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
for (const u of unused) console.log(`${u.file}:${u.line} ${u.name}${u.usedInFile ? ' (used in its file: drop the export)' : ' (used nowhere: dead)'}`);
console.log(`${unused.length} export(s) used nowhere outside their file`);
process.exitCode = unused.length > 0 ? 1 : 0;
