// Reads the body of one MQTT packet whose fixed header has been checked: the per-packet formats of
// section 3 of both specifications. Used by the streaming Decoder; pure and allocation-light.

import { MqttError } from './errors.js';
import type {
  AckPacket,
  ConnackPacket,
  ConnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubscribePacket,
  Subscription,
  WillMessage,
} from './packets.js';
import { isWellFormedUtf8 } from './primitives.js';
import { decodeProperties, WILL_PROPERTIES } from './properties.js';
import { ReasonCode, ReasonCodesByPacket } from './reason-codes.js';

/** The protocol name and level of a CONNECT refused with 0x84 Unsupported Protocol Version. */
export interface UnsupportedProtocol {
  protocolName: string;
  protocolLevel: number;
}

function malformed(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, message);
}

function protocolError(message: string): MqttError {
  return new MqttError(ReasonCode.ProtocolError, message);
}

const ACK_TYPES = [undefined, undefined, undefined, undefined, 'puback', 'pubrec', 'pubrel', 'pubcomp'] as const;

/**
 * The reserved fixed-header flags of each packet type (section 2.1.3), -1 for PUBLISH whose flags
 * carry DUP, QoS and RETAIN. Index 0 is the reserved packet type.
 */
const FIXED_FLAGS = [-2, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/**
 * Checks the first byte of a fixed header before anything else of the packet is read: the packet
 * type exists at this protocol level, its reserved flags are as specified ([MQTT-2.1.3-1]), and a
 * connection whose level is not known yet starts with CONNECT.
 */
export function checkFirstByte(first: number, version: ProtocolVersion | undefined): void {
  const type = first >> 4;
  const flags = first & 0x0f;
  if (type === 0) throw malformed('packet type 0 is reserved');
  if (version === undefined && type !== 1) throw protocolError('the first packet must be CONNECT');
  // AUTH exists only in MQTT 5; before that, type 15 is reserved.
  if (type === 15 && version !== undefined && version < 5) throw malformed('packet type 15 is reserved before MQTT 5');
  const expected = FIXED_FLAGS[type]!;
  if (expected >= 0 && flags !== expected) {
    // [MQTT-2.1.3-1], [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
    throw malformed(`reserved flags of packet type ${type} must be ${expected}, not ${flags}`);
  }
  if (type === 3) {
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw malformed('[MQTT-3.3.1-4] PUBLISH with QoS 3');
    if (qos === 0 && (flags & 8) !== 0) throw malformed('[MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH');
  }
}

/**
 * Reads the body of one packet from `buf[pos..end)`. One reader serves a decoder for its lifetime,
 * so decoding allocates nothing but the packets themselves.
 */
export class PacketReader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  /** The topic name of the last PUBLISH read (ASCII only), reused while the next one has the same bytes. */
  private lastTopic = '';
  /** Set when a CONNECT names a protocol this reader does not speak. */
  refusedProtocol: UnsupportedProtocol | undefined;

  /**
   * Decodes the packet whose first byte is `first` (already checked by checkFirstByte) and whose body
   * is `buf[start..end)`.
   */
  read(first: number, buf: Buffer, start: number, end: number, version: ProtocolVersion | undefined): Packet {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    const type = first >> 4;
    const v = version ?? 5;
    let packet: Packet;
    switch (type) {
      case 1:
        packet = this.connect();
        break;
      case 2:
        packet = this.connack(v);
        break;
      case 3:
        packet = this.publish(first, v);
        break;
      case 4:
      case 5:
      case 6:
      case 7:
        packet = this.ack(type, v);
        break;
      case 8:
        packet = this.subscribe(v);
        break;
      case 9:
        packet = this.suback(v);
        break;
      case 10:
        packet = this.unsubscribe(v);
        break;
      case 11:
        packet = this.unsuback(v);
        break;
      case 12:
        packet = { type: 'pingreq' };
        break;
      case 13:
        packet = { type: 'pingresp' };
        break;
      case 14:
        packet = this.disconnect(v);
        break;
      default:
        packet = this.auth();
        break;
    }
    if (this.pos !== this.end) throw malformed(`${packet.type} has ${this.end - this.pos} bytes past its end`);
    this.buf = EMPTY;
    return packet;
  }

  private byte(): number {
    if (this.pos >= this.end) throw malformed('packet shorter than its fields');
    return this.buf[this.pos++]!;
  }

  private uint16(): number {
    const pos = this.pos;
    if (pos + 2 > this.end) throw malformed('packet shorter than its fields');
    this.pos = pos + 2;
    return (this.buf[pos]! << 8) | this.buf[pos + 1]!;
  }

  private packetId(): number {
    const id = this.uint16();
    if (id === 0) throw malformed('[MQTT-2.2.1-3] packet identifier 0');
    return id;
  }

  /**
   * A UTF-8 string (section 1.5.4); `topic` also rejects the wildcards + and #, and gives back the previous
   * topic's string when the bytes are the same (a client mostly publishes to a few topics: no new string each time).
   */
  private string(topic = false): string {
    const len = this.uint16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw malformed('string runs past the end of the packet');
    const buf = this.buf;
    const last = this.lastTopic;
    let same = topic && last.length === len;
    let ascii = true;
    for (let i = start; i < end; i++) {
      const byte = buf[i]!;
      if (byte === 0) throw malformed('[MQTT-1.5.4-2] string contains U+0000');
      if (byte > 0x7f) ascii = false;
      else if (topic && (byte === 0x23 || byte === 0x2b)) {
        throw malformed('[MQTT-3.3.2-2] topic name contains a wildcard');
      }
      if (same && last.charCodeAt(i - start) !== byte) same = false;
    }
    this.pos = end;
    if (ascii) {
      if (same) return last;
      const text = buf.toString('latin1', start, end);
      if (topic) this.lastTopic = text;
      return text;
    }
    if (!isWellFormedUtf8(buf, start, end)) throw malformed('[MQTT-1.5.4-1] string is not well-formed UTF-8');
    return buf.toString('utf8', start, end);
  }

  /** Binary data (section 1.5.6), copied: it belongs to packets that outlive their chunk. */
  private binary(): Buffer {
    const len = this.uint16();
    const start = this.pos;
    if (start + len > this.end) throw malformed('binary data runs past the end of the packet');
    this.pos = start + len;
    return Buffer.from(this.buf.subarray(start, start + len));
  }

  private variableByteInteger(): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      const byte = this.byte();
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw malformed('[MQTT-1.5.5-1] variable byte integer is not minimal');
        return value;
      }
      multiplier *= 128;
    }
    throw malformed('[MQTT-1.5.5-1] variable byte integer longer than four bytes');
  }

  /** A Property Length and the properties after it; undefined when there are none. */
  private properties(context: number): Properties | undefined {
    const len = this.variableByteInteger();
    if (len === 0) return undefined;
    const start = this.pos;
    if (start + len > this.end) throw malformed('properties run past the end of the packet');
    this.pos = start + len;
    return decodeProperties(this.buf, start, start + len, context);
  }

  private connect(): ConnectPacket {
    const protocolName = this.string();
    const level = this.byte();
    if (!((protocolName === 'MQTT' && (level === 4 || level === 5)) || (protocolName === 'MQIsdp' && level === 3))) {
      // [MQTT-3.1.2-1], [MQTT-3.1.2-2]. What was asked for stays readable (Decoder.unsupportedProtocol),
      // so a server can refuse in a form the client reads: CONNACK 0x01 for 3.1/3.1.1, 0x84 for MQTT 5.
      this.refusedProtocol = { protocolName, protocolLevel: level };
      throw new MqttError(
        ReasonCode.UnsupportedProtocolVersion,
        `unsupported protocol ${JSON.stringify(protocolName)} level ${level}`,
      );
    }
    const version = level as ProtocolVersion;
    const flags = this.byte();
    // [MQTT-3.1.2-3] the reserved flag must be 0
    if ((flags & 0x01) !== 0) throw malformed('[MQTT-3.1.2-3] CONNECT reserved flag is set');
    const clean = (flags & 0x02) !== 0;
    const willFlag = (flags & 0x04) !== 0;
    const willQoS = (flags >> 3) & 3;
    const willRetain = (flags & 0x20) !== 0;
    const hasPassword = (flags & 0x40) !== 0;
    const hasUsername = (flags & 0x80) !== 0;
    // 3.1.1 [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-14], [MQTT-3.1.2-15];
    // 5.0 [MQTT-3.1.2-11], [MQTT-3.1.2-12], [MQTT-3.1.2-13].
    if (!willFlag && willQoS !== 0) throw malformed('will QoS set without the will flag');
    if (!willFlag && willRetain) throw malformed('will retain set without the will flag');
    if (willQoS === 3) throw malformed('will QoS 3');
    if (version < 5 && hasPassword && !hasUsername) {
      throw malformed('[MQTT-3.1.2-22] password flag set without the user name flag');
    }
    const keepAlive = this.uint16();
    const properties = version === 5 ? this.properties(1) : undefined;
    const clientId = this.string();
    const packet: ConnectPacket = {
      type: 'connect',
      protocolName,
      protocolVersion: version,
      clean,
      keepAlive,
      clientId,
    };
    if (willFlag) {
      const willProperties = version === 5 ? this.properties(WILL_PROPERTIES) : undefined;
      const will: WillMessage = {
        topic: this.string(),
        payload: this.binary(),
        qos: willQoS as QoS,
        retain: willRetain,
      };
      if (willProperties !== undefined) will.properties = willProperties;
      packet.will = will;
    }
    if (hasUsername) packet.username = this.string();
    if (hasPassword) packet.password = this.binary();
    if (properties !== undefined) packet.properties = properties;
    return packet;
  }

  private connack(version: ProtocolVersion): ConnackPacket {
    const ackFlags = this.byte();
    // [MQTT-3.2.2-1] bits 7..1 of the acknowledge flags are reserved; MQTT 3.1 reserves the whole byte.
    if (version > 3 && (ackFlags & 0xfe) !== 0) throw malformed('CONNACK reserved acknowledge flags are set');
    const packet: ConnackPacket = {
      type: 'connack',
      sessionPresent: version > 3 && (ackFlags & 1) !== 0,
      reasonCode: this.byte(),
    };
    // [MQTT-3.2.2-4] (3.1.1), [MQTT-3.2.2-6] (5.0): a refusal never comes with a session.
    if (packet.sessionPresent && packet.reasonCode !== 0) throw protocolError('CONNACK refuses but claims a session');
    if (version === 5) {
      checkReasonCode(ReasonCodesByPacket.connack, packet.reasonCode, 'CONNACK'); // [MQTT-3.2.2-8]
      const properties = this.properties(2);
      if (properties !== undefined) packet.properties = properties;
    }
    return packet;
  }

  private publish(first: number, version: ProtocolVersion): PublishPacket {
    const qos = ((first >> 1) & 3) as QoS;
    const topic = this.string(true);
    const packet: PublishPacket = {
      type: 'publish',
      topic,
      payload: EMPTY,
      qos,
      retain: (first & 1) !== 0,
      dup: (first & 8) !== 0,
    };
    if (qos > 0) packet.packetId = this.packetId();
    if (version === 5) {
      const properties = this.properties(3);
      if (properties !== undefined) packet.properties = properties;
      // Section 3.3.2.3.4: an empty topic name needs a Topic Alias.
      if (topic.length === 0 && properties?.topicAlias === undefined) {
        throw protocolError('empty topic name without a topic alias');
      }
    } else if (topic.length === 0) {
      throw malformed('[MQTT-4.7.3-1] empty topic name');
    }
    packet.payload = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return packet;
  }

  private ack(type: 4 | 5 | 6 | 7, version: ProtocolVersion): Packet {
    const packet: AckPacket<'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> = {
      type: ACK_TYPES[type],
      packetId: this.uint16(),
    };
    if (version === 5) {
      // Section 3.4.2.1 and its siblings: Remaining Length 2 means Success and no properties.
      const reasonCode = this.pos < this.end ? this.byte() : 0;
      // [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1]
      checkReasonCode(ReasonCodesByPacket[packet.type], reasonCode, packet.type.toUpperCase());
      packet.reasonCode = reasonCode;
      if (this.pos < this.end) {
        const properties = this.properties(type);
        if (properties !== undefined) packet.properties = properties;
      }
    }
    return packet as Packet;
  }

  private subscribe(version: ProtocolVersion): SubscribePacket {
    const packetId = this.packetId();
    const properties = version === 5 ? this.properties(8) : undefined;
    const subscriptions: Subscription[] = [];
    while (this.pos < this.end) {
      const topicFilter = this.string();
      if (topicFilter.length === 0) throw malformed('[MQTT-4.7.3-1] empty topic filter');
      const options = this.byte();
      const qos = options & 3;
      if (version < 5) {
        // [MQTT-3-8.3-4] reserved bits must be 0 and QoS must be 0, 1 or 2.
        if ((options & 0xfc) !== 0) throw malformed('[MQTT-3-8.3-4] SUBSCRIBE reserved option bits are set');
        if (qos === 3) throw malformed('[MQTT-3-8.3-4] SUBSCRIBE requests QoS 3');
        subscriptions.push({ topicFilter, qos: qos as QoS });
      } else {
        if ((options & 0xc0) !== 0) throw malformed('[MQTT-3.8.3-5] SUBSCRIBE reserved option bits are set');
        if (qos === 3) throw protocolError('SUBSCRIBE requests QoS 3');
        const retainHandling = (options >> 4) & 3;
        if (retainHandling === 3) throw protocolError('SUBSCRIBE with retain handling 3');
        subscriptions.push({
          topicFilter,
          qos: qos as QoS,
          noLocal: (options & 0x04) !== 0,
          retainAsPublished: (options & 0x08) !== 0,
          retainHandling: retainHandling as 0 | 1 | 2,
        });
      }
    }
    if (subscriptions.length === 0) {
      // [MQTT-3.8.3-3] (3.1.1) a protocol violation; MQTT 5 calls it a Protocol Error.
      if (version === 5) throw protocolError('[MQTT-3.8.3-2] SUBSCRIBE without topic filters');
      throw malformed('[MQTT-3.8.3-3] SUBSCRIBE without topic filters');
    }
    const packet: SubscribePacket = { type: 'subscribe', packetId, subscriptions };
    if (properties !== undefined) packet.properties = properties;
    return packet;
  }

  private suback(version: ProtocolVersion): Packet {
    const packetId = this.uint16();
    const properties = version === 5 ? this.properties(9) : undefined;
    const reasonCodes: number[] = [];
    while (this.pos < this.end) {
      const code = this.byte();
      // [MQTT-3.9.3-2] 3.1.1 return codes other than 0, 1, 2 and 0x80 are reserved.
      if (version < 5 && code > 2 && code !== 0x80) throw malformed(`[MQTT-3.9.3-2] SUBACK return code ${code}`);
      if (version === 5) checkReasonCode(ReasonCodesByPacket.suback, code, 'SUBACK');
      reasonCodes.push(code);
    }
    if (reasonCodes.length === 0) throw malformed('SUBACK without return codes');
    return properties === undefined
      ? { type: 'suback', packetId, reasonCodes }
      : { type: 'suback', packetId, reasonCodes, properties };
  }

  private unsubscribe(version: ProtocolVersion): Packet {
    const packetId = this.packetId();
    const properties = version === 5 ? this.properties(10) : undefined;
    const topicFilters: string[] = [];
    while (this.pos < this.end) {
      const filter = this.string();
      if (filter.length === 0) throw malformed('[MQTT-4.7.3-1] empty topic filter');
      topicFilters.push(filter);
    }
    if (topicFilters.length === 0) {
      if (version === 5) throw protocolError('[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters');
      throw malformed('[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters');
    }
    return properties === undefined
      ? { type: 'unsubscribe', packetId, topicFilters }
      : { type: 'unsubscribe', packetId, topicFilters, properties };
  }

  private unsuback(version: ProtocolVersion): Packet {
    const packetId = this.uint16();
    if (version < 5) return { type: 'unsuback', packetId, reasonCodes: [] };
    const properties = this.properties(11);
    const reasonCodes: number[] = [];
    while (this.pos < this.end) {
      const code = this.byte();
      checkReasonCode(ReasonCodesByPacket.unsuback, code, 'UNSUBACK');
      reasonCodes.push(code);
    }
    if (reasonCodes.length === 0) throw malformed('UNSUBACK without reason codes');
    return properties === undefined
      ? { type: 'unsuback', packetId, reasonCodes }
      : { type: 'unsuback', packetId, reasonCodes, properties };
  }

  private disconnect(version: ProtocolVersion): Packet {
    if (version < 5) return { type: 'disconnect' };
    // Section 3.14.2.1: Remaining Length 0 means Normal disconnection; 1 means no properties.
    const packet: Packet = { type: 'disconnect', reasonCode: this.pos < this.end ? this.byte() : 0 };
    checkReasonCode(ReasonCodesByPacket.disconnect, packet.reasonCode!, 'DISCONNECT'); // [MQTT-3.14.2-1]
    if (this.pos < this.end) {
      const properties = this.properties(14);
      if (properties !== undefined) packet.properties = properties;
    }
    return packet;
  }

  private auth(): Packet {
    // Section 3.15.2.1: Remaining Length 0 means Success and no properties.
    const packet: Packet = { type: 'auth', reasonCode: this.pos < this.end ? this.byte() : 0 };
    checkReasonCode(ReasonCodesByPacket.auth, packet.reasonCode!, 'AUTH'); // [MQTT-3.15.2-1]
    if (this.pos < this.end) {
      const properties = this.properties(15);
      if (properties !== undefined) packet.properties = properties;
    }
    return packet;
  }
}

const EMPTY = Buffer.alloc(0);

function checkReasonCode(allowed: ReadonlySet<number>, code: number, packet: string): void {
  if (!allowed.has(code)) {
    throw protocolError(`reason code 0x${code.toString(16).padStart(2, '0')} is not valid in ${packet}`);
  }
}
