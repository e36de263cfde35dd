// The byte pipe under the client. The core speaks only to this interface; the Node transports
// (TCP, TLS, ws) live in transport-node.ts and the browser's WebSocket in transport-websocket.ts,
// and each entry point (index.ts for Node, browser.ts) picks its own, so a browser bundle never
// pulls in a `node:` module of ours.

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
