// The data representations of section 1.5 (both specifications): two and four byte integers,
// variable byte integers, UTF-8 encoded strings and binary data.

import * as nodeBuffer from 'node:buffer';
import { MqttError } from './errors.js';
import { ReasonCode } from './reason-codes.js';

/** The largest value a variable byte integer can hold (section 1.5.5). */
export const MAX_VARIABLE_BYTE_INTEGER = 268_435_455;
/** The largest Remaining Length plus the largest fixed header: 1 + 4 + 268,435,455. */
export const MAX_PACKET_SIZE = 268_435_460;
/** The longest UTF-8 string or binary data field (a two byte length prefix). */
export const MAX_STRING_BYTES = 65_535;

/** A fatal decoder rejects what isUtf8 rejects; used where `buffer.isUtf8` is missing (browser bundles). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Whether `buf[start..end)` is well-formed UTF-8: no overlong forms, no encoded surrogates
 * (ED A0..BF), nothing above U+10FFFF. Node's simdutf-backed `isUtf8` where available.
 */
export function isWellFormedUtf8(buf: Uint8Array, start = 0, end = buf.length): boolean {
  const bytes = buf.subarray(start, end);
  if (typeof nodeBuffer.isUtf8 === 'function') return nodeBuffer.isUtf8(bytes);
  return isWellFormedUtf8ByDecoder(bytes);
}

/** The fallback of isWellFormedUtf8, exported so that tests hold it to the same cases. */
export function isWellFormedUtf8ByDecoder(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** How many bytes a value takes as a variable byte integer (1..4). */
export function variableByteIntegerLength(value: number): number {
  if (value < 128) return 1;
  if (value < 16_384) return 2;
  if (value < 2_097_152) return 3;
  return 4;
}

/** Writes `value` as a minimal variable byte integer at `offset`; returns the offset after it. */
export function writeVariableByteInteger(buf: Buffer, offset: number, value: number): number {
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value > 0) byte |= 0x80;
    buf[offset++] = byte;
  } while (value > 0);
  return offset;
}

/** Encodes a variable byte integer into a new buffer. Throws MqttError 0x81 when out of range. */
export function encodeVariableByteInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARIABLE_BYTE_INTEGER) {
    throw new MqttError(ReasonCode.MalformedPacket, `variable byte integer out of range: ${value}`);
  }
  const buf = Buffer.allocUnsafe(variableByteIntegerLength(value));
  writeVariableByteInteger(buf, 0, value);
  return buf;
}

/**
 * The result of reading a variable byte integer: `value` and the number of bytes it took, or
 * `length` 0 when the bytes end before the integer does.
 */
export interface VariableByteInteger {
  value: number;
  length: number;
}

/**
 * Reads a variable byte integer from `buf[offset..end)`. Returns length 0 when more bytes are needed.
 * Throws MqttError 0x81 on a fifth byte ([MQTT-1.5.5-1] at most four bytes) and on a non-minimal
 * encoding ([MQTT-1.5.5-1] "MUST use the minimum number of bytes necessary").
 */
export function decodeVariableByteInteger(buf: Buffer, offset = 0, end = buf.length): VariableByteInteger {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= end) return { value: 0, length: 0 };
    const byte = buf[offset + i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      // A final byte of 0 after a continuation byte means a shorter encoding existed.
      if (byte === 0 && i > 0) {
        throw new MqttError(ReasonCode.MalformedPacket, 'variable byte integer is not minimally encoded');
      }
      return { value, length: i + 1 };
    }
    multiplier *= 128;
  }
  throw new MqttError(ReasonCode.MalformedPacket, 'variable byte integer longer than four bytes');
}

/**
 * Checks `buf[start..end)` as an MQTT UTF-8 string: well-formed UTF-8 without surrogates or
 * overlong forms ([MQTT-1.5.4-1], [MQTT-1.5.3-1]) and without U+0000 ([MQTT-1.5.4-2], [MQTT-1.5.3-2]).
 */
export function isValidMqttUtf8(buf: Buffer, start = 0, end = buf.length): boolean {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if (byte === 0) return false;
    if (byte > 0x7f) ascii = false;
  }
  return ascii || isWellFormedUtf8(buf, start, end);
}

/**
 * Decodes `buf[start..end)` as an MQTT UTF-8 string, or throws MqttError 0x81 when it is not one.
 * ASCII takes the latin1 path, which is the fastest decoder Node has. A leading U+FEFF is kept
 * ([MQTT-1.5.4-3] must not be skipped or stripped).
 */
export function decodeUtf8(buf: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if (byte === 0) throw new MqttError(ReasonCode.MalformedPacket, 'UTF-8 string contains U+0000');
    if (byte > 0x7f) ascii = false;
  }
  if (ascii) return buf.toString('latin1', start, end);
  if (!isWellFormedUtf8(buf, start, end)) {
    throw new MqttError(ReasonCode.MalformedPacket, 'UTF-8 string is not well-formed');
  }
  return buf.toString('utf8', start, end);
}

/**
 * Checks a string the encoder is about to write: no U+0000 and no lone surrogate, which would not
 * survive the trip to UTF-8. Returns its UTF-8 length, or throws MqttError 0x81 when the string
 * cannot be written or is longer than 65,535 bytes.
 */
export function utf8LengthOf(value: string, field: string): number {
  if (typeof value !== 'string') throw new MqttError(ReasonCode.MalformedPacket, `${field} must be a string`);
  const length = Buffer.byteLength(value, 'utf8');
  if (length > MAX_STRING_BYTES) {
    throw new MqttError(ReasonCode.MalformedPacket, `${field} is ${length} bytes, more than 65535`);
  }
  if (value.includes('\u0000')) throw new MqttError(ReasonCode.MalformedPacket, `${field} contains U+0000`);
  if (length !== value.length && !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new MqttError(ReasonCode.MalformedPacket, `${field} contains a lone surrogate`);
  }
  return length;
}

type FastWriteBuffer = Buffer & {
  latin1Write(value: string, offset: number): number;
  utf8Write(value: string, offset: number): number;
};

/**
 * Writes `value`, whose UTF-8 length is `byteLength`, at `offset`; returns the bytes written. An ASCII string
 * (byte length equal to its length) takes the latin1 path, which skips UTF-8 transcoding: `buf.write(value,
 * offset, 'utf8')` costs several times more on the short topic strings of every PUBLISH.
 */
export function writeStringBytes(buf: Buffer, offset: number, value: string, byteLength: number): number {
  const fast = buf as FastWriteBuffer;
  if (byteLength !== value.length) return fast.utf8Write(value, offset);
  if (byteLength < 24) {
    for (let i = 0; i < byteLength; i++) buf[offset + i] = value.charCodeAt(i);
    return byteLength;
  }
  return fast.latin1Write(value, offset);
}

/**
 * The UTF-8 length of a PUBLISH topic name, refusing wildcards [MQTT-3.3.2-2] and what utf8LengthOf refuses. One
 * scan decides the common all-ASCII case without transcoding; anything else goes the general way.
 */
export function topicNameLengthOf(topic: string): number {
  if (typeof topic !== 'string') throw new MqttError(ReasonCode.MalformedPacket, 'topic must be a string');
  const length = topic.length;
  if (length > MAX_STRING_BYTES) return utf8LengthOf(topic, 'topic');
  for (let i = 0; i < length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) {
      throw new MqttError(ReasonCode.MalformedPacket, '[MQTT-3.3.2-2] topic name contains a wildcard');
    }
    if (c === 0 || c > 0x7f) return utf8LengthOf(topic, 'topic');
  }
  return length;
}
