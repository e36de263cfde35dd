import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, type Key, open, type RootDatabase } from 'lmdb';
import { MqttError } from '../../protocol/errors.js';
import type { QoS } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Logger } from '../../util/logger.js';
import type {
  InflightRecord,
  InflightState,
  QueuedMessage,
  SessionRecord,
  Store,
  StoredMessage,
  SubscriptionRecord,
} from '../types.js';
import { checkDataFile, damagedError, walkInChild } from './check.js';
import { DirectoryLock } from './lock.js';

/** The layout written by this code. Bump it (and migrate in open()) when a table's layout changes. */
export const FORMAT_VERSION = 1;

export interface LmdbStoreOptions {
  /**
   * A message of at least this many bytes (payload and topic) that one batch writes for several sessions is
   * stored once and referenced by the others. Default 256; Infinity stores every copy inline.
   */
  shareThreshold?: number;
  /** Read every page of the data file in a child process before opening it. Default false. */
  verify?: boolean;
  logger?: Logger;
}

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

interface MessageBody {
  topic: string;
  payload: Buffer;
  properties?: StoredMessage['properties'];
  expiresAt?: number;
}

/** A queued message: inline (a QueuedMessage without its seq) or a reference `m` to a shared body. */
interface QueueValue {
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
interface InflightValue {
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

/** Which message a payload buffer was last written as, for sharing it within one batch. */
interface ShareSlot {
  batch: number;
  topic: string;
  properties: StoredMessage['properties'];
  expiresAt: number | undefined;
  id: number;
}

// Operations queued between commits, four slots each: op, client id (or topic), argument, shared message id.
const PUT_SESSION = 1;
const DELETE_SESSION = 2;
const PUT_SUBSCRIPTION = 3;
const DELETE_SUBSCRIPTION = 4;
const ENQUEUE = 5;
const DEQUEUE = 6;
const PUT_INFLIGHT = 7;
const DELETE_INFLIGHT = 8;
const PUT_INCOMING = 9;
const DELETE_INCOMING = 10;
const PUT_RETAINED = 11;
const DELETE_RETAINED = 12;

const TABLES = [
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
type Table = (typeof TABLES)[number];

/** Greater than any string or number as the second element of an ordered-binary array key. */
const AFTER_ALL = Buffer.from([0xff, 0xff]);
const RESOLVED = Promise.resolve();
const noop = (): void => {};

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The durable store, on LMDB. Writes are collected in memory during an event-loop turn and applied at its end
 * in ONE synchronous LMDB transaction, flushed to disk before it returns (group commit: every PUBACK of a turn
 * shares one fsync). A data directory is held by one process at a time (a lock file), is checked before LMDB
 * maps it, and is never emptied or overwritten when it is damaged or of an unknown format.
 */
export class LmdbStore implements Store {
  readonly dir: string;
  readonly #shareThreshold: number;
  readonly #verify: boolean;
  readonly #logger: Logger | undefined;
  readonly #lock: DirectoryLock;
  #env: RootDatabase | undefined;
  #db = {} as Record<Table, Database>;
  #state: 'new' | 'open' | 'closed' = 'new';

  #ops: unknown[] = [];
  #scheduled = false;
  #batch: Deferred | undefined;
  #last: Promise<void> = RESOLVED;
  /** Number of the batch being collected; share slots are valid within one batch. */
  #batchNumber = 0;
  #shares = new WeakMap<Buffer, ShareSlot>();
  #nextMessageId = 1;
  /** Whether any entry may reference a shared body; until then removals need not read what they remove. */
  #sharing = false;

  constructor(dir: string, options: LmdbStoreOptions = {}) {
    this.dir = dir;
    this.#shareThreshold = options.shareThreshold ?? 256;
    this.#verify = options.verify ?? false;
    this.#logger = options.logger;
    this.#lock = new DirectoryLock(join(dir, 'starling.lock'));
  }

  async open(): Promise<void> {
    if (this.#state === 'open') return;
    mkdirSync(this.dir, { recursive: true });
    this.#lock.acquire();
    try {
      this.#openEnvironment();
    } catch (error) {
      this.#closeEnvironment();
      this.#lock.release();
      throw error;
    }
    this.#state = 'open';
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#flush();
    this.#state = 'closed';
    await this.#env?.close();
    this.#env = undefined;
    this.#lock.release();
  }

  commit(): Promise<void> {
    if (this.#ops.length === 0) return this.#last;
    if (!this.#batch) this.#batch = deferred();
    return this.#batch.promise;
  }

  // ---- sessions ----

  async loadSessions(): Promise<SessionRecord[]> {
    this.#settle();
    const out: SessionRecord[] = [];
    for (const { value } of this.#db.sessions.getRange({})) out.push(value as SessionRecord);
    return out;
  }

  async getSession(clientId: string): Promise<SessionRecord | undefined> {
    this.#settle();
    return this.#db.sessions.get(part(clientId)) as SessionRecord | undefined;
  }

  putSession(record: SessionRecord): void {
    this.#push(PUT_SESSION, record.clientId, record, 0);
  }

  deleteSession(clientId: string): void {
    this.#push(DELETE_SESSION, clientId, undefined, 0);
  }

  // ---- subscriptions ----

  async getSubscriptions(clientId: string): Promise<SubscriptionRecord[]> {
    this.#settle();
    const out: SubscriptionRecord[] = [];
    for (const { value } of this.#db.subscriptions.getRange(range(clientId))) out.push(value as SubscriptionRecord);
    return out;
  }

  putSubscription(clientId: string, subscription: SubscriptionRecord): void {
    this.#push(PUT_SUBSCRIPTION, clientId, subscription, 0);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.#push(DELETE_SUBSCRIPTION, clientId, topicFilter, 0);
  }

  // ---- queue ----

  enqueue(clientId: string, message: QueuedMessage): void {
    this.#push(ENQUEUE, clientId, message, this.#shareId(message));
  }

  async readQueue(clientId: string, fromSeq: number, limit: number): Promise<QueuedMessage[]> {
    this.#settle();
    const out: QueuedMessage[] = [];
    if (limit <= 0) return out;
    const key = part(clientId);
    for (const { key: k, value } of this.#db.queue.getRange({ start: [key, fromSeq], end: [key, AFTER_ALL], limit })) {
      const seq = (k as [string, number])[1];
      const message = this.#queued(seq, value as QueueValue);
      if (message) out.push(message);
    }
    return out;
  }

  dequeue(clientId: string, seq: number): void {
    this.#push(DEQUEUE, clientId, seq, 0);
  }

  // ---- in flight ----

  putInflight(clientId: string, record: InflightRecord): void {
    this.#push(PUT_INFLIGHT, clientId, record, record.message ? this.#shareId(record.message) : 0);
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.#push(DELETE_INFLIGHT, clientId, packetId, 0);
  }

  async getInflight(clientId: string): Promise<InflightRecord[]> {
    this.#settle();
    const out: InflightRecord[] = [];
    for (const { key, value } of this.#db.inflight.getRange(range(clientId))) {
      const record = this.#inflight((key as [string, number])[1], value as InflightValue);
      if (record) out.push(record);
    }
    return out.sort(bySeq);
  }

  // ---- inbound QoS 2 ----

  putIncomingQos2(clientId: string, packetId: number): void {
    this.#push(PUT_INCOMING, clientId, packetId, 0);
  }

  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#push(DELETE_INCOMING, clientId, packetId, 0);
  }

  async getIncomingQos2(clientId: string): Promise<number[]> {
    this.#settle();
    const out: number[] = [];
    for (const key of this.#db.incoming.getKeys(range(clientId))) out.push((key as [string, number])[1]);
    return out;
  }

  // ---- retained ----

  putRetained(message: StoredMessage): void {
    this.#push(PUT_RETAINED, message.topic, message, 0);
  }

  deleteRetained(topic: string): void {
    this.#push(DELETE_RETAINED, topic, undefined, 0);
  }

  async loadRetained(): Promise<StoredMessage[]> {
    this.#settle();
    const out: StoredMessage[] = [];
    for (const { value } of this.#db.retained.getRange({})) out.push(value as StoredMessage);
    return out;
  }

  // ---- opening ----

  #openEnvironment(): void {
    const file = join(this.dir, 'data.mdb');
    const existed = existsSync(file);
    if (existed) {
      const info = checkDataFile(file);
      if (info.short || this.#verify) {
        const problem = walkInChild(this.dir);
        if (problem) throw damagedError(file, problem);
      }
    }
    let env: RootDatabase;
    try {
      env = open({ path: this.dir, maxDbs: 16 });
    } catch (error) {
      throw damagedError(file, (error as Error).message, error);
    }
    this.#env = env;
    let names: string[];
    try {
      names = [...env.getKeys({})].filter((key): key is string => typeof key === 'string');
    } catch (error) {
      throw damagedError(file, (error as Error).message, error);
    }
    if (existed && names.length > 0 && !names.includes('meta')) {
      throw new MqttError(
        ReasonCode.UnspecifiedError,
        `${this.dir} holds an LMDB environment that is not Starling's (tables ${names.join(', ')}); ` +
          'Starling will not write into it: choose another data directory',
      );
    }
    for (const table of TABLES) this.#db[table] = env.openDB(table, {});
    const format = this.#db.meta.get('format') as unknown;
    if (format === undefined) {
      for (const table of TABLES) {
        if (!hasKeys(this.#db[table])) continue;
        throw new MqttError(
          ReasonCode.UnspecifiedError,
          `the data directory ${this.dir} has data but no format version; Starling will not guess what it is`,
        );
      }
      env.transactionSync(() => this.#db.meta.put('format', FORMAT_VERSION));
    } else if (format !== FORMAT_VERSION) {
      throw new MqttError(
        ReasonCode.UnspecifiedError,
        `the data directory ${this.dir} has format version ${String(format)}, this Starling reads version ` +
          `${FORMAT_VERSION}: ${typeof format === 'number' && format > FORMAT_VERSION ? 'it was written by a newer Starling' : 'it cannot be read'}`,
      );
    }
    for (const key of this.#db.messages.getKeys({ reverse: true, limit: 1 })) this.#nextMessageId = Number(key) + 1;
    this.#sharing = hasKeys(this.#db.refs);
  }

  #closeEnvironment(): void {
    try {
      this.#env?.close();
    } catch {
      // Closing what failed to open.
    }
    this.#env = undefined;
  }

  // ---- writing ----

  #push(op: number, id: string, argument: unknown, shared: number): void {
    if (this.#state !== 'open') throw new Error(`LmdbStore: write while ${this.#state}`);
    this.#ops.push(op, id, argument, shared);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
    }
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  /** Reads see every write issued before them. */
  #settle(): void {
    if (this.#state !== 'open') throw new Error(`LmdbStore: read while ${this.#state}`);
    if (this.#ops.length > 0) this.#flush();
  }

  /**
   * A message written for a second session in the same batch is shared: the first copy stays inline, the
   * others reference one body. Returns its id, or 0 to write it inline.
   */
  #shareId(message: StoredMessage): number {
    const payload = message.payload;
    if (payload.length + message.topic.length < this.#shareThreshold) return 0;
    const slot = this.#shares.get(payload);
    if (
      slot === undefined ||
      slot.batch !== this.#batchNumber ||
      slot.topic !== message.topic ||
      slot.properties !== message.properties ||
      slot.expiresAt !== message.expiresAt
    ) {
      this.#shares.set(payload, {
        batch: this.#batchNumber,
        topic: message.topic,
        properties: message.properties,
        expiresAt: message.expiresAt,
        id: 0,
      });
      return 0;
    }
    if (slot.id === 0) slot.id = this.#nextMessageId++;
    return slot.id;
  }

  #flush(): void {
    const ops = this.#ops;
    if (ops.length === 0) return;
    this.#ops = [];
    const batch = this.#batch;
    this.#batch = undefined;
    this.#batchNumber++;
    try {
      this.#env!.transactionSync(() => this.#apply(ops));
      this.#last = RESOLVED;
      batch?.resolve();
    } catch (error) {
      const failure = new MqttError(ReasonCode.UnspecifiedError, 'store commit failed', { cause: error });
      this.#logger?.error({ err: error, dir: this.dir }, 'LMDB commit failed; the writes of this batch are lost');
      this.#last = Promise.reject(failure);
      this.#last.catch(noop);
      batch?.reject(failure);
    }
  }

  #apply(ops: unknown[]): void {
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

  // ---- reading ----

  #body(messageId: number): MessageBody | undefined {
    const body = this.#db.messages.get(messageId) as MessageBody | undefined;
    if (!body) this.#logger?.error({ dir: this.dir, messageId }, 'a queued message references a missing body; skipped');
    return body;
  }

  #queued(seq: number, value: QueueValue): QueuedMessage | undefined {
    let source: MessageBody = value as MessageBody;
    if (value.m !== undefined) {
      const body = this.#body(value.m);
      if (!body) return undefined;
      source = body;
    }
    const message: QueuedMessage = {
      topic: source.topic,
      payload: source.payload,
      qos: value.qos,
      retain: value.retain,
      seq,
    };
    if (source.properties !== undefined) message.properties = source.properties;
    if (source.expiresAt !== undefined) message.expiresAt = source.expiresAt;
    if (value.subscriptionIdentifiers !== undefined) message.subscriptionIdentifiers = value.subscriptionIdentifiers;
    return message;
  }

  #inflight(packetId: number, value: InflightValue): InflightRecord | undefined {
    const record: InflightRecord = {
      packetId,
      seq: value.seq,
      state: value.state,
      qos: value.qos,
      retain: value.retain,
    };
    if (value.message !== undefined) {
      record.message = value.message;
    } else if (value.m !== undefined) {
      const body = this.#body(value.m);
      if (!body) return undefined;
      const message: StoredMessage = { topic: body.topic, payload: body.payload, qos: value.mq!, retain: value.mr! };
      if (body.properties !== undefined) message.properties = body.properties;
      if (body.expiresAt !== undefined) message.expiresAt = body.expiresAt;
      record.message = message;
    }
    if (value.subscriptionIdentifiers !== undefined) record.subscriptionIdentifiers = value.subscriptionIdentifiers;
    return record;
  }
}

/** A key part: the string itself, or for one too long for an LMDB key, NUL (never in an MQTT string) + hash. */
function part(text: string): string {
  if (text.length <= 120 || Buffer.byteLength(text) <= 400) return text;
  return `\u0000${createHash('sha256').update(text).digest('base64url')}`;
}

function range(clientId: string): { start: Key; end: Key } {
  const key = part(clientId);
  return { start: [key], end: [key, AFTER_ALL] };
}

function hasKeys(db: Database): boolean {
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

function bySeq(a: InflightRecord, b: InflightRecord): number {
  return a.seq - b.seq;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(noop);
  return { promise, resolve, reject };
}
