import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Database, open, type RootDatabase } from 'lmdb';
import { MqttError } from '../../protocol/errors.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Logger } from '../../util/logger.js';
import type {
  InflightRecord,
  QueuedMessage,
  SessionRecord,
  Store,
  StoredMessage,
  SubscriptionRecord,
} from '../types.js';
import { checkDataFile, damagedError, walkInChild } from './check.js';
import {
  AFTER_ALL,
  DELETE_INCOMING,
  DELETE_INFLIGHT,
  DELETE_RETAINED,
  DELETE_SESSION,
  DELETE_SUBSCRIPTION,
  DEQUEUE,
  ENQUEUE,
  hasKeys,
  type InflightValue,
  type MessageBody,
  NOOP,
  PUT_INCOMING,
  PUT_INFLIGHT,
  PUT_RETAINED,
  PUT_SESSION,
  PUT_SUBSCRIPTION,
  part,
  type QueueValue,
  range,
  TABLES,
  type Table,
  Writer,
} from './layout.js';
import { DirectoryLock } from './lock.js';
import type { WriterData, WriterReply, WriterRequest } from './writer.js';

/** The layout written by this code. Bump it (and migrate in open()) when a table's layout changes. */
export const FORMAT_VERSION = 1;

export interface LmdbStoreOptions {
  /**
   * A message of at least this many bytes (payload and topic) that one batch writes for several sessions is
   * stored once and referenced by the others. Default 256; Infinity stores every copy inline.
   */
  shareThreshold?: number;
  /**
   * Write on a thread of its own (default), so the broker serves sockets while the disk syncs; false writes
   * on the caller's thread at the end of each event-loop turn.
   */
  writerThread?: boolean;
  /** Read every page of the data file in a child process before opening it. Default false. */
  verify?: boolean;
  logger?: Logger;
}

/** Which message a payload buffer was last written as, for sharing it within one batch. */
interface ShareSlot {
  batch: number;
  topic: string;
  properties: StoredMessage['properties'];
  expiresAt: number | undefined;
  id: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const RESOLVED = Promise.resolve();
/**
 * Batches on the writer thread at once. One: the next batch collects while the disk syncs and is written whole
 * (measured: handing a second one over early makes smaller transactions, each with its own sync, and is slower).
 */
const PIPELINE = 1;
const noop = (): void => {};

/**
 * The durable store, on LMDB. Writes are collected in memory and applied as one batch in ONE LMDB transaction,
 * flushed to disk before commit() resolves. While a batch is being written (on the writer thread) the next one
 * collects, so every acknowledgement that waits during a disk sync shares the next one (group commit), and a
 * message whose subscriber acknowledges it before its batch is written is never written at all.
 *
 * A data directory is held by one process at a time (a lock file), is checked before LMDB maps it, and is never
 * emptied or overwritten when it is damaged or of an unknown format.
 */
export class LmdbStore implements Store {
  readonly dir: string;
  readonly #shareThreshold: number;
  readonly #useThread: boolean;
  readonly #verify: boolean;
  readonly #logger: Logger | undefined;
  readonly #lock: DirectoryLock;
  #env: RootDatabase | undefined;
  #db = {} as Record<Table, Database>;
  #state: 'new' | 'open' | 'closed' = 'new';
  #worker: Worker | undefined;
  /** Writes on this thread when there is no writer thread. */
  #writer: Writer | undefined;

  /** The batch being collected: four slots per operation (op, client id or topic, argument, shared id). */
  #ops: unknown[] = [];
  /** Position in #ops of the last put of each queue/in-flight row in the batch, so a later write can cancel it. */
  #rows = new Map<string, number>();
  /** Resolved when the collected batch is durable; made when someone waits for it. */
  #batch: Deferred | undefined;
  #scheduled = false;
  /** Batches handed to the writer thread, oldest first (up to PIPELINE). */
  #writing: Deferred[] = [];
  #last: Promise<void> = RESOLVED;
  #failure: Error | undefined;
  /** Number of the batch being collected; share slots are valid within one batch. */
  #batchNumber = 0;
  #shares = new WeakMap<Buffer, ShareSlot>();
  #nextMessageId = 1;

  constructor(dir: string, options: LmdbStoreOptions = {}) {
    this.dir = dir;
    this.#shareThreshold = options.shareThreshold ?? 256;
    this.#useThread = options.writerThread ?? true;
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
      if (this.#useThread) {
        try {
          await this.#startWriter();
        } catch (error) {
          // Durability does not depend on the thread, only the broker's latency during disk syncs does.
          this.#logger?.warn({ err: error, dir: this.dir }, 'no LMDB writer thread: writing on the main thread');
        }
      }
      if (!this.#worker) this.#writer = new Writer(this.#db);
    } catch (error) {
      this.#closeEnvironment();
      this.#lock.release();
      throw error;
    }
    this.#failure = undefined;
    this.#last = RESOLVED;
    this.#state = 'open';
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    try {
      await this.#settle();
    } catch (error) {
      this.#logger?.error({ err: error, dir: this.dir }, 'the last writes before close failed');
    }
    this.#state = 'closed';
    const worker = this.#worker;
    this.#worker = undefined;
    this.#writer = undefined;
    if (worker) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.ref();
      worker.postMessage({ type: 'close' } satisfies WriterRequest);
      await exited;
    }
    await this.#env?.close();
    this.#env = undefined;
    this.#lock.release();
  }

  commit(): Promise<void> {
    if (this.#ops.length > 0) {
      if (!this.#batch) this.#batch = deferred();
      return this.#batch.promise;
    }
    const writing = this.#writing;
    return writing.length > 0 ? writing[writing.length - 1]!.promise : this.#last;
  }

  // ---- sessions ----

  async loadSessions(): Promise<SessionRecord[]> {
    await this.#settle();
    const out: SessionRecord[] = [];
    for (const { value } of this.#db.sessions.getRange({})) out.push(value as SessionRecord);
    return out;
  }

  async getSession(clientId: string): Promise<SessionRecord | undefined> {
    await this.#settle();
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
    await this.#settle();
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
    const row = `q${message.seq}\u0000${clientId}`;
    this.#cancel(row);
    this.#rows.set(row, this.#push(ENQUEUE, clientId, message, this.#shareId(message)));
  }

  async readQueue(clientId: string, fromSeq: number, limit: number): Promise<QueuedMessage[]> {
    await this.#settle();
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
    this.#cancel(`q${seq}\u0000${clientId}`);
    this.#push(DEQUEUE, clientId, seq, 0);
  }

  // ---- in flight ----

  putInflight(clientId: string, record: InflightRecord): void {
    const row = `i${record.packetId}\u0000${clientId}`;
    this.#cancel(row);
    this.#rows.set(row, this.#push(PUT_INFLIGHT, clientId, record, record.message ? this.#shareId(record.message) : 0));
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.#cancel(`i${packetId}\u0000${clientId}`);
    this.#push(DELETE_INFLIGHT, clientId, packetId, 0);
  }

  async getInflight(clientId: string): Promise<InflightRecord[]> {
    await this.#settle();
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
    await this.#settle();
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
    await this.#settle();
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
  }

  async #startWriter(): Promise<void> {
    const worker = new Worker(new URL('./writer.js', import.meta.url), {
      workerData: { dir: this.dir } satisfies WriterData,
      // Not the process's flags: threads refuse some (--input-type, --expose-gc ...) and the writer needs none.
      execArgv: [],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => reject(error);
        worker.once('error', onError);
        worker.once('message', (reply: WriterReply) => {
          worker.off('error', onError);
          if (reply.type === 'ready') resolve();
          else reject(new Error(`the writer thread did not start: ${JSON.stringify(reply)}`));
        });
      });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    worker.on('message', this.#onWritten);
    worker.on('error', this.#onWriterError);
    worker.unref();
    this.#worker = worker;
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

  /** Adds an operation to the batch; returns its position. */
  #push(op: number, id: string, argument: unknown, shared: number): number {
    if (this.#state !== 'open') throw new Error(`LmdbStore: write while ${this.#state}`);
    const at = this.#ops.length;
    this.#ops.push(op, id, argument, shared);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
    }
    return at;
  }

  /** A put of the same queue or in-flight row earlier in the batch is moot: a later put or delete replaces it. */
  #cancel(row: string): void {
    const at = this.#rows.get(row);
    if (at === undefined) return;
    this.#rows.delete(row);
    this.#ops[at] = NOOP;
    this.#ops[at + 2] = undefined;
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    if (this.#writing.length < PIPELINE) this.#send();
  };

  /** Reads see every write issued before them. */
  async #settle(): Promise<void> {
    if (this.#state !== 'open') throw new Error(`LmdbStore: read while ${this.#state}`);
    while (this.#ops.length > 0 || this.#writing.length > 0) {
      if (this.#ops.length > 0 && this.#writing.length < PIPELINE) this.#send();
      await this.#writing[this.#writing.length - 1]?.promise.catch(noop);
    }
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

  /** Hands the collected batch to the writer. */
  #send(): void {
    const ops = this.#ops;
    if (ops.length === 0) return;
    this.#ops = [];
    this.#rows.clear();
    const batch = this.#batch ?? deferred();
    this.#batch = undefined;
    this.#batchNumber++;
    this.#writing.push(batch);
    if (this.#failure) {
      this.#finish(this.#failure);
      return;
    }
    const worker = this.#worker;
    if (worker) {
      worker.ref();
      worker.postMessage({ type: 'batch', ops } satisfies WriterRequest);
      return;
    }
    try {
      this.#env!.transactionSync(() => this.#writer!.apply(ops));
      this.#finish(undefined);
    } catch (error) {
      this.#finish(error as Error);
    }
  }

  readonly #onWritten = (reply: WriterReply): void => {
    if (reply.type === 'written') this.#finish(undefined);
    else if (reply.type === 'failed') this.#finish(Object.assign(new Error(reply.message), { stack: reply.stack }));
  };

  readonly #onWriterError = (error: Error): void => {
    // The writer thread died: nothing more can be made durable.
    this.#failure = error;
    this.#logger?.error({ err: error, dir: this.dir }, 'the LMDB writer thread failed');
    while (this.#writing.length > 0) this.#finish(error);
  };

  /** The oldest batch on the writer is done: settle its waiters and send what collected meanwhile. */
  #finish(error: Error | undefined): void {
    const batch = this.#writing.shift()!;
    if (error) {
      const failure = new MqttError(ReasonCode.UnspecifiedError, 'store commit failed', { cause: error });
      this.#logger?.error({ err: error, dir: this.dir }, 'LMDB commit failed; the writes of this batch are lost');
      this.#last = batch.promise;
      batch.reject(failure);
    } else {
      this.#env?.resetReadTxn();
      this.#last = RESOLVED;
      batch.resolve();
    }
    if (this.#ops.length > 0 && this.#writing.length < PIPELINE) this.#send();
    else if (this.#writing.length === 0) this.#worker?.unref();
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
