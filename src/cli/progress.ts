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

/**
 * Spinners only on a terminal that can draw them (ora's own rule: TTY, TERM not dumb, not
 * CI) and that reports its width. A terminal of 0 columns (docker `-t`, `script`, some CI
 * pseudo-terminals) gets the off-terminal lines: ora divides by the width to count the
 * lines to erase, and with 0 it erases forever, so stop() (and with it Ctrl-C) never returned.
 */
function canSpin(io: CliIO): boolean {
  return Boolean(io.stderr.isTTY) && columnsOf(io.stderr) > 0 && io.env.TERM !== 'dumb' && io.env.CI === undefined;
}

function columnsOf(stream: unknown): number {
  const c = (stream as { columns?: unknown }).columns;
  return typeof c === 'number' && Number.isFinite(c) ? c : 0;
}

/** The stream as ora sees it: a width that drops to 0 later (a resize) reads as 80. */
function atLeastOneColumn(stream: NodeJS.WritableStream): NodeJS.WriteStream {
  return new Proxy(stream, {
    get(target, key) {
      if (key === 'columns') return columnsOf(target) || 80;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as NodeJS.WriteStream;
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
      stream: atLeastOneColumn(io.stderr),
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
