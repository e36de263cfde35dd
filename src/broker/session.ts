import type { ProtocolVersion, QoS, Subscription } from '../protocol/packets.js';
import type {
  InflightRecord,
  InflightState,
  QueuedMessage,
  SessionRecord,
  Store,
  StoredWill,
  SubscriptionRecord,
} from '../store/types.js';
import type { Connection } from './connection.js';
import {
  type AckObligation,
  dropForms,
  fromStored,
  type Message,
  messageBytes,
  obligationOf,
  ownPayload,
  toStored,
} from './message.js';
import type { SharedGroup } from './subscriptions.js';

/** A subscription as the session holds it (the store's record plus what routing needs). */
export interface SessionSubscription extends SubscriptionRecord {
  /** The filter matched against topics: topicFilter without any $share/{group}/ prefix. */
  filter: string;
  /** The share group name for $share subscriptions. */
  group: string | undefined;
}

/** An outbound QoS 1/2 message holding a packet identifier (STYLE.md 11: explicit states). */
export interface InflightEntry {
  packetId: number;
  seq: number;
  state: InflightState;
  qos: QoS;
  retain: boolean;
  message: Message | undefined;
  subscriptionIdentifiers: number[] | undefined;
  /** Set when the message came through a shared subscription: re-delivered to the group if this member leaves. */
  group: SharedGroup | undefined;
  /** The publisher's acknowledgement that waits for this row or for this client's acknowledgement (see AckObligation). */
  obligation: AckObligation | undefined;
}

/** What a session without subscriptions or messages in flight shows: never written to. */
const NONE: ReadonlyMap<never, never> = new Map<never, never>();
const NO_IDS: ReadonlySet<never> = new Set<never>();
/** The queue of every session that has queued nothing (never written: the first push replaces it). */
const NO_ENTRIES: QueueEntry[] = Object.freeze([]) as unknown as QueueEntry[];

/** A message waiting for the session's client (offline, socket full, or Receive Maximum reached). */
export interface QueueEntry {
  seq: number;
  message: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers: number[] | undefined;
  group: SharedGroup | undefined;
}

/**
 * The retained messages matching a new subscription, sent as the socket and Receive Maximum allow [MQTT-3.3.1-9]:
 * the retained tree holds the messages, so the cursor costs a pointer per message and is never dropped for
 * backpressure nor counted in the queue limits.
 */
interface RetainedCursor {
  topicFilter: string;
  messages: Message[];
  next: number;
  qos: QoS;
  subscriptionIdentifiers: number[] | undefined;
}

/** What a session needs from the broker. */
export interface SessionHost {
  readonly store: Store;
  now(): number;
  readonly limits: { maxQueuedMessages: number; maxQueuedBytes: number; queueQos0Offline: boolean };
  /** Counts a message dropped for this session (queue full, expired, too large). */
  dropped(reason: 'queueFull' | 'expired' | 'tooLarge' | 'backpressure'): void;
}

/**
 * State that outlives a network connection (MQTT section 4.1): subscriptions, the outbound in-flight window,
 * the outbound queue, the packet identifier allocator and inbound QoS 2 identifiers awaiting PUBREL.
 */
export class Session {
  readonly clientId: string;
  protocolVersion: ProtocolVersion;
  username: string | undefined;
  /** Session Expiry Interval in seconds; 0 = ends with the connection, 0xFFFFFFFF = never. */
  expiryInterval = 0;
  /** Absolute deadline while disconnected; undefined while connected or never expiring. */
  expiresAt: number | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  connection: Connection | undefined;
  // The collections are created on first use: an idle connection's session holds none of them (issue #7).
  #subscriptions: Map<string, SessionSubscription> | undefined;
  #inflight: Map<number, InflightEntry> | undefined;
  /** Inbound QoS 2 packet ids PUBREC'd and awaiting PUBREL: a repeat is acknowledged, not routed again. */
  #incomingQos2: Set<number> | undefined;
  /** A will waiting for its delay after the connection ended. */
  pendingWill: StoredWill | undefined;
  willTimer: NodeJS.Timeout | undefined;
  /** True once the session has ended; late callbacks check it. */
  ended = false;

  readonly #host: SessionHost;
  #queue: QueueEntry[] = NO_ENTRIES;
  #queueHead = 0;
  #queuedBytes = 0;
  /** Bytes of the messages in the in-flight window, bounded by maxQueuedBytes like the queue's. */
  #inflightBytes = 0;
  #nextPacketId = 1;
  #nextSeq: number;
  #nextInflightSeq = 1;
  /**
   * 'memory': the queue is in #queue (and mirrored in the store when persistent). 'stored': restored at start with
   * its queue left in the store, read when the client comes back; new messages go to the store only. 'loading':
   * being read; new messages go to the store and to #queue, after what is being read.
   */
  #queueState: 'memory' | 'stored' | 'loading' = 'memory';
  /** Messages enqueued while 'stored' or 'loading' (bounded by maxQueuedMessages). */
  #storedNew = 0;
  #firstPendingSeq = 0;
  /** Retained deliveries of new subscriptions still to send, oldest subscription first. */
  #retained: RetainedCursor[] | undefined;
  /** Unacknowledged PUBLISH packets still to re-send on this connection (beyond its Receive Maximum at resume). */
  #resendPending: InflightEntry[] | undefined;
  #resendHead = 0;
  /** Set when a restored session resumes with Session Expiry 0: its store data goes once its queue is read. */
  deferStoreDelete = false;

  // Scratch fields used by the router while it merges overlapping subscriptions (no allocation per message).
  routeMark = 0;
  routeQos: QoS = 0;
  routeRetainAsPublished = false;
  routeSubscriptionIds: number[] | undefined;

  constructor(clientId: string, protocolVersion: ProtocolVersion, host: SessionHost) {
    this.clientId = clientId;
    this.protocolVersion = protocolVersion;
    this.#host = host;
    // Queue positions grow with time so that a session restored after a restart continues after what the store
    // holds without reading it (good for up to 1,000 messages per millisecond over the session's life).
    this.#nextSeq = Math.floor(host.now()) * 1000 + 1;
  }

  /** Subscriptions by topic filter (read-only view; change them with addSubscription / removeSubscription). */
  get subscriptions(): ReadonlyMap<string, SessionSubscription> {
    return this.#subscriptions ?? NONE;
  }

  /** The outbound in-flight window by packet identifier. */
  get inflight(): ReadonlyMap<number, InflightEntry> {
    return this.#inflight ?? NONE;
  }

  /** Inbound QoS 2 packet ids PUBREC'd and awaiting PUBREL: a repeat is acknowledged, not routed again. */
  get incomingQos2(): ReadonlySet<number> {
    return this.#incomingQos2 ?? NO_IDS;
  }

  addIncomingQos2(packetId: number): void {
    if (!this.#incomingQos2) this.#incomingQos2 = new Set();
    this.#incomingQos2.add(packetId);
  }

  /** False when the id was not awaiting PUBREL. */
  deleteIncomingQos2(packetId: number): boolean {
    return this.#incomingQos2?.delete(packetId) ?? false;
  }

  /** Records a subscription without writing it to the store (a session restored from the store). */
  setSubscription(subscription: SessionSubscription): void {
    if (!this.#subscriptions) this.#subscriptions = new Map();
    this.#subscriptions.set(subscription.topicFilter, subscription);
  }

  #inflightMap(): Map<number, InflightEntry> {
    if (!this.#inflight) this.#inflight = new Map();
    return this.#inflight;
  }

  /** True while the queue restored at start is still in the store (see loadQueue). */
  get queueInStore(): boolean {
    return this.#queueState !== 'memory';
  }

  /** Whether the session outlives its connection and is therefore mirrored in the store. */
  get persistent(): boolean {
    return this.expiryInterval !== 0;
  }

  get queueLength(): number {
    return this.#queue.length - this.#queueHead;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /**
   * Delivers (or queues) a routed message at the given QoS. Returns true when it wrote to the store, so the
   * publisher's acknowledgement must wait for a commit.
   */
  deliver(
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIdentifiers: number[] | undefined,
    group: SharedGroup | undefined,
  ): boolean {
    const connection = this.connection;
    if (this.#queueState !== 'memory') {
      if (qos === 0 && connection?.ready) {
        if (connection.canWrite()) connection.sendPublish(message, 0, retain, subscriptionIdentifiers, 0, false);
        else this.#host.dropped('backpressure');
        return false;
      }
      if (qos === 0 && !this.#host.limits.queueQos0Offline) return false;
      return this.#keptUntilCommit(message, this.#enqueueWhileStored(message, qos, retain, subscriptionIdentifiers));
    }
    if (qos === 0) {
      if (connection?.ready) {
        if (connection.canWrite()) connection.sendPublish(message, 0, retain, subscriptionIdentifiers, 0, false);
        else this.#host.dropped('backpressure');
        return false;
      }
      if (!this.#host.limits.queueQos0Offline || !this.persistent) {
        if (connection) this.#host.dropped('backpressure');
        return false;
      }
      return this.#keptUntilCommit(message, this.#enqueue(message, 0, retain, subscriptionIdentifiers, group));
    }
    if (
      connection?.ready &&
      this.queueLength === 0 &&
      this.#retained === undefined &&
      this.#resendPending === undefined &&
      this.inflight.size < connection.clientReceiveMaximum &&
      connection.canWrite() &&
      this.#inflightRoom(message)
    ) {
      return this.#sendNew(connection, message, qos, retain, subscriptionIdentifiers, group);
    }
    return this.#keptUntilCommit(message, this.#enqueue(message, qos, retain, subscriptionIdentifiers, group));
  }

  /** A message written to this session's queue in the store: its publisher's acknowledgement needs the commit. */
  #keptUntilCommit(message: Message, wrote: boolean): boolean {
    if (wrote && message.ackable) obligationOf(message).needsCommit = true;
    return wrote;
  }

  /**
   * Sends what waits, while the client's Receive Maximum and socket allow: re-sends held back at resume, then the
   * retained messages of new subscriptions, then the queue.
   */
  pump(): void {
    const connection = this.connection;
    if (!connection?.ready) return;
    if (this.#resendPending && !this.#pumpResend(connection)) return;
    if (this.#retained && !this.#pumpRetained(connection)) return;
    if (this.#queueState !== 'memory') return;
    const now = this.#host.now();
    while (this.#queueHead < this.#queue.length) {
      const entry = this.#queue[this.#queueHead];
      if (
        entry.qos > 0 &&
        (this.inflight.size >= connection.clientReceiveMaximum || !this.#inflightRoom(entry.message))
      ) {
        break;
      }
      if (!connection.canWrite()) break;
      this.#queue[this.#queueHead] = undefined as unknown as QueueEntry;
      this.#queueHead++;
      this.#queuedBytes -= messageBytes(entry.message);
      if (this.persistent) this.#host.store.dequeue(this.clientId, entry.seq);
      if (entry.message.expiresAt !== undefined && entry.message.expiresAt <= now) {
        this.#host.dropped('expired');
        continue;
      }
      if (entry.qos === 0) {
        connection.sendPublish(entry.message, 0, entry.retain, entry.subscriptionIdentifiers, 0, false);
      } else {
        this.#sendNew(connection, entry.message, entry.qos, entry.retain, entry.subscriptionIdentifiers, entry.group);
      }
      // Encoded for this session only: keep the payload, not its encoding.
      dropForms(entry.message);
    }
    if (this.#queueHead === this.#queue.length) {
      // Drained: a session that is idle again holds no array.
      this.#queue = NO_ENTRIES;
      this.#queueHead = 0;
    } else if (this.#queueHead > 256 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /**
   * [MQTT-4.4.0-1] On resuming a session: re-send unacknowledged PUBLISH with DUP=1, and PUBREL, in order; no more
   * PUBLISH than the new connection's Receive Maximum [MQTT-3.3.4-9], the rest as acknowledgements free the window.
   */
  resend(): void {
    const connection = this.connection;
    this.#resendPending = undefined;
    this.#resendHead = 0;
    if (!connection?.ready) return;
    const max = connection.clientReceiveMaximum;
    let outstanding = 0;
    let pending: InflightEntry[] | undefined;
    for (const entry of [...this.inflight.values()]) {
      if (entry.state === 'awaitPubcomp') {
        connection.sendPubrel(entry.packetId);
        outstanding++;
      } else if (entry.message) {
        if (pending === undefined && outstanding < max) {
          if (this.#resendOne(connection, entry)) outstanding++;
        } else {
          if (!pending) pending = [];
          pending.push(entry);
        }
      }
    }
    this.#resendPending = pending;
  }

  /** Stops what belongs to one connection: retained cursors and held-back re-sends (the entries stay in flight). */
  detach(): void {
    this.#retained = undefined;
    this.#resendPending = undefined;
    this.#resendHead = 0;
  }

  /** Sends the retained messages matching a subscription from pump(); a new one for the same filter replaces it. */
  startRetained(
    topicFilter: string,
    messages: Message[],
    qos: QoS,
    subscriptionIdentifiers: number[] | undefined,
  ): void {
    if (messages.length === 0) return;
    const cursor: RetainedCursor = { topicFilter, messages, next: 0, qos, subscriptionIdentifiers };
    if (!this.#retained) this.#retained = [cursor];
    else {
      const index = this.#retained.findIndex((c) => c.topicFilter === topicFilter);
      if (index >= 0) this.#retained[index] = cursor;
      else this.#retained.push(cursor);
    }
    this.pump();
  }

  /** An unacknowledged PUBLISH again, DUP=1. False when it no longer fits the client and was discarded. */
  #resendOne(connection: Connection, entry: InflightEntry): boolean {
    const message = entry.message as Message;
    // An expired message already sent is still re-sent: its delivery had started [MQTT-3.3.2-5].
    if (connection.sendPublish(message, entry.qos, entry.retain, entry.subscriptionIdentifiers, entry.packetId, true)) {
      return true;
    }
    if (!connection.ready) return false;
    // [MQTT-3.1.2-25] too large for the new Maximum Packet Size: discarded, and the flow ends as if delivered.
    this.#inflight?.delete(entry.packetId);
    this.#inflightBytes -= messageBytes(message);
    if (this.persistent) this.#host.store.deleteInflight(this.clientId, entry.packetId);
    return false;
  }

  /** True when every held-back re-send went out. */
  #pumpResend(connection: Connection): boolean {
    const pending = this.#resendPending as InflightEntry[];
    while (this.#resendHead < pending.length) {
      const entry = pending[this.#resendHead];
      if (this.inflight.get(entry.packetId) !== entry || !entry.message) {
        // Acknowledged or handed to another group member meanwhile.
        this.#resendHead++;
        continue;
      }
      const waiting = pending.length - this.#resendHead;
      if (this.inflight.size - waiting >= connection.clientReceiveMaximum || !connection.canWrite()) return false;
      this.#resendHead++;
      this.#resendOne(connection, entry);
      dropForms(entry.message);
    }
    this.#resendPending = undefined;
    this.#resendHead = 0;
    return true;
  }

  /** True when every retained cursor is done. */
  #pumpRetained(connection: Connection): boolean {
    const cursors = this.#retained as RetainedCursor[];
    const now = this.#host.now();
    while (cursors.length > 0) {
      const cursor = cursors[0];
      const messages = cursor.messages;
      while (cursor.next < messages.length) {
        const message = messages[cursor.next];
        const qos = Math.min(message.qos, cursor.qos) as QoS;
        if (qos > 0 && this.inflight.size >= connection.clientReceiveMaximum) return false;
        if (!connection.canWrite()) return false;
        cursor.next++;
        if (message.expiresAt !== undefined && message.expiresAt <= now) continue;
        if (qos === 0) connection.sendPublish(message, 0, true, cursor.subscriptionIdentifiers, 0, false);
        else this.#sendNew(connection, message, qos, true, cursor.subscriptionIdentifiers, undefined);
        // A retained message keeps its payload for life, not its encodings.
        dropForms(message);
      }
      cursors.shift();
    }
    this.#retained = undefined;
    return true;
  }

  /** PUBACK received: the QoS 1 flow ends. Returns false when the id was not awaiting a PUBACK. */
  acknowledge(packetId: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry?.state !== 'awaitPuback') return false;
    this.#release(entry);
    return true;
  }

  /** PUBREC received: on success wait for PUBCOMP; a reason code of 0x80 or more ends the flow [MQTT-4.4.0-2]. */
  received(packetId: number, failed: boolean): boolean {
    const entry = this.inflight.get(packetId);
    if (entry?.state !== 'awaitPubrec') return entry?.state === 'awaitPubcomp';
    if (failed) {
      this.#release(entry);
      return false;
    }
    entry.state = 'awaitPubcomp';
    if (entry.message) this.#inflightBytes -= messageBytes(entry.message);
    entry.message = undefined;
    if (this.persistent) {
      this.#host.store.putInflight(this.clientId, {
        packetId,
        seq: entry.seq,
        state: 'awaitPubcomp',
        qos: entry.qos,
        retain: entry.retain,
      });
    }
    return true;
  }

  /** PUBCOMP received. */
  completed(packetId: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry?.state !== 'awaitPubcomp') return false;
    this.#release(entry);
    return true;
  }

  /**
   * Takes back the messages that came through shared subscriptions and were not acknowledged (or still queued),
   * so the broker can hand them to another member of the group.
   */
  takeSharedMessages(onlyToOthers: boolean): { message: Message; group: SharedGroup }[] {
    const out: { message: Message; group: SharedGroup }[] = [];
    // A session that keeps its messages holds on to those no other member can take [MQTT-4.4.0-1].
    const movable = (group: SharedGroup): boolean =>
      !onlyToOthers ||
      group.members.some((m) => m.session !== this && (m.session.connection?.ready || m.session.persistent));
    for (const entry of [...this.inflight.values()]) {
      // QoS 2 stays: [MQTT-4.8.2-4] completed when this client reconnects, [MQTT-4.8.2-5] never sent elsewhere.
      if (entry.group && entry.message && entry.qos === 1 && movable(entry.group)) {
        out.push({ message: entry.message, group: entry.group });
        this.#inflightBytes -= messageBytes(entry.message);
        this.#inflight?.delete(entry.packetId);
        if (this.persistent) this.#host.store.deleteInflight(this.clientId, entry.packetId);
      }
    }
    if (this.#queue.some((e) => e?.group)) {
      const kept: QueueEntry[] = [];
      for (let i = this.#queueHead; i < this.#queue.length; i++) {
        const entry = this.#queue[i];
        if (entry.group && movable(entry.group)) {
          out.push({ message: entry.message, group: entry.group });
          this.#queuedBytes -= messageBytes(entry.message);
          if (this.persistent) this.#host.store.dequeue(this.clientId, entry.seq);
        } else {
          kept.push(entry);
        }
      }
      this.#queue = kept;
      this.#queueHead = 0;
    }
    return out;
  }

  /** Drops everything queued or in flight (session discarded). */
  clearMessages(): void {
    this.#inflight = undefined;
    this.#inflightBytes = 0;
    this.detach();
    this.#incomingQos2 = undefined;
    this.#queue = NO_ENTRIES;
    this.#queueHead = 0;
    this.#queuedBytes = 0;
  }

  addSubscription(subscription: SessionSubscription): SessionSubscription | undefined {
    const previous = this.subscriptions.get(subscription.topicFilter);
    this.setSubscription(subscription);
    if (this.persistent) this.#host.store.putSubscription(this.clientId, toRecord(subscription));
    return previous;
  }

  removeSubscription(topicFilter: string): SessionSubscription | undefined {
    const previous = this.subscriptions.get(topicFilter);
    if (!previous) return undefined;
    this.#subscriptions?.delete(topicFilter);
    if (this.persistent) this.#host.store.deleteSubscription(this.clientId, topicFilter);
    return previous;
  }

  /** The record written to the store. */
  toRecord(): SessionRecord {
    const record: SessionRecord = {
      clientId: this.clientId,
      protocolVersion: this.protocolVersion,
      expiryInterval: this.expiryInterval,
    };
    if (this.expiresAt !== undefined) record.expiresAt = this.expiresAt;
    if (this.username !== undefined) record.username = this.username;
    return record;
  }

  /** Writes the whole session (record, subscriptions, queue, in-flight) when it becomes persistent. */
  persistAll(): void {
    const store = this.#host.store;
    store.putSession(this.toRecord());
    for (const subscription of this.subscriptions.values())
      store.putSubscription(this.clientId, toRecord(subscription));
    for (let i = this.#queueHead; i < this.#queue.length; i++)
      store.enqueue(this.clientId, this.#queued(this.#queue[i]));
    for (const entry of this.inflight.values()) store.putInflight(this.clientId, this.#inflightRecord(entry));
    for (const id of this.incomingQos2) store.putIncomingQos2(this.clientId, id);
  }

  /**
   * Restores the in-flight window and inbound QoS 2 ids read from the store at start. The queue stays in the store
   * until the client comes back (loadQueue), so a broker with many offline sessions starts without reading them.
   */
  restore(inflight: InflightRecord[], incomingQos2: number[], lastQueuedSeq = 0): void {
    this.#queueState = 'stored';
    // New queue entries go after the stored ones even when the clock now reads earlier than when they were queued.
    if (lastQueuedSeq >= this.#nextSeq) this.#nextSeq = lastQueuedSeq + 1;
    for (const record of inflight) {
      const entry: InflightEntry = {
        packetId: record.packetId,
        seq: record.seq,
        state: record.state,
        qos: record.qos,
        retain: record.retain,
        message: record.message ? fromStored(record.message) : undefined,
        subscriptionIdentifiers: record.subscriptionIdentifiers,
        group: undefined,
        obligation: undefined,
      };
      this.#inflightMap().set(record.packetId, entry);
      if (entry.message) this.#inflightBytes += messageBytes(entry.message);
      if (record.seq >= this.#nextInflightSeq) this.#nextInflightSeq = record.seq + 1;
    }
    for (const id of incomingQos2) this.addIncomingQos2(id);
  }

  /**
   * Reads the queue a restored session left in the store, keeping the order: what was stored first, then what
   * arrived since. Limits apply as usual; what exceeds them is dropped and counted.
   */
  async loadQueue(): Promise<void> {
    if (this.#queueState !== 'stored') return;
    this.#queueState = 'loading';
    const store = this.#host.store;
    const limit = this.#host.limits.maxQueuedMessages;
    let records: QueuedMessage[];
    try {
      // At most `limit` from before the restart plus `limit` since (#enqueueWhileStored caps those).
      records = await store.readQueue(this.clientId, 0, limit * 2 + 1);
    } finally {
      if (this.ended) this.#queueState = 'memory';
    }
    if (this.ended) return;
    const firstPending = this.#firstPendingSeq === 0 ? Number.POSITIVE_INFINITY : this.#firstPendingSeq;
    const loaded: QueueEntry[] = [];
    for (const record of records) {
      if (record.seq >= firstPending) break;
      const { seq, subscriptionIdentifiers, ...stored } = record;
      loaded.push({
        seq,
        message: fromStored(stored),
        qos: record.qos,
        retain: record.retain,
        subscriptionIdentifiers,
        group: undefined,
      });
    }
    const queue = loaded.concat(this.#queue.slice(this.#queueHead));
    const limits = this.#host.limits;
    let bytes = 0;
    let kept = 0;
    for (const entry of queue) {
      const size = messageBytes(entry.message);
      if (kept < limit && bytes + size <= limits.maxQueuedBytes) {
        queue[kept++] = entry;
        bytes += size;
      } else {
        store.dequeue(this.clientId, entry.seq);
        this.#host.dropped('queueFull');
      }
    }
    queue.length = kept;
    this.#queue = queue;
    this.#queueHead = 0;
    this.#queuedBytes = bytes;
    this.#storedNew = 0;
    this.#firstPendingSeq = 0;
    this.#queueState = 'memory';
    if (this.deferStoreDelete) {
      this.deferStoreDelete = false;
      if (!this.persistent) store.deleteSession(this.clientId);
    }
  }

  #enqueueWhileStored(
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIdentifiers: number[] | undefined,
  ): boolean {
    if (this.#storedNew >= this.#host.limits.maxQueuedMessages) {
      this.#host.dropped('queueFull');
      return false;
    }
    ownPayload(message);
    this.#storedNew++;
    const entry: QueueEntry = { seq: this.#nextSeq++, message, qos, retain, subscriptionIdentifiers, group: undefined };
    this.#host.store.enqueue(this.clientId, this.#queued(entry));
    if (this.#queueState === 'loading') {
      if (this.#firstPendingSeq === 0) this.#firstPendingSeq = entry.seq;
      this.#push(entry);
      this.#queuedBytes += messageBytes(message);
    }
    return true;
  }

  #push(entry: QueueEntry): void {
    if (this.#queue === NO_ENTRIES) this.#queue = [entry];
    else this.#queue.push(entry);
  }

  #sendNew(
    connection: Connection,
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIdentifiers: number[] | undefined,
    group: SharedGroup | undefined,
  ): boolean {
    const packetId = this.#allocatePacketId();
    const entry: InflightEntry = {
      packetId,
      seq: this.#nextInflightSeq++,
      state: qos === 1 ? 'awaitPuback' : 'awaitPubrec',
      qos,
      retain,
      message,
      subscriptionIdentifiers,
      group,
      obligation: undefined,
    };
    this.#inflightMap().set(packetId, entry);
    this.#inflightBytes += messageBytes(message);
    let wrote = false;
    if (this.persistent) {
      this.#host.store.putInflight(this.clientId, this.#inflightRecord(entry));
      wrote = true;
      if (message.ackable) {
        const obligation = obligationOf(message);
        obligation.pending++;
        entry.obligation = obligation;
      }
    } else if (!message.owned) {
      // Kept for a possible re-send after the chunk it was decoded from is gone.
      ownPayload(message);
    }
    if (!connection.sendPublish(message, qos, retain, subscriptionIdentifiers, packetId, false)) {
      // [MQTT-3.1.2-25] too large for the client: behave as if delivered.
      this.#inflight?.delete(packetId);
      this.#inflightBytes -= messageBytes(message);
      if (this.persistent) this.#host.store.deleteInflight(this.clientId, packetId);
    }
    return wrote;
  }

  #enqueue(
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIdentifiers: number[] | undefined,
    group: SharedGroup | undefined,
  ): boolean {
    const limits = this.#host.limits;
    const bytes = messageBytes(message);
    if (this.queueLength >= limits.maxQueuedMessages || this.#queuedBytes + bytes > limits.maxQueuedBytes) {
      this.#host.dropped('queueFull');
      return false;
    }
    ownPayload(message);
    const entry: QueueEntry = { seq: this.#nextSeq++, message, qos, retain, subscriptionIdentifiers, group };
    this.#push(entry);
    this.#queuedBytes += bytes;
    if (!this.persistent) return false;
    this.#host.store.enqueue(this.clientId, this.#queued(entry));
    return true;
  }

  /**
   * The in-flight window holds at most maxQueuedBytes too (a client that never acknowledges pins no more); beyond,
   * messages wait in the queue, so a burst to a client that keeps up is queued rather than dropped.
   */
  #inflightRoom(message: Message): boolean {
    return this.#inflightBytes === 0 || this.#inflightBytes + messageBytes(message) <= this.#host.limits.maxQueuedBytes;
  }

  #release(entry: InflightEntry): void {
    const obligation = entry.obligation;
    if (obligation !== undefined) {
      // Delivered and acknowledged: this session no longer needs its copy for the publisher's acknowledgement.
      entry.obligation = undefined;
      if (--obligation.pending === 0 && !obligation.needsCommit) obligation.connection?.releaseAcks();
    }
    this.#inflight?.delete(entry.packetId);
    if (entry.message) this.#inflightBytes -= messageBytes(entry.message);
    if (this.persistent) this.#host.store.deleteInflight(this.clientId, entry.packetId);
    if (this.#queueHead < this.#queue.length || this.#retained || this.#resendPending) this.pump();
  }

  /** Packet identifiers are per session and never reused while in flight [MQTT-2.2.1-3]. */
  #allocatePacketId(): number {
    let id = this.#nextPacketId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.#nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }

  #queued(entry: QueueEntry): QueuedMessage {
    const stored = toStored(entry.message);
    const queued: QueuedMessage = { ...stored, seq: entry.seq, qos: entry.qos, retain: entry.retain };
    if (entry.subscriptionIdentifiers) queued.subscriptionIdentifiers = entry.subscriptionIdentifiers;
    return queued;
  }

  #inflightRecord(entry: InflightEntry): InflightRecord {
    const record: InflightRecord = {
      packetId: entry.packetId,
      seq: entry.seq,
      state: entry.state,
      qos: entry.qos,
      retain: entry.retain,
    };
    if (entry.message && entry.state !== 'awaitPubcomp') record.message = toStored(entry.message);
    if (entry.subscriptionIdentifiers) record.subscriptionIdentifiers = entry.subscriptionIdentifiers;
    return record;
  }
}

export function toRecord(subscription: SessionSubscription): SubscriptionRecord {
  const record: SubscriptionRecord = {
    topicFilter: subscription.topicFilter,
    qos: subscription.qos,
    noLocal: subscription.noLocal,
    retainAsPublished: subscription.retainAsPublished,
    retainHandling: subscription.retainHandling,
  };
  if (subscription.subscriptionIdentifier !== undefined) {
    record.subscriptionIdentifier = subscription.subscriptionIdentifier;
  }
  return record;
}

export function fromSubscription(
  topicFilter: string,
  filter: string,
  group: string | undefined,
  subscription: Subscription,
  subscriptionIdentifier: number | undefined,
): SessionSubscription {
  return {
    topicFilter,
    filter,
    group,
    qos: subscription.qos,
    noLocal: subscription.noLocal ?? false,
    retainAsPublished: subscription.retainAsPublished ?? false,
    retainHandling: subscription.retainHandling ?? 0,
    subscriptionIdentifier,
  };
}
