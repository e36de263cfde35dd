import type { Duplex } from 'node:stream';

/**
 * What a listener knows about a connection it hands over. Structurally the same as the broker's
 * ConnectionMeta: transports know nothing of MQTT, so they do not import the broker.
 */
export interface ConnectionMeta {
  remoteAddress?: string;
  /** Name of the listener the connection arrived on. */
  listener?: string;
  /** True when the listener is bound to a loopback address only (127.x, ::1, localhost). */
  loopbackOnly?: boolean;
  /** Common name of the verified TLS client certificate, if any. */
  certificateCommonName?: string;
}

export type ListenerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';

/** TLS material, as file paths (PEM). Read at start and again on reloadTls(). */
export interface TlsFiles {
  cert: string;
  key: string;
  /** CA bundle that client certificates are verified against. */
  ca?: string;
  /** Mutual TLS: refuse clients without a certificate signed by `ca`. */
  requireClientCert?: boolean;
  /** Ask for a client certificate and report its CN (meta.certificateCommonName) when it verifies. */
  useCertificateCnAsUsername?: boolean;
}

export interface ListenerConfig {
  name: string;
  host: string;
  /** 0 picks an ephemeral port; address() tells which. */
  port: number;
  protocol: ListenerProtocol;
  /** Required for mqtts and wss. */
  tls?: TlsFiles;
  /**
   * WebSocket options, for ws and wss. `maxPayload`: the largest WebSocket message accepted, in bytes; a larger one
   * closes the connection with 1009 (Message Too Big) before it is buffered whole. Default 268,435,460.
   */
  ws?: { path?: string; maxPayload?: number };
  /** Connections beyond this many are closed at once (and counted in stats.refused). */
  maxConnections?: number;
  /** Milliseconds a connection may take for its TLS handshake or WebSocket upgrade. Default 10000. */
  handshakeTimeoutMs?: number;
}

/** Called once per accepted connection with the byte stream to serve. */
export type AcceptConnection = (stream: Duplex, meta: ConnectionMeta) => void;

export interface ListenerStats {
  /** Open network connections right now. */
  connections: number;
  /** Connections handed to accept() since start. */
  accepted: number;
  /** Connections closed at once because maxConnections was reached. */
  refused: number;
}

export interface Listener {
  readonly name: string;
  readonly protocol: ListenerProtocol;
  /** True when bound to a loopback address only. */
  readonly loopbackOnly: boolean;
  readonly stats: ListenerStats;
  /** The bound address (the real port when configured with port 0). */
  address(): { host: string; port: number };
  /** A URL for logs and users, e.g. mqtt://127.0.0.1:1883 or ws://127.0.0.1:8080/mqtt. */
  url(): string;
  /**
   * Stop accepting, then close every connection still open after `graceMs` (default 0), giving
   * connections that are already closing time to flush their last packets.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /**
   * Re-read certificate, key and CA and use them for new connections (open ones keep theirs).
   * Throws, leaving the old ones in force, when the files cannot be read or do not form a valid context.
   */
  reloadTls?(tls: TlsFiles): Promise<void>;
}
