// Two small proxies for tests, written on raw TCP so that every byte they send is chosen by
// the test: a CONNECT proxy that answers with whatever status line and body it is given (a
// proxy trying to impersonate an https:// origin), and a SOCKS5 server (RFC 1928, with the
// username/password method of RFC 1929) that tunnels to the requested address on loopback.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TestProxy {
  /** Change what a CONNECT proxy answers from now on. */
  setAnswer(answer: Buffer | string): void;
  /** `scheme://[user:pass@]127.0.0.1:PORT` */
  url: string;
  /** What each client asked for: the CONNECT target, or the SOCKS destination `host:port`. */
  seen: string[];
  /** Credentials each client offered (SOCKS only; `user:pass`). */
  auth: string[];
  close(): Promise<void>;
}

function listen(server: Server, sockets: Set<Socket>): Promise<number> {
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
}

/** Answers every CONNECT with `answer` (raw bytes: status line, headers, blank line, body), then closes. */
export async function startConnectAnswering(answer: Buffer | string, o: { user?: string } = {}): Promise<TestProxy> {
  let current = answer;
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    let head = '';
    s.on('data', (d) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      seen.push(head.split(' ')[1] ?? '');
      s.end(current);
    });
  });
  const port = await listen(server, sockets);
  const setAnswer = (a: Buffer | string): void => void (current = a);
  return { url: `http://${o.user ? `${o.user}@` : ''}127.0.0.1:${port}`, seen, auth: [], setAnswer, close: closer(server, sockets) };
}

/** A SOCKS5 server; with `credentials` it requires that username/password (RFC 1929). */
export async function startSocks5(o: { credentials?: { user: string; pass: string }; scheme?: 'socks5' | 'socks5h' } = {}): Promise<TestProxy> {
  const seen: string[] = [];
  const auth: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' = 'greeting';
    const take = (n: number): Buffer | undefined => {
      if (buf.length < n) return undefined;
      const b = buf.subarray(0, n);
      buf = buf.subarray(n);
      return b;
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (stage === 'greeting') {
          if (buf.length < 2 || buf.length < 2 + buf[1]!) return;
          const methods = [...take(2 + buf[1]!)!.subarray(2)];
          const want = o.credentials ? 0x02 : 0x00;
          if (!methods.includes(want)) return void client.end(Buffer.from([5, 0xff]));
          client.write(Buffer.from([5, want]));
          stage = o.credentials ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buf.length < 2) return;
          const ulen = buf[1]!;
          if (buf.length < 3 + ulen || buf.length < 3 + ulen + buf[2 + ulen]!) return;
          const plen = buf[2 + ulen]!;
          const b = take(3 + ulen + plen)!;
          const user = b.subarray(2, 2 + ulen).toString();
          const pass = b.subarray(3 + ulen).toString();
          auth.push(`${user}:${pass}`);
          const ok = user === o.credentials!.user && pass === o.credentials!.pass;
          if (!ok) return void client.end(Buffer.from([1, 1]));
          client.write(Buffer.from([1, 0]));
          stage = 'request';
        } else if (stage === 'request') {
          if (buf.length < 5) return;
          const atyp = buf[3]!;
          const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4]!;
          if (buf.length < 4 + addrLen + 2) return;
          const b = take(4 + addrLen + 2)!;
          const addr = atyp === 1 ? [...b.subarray(4, 8)].join('.') : atyp === 3 ? b.subarray(5, 5 + b[4]!).toString() : 'ipv6';
          const port = b.readUInt16BE(4 + addrLen);
          seen.push(`${addr}:${port}`);
          client.off('data', onData);
          client.pause();
          // Only loopback destinations: a name (socks5h) is resolved to 127.0.0.1 here.
          const upstream = connect(port, '127.0.0.1');
          sockets.add(upstream);
          upstream.on('error', () => client.destroy());
          upstream.on('close', () => client.destroy());
          client.on('close', () => upstream.destroy());
          upstream.on('connect', () => {
            client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
            if (buf.length) upstream.write(buf);
            client.pipe(upstream).pipe(client);
          });
          return;
        }
      }
    };
    client.on('data', onData);
  });
  const port = await listen(server, sockets);
  const cred = o.credentials ? `${o.credentials.user}:${o.credentials.pass}@` : '';
  const setAnswer = (): void => {
    throw new Error('a SOCKS5 server answers by the protocol');
  };
  return { url: `${o.scheme ?? 'socks5'}://${cred}127.0.0.1:${port}`, seen, auth, setAnswer, close: closer(server, sockets) };
}
