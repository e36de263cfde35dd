// The persistence interface of the broker. The broker keeps its hot state in memory (connected sessions,
// the subscription tree, the retained tree) and writes through this interface what must survive a restart.
//
// Writes are synchronous calls that join the current batch; `commit()` returns a promise that resolves once
// every write issued before the call is durable (one transaction on LMDB, at once in memory). So the broker
// can route a QoS 1 PUBLISH to a thousand persistent sessions and await a single commit before its PUBACK
// (DESIGN.md, Durability). A failed commit rejects the commit promise; writes never throw for I/O reasons.
//
// Reads are async. All times are ABSOLUTE milliseconds since the epoch, so a restart needs no clock state.

import type { Properties, ProtocolVersion, QoS, RetainHandling } from '../protocol/packets.js';

/** An application message as stored: retained, queued for an offline subscriber or in flight. */
export interface StoredMessage {
  topic: string;
  /** Owned by the store once written: callers never mutate it afterwards. */
  payload: Buffer;
  /** QoS the message was published with (for a queued or in-flight message: the QoS it is delivered at). */
  qos: QoS;
  retain: boolean;
  /** MQTT 5 properties as published (message expiry is kept in `expiresAt`, not here). */
  properties?: Properties;
  /** Absolute Message Expiry deadline; absent = never expires. */
  expiresAt?: number;
}

/** A will message with its absolute delay deadline. */
export interface StoredWill extends StoredMessage {
  /** Will Delay Interval in seconds, as the client gave it (0 when absent). */
  delayInterval: number;
}

export interface SessionRecord {
  clientId: string;
  protocolVersion: ProtocolVersion;
  /** Session Expiry Interval in seconds as negotiated; 0xFFFFFFFF = never. */
  expiryInterval: number;
  /**
   * Absolute deadline after which the session is discarded; absent while the client is connected
   * (the deadline starts at disconnect) or when it never expires.
   */
  expiresAt?: number;
  username?: string;
  /**
   * The will of the current connection (so that a crash publishes it after a restart), or of the last one
   * while its delay runs after an abnormal disconnect.
   */
  will?: StoredWill;
  /** Absolute time the pending will is due (set when the connection ended without a normal DISCONNECT). */
  willAt?: number;
}

export interface SubscriptionRecord {
  /** The filter as subscribed, including any `$share/{group}/` prefix. */
  topicFilter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: RetainHandling;
  /** MQTT 5 Subscription Identifier, 1..268,435,455. */
  subscriptionIdentifier?: number;
}

/** A message waiting in a session's outbound queue. */
export interface QueuedMessage extends StoredMessage {
  /** Position in the session's queue; strictly increasing per session. */
  seq: number;
  /** Subscription identifiers to attach on delivery (MQTT 5). */
  subscriptionIdentifiers?: number[];
}

/** Outbound QoS 1/2 flow states (STYLE.md 11). */
export type InflightState = 'awaitPuback' | 'awaitPubrec' | 'awaitPubcomp';

/** An outbound QoS 1/2 message sent (or about to be) with a packet identifier. */
export interface InflightRecord {
  packetId: number;
  /** Order of first transmission, strictly increasing per session (packet ids wrap, this does not). */
  seq: number;
  state: InflightState;
  /** QoS the message is delivered at (min of published and granted), 1 or 2. */
  qos: QoS;
  /** RETAIN flag it is delivered with. */
  retain: boolean;
  /** The message as published (its own qos and retain); absent in 'awaitPubcomp' (only the identifier matters then). */
  message?: StoredMessage;
  subscriptionIdentifiers?: number[];
}

export interface Store {
  /** Open files, create tables. Called once by Broker.start(). */
  open(): Promise<void>;
  /** Commit what is pending and release resources. */
  close(): Promise<void>;
  /** Resolves when every write issued before this call is durable. */
  commit(): Promise<void>;

  // Sessions: small records, all read at start.
  loadSessions(): Promise<SessionRecord[]>;
  getSession(clientId: string): Promise<SessionRecord | undefined>;
  putSession(record: SessionRecord): void;
  /** Removes the session and everything it owns: subscriptions, queue, in-flight and inbound QoS 2 ids. */
  deleteSession(clientId: string): void;

  // Subscriptions, per session, keyed by topic filter (a put replaces).
  getSubscriptions(clientId: string): Promise<SubscriptionRecord[]>;
  putSubscription(clientId: string, subscription: SubscriptionRecord): void;
  deleteSubscription(clientId: string, topicFilter: string): void;

  // Outbound queue, ordered by seq.
  enqueue(clientId: string, message: QueuedMessage): void;
  /** Up to `limit` queued messages with seq >= fromSeq, in seq order. */
  readQueue(clientId: string, fromSeq: number, limit: number): Promise<QueuedMessage[]>;
  /** Removes one queued message (delivered, expired or dropped). */
  dequeue(clientId: string, seq: number): void;
  /**
   * The highest seq in the client's queue (0 when empty). A restored session numbers what it queues next after it,
   * whatever the clock says: a clock set back must not make a new message take the place of a stored one.
   */
  lastQueuedSeq(clientId: string): Promise<number>;

  // Outbound in-flight messages, keyed by packet id (a put replaces, e.g. on a state change).
  putInflight(clientId: string, record: InflightRecord): void;
  deleteInflight(clientId: string, packetId: number): void;
  /** Ordered by seq (the order they were first sent). */
  getInflight(clientId: string): Promise<InflightRecord[]>;

  // Inbound QoS 2 packet identifiers received and PUBREC'd, awaiting PUBREL.
  putIncomingQos2(clientId: string, packetId: number): void;
  deleteIncomingQos2(clientId: string, packetId: number): void;
  getIncomingQos2(clientId: string): Promise<number[]>;

  // Retained messages by topic name; all loaded at start into the broker's retained tree.
  putRetained(message: StoredMessage): void;
  deleteRetained(topic: string): void;
  loadRetained(): Promise<StoredMessage[]>;
}
