// CONNECT tunnels for https:// targets through an http(s) proxy, opened only by exactly
// `200` (RFC 9110 §9.3.6: any 2xx means "connected" to a proxy-aware client, but a tunnel
// that carries TLS must be one the proxy really opened; a 203 with a body is the proxy
// speaking, not the origin).
//
// https-proxy-agent (9.1.0) hands any non-200 CONNECT answer to node:http as if it were
// the origin's response, body included, so a proxy answering `203` plus a body could serve
// any https:// resource without TLS. This wrapper turns every answer other than 200 into an
// error (`code` TUNNEL_REFUSED, with the status) before node:http sees a byte of it; the
// client reports it as PROXY_FAILED, a retrieval failure. Kept as a wrapper (not a fork)
// so a fixed upstream changes nothing here. Loaded only when a proxy is configured.
import type { Agent, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { HttpsProxyAgent, type HttpsProxyAgentOptions } from 'https-proxy-agent';
import { TUNNEL_REFUSED } from './proxy.ts';

class TunnelOnly200 extends HttpsProxyAgent<string> {
  override async connect(req: ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]): Promise<Socket> {
    let answer: { statusCode: number; statusText?: string } | undefined;
    const seen = (connect: { statusCode: number; statusText?: string }): void => {
      answer = connect;
    };
    req.on('proxyConnect', seen);
    let socket: Socket;
    try {
      socket = await super.connect(req, opts);
    } finally {
      req.off('proxyConnect', seen);
    }
    // No answer seen (an agent that stopped telling) fails closed as well.
    if (answer?.statusCode !== 200) {
      socket.destroy();
      const e = new Error(`proxy answered CONNECT with ${answer?.statusCode ?? 'nothing'}`) as Error & { code: string; status: number; statusText: string };
      e.code = TUNNEL_REFUSED;
      e.status = answer?.statusCode ?? 0;
      e.statusText = (answer?.statusText ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 80);
      throw e;
    }
    return socket;
  }
}

export function tunnelAgent(proxy: URL, opts: HttpsProxyAgentOptions<string>): Agent {
  return new TunnelOnly200(proxy.href, opts) as unknown as Agent;
}
