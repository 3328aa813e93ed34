// `/-/metrics` of `conda-attest serve`: Prometheus text exposition through prom-client, on
// a registry of its own (nothing global). Verdicts are counted by status, action and code,
// so a refused install that a client shows only as "HTTP 403" is visible here with its
// reason (docs/serve.md "Operations").
import type { AccessLogLine } from './server.ts';

export interface ServeMetrics {
  request(line: AccessLogLine): void;
  verdict(status: string, action: string, code: string | undefined): void;
  upstream(kind: string, ms: number): void;
  bytes(direction: 'upstream' | 'client', n: number): void;
  stale(): void;
  render(): Promise<string>;
  readonly contentType: string;
}

export async function createServeMetrics(): Promise<ServeMetrics> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry, prefix: 'conda_attest_serve_' });
  const requests = new prom.Counter({
    name: 'conda_attest_serve_requests_total',
    help: 'Requests answered, by route, kind of file and status.',
    labelNames: ['route', 'kind', 'status'] as const,
    registers: [registry],
  });
  const verdicts = new prom.Counter({
    name: 'conda_attest_serve_verdicts_total',
    help: 'Package verdicts, by status, action and first reason code.',
    labelNames: ['status', 'action', 'code'] as const,
    registers: [registry],
  });
  const upstream = new prom.Histogram({
    name: 'conda_attest_serve_upstream_seconds',
    help: 'Time to the upstream response headers, by kind of file.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const bytes = new prom.Counter({
    name: 'conda_attest_serve_bytes_total',
    help: 'Body bytes, by direction (package bytes received from upstream, bytes sent to clients).',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const stale = new prom.Counter({
    name: 'conda_attest_serve_stale_total',
    help: 'Index documents served from the stored copy because the upstream could not be reached.',
    registers: [registry],
  });
  return {
    contentType: registry.contentType,
    request(line) {
      requests.inc({ route: line.route ?? '', kind: line.kind ?? 'none', status: String(line.status) });
      if (line.bytes) bytes.inc({ direction: 'client' }, line.bytes);
    },
    verdict(status, action, code) {
      verdicts.inc({ status, action, code: code ?? '' });
    },
    upstream(kind, ms) {
      upstream.observe({ kind }, ms / 1000);
    },
    bytes(direction, n) {
      if (n) bytes.inc({ direction }, n);
    },
    stale() {
      stale.inc();
    },
    render: () => registry.metrics(),
  };
}
