// `conda-attest serve`: run the verifying channel proxy (docs/serve.md) until SIGINT or
// SIGTERM, then drain the requests in flight and exit 0.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.ts';
import { loadConfig, noConfigError } from '../config/load.ts';
import { escapeJsonOutput, escapeText } from '../text/escape.ts';
import { startServe, parseListen, SERVE_DEFAULTS, type RunningServe } from '../serve/start.ts';
import { parseRouteArgument } from '../serve/routes.ts';
import type { AccessLogLine } from '../serve/server.ts';
import type { CliIO, Command } from './io.ts';
import { type CommandSpec, HELP_OPTION, parseCommand, renderHelp } from './options.ts';

export const SERVE_SPEC: CommandSpec = {
  name: 'serve',
  usage: ['conda-attest serve [options]'],
  description: `Serve each configured channel through a verifying proxy: repodata and sidecars pass
through unchanged, and a package is handed out only when it passes the channel's policy
(403 with the code and reason otherwise). Point conda, mamba, pixi or mambajs at the
printed URLs (docs/serve.md).`,
  options: [
    { name: 'config', type: 'string', arg: 'PATH', help: 'config file (default: searched from the current directory up)' },
    { name: 'listen', type: 'string', arg: 'HOST:PORT', help: `address to listen on (config serve.listen, default ${SERVE_DEFAULTS.listen})` },
    { name: 'route', type: 'string', multiple: true, arg: 'NAME=URL', help: 'serve the channel URL under /NAME (repeatable; config serve.routes)' },
    { name: 'frozen', type: 'boolean', help: 'the identity lockfile is read-only: nothing is pinned (for replicas)' },
    { name: 'lockfile', type: 'string', arg: 'PATH', help: 'identity lockfile (default: config lockfile, conda-attest.lock)' },
    { name: 'no-tuf-refresh', type: 'boolean', help: 'never contact the TUF repository (use the cached or embedded trust root)' },
    { name: 'log-format', type: 'string', arg: 'json|text', help: 'access log on stderr, one line per request (default json)' },
    { name: 'tls-cert', type: 'string', arg: 'PATH', help: 'serve HTTPS with this certificate chain (PEM; with --tls-key)' },
    { name: 'tls-key', type: 'string', arg: 'PATH', help: 'private key of --tls-cert (PEM)' },
    { name: 'admin-token-file', type: 'string', arg: 'PATH', help: 'require "Authorization: Bearer <token in PATH>" on /-/health and /-/metrics' },
    HELP_OPTION,
  ],
  exitCodes: [
    [0, 'stopped by SIGINT or SIGTERM after the requests in flight were answered'],
    [2, 'usage or config error (e.g. two channels on one route), or the address is taken'],
  ],
};

export const serveCommand: Command = async (argv: string[], io: CliIO): Promise<number> => {
  const { values } = parseCommand(argv, SERVE_SPEC) as {
    values: {
      config?: string; listen?: string; route?: string[]; frozen?: boolean; lockfile?: string; 'no-tuf-refresh'?: boolean;
      'log-format'?: string; 'tls-cert'?: string; 'tls-key'?: string; 'admin-token-file'?: string; help?: boolean;
    };
  };
  if (values.help) {
    io.stdout.write(renderHelp(SERVE_SPEC));
    return 0;
  }
  const logFormat = values['log-format'] ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') {
    throw new UsageError('USAGE_INVALID_ARGUMENT', `Unknown --log-format "${logFormat}".`, { hint: 'Use --log-format json or --log-format text.' });
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new UsageError('USAGE_MISSING_ARGUMENT', '--tls-cert and --tls-key go together.', { hint: 'Give both the certificate chain and its private key (PEM files).' });
  }
  const routes: Record<string, string> = {};
  for (const raw of values.route ?? []) {
    const parsed = parseRouteArgument(raw);
    if (!parsed) throw new UsageError('USAGE_INVALID_ARGUMENT', `--route "${raw}" is not NAME=URL.`, { hint: 'For example --route conda-forge=https://conda.anaconda.org/conda-forge.' });
    routes[parsed[0]] = parsed[1];
  }
  const config = await loadConfig({ cwd: io.cwd, configPath: values.config, env: io.env });
  // No policy, no pass (as for `conda-attest verify`): a proxy without a config would hand out everything.
  if (config.source === undefined) throw noConfigError(io.cwd);
  const listen = parseListen(values.listen ?? config.serve?.listen ?? SERVE_DEFAULTS.listen);
  const readSecret = (path: string, what: string): Buffer => {
    try {
      return readFileSync(resolve(io.cwd, path));
    } catch (e) {
      throw new UsageError('USAGE_INVALID_ARGUMENT', `Cannot read the ${what} ${path} (${e instanceof Error ? e.message : String(e)}).`, { hint: `Check the path of the ${what}.` });
    }
  };
  const adminToken = values['admin-token-file'] ? readSecret(values['admin-token-file'], 'admin token file').toString('utf8').trim() : undefined;
  if (adminToken === '') throw new ConfigError('CONFIG_INVALID', `The admin token file ${values['admin-token-file']} is empty.`, { hint: 'Write a long random token into it.' });
  const tls = values['tls-cert'] ? { cert: readSecret(values['tls-cert'], 'TLS certificate'), key: readSecret(values['tls-key']!, 'TLS key') } : undefined;

  const write = (line: AccessLogLine): void => {
    io.stderr.write((logFormat === 'json' ? escapeJsonOutput(JSON.stringify(line)) : textLine(line)) + '\n');
  };
  const running = await startServe({
    config,
    routes: { ...config.serve?.routes, ...routes },
    listen,
    frozen: Boolean(values.frozen),
    noTufRefresh: Boolean(values['no-tuf-refresh']),
    lockfile: values.lockfile ? resolve(io.cwd, values.lockfile) : undefined,
    tls,
    adminToken,
    log: write,
  });
  for (const r of running.routes) {
    io.stdout.write(`${running.url}/${r.name}  ←  ${r.channel}${r.mirrors.length ? ` (mirrors: ${r.mirrors.join(', ')})` : ''}${r.enabled ? '' : '  [checks disabled: packages pass unverified]'}\n`);
  }
  io.stdout.write(`conda-attest serve listening on ${running.url} (${values.frozen ? 'frozen lockfile' : 'pins written to the identity lockfile'}); health: ${running.url}/-/health, metrics: ${running.url}/-/metrics\n`);
  if (!tls && !isLoopback(listen.host)) {
    io.stderr.write(
      escapeText(
        `conda-attest serve: WARNING: listening on ${listen.host} without TLS: anyone who can reach this address, and anyone on the network path between it and a client, can read and swap packages (the clients behind the proxy check nothing themselves). Serve HTTPS with --tls-cert/--tls-key, or terminate TLS in front of it.`,
      ) + '\n',
    );
  }
  await stopped(running, io);
  return 0;
};

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Wait for SIGINT/SIGTERM, then drain; a second signal stops at once. The listener stays
 * while the requests drain: a process with no listener of its own left for the signal is
 * ended by whoever else listens (signal-exit, which removes temp files of atomic writes at
 * exit, re-raises the signal when its listener is the last one).
 */
function stopped(running: RunningServe, io: CliIO): Promise<void> {
  return new Promise((resolveStop) => {
    let draining = false;
    const off = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    };
    const stop = (signal: NodeJS.Signals): void => {
      if (draining) {
        off();
        process.kill(process.pid, signal);
        return;
      }
      draining = true;
      io.stderr.write(`conda-attest serve: ${signal}: answering the ${running.inFlight()} request(s) in flight, then stopping.\n`);
      void running.close().then(() => {
        off();
        resolveStop();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function textLine(l: AccessLogLine): string {
  const parts = [l.time, l.method, escapeText(l.path), String(l.status), `${l.bytes}B`, `${l.ms}ms`];
  if (l.package) parts.push(escapeText(l.package));
  if (l.verdict) parts.push(`${l.verdict.status}/${l.verdict.action}${l.verdict.codes.length ? ` ${l.verdict.codes.join(',')}` : ''}`);
  else if (l.code) parts.push(l.code);
  if (l.note) parts.push(`(${escapeText(l.note)})`);
  return parts.join(' ');
}
