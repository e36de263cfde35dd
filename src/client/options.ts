import { MqttError } from '../protocol/errors.js';
import type { Properties, ProtocolVersion, QoS, UserProperty } from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { ReconnectOptions } from './backoff.js';
import type { RetryInitialConnectOptions } from './initial-connect.js';
import type { TlsOptions, TransportFactory, TransportProtocol, TransportTarget } from './transport.js';

export type Payload = string | Uint8Array;

export interface WillOptions {
  topic: string;
  payload: Payload;
  qos?: QoS;
  retain?: boolean;
  /** MQTT 5 will properties: willDelayInterval, messageExpiryInterval, contentType, userProperties, ... */
  properties?: Properties;
}

/** What the client passes to `onAuth` during MQTT 5 enhanced authentication (section 4.12). */
export interface AuthChallenge {
  method: string;
  /** Authentication data from the server's AUTH packet, if any. */
  data: Buffer | undefined;
  /** 0x18 Continue authentication, or 0x19 Re-authenticate. */
  reasonCode: number;
}

export interface ClientOptions {
  /** 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0 (default). */
  protocolVersion?: ProtocolVersion;
  /** Defaults to a random 'starling-…' identifier. */
  clientId?: string;
  /** Clean Session (3.1.1) / Clean Start (5.0) on the first connection; default true. */
  clean?: boolean;
  /** Seconds; 0 disables keep-alive. Default 60. */
  keepalive?: number;
  username?: string;
  password?: Payload;
  will?: WillOptions;
  /** MQTT 5: seconds the server keeps the session after the connection closes. */
  sessionExpiryInterval?: number;
  /** MQTT 5: how many QoS 1/2 messages the server may have in flight towards us. */
  receiveMaximum?: number;
  /** Largest packet we accept; announced to MQTT 5 servers and enforced by the decoder. */
  maximumPacketSize?: number;
  /** MQTT 5: how many topic aliases the server may use towards us (default 0). */
  topicAliasMaximum?: number;
  /** MQTT 5: assign topic aliases to outgoing publishes, up to the server's maximum (default true). */
  autoTopicAlias?: boolean;
  /** MQTT 5 CONNECT user properties. */
  userProperties?: UserProperty[] | Record<string, string>;
  requestResponseInformation?: boolean;
  requestProblemInformation?: boolean;
  /** MQTT 5 enhanced authentication method; `onAuth` answers the server's challenges. */
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  onAuth?: (challenge: AuthChallenge) => Promise<Uint8Array | undefined> | Uint8Array | undefined;
  tls?: TlsOptions;
  /** WebSocket path when the URL has none; default '/mqtt'. */
  wsPath?: string;
  /** Milliseconds from opening the connection to CONNACK; default 30000. */
  connectTimeout?: number;
  /** Reconnect policy; `false` turns reconnecting off. */
  reconnect?: ReconnectOptions | false;
  /**
   * Keep retrying the first connection with the reconnect backoff until it succeeds, `end()` is
   * called, or the limits given here run out; refusals that retrying cannot fix (credentials, not
   * authorized, client id, protocol version, ...) and TLS certificate failures end it at once.
   * Default: on, without limits, unless `reconnect` is false. `false`: connect() rejects on the first failure.
   */
  retryInitialConnect?: boolean | RetryInitialConnectOptions;
  /** QoS 0/1/2 publishes kept while offline or waiting for send quota; beyond it publish rejects. Default 1000. */
  maxQueuedMessages?: number;
  /** Default bound of each `messages()` iterator's buffer; the oldest message is dropped beyond it. Default 1000. */
  messageBufferSize?: number;
  /** Prefix of the response topic `request()` listens on, when the server gives no Response Information. */
  responseTopicPrefix?: string;
  /** Default timeout of `request()` in milliseconds; default 30000. */
  requestTimeout?: number;
  transport?: TransportFactory;
  clock?: Clock;
  logger?: Logger;
  /** Random numbers in [0, 1) for client ids and jitter; injectable for tests. */
  random?: () => number;
}

const defaultPorts: Record<TransportProtocol, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

/** Parses mqtt://, mqtts://, ws:// and wss:// URLs (tcp:// and ssl:// / tls:// are accepted as aliases). */
export function parseUrl(
  url: string,
  options: Pick<ClientOptions, 'tls' | 'wsPath' | 'connectTimeout'> = {},
): TransportTarget & { username?: string; password?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new MqttError(ReasonCode.ImplementationSpecificError, `invalid broker URL '${url}'`, { cause });
  }
  const scheme = parsed.protocol.slice(0, -1);
  const aliases: Record<string, TransportProtocol> = {
    mqtt: 'mqtt',
    tcp: 'mqtt',
    mqtts: 'mqtts',
    ssl: 'mqtts',
    tls: 'mqtts',
    ws: 'ws',
    wss: 'wss',
  };
  const protocol = aliases[scheme];
  if (!protocol) {
    throw new MqttError(
      ReasonCode.ImplementationSpecificError,
      `unsupported URL scheme '${scheme}:' (use mqtt, mqtts, ws or wss)`,
    );
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  const port = parsed.port ? Number(parsed.port) : defaultPorts[protocol];
  const isWs = protocol === 'ws' || protocol === 'wss';
  const path = isWs && parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : (options.wsPath ?? '/mqtt');
  const target: TransportTarget & { username?: string; password?: string } = {
    protocol,
    host,
    port,
    path,
    connectTimeout: options.connectTimeout ?? 30_000,
  };
  if (options.tls) target.tls = options.tls;
  if (parsed.username) target.username = decodeURIComponent(parsed.username);
  if (parsed.password) target.password = decodeURIComponent(parsed.password);
  return target;
}
