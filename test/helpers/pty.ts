// Runs a command in a real pseudo-terminal (python3's pty module: no native npm addon, no
// prebuilt binary), waits until its output matches a pattern, then types keys into the
// terminal (e.g. Ctrl-C, which the terminal's line discipline turns into SIGINT for the
// foreground process group, exactly as on a user's terminal).
import { spawn, spawnSync } from 'node:child_process';

const SCRIPT = String.raw`
import fcntl, json, os, pty, re, select, struct, sys, termios, time
args = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    # A terminal of the usual size unless asked otherwise (a pty starts at 0x0, as docker -t
    # and some CI pseudo-terminals leave it).
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", args["rows"], args["cols"], 0, 0))
    os.chdir(args["cwd"])
    os.execve(args["argv"][0], args["argv"], args["env"])
out = b""
def pump(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
    return True
deadline = time.time() + args["waitSeconds"]
pattern = re.compile(args["waitFor"].encode())
while time.time() < deadline and not pattern.search(out):
    if not pump(0.05):
        break
seen = bool(pattern.search(out))
lflag = termios.tcgetattr(fd)[3]
modes = {"isig": bool(lflag & termios.ISIG), "icanon": bool(lflag & termios.ICANON)}
sent_at = time.time()
if seen:
    os.write(fd, args["keys"].encode())
status = None
while time.time() < sent_at + args["exitSeconds"]:
    pump(0.05)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
exit_after = time.time() - sent_at
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
else:
    pump(0.2)
code = None if status is None else (os.waitstatus_to_exitcode(status))
print(json.dumps({"seen": seen, "modes": modes, "code": code, "exitAfterSeconds": exit_after, "output": out.decode("utf-8", "replace")}))
`;

export interface PtyResult {
  /** Whether `waitFor` appeared before the keys were typed. */
  seen: boolean;
  /** Terminal modes while the program ran: ISIG (Ctrl-C → SIGINT) and ICANON (cooked). */
  modes: { isig: boolean; icanon: boolean };
  /** Exit code (negative: killed by that signal); null if it did not exit in time. */
  code: number | null;
  exitAfterSeconds: number;
  output: string;
}

export function hasPython3Pty(): boolean {
  const r = spawnSync('python3', ['-c', 'import pty, termios'], { stdio: 'ignore' });
  return r.status === 0;
}

export function runInPty(o: {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  waitFor: string;
  keys: string;
  waitSeconds?: number;
  exitSeconds?: number;
  /** Terminal size (default 24 rows, 80 columns). */
  rows?: number;
  cols?: number;
}): Promise<PtyResult> {
  const args = JSON.stringify({
    argv: o.argv,
    env: o.env,
    cwd: o.cwd,
    waitFor: o.waitFor,
    keys: o.keys,
    waitSeconds: o.waitSeconds ?? 60,
    exitSeconds: o.exitSeconds ?? 20,
    rows: o.rows ?? 24,
    cols: o.cols ?? 80,
  });
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SCRIPT, args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pty helper exited ${code}: ${stderr}`));
      resolve(JSON.parse(stdout) as PtyResult);
    });
  });
}
