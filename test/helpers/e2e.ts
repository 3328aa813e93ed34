// End-to-end helpers: an isolated workspace (config, HOME, XDG dirs in one temp dir),
// the real CLI spawned as a child process, an in-process session runner, and the one
// assertion every report goes through (exactly one JSON object on stdout, valid against
// schema/report.schema.json, no ANSI escapes).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import reportSchema from '../../schema/report.schema.json' with { type: 'json' };
import { resolveConfig } from '../../src/config/validator.ts';
import { createSession } from '../../src/pipeline.ts';
import { reportToJson } from '../../src/report/json.ts';
import type { PackageDigest, VerifySessionOptions } from '../../src/session-types.ts';
import type { PackageRecord, ResolvedConfig } from '../../src/types.ts';
import { startFixtureChannel, type FixtureChannel, type FixtureChannelOptions } from './channel.ts';
import { startLocalSigstore, type LocalSigstore } from './sigstore.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const NODE = join(REPO, 'node_modules', '.bin', 'node');
export const CLI = join(REPO, 'src', 'cli', 'run.ts');
/** `../shared` relative to the repo root (absent in a fresh clone). */
export const SHARED = join(REPO, '..', 'shared');

// Ajv's CJS default export is the class itself at runtime under Node's ESM loader.
const AjvClass = ((Ajv2020 as unknown as { default?: unknown }).default ?? Ajv2020) as unknown as typeof Ajv2020.default;
const ajv = new AjvClass({ allErrors: true, strict: true, allowUnionTypes: true });
const validateReport = ajv.compile(reportSchema as object);

/** One package row of the --json report (snake_case, as published). */
export interface JsonPackage {
  filename: string;
  name: string;
  version: string;
  channel: string;
  url: string;
  sha256: string | null;
  digest_source: 'artifact' | 'lockfile' | null;
  status: string;
  action: string;
  identity: Record<string, string> | null;
  reasons: { code: string; message: string; hint?: string }[];
  notes: string[];
  sidecar: { url: string; method: string; sha256: string } | null;
  bundles: { index: number; publish: boolean; verified: boolean; tlog: boolean | null; identity: Record<string, string> | null; reasons: { code: string }[] }[];
  identity_diff?: unknown;
}
export interface JsonReport {
  version: 1;
  summary: Record<string, number>;
  packages: JsonPackage[];
  trust_root: unknown;
}

// eslint-disable-next-line no-control-regex
export const ANSI_RE = /\u001b\[/;

/** Schema check of a report object (already parsed). Fails with every ajv error. */
export function assertReportObject(obj: unknown): JsonReport {
  const ok = validateReport(obj);
  assert.ok(ok, `report does not match schema/report.schema.json: ${ajv.errorsText(validateReport.errors, { separator: '\n' })}`);
  return obj as JsonReport;
}

/**
 * `--json` stdout: exactly one JSON object and nothing else (JSON.parse would reject a
 * second value or a stray log line), valid against the report schema, no ANSI escapes.
 */
export function assertJsonStdout(stdout: string): JsonReport {
  assert.doesNotMatch(stdout, ANSI_RE, 'ANSI escape in --json stdout');
  assert.match(stdout, /^\{/, `stdout does not start with a JSON object: ${stdout.slice(0, 200)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (e) {
    assert.fail(`stdout is not exactly one JSON value: ${(e as Error).message}\n${stdout.slice(0, 500)}`);
  }
  assert.equal(typeof parsed, 'object');
  assert.ok(parsed !== null && !Array.isArray(parsed));
  return assertReportObject(parsed);
}

/** The row of a filename (fails when absent or duplicated). */
export function row(report: JsonReport, filename: string): JsonPackage {
  const rows = report.packages.filter((p) => p.filename === filename);
  assert.equal(rows.length, 1, `expected one row for ${filename}, got ${rows.length}: ${report.packages.map((p) => p.filename).join(', ')}`);
  return rows[0]!;
}

export function codes(p: JsonPackage): string[] {
  return p.reasons.map((r) => r.code);
}

/** A temp dir that is the CLI's cwd, HOME, XDG_CONFIG_HOME (empty) and cache home. */
export interface Workspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  path(...parts: string[]): string;
  /** Write a file (parents created); returns its absolute path. */
  write(name: string, content: string | Buffer): string;
  /** Write `.conda-attestrc.json` (or `name`) and return its path. */
  writeConfig(config: unknown, name?: string): string;
  read(name: string): string;
  cleanup(): void;
}

export function makeWorkspace(prefix = 'conda-attest-e2e-'): Workspace {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'xdg-config'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_CACHE_HOME: join(dir, 'xdg-cache'),
  };
  const ws: Workspace = {
    dir,
    env,
    path: (...parts) => join(dir, ...parts),
    write(name, content) {
      const p = join(dir, name);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      return p;
    },
    writeConfig(config, name = '.conda-attestrc.json') {
      return ws.write(name, JSON.stringify(config, null, 2));
    },
    read: (name) => readFileSync(join(dir, name), 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return ws;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `node <script> <args>` with the repo's Node 24 (the CLI, the action's entry point):
 * stdin is `input` (default: empty), output collected; killed after 60 s so a hang fails
 * the test instead of stalling the suite.
 */
export function runNode(script: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [script, ...args], { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}).end(o.input ?? '');
  });
}

/** What most end-to-end test files start once: a local Sigstore, a fixture channel it signs, a workspace. */
export interface SignedChannel {
  sig: LocalSigstore;
  ch: FixtureChannel;
  ws: Workspace;
  /** Stop the channel (if the test has not already) and Sigstore, remove the workspace. */
  close(): Promise<void>;
}

export async function startSignedChannel(channel: Omit<FixtureChannelOptions, 'sigstore'>, workspacePrefix?: string): Promise<SignedChannel> {
  const sig = await startLocalSigstore();
  const ch = await startFixtureChannel({ ...channel, sigstore: sig });
  const ws = makeWorkspace(workspacePrefix);
  return {
    sig,
    ch,
    ws,
    async close() {
      await ch.close().catch(() => {});
      await sig.close();
      ws.cleanup();
    },
  };
}

/** Spawn `conda-attest <args>` from source with the workspace's isolated environment. */
export function runCli(ws: Workspace, args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd = ws.dir): Promise<CliResult> {
  return runNode(CLI, args, { cwd, env: { ...ws.env, ...extraEnv } });
}

/** `verify --json`, asserting the JSON contract, plus the exit code. */
export async function verifyJson(
  ws: Workspace,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; report: JsonReport; stderr: string }> {
  const r = await runCli(ws, ['verify', '--json', ...args], extraEnv);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const report = assertJsonStdout(r.stdout);
  assert.doesNotMatch(r.stderr, ANSI_RE, 'ANSI escape on stderr without a TTY');
  // Exit code contract: 1 iff a package is blocked.
  assert.equal(r.code, report.summary.blocked > 0 ? 1 : 0, `exit code ${r.code} vs summary ${JSON.stringify(report.summary)}`);
  return { code: r.code, report, stderr: r.stderr };
}

/** Resolve a raw config as if it were a file in the workspace (relative paths against ws.dir). */
export function resolveIn(ws: Workspace, raw: unknown): ResolvedConfig {
  return resolveConfig(raw, ws.dir, ws.path('.conda-attestrc.json'), { env: ws.env });
}

export interface SessionRun {
  report: JsonReport;
}

/**
 * Run the pipeline in-process on records (digest taken from `record.sha256` as a lockfile
 * would, unless `download`), and return the published JSON form, schema-checked.
 */
export async function runSession(
  config: ResolvedConfig,
  records: PackageRecord[],
  opts: Omit<VerifySessionOptions, 'config'> & { download?: boolean } = {},
): Promise<JsonReport> {
  const { download, ...rest } = opts;
  const session = await createSession({ config, ...rest });
  const inputs = records.map((r) => {
    const digest: PackageDigest | null = !download && r.sha256 && !r.localPath ? { sha256: r.sha256, source: 'lockfile' } : null;
    return { record: r, digest };
  });
  await session.verifyPackages(inputs, { concurrency: Math.max(1, records.length) });
  const report = await session.finish();
  // Round-trip through JSON text: what --json prints is what is checked.
  return assertJsonStdout(JSON.stringify(reportToJson(report), null, 2));
}
