// An in-memory stand-in for the Emscripten `Module` that mambajs-core installs into
// (specs.md §7): `Module.FS` with the calls mambajs makes, and run dependencies.

export interface MemModule {
  FS: {
    mkdirTree(path: string): void;
    writeFile(path: string, data: Uint8Array | string): void;
    analyzePath(path: string): { exists: boolean };
    readdir(path: string): string[];
    rmdir(path: string): void;
    unlink(path: string): void;
    chdir(path: string): void;
    cwd(): string;
  };
  addRunDependency(id: string): void;
  removeRunDependency(id: string): void;
  monitorRunDependencies?: (n: number) => void;
  /** Every file written, by normalised absolute path. */
  files: Map<string, Uint8Array>;
}

function norm(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}

export function createMemModule(): MemModule {
  const files = new Map<string, Uint8Array>();
  const dirs = new Set<string>(['/']);
  let cwd = '/';
  const deps = new Set<string>();
  const abs = (p: string): string => norm(p.startsWith('/') ? p : `${cwd}/${p}`);
  const module: MemModule = {
    files,
    FS: {
      mkdirTree(path) {
        let at = '';
        for (const part of abs(path).split('/').filter(Boolean)) {
          at += '/' + part;
          dirs.add(at);
        }
      },
      writeFile(path, data) {
        const p = abs(path);
        const parent = p.slice(0, p.lastIndexOf('/')) || '/';
        if (!dirs.has(parent)) throw new Error(`ENOENT: no directory ${parent}`);
        files.set(p, typeof data === 'string' ? new TextEncoder().encode(data) : data);
      },
      analyzePath(path) {
        const p = abs(path);
        return { exists: dirs.has(p) || files.has(p) };
      },
      readdir(path) {
        const p = abs(path);
        const prefix = p === '/' ? '/' : p + '/';
        const names = new Set<string>();
        for (const k of [...files.keys(), ...dirs]) {
          if (k.startsWith(prefix) && k !== p) names.add(k.slice(prefix.length).split('/')[0]);
        }
        return ['.', '..', ...[...names].sort()];
      },
      rmdir(path) {
        dirs.delete(abs(path));
      },
      unlink(path) {
        files.delete(abs(path));
      },
      chdir(path) {
        cwd = abs(path);
      },
      cwd() {
        return cwd;
      },
    },
    addRunDependency(id) {
      deps.add(id);
      module.monitorRunDependencies?.(deps.size);
    },
    removeRunDependency(id) {
      deps.delete(id);
      module.monitorRunDependencies?.(deps.size);
    },
  };
  return module;
}
