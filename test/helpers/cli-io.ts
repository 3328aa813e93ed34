// Commands run in process with in-memory streams: what a command writes to stdout and
// stderr is collected as text (stdin is empty, no terminal), for tests that need the CLI's
// exit code and output but not a child process.
import { PassThrough } from 'node:stream';
import type { CliIO, Command } from '../../src/cli/io.ts';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `command(argv, io)` (`main` or one command) with `env` and `cwd`. */
export async function runInProcess(command: Command, argv: string[], o: { env?: NodeJS.ProcessEnv; cwd: string }): Promise<InProcessResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const io: CliIO = { stdout: out, stderr: err, stdin: new PassThrough(), env: o.env ?? {}, cwd: o.cwd };
  const code = await command(argv, io);
  return { code, stdout, stderr };
}
