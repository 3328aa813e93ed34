// Progress of a long run on stderr. On a terminal: an ora spinner (also under NO_COLOR,
// which removes colour only: https://no-color.org). Off a terminal (CI logs): one short
// line at most every 10 s, the first after 10 s, so a short run prints nothing extra and a
// long job is never silent for minutes.
//
// The spinner never reads the keyboard (`discardStdin: false`): ora's stdin discarding
// puts the terminal in raw mode, where Ctrl-C is a byte instead of SIGINT.
import type { CliIO } from './io.ts';

interface Progress {
  update(done: number): void;
  stop(): void;
}

interface ProgressOptions {
  /** Off-TTY: interval between lines (default 10 s). */
  intervalMs?: number;
  now?: () => number;
}

/** Spinners only on a terminal that can draw them (ora's own rule: TTY, TERM not dumb, not CI). */
function canSpin(io: CliIO): boolean {
  return Boolean(io.stderr.isTTY) && io.env.TERM !== 'dumb' && io.env.CI === undefined;
}

/** Running indicators, so an interrupt can stop them before it prints (src/cli/main.ts). */
const running = new Set<Progress>();

export function stopAllProgress(): void {
  for (const p of running) p.stop();
}

export async function startProgress(io: CliIO, total: number, o: ProgressOptions = {}): Promise<Progress> {
  const p = await create(io, total, o);
  const stop = p.stop;
  p.stop = () => {
    running.delete(p);
    stop();
  };
  running.add(p);
  return p;
}

async function create(io: CliIO, total: number, o: ProgressOptions): Promise<Progress> {
  const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '';
  if (canSpin(io)) {
    const { default: ora } = await import('ora');
    const spinner = ora({
      text: `verifying 0/${total}`,
      stream: io.stderr as NodeJS.WriteStream,
      discardStdin: false,
      isEnabled: true,
      ...(noColor ? { color: false as const } : {}),
    }).start();
    return {
      update: (done) => void (spinner.text = `verifying ${done}/${total}`),
      stop: () => void spinner.stop(),
    };
  }
  const now = o.now ?? Date.now;
  const started = now();
  let done = 0;
  const timer = setInterval(() => {
    const s = Math.round((now() - started) / 1000);
    io.stderr.write(`conda-attest: verifying ${done}/${total} packages (${s} s)\n`);
  }, o.intervalMs ?? 10_000);
  timer.unref();
  return {
    update: (d) => void (done = d),
    stop: () => clearInterval(timer),
  };
}
