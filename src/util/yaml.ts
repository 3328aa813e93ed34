// The YAML parser (the `yaml` package), loaded on first use only: JSON configs and explicit
// files never need it. Callers that can wait load it with `loadYamlParser()`, a dynamic
// import(), which the CLI bundle (scripts/bundle-cli.ts) turns into one chunk of its own:
// resolved through node_modules, yaml is 72 CommonJS files that Node resolves, reads and
// compiles one by one on every run that reads YAML (measured: a warm one-package pixi.lock
// run, process CPU, median of 20 runs interleaved on 2 loaded cores: 435 → 400 ms; bare
// `node -e 0` 100 ms).
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

/** Loads the parser (once); `yamlParser()` returns it synchronously afterwards. */
export async function loadYamlParser(): Promise<Yaml> {
  return (loaded ??= await import('yaml'));
}

/** The parser; a synchronous caller that did not load it first gets it from node_modules. */
export function yamlParser(): Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as Yaml);
}
