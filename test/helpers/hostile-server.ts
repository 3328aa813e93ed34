// A hostile HTTP server for tests: a loopback server whose routes misbehave on purpose, the
// way a broken or malicious mirror does. Each behaviour is a plain handler, so it can be
// mounted on this server (`hostile.route(path, stall())`) or on any node:http server.
//
//   stall()              accept the request, never answer (headers never come)
//   stallBody()          send headers (and optionally some bytes), then nothing, forever
//   slowloris()          dribble the body a few bytes per tick (each read is "progress")
//   resetMidBody()       send part of the body, then reset the TCP connection (RST)
//   lyingLength()        Content-Length that disagrees with the bytes actually sent
//   endless()            chunked body that never ends
//   bomb()               a small gzip/deflate/br body that decodes to a huge one
//   redirect()           redirect to any Location (other host, other scheme, userinfo, loops)
//   redirectLoop()       redirects to itself forever
//
// The server is the shared loopback helper (loopback.ts): every socket and timer is torn
// down by close(), so a test never leaves a stalled connection or a ticking interval behind.
// A good route mixed with hostile ones: loopback.ts `send`.
import { brotliCompressSync, constants as zc, deflateSync, gzipSync } from 'node:zlib';
import { startLoopback, type Handler, type Loopback } from './loopback.ts';

export type HostileHandler = Handler;
export type HostileServer = Loopback;

/** A loopback server without server-side timeouts: the client under test must bound every wait itself. */
export function startHostileServer(fallback?: HostileHandler): Promise<HostileServer> {
  return startLoopback({ fallback, noServerTimeouts: true });
}

/** Never answer: the request is read, the socket stays open, nothing is ever sent. */
export function stall(): HostileHandler {
  return () => {};
}

/** Send the status line and headers (and `prefix` bytes of body), then go silent forever. */
export function stallBody(o: { contentLength?: number; prefix?: Buffer | string } = {}): HostileHandler {
  return (_req, res) => {
    const headers: Record<string, string> = o.contentLength === undefined ? {} : { 'content-length': String(o.contentLength) };
    res.writeHead(200, headers);
    res.flushHeaders();
    if (o.prefix !== undefined && o.prefix.length > 0) res.write(o.prefix);
  };
}

/**
 * Slowloris: `body` dribbled `bytesPerTick` bytes every `intervalMs`, so every read makes
 * "progress" and an idle timeout never fires; only a whole-transfer bound stops it.
 */
export function slowloris(body: Buffer | string, o: { bytesPerTick?: number; intervalMs?: number } = {}): HostileHandler {
  const bytes = Buffer.from(body);
  const step = o.bytesPerTick ?? 1;
  return (_req, res, hs) => {
    res.writeHead(200, { 'content-length': String(bytes.length) });
    res.flushHeaders();
    let at = 0;
    const t = hs.track(
      setInterval(() => {
        if (res.destroyed || at >= bytes.length) {
          clearInterval(t);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(bytes.subarray(at, at + step));
        at += step;
      }, o.intervalMs ?? 100),
    );
    res.on('close', () => clearInterval(t));
  };
}

/** Send the first `after` bytes of `body` (announcing all of it), then reset the connection. */
export function resetMidBody(body: Buffer | string, after: number): HostileHandler {
  const bytes = Buffer.from(body);
  return (_req, res) => {
    res.writeHead(200, { 'content-length': String(bytes.length) });
    res.write(bytes.subarray(0, after), () => {
      const s = res.socket;
      if (s && typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
      else s?.destroy();
    });
  };
}

/**
 * A Content-Length that lies: `declared` bytes announced, `body` sent as is, written on the
 * raw socket so Node's own checks do not correct it. Shorter than declared: the connection
 * is then closed (a truncated body). Longer: the extra bytes trail on the connection.
 */
export function lyingLength(body: Buffer | string, declared: number, o: { keepOpen?: boolean } = {}): HostileHandler {
  const bytes = Buffer.from(body);
  return (_req, res) => {
    const s = res.socket!;
    res.detachSocket(s);
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${declared}\r\nConnection: ${o.keepOpen ? 'keep-alive' : 'close'}\r\n\r\n`);
    s.write(bytes, () => {
      if (!o.keepOpen) s.end();
    });
  };
}

/** A chunked body of `chunk` repeated forever (until the client hangs up). */
export function endless(chunk: Buffer | string = Buffer.alloc(64 * 1024, 0x61)): HostileHandler {
  const c = Buffer.from(chunk);
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const pump = (): void => {
      while (!res.destroyed && res.write(c)) {
        /* fill the socket buffer */
      }
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  };
}

/** Compressed bytes that decode to `decodedBytes` of `fill` (default '0'). Memoised: bombs are reused across tests. */
const bombs = new Map<string, Buffer>();
export function bombBytes(encoding: 'gzip' | 'deflate' | 'br', decodedBytes: number, fill = 0x30): Buffer {
  const key = `${encoding}:${decodedBytes}:${fill}`;
  let b = bombs.get(key);
  if (!b) {
    const plain = Buffer.alloc(decodedBytes, fill);
    b =
      encoding === 'gzip'
        ? gzipSync(plain, { level: 9 })
        : encoding === 'deflate'
          ? deflateSync(plain, { level: 9 })
          : brotliCompressSync(plain, { params: { [zc.BROTLI_PARAM_QUALITY]: 5 } });
    bombs.set(key, b);
  }
  return b;
}

/**
 * A compression bomb: a small body whose `Content-Encoding` makes it decode to
 * `decodedBytes`. With `asBody` the compressed bytes are served as plain content (for
 * formats that are compressed files themselves, e.g. a `.json.gz` someone decodes).
 */
export function bomb(o: { encoding?: 'gzip' | 'deflate' | 'br'; decodedBytes: number; fill?: number; asBody?: boolean }): HostileHandler {
  const encoding = o.encoding ?? 'gzip';
  return (_req, res) => {
    const b = bombBytes(encoding, o.decodedBytes, o.fill);
    const headers: Record<string, string> = { 'content-length': String(b.length) };
    if (!o.asBody) headers['content-encoding'] = encoding;
    res.writeHead(200, headers).end(b);
  };
}

/** Redirect to `location` (any string: another host, `file:`, `https:` → `http:`, userinfo, relative). */
export function redirect(location: string, status = 302): HostileHandler {
  return (_req, res) => {
    res.writeHead(status, { location, 'content-length': '0' }).end();
  };
}

/** Redirect to itself (with a growing query) forever. */
export function redirectLoop(status = 302): HostileHandler {
  return (req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 0) + 1;
    const path = (req.url ?? '/').split('?')[0];
    res.writeHead(status, { location: `${path}?n=${n}`, 'content-length': '0' }).end();
  };
}
