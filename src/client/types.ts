// The client's public types: messages, options of each call, events.

import type { DisconnectPacket, Properties, QoS, RetainHandling } from '../protocol/packets.js';

/** A message received from the server. The payload is the client's own copy. */
export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** The packet identifier it arrived with (QoS 1 and 2). */
  packetId?: number;
  /** MQTT 5 properties (the topic alias already resolved into `topic`). */
  properties?: Properties;
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  /** MQTT 5 properties; a `topicAlias` given here is used as is (the topic is still sent). */
  properties?: Properties;
}

export interface SubscribeOptions {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: RetainHandling;
  /** MQTT 5: 1..268,435,455, echoed in the messages this subscription delivers. */
  subscriptionIdentifier?: number;
  /** MQTT 5 SUBSCRIBE properties (user properties). */
  properties?: Properties;
}

export interface UnsubscribeOptions {
  properties?: Properties;
}

export interface EndOptions {
  /** MQTT 5 DISCONNECT reason code (default 0x00; 0x04 asks the server to publish the will). */
  reasonCode?: number;
  /** MQTT 5: a new Session Expiry Interval for the session being left. */
  sessionExpiryInterval?: number;
  properties?: Properties;
}

export interface RequestOptions extends PublishOptions {
  /** Milliseconds to wait for the response (default: the client's requestTimeout). */
  timeout?: number;
}

export interface ConnectInfo {
  sessionPresent: boolean;
  /** CONNACK properties of MQTT 5 servers. */
  properties: Properties;
  /** False for the first connection, true after a reconnect. */
  reconnected: boolean;
}

export type ClientEvents = {
  connect: [info: ConnectInfo];
  message: [message: Message];
  /** A reconnect attempt, or a retry of the first connection, is scheduled after `delay` ms. */
  reconnect: [attempt: number, delay: number];
  /** The connection is lost; the client reconnects unless that is turned off. */
  offline: [error: Error | undefined];
  /** The server sent DISCONNECT (MQTT 5). */
  disconnect: [packet: DisconnectPacket];
  /** A failure not tied to a call (a reconnect attempt or a retried first attempt failed, the server broke the protocol). */
  error: [error: Error];
  /** The client is closed for good. */
  end: [];
};

export type ClientState = 'new' | 'connecting' | 'connected' | 'offline' | 'closed';
