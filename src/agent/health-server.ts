// The agent's HTTP health endpoints, for the DaemonSet's probes and for Prometheus:
//   GET /readyz   200 "ok" when in sync with the store and the CNI socket answers, else 503 + why
//   GET /livez    200 "ok" unless the sync loop is wedged (500 + why); never fails for an outage
//   GET /metrics  Prometheus text
// `?verbose` on /readyz and /livez lists every check. Anything else is 404 (405 for a method
// other than GET/HEAD). The rules are in health.ts; this file is only the HTTP around them.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { livenessChecks, readinessChecks, summary, verbose, type HealthSource } from './health.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './health-metrics.js';

export interface HealthServerOptions {
  readonly host: string;
  /** 0 = any free port (tests). */
  readonly port: number;
  readonly now?: () => number;
}

export interface HealthServer {
  /** Where it listens, `host:port` (`[v6]:port`), with the port actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startHealthServer(
  source: HealthSource,
  opts: HealthServerOptions,
): Promise<HealthServer> {
  const now = opts.now ?? Date.now;
  const server = createServer((req, res) => {
    void answer(source, now, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `health check failed: ${String(e)}`);
      else res.destroy();
    });
  });
  // Probes come every few seconds; an idle keep-alive socket must not hold close() up.
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message;
    throw new Error(`health endpoints: cannot listen on ${formatHostPort(opts.host, opts.port)}: ${why}`);
  }
  const port = (server.address() as AddressInfo).port;
  return {
    address: formatHostPort(opts.host, port),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  source: HealthSource,
  now: () => number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://health');
  const route = ROUTES[url.pathname];
  if (route === undefined) return send(res, 404, 'not found: try /readyz, /livez or /metrics');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, `method ${req.method ?? '?'} not allowed`);
  }
  const isVerbose = url.searchParams.has('verbose');
  const state = source.healthState();
  switch (route) {
    case 'readyz': {
      const checks = readinessChecks(state, await source.cniSocketAnswers());
      const ok = checks.every((c) => c.failure === undefined);
      return send(res, ok ? 200 : 503, (isVerbose ? verbose : summary)(checks, 'not ready'));
    }
    case 'livez': {
      const checks = livenessChecks(state, now());
      const ok = checks.every((c) => c.failure === undefined);
      return send(res, ok ? 200 : 500, (isVerbose ? verbose : summary)(checks, 'not live'));
    }
    case 'metrics': {
      const ready = readinessChecks(state, await source.cniSocketAnswers()).every(
        (c) => c.failure === undefined,
      );
      return send(res, 200, renderMetrics(state, ready), METRICS_CONTENT_TYPE);
    }
  }
}

const ROUTES: Readonly<Record<string, 'readyz' | 'livez' | 'metrics'>> = {
  '/readyz': 'readyz',
  '/livez': 'livez',
  '/metrics': 'metrics',
};

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  const text = body.endsWith('\n') ? body : `${body}\n`;
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}
