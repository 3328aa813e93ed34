// The terminal edge of the CLI: commands get their streams and environment from
// here instead of reaching for `process`, so they can be driven in-process too.

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Colour and spinners only on a TTY and when NO_COLOR is unset (https://no-color.org). */
export function wantsColor(io: CliIO, stream: 'stdout' | 'stderr' = 'stderr'): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '0') return true;
  return Boolean(io[stream].isTTY);
}

/** A command: argv after the command name in, exit code out (0 ok, 1 blocked/failed, 2 usage/config/input). */
export type Command = (argv: string[], io: CliIO) => Promise<number>;
