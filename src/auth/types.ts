import type { QoS } from '../protocol/packets.js';

/** What the broker knows about a connecting client when it asks to authenticate it. */
export interface ConnectionInfo {
  clientId: string;
  /** Remote address of the network connection, if any (in-memory streams have none). */
  remoteAddress?: string;
  /** Name of the listener the connection arrived on (e.g. 'default', 'tls', 'ws'). */
  listener?: string;
  /** True when the listener only accepts loopback connections. */
  loopbackOnly?: boolean;
  /** Common name of the verified TLS client certificate, if any. */
  certificateCommonName?: string;
  protocolVersion: 3 | 4 | 5;
}

export interface AuthenticateRequest extends ConnectionInfo {
  username?: string;
  password?: Buffer;
}

export type AuthenticateResult =
  /** Accepted. `username` may replace the one the client gave (e.g. a certificate's CN). */
  | { ok: true; username?: string }
  /** Refused with an MQTT 5 CONNACK reason code (0x86 bad credentials, 0x87 not authorized, 0x8A banned, ...). */
  | { ok: false; reasonCode: number };

/** Decides who may connect. */
export interface Authenticator {
  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult>;
}

/** The authenticated client an authorization decision is about. */
export interface ClientIdentity {
  clientId: string;
  username?: string;
}

/** Decides what an authenticated client may do. Called on the hot path: keep it synchronous and cheap. */
export interface Authorizer {
  /** May the client publish to this topic? */
  canPublish(client: ClientIdentity, topic: string, qos: QoS, retain: boolean): boolean;
  /** May the client subscribe to this filter (without any $share/group/ prefix)? */
  canSubscribe(client: ClientIdentity, topicFilter: string, qos: QoS): boolean;
  /** May the client receive a message on this topic (checked on delivery, wildcard and retained included)? */
  canRead(client: ClientIdentity, topic: string): boolean;
}

/** The default authenticator: anonymous and any credentials are accepted. */
export const allowAllAuthenticator: Authenticator = {
  authenticate: () => ({ ok: true }),
};

/** The default authorizer: everything allowed, except that clients cannot publish to $SYS (the broker checks that itself). */
export const allowAllAuthorizer: Authorizer = {
  canPublish: () => true,
  canSubscribe: () => true,
  canRead: () => true,
};
