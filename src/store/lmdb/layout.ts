import { createHash } from 'node:crypto';
import { deserialize } from 'node:v8';
import type { Database, Key, RootDatabase } from 'lmdb';
import type { QoS } from '../../protocol/packets.js';
import type { InflightState, StoredMessage, SubscriptionRecord } from '../types.js';
import { HEADER, inflightShared, queuedShared } from './codec.js';

/*
 * Tables (LMDB named databases), keys in LMDB's ordered-binary encoding so ranges follow the access patterns:
 *   meta           'format' -> FORMAT_VERSION
 *   sessions       clientId -> SessionRecord (with its pending will and absolute deadlines)
 *   subscriptions  [clientId, topicFilter] -> SubscriptionRecord
 *   queue          [clientId, seq] -> queue value (binary, codec.ts)   read in seq ranges, never all at once
 *   inflight       [clientId, packetId] -> in-flight value (binary, codec.ts)
 *   incoming       [clientId, packetId] -> 1               inbound QoS 2 awaiting PUBREL
 *   retained       topic -> StoredMessage
 *   messages       id -> body (binary, codec.ts)          a message shared by several queue/in-flight entries
 *   refs           id -> number of entries referencing it
 * Strings too long for an LMDB key (client ids and topics may reach 65,535 bytes) are keyed by their hash;
 * every value holds what its key abbreviates.
 */

/** Format version 1's values (msgpack), read only to migrate a data directory written by it. */
export interface MessageBodyV1 {
  topic: string;
  payload: Buffer;
  properties?: StoredMessage['properties'];
  expiresAt?: number;
}

export interface QueueValueV1 {
  m?: number;
  topic?: string;
  payload?: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: StoredMessage['properties'];
  expiresAt?: number;
  subscriptionIdentifiers?: number[];
}

export interface InflightValueV1 {
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

// Batch record ops (codec.ts has the record layout).
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
/** The client id of the record's index, for this batch: its UTF-8 bytes. */
export const DEFINE_ID = 13;
/** A shared message body: f64 id, then the body. */
export const BODY = 14;

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

/** Tables whose values are the binary forms of codec.ts; the others hold msgpack. */
const BINARY: ReadonlySet<Table> = new Set<Table>(['queue', 'inflight', 'messages']);

export function openTables(env: RootDatabase): Record<Table, Database> {
  const db = {} as Record<Table, Database>;
  for (const table of TABLES) db[table] = env.openDB(table, BINARY.has(table) ? { encoding: 'binary' } : {});
  return db;
}

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

  /** Applies one batch (`length` bytes of `buf`, see codec.ts); call inside a write transaction. */
  apply(buf: Buffer, length: number): void {
    const db = this.#db;
    const deltas = new Map<number, number>();
    const bodies = new Map<number, Buffer>();
    const ids: string[] = [];
    for (let at = 0; at < length; ) {
      const end = at + buf.readUInt32LE(at);
      const op = buf[at + 4];
      const id = ids[buf.readUInt32LE(at + 5)]!;
      const from = at + HEADER;
      at = end;
      switch (op) {
        case DEFINE_ID:
          ids[buf.readUInt32LE(from - 4)] = part(buf.toString('utf8', from, end));
          break;
        case BODY:
          bodies.set(buf.readDoubleLE(from), buf.subarray(from + 8, end));
          break;
        case PUT_SESSION:
          db.sessions.put(id, deserialize(buf.subarray(from, end)));
          break;
        case DELETE_SESSION:
          this.#deleteSession(id, deltas);
          break;
        case PUT_SUBSCRIPTION: {
          const subscription = deserialize(buf.subarray(from, end)) as SubscriptionRecord;
          db.subscriptions.put([id, part(subscription.topicFilter)], subscription);
          break;
        }
        case DELETE_SUBSCRIPTION:
          db.subscriptions.remove([id, part(buf.toString('utf8', from, end))]);
          break;
        case ENQUEUE: {
          const key = [id, buf.readDoubleLE(from)];
          const value = buf.subarray(from + 8, end);
          if (this.#sharing) this.#release(db.queue.getBinaryFast(key), queuedShared, deltas);
          db.queue.put(key, value);
          this.#reference(queuedShared(value), deltas);
          break;
        }
        case DEQUEUE: {
          const key = [id, buf.readDoubleLE(from)];
          if (this.#sharing) this.#release(db.queue.getBinaryFast(key), queuedShared, deltas);
          db.queue.remove(key);
          break;
        }
        case PUT_INFLIGHT: {
          const key = [id, buf.readUInt16LE(from)];
          const value = buf.subarray(from + 2, end);
          if (this.#sharing) this.#release(db.inflight.getBinaryFast(key), inflightShared, deltas);
          db.inflight.put(key, value);
          this.#reference(inflightShared(value), deltas);
          break;
        }
        case DELETE_INFLIGHT: {
          const key = [id, buf.readUInt16LE(from)];
          if (this.#sharing) this.#release(db.inflight.getBinaryFast(key), inflightShared, deltas);
          db.inflight.remove(key);
          break;
        }
        case PUT_INCOMING:
          db.incoming.put([id, buf.readUInt16LE(from)], 1);
          break;
        case DELETE_INCOMING:
          db.incoming.remove([id, buf.readUInt16LE(from)]);
          break;
        case PUT_RETAINED: {
          const message = deserialize(buf.subarray(from, end)) as StoredMessage;
          db.retained.put(part(message.topic), message);
          break;
        }
        case DELETE_RETAINED:
          db.retained.remove(part(buf.toString('utf8', from, end)));
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
        if (before === 0) db.messages.put(messageId, bodies.get(messageId)!);
        db.refs.put(messageId, after);
      }
    }
  }

  #reference(messageId: number, deltas: Map<number, number>): void {
    if (messageId === 0) return;
    this.#sharing = true;
    deltas.set(messageId, (deltas.get(messageId) ?? 0) + 1);
  }

  #release(previous: Buffer | undefined, shared: (value: Buffer) => number, deltas: Map<number, number>): void {
    if (previous === undefined) return;
    const messageId = shared(previous);
    if (messageId !== 0) deltas.set(messageId, (deltas.get(messageId) ?? 0) - 1);
  }

  /** `key` is the client id as a key part. */
  #deleteSession(key: string, deltas: Map<number, number>): void {
    const db = this.#db;
    db.sessions.remove(key);
    // Collected before removing: a cursor is not walked while its table changes. (lmdb writes into the range
    // options it is given, so each call gets its own.)
    for (const k of [...db.subscriptions.getKeys(partRange(key))]) db.subscriptions.remove(k);
    for (const { key: k, value } of [...db.queue.getRange(partRange(key))]) {
      this.#release(value as Buffer, queuedShared, deltas);
      db.queue.remove(k);
    }
    for (const { key: k, value } of [...db.inflight.getRange(partRange(key))]) {
      this.#release(value as Buffer, inflightShared, deltas);
      db.inflight.remove(k);
    }
    for (const k of [...db.incoming.getKeys(partRange(key))]) db.incoming.remove(k);
  }
}

/** A key part: the string itself, or for one too long for an LMDB key, NUL (never in an MQTT string) + hash. */
export function part(text: string): string {
  if (text.length <= 120 || Buffer.byteLength(text) <= 400) return text;
  return `\u0000${createHash('sha256').update(text).digest('base64url')}`;
}

export function range(clientId: string): { start: Key; end: Key } {
  return partRange(part(clientId));
}

function partRange(key: string): { start: Key; end: Key } {
  return { start: [key], end: [key, AFTER_ALL] };
}

export function hasKeys(db: Database): boolean {
  for (const _ of db.getKeys({ limit: 1 })) return true;
  return false;
}
