import { createHash } from 'node:crypto';
import type { Database, Key } from 'lmdb';
import type { QoS } from '../../protocol/packets.js';
import type { InflightRecord, InflightState, QueuedMessage, StoredMessage, SubscriptionRecord } from '../types.js';

/*
 * Tables (LMDB named databases), keys in LMDB's ordered-binary encoding so ranges follow the access patterns:
 *   meta           'format' -> FORMAT_VERSION
 *   sessions       clientId -> SessionRecord (with its pending will and absolute deadlines)
 *   subscriptions  [clientId, topicFilter] -> SubscriptionRecord
 *   queue          [clientId, seq] -> QueueValue          read in seq ranges, never all at once
 *   inflight       [clientId, packetId] -> InflightValue
 *   incoming       [clientId, packetId] -> 1               inbound QoS 2 awaiting PUBREL
 *   retained       topic -> StoredMessage
 *   messages       id -> MessageBody                      a message shared by several queue/in-flight entries
 *   refs           id -> number of entries referencing it
 * Strings too long for an LMDB key (client ids and topics may reach 65,535 bytes) are keyed by their hash;
 * every value holds what its key abbreviates.
 */

export interface MessageBody {
  topic: string;
  payload: Buffer;
  properties?: StoredMessage['properties'];
  expiresAt?: number;
}

/** A queued message: inline (a QueuedMessage without its seq) or a reference `m` to a shared body. */
export interface QueueValue {
  m?: number;
  topic?: string;
  payload?: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: StoredMessage['properties'];
  expiresAt?: number;
  subscriptionIdentifiers?: number[];
}

/** An in-flight record without its packet id; its message inline or as a reference `m` with its qos and retain. */
export interface InflightValue {
  seq: number;
  state: InflightState;
  qos: QoS;
  retain: boolean;
  message?: StoredMessage;
  m?: number;
  mq?: QoS;
  mr?: boolean;
  subscriptionIdentifiers?: number[];
}

// Operations queued between commits, four slots each: op, client id (or topic), argument, shared message id.
/** A cancelled operation (a later one in the same batch made it moot). */
export const NOOP = 0;
export const PUT_SESSION = 1;
export const DELETE_SESSION = 2;
export const PUT_SUBSCRIPTION = 3;
export const DELETE_SUBSCRIPTION = 4;
export const ENQUEUE = 5;
export const DEQUEUE = 6;
export const PUT_INFLIGHT = 7;
export const DELETE_INFLIGHT = 8;
export const PUT_INCOMING = 9;
export const DELETE_INCOMING = 10;
export const PUT_RETAINED = 11;
export const DELETE_RETAINED = 12;

export const TABLES = [
  'meta',
  'sessions',
  'subscriptions',
  'queue',
  'inflight',
  'incoming',
  'retained',
  'messages',
  'refs',
] as const;
export type Table = (typeof TABLES)[number];

/** Greater than any string or number as the second element of an ordered-binary array key. */
export const AFTER_ALL = Buffer.from([0xff, 0xff]);

/**
 * Applies batches of operations to the tables inside a write transaction: keeps the reference counts of
 * shared message bodies, and removes a deleted session's rows by range. Runs on the store's writer thread.
 */
export class Writer {
  readonly #db: Record<Table, Database>;
  /** Whether any entry may reference a shared body; until then removals need not read what they remove. */
  #sharing: boolean;

  constructor(db: Record<Table, Database>) {
    this.#db = db;
    this.#sharing = hasKeys(db.refs);
  }

  /** Applies one batch; call inside a write transaction. */
  apply(ops: unknown[]): void {
    const db = this.#db;
    const deltas = new Map<number, number>();
    const bodies = new Map<number, StoredMessage>();
    for (let i = 0; i < ops.length; i += 4) {
      const id = ops[i + 1] as string;
      const argument = ops[i + 2];
      const shared = ops[i + 3] as number;
      switch (ops[i]) {
        case PUT_SESSION:
          db.sessions.put(part(id), argument);
          break;
        case DELETE_SESSION:
          this.#deleteSession(id, deltas);
          break;
        case PUT_SUBSCRIPTION: {
          const subscription = argument as SubscriptionRecord;
          db.subscriptions.put([part(id), part(subscription.topicFilter)], subscription);
          break;
        }
        case DELETE_SUBSCRIPTION:
          db.subscriptions.remove([part(id), part(argument as string)]);
          break;
        case ENQUEUE: {
          const message = argument as QueuedMessage;
          const key = [part(id), message.seq];
          if (this.#sharing) this.#release(db.queue.get(key) as QueueValue | undefined, deltas);
          db.queue.put(key, queueValue(message, shared));
          if (shared) this.#reference(shared, message, deltas, bodies);
          break;
        }
        case DEQUEUE: {
          const key = [part(id), argument as number];
          if (this.#sharing) this.#release(db.queue.get(key) as QueueValue | undefined, deltas);
          db.queue.remove(key);
          break;
        }
        case PUT_INFLIGHT: {
          const record = argument as InflightRecord;
          const key = [part(id), record.packetId];
          if (this.#sharing) this.#release(db.inflight.get(key) as InflightValue | undefined, deltas);
          db.inflight.put(key, inflightValue(record, shared));
          if (shared) this.#reference(shared, record.message!, deltas, bodies);
          break;
        }
        case DELETE_INFLIGHT: {
          const key = [part(id), argument as number];
          if (this.#sharing) this.#release(db.inflight.get(key) as InflightValue | undefined, deltas);
          db.inflight.remove(key);
          break;
        }
        case PUT_INCOMING:
          db.incoming.put([part(id), argument as number], 1);
          break;
        case DELETE_INCOMING:
          db.incoming.remove([part(id), argument as number]);
          break;
        case PUT_RETAINED:
          db.retained.put(part(id), argument);
          break;
        case DELETE_RETAINED:
          db.retained.remove(part(id));
          break;
      }
    }
    for (const [messageId, delta] of deltas) {
      if (delta === 0) continue;
      const before = (db.refs.get(messageId) as number | undefined) ?? 0;
      const after = before + delta;
      if (after <= 0) {
        db.refs.remove(messageId);
        db.messages.remove(messageId);
      } else {
        // A body is written when its first reference is; a later batch may bring it back after it was freed.
        if (before === 0) db.messages.put(messageId, messageBody(bodies.get(messageId)!));
        db.refs.put(messageId, after);
      }
    }
  }

  #reference(
    messageId: number,
    message: StoredMessage,
    deltas: Map<number, number>,
    bodies: Map<number, StoredMessage>,
  ) {
    this.#sharing = true;
    deltas.set(messageId, (deltas.get(messageId) ?? 0) + 1);
    if (!bodies.has(messageId)) bodies.set(messageId, message);
  }

  #release(previous: { m?: number } | undefined, deltas: Map<number, number>): void {
    const messageId = previous?.m;
    if (messageId !== undefined) deltas.set(messageId, (deltas.get(messageId) ?? 0) - 1);
  }

  #deleteSession(clientId: string, deltas: Map<number, number>): void {
    const db = this.#db;
    const key = part(clientId);
    db.sessions.remove(key);
    // Collected before removing: a cursor is not walked while its table changes. (lmdb writes into the range
    // options it is given, so each call gets its own.)
    for (const k of [...db.subscriptions.getKeys(range(clientId))]) db.subscriptions.remove(k);
    for (const { key: k, value } of [...db.queue.getRange(range(clientId))]) {
      this.#release(value as QueueValue, deltas);
      db.queue.remove(k);
    }
    for (const { key: k, value } of [...db.inflight.getRange(range(clientId))]) {
      this.#release(value as InflightValue, deltas);
      db.inflight.remove(k);
    }
    for (const k of [...db.incoming.getKeys(range(clientId))]) db.incoming.remove(k);
  }
}

/** A key part: the string itself, or for one too long for an LMDB key, NUL (never in an MQTT string) + hash. */
export function part(text: string): string {
  if (text.length <= 120 || Buffer.byteLength(text) <= 400) return text;
  return `\u0000${createHash('sha256').update(text).digest('base64url')}`;
}

export function range(clientId: string): { start: Key; end: Key } {
  const key = part(clientId);
  return { start: [key], end: [key, AFTER_ALL] };
}

export function hasKeys(db: Database): boolean {
  for (const _ of db.getKeys({ limit: 1 })) return true;
  return false;
}

function queueValue(message: QueuedMessage, shared: number): QueueValue {
  const value: QueueValue = shared
    ? { m: shared, qos: message.qos, retain: message.retain }
    : { topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain };
  if (!shared) {
    if (message.properties !== undefined) value.properties = message.properties;
    if (message.expiresAt !== undefined) value.expiresAt = message.expiresAt;
  }
  if (message.subscriptionIdentifiers !== undefined) value.subscriptionIdentifiers = message.subscriptionIdentifiers;
  return value;
}

function inflightValue(record: InflightRecord, shared: number): InflightValue {
  const value: InflightValue = { seq: record.seq, state: record.state, qos: record.qos, retain: record.retain };
  const message = record.message;
  if (message !== undefined) {
    if (shared) {
      value.m = shared;
      value.mq = message.qos;
      value.mr = message.retain;
    } else {
      value.message = storedMessage(message);
    }
  }
  if (record.subscriptionIdentifiers !== undefined) value.subscriptionIdentifiers = record.subscriptionIdentifiers;
  return value;
}

function storedMessage(message: StoredMessage): StoredMessage {
  const out: StoredMessage = {
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
  };
  if (message.properties !== undefined) out.properties = message.properties;
  if (message.expiresAt !== undefined) out.expiresAt = message.expiresAt;
  return out;
}

function messageBody(message: StoredMessage): MessageBody {
  const body: MessageBody = { topic: message.topic, payload: message.payload };
  if (message.properties !== undefined) body.properties = message.properties;
  if (message.expiresAt !== undefined) body.expiresAt = message.expiresAt;
  return body;
}
