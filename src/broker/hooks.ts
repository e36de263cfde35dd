// Hooks (STYLE.md 8): optional methods, one event object each. Hooks that decide return their decision;
// hooks that observe return nothing. onPublish runs on the hot path for every inbound message: keep it
// synchronous and cheap.

import type { Properties, ProtocolVersion, QoS, Subscription } from '../protocol/packets.js';

/** Who a hook event is about. */
export interface HookClient {
  clientId: string;
  username?: string;
  protocolVersion: ProtocolVersion;
  remoteAddress?: string;
  listener?: string;
}

export interface ConnectEvent {
  client: HookClient;
  sessionPresent: boolean;
  cleanStart: boolean;
  keepAlive: number;
}

/** A message a client published, before it is routed. The hook may change the fields in place. */
export interface PublishEvent {
  /** Undefined for messages published by the embedding application or a will. */
  client: HookClient | undefined;
  message: {
    topic: string;
    payload: Buffer;
    qos: QoS;
    retain: boolean;
    properties?: Properties;
  };
}

/** Returned by onPublish to refuse a message: an MQTT 5 PUBACK/PUBREC reason code (e.g. 0x87, 0x97, 0x99). */
export interface PublishRefusal {
  reasonCode: number;
  reasonString?: string;
}

export interface PublishedEvent {
  client: HookClient | undefined;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: Properties;
  /** How many sessions the message was delivered or queued to. */
  deliveries: number;
}

export interface SubscribeEvent {
  client: HookClient;
  subscription: Subscription;
  subscriptionIdentifier?: number;
}

export interface DisconnectEvent {
  client: HookClient;
  /** The reason code of the DISCONNECT the client sent or the broker sent, or undefined for a dropped connection. */
  reasonCode: number | undefined;
  /** Whether the will (if any) is published now or after its delay. */
  willPending: boolean;
}

/** One step of enhanced authentication (MQTT 5 section 4.12). */
export interface AuthEvent {
  client: HookClient;
  /** Authentication Method from CONNECT (stays the same for the whole exchange). */
  method: string;
  /** Authentication Data of the CONNECT or AUTH packet. */
  data: Buffer | undefined;
  /** 'connect' for the CONNECT, 'continue' for an AUTH 0x18 reply, 'reauthenticate' for an AUTH 0x19. */
  step: 'connect' | 'continue' | 'reauthenticate';
  username?: string;
  password?: Buffer;
}

export type AuthResult =
  /** Send AUTH 0x18 with this data and wait for the client's next AUTH. */
  | { action: 'continue'; data?: Buffer }
  /** Authentication succeeded: CONNACK (or AUTH 0x00 on re-authentication) carries this data. */
  | { action: 'success'; data?: Buffer; username?: string }
  /** Refused with this reason code (default 0x87). */
  | { action: 'fail'; reasonCode?: number };

export interface BrokerHooks {
  /** After CONNACK was sent. */
  onConnect?(event: ConnectEvent): void;
  /** Before routing; change event.message in place, or return a refusal. Synchronous, hot path. */
  onPublish?(event: PublishEvent): PublishRefusal | undefined | undefined;
  /** After routing. Synchronous, hot path: observe only. */
  onPublished?(event: PublishedEvent): void;
  /** Before a subscription is made; return a reason code (e.g. 0x87) to refuse it. */
  onSubscribe?(event: SubscribeEvent): number | undefined | undefined;
  /** When a connection that had been accepted ends. */
  onDisconnect?(event: DisconnectEvent): void;
  /**
   * Enhanced authentication. Without this hook every CONNECT with an Authentication Method gets CONNACK 0x8C.
   * Return undefined (or a fail) for methods you do not support.
   */
  onAuth?(event: AuthEvent): AuthResult | undefined | Promise<AuthResult | undefined>;
}
