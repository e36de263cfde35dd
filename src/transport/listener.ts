import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Logger } from '../util/logger.js';
import { readTlsContext, verifiedCommonName } from './tls.js';
import type {
  AcceptConnection,
  ConnectionMeta,
  Listener,
  ListenerConfig,
  ListenerProtocol,
  ListenerStats,
  TlsFiles,
} from './types.js';
import { WebSocketStream } from './websocket-stream.js';

/** WebSocket subprotocols an MQTT client may ask for; 'mqtt' is the one MQTT 3.1.1 and 5.0 name [MQTT-6.0.0-3]. */
const MQTT_SUBPROTOCOLS = new Set(['mqtt', 'mqttv3.1', 'mqttv3.1.1']);
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** The largest MQTT packet (268,435,455 bytes of remaining length and a 5-byte header), instead of ws's 100 MiB. */
const DEFAULT_WS_MAX_PAYLOAD = 268_435_460;

/** True for addresses that only the local machine can reach: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost' || h === '::1') return true;
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return isIP(h) === 4 && h.startsWith('127.');
}

function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * Opens a listener for one protocol and hands each accepted connection's byte stream to `accept`.
 * Resolves once the socket is bound; rejects (e.g. EADDRINUSE, unreadable certificate) otherwise.
 */
export async function createListener(
  config: ListenerConfig,
  accept: AcceptConnection,
  logger: Logger,
): Promise<Listener> {
  const listener = new NetworkListener(config, accept, logger);
  await listener.listen();
  return listener;
}

type AnyServer = NetServer | TlsServer | HttpServer | HttpsServer;

class NetworkListener implements Listener {
  readonly name: string;
  readonly protocol: ListenerProtocol;
  readonly loopbackOnly: boolean;
  readonly stats: ListenerStats = { connections: 0, accepted: 0, refused: 0 };
  readonly #config: ListenerConfig;
  readonly #accept: AcceptConnection;
  readonly #logger: Logger;
  readonly #sockets = new Set<Socket>();
  #server: AnyServer | undefined;
  #wss: WebSocketServer | undefined;
  #closed: Promise<void> | undefined;

  constructor(config: ListenerConfig, accept: AcceptConnection, logger: Logger) {
    this.name = config.name;
    this.protocol = config.protocol;
    this.loopbackOnly = isLoopbackHost(config.host);
    this.#config = config;
    this.#accept = accept;
    this.#logger = logger.child({ listener: config.name });
  }

  async listen(): Promise<void> {
    const server = await this.#createServer();
    this.#server = server;
    // Counted on the raw TCP connection, before any TLS or HTTP work is spent on it.
    server.on('connection', (socket: Socket) => this.#onTcpConnection(socket));
    server.on('error', (err: Error) => this.#logger.error({ err }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host: this.#config.host, port: this.#config.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
  }

  address(): { host: string; port: number } {
    const address = this.#server?.address();
    if (!address || typeof address === 'string') return { host: this.#config.host, port: this.#config.port };
    return { host: address.address, port: address.port };
  }

  url(): string {
    const { host, port } = this.address();
    const path = this.protocol === 'ws' || this.protocol === 'wss' ? this.#wsPath() : '';
    return `${this.protocol}://${formatHost(host)}:${port}${path}`;
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const server = this.#server;
      if (!server) {
        resolve();
        return;
      }
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#wss?.close();
      const destroyAll = () => {
        for (const socket of this.#sockets) socket.destroy();
      };
      // Connections being closed by the broker get a moment to flush their last packets.
      const timer = setTimeout(destroyAll, options.graceMs ?? 0);
      if ((options.graceMs ?? 0) === 0) destroyAll();
    });
    return this.#closed;
  }

  async reloadTls(tls: TlsFiles): Promise<void> {
    const server = this.#server;
    if (!server || !('setSecureContext' in server)) throw new Error(`listener ${this.name} does not use TLS`);
    const context = await readTlsContext(tls);
    server.setSecureContext(context);
    this.#logger.info('TLS certificates reloaded');
  }

  #wsPath(): string {
    return this.#config.ws?.path ?? '/mqtt';
  }

  async #createServer(): Promise<AnyServer> {
    const handshakeTimeout = this.#config.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    switch (this.protocol) {
      case 'mqtt':
        return createNetServer({ noDelay: true }, (socket) => this.#handOver(socket, socket));
      case 'mqtts': {
        const tls = this.#requireTls();
        const server = createTlsServer({ ...(await this.#tlsOptions(tls)), handshakeTimeout, noDelay: true });
        server.on('secureConnection', (socket: TLSSocket) => this.#handOver(socket, socket, this.#commonName(socket)));
        server.on('tlsClientError', (err: Error, socket: TLSSocket) => this.#onHandshakeError(err, socket));
        return server;
      }
      case 'ws': {
        const server = createHttpServer({ noDelay: true, requestTimeout: handshakeTimeout });
        server.headersTimeout = handshakeTimeout;
        this.#attachWebSocket(server);
        return server;
      }
      case 'wss': {
        const tls = this.#requireTls();
        const server = createHttpsServer({
          ...(await this.#tlsOptions(tls)),
          handshakeTimeout,
          noDelay: true,
          requestTimeout: handshakeTimeout,
        });
        server.headersTimeout = handshakeTimeout;
        server.on('tlsClientError', (err: Error, socket: TLSSocket) => this.#onHandshakeError(err, socket));
        this.#attachWebSocket(server);
        return server;
      }
    }
  }

  #requireTls(): TlsFiles {
    const tls = this.#config.tls;
    if (!tls) throw new Error(`listener ${this.name}: protocol ${this.protocol} needs tls.cert and tls.key`);
    return tls;
  }

  async #tlsOptions(tls: TlsFiles) {
    const context = await readTlsContext(tls);
    const askForCertificate = tls.requireClientCert === true || tls.useCertificateCnAsUsername === true;
    return { ...context, requestCert: askForCertificate, rejectUnauthorized: tls.requireClientCert === true };
  }

  #commonName(socket: TLSSocket): string | undefined {
    const tls = this.#config.tls;
    if (!tls?.requireClientCert && !tls?.useCertificateCnAsUsername) return undefined;
    return verifiedCommonName(socket);
  }

  #onTcpConnection(socket: Socket): void {
    // Errors such as ECONNRESET are routine on the internet; they must never reach the process.
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.#logger.debug({ err: err.code ?? err.message }, 'socket error'),
    );
    const max = this.#config.maxConnections;
    if (max !== undefined && this.stats.connections >= max) {
      this.stats.refused++;
      this.#logger.warn(
        { remoteAddress: socket.remoteAddress, maxConnections: max },
        'connection refused: listener full',
      );
      socket.destroy();
      return;
    }
    this.stats.connections++;
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.stats.connections--;
      this.#sockets.delete(socket);
    });
  }

  #onHandshakeError(err: Error, socket: TLSSocket): void {
    this.#logger.info({ remoteAddress: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
    socket.destroy();
  }

  #attachWebSocket(server: HttpServer | HttpsServer): void {
    const path = this.#wsPath();
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.#config.ws?.maxPayload ?? DEFAULT_WS_MAX_PAYLOAD,
      handleProtocols: (protocols) => {
        for (const protocol of protocols) if (MQTT_SUBPROTOCOLS.has(protocol)) return protocol;
        return false;
      },
    });
    this.#wss = wss;
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`MQTT over WebSocket: connect to ${path}\n`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path) {
        rejectUpgrade(socket, 404, 'Not Found');
        return;
      }
      const offered = req.headers['sec-websocket-protocol'];
      if (offered !== undefined) {
        const names = offered.split(',').map((p) => p.trim());
        if (!names.some((name) => MQTT_SUBPROTOCOLS.has(name))) {
          rejectUpgrade(socket, 400, 'Bad Request');
          return;
        }
      }
      wss.handleUpgrade(req, socket, head, (webSocket) => {
        const tcp = req.socket as Socket;
        const stream = new WebSocketStream(webSocket);
        const commonName = this.protocol === 'wss' ? this.#commonName(req.socket as TLSSocket) : undefined;
        this.#handOver(stream, tcp, commonName);
      });
    });
  }

  #handOver(stream: Duplex, socket: Socket, certificateCommonName?: string): void {
    if (socket.destroyed) return;
    // TLS sockets and WebSocket streams are new objects over the TCP socket: they need their own guard.
    if (stream.listenerCount('error') === 0) {
      stream.on('error', (err: Error) => this.#logger.debug({ err: err.message }, 'stream error'));
    }
    this.stats.accepted++;
    const meta: ConnectionMeta = { listener: this.name, loopbackOnly: this.loopbackOnly };
    if (socket.remoteAddress !== undefined) meta.remoteAddress = socket.remoteAddress;
    if (certificateCommonName !== undefined) meta.certificateCommonName = certificateCommonName;
    this.#accept(stream, meta);
  }
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
