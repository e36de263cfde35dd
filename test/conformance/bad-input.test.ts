// Protocol violations fed to the broker, MQTT 5.0 and 3.1.1: the violator gets the right reason code (DISCONNECT,
// or CONNACK before one was sent, on 5.0; a plain close on 3.1.1), only its connection closes, and the other
// clients keep working ([MQTT-4.13.1-1], [MQTT-4.13.2-1] in 5.0; [MQTT-4.8.0-1] in 3.1.1).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrokerOptions } from '../../src/broker/broker.js';
import type { ProtocolVersion } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, type Peer } from './raw-client.js';

/** A packet from its first byte and body (remaining length below 16384). */
function frame(first: number, body: number[]): number[] {
  const length = body.length < 128 ? [body.length] : [(body.length & 0x7f) | 0x80, body.length >> 7];
  return [first, ...length, ...body];
}

function str(s: string): number[] {
  const bytes = [...Buffer.from(s)];
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** A PUBLISH body: topic, packet identifier when QoS > 0, MQTT 5 properties, payload. */
function publishBody(
  topic: number[],
  packetId: number | undefined,
  properties: number[] | undefined,
  payload = [0x78],
): number[] {
  const id = packetId === undefined ? [] : [packetId >> 8, packetId & 0xff];
  const props = properties === undefined ? [] : [properties.length, ...properties];
  return [...topic, ...id, ...props, ...payload];
}

const MALFORMED = ReasonCode.MalformedPacket;
const PROTOCOL = ReasonCode.ProtocolError;

interface Case {
  name: string;
  version: ProtocolVersion;
  options?: BrokerOptions;
  /** Bytes sent after a successful CONNECT (or instead of it with `beforeConnect`). */
  bytes: number[] | ((peer: Peer) => number[]);
  beforeConnect?: boolean;
  /** 5.0: the accepted DISCONNECT (or CONNACK) reason codes; the first is what the statement names. */
  codes?: number[];
  connect?: Record<string, unknown>;
  /** Packets the broker may legitimately send before the DISCONNECT (e.g. PUBRECs before 0x93). */
  before?: number;
}

const v5Props = (p: number[]) => p;

const cases: Case[] = [
  // ---- MQTT 5.0 ----
  {
    name: '[MQTT-3.1.0-2] 5.0: a second CONNECT is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: (peer) => [...peer.connectBytes()],
    codes: [PROTOCOL],
  },
  {
    name: '[MQTT-3.1.0-1] [MQTT-3.14.0-1] 5.0: PUBLISH before CONNECT closes the connection without a CONNACK',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x30, publishBody(str('a/b'), undefined, [])),
  },
  {
    name: '[MQTT-3.3.2-12] 5.0: Topic Alias 0 is a Topic Alias Invalid: DISCONNECT 0x94',
    version: 5,
    bytes: frame(0x30, publishBody(str('a/b'), undefined, v5Props([0x23, 0x00, 0x00]))),
    codes: [ReasonCode.TopicAliasInvalid, MALFORMED, PROTOCOL],
  },
  {
    name: '[MQTT-3.2.2-17] [MQTT-3.3.2-9] 5.0: a Topic Alias above the Topic Alias Maximum: DISCONNECT 0x94',
    version: 5,
    options: { topicAliasMaximum: 2 },
    bytes: frame(0x30, publishBody(str('a/b'), undefined, [0x23, 0x00, 0x03])),
    codes: [ReasonCode.TopicAliasInvalid],
  },
  {
    name: '[MQTT-3.2.2-18] 5.0: a Topic Alias when the server announced Topic Alias Maximum 0: DISCONNECT 0x94',
    version: 5,
    options: { topicAliasMaximum: 0 },
    bytes: frame(0x30, publishBody(str('a/b'), undefined, [0x23, 0x00, 0x01])),
    codes: [ReasonCode.TopicAliasInvalid],
  },
  {
    name: '3.3.2.3.4 5.0: an empty topic with an unmapped Topic Alias is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0x30, publishBody(str(''), undefined, [0x23, 0x00, 0x01])),
    codes: [PROTOCOL],
  },
  {
    name: '3.3.2.1 5.0: an empty topic without a Topic Alias is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0x30, publishBody(str(''), undefined, [])),
    codes: [PROTOCOL, MALFORMED, ReasonCode.TopicNameInvalid],
  },
  {
    name: '[MQTT-3.3.4-7] 5.0: more QoS 2 PUBLISH in flight than the Receive Maximum: DISCONNECT 0x93',
    version: 5,
    options: { receiveMaximum: 2 },
    bytes: [1, 2, 3].flatMap((id) => frame(0x34, publishBody(str('rm/t'), id, []))),
    codes: [ReasonCode.ReceiveMaximumExceeded],
    before: 2,
  },
  {
    name: '[MQTT-3.2.2-15] 5.0: a packet over the server Maximum Packet Size: DISCONNECT 0x95',
    version: 5,
    options: { maxPacketSize: 100 },
    bytes: frame(0x30, publishBody(str('big'), undefined, [], new Array(200).fill(1))),
    codes: [ReasonCode.PacketTooLarge],
  },
  {
    name: '[MQTT-1.5.5-1] 5.0: a Remaining Length of more than four bytes is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.3.1-4] 5.0: a PUBLISH with QoS 3 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x36, publishBody(str('a'), 1, [])),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.3.1-2] 5.0: DUP 1 on a QoS 0 PUBLISH is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x38, publishBody(str('a'), undefined, [])),
    codes: [MALFORMED, PROTOCOL],
  },
  {
    name: '[MQTT-3.3.4-6] 5.0: a Subscription Identifier in a client PUBLISH is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0x30, publishBody(str('a'), undefined, [0x0b, 0x01])),
    codes: [PROTOCOL],
  },
  {
    name: '[MQTT-1.5.4-1] [MQTT-3.3.2-1] 5.0: a topic that is not well-formed UTF-8 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x30, publishBody([0x00, 0x02, 0xc3, 0x28], undefined, [])),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-1.5.4-2] 5.0: a topic with U+0000 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x30, publishBody([0x00, 0x03, 0x61, 0x00, 0x62], undefined, [])),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.3.2-2] [MQTT-4.7.0-1] 5.0: a topic name with a wildcard is refused: DISCONNECT 0x90 (or 0x81/0x82)',
    version: 5,
    bytes: frame(0x30, publishBody(str('a/+'), undefined, [])),
    codes: [ReasonCode.TopicNameInvalid, MALFORMED, PROTOCOL],
  },
  {
    name: '[MQTT-2.1.3-1] [MQTT-3.8.1-1] 5.0: SUBSCRIBE with reserved flags 0000 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x80, [0x00, 0x01, 0x00, ...str('a'), 0x00]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.6.1-1] 5.0: PUBREL with reserved flags 0000 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x60, [0x00, 0x01]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.8.3-2] 5.0: SUBSCRIBE without a topic filter is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0x82, [0x00, 0x01, 0x00]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '[MQTT-3.8.3-5] 5.0: SUBSCRIBE with reserved Subscription Options bits set is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x82, [0x00, 0x01, 0x00, ...str('a'), 0xc0]),
    codes: [MALFORMED],
  },
  {
    name: '3.8.3.1 5.0: Retain Handling 3 is a Protocol Error: DISCONNECT 0x82 (or 0x81)',
    version: 5,
    bytes: frame(0x82, [0x00, 0x01, 0x00, ...str('a'), 0x30]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '3.8.2.1.2 5.0: Subscription Identifier 0 is a Protocol Error: DISCONNECT 0x82 (or 0x81)',
    version: 5,
    bytes: frame(0x82, [0x00, 0x01, 0x02, 0x0b, 0x00, ...str('a'), 0x00]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '[MQTT-3.10.3-2] 5.0: UNSUBSCRIBE without a topic filter is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0xa2, [0x00, 0x01, 0x00]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '[MQTT-2.2.1-3] 5.0: a QoS 1 PUBLISH with packet identifier 0 is refused: DISCONNECT 0x82 (or 0x81)',
    version: 5,
    bytes: frame(0x32, publishBody(str('a'), 0, [])),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '2.2.2.2 5.0: a property included twice is a Protocol Error: DISCONNECT 0x82 (or 0x81)',
    version: 5,
    bytes: frame(0x30, publishBody(str('a'), undefined, [0x01, 0x01, 0x01, 0x01])),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '2.2.2.2 5.0: a property not allowed in PUBLISH (Session Expiry Interval) is malformed: DISCONNECT 0x81 (or 0x82)',
    version: 5,
    bytes: frame(0x30, publishBody(str('a'), undefined, [0x11, 0, 0, 0, 1])),
    codes: [MALFORMED, PROTOCOL],
  },
  {
    name: '[MQTT-1.5.4-1] 5.0: a packet shorter than its fields is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x30, [0x00, 0x09, 0x61]),
    codes: [MALFORMED],
  },
  {
    name: '3.2 5.0: a client sending CONNACK is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0x20, [0x00, 0x00, 0x00]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '3.13 5.0: a client sending PINGRESP is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: [0xd0, 0x00],
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '[MQTT-3.2.2-11] 5.0: a PUBLISH above Maximum QoS: DISCONNECT 0x9B',
    version: 5,
    options: { maximumQoS: 1 },
    bytes: frame(0x34, publishBody(str('a'), 1, [])),
    codes: [ReasonCode.QoSNotSupported],
  },
  {
    name: '[MQTT-3.2.2-14] 5.0: RETAIN 1 when Retain Available is 0: DISCONNECT 0x9A',
    version: 5,
    options: { retainAvailable: false },
    bytes: frame(0x31, publishBody(str('a'), undefined, [])),
    codes: [ReasonCode.RetainNotSupported],
  },
  {
    name: '[MQTT-4.12.0-6] 5.0: AUTH on a connection without an Authentication Method is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0xf0, [0x19, 0x00]),
    codes: [PROTOCOL],
  },
  {
    name: '3.14.2.2.2 5.0: DISCONNECT setting a Session Expiry Interval after CONNECT sent 0 is a Protocol Error: DISCONNECT 0x82',
    version: 5,
    bytes: frame(0xe0, [0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3c]),
    codes: [PROTOCOL],
  },
  {
    name: '[MQTT-4.13.1-1] 5.0: packet type 0 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: [0x00, 0x00],
    codes: [MALFORMED],
  },
  {
    name: '3.1.2.11.3 5.0: Receive Maximum 0 in CONNECT is a Protocol Error: CONNACK 0x82 or a close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00, ...str('a')]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '3.1.2.11.4 5.0: Maximum Packet Size 0 in CONNECT is a Protocol Error: CONNACK 0x82 or a close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00, ...str('a')]),
    codes: [PROTOCOL, MALFORMED],
  },
  {
    name: '[MQTT-3.1.2-3] [MQTT-3.1.4-1] 5.0: a CONNECT with the reserved flag set is malformed: close (CONNACK 0x81 allowed)',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x03, 0x00, 0x00, 0x00, ...str('a')]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.2-11] [MQTT-3.1.2-13] 5.0: Will QoS or Will Retain without the Will Flag is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x22, 0x00, 0x00, 0x00, ...str('a')]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.2-12] 5.0: Will QoS 3 is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x1e, 0x00, 0x00, 0x00, ...str('a'), 0x00, ...str('w'), ...str('p')]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.3-4] 5.0: a ClientID that is not UTF-8 is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xfe]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.14.1-1] 5.0: DISCONNECT with reserved flags set is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: [0xe1, 0x00],
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.15.1-1] 5.0: AUTH with reserved flags set is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: [0xf1, 0x00],
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.10.1-1] 5.0: UNSUBSCRIBE with reserved flags 0000 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0xa0, [0x00, 0x01, 0x00, ...str('a')]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-4.7.3-2] 5.0: a topic filter with U+0000 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x82, [0x00, 0x01, 0x00, 0x00, 0x03, 0x61, 0x00, 0x62, 0x00]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.3-11] 5.0: a Will Topic that is not UTF-8 is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [
      ...str('MQTT'),
      0x05,
      0x06,
      0x00,
      0x00,
      0x00,
      ...str('a'),
      0x00,
      0x00,
      0x01,
      0xff,
      ...str('p'),
    ]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.3-12] 5.0: a User Name that is not UTF-8 is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x82, 0x00, 0x00, 0x00, ...str('a'), 0x00, 0x01, 0xc0]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.8.3-1] 5.0: a topic filter that is not UTF-8 is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: frame(0x82, [0x00, 0x01, 0x00, 0x00, 0x02, 0xc3, 0x28, 0x00]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.2-16] 5.0: a User Name present without the User Name Flag is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x00, ...str('a'), ...str('user')]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-3.1.2-18] 5.0: a Password present without the Password Flag is malformed: close',
    version: 5,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x05, 0x82, 0x00, 0x00, 0x00, ...str('a'), ...str('user'), ...str('pw')]),
    codes: [MALFORMED],
  },
  {
    name: '[MQTT-2.1.3-1] 5.0: a PINGREQ with a body is malformed: DISCONNECT 0x81',
    version: 5,
    bytes: [0xc0, 0x01, 0x00],
    codes: [MALFORMED],
  },
  // ---- MQTT 3.1.1 ----
  {
    name: '[MQTT-3.1.0-2] 3.1.1: a second CONNECT closes the connection',
    version: 4,
    bytes: (peer) => peer.connectBytes(),
  },
  {
    name: '[MQTT-3.1.0-1] 3.1.1: PUBLISH before CONNECT closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x30, publishBody(str('a/b'), undefined, undefined)),
  },
  {
    name: '[MQTT-3.3.1-4] 3.1.1: a PUBLISH with QoS 3 closes the connection',
    version: 4,
    bytes: frame(0x36, publishBody(str('a'), 1, undefined)),
  },
  {
    name: '[MQTT-2.2.2-1] [MQTT-2.2.2-2] [MQTT-3.8.1-1] 3.1.1: invalid reserved flags (SUBSCRIBE 0x80) close the connection',
    version: 4,
    bytes: frame(0x80, [0x00, 0x01, ...str('a'), 0x00]),
  },
  {
    name: '[MQTT-3.6.1-1] 3.1.1: PUBREL with reserved flags 0000 closes the connection',
    version: 4,
    bytes: frame(0x60, [0x00, 0x01]),
  },
  {
    name: '[MQTT-1.5.3-1] [MQTT-3.3.2-1] 3.1.1: ill-formed UTF-8 in a topic closes the connection',
    version: 4,
    bytes: frame(0x30, publishBody([0x00, 0x02, 0xed, 0xa0], undefined, undefined)),
  },
  {
    name: '[MQTT-1.5.3-2] [MQTT-4.7.3-2] 3.1.1: U+0000 in a topic closes the connection',
    version: 4,
    bytes: frame(0x30, publishBody([0x00, 0x01, 0x00], undefined, undefined)),
  },
  {
    name: '[MQTT-3.3.2-2] [MQTT-4.7.1-1] 3.1.1: a topic name with a wildcard closes the connection',
    version: 4,
    bytes: frame(0x30, publishBody(str('a/#'), undefined, undefined)),
  },
  {
    name: '[MQTT-4.7.3-1] 3.1.1: an empty topic name closes the connection',
    version: 4,
    bytes: frame(0x30, publishBody(str(''), undefined, undefined)),
  },
  {
    name: '[MQTT-3.8.3-3] 3.1.1: SUBSCRIBE without a topic filter closes the connection',
    version: 4,
    bytes: frame(0x82, [0x00, 0x01]),
  },
  {
    name: '[MQTT-3.8.3-4] 3.1.1: reserved bits in the requested QoS byte close the connection',
    version: 4,
    bytes: frame(0x82, [0x00, 0x01, ...str('a'), 0x04]),
  },
  {
    name: '[MQTT-3.8.3-4] 3.1.1: a requested QoS of 3 closes the connection',
    version: 4,
    bytes: frame(0x82, [0x00, 0x01, ...str('a'), 0x03]),
  },
  {
    name: '[MQTT-3.10.3-2] 3.1.1: UNSUBSCRIBE without a topic filter closes the connection',
    version: 4,
    bytes: frame(0xa2, [0x00, 0x01]),
  },
  {
    name: '[MQTT-2.3.1-1] 3.1.1: a QoS 1 PUBLISH with packet identifier 0 closes the connection',
    version: 4,
    bytes: frame(0x32, publishBody(str('a'), 0, undefined)),
  },
  {
    name: '[MQTT-4.8.0-1] 3.1.1: packet type 15 (AUTH in 5.0) is reserved and closes the connection',
    version: 4,
    bytes: [0xf0, 0x00],
  },
  {
    name: '[MQTT-4.8.0-1] 3.1.1: a client sending SUBACK closes the connection',
    version: 4,
    bytes: frame(0x90, [0x00, 0x01, 0x00]),
  },
  {
    name: '[MQTT-4.8.0-1] 3.1.1: a Remaining Length of five bytes closes the connection',
    version: 4,
    bytes: [0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
  },
  {
    name: '[MQTT-3.14.1-1] 3.1.1: DISCONNECT with reserved flags set closes the connection',
    version: 4,
    bytes: [0xe2, 0x00],
  },
  {
    name: '[MQTT-3.10.1-1] 3.1.1: UNSUBSCRIBE with reserved flags 0000 closes the connection',
    version: 4,
    bytes: frame(0xa0, [0x00, 0x01, ...str('a')]),
  },
  {
    name: '[MQTT-1.5.3-2] 3.1.1: U+0000 in a topic filter closes the connection',
    version: 4,
    bytes: frame(0x82, [0x00, 0x01, 0x00, 0x03, 0x61, 0x00, 0x62, 0x00]),
  },
  {
    name: '[MQTT-3.1.3-10] 3.1.1: a Will Topic that is not UTF-8 closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x06, 0x00, 0x00, ...str('a'), 0x00, 0x01, 0xff, ...str('p')]),
  },
  {
    name: '[MQTT-3.1.3-11] 3.1.1: a User Name that is not UTF-8 closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x82, 0x00, 0x00, ...str('a'), 0x00, 0x01, 0xc0]),
  },
  {
    name: '[MQTT-3.8.3-1] 3.1.1: a topic filter that is not UTF-8 closes the connection',
    version: 4,
    bytes: frame(0x82, [0x00, 0x01, 0x00, 0x02, 0xc3, 0x28, 0x00]),
  },
  {
    name: '[MQTT-3.1.3-4] 3.1.1: a ClientId that is not UTF-8 closes the connection without CONNACK',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x02, 0x00, 0x00, 0x00, 0x02, 0xff, 0xfe]),
  },
  {
    name: '[MQTT-3.1.2-18] 3.1.1: a user name present without the User Name Flag closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x02, 0x00, 0x00, ...str('a'), ...str('user')]),
  },
  {
    name: '[MQTT-3.1.2-20] 3.1.1: a password present without the Password Flag closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x82, 0x00, 0x00, ...str('a'), ...str('user'), ...str('pw')]),
  },
  {
    name: '[MQTT-4.8.0-1] 3.1.1: a PINGREQ with a body closes the connection',
    version: 4,
    bytes: [0xc0, 0x01, 0x00],
  },
  {
    name: '[MQTT-3.1.2-3] [MQTT-3.1.4-1] [MQTT-3.2.2-6] 3.1.1: a CONNECT with the reserved flag set closes the connection without CONNACK',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x03, 0x00, 0x00, ...str('a')]),
  },
  {
    name: '[MQTT-3.1.2-22] 3.1.1: a password without a user name closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x42, 0x00, 0x00, ...str('a'), ...str('pw')]),
  },
  {
    name: '[MQTT-3.1.2-11] [MQTT-3.1.2-15] 3.1.1: Will Retain without the Will Flag closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x22, 0x00, 0x00, ...str('a')]),
  },
  {
    name: '[MQTT-3.1.2-14] 3.1.1: Will QoS 3 closes the connection',
    version: 4,
    beforeConnect: true,
    bytes: frame(0x10, [...str('MQTT'), 0x04, 0x1e, 0x00, 0x00, ...str('a'), ...str('w'), ...str('p')]),
  },
];

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('protocol violations, MQTT 5.0 and 3.1.1', { concurrency: true }, () => {
  for (const c of cases) {
    test(c.name, async (t) => {
      const bench = await Bench.open(t, c.options);
      // A bystander pair that must keep working.
      const watcher = await bench.connected('watcher', c.version);
      await watcher.subscribe('alive/t', 1);
      const violator = bench.peer(c.version);
      if (!c.beforeConnect) {
        const connack = await violator.connect({ clientId: 'violator' });
        assert.equal(connack.reasonCode, 0);
      }
      violator.sendRaw(typeof c.bytes === 'function' ? c.bytes(violator) : c.bytes);
      for (let i = 0; i < (c.before ?? 0); i++) await violator.next();
      if (c.version === 5 && c.codes) {
        if (c.beforeConnect) {
          // Before CONNACK: a refusing CONNACK or a plain close.
          await violator.waitClosed();
          const first = violator.queue[0];
          if (first) {
            assert.equal(first.type, 'connack', `only CONNACK may answer a bad CONNECT, got ${first.type}`);
            assert.ok(
              first.type === 'connack' && c.codes.includes(first.reasonCode),
              `CONNACK 0x${first.type === 'connack' ? first.reasonCode.toString(16) : ''}`,
            );
            assert.equal(violator.queue.length, 1);
          }
        } else {
          const packet = await violator.expect('disconnect');
          const code = packet.reasonCode ?? 0;
          assert.ok(
            c.codes.includes(code),
            `DISCONNECT 0x${code.toString(16)}, expected 0x${(c.codes[0] ?? 0).toString(16)}`,
          );
          await violator.waitClosed();
        }
      } else {
        // 3.1.1 (and 5.0 before CONNECT): the connection is closed, and nothing is sent for the violation.
        await violator.waitClosed();
        const expectedBytes = c.beforeConnect ? 0 : 4; // the CONNACK, when there was one
        assert.equal(violator.bytes.length, expectedBytes, `bytes sent: ${violator.bytes.toString('hex')}`);
      }
      // Only that connection: the bystanders still exchange a QoS 1 message.
      const publisher = await bench.connected('publisher', c.version);
      publisher.publish({ topic: 'alive/t', qos: 1, packetId: 1, payload: Buffer.from('still here') });
      await publisher.expect('puback');
      assert.equal((await watcher.expect('publish')).payload.toString(), 'still here');
    });
  }
});
