// Shared setup of the end-to-end identity-lockfile tests: a project directory
// with a config, an isolated HOME / XDG_CONFIG_HOME, environments written as pixi.lock
// files for the fixture channel, and the real CLI spawned as a child process
// (`node src/cli/run.ts ...`), so exit codes, stdout/stderr and file writes are exactly
// what a user sees.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FixtureChannel } from '../helpers/channel.ts';
import { runNode } from '../helpers/e2e.ts';
import type { LocalSigstore } from '../helpers/sigstore.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RUN_TS = join(REPO_ROOT, 'src', 'cli', 'run.ts');

export const FORGE = 'https://github.com/forge';
export const OTHER_ISSUER = 'https://token.actions.example.org';

/** A GitHub Actions workflow SAN: `https://github.com/<owner>/<repo>/.github/workflows/<file>@<ref>`. */
export function san(repo: string, opts: { owner?: string; workflow?: string; ref?: string } = {}): string {
  return `https://github.com/${opts.owner ?? 'forge'}/${repo}/.github/workflows/${opts.workflow ?? 'build.yml'}@${opts.ref ?? 'refs/heads/main'}`;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Project {
  /** Temp root (HOME); removed by cleanup. */
  root: string;
  /** Project directory (cwd of the CLI), holds `.conda-attestrc.json`. */
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The lockfile the config names (`<dir>/conda-attest.lock`). */
  lockfile: string;
  /** Write `<dir>/<name>` as the pixi.lock of the given package files; returns its path. */
  envFile(name: string, filenames: string[]): string;
  /** Spawn `conda-attest <args>` in `dir`. */
  cli(args: string[], opts?: { input?: string }): Promise<CliResult>;
  /** Write another config (`require` for the channel) to `<dir>/<name>`; returns its path. */
  config(name: string, require: 'error' | 'warn' | 'ignore'): string;
  readLock(): string;
  cleanup(): void;
}

/** Spawn the CLI from source with the repo's Node 24 (a signal death reads as exit code -1). */
export async function runCli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<CliResult> {
  const r = await runNode(RUN_TS, args, opts);
  return { ...r, code: r.code ?? -1 };
}

/** The config of the fixture channel: only it is enabled, under `require`; no trusted_identities (the lockfile alone pins signers). */
export function configFor(ls: LocalSigstore, ch: FixtureChannel, cacheDir: string, require: string, lockfile = 'conda-attest.lock'): object {
  return {
    trust_root: ls.trustedRootPath,
    lockfile,
    cache_dir: cacheDir,
    default: { enabled: false },
    channels: { [ch.url]: { require } },
  };
}

export function makeProject(ls: LocalSigstore, ch: FixtureChannel, require: 'error' | 'warn' | 'ignore' = 'error'): Project {
  const root = mkdtempSync(join(tmpdir(), 'conda-attest-lockflow-'));
  const dir = join(root, 'project');
  const xdg = join(root, 'xdg-config');
  mkdirSync(dir);
  mkdirSync(xdg);
  const cacheDir = join(root, 'cache');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: root,
    XDG_CONFIG_HOME: xdg,
    XDG_CACHE_HOME: join(root, 'xdg-cache'),
    NO_COLOR: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: join(root, '.gitconfig'),
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.org',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.org',
  };
  const write = (name: string, req: string) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(configFor(ls, ch, cacheDir, req), null, 2));
    return p;
  };
  write('.conda-attestrc.json', require);
  const lockfile = join(dir, 'conda-attest.lock');
  return {
    root,
    dir,
    env,
    lockfile,
    envFile(name, filenames) {
      const p = join(dir, name);
      writeFileSync(p, ch.pixiLock({ filenames, platform: 'linux-64' }));
      return p;
    },
    cli: (args, opts = {}) => runCli(args, { cwd: dir, env, input: opts.input }),
    config: write,
    readLock: () => readFileSync(lockfile, 'utf8'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

let lockValidator: ((data: unknown) => boolean) & { errors?: unknown } | undefined;
/** Validate lockfile data against schema/lockfile.schema.json (independently of the product's own parser). */
export function validateLockSchema(data: unknown): { ok: boolean; errors: unknown } {
  if (!lockValidator) {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schema', 'lockfile.schema.json'), 'utf8')) as object;
    lockValidator = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
  }
  const ok = lockValidator(data);
  return { ok, errors: lockValidator.errors };
}

/** Parse the --json report of a verify run, with its rows by package name+version. */
export function reportOf(r: CliResult): { summary: Record<string, number>; rows: Map<string, any> } {
  let data: any;
  try {
    data = JSON.parse(r.stdout);
  } catch {
    throw new Error(`verify --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const rows = new Map<string, any>();
  for (const p of data.packages) rows.set(`${p.name}-${p.version}`, p);
  return { summary: data.summary, rows };
}
