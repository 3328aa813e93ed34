// conda version specs (`>=1.2,<1.3`, `1.2.*`, `==1.2|>=2`), matched by rattler — the conda
// community's Rust implementation of conda's version ordering and match-spec grammar,
// compiled to WebAssembly and published by the conda organisation as @conda-org/rattler.
// Conda's ordering is not semver: `1.2` equals `1.2.0` (missing parts are zero), `1.3.0rc1`
// and `1.3.0.dev0` sort before `1.3`, an epoch (`1!…`) outranks everything, comparison is
// case-insensitive (conda docs, "Package match specifications" and the VersionOrder
// documentation of conda.models.version). A deny list must see the package exactly as
// conda does, so the reference implementation decides instead of a second reading of it.
//
// Loaded on first use only (about 7 MB of WebAssembly): a run whose configuration has no
// `versions` deny entry never loads it.
import { createRequire } from 'node:module';

type Rattler = typeof import('@conda-org/rattler');
const requireLazy = createRequire(import.meta.url);
let rattlerModule: Rattler | undefined;
const rattler = (): Rattler => (rattlerModule ??= requireLazy('@conda-org/rattler') as Rattler);

// Parsed specs are kept for the process: a configuration has a handful of them, and each
// is matched against every package of a run.
const specs = new Map<string, InstanceType<Rattler['VersionSpec']>>();

function specOf(text: string): InstanceType<Rattler['VersionSpec']> {
  let spec = specs.get(text);
  if (!spec) {
    spec = new (rattler().VersionSpec)(text);
    specs.set(text, spec);
  }
  return spec;
}

/** Why `text` is not a conda version spec (first line of the parser's message), or null. */
export function versionSpecProblem(text: string): string | null {
  try {
    specOf(text);
    return null;
  } catch (e) {
    // The parser's own first line is either a sentence or a parse-trace position.
    const first = String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();
    return first === '' || /^\d+: at line/.test(first) ? 'it does not parse' : first;
  }
}

/**
 * Whether `version` lies in the conda version spec `spec` (a spec that does not parse
 * throws; configuration validation refuses those first). A version that conda cannot read
 * is `undefined`: the caller decides (a deny list treats it as matching).
 */
export function versionMatches(spec: string, version: string): boolean | undefined {
  const s = specOf(spec);
  let v: InstanceType<Rattler['Version']>;
  try {
    v = new (rattler().Version)(version);
  } catch {
    return undefined;
  }
  try {
    return s.matches(v);
  } finally {
    v.free();
  }
}
