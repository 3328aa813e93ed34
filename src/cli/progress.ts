// Progress of a long run on stderr. On a terminal: an ora spinner (also under NO_COLOR,
// which removes colour only: https://no-color.org). Off a terminal (CI logs): one short
// line at most every 10 s, the first after 10 s, so a short run prints nothing extra and a
// long job is never silent for minutes.
//
// The spinner never reads the keyboard (`discardStdin: false`): ora's stdin discarding
// puts the terminal in raw mode, where Ctrl-C is a byte instead of SIGINT.
import type { CliIO } from './io.ts';
import type { WaitEvent } from '../http/transport.ts';

interface Progress {
  update(done: number): void;
  /** A request with no answer yet (or its end): the line names the host while it stalls. */
  waiting(e: WaitEvent): void;
  stop(): void;
}

interface ProgressOptions {
  /** Off-TTY: interval between lines (default 10 s). */
  intervalMs?: number;
  now?: () => number;
}

/**
 * While a request has had no answer for a while: the host of the oldest such request and
 * how long it has been silent ("waiting on 127.0.0.1:18765: no data for 20 s"), so a
 * stalled host is named while it stalls; undefined when nothing waits. Pure.
 */
export function waitText(waits: ReadonlyMap<number, WaitEvent>, now: number): string | undefined {
  let oldest: WaitEvent | undefined;
  for (const w of waits.values()) if (!oldest || w.since < oldest.since) oldest = w;
  if (!oldest) return undefined;
  const more = waits.size - 1;
  const s = Math.max(0, Math.floor((now - oldest.since) / 1000));
  return `waiting on ${oldest.host}: no data for ${s} s${more > 0 ? ` (and ${more} more request${more === 1 ? '' : 's'})` : ''}`;
}

const withWait = (line: string, wait: string | undefined): string => (wait ? `${line}; ${wait}` : line);

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
  const now = o.now ?? Date.now;
  const waits = new Map<number, WaitEvent>();
  let done = 0;
  const waiting = (e: WaitEvent): void => {
    if (e.done) waits.delete(e.id);
    else waits.set(e.id, e);
  };
  if (canSpin(io)) {
    const { default: ora } = await import('ora');
    const spinner = ora({
      text: `verifying 0/${total}`,
      stream: atLeastOneColumn(io.stderr),
      discardStdin: false,
      isEnabled: true,
      ...(noColor ? { color: false as const } : {}),
    }).start();
    const draw = (): void => void (spinner.text = withWait(`verifying ${done}/${total}`, waitText(waits, now())));
    // The seconds of a wait keep counting between package completions.
    const tick = setInterval(() => waits.size > 0 && draw(), 1000);
    tick.unref();
    return {
      update: (d) => {
        done = d;
        draw();
      },
      waiting: (e) => {
        waiting(e);
        draw();
      },
      stop: () => {
        clearInterval(tick);
        spinner.stop();
      },
    };
  }
  const started = now();
  const timer = setInterval(() => {
    const s = Math.round((now() - started) / 1000);
    io.stderr.write(`conda-attest: ${withWait(`verifying ${done}/${total} packages (${s} s)`, waitText(waits, now()))}\n`);
  }, o.intervalMs ?? 10_000);
  timer.unref();
  return {
    update: (d) => void (done = d),
    waiting,
    stop: () => clearInterval(timer),
  };
}
