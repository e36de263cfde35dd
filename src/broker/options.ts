import type { Authenticator, Authorizer } from '../auth/types.js';
import type { ProtocolVersion, QoS } from '../protocol/packets.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { BrokerHooks, PublishedEvent } from './hooks.js';

export interface ConnectionMeta {
  remoteAddress?: string;
  listener?: string;
  loopbackOnly?: boolean;
  certificateCommonName?: string;
}

export interface BrokerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Persistence; default a new MemoryStore. */
  store?: Store;
  authenticator?: Authenticator;
  authorizer?: Authorizer;
  hooks?: BrokerHooks;
  /** Anonymous clients (no username) are accepted only on loopbackOnly connections unless true. Default false. */
  allowAnonymous?: boolean;
  /** Largest packet accepted from clients, and announced as Maximum Packet Size. Default 4 MiB. */
  maxPacketSize?: number;
  /**
   * Largest first packet (CONNECT) accepted, before the client is authenticated: a connection cannot make the
   * broker hold more than this until it has proved who it is. Default 64 KiB (client id, credentials and a will).
   */
  maxConnectPacketSize?: number;
  /** Server Keep Alive cap in seconds. Default 65535 (no cap). */
  maxKeepAlive?: number;
  /** Milliseconds a connection may take to send CONNECT. Default 10000. */
  connectTimeoutMs?: number;
  /** Receive Maximum announced to clients (inbound QoS 1/2 in flight per connection). Default 65535. */
  receiveMaximum?: number;
  /**
   * Topic Alias Maximum announced to clients. Default 256: each alias may hold a topic of up to 64 KiB for the
   * life of the connection, so this bounds what one connection can make the broker keep.
   */
  topicAliasMaximum?: number;
  /**
   * Outbound in-flight cap per session, whatever the client's Receive Maximum. Default 65535: a burst to a fast
   * subscriber is not dropped; what a client that never acknowledges can pin is bounded by maxQueuedBytes, which
   * also bounds the bytes of the in-flight window.
   */
  maxInflight?: number;
  /** Queued messages per session. Default 1000. */
  maxQueuedMessages?: number;
  /**
   * Bytes of the messages a session queues, and separately of those it has in flight (beyond, they wait in the
   * queue). Default 64 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * PUBLISH packets per second a client may send; beyond it the broker stops reading its socket until the rate
   * allows (TCP pushes back on the publisher, nothing is lost). A burst of one second's worth passes. 0 = no
   * limit (default).
   */
  maxPublishRate?: number;
  /** Bytes per second a client may send; beyond it reading pauses the same way. 0 = no limit (default). */
  maxBytesPerSecond?: number;
  /** Subscriptions a session may hold; more get SUBACK 0x97 Quota exceeded (3.1.1: 0x80). Default 10,000. */
  maxSubscriptionsPerClient?: number;
  /**
   * Characters in a topic name or filter. Longer: PUBLISH QoS 1/2 gets PUBACK/PUBREC 0x90, QoS 0 DISCONNECT 0x90
   * (3.1.1: the connection is closed), a filter SUBACK 0x8F (3.1.1: 0x80), a will CONNACK 0x90. Default 65535.
   */
  maxTopicLength?: number;
  /** Levels in a topic name or filter, refused like maxTopicLength. Default 128. */
  maxTopicLevels?: number;
  /** Retained messages the broker keeps; a new retained topic beyond it is refused (see below). Default 1,000,000. */
  maxRetainedMessages?: number;
  /**
   * Bytes of retained messages kept. Beyond either limit a retained PUBLISH gets PUBACK/PUBREC 0x97 Quota exceeded
   * on MQTT 5 and is not routed; a 3.1.1 one is routed but not retained. Both counted in stats.retainedRefused.
   * Default 1 GiB.
   */
  maxRetainedBytes?: number;
  /** Sessions that outlive their connection; a CONNECT that would start one more gets CONNACK 0x97. Default 1,000,000. */
  maxSessions?: number;
  /** Characters in a client identifier; longer gets CONNACK 0x85 (3.1.1: 0x02). Default 1024. */
  maxClientIdLength?: number;
  /** Queue QoS 0 messages for offline persistent sessions. Default false. */
  queueQos0Offline?: boolean;
  /** Cap on the Session Expiry Interval a client may ask for, seconds. Default 0xFFFFFFFF (none). */
  maxSessionExpiryInterval?: number;
  /** Default true. */
  retainAvailable?: boolean;
  /** Wildcard subscriptions; when false, filters with + or # get SUBACK 0xA2. Default true. */
  wildcardSubscriptionAvailable?: boolean;
  /** Subscription Identifiers; when false, a SUBSCRIBE carrying one gets SUBACK 0xA1. Default true. */
  subscriptionIdentifiersAvailable?: boolean;
  /** Shared subscriptions; when false, $share/ filters get SUBACK 0x9E. Default true. */
  sharedSubscriptionAvailable?: boolean;
  /** Maximum QoS granted. Default 2. */
  maximumQoS?: QoS;
  /** $SYS period in seconds; 0 turns $SYS off. Default 10. */
  sysIntervalSeconds?: number;
  /** Bytes a connection may have waiting in its socket before deliveries queue (QoS 1/2) or drop (QoS 0). Default 1 MiB. */
  maxWriteBufferBytes?: number;
  /** Response Information prefix sent when a client requests it; the client id is appended. Default 'response/'. */
  responseInformationPrefix?: string;
  version?: string;
}

/** The options with their defaults applied. */
export interface BrokerConfig {
  allowAnonymous: boolean;
  maxPacketSize: number;
  maxConnectPacketSize: number;
  maxKeepAlive: number;
  connectTimeoutMs: number;
  receiveMaximum: number;
  topicAliasMaximum: number;
  maxInflight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  queueQos0Offline: boolean;
  maxPublishRate: number;
  maxRetainedMessages: number;
  maxRetainedBytes: number;
  maxSessions: number;
  maxClientIdLength: number;
  maxBytesPerSecond: number;
  maxSubscriptionsPerClient: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  maxSessionExpiryInterval: number;
  retainAvailable: boolean;
  wildcardSubscriptionAvailable: boolean;
  subscriptionIdentifiersAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
  maximumQoS: QoS;
  sysIntervalSeconds: number;
  maxWriteBufferBytes: number;
  responseInformationPrefix: string;
  version: string;
}

export interface ClientInfo {
  clientId: string;
  username?: string;
  protocolVersion: ProtocolVersion;
  remoteAddress?: string;
  listener?: string;
}

export type BrokerEvents = {
  clientConnected: [client: ClientInfo & { sessionPresent: boolean }];
  clientDisconnected: [client: ClientInfo & { reasonCode: number | undefined }];
  published: [event: PublishedEvent];
  subscribed: [event: { clientId: string; topicFilter: string; qos: QoS }];
  sessionExpired: [clientId: string];
  error: [error: Error];
};

const NEVER = 0xffffffff;

/** The options with their defaults applied. */
export function resolveConfig(options: BrokerOptions): BrokerConfig {
  return {
    allowAnonymous: options.allowAnonymous ?? false,
    maxPacketSize: options.maxPacketSize ?? 4 * 1024 * 1024,
    maxConnectPacketSize: options.maxConnectPacketSize ?? 64 * 1024,
    maxKeepAlive: options.maxKeepAlive ?? 65535,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    receiveMaximum: options.receiveMaximum ?? 65535,
    topicAliasMaximum: options.topicAliasMaximum ?? 256,
    maxInflight: options.maxInflight ?? 65535,
    maxQueuedMessages: options.maxQueuedMessages ?? 1000,
    maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
    queueQos0Offline: options.queueQos0Offline ?? false,
    maxPublishRate: options.maxPublishRate ?? 0,
    maxRetainedMessages: options.maxRetainedMessages ?? 1_000_000,
    maxRetainedBytes: options.maxRetainedBytes ?? 1024 * 1024 * 1024,
    maxSessions: options.maxSessions ?? 1_000_000,
    maxClientIdLength: options.maxClientIdLength ?? 1024,
    maxBytesPerSecond: options.maxBytesPerSecond ?? 0,
    maxSubscriptionsPerClient: options.maxSubscriptionsPerClient ?? 10_000,
    maxTopicLength: options.maxTopicLength ?? 65535,
    maxTopicLevels: options.maxTopicLevels ?? 128,
    maxSessionExpiryInterval: options.maxSessionExpiryInterval ?? NEVER,
    retainAvailable: options.retainAvailable ?? true,
    wildcardSubscriptionAvailable: options.wildcardSubscriptionAvailable ?? true,
    subscriptionIdentifiersAvailable: options.subscriptionIdentifiersAvailable ?? true,
    sharedSubscriptionAvailable: options.sharedSubscriptionAvailable ?? true,
    maximumQoS: options.maximumQoS ?? 2,
    sysIntervalSeconds: options.sysIntervalSeconds ?? 10,
    maxWriteBufferBytes: options.maxWriteBufferBytes ?? 1024 * 1024,
    responseInformationPrefix: options.responseInformationPrefix ?? 'response/',
    version: options.version ?? '0.1.0',
  };
}
