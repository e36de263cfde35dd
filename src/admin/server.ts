import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Broker, ClientInfo } from '../broker/broker.js';
import { type DashboardAsset, loadDashboardAssets } from '../dashboard/assets.js';
import { isLoopbackHost } from '../transport/listener.js';
import type { Listener } from '../transport/types.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { createSnapshotter, DEFAULT_CLIENT_LIMIT, type HealthResponse, MAX_CLIENT_LIMIT } from './api.js';
import { createMetricsRegistry } from './metrics.js';

export interface AdminServerOptions {
  /** Address to bind. Default 127.0.0.1: the admin API is for the operator, not the world. */
  host?: string;
  /** TCP port; 0 picks a free one (see `url`). Default 9090. */
  port?: number;
  logger?: Logger;
  /** When set, /api/* answers 401 unless the request carries `Authorization: Bearer <token>`. */
  token?: string;
  /** The broker's listeners, for per-listener connection numbers in /api/stats and /metrics. */
  listeners?: readonly Listener[];
  /** Open HTTP connections allowed at once; more are closed at once. Default 64. */
  maxConnections?: number;
}

export interface AdminServer {
  /** e.g. http://127.0.0.1:9090 */
  readonly url: string;
  /** From now on /health answers 503, so that load balancers stop sending clients while the broker stops. */
  shuttingDown(): void;
  /** Stops the HTTP server and closes its connections. */
  close(): Promise<void>;
}

export const DEFAULT_ADMIN_PORT = 9090;

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Starts the admin HTTP server: /health, /metrics (Prometheus), /api/stats, /api/clients, /api/clients/{id} and the
 * dashboard at /. It reads the broker's public state on request and never writes to it; a failing request answers 500 and is
 * logged, and nothing here can throw into the broker.
 */
export async function startAdminServer(broker: Broker, options: AdminServerOptions = {}): Promise<AdminServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_ADMIN_PORT;
  const logger = options.logger ?? silentLogger();
  const listeners = options.listeners ?? [];
  const tokenDigest = options.token ? digest(options.token) : undefined;
  const startedAt = broker.clock.now();
  // A loopback server without a token trusts whoever reaches it, so it must be reached by a loopback name: a web
  // page cannot rebind its own domain to 127.0.0.1 (DNS rebinding) and read the client list from the browser.
  const loopbackNamesOnly = !tokenDigest && isLoopbackHost(host);

  let assets: Map<string, DashboardAsset>;
  try {
    assets = await loadDashboardAssets();
  } catch (error) {
    // Health and metrics matter more than the page: serve them, and say why / is missing.
    logger.warn({ err: error }, 'admin: dashboard files not found; serving the API without the dashboard');
    assets = new Map();
  }

  // When each connection was accepted, from the broker's event (the broker does not keep the time itself).
  const connectedAt = new WeakMap<object, number>();
  const onClientConnected = (client: ClientInfo): void => {
    try {
      const connection = broker.sessions.get(client.clientId)?.connection;
      if (connection) connectedAt.set(connection, broker.clock.now());
    } catch {
      // Bookkeeping for a display must never disturb a CONNECT.
    }
  };
  broker.on('clientConnected', onClientConnected);

  const snapshot = createSnapshotter(broker, listeners, startedAt, connectedAt);
  const registry = createMetricsRegistry(broker, listeners);
  let stopping = false;

  const authorized = (request: IncomingMessage): boolean => {
    if (!tokenDigest) return true;
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return match !== null && timingSafeEqual(digest(match[1]!), tokenDigest);
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      sendJson(response, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    // Relative to a fixed origin, so that '//name/...' stays a path and never becomes a host.
    const url = new URL(`http://admin.invalid${request.url?.startsWith('/') ? request.url : '/'}`);
    const path = url.pathname;

    if (path === '/health') {
      const body: HealthResponse = {
        status: stopping ? 'shutting down' : 'ok',
        uptime: snapshot.uptime(),
        version: broker.config.version,
      };
      sendJson(response, stopping ? 503 : 200, body);
      return;
    }
    if (path === '/metrics') {
      const text = await registry.metrics();
      send(response, 200, registry.contentType, Buffer.from(text), { 'cache-control': 'no-store' });
      return;
    }
    if (loopbackNamesOnly && !loopbackName(request.headers.host)) {
      refuseHost(response);
      return;
    }
    if (path === '/api' || path.startsWith('/api/')) {
      if (!authorized(request)) {
        sendJson(
          response,
          401,
          { error: 'a bearer token is required' },
          { 'www-authenticate': 'Bearer realm="starling"' },
        );
        return;
      }
      if (path === '/api/stats') {
        sendJson(response, 200, snapshot.stats());
        return;
      }
      if (path === '/api/clients') {
        const limit = clientLimit(url.searchParams.get('limit'));
        if (limit === undefined) {
          sendJson(response, 400, { error: `limit: expected a whole number from 0 to ${MAX_CLIENT_LIMIT}` });
          return;
        }
        sendJson(response, 200, snapshot.clients(limit));
        return;
      }
      if (path.startsWith('/api/clients/')) {
        const clientId = decodePathSegment(path.slice('/api/clients/'.length));
        const session = clientId === undefined ? undefined : snapshot.session(clientId);
        if (session) sendJson(response, 200, session);
        else sendJson(response, 404, { error: 'no session for this client id' });
        return;
      }
    }
    const asset = assets.get(path === '/index.html' ? '/' : path);
    if (asset) {
      const headers: Record<string, string> = { 'cache-control': 'no-cache' };
      if (path === '/' || path === '/index.html') headers['content-security-policy'] = DASHBOARD_CSP;
      send(response, 200, asset.contentType, asset.body, headers);
      return;
    }
    sendJson(response, 404, { error: 'not found' });
  };

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      logger.error({ err: error, url: request.url }, 'admin request failed');
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
      else response.destroy();
    });
  });
  server.maxConnections = options.maxConnections ?? 64;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (_error: Error, socket: Socket) => {
    // Malformed HTTP: answer 400 if the socket can still take it, and close it either way.
    if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('error', (error) => logger.error({ err: error }, 'admin server error'));

  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  } catch (error) {
    broker.off('clientConnected', onClientConnected);
    throw error;
  }

  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    shuttingDown() {
      stopping = true;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        stopping = true;
        broker.off('clientConnected', onClientConnected);
        server.close(() => resolve());
        // The dashboard and scrapers keep connections alive: close them rather than wait for their timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The Host header names a loopback address ('localhost:9090', '127.0.0.1', '[::1]:9090'). */
function loopbackName(header: string | undefined): boolean {
  if (!header) return false;
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return isLoopbackHost(host.slice(0, host.indexOf(']') + 1));
  const colon = host.indexOf(':');
  return isLoopbackHost(colon === -1 ? host : host.slice(0, colon));
}

function refuseHost(response: ServerResponse): void {
  sendJson(response, 403, {
    error:
      'this admin server answers only to loopback host names (localhost, 127.0.0.1, [::1]) unless admin.token is set',
  });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A client id from the URL: percent-decoded, any character allowed (client ids may hold '/'); undefined if malformed. */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** ?limit= of /api/clients: absent gives the default; anything but a whole number in range is refused. */
function clientLimit(value: string | null): number | undefined {
  if (value === null || value === '') return DEFAULT_CLIENT_LIMIT;
  if (!/^\d{1,6}$/.test(value)) return undefined;
  const limit = Number(value);
  return limit <= MAX_CLIENT_LIMIT ? limit : undefined;
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: Buffer,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'content-type': contentType,
    'content-length': String(body.length),
  });
  response.end(body);
}

function sendJson(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(response, status, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(value)), {
    'cache-control': 'no-store',
    ...headers,
  });
}
