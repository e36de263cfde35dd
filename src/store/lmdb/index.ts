import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { serialize } from 'node:v8';
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
  type Body,
  ByteWriter,
  PropertiesCodec,
  readBody,
  readInflight,
  readQueued,
  writeBody,
  writeInflight,
  writeQueued,
} from './codec.js';
import {
  AFTER_ALL,
  BODY,
  DEFINE_ID,
  DELETE_INCOMING,
  DELETE_INFLIGHT,
  DELETE_RETAINED,
  DELETE_SESSION,
  DELETE_SUBSCRIPTION,
  DEQUEUE,
  ENQUEUE,
  hasKeys,
  type InflightValueV1,
  type MessageBodyV1,
  NOOP,
  openTables,
  PUT_INCOMING,
  PUT_INFLIGHT,
  PUT_RETAINED,
  PUT_SESSION,
  PUT_SUBSCRIPTION,
  part,
  type QueueValueV1,
  range,
  TABLES,
  type Table,
  Writer,
} from './layout.js';
import { DirectoryLock } from './lock.js';
import type { WriterData, WriterReply, WriterRequest } from './writer.js';

/**
 * The layout written by this code. Bump it (and migrate in open()) when a table's layout changes.
 * 2: queue, in-flight and shared message rows in the binary forms of codec.ts (1: msgpack objects).
 */
export const FORMAT_VERSION = 2;

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
const EMPTY = Buffer.alloc(0);
/** Batch buffers up to this size are kept for the next batches; a larger one (a burst) is let go. */
const SPARE_MAX_BYTES = 4 * 1024 * 1024;
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
 * A batch is collected as binary records in one buffer (codec.ts) that is transferred to the writer thread
 * without a copy; queue and in-flight rows are stored as they stand in it. Per message that is one put while it
 * is in flight and one delete once acknowledged, and neither when the acknowledgement comes within the batch.
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

  /** The batch being collected, as records in one buffer (codec.ts). */
  #out = new ByteWriter();
  /** Buffers of written batches, back from the writer, for the next ones. */
  #spare: Buffer[] = [];
  /** Client ids of the batch by their index in it (each is sent once per batch). */
  #ids = new Map<string, number>();
  #lastId: string | undefined;
  #lastIndex = 0;
  /**
   * The last put of each in-flight row in the batch (key: client index * 65536 + packet id; value: its offset * 2,
   * plus 1 when the row was not in the database before it), and of each queue row per client index (key: seq;
   * value: its offset), so a later write of the row can cancel it.
   */
  #inflightRows = new Map<number, number>();
  #queueRows: (Map<number, number> | undefined)[] = [];
  /**
   * In-flight rows in the database once the writes issued so far are applied, per client id, for the clients
   * whose rows are all known (so a delete of a row that is not there is not written; a message acknowledged
   * before its batch is written then costs nothing). A client is known unless it had rows when the store opened
   * and has not been read (getInflight) or deleted since. Always a superset of the rows really there.
   */
  #present = new Map<string, Set<number>>();
  /** Key parts of the client ids that had in-flight rows when the store opened and are not known yet. */
  #unknown = new Set<string>();
  /** False after a failed commit: what is in the database is no longer known. */
  #tracking = true;
  /** #present's sets by client index in this batch; null: the client is not known. */
  #batchPresent: (Set<number> | null | undefined)[] = [];
  /** Deletes left out of this batch (client index, packet id): written after all if an earlier batch fails. */
  #dropped: number[] = [];
  readonly #properties = new PropertiesCodec();
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
    this.#tracking = true;
    this.#present.clear();
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
    if (this.#out.length > 0) {
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
    this.#object(PUT_SESSION, this.#begin(record.clientId), record);
  }

  deleteSession(clientId: string): void {
    const out = this.#out;
    const index = this.#begin(clientId);
    out.end(out.start(DELETE_SESSION, index));
    // From here on none of its rows is in the database.
    this.#present.delete(clientId);
    if (this.#unknown.size > 0) this.#unknown.delete(part(clientId));
    this.#batchPresent[index] = undefined;
  }

  // ---- subscriptions ----

  async getSubscriptions(clientId: string): Promise<SubscriptionRecord[]> {
    await this.#settle();
    const out: SubscriptionRecord[] = [];
    for (const { value } of this.#db.subscriptions.getRange(range(clientId))) out.push(value as SubscriptionRecord);
    return out;
  }

  putSubscription(clientId: string, subscription: SubscriptionRecord): void {
    this.#object(PUT_SUBSCRIPTION, this.#begin(clientId), subscription);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.#text(DELETE_SUBSCRIPTION, this.#begin(clientId), topicFilter);
  }

  // ---- queue ----

  enqueue(clientId: string, message: QueuedMessage): void {
    const index = this.#begin(clientId);
    let rows = this.#queueRows[index];
    if (rows === undefined) {
      rows = new Map();
      this.#queueRows[index] = rows;
    } else {
      this.#cancel(rows.get(message.seq));
    }
    const shared = this.#shareId(message);
    const out = this.#out;
    const at = out.start(ENQUEUE, index);
    out.f64(message.seq);
    writeQueued(out, message, shared, this.#properties);
    out.end(at);
    rows.set(message.seq, at);
  }

  async readQueue(clientId: string, fromSeq: number, limit: number): Promise<QueuedMessage[]> {
    await this.#settle();
    const out: QueuedMessage[] = [];
    if (limit <= 0) return out;
    const key = part(clientId);
    for (const { key: k, value } of this.#db.queue.getRange({ start: [key, fromSeq], end: [key, AFTER_ALL], limit })) {
      const seq = (k as [string, number])[1];
      const message = this.#queued(seq, value as Buffer);
      if (message) out.push(message);
    }
    return out;
  }

  lastQueuedSeq(clientId: string): Promise<number> {
    // Called for every session at start: no await when nothing is being written.
    if (this.#out.length > 0 || this.#writing.length > 0) return this.#settle().then(() => this.#lastSeq(clientId));
    return Promise.resolve(this.#lastSeq(clientId));
  }

  #lastSeq(clientId: string): number {
    if (this.#state !== 'open') throw new Error(`LmdbStore: read while ${this.#state}`);
    const key = part(clientId);
    for (const k of this.#db.queue.getKeys({
      start: [key, AFTER_ALL],
      end: [key, 0],
      reverse: true,
      limit: 1,
      snapshot: false,
    })) {
      return (k as [string, number])[1];
    }
    return 0;
  }

  dequeue(clientId: string, seq: number): void {
    const index = this.#begin(clientId);
    const rows = this.#queueRows[index];
    if (rows !== undefined) {
      const earlier = rows.get(seq);
      if (earlier !== undefined) {
        this.#cancel(earlier);
        rows.delete(seq);
      }
    }
    const out = this.#out;
    const at = out.start(DEQUEUE, index);
    out.f64(seq);
    out.end(at);
  }

  // ---- in flight ----

  putInflight(clientId: string, record: InflightRecord): void {
    const index = this.#begin(clientId);
    const packetId = record.packetId;
    const row = index * 65536 + packetId;
    const rows = this.#inflightRows;
    const present = this.#presentOf(index, clientId);
    const earlier = rows.get(row);
    let fresh: number;
    if (earlier !== undefined) {
      // Replaces a put of this batch: the row was in the database before this one as much as before that one.
      this.#cancel(earlier >>> 1);
      fresh = earlier & 1;
    } else {
      fresh = present !== null && !present.has(packetId) ? 1 : 0;
    }
    present?.add(packetId);
    const shared = record.message ? this.#shareId(record.message) : 0;
    const out = this.#out;
    const at = out.start(PUT_INFLIGHT, index);
    out.u16(packetId);
    writeInflight(out, record, shared, this.#properties);
    out.end(at);
    rows.set(row, at * 2 + fresh);
  }

  deleteInflight(clientId: string, packetId: number): void {
    const index = this.#begin(clientId);
    const row = index * 65536 + packetId;
    const present = this.#presentOf(index, clientId);
    const earlier = this.#inflightRows.get(row);
    let absent: boolean;
    if (earlier !== undefined) {
      this.#cancel(earlier >>> 1);
      this.#inflightRows.delete(row);
      absent = (earlier & 1) === 1;
    } else {
      absent = present !== null && !present.has(packetId);
    }
    present?.delete(packetId);
    if (absent) {
      this.#dropped.push(index, packetId);
      return;
    }
    this.#packetId(DELETE_INFLIGHT, index, packetId);
  }

  async getInflight(clientId: string): Promise<InflightRecord[]> {
    await this.#settle();
    const out: InflightRecord[] = [];
    const ids: number[] = [];
    for (const { key, value } of this.#db.inflight.getRange(range(clientId))) {
      const packetId = (key as [string, number])[1];
      ids.push(packetId);
      const record = this.#inflight(packetId, value as Buffer);
      if (record) out.push(record);
    }
    // What was just read is all there is when no write is waiting: the client's rows are known from here on.
    if (this.#tracking && this.#out.length === 0 && this.#unknown.delete(part(clientId))) {
      let present = this.#present.get(clientId);
      if (present === undefined) {
        present = new Set();
        this.#present.set(clientId, present);
      }
      for (const packetId of ids) present.add(packetId);
    }
    return out.sort(bySeq);
  }

  // ---- inbound QoS 2 ----

  putIncomingQos2(clientId: string, packetId: number): void {
    this.#packetId(PUT_INCOMING, this.#begin(clientId), packetId);
  }

  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#packetId(DELETE_INCOMING, this.#begin(clientId), packetId);
  }

  async getIncomingQos2(clientId: string): Promise<number[]> {
    await this.#settle();
    const out: number[] = [];
    for (const key of this.#db.incoming.getKeys(range(clientId))) out.push((key as [string, number])[1]);
    return out;
  }

  // ---- retained ----

  putRetained(message: StoredMessage): void {
    this.#object(PUT_RETAINED, this.#begin(undefined), message);
  }

  deleteRetained(topic: string): void {
    this.#text(DELETE_RETAINED, this.#begin(undefined), topic);
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
    this.#db = openTables(env);
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
    } else if (format === 1) {
      this.#migrateFromVersion1(env);
    } else if (format !== FORMAT_VERSION) {
      throw new MqttError(
        ReasonCode.UnspecifiedError,
        `the data directory ${this.dir} has format version ${String(format)}, this Starling reads version ` +
          `${FORMAT_VERSION}: ${typeof format === 'number' && format > FORMAT_VERSION ? 'it was written by a newer Starling' : 'it cannot be read'}`,
      );
    }
    for (const key of this.#db.messages.getKeys({ reverse: true, limit: 1 })) this.#nextMessageId = Number(key) + 1;
    this.#unknown.clear();
    for (const key of this.#db.inflight.getKeys({})) this.#unknown.add((key as [string, number])[0]);
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

  /**
   * Every write starts here: the batch is scheduled to go at the end of this event-loop turn, and the client id
   * gets its index in the batch (sent once per batch). Returns the index (0 when there is no client id).
   */
  #begin(clientId: string | undefined): number {
    if (this.#state !== 'open') throw new Error(`LmdbStore: write while ${this.#state}`);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
    }
    if (clientId === undefined) return 0;
    if (clientId === this.#lastId) return this.#lastIndex;
    let index = this.#ids.get(clientId);
    if (index === undefined) {
      index = this.#ids.size;
      this.#ids.set(clientId, index);
      this.#text(DEFINE_ID, index, clientId);
    }
    this.#lastId = clientId;
    this.#lastIndex = index;
    return index;
  }

  /** The in-flight rows of a client that are in the database, null when they are not known. */
  #presentOf(index: number, clientId: string): Set<number> | null {
    let present = this.#batchPresent[index];
    if (present === undefined) {
      if (!this.#tracking || (this.#unknown.size > 0 && this.#unknown.has(part(clientId)))) {
        present = null;
      } else {
        present = this.#present.get(clientId);
        if (present === undefined) {
          present = new Set();
          this.#present.set(clientId, present);
        }
      }
      this.#batchPresent[index] = present;
    }
    return present;
  }

  /** A put of the same queue or in-flight row earlier in the batch (at this offset) is moot: a later write replaces it. */
  #cancel(at: number | undefined): void {
    if (at !== undefined) this.#out.buf[at + 4] = NOOP;
  }

  #text(op: number, index: number, text: string): void {
    const out = this.#out;
    const at = out.start(op, index);
    out.text(text);
    out.end(at);
  }

  #packetId(op: number, index: number, packetId: number): void {
    const out = this.#out;
    const at = out.start(op, index);
    out.u16(packetId);
    out.end(at);
  }

  /** Sessions, subscriptions and retained messages, written now and then, go as structured clones. */
  #object(op: number, index: number, value: object): void {
    const out = this.#out;
    const at = out.start(op, index);
    out.bytes(serialize(value));
    out.end(at);
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    if (this.#writing.length < PIPELINE) this.#send();
  };

  /** Reads see every write issued before them. */
  async #settle(): Promise<void> {
    if (this.#state !== 'open') throw new Error(`LmdbStore: read while ${this.#state}`);
    while (this.#out.length > 0 || this.#writing.length > 0) {
      if (this.#out.length > 0 && this.#writing.length < PIPELINE) this.#send();
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
    if (slot.id === 0) {
      // The body goes once, ahead of the first write that references it.
      slot.id = this.#nextMessageId++;
      const out = this.#out;
      const at = out.start(BODY, 0);
      out.f64(slot.id);
      writeBody(out, message, this.#properties);
      out.end(at);
    }
    return slot.id;
  }

  /** Hands the collected batch to the writer. */
  #send(): void {
    const out = this.#out;
    const length = out.length;
    if (length === 0) return;
    const buf = out.buf;
    out.buf = this.#spare.pop() ?? Buffer.allocUnsafeSlow(64 * 1024);
    out.length = 0;
    for (const [clientId, index] of this.#ids) {
      // A client with no rows left is forgotten (it is known to have none).
      if (this.#batchPresent[index]?.size === 0) this.#present.delete(clientId);
    }
    this.#ids.clear();
    this.#lastId = undefined;
    this.#inflightRows.clear();
    this.#queueRows.length = 0;
    this.#batchPresent.length = 0;
    this.#dropped.length = 0;
    const batch = this.#batch ?? deferred();
    this.#batch = undefined;
    this.#batchNumber++;
    this.#writing.push(batch);
    if (this.#failure) {
      this.#recycle(buf);
      this.#finish(this.#failure);
      return;
    }
    const worker = this.#worker;
    if (worker) {
      worker.ref();
      // Transferred, not copied: the writer sends it back with its answer.
      worker.postMessage({ type: 'batch', buffer: buf.buffer as ArrayBuffer, length } satisfies WriterRequest, [
        buf.buffer as ArrayBuffer,
      ]);
      return;
    }
    let failure: Error | undefined;
    try {
      this.#env!.transactionSync(() => this.#writer!.apply(buf, length));
    } catch (error) {
      failure = error as Error;
    }
    this.#recycle(buf);
    this.#finish(failure);
  }

  #recycle(buf: Buffer): void {
    if (this.#spare.length < 2 && buf.length <= SPARE_MAX_BYTES) this.#spare.push(buf);
  }

  readonly #onWritten = (reply: WriterReply): void => {
    if (reply.type === 'ready') return;
    this.#recycle(Buffer.from(reply.buffer));
    if (reply.type === 'written') this.#finish(undefined);
    else this.#finish(Object.assign(new Error(reply.message), { stack: reply.stack }));
  };

  /**
   * After a failed commit the rows in the database are no longer known: deletes are written from now on, and
   * those left out of the batch being collected (decided on what the failed batch would have done) are added.
   */
  #forget(): void {
    this.#tracking = false;
    this.#present.clear();
    this.#batchPresent.length = 0;
    const dropped = this.#dropped;
    for (let i = 0; i < dropped.length; i += 2) this.#packetId(DELETE_INFLIGHT, dropped[i]!, dropped[i + 1]!);
    dropped.length = 0;
  }

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
      this.#forget();
      const failure = new MqttError(ReasonCode.UnspecifiedError, 'store commit failed', { cause: error });
      this.#logger?.error({ err: error, dir: this.dir }, 'LMDB commit failed; the writes of this batch are lost');
      this.#last = batch.promise;
      batch.reject(failure);
    } else {
      this.#env?.resetReadTxn();
      this.#last = RESOLVED;
      batch.resolve();
    }
    if (this.#out.length > 0 && this.#writing.length < PIPELINE) this.#send();
    else if (this.#writing.length === 0) this.#worker?.unref();
  }

  // ---- reading ----

  #body(messageId: number): Body | undefined {
    const row = this.#db.messages.get(messageId) as Buffer | undefined;
    if (!row) {
      this.#logger?.error({ dir: this.dir, messageId }, 'a queued message references a missing body; skipped');
      return undefined;
    }
    return readBody(row, 0);
  }

  #queued(seq: number, value: Buffer): QueuedMessage | undefined {
    const parts = readQueued(value);
    const body = parts.shared ? this.#body(parts.shared) : parts.body;
    if (!body) return undefined;
    const message: QueuedMessage = {
      topic: body.topic,
      payload: body.payload,
      qos: parts.qos,
      retain: parts.retain,
      seq,
    };
    if (body.properties !== undefined) message.properties = body.properties;
    if (body.expiresAt !== undefined) message.expiresAt = body.expiresAt;
    if (parts.subscriptionIdentifiers !== undefined) message.subscriptionIdentifiers = parts.subscriptionIdentifiers;
    return message;
  }

  #inflight(packetId: number, value: Buffer): InflightRecord | undefined {
    const parts = readInflight(value);
    const record: InflightRecord = {
      packetId,
      seq: parts.seq,
      state: parts.state,
      qos: parts.qos,
      retain: parts.retain,
    };
    if (parts.messageQos !== undefined) {
      const body = parts.shared ? this.#body(parts.shared) : parts.body;
      if (!body) return undefined;
      const message: StoredMessage = {
        topic: body.topic,
        payload: body.payload,
        qos: parts.messageQos,
        retain: parts.messageRetain!,
      };
      if (body.properties !== undefined) message.properties = body.properties;
      if (body.expiresAt !== undefined) message.expiresAt = body.expiresAt;
      record.message = message;
    }
    if (parts.subscriptionIdentifiers !== undefined) record.subscriptionIdentifiers = parts.subscriptionIdentifiers;
    return record;
  }

  /** Rewrites the queue, in-flight and shared message rows of format 1 (msgpack objects) in the binary forms. */
  #migrateFromVersion1(env: RootDatabase): void {
    const out = new ByteWriter(Buffer.allocUnsafe(4096));
    const properties = new PropertiesCodec();
    const db = this.#db;
    let rows = 0;
    env.transactionSync(() => {
      for (const { key, value } of [...env.openDB('queue', {}).getRange({})]) {
        const v = value as QueueValueV1;
        const message: QueuedMessage = {
          topic: v.topic ?? '',
          payload: v.payload ?? EMPTY,
          qos: v.qos,
          retain: v.retain,
          seq: 0,
        };
        if (v.properties !== undefined) message.properties = v.properties;
        if (v.expiresAt !== undefined) message.expiresAt = v.expiresAt;
        if (v.subscriptionIdentifiers !== undefined) message.subscriptionIdentifiers = v.subscriptionIdentifiers;
        out.length = 0;
        writeQueued(out, message, v.m ?? 0, properties);
        db.queue.put(key, out.take());
        rows++;
      }
      for (const { key, value } of [...env.openDB('inflight', {}).getRange({})]) {
        const v = value as InflightValueV1;
        const record: InflightRecord = { packetId: 0, seq: v.seq, state: v.state, qos: v.qos, retain: v.retain };
        if (v.message !== undefined) record.message = v.message;
        else if (v.m !== undefined) record.message = { topic: '', payload: EMPTY, qos: v.mq!, retain: v.mr! };
        if (v.subscriptionIdentifiers !== undefined) record.subscriptionIdentifiers = v.subscriptionIdentifiers;
        out.length = 0;
        writeInflight(out, record, v.m ?? 0, properties);
        db.inflight.put(key, out.take());
        rows++;
      }
      for (const { key, value } of [...env.openDB('messages', {}).getRange({})]) {
        const v = value as MessageBodyV1;
        out.length = 0;
        writeBody(out, { ...v, qos: 0, retain: false }, properties);
        db.messages.put(key, out.take());
        rows++;
      }
      db.meta.put('format', FORMAT_VERSION);
    });
    this.#logger?.info({ dir: this.dir, rows }, `data directory migrated from format version 1 to ${FORMAT_VERSION}`);
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
