import { deserialize, serialize } from 'node:v8';
import type { QoS } from '../../protocol/packets.js';
import type { InflightRecord, InflightState, QueuedMessage, StoredMessage } from '../types.js';

/*
 * Binary forms of the rows written per message (format version 2), and of the batches of writes the store hands
 * to its writer thread. A batch is ONE buffer, transferred to the thread without a copy; the value of a queue or
 * in-flight row is stored exactly as it stands in the batch, so the writer neither decodes nor re-encodes it.
 *
 * Values (all integers little-endian):
 *   body      u8 flags (1 properties, 2 expiresAt) [f64 expiresAt] u32 topic bytes, topic
 *             [u32 properties bytes, properties (v8 serialization)] payload (the rest)
 *   inflight  u8 state, u8 qos, u8 flags (1 retain, 2 message inline, 4 message shared, 8 subscription ids), f64 seq
 *             [u16 count, u32 * count subscription ids]
 *             shared: f64 message id, u8 message qos, u8 message retain | inline: u8 qos, u8 retain, body
 *   queue     u8 qos, u8 flags (1 retain, 4 shared, 8 subscription ids) [subscription ids]
 *             shared: f64 message id | inline: body
 *
 * Batch records: u32 record length, u8 op, u32 client id index, then per op (see layout.ts for the op numbers).
 * A client id is sent once per batch (DEFINE_ID) and referenced by its index afterwards.
 */

const RETAIN = 1;
const INLINE = 2;
const SHARED = 4;
const SUBSCRIPTION_IDS = 8;
const HAS_PROPERTIES = 1;
const HAS_EXPIRY = 2;

const STATES: readonly InflightState[] = ['awaitPuback', 'awaitPubrec', 'awaitPubcomp'];
const STATE_CODE: Record<InflightState, number> = { awaitPuback: 0, awaitPubrec: 1, awaitPubcomp: 2 };

/** The record header: length, op, client id index. */
export const HEADER = 9;

/** A growable byte buffer; its backing ArrayBuffer is its own, so it can be transferred to another thread. */
export class ByteWriter {
  buf: Buffer;
  length = 0;

  constructor(buf: Buffer = Buffer.allocUnsafeSlow(64 * 1024)) {
    this.buf = buf;
  }

  ensure(bytes: number): void {
    const need = this.length + bytes;
    if (need <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.length++] = value;
  }

  u16(value: number): void {
    this.ensure(2);
    const buf = this.buf;
    const at = this.length;
    buf[at] = value;
    buf[at + 1] = value >>> 8;
    this.length = at + 2;
  }

  u32(value: number): void {
    this.ensure(4);
    const buf = this.buf;
    const at = this.length;
    buf[at] = value;
    buf[at + 1] = value >>> 8;
    buf[at + 2] = value >>> 16;
    buf[at + 3] = value >>> 24;
    this.length = at + 4;
  }

  f64(value: number): void {
    this.ensure(8);
    this.length = this.buf.writeDoubleLE(value, this.length);
  }

  /** A string's UTF-8 bytes, without their length. */
  text(value: string): void {
    this.ensure(value.length * 3);
    this.length += utf8(this.buf, value, this.length);
  }

  /** A string as u32 byte length and UTF-8 bytes. */
  string(value: string): void {
    this.ensure(4 + value.length * 3);
    const at = this.length;
    const bytes = utf8(this.buf, value, at + 4);
    this.buf.writeUInt32LE(bytes, at);
    this.length = at + 4 + bytes;
  }

  bytes(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.length);
    this.length += value.length;
  }

  /** Starts a batch record; returns its offset for end() (and for cancelling it). */
  start(op: number, index: number): number {
    this.ensure(HEADER);
    const at = this.length;
    this.buf[at + 4] = op;
    this.buf.writeUInt32LE(index, at + 5);
    this.length = at + HEADER;
    return at;
  }

  end(at: number): void {
    this.buf.writeUInt32LE(this.length - at, at);
  }

  /** A copy of what was written. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/**
 * Writes a string's UTF-8 bytes at `at` (room for 3 bytes per UTF-16 unit is there); returns their count. Short
 * ASCII strings (most topics and client ids) are copied here, which costs less than a call into Buffer.write.
 */
function utf8(buf: Buffer, value: string, at: number): number {
  const length = value.length;
  if (length <= 64) {
    let i = 0;
    for (; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) break;
      buf[at + i] = code;
    }
    if (i === length) return length;
  }
  return buf.write(value, at, 'utf8');
}

/** MQTT 5 properties as bytes, serialized once per properties object. */
export class PropertiesCodec {
  readonly #cache = new WeakMap<object, Buffer>();

  encode(properties: object): Buffer {
    let bytes = this.#cache.get(properties);
    if (bytes === undefined) {
      bytes = serialize(properties);
      this.#cache.set(properties, bytes);
    }
    return bytes;
  }
}

export function writeBody(w: ByteWriter, message: StoredMessage, properties: PropertiesCodec): void {
  const flags =
    (message.properties !== undefined ? HAS_PROPERTIES : 0) | (message.expiresAt !== undefined ? HAS_EXPIRY : 0);
  w.u8(flags);
  if (message.expiresAt !== undefined) w.f64(message.expiresAt);
  w.string(message.topic);
  if (message.properties !== undefined) {
    const bytes = properties.encode(message.properties);
    w.u32(bytes.length);
    w.bytes(bytes);
  }
  w.bytes(message.payload);
}

function writeSubscriptionIds(w: ByteWriter, ids: number[]): void {
  w.u16(ids.length);
  for (const id of ids) w.u32(id);
}

/** An in-flight row's value; `shared` is the id of the message's shared body, 0 to write it inline. */
export function writeInflight(
  w: ByteWriter,
  record: InflightRecord,
  shared: number,
  properties: PropertiesCodec,
): void {
  const message = record.message;
  const ids = record.subscriptionIdentifiers;
  w.ensure(11);
  const buf = w.buf;
  let at = w.length;
  buf[at++] = STATE_CODE[record.state];
  buf[at++] = record.qos;
  buf[at++] =
    (record.retain ? RETAIN : 0) |
    (message === undefined ? 0 : shared ? SHARED : INLINE) |
    (ids !== undefined ? SUBSCRIPTION_IDS : 0);
  w.length = buf.writeDoubleLE(record.seq, at);
  if (ids !== undefined) writeSubscriptionIds(w, ids);
  if (message === undefined) return;
  if (shared) w.f64(shared);
  w.u8(message.qos);
  w.u8(message.retain ? 1 : 0);
  if (!shared) writeBody(w, message, properties);
}

/** A queue row's value; `shared` as for writeInflight. */
export function writeQueued(w: ByteWriter, message: QueuedMessage, shared: number, properties: PropertiesCodec): void {
  const ids = message.subscriptionIdentifiers;
  w.u8(message.qos);
  w.u8((message.retain ? RETAIN : 0) | (shared ? SHARED : 0) | (ids !== undefined ? SUBSCRIPTION_IDS : 0));
  if (ids !== undefined) writeSubscriptionIds(w, ids);
  if (shared) w.f64(shared);
  else writeBody(w, message, properties);
}

/** A body as read back; `payload` is a view of the row's bytes. */
export type Body = Pick<StoredMessage, 'topic' | 'payload' | 'properties' | 'expiresAt'>;

export function readBody(buf: Buffer, at: number): Body {
  const flags = buf[at++]!;
  let expiresAt: number | undefined;
  if (flags & HAS_EXPIRY) {
    expiresAt = buf.readDoubleLE(at);
    at += 8;
  }
  const topicBytes = buf.readUInt32LE(at);
  at += 4;
  const topic = buf.toString('utf8', at, at + topicBytes);
  at += topicBytes;
  let properties: StoredMessage['properties'];
  if (flags & HAS_PROPERTIES) {
    const bytes = buf.readUInt32LE(at);
    at += 4;
    properties = deserialize(buf.subarray(at, at + bytes)) as StoredMessage['properties'];
    at += bytes;
  }
  const body: Body = { topic, payload: buf.subarray(at) };
  if (properties !== undefined) body.properties = properties;
  if (expiresAt !== undefined) body.expiresAt = expiresAt;
  return body;
}

function readSubscriptionIds(buf: Buffer, at: number): number[] {
  const count = buf.readUInt16LE(at);
  const ids: number[] = new Array(count);
  for (let i = 0; i < count; i++) ids[i] = buf.readUInt32LE(at + 2 + 4 * i);
  return ids;
}

/** The parts of an in-flight value; `body` is the inline message's body, `shared` the id of a shared one. */
export interface InflightParts {
  seq: number;
  state: InflightState;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers?: number[];
  shared: number;
  messageQos?: QoS;
  messageRetain?: boolean;
  body?: Body;
}

export function readInflight(buf: Buffer): InflightParts {
  const flags = buf[2]!;
  const parts: InflightParts = {
    state: STATES[buf[0]!]!,
    qos: buf[1] as QoS,
    retain: (flags & RETAIN) !== 0,
    seq: buf.readDoubleLE(3),
    shared: 0,
  };
  let at = 11;
  if (flags & SUBSCRIPTION_IDS) {
    parts.subscriptionIdentifiers = readSubscriptionIds(buf, at);
    at += 2 + 4 * parts.subscriptionIdentifiers.length;
  }
  if (flags & SHARED) {
    parts.shared = buf.readDoubleLE(at);
    at += 8;
  }
  if (flags & (SHARED | INLINE)) {
    parts.messageQos = buf[at] as QoS;
    parts.messageRetain = buf[at + 1] === 1;
    at += 2;
  }
  if (flags & INLINE) parts.body = readBody(buf, at);
  return parts;
}

export interface QueuedParts {
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers?: number[];
  shared: number;
  body?: Body;
}

export function readQueued(buf: Buffer): QueuedParts {
  const flags = buf[1]!;
  const parts: QueuedParts = { qos: buf[0] as QoS, retain: (flags & RETAIN) !== 0, shared: 0 };
  let at = 2;
  if (flags & SUBSCRIPTION_IDS) {
    parts.subscriptionIdentifiers = readSubscriptionIds(buf, at);
    at += 2 + 4 * parts.subscriptionIdentifiers.length;
  }
  if (flags & SHARED) parts.shared = buf.readDoubleLE(at);
  else parts.body = readBody(buf, at);
  return parts;
}

/** The shared body an in-flight value references, 0 when none (read without decoding the rest). */
export function inflightShared(buf: Buffer): number {
  const flags = buf[2]!;
  if (!(flags & SHARED)) return 0;
  return buf.readDoubleLE(flags & SUBSCRIPTION_IDS ? 13 + 4 * buf.readUInt16LE(11) : 11);
}

/** The shared body a queue value references, 0 when none. */
export function queuedShared(buf: Buffer): number {
  const flags = buf[1]!;
  if (!(flags & SHARED)) return 0;
  return buf.readDoubleLE(flags & SUBSCRIPTION_IDS ? 4 + 4 * buf.readUInt16LE(2) : 2);
}
