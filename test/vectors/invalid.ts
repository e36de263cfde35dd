// Bytes the decoder must refuse, with the reason code and the normative statement each violates.
// 0x81 Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported Protocol Version.
// biome-ignore-all format: byte tables keep one field per line, with its comment

import { bin, type InvalidVector, str, text, u16, u32 } from './helpers.js';

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const UNSUPPORTED_VERSION = 0x84;

/** The start of a valid 3.1.1 CONNECT up to and including the connect flags. */
function connect311(flags: number, remaining: number): number[] {
  return [0x10, remaining, ...str('MQTT'), 0x04, flags];
}

export const invalidVectors: InvalidVector[] = [
  // Section 1.5: data representation
  {
    name: '[MQTT-1.5.5-1] remaining length with a fifth byte',
    version: 4,
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], // PUBLISH, remaining length continues past four bytes
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.5-1] remaining length not minimally encoded (0x80 0x00 for 0)',
    version: 4,
    bytes: [0xc0, 0x80, 0x00], // PINGREQ, remaining length 0 in two bytes
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.3-1] ill-formed UTF-8 in a topic name',
    version: 4,
    bytes: [0x30, 0x04, 0x00, 0x02, 0xc3, 0x28], // PUBLISH, topic: C3 28 is not UTF-8
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.3-1] a UTF-16 surrogate (U+D800) encoded in a topic name',
    version: 4,
    bytes: [0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80], // PUBLISH, topic: ED A0 80 = U+D800
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.4-1] an overlong UTF-8 encoding in a client identifier',
    version: undefined,
    bytes: [...connect311(0x02, 14), 0x00, 0x00, 0x00, 0x02, 0xc0, 0xaf], // client id C0 AF: overlong '/'
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.3-2] U+0000 in a topic name',
    version: 4,
    bytes: [0x30, 0x05, 0x00, 0x03, 0x61, 0x00, 0x62], // PUBLISH, topic 'a' NUL 'b'
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-1.5.4-2] U+0000 in a user property (MQTT 5)',
    version: 5,
    bytes: [0x40, 0x0b, 0x00, 0x01, 0x00, 0x07, 0x26, ...str('k'), 0x00, 0x01, 0x00], // PUBACK, user property k=NUL
    reasonCode: MALFORMED,
  },
  {
    name: 'string length runs past the end of the packet',
    version: 4,
    bytes: [0x30, 0x03, 0x00, 0x05, 0x61], // PUBLISH, topic length 5 but one byte follows
    reasonCode: MALFORMED,
  },

  // Section 2: fixed header, packet identifier, properties
  {
    name: '§2.2.1 packet type 0 is reserved',
    version: 4,
    bytes: [0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '§2.2.1 packet type 15 is reserved in 3.1.1',
    version: 4,
    bytes: [0xf0, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.2.2-2] CONNACK with reserved flags 0001',
    version: 4,
    bytes: [0x21, 0x02, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.1.3-1] PINGREQ with reserved flags 1000 (MQTT 5)',
    version: 5,
    bytes: [0xc8, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.1.3-1] CONNECT with reserved flags 0010',
    version: undefined,
    bytes: [0x12, 12, ...str('MQTT'), 0x04, 0x02, 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.6.1-1] PUBREL with flags 0000',
    version: 4,
    bytes: [0x60, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.1-1] SUBSCRIBE with flags 0000',
    version: 4,
    bytes: [0x80, 0x06, 0x00, 0x01, ...str('a'), 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.10.1-1] UNSUBSCRIBE with flags 0000',
    version: 4,
    bytes: [0xa0, 0x05, 0x00, 0x01, ...str('a')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.3.1-1] PUBLISH QoS 1 with packet identifier 0',
    version: 4,
    bytes: [0x32, 0x05, ...str('a'), 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.2.1-3] SUBSCRIBE with packet identifier 0 (MQTT 5)',
    version: 5,
    bytes: [0x82, 0x07, 0x00, 0x00, 0x00, ...str('a'), 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-2.3.1-1] UNSUBSCRIBE with packet identifier 0',
    version: 4,
    bytes: [0xa2, 0x05, 0x00, 0x00, ...str('a')],
    reasonCode: MALFORMED,
  },
  {
    name: '§2.2.2.2 a property not valid in the packet (Topic Alias in CONNECT)',
    version: undefined,
    bytes: [0x10, 16, ...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x03, 0x23, ...u16(1), ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '§2.2.2.2 an unknown property identifier (0x7F)',
    version: 5,
    bytes: [0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x7f, 0x00], // PUBACK with property 0x7F
    reasonCode: MALFORMED,
  },
  {
    name: '§2.2.2.2 Will Delay Interval outside the will properties (in PUBLISH)',
    version: 5,
    bytes: [0x30, 0x09, ...str('t'), 0x05, 0x18, ...u32(1)],
    reasonCode: MALFORMED,
  },
  {
    name: '§2.2.2.2 Session Expiry Interval twice in CONNECT is a Protocol Error',
    version: undefined,
    bytes: [0x10, 23, ...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x0a, 0x11, ...u32(1), 0x11, ...u32(2), ...str('')],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§2.2.2.2 Topic Alias twice in PUBLISH is a Protocol Error',
    version: 5,
    bytes: [0x30, 0x0a, ...str('t'), 0x06, 0x23, ...u16(1), 0x23, ...u16(2)],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§2.2.2.2 Reason String twice in PUBACK is a Protocol Error',
    version: 5,
    bytes: [0x40, 0x0c, 0x00, 0x01, 0x80, 0x08, 0x1f, ...str('a'), 0x1f, ...str('b')],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.8.2.1.2 Subscription Identifier twice in SUBSCRIBE is a Protocol Error',
    version: 5,
    bytes: [0x82, 0x0b, 0x00, 0x01, 0x04, 0x0b, 0x01, 0x0b, 0x02, ...str('a'), 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.3.2.3.8 Subscription Identifier 0 is a Protocol Error',
    version: 5,
    bytes: [0x30, 0x06, ...str('t'), 0x02, 0x0b, 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§1.5.5 Subscription Identifier longer than four bytes',
    version: 5,
    bytes: [0x30, 0x0a, ...str('t'), 0x06, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: '§3.1.2.11.3 Receive Maximum 0 is a Protocol Error',
    version: undefined,
    bytes: [0x10, 16, ...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x03, 0x21, ...u16(0), ...str('')],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.1.2.11.4 Maximum Packet Size 0 is a Protocol Error',
    version: undefined,
    bytes: [0x10, 18, ...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x05, 0x27, ...u32(0), ...str('')],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.3.2.3.2 Payload Format Indicator 2 is a Protocol Error',
    version: 5,
    bytes: [0x30, 0x06, ...str('t'), 0x02, 0x01, 0x02],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.2.2.3.4 Maximum QoS 2 is a Protocol Error',
    version: 5,
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.1.2.11.10 Authentication Data without an Authentication Method is a Protocol Error',
    version: undefined,
    bytes: [0x10, 17, ...str('MQTT'), 0x05, 0x02, 0x00, 0x00, 0x04, 0x16, ...bin([1]), ...str('')],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§2.2.2.1 property length runs past the end of the packet',
    version: 5,
    bytes: [0x40, 0x05, 0x00, 0x01, 0x00, 0x09, 0x1f], // PUBACK, property length 9, one byte follows
    reasonCode: MALFORMED,
  },
  {
    name: '§2.2.2.2 a property value cut short by the property length',
    version: 5,
    bytes: [0x40, 0x07, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x00, 0x01], // reason string of 1 byte, 0 left
    reasonCode: MALFORMED,
  },

  // Section 3: packet formats
  {
    name: '[MQTT-3.1.0-1] the first packet must be CONNECT',
    version: undefined,
    bytes: [0x30, 0x04, ...str('t'), 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.1.2-1] CONNECT with protocol name "MQTX"',
    version: undefined,
    bytes: [...connect311(0x02, 12), 0x00, 0x00, ...str('')].map((b, i) => (i === 7 ? 0x58 : b)),
    reasonCode: UNSUPPORTED_VERSION,
  },
  {
    name: '[MQTT-3.1.2-2] CONNECT with protocol level 6',
    version: undefined,
    bytes: [0x10, 12, ...str('MQTT'), 0x06, 0x02, 0x00, 0x00, ...str('')],
    reasonCode: UNSUPPORTED_VERSION,
  },
  {
    name: '[MQTT-3.1.2-2] CONNECT "MQIsdp" with level 4',
    version: undefined,
    bytes: [0x10, 14, ...str('MQIsdp'), 0x04, 0x02, 0x00, 0x00, ...str('')],
    reasonCode: UNSUPPORTED_VERSION,
  },
  {
    name: '[MQTT-3.1.2-3] CONNECT reserved flag set',
    version: undefined,
    bytes: [...connect311(0x03, 12), 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-13] will QoS 1 without the will flag (3.1.1; [MQTT-3.1.2-11] in 5.0)',
    version: undefined,
    bytes: [...connect311(0x0a, 12), 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-15] will retain without the will flag (3.1.1; [MQTT-3.1.2-13] in 5.0)',
    version: undefined,
    bytes: [...connect311(0x22, 12), 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-14] will QoS 3',
    version: undefined,
    bytes: [...connect311(0x1e, 17), 0x00, 0x00, ...str(''), ...str('w'), ...bin([])],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-12] will QoS 3 (MQTT 5)',
    version: undefined,
    bytes: [0x10, 19, ...str('MQTT'), 0x05, 0x1e, 0x00, 0x00, 0x00, ...str(''), 0x00, ...str('w'), ...bin([])],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-22] password without a user name in 3.1.1',
    version: undefined,
    bytes: [...connect311(0x42, 15), 0x00, 0x00, ...str(''), ...bin([0x70])],
    reasonCode: MALFORMED,
  },
  {
    name: 'CONNECT with a byte past its last field',
    version: undefined,
    bytes: [...connect311(0x02, 13), 0x00, 0x00, ...str(''), 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'CONNECT that ends inside the client identifier',
    version: undefined,
    bytes: [...connect311(0x02, 13), 0x00, 0x00, 0x00, 0x02, 0x61],
    reasonCode: MALFORMED,
  },
  {
    name: '§3.2.2.1 CONNACK with reserved acknowledge flags set',
    version: 4,
    bytes: [0x20, 0x02, 0x02, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.3.1-4] PUBLISH with QoS 3',
    version: 4,
    bytes: [0x36, 0x05, ...str('a'), 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.3.1-2] PUBLISH QoS 0 with DUP set',
    version: 4,
    bytes: [0x38, 0x03, ...str('a')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.3.2-2] topic name with the + wildcard',
    version: 4,
    bytes: [0x30, 0x05, ...str('a/+')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.3.2-2] topic name with the # wildcard (MQTT 5)',
    version: 5,
    bytes: [0x30, 0x06, ...str('a/#'), 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-4.7.3-1] PUBLISH with an empty topic name in 3.1.1',
    version: 4,
    bytes: [0x30, 0x03, ...str(''), 0x78],
    reasonCode: MALFORMED,
  },
  {
    name: '§3.3.2.1 an empty topic name without a Topic Alias is a Protocol Error',
    version: 5,
    bytes: [0x30, 0x04, ...str(''), 0x00, 0x78],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: 'PUBLISH QoS 1 that ends inside its packet identifier',
    version: 4,
    bytes: [0x32, 0x04, ...str('a'), 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'PUBACK with remaining length 1',
    version: 5,
    bytes: [0x40, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'PUBACK with a trailing byte in 3.1.1',
    version: 4,
    bytes: [0x40, 0x03, 0x00, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.3-3] SUBSCRIBE without topic filters',
    version: 4,
    bytes: [0x82, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.3-2] SUBSCRIBE without topic filters is a Protocol Error in MQTT 5',
    version: 5,
    bytes: [0x82, 0x03, 0x00, 0x01, 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3-8.3-4] SUBSCRIBE option reserved bits set in 3.1.1',
    version: 4,
    bytes: [0x82, 0x06, 0x00, 0x01, ...str('a'), 0x04],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3-8.3-4] SUBSCRIBE requesting QoS 3',
    version: 4,
    bytes: [0x82, 0x06, 0x00, 0x01, ...str('a'), 0x03],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.3-5] SUBSCRIBE option reserved bits 6-7 set (MQTT 5)',
    version: 5,
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, ...str('a'), 0x40],
    reasonCode: MALFORMED,
  },
  {
    name: '§3.8.3.1 SUBSCRIBE with retain handling 3 is a Protocol Error',
    version: 5,
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, ...str('a'), 0x30],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.8.3.1 SUBSCRIBE requesting QoS 3 is a Protocol Error (MQTT 5)',
    version: 5,
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, ...str('a'), 0x03],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-4.7.3-1] SUBSCRIBE with an empty topic filter',
    version: 4,
    bytes: [0x82, 0x05, 0x00, 0x01, ...str(''), 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'SUBSCRIBE that ends before the subscription options',
    version: 4,
    bytes: [0x82, 0x05, 0x00, 0x01, ...str('a')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.9.3-2] SUBACK with reserved return code 0x03 in 3.1.1',
    version: 4,
    bytes: [0x90, 0x03, 0x00, 0x01, 0x03],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters',
    version: 4,
    bytes: [0xa2, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters is a Protocol Error in MQTT 5',
    version: 5,
    bytes: [0xa2, 0x03, 0x00, 0x01, 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: 'UNSUBACK with a trailing byte in 3.1.1',
    version: 4,
    bytes: [0xb0, 0x03, 0x00, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'PINGREQ with remaining length 1',
    version: 4,
    bytes: [0xc0, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'DISCONNECT with remaining length 1 in 3.1.1',
    version: 4,
    bytes: [0xe0, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: 'DISCONNECT whose property length runs past the end (MQTT 5)',
    version: 5,
    bytes: [0xe0, 0x02, 0x00, 0x05],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.2.2-4] CONNACK refusing with session present set (3.1.1)',
    version: 4,
    bytes: [0x20, 0x02, 0x01, 0x05],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.2.2-6] CONNACK refusing with session present set (MQTT 5)',
    version: 5,
    bytes: [0x20, 0x03, 0x01, 0x87, 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.2.2-8] CONNACK with reason code 0x04, which only DISCONNECT may use',
    version: 5,
    bytes: [0x20, 0x03, 0x00, 0x04, 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.4.2-1] PUBACK with reason code 0x92, which only PUBREL and PUBCOMP may use',
    version: 5,
    bytes: [0x40, 0x03, 0x00, 0x01, 0x92],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.5.2-1] PUBREC with reason code 0x04',
    version: 5,
    bytes: [0x50, 0x03, 0x00, 0x01, 0x04],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.6.2-1] PUBREL with reason code 0x10, which only PUBACK and PUBREC may use',
    version: 5,
    bytes: [0x62, 0x03, 0x00, 0x01, 0x10],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.7.2-1] PUBCOMP with reason code 0x80',
    version: 5,
    bytes: [0x70, 0x03, 0x00, 0x01, 0x80],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.9.3 SUBACK with reason code 0x03 (MQTT 5)',
    version: 5,
    bytes: [0x90, 0x04, 0x00, 0x01, 0x00, 0x03],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '§3.11.3 UNSUBACK with reason code 0x01',
    version: 5,
    bytes: [0xb0, 0x04, 0x00, 0x01, 0x00, 0x01],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.14.2-1] DISCONNECT with reason code 0x05',
    version: 5,
    bytes: [0xe0, 0x01, 0x05],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.15.2-1] AUTH with reason code 0x01',
    version: 5,
    bytes: [0xf0, 0x02, 0x01, 0x00],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-3.3.2-14] a Response Topic with a wildcard is a Protocol Error',
    version: 5,
    bytes: [0x30, 0x0a, ...str('t'), 0x06, 0x08, ...str('a/#')],
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: '[MQTT-1.5.7-1] a user property name that is not UTF-8',
    version: 5,
    bytes: [0x50, 0x0b, 0x00, 0x01, 0x80, 0x07, 0x26, 0x00, 0x01, 0xff, ...str('v')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.8.3-1] a SUBSCRIBE topic filter that is not UTF-8',
    version: 4,
    bytes: [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.10.3-1] an UNSUBSCRIBE topic filter that is not UTF-8',
    version: 5,
    bytes: [0xa2, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x80],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.14.1-1] DISCONNECT with reserved flags 0010',
    version: 5,
    bytes: [0xe2, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.15.1-1] AUTH with reserved flags 0001',
    version: 5,
    bytes: [0xf1, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.3-3] CONNECT without a client identifier',
    version: undefined,
    bytes: [...connect311(0x02, 10), 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-9] will flag set but no will topic and message',
    version: undefined,
    bytes: [...connect311(0x06, 12), 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-19] user name flag set but no user name (3.1.1; [MQTT-3.1.2-17] in 5.0)',
    version: undefined,
    bytes: [...connect311(0x82, 12), 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.2-19] password flag set but no password (5.0; [MQTT-3.1.2-21] in 3.1.1)',
    version: undefined,
    bytes: [0x10, 13, ...str('MQTT'), 0x05, 0x42, 0x00, 0x00, 0x00, ...str('')],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.3-12] a user name that is not UTF-8',
    version: undefined,
    bytes: [...connect311(0x82, 15), 0x00, 0x00, ...str(''), 0x00, 0x01, 0xfe],
    reasonCode: MALFORMED,
  },
  {
    name: '[MQTT-3.1.3-11] a will topic with U+0000 (5.0; [MQTT-3.1.3-10] in 3.1.1)',
    version: undefined,
    bytes: [0x10, 19, ...str('MQTT'), 0x05, 0x06, 0x00, 0x00, 0x00, ...str(''), 0x00, 0x00, 0x01, 0x00, ...bin([])],
    reasonCode: MALFORMED,
  },
  {
    name: 'AUTH with a property only CONNACK may carry',
    version: 5,
    bytes: [0xf0, 0x04, 0x18, 0x02, 0x25, 0x01], // AUTH, property Retain Available
    reasonCode: MALFORMED,
  },
  {
    name: 'a UTF-8 string in a will topic that is cut off by the packet end',
    version: undefined,
    bytes: [0x10, 16, ...str('MQTT'), 0x04, 0x06, 0x00, 0x00, ...str(''), 0x00, 0x05, ...text('ab')],
    reasonCode: MALFORMED,
  },
];
