// The byte pipe under the client. The core speaks only to this interface; the Node transports
// (TCP, TLS, ws) live in transport-node.ts and the browser's WebSocket in transport-websocket.ts,
// so a browser bundle never pulls in a `node:` module.

import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';

export type TransportProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';

export interface TlsOptions {
  /** Trusted CA certificate(s), PEM. */
  ca?: string | Uint8Array | (string | Uint8Array)[];
  /** Client certificate chain, PEM (mutual TLS). */
  cert?: string | Uint8Array;
  /** Client private key, PEM. */
  key?: string | Uint8Array;
  /** Verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** Check that the certificate names the host (default true); false still verifies the chain. */
  verifyHostname?: boolean;
  /** SNI and certificate host name; defaults to the URL's host when it is a name. */
  servername?: string;
}

export interface TransportTarget {
  protocol: TransportProtocol;
  host: string;
  port: number;
  /** WebSocket path, '/mqtt' by default. */
  path: string;
  tls?: TlsOptions;
  /** Milliseconds to wait for the connection (TCP, TLS or WebSocket handshake) to open. */
  connectTimeout: number;
}

export interface TransportHandlers {
  /** Bytes from the server, of any chunking. */
  onData(chunk: Buffer): void;
  /** The connection is gone; called once, with the cause when it was not a clean close. */
  onClose(error?: Error): void;
  /** The transport takes more again after write() returned false. */
  onDrain?(): void;
}

export interface Transport {
  /**
   * Writes several packets at once (one syscall or one WebSocket frame where the transport can).
   * Returns false when its buffer is full; onDrain follows when it has room again.
   */
  write(chunks: Buffer[]): boolean;
  /** Closes after the written bytes are flushed. */
  end(): void;
  /** Closes now. */
  destroy(): void;
}

/** Opens a connection; resolves once it can carry bytes. */
export type TransportFactory = (target: TransportTarget, handlers: TransportHandlers) => Promise<Transport>;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * TCP, TLS and the `ws` package in Node; the global WebSocket elsewhere. The Node module is loaded
 * lazily so that bundlers can leave it out of a browser build.
 */
export const defaultTransportFactory: TransportFactory = async (target, handlers) => {
  if (isNode()) {
    const node = await import('./transport-node.js');
    return node.openNodeTransport(target, handlers);
  }
  if (target.protocol === 'mqtt' || target.protocol === 'mqtts') {
    throw new MqttError(
      ReasonCode.ImplementationSpecificError,
      `${target.protocol}:// needs a TCP socket; in a browser use ws:// or wss://`,
    );
  }
  const WebSocketClass = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WebSocketClass) {
    throw new MqttError(ReasonCode.ImplementationSpecificError, 'no WebSocket implementation in this environment');
  }
  const web = await import('./transport-websocket.js');
  return web.openWebSocketTransport(target, handlers, WebSocketClass);
};
