// The MQTT encoder: one packet in, its exact bytes out. Every packet's length is computed first and
// its buffer allocated once; nothing is concatenated. What cannot be encoded throws MqttError.

import { MqttError } from './errors.js';
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  ProtocolVersion,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from './packets.js';
import {
  MAX_STRING_BYTES,
  MAX_VARIABLE_BYTE_INTEGER,
  topicNameLengthOf,
  utf8LengthOf,
  variableByteIntegerLength,
  writeStringBytes,
  writeVariableByteInteger,
} from './primitives.js';
import { propertiesLength, WILL_PROPERTIES, writeProperties, writeUtf8 } from './properties.js';
import { connackReturnCodeFor, ReasonCode, ReasonCodesByPacket } from './reason-codes.js';

/** Fan-out fast path: a PUBLISH encoded once and shared by many receivers. */
export interface EncodedPublish {
  bytes: Buffer;
  /** offset of the 2-byte packet identifier, -1 for QoS 0 */
  packetIdOffset: number;
  /** Set once `bytes` themselves carry a receiver's packet identifier (see takeWithPacketId). */
  taken?: boolean;
}

function invalid(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, message);
}

function checkPacketId(id: number | undefined): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 65_535) {
    throw invalid(`[MQTT-2.2.1-3] packet identifier must be 1..65535, not ${String(id)}`);
  }
  return id;
}

function checkUint16(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 65_535) throw invalid(`${name} must be 0..65535`);
  return value;
}

function checkByte(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw invalid(`${name} must be 0..255`);
  return value;
}

/** [MQTT-3.4.2-1] and its siblings: an MQTT 5 sender uses only the reason codes of the packet. */
function checkReasonCode(allowed: ReadonlySet<number>, code: number, packet: string): number {
  if (!allowed.has(code)) throw invalid(`reason code ${String(code)} is not valid in ${packet}`);
  return code;
}

function binaryOf(name: string, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (!Buffer.isBuffer(bytes)) throw invalid(`${name} must be a Buffer`);
  if (bytes.length > MAX_STRING_BYTES) throw invalid(`${name} is longer than 65535 bytes`);
  return bytes;
}

/** The size of a Property Length and the properties it counts. */
function withLength(propsLength: number): number {
  return variableByteIntegerLength(propsLength) + propsLength;
}

/** Allocates the whole packet and writes its fixed header; the body starts at 1 + vbiLength(remaining). */
function allocate(first: number, remaining: number): Buffer {
  if (remaining > MAX_VARIABLE_BYTE_INTEGER) {
    throw new MqttError(ReasonCode.PacketTooLarge, `remaining length ${remaining} exceeds 268435455`);
  }
  const buf = Buffer.allocUnsafe(1 + variableByteIntegerLength(remaining) + remaining);
  buf[0] = first;
  writeVariableByteInteger(buf, 1, remaining);
  return buf;
}

/** Small fixed packets (acks, pings) without an intermediate array. */
function bytes2(b0: number, b1: number): Buffer {
  const buf = Buffer.allocUnsafe(2);
  buf[0] = b0;
  buf[1] = b1;
  return buf;
}

function bytes4(b0: number, b1: number, b2: number, b3: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf[0] = b0;
  buf[1] = b1;
  buf[2] = b2;
  buf[3] = b3;
  return buf;
}

function bodyStart(remaining: number): number {
  return 1 + variableByteIntegerLength(remaining);
}

/**
 * Encodes one packet, exact to the spec (minimal variable byte integers, stable property order).
 * Throws MqttError on packets that cannot be encoded.
 */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  switch (packet.type) {
    case 'publish':
      return encodePublish(packet, protocolVersion, true);
    case 'puback':
      return encodeAck(packet, 0x40, 4, protocolVersion);
    case 'pubrec':
      return encodeAck(packet, 0x50, 5, protocolVersion);
    case 'pubrel':
      return encodeAck(packet, 0x62, 6, protocolVersion);
    case 'pubcomp':
      return encodeAck(packet, 0x70, 7, protocolVersion);
    case 'connect':
      return encodeConnect(packet, protocolVersion);
    case 'connack':
      return encodeConnack(packet, protocolVersion);
    case 'subscribe':
      return encodeSubscribe(packet, protocolVersion);
    case 'suback':
      return encodeSuback(packet, protocolVersion);
    case 'unsubscribe':
      return encodeUnsubscribe(packet, protocolVersion);
    case 'unsuback':
      return encodeUnsuback(packet, protocolVersion);
    case 'pingreq':
      return bytes2(0xc0, 0x00);
    case 'pingresp':
      return bytes2(0xd0, 0x00);
    case 'disconnect':
      return encodeDisconnectOrAuth(packet, 0xe0, 14, protocolVersion);
    case 'auth':
      if (protocolVersion < 5) throw invalid('AUTH exists only in MQTT 5');
      return encodeDisconnectOrAuth(packet, 0xf0, 15, protocolVersion);
    default:
      throw invalid(`unknown packet type ${String((packet as { type: unknown }).type)}`);
  }
}

function encodeConnect(packet: ConnectPacket, version: ProtocolVersion): Buffer {
  const v5 = version === 5;
  const name = version === 3 ? 'MQIsdp' : 'MQTT';
  const clientIdLength = utf8LengthOf(packet.clientId, 'clientId');
  const keepAlive = checkUint16('keepAlive', packet.keepAlive);
  const propsLength = v5 ? propertiesLength(packet.properties, 1) : 0;
  let flags = packet.clean ? 0x02 : 0;
  let remaining = 2 + name.length + 1 + 1 + 2 + (v5 ? withLength(propsLength) : 0) + 2 + clientIdLength;

  const will = packet.will;
  let willTopicLength = 0;
  let willPayload: Buffer | undefined;
  let willPropsLength = 0;
  if (will !== undefined) {
    willTopicLength = utf8LengthOf(will.topic, 'will topic');
    willPayload = binaryOf('will payload', will.payload);
    if (will.qos !== 0 && will.qos !== 1 && will.qos !== 2) throw invalid('[MQTT-3.1.2-14] will QoS must be 0, 1 or 2');
    if (v5) willPropsLength = propertiesLength(will.properties, WILL_PROPERTIES);
    flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
    remaining += (v5 ? withLength(willPropsLength) : 0) + 2 + willTopicLength + 2 + willPayload.length;
  }
  let usernameLength = 0;
  if (packet.username !== undefined) {
    usernameLength = utf8LengthOf(packet.username, 'username');
    flags |= 0x80;
    remaining += 2 + usernameLength;
  }
  let password: Buffer | undefined;
  if (packet.password !== undefined) {
    if (!v5 && packet.username === undefined)
      throw invalid('[MQTT-3.1.2-22] a password needs a user name before MQTT 5');
    password = binaryOf('password', packet.password);
    flags |= 0x40;
    remaining += 2 + password.length;
  }

  const buf = allocate(0x10, remaining);
  let pos = bodyStart(remaining);
  pos = writeUtf8(buf, pos, name);
  buf[pos++] = version;
  buf[pos++] = flags;
  pos = buf.writeUInt16BE(keepAlive, pos);
  if (v5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  pos = writeUtf8(buf, pos, packet.clientId);
  if (will !== undefined && willPayload !== undefined) {
    if (v5) pos = writeProperties(buf, pos, will.properties, willPropsLength);
    pos = writeUtf8(buf, pos, will.topic);
    pos = buf.writeUInt16BE(willPayload.length, pos);
    pos += willPayload.copy(buf, pos);
  }
  if (packet.username !== undefined) pos = writeUtf8(buf, pos, packet.username);
  if (password !== undefined) {
    pos = buf.writeUInt16BE(password.length, pos);
    password.copy(buf, pos);
  }
  return buf;
}

function encodeConnack(packet: ConnackPacket, version: ProtocolVersion): Buffer {
  let reasonCode = checkByte('reasonCode', packet.reasonCode);
  if (version < 5 && reasonCode >= 0x80) {
    // An MQTT 5 refusal becomes the nearest 3.1.1 return code (section 3.2.2.3 knows only 0..5).
    reasonCode = connackReturnCodeFor(reasonCode);
  }
  // MQTT 3.1 has no Session Present flag: the whole first byte is reserved. A refusal never has a
  // session ([MQTT-3.2.2-4] in 3.1.1, [MQTT-3.2.2-6] in 5.0).
  const flags = version > 3 && reasonCode === 0 && packet.sessionPresent ? 1 : 0;
  if (version < 5) {
    return bytes4(0x20, 0x02, flags, reasonCode);
  }
  checkReasonCode(ReasonCodesByPacket.connack, reasonCode, 'CONNACK');
  const propsLength = propertiesLength(packet.properties, 2);
  const remaining = 2 + withLength(propsLength);
  const buf = allocate(0x20, remaining);
  let pos = bodyStart(remaining);
  buf[pos++] = flags;
  buf[pos++] = reasonCode;
  writeProperties(buf, pos, packet.properties, propsLength);
  return buf;
}

function encodePublish(packet: PublishPacket, version: ProtocolVersion, requireId: boolean): Buffer {
  const { topic, payload, qos } = packet;
  const topicLength = topicNameLengthOf(topic);
  if (!Buffer.isBuffer(payload)) throw invalid('payload must be a Buffer');
  let first = 0x30;
  if (qos === 1) first |= 0x02;
  else if (qos === 2) first |= 0x04;
  else if (qos !== 0) throw invalid(`[MQTT-3.3.1-4] QoS must be 0, 1 or 2, not ${String(qos)}`);
  if (packet.retain) first |= 0x01;
  // [MQTT-3.3.1-2] DUP is 0 on every QoS 0 message.
  if (packet.dup && qos > 0) first |= 0x08;
  let remaining = 2 + topicLength + payload.length;
  let packetId = 0;
  if (qos > 0) {
    if (requireId || packet.packetId !== undefined) packetId = checkPacketId(packet.packetId);
    remaining += 2;
  }
  let propsLength = 0;
  const properties = packet.properties;
  if (version === 5) {
    if (properties !== undefined) propsLength = propertiesLength(properties, 3);
    remaining += variableByteIntegerLength(propsLength) + propsLength;
    if (topicLength === 0 && properties?.topicAlias === undefined) {
      throw invalid('an empty topic name needs a topic alias');
    }
  } else if (topicLength === 0) {
    throw invalid('[MQTT-4.7.3-1] empty topic name');
  }
  const buf = allocate(first, remaining);
  let pos = bodyStart(remaining);
  pos = buf.writeUInt16BE(topicLength, pos);
  pos += writeStringBytes(buf, pos, topic, topicLength);
  if (qos > 0) {
    buf[pos++] = packetId >> 8;
    buf[pos++] = packetId & 0xff;
  }
  if (version === 5) {
    if (propsLength === 0) buf[pos++] = 0;
    else pos = writeProperties(buf, pos, properties, propsLength);
  }
  payload.copy(buf, pos);
  return buf;
}

function encodeAck(
  packet: AckPacket<'puback' | 'pubrec' | 'pubrel' | 'pubcomp'>,
  first: number,
  context: number,
  version: ProtocolVersion,
): Buffer {
  const packetId = checkUint16('packetId', packet.packetId);
  const reasonCode =
    version === 5 ? checkReasonCode(ReasonCodesByPacket[packet.type], packet.reasonCode ?? 0, packet.type) : 0;
  const propsLength = version === 5 ? propertiesLength(packet.properties, context) : 0;
  // [MQTT-3.4.2-1] and its siblings: Success without properties is the two-byte short form.
  if (propsLength === 0) {
    if (reasonCode === 0) return bytes4(first, 0x02, packetId >> 8, packetId & 0xff);
    const buf = Buffer.allocUnsafe(5);
    buf[0] = first;
    buf[1] = 0x03;
    buf[2] = packetId >> 8;
    buf[3] = packetId & 0xff;
    buf[4] = reasonCode;
    return buf;
  }
  const remaining = 3 + withLength(propsLength);
  const buf = allocate(first, remaining);
  let pos = bodyStart(remaining);
  pos = buf.writeUInt16BE(packetId, pos);
  buf[pos++] = reasonCode;
  writeProperties(buf, pos, packet.properties, propsLength);
  return buf;
}

function encodeSubscribe(packet: SubscribePacket, version: ProtocolVersion): Buffer {
  const packetId = checkPacketId(packet.packetId);
  const subscriptions = packet.subscriptions;
  if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
    throw invalid('[MQTT-3.8.3-3] SUBSCRIBE needs at least one topic filter');
  }
  const propsLength = version === 5 ? propertiesLength(packet.properties, 8) : 0;
  let remaining = 2 + (version === 5 ? withLength(propsLength) : 0);
  for (const sub of subscriptions) {
    const length = utf8LengthOf(sub.topicFilter, 'topic filter');
    if (length === 0) throw invalid('[MQTT-4.7.3-1] empty topic filter');
    if (sub.qos !== 0 && sub.qos !== 1 && sub.qos !== 2) throw invalid('subscription QoS must be 0, 1 or 2');
    const rh = sub.retainHandling ?? 0;
    if (rh !== 0 && rh !== 1 && rh !== 2) throw invalid('retain handling must be 0, 1 or 2');
    remaining += 3 + length;
  }
  const buf = allocate(0x82, remaining);
  let pos = bodyStart(remaining);
  pos = buf.writeUInt16BE(packetId, pos);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  for (const sub of subscriptions) {
    pos = writeUtf8(buf, pos, sub.topicFilter);
    let options: number = sub.qos;
    if (version === 5) {
      if (sub.noLocal) options |= 0x04;
      if (sub.retainAsPublished) options |= 0x08;
      options |= (sub.retainHandling ?? 0) << 4;
    }
    buf[pos++] = options;
  }
  return buf;
}

function encodeSuback(packet: SubackPacket, version: ProtocolVersion): Buffer {
  const packetId = checkUint16('packetId', packet.packetId);
  const codes = packet.reasonCodes;
  if (!Array.isArray(codes) || codes.length === 0) throw invalid('SUBACK needs at least one reason code');
  const propsLength = version === 5 ? propertiesLength(packet.properties, 9) : 0;
  const remaining = 2 + (version === 5 ? withLength(propsLength) : 0) + codes.length;
  const buf = allocate(0x90, remaining);
  let pos = bodyStart(remaining);
  pos = buf.writeUInt16BE(packetId, pos);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  for (const code of codes) {
    if (version === 5) checkReasonCode(ReasonCodesByPacket.suback, code, 'SUBACK');
    else if (checkByte('SUBACK return code', code) > 2 && code < 0x80) throw invalid(`SUBACK return code ${code}`);
    // [MQTT-3.9.3-2] 3.1.1 knows only 0, 1, 2 and 0x80: every MQTT 5 failure becomes 0x80.
    buf[pos++] = version < 5 && code >= 0x80 ? 0x80 : code;
  }
  return buf;
}

function encodeUnsubscribe(packet: UnsubscribePacket, version: ProtocolVersion): Buffer {
  const packetId = checkPacketId(packet.packetId);
  const filters = packet.topicFilters;
  if (!Array.isArray(filters) || filters.length === 0) {
    throw invalid('[MQTT-3.10.3-2] UNSUBSCRIBE needs at least one topic filter');
  }
  const propsLength = version === 5 ? propertiesLength(packet.properties, 10) : 0;
  let remaining = 2 + (version === 5 ? withLength(propsLength) : 0);
  for (const filter of filters) {
    const length = utf8LengthOf(filter, 'topic filter');
    if (length === 0) throw invalid('[MQTT-4.7.3-1] empty topic filter');
    remaining += 2 + length;
  }
  const buf = allocate(0xa2, remaining);
  let pos = bodyStart(remaining);
  pos = buf.writeUInt16BE(packetId, pos);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  for (const filter of filters) pos = writeUtf8(buf, pos, filter);
  return buf;
}

function encodeUnsuback(packet: UnsubackPacket, version: ProtocolVersion): Buffer {
  const packetId = checkUint16('packetId', packet.packetId);
  if (version < 5) return bytes4(0xb0, 0x02, packetId >> 8, packetId & 0xff);
  const codes = packet.reasonCodes;
  if (!Array.isArray(codes) || codes.length === 0) throw invalid('an MQTT 5 UNSUBACK needs at least one reason code');
  const propsLength = propertiesLength(packet.properties, 11);
  const remaining = 2 + withLength(propsLength) + codes.length;
  const buf = allocate(0xb0, remaining);
  let pos = bodyStart(remaining);
  pos = buf.writeUInt16BE(packetId, pos);
  pos = writeProperties(buf, pos, packet.properties, propsLength);
  for (const code of codes) buf[pos++] = checkReasonCode(ReasonCodesByPacket.unsuback, code, 'UNSUBACK');
  return buf;
}

function encodeDisconnectOrAuth(
  packet: DisconnectPacket | AuthPacket,
  first: number,
  context: number,
  version: ProtocolVersion,
): Buffer {
  if (version < 5) return bytes2(first, 0x00);
  const reasonCode = checkReasonCode(ReasonCodesByPacket[packet.type], packet.reasonCode ?? 0, packet.type);
  const propsLength = propertiesLength(packet.properties, context);
  // [MQTT-3.14.2-1] / section 3.15.2.1: Success without properties is Remaining Length 0.
  if (propsLength === 0) {
    if (reasonCode === 0) return bytes2(first, 0x00);
    const buf = Buffer.allocUnsafe(3);
    buf[0] = first;
    buf[1] = 0x01;
    buf[2] = reasonCode;
    return buf;
  }
  const remaining = 1 + withLength(propsLength);
  const buf = allocate(first, remaining);
  const pos = bodyStart(remaining);
  buf[pos] = reasonCode;
  writeProperties(buf, pos + 1, packet.properties, propsLength);
  return buf;
}

/**
 * Fan-out fast path: a PUBLISH encoded once and shared by many receivers. For QoS 1 and 2 the
 * packet identifier may be absent (written as 0) and is filled in per receiver by withPacketId.
 */
export function encodePublishShared(packet: PublishPacket, protocolVersion: ProtocolVersion): EncodedPublish {
  const bytes = encodePublish(packet, protocolVersion, false);
  if (packet.qos === 0) return { bytes, packetIdOffset: -1, taken: false };
  let pos = 1;
  while ((bytes[pos]! & 0x80) !== 0) pos++;
  pos++;
  const topicLength = (bytes[pos]! << 8) | bytes[pos + 1]!;
  return { bytes, packetIdOffset: pos + 2 + topicLength, taken: false };
}

/**
 * Like withPacketId, but the first caller gets the shared buffer itself with its packet identifier written in:
 * a message with one receiver (the common case) is then encoded once and never copied. Later callers get copies,
 * which withPacketId patches, so what the first one was handed is never changed afterwards.
 */
export function takeWithPacketId(encoded: EncodedPublish, packetId: number, dup: boolean): Buffer {
  const offset = encoded.packetIdOffset;
  if (offset < 0 || encoded.taken) return withPacketId(encoded, packetId, dup);
  checkPacketId(packetId);
  encoded.taken = true;
  const bytes = encoded.bytes;
  bytes[offset] = packetId >> 8;
  bytes[offset + 1] = packetId & 0xff;
  if (dup) bytes[0] = bytes[0]! | 0x08;
  else bytes[0] = bytes[0]! & 0xf7;
  return bytes;
}

/**
 * The shared bytes with another packet identifier (a copy, or the same buffer for QoS 0). DUP is set
 * when `dup` is true, cleared when false, and left as encoded when undefined.
 */
export function withPacketId(encoded: EncodedPublish, packetId: number, dup?: boolean): Buffer {
  const offset = encoded.packetIdOffset;
  if (offset < 0) return encoded.bytes;
  checkPacketId(packetId);
  const source = encoded.bytes;
  const bytes = Buffer.allocUnsafe(source.length);
  source.copy(bytes);
  bytes[offset] = packetId >> 8;
  bytes[offset + 1] = packetId & 0xff;
  if (dup === true) bytes[0] = source[0]! | 0x08;
  else if (dup === false) bytes[0] = source[0]! & 0xf7;
  return bytes;
}
