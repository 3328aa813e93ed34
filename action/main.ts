// Entry point of the GitHub Action (action.yml at the repository root): inputs from the
// environment (INPUT_<NAME>, as the runner passes them), `conda-attest verify` run in
// process, outputs to $GITHUB_OUTPUT, the exit code as the step's result (1 blocked,
// 2 usage/config/input error: both fail the step). Annotations and the job summary come
// from verify itself (GITHUB_ACTIONS=true). Runs on Node 24 from source.
import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { main } from '../src/cli/main.ts';
import type { CliIO } from '../src/cli/io.ts';
import { VERIFY_FORMATS } from '../src/cli/ci-output.ts';
import { escapeText, hasUnsafeText } from '../src/text/escape.ts';
import { workflowCommand } from '../src/report/github.ts';

/**
 * An input as the runner passes it: INPUT_ + the name upper-cased (dashes kept, or as
 * underscores). Inputs come from the workflow file, often from a pull request's own
 * values: a control character (a newline followed by `::error::…`, an ESC sequence) is
 * refused here, so that no input can start a workflow command or a forged line when it
 * is echoed. `targets` may separate its entries with newlines (see verifyArgs).
 */
export function input(env: NodeJS.ProcessEnv, name: string, { lines = false } = {}): string {
  const upper = name.toUpperCase();
  const value = (env[`INPUT_${upper}`] ?? env[`INPUT_${upper.replace(/-/g, '_')}`] ?? '').trim();
  const checked = lines ? value.split(/[ \t\r\n]+/) : [value];
  if (checked.some((v) => hasUnsafeText(v))) {
    throw new Error(`Input "${name}" contains a control character (${escapeText(value)}); give it on one line${lines ? ' per entry' : ''}.`);
  }
  return value;
}

/** YAML-style booleans as the Actions toolkit reads them; anything else is an error. */
export function booleanInput(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = input(env, name);
  if (v === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(v)) return true;
  if (['false', 'False', 'FALSE'].includes(v)) return false;
  throw new Error(`Input "${name}" must be true or false, not "${escapeText(v)}".`);
}

/** The verify command line for the inputs. */
export function verifyArgs(env: NodeJS.ProcessEnv, reportPath: string): string[] {
  const args = ['verify'];
  const format = input(env, 'format') || 'text';
  if (!(VERIFY_FORMATS as readonly string[]).includes(format)) {
    throw new Error(`Input "format" must be one of ${VERIFY_FORMATS.join(', ')}, not "${escapeText(format)}".`);
  }
  args.push('--format', format, '--report-file', reportPath);
  if (booleanInput(env, 'frozen', true)) args.push('--frozen');
  const config = input(env, 'config');
  if (config) args.push('--config', config);
  const targets = input(env, 'targets', { lines: true }).split(/[ \t\r\n]+/).filter(Boolean);
  if (targets.length) args.push('--', ...targets);
  return args;
}

/** Append outputs in the runner's multi-line form (`name<<DELIMITER`), safe for any value. */
export function writeOutputs(file: string, outputs: Record<string, string>): void {
  let text = '';
  for (const [k, v] of Object.entries(outputs)) {
    const delimiter = `ghadelimiter_${randomBytes(12).toString('hex')}`;
    text += `${k}<<${delimiter}\n${v}\n${delimiter}\n`;
  }
  appendFileSync(file, text);
}

export async function run(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  let args: string[];
  let cwd: string;
  try {
    cwd = resolve(workspace, input(env, 'working-directory') || '.');
    args = verifyArgs(env, '');
  } catch (e) {
    // One escaped workflow command: the message quotes the input, already escaped.
    process.stdout.write(workflowCommand('error', { title: 'conda-attest' }, (e as Error).message) + '\n');
    return 2;
  }
  const outDir = join(env.RUNNER_TEMP || tmpdir(), `conda-attest-${env.GITHUB_RUN_ID ?? process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(outDir, { recursive: true });
  const reportPath = join(outDir, 'report.json');
  args = verifyArgs(env, reportPath);
  const format = input(env, 'format') || 'text';
  // SARIF is meant for upload (github/codeql-action/upload-sarif), so it goes to a file.
  const sarifPath = join(outDir, 'results.sarif');
  const sarif = format === 'sarif' ? createWriteStream(sarifPath) : null;
  const io: CliIO = { stdout: sarif ?? process.stdout, stderr: process.stderr, stdin: process.stdin, env, cwd };
  process.stdout.write(`conda-attest ${args.map((a) => escapeText(a)).join(' ')} (in ${escapeText(cwd)})\n`);
  const code = await main(args, io);
  if (sarif) {
    await new Promise<void>((res, rej) => sarif.end((e?: Error | null) => (e ? rej(e) : res())));
    process.stdout.write(`SARIF written to ${sarifPath}\n`);
  }
  let summary: { blocked?: number; verified?: number } = {};
  try {
    summary = (JSON.parse(readFileSync(reportPath, 'utf8')) as { summary: typeof summary }).summary;
  } catch {
    // exit 2 before a report existed: outputs stay empty
  }
  if (env.GITHUB_OUTPUT) {
    writeOutputs(env.GITHUB_OUTPUT, {
      report: summary.blocked === undefined ? '' : reportPath,
      blocked: summary.blocked === undefined ? '' : String(summary.blocked),
      verified: summary.verified === undefined ? '' : String(summary.verified),
      ...(sarif ? { sarif: sarifPath } : {}),
    });
  }
  return code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await run();
}
