// MQTT 5 properties (section 2.2.2): identifiers, data types, the packets each may appear in,
// and their decoding and encoding.

import { MqttError } from './errors.js';
import type { Properties, UserProperty } from './packets.js';
import {
  decodeUtf8,
  MAX_STRING_BYTES,
  MAX_VARIABLE_BYTE_INTEGER,
  utf8LengthOf,
  variableByteIntegerLength,
  writeStringBytes,
  writeVariableByteInteger,
} from './primitives.js';
import { ReasonCode } from './reason-codes.js';

/** The data type of a property value (section 1.5). */
export type PropertyType = 'byte' | 'uint16' | 'uint32' | 'varint' | 'string' | 'binary' | 'pair';

/**
 * Where properties appear: the fixed-header packet type number (1..15), or 0 for the Will
 * Properties of a CONNECT.
 */
export const WILL_PROPERTIES = 0;

export interface PropertyDefinition {
  id: number;
  name: keyof Properties;
  type: PropertyType;
  /** Bit n set when the property may appear in packet type n (bit 0: Will Properties). */
  allowedIn: number;
  /** Only 0 and 1 are valid values; others are a Protocol Error. */
  flag?: boolean;
  /** 0 is a Protocol Error. */
  nonZero?: boolean;
}

const CONNECT = 1 << 1;
const CONNACK = 1 << 2;
const PUBLISH = 1 << 3;
const PUBACK = 1 << 4;
const PUBREC = 1 << 5;
const PUBREL = 1 << 6;
const PUBCOMP = 1 << 7;
const SUBSCRIBE = 1 << 8;
const SUBACK = 1 << 9;
const UNSUBSCRIBE = 1 << 10;
const UNSUBACK = 1 << 11;
const DISCONNECT = 1 << 14;
const AUTH = 1 << 15;
const WILL = 1 << WILL_PROPERTIES;
const ACKS = PUBACK | PUBREC | PUBREL | PUBCOMP;

/** Every MQTT 5 property, in identifier order (the table of section 2.2.2.2). */
export const PROPERTY_DEFINITIONS: readonly PropertyDefinition[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', allowedIn: PUBLISH | WILL, flag: true },
  { id: 0x02, name: 'messageExpiryInterval', type: 'uint32', allowedIn: PUBLISH | WILL },
  { id: 0x03, name: 'contentType', type: 'string', allowedIn: PUBLISH | WILL },
  { id: 0x08, name: 'responseTopic', type: 'string', allowedIn: PUBLISH | WILL },
  { id: 0x09, name: 'correlationData', type: 'binary', allowedIn: PUBLISH | WILL },
  { id: 0x0b, name: 'subscriptionIdentifiers', type: 'varint', allowedIn: PUBLISH | SUBSCRIBE, nonZero: true },
  { id: 0x11, name: 'sessionExpiryInterval', type: 'uint32', allowedIn: CONNECT | CONNACK | DISCONNECT },
  { id: 0x12, name: 'assignedClientIdentifier', type: 'string', allowedIn: CONNACK },
  { id: 0x13, name: 'serverKeepAlive', type: 'uint16', allowedIn: CONNACK },
  { id: 0x15, name: 'authenticationMethod', type: 'string', allowedIn: CONNECT | CONNACK | AUTH },
  { id: 0x16, name: 'authenticationData', type: 'binary', allowedIn: CONNECT | CONNACK | AUTH },
  { id: 0x17, name: 'requestProblemInformation', type: 'byte', allowedIn: CONNECT, flag: true },
  { id: 0x18, name: 'willDelayInterval', type: 'uint32', allowedIn: WILL },
  { id: 0x19, name: 'requestResponseInformation', type: 'byte', allowedIn: CONNECT, flag: true },
  { id: 0x1a, name: 'responseInformation', type: 'string', allowedIn: CONNACK },
  { id: 0x1c, name: 'serverReference', type: 'string', allowedIn: CONNACK | DISCONNECT },
  {
    id: 0x1f,
    name: 'reasonString',
    type: 'string',
    allowedIn: CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
  },
  { id: 0x21, name: 'receiveMaximum', type: 'uint16', allowedIn: CONNECT | CONNACK, nonZero: true },
  { id: 0x22, name: 'topicAliasMaximum', type: 'uint16', allowedIn: CONNECT | CONNACK },
  { id: 0x23, name: 'topicAlias', type: 'uint16', allowedIn: PUBLISH },
  { id: 0x24, name: 'maximumQoS', type: 'byte', allowedIn: CONNACK, flag: true },
  { id: 0x25, name: 'retainAvailable', type: 'byte', allowedIn: CONNACK, flag: true },
  {
    id: 0x26,
    name: 'userProperties',
    type: 'pair',
    allowedIn:
      CONNECT | CONNACK | PUBLISH | WILL | ACKS | SUBSCRIBE | SUBACK | UNSUBSCRIBE | UNSUBACK | DISCONNECT | AUTH,
  },
  { id: 0x27, name: 'maximumPacketSize', type: 'uint32', allowedIn: CONNECT | CONNACK, nonZero: true },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', type: 'byte', allowedIn: CONNACK, flag: true },
  { id: 0x29, name: 'subscriptionIdentifiersAvailable', type: 'byte', allowedIn: CONNACK, flag: true },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', type: 'byte', allowedIn: CONNACK, flag: true },
];

const BY_ID: readonly (PropertyDefinition | undefined)[] = (() => {
  const table: (PropertyDefinition | undefined)[] = new Array(0x80).fill(undefined);
  for (const def of PROPERTY_DEFINITIONS) table[def.id] = def;
  return table;
})();

/** The definition of a property identifier, or undefined for an identifier MQTT 5 does not define. */
export function propertyDefinition(id: number): PropertyDefinition | undefined {
  return BY_ID[id];
}

/** Whether property `id` may appear in `context` (a packet type number, or WILL_PROPERTIES). */
export function isPropertyAllowed(id: number, context: number): boolean {
  const def = BY_ID[id];
  return def !== undefined && (def.allowedIn & (1 << context)) !== 0;
}

function malformed(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, message);
}

function protocolError(message: string): MqttError {
  return new MqttError(ReasonCode.ProtocolError, message);
}

/**
 * Decodes the properties in `buf[start..end)` (after the Property Length) that appear in `context`.
 * Throws MqttError 0x81 for an identifier not valid in that packet or a value that runs past `end`
 * (section 2.2.2.2), and 0x82 for a repeated single-valued property or a value out of its range.
 */
export function decodeProperties(buf: Buffer, start: number, end: number, context: number): Properties {
  const props: Properties = {};
  const record = props as Record<string, unknown>;
  let pos = start;
  while (pos < end) {
    // The identifier is a variable byte integer; every defined identifier fits in its first byte.
    const id = buf[pos++]!;
    const def = id < 0x80 ? BY_ID[id] : undefined;
    if (def === undefined || (def.allowedIn & (1 << context)) === 0) {
      throw malformed(`property 0x${id.toString(16).padStart(2, '0')} is not valid in this packet`);
    }
    let value: number;
    switch (def.type) {
      case 'byte':
        if (pos + 1 > end) throw malformed(`property ${def.name} is truncated`);
        value = buf[pos++]!;
        break;
      case 'uint16':
        if (pos + 2 > end) throw malformed(`property ${def.name} is truncated`);
        value = buf.readUInt16BE(pos);
        pos += 2;
        break;
      case 'uint32':
        if (pos + 4 > end) throw malformed(`property ${def.name} is truncated`);
        value = buf.readUInt32BE(pos);
        pos += 4;
        break;
      case 'varint': {
        let multiplier = 1;
        value = 0;
        for (let i = 0; ; i++) {
          if (i === 4) throw malformed(`property ${def.name} is longer than four bytes`);
          if (pos >= end) throw malformed(`property ${def.name} is truncated`);
          const byte = buf[pos++]!;
          value += (byte & 0x7f) * multiplier;
          if ((byte & 0x80) === 0) {
            if (byte === 0 && i > 0) throw malformed(`property ${def.name} is not minimally encoded`);
            break;
          }
          multiplier *= 128;
        }
        if (value === 0) throw protocolError(`property ${def.name} must not be 0`);
        // [MQTT-3.8.2.1.2] a SUBSCRIBE carries at most one Subscription Identifier; a PUBLISH may carry several.
        const ids = props.subscriptionIdentifiers;
        if (ids === undefined) props.subscriptionIdentifiers = [value];
        else if (context === 3) ids.push(value);
        else throw protocolError(`property ${def.name} included more than once`);
        continue;
      }
      case 'string': {
        if (pos + 2 > end) throw malformed(`property ${def.name} is truncated`);
        const len = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + len > end) throw malformed(`property ${def.name} is truncated`);
        if (record[def.name] !== undefined) throw protocolError(`property ${def.name} included more than once`);
        const value = decodeUtf8(buf, pos, pos + len);
        // [MQTT-3.3.2-14] a Response Topic is a topic name: no wildcards.
        if (def.id === 0x08 && hasWildcard(value)) throw protocolError('response topic contains a wildcard');
        record[def.name] = value;
        pos += len;
        continue;
      }
      case 'binary': {
        if (pos + 2 > end) throw malformed(`property ${def.name} is truncated`);
        const len = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + len > end) throw malformed(`property ${def.name} is truncated`);
        if (record[def.name] !== undefined) throw protocolError(`property ${def.name} included more than once`);
        // Binary properties outlive the chunk they came in (sessions, wills), so they are copied.
        record[def.name] = Buffer.from(buf.subarray(pos, pos + len));
        pos += len;
        continue;
      }
      case 'pair': {
        if (pos + 2 > end) throw malformed('user property name is truncated');
        const nameLen = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + nameLen + 2 > end) throw malformed('user property is truncated');
        const name = decodeUtf8(buf, pos, pos + nameLen);
        pos += nameLen;
        const valueLen = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + valueLen > end) throw malformed('user property value is truncated');
        const pair: UserProperty = [name, decodeUtf8(buf, pos, pos + valueLen)];
        pos += valueLen;
        // [MQTT-2.2.2.2] user properties may repeat, and their order is kept.
        if (props.userProperties === undefined) props.userProperties = [pair];
        else props.userProperties.push(pair);
        continue;
      }
    }
    if (record[def.name] !== undefined) throw protocolError(`property ${def.name} included more than once`);
    if (def.flag && value > 1) throw protocolError(`property ${def.name} must be 0 or 1, not ${value}`);
    if (def.nonZero && value === 0) throw protocolError(`property ${def.name} must not be 0`);
    record[def.name] = value;
  }
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    // [MQTT-3.1.2.11.10], [MQTT-3.2.2.3.18], [MQTT-3.15.2.2.3]: data without a method is a Protocol Error.
    throw protocolError('authenticationData without authenticationMethod');
  }
  return props;
}

function hasWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

function checkInteger(name: string, value: unknown, max: number, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw malformed(`property ${name} must be an integer in ${min}..${max}, not ${String(value)}`);
  }
  return value;
}

function checkBinary(name: string, value: unknown): Buffer {
  if (!Buffer.isBuffer(value)) throw malformed(`property ${name} must be a Buffer`);
  if (value.length > MAX_STRING_BYTES) throw malformed(`property ${name} is longer than 65535 bytes`);
  return value;
}

/**
 * The number of bytes `props` take when written in `context`, without the Property Length itself.
 * Validates every property: allowed in that packet, of the right type and range. Throws MqttError 0x81.
 */
export function propertiesLength(props: Properties | undefined, context: number): number {
  if (props === undefined) return 0;
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    throw malformed('authenticationData needs an authenticationMethod');
  }
  const record = props as Record<string, unknown>;
  let length = 0;
  for (const def of PROPERTY_DEFINITIONS) {
    const value = record[def.name];
    if (value === undefined) continue;
    if ((def.allowedIn & (1 << context)) === 0) {
      throw malformed(`property ${def.name} is not allowed in this packet`);
    }
    switch (def.type) {
      case 'byte':
        checkInteger(def.name, value, def.flag ? 1 : 255);
        length += 2;
        break;
      case 'uint16':
        // [MQTT-3.3.2-8] a sender never writes Topic Alias 0 (a receiver answers it with 0x94).
        checkInteger(def.name, value, 65_535, def.nonZero || def.id === 0x23 ? 1 : 0);
        length += 3;
        break;
      case 'uint32':
        checkInteger(def.name, value, 4_294_967_295, def.nonZero ? 1 : 0);
        length += 5;
        break;
      case 'varint': {
        if (!Array.isArray(value)) throw malformed(`property ${def.name} must be an array`);
        if (context !== 3 && value.length > 1) throw malformed(`property ${def.name} may appear once here`);
        for (const id of value) {
          length += 1 + variableByteIntegerLength(checkInteger(def.name, id, MAX_VARIABLE_BYTE_INTEGER, 1));
        }
        break;
      }
      case 'string':
        length += 3 + utf8LengthOf(value as string, def.name);
        if (def.id === 0x08 && hasWildcard(value as string)) {
          throw malformed('[MQTT-3.3.2-14] response topic contains a wildcard');
        }
        break;
      case 'binary':
        length += 3 + checkBinary(def.name, value).length;
        break;
      case 'pair': {
        if (!Array.isArray(value)) throw malformed('userProperties must be an array of [name, value]');
        for (const pair of value as UserProperty[]) {
          if (!Array.isArray(pair) || pair.length !== 2) throw malformed('a user property must be [name, value]');
          length += 5 + utf8LengthOf(pair[0], 'user property name') + utf8LengthOf(pair[1], 'user property value');
        }
        break;
      }
    }
  }
  return length;
}

/**
 * Writes the Property Length and the properties at `offset`, in identifier order (user properties in
 * their given order). `length` must come from propertiesLength. Returns the offset after them.
 */
export function writeProperties(buf: Buffer, offset: number, props: Properties | undefined, length: number): number {
  offset = writeVariableByteInteger(buf, offset, length);
  if (props === undefined || length === 0) return offset;
  const record = props as Record<string, unknown>;
  for (const def of PROPERTY_DEFINITIONS) {
    const value = record[def.name];
    if (value === undefined) continue;
    switch (def.type) {
      case 'byte':
        buf[offset++] = def.id;
        buf[offset++] = value as number;
        break;
      case 'uint16':
        buf[offset++] = def.id;
        offset = buf.writeUInt16BE(value as number, offset);
        break;
      case 'uint32':
        buf[offset++] = def.id;
        offset = buf.writeUInt32BE(value as number, offset);
        break;
      case 'varint':
        for (const id of value as number[]) {
          buf[offset++] = def.id;
          offset = writeVariableByteInteger(buf, offset, id);
        }
        break;
      case 'string':
        buf[offset++] = def.id;
        offset = writeUtf8(buf, offset, value as string);
        break;
      case 'binary': {
        const bytes = value as Buffer;
        buf[offset++] = def.id;
        offset = buf.writeUInt16BE(bytes.length, offset);
        offset += bytes.copy(buf, offset);
        break;
      }
      case 'pair':
        for (const [name, pairValue] of value as UserProperty[]) {
          buf[offset++] = def.id;
          offset = writeUtf8(buf, offset, name);
          offset = writeUtf8(buf, offset, pairValue);
        }
        break;
    }
  }
  return offset;
}

/** Writes a two-byte length and the UTF-8 bytes of `value`; returns the offset after them. */
export function writeUtf8(buf: Buffer, offset: number, value: string): number {
  const written = writeStringBytes(buf, offset + 2, value, Buffer.byteLength(value, 'utf8'));
  buf.writeUInt16BE(written, offset);
  return offset + 2 + written;
}
