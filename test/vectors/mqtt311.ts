// MQTT 3.1.1 (protocol level 4): every packet type, byte by byte.
// biome-ignore-all format: byte tables keep one field per line, with its comment

import { bin, str, text, type ValidVector } from './helpers.js';

export const mqtt311Vectors: ValidVector[] = [
  {
    name: 'CONNECT, minimal, clean session',
    version: 4,
    bytes: [
      0x10, 16, // CONNECT, remaining length 16
      ...str('MQTT'), // protocol name
      0x04, // protocol level 4
      0x02, // connect flags: clean session
      0x00, 0x3c, // keep alive 60 s
      ...str('test'), // client identifier
    ],
    packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepAlive: 60, clientId: 'test' },
  },
  {
    name: '[MQTT-3.1.3-6] CONNECT with a zero-byte client identifier',
    version: 4,
    bytes: [
      0x10, 12, // CONNECT, remaining length 12
      ...str('MQTT'), // protocol name
      0x04, // protocol level 4
      0x02, // connect flags: clean session
      0x00, 0x00, // keep alive 0: off
      ...str(''), // client identifier, empty
    ],
    packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepAlive: 0, clientId: '' },
  },
  {
    name: 'CONNECT with will (QoS 1, retained), user name and password, persistent session',
    version: 4,
    bytes: [
      0x10, 36, // CONNECT, remaining length 36
      ...str('MQTT'), // protocol name
      0x04, // protocol level 4
      0xec, // connect flags: user name, password, will retain, will QoS 1, will flag
      0xff, 0xff, // keep alive 65535 s
      ...str('c1'), // client identifier
      ...str('w/t'), // will topic
      ...bin(text('bye')), // will message
      ...str('user'), // user name
      ...bin(text('pass')), // password
    ],
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 4,
      clean: false,
      keepAlive: 65535,
      clientId: 'c1',
      will: { topic: 'w/t', payload: Buffer.from('bye'), qos: 1, retain: true },
      username: 'user',
      password: Buffer.from('pass'),
    },
  },
  {
    name: 'CONNECT with a QoS 2 will and a user name only',
    version: 4,
    bytes: [
      0x10, 21, // CONNECT, remaining length 21
      ...str('MQTT'), // protocol name
      0x04, // protocol level 4
      0x96, // connect flags: user name, will QoS 2, will flag, clean session
      0x00, 0x0a, // keep alive 10 s
      ...str('c'), // client identifier
      ...str('w'), // will topic
      ...bin([]), // will message, empty
      ...str('u'), // user name
    ],
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepAlive: 10,
      clientId: 'c',
      will: { topic: 'w', payload: Buffer.alloc(0), qos: 2, retain: false },
      username: 'u',
    },
  },
  {
    name: 'CONNACK accepted, session present',
    version: 4,
    bytes: [
      0x20, 0x02, // CONNACK, remaining length 2
      0x01, // acknowledge flags: session present
      0x00, // return code 0: accepted
    ],
    packet: { type: 'connack', sessionPresent: true, reasonCode: 0 },
  },
  {
    name: 'CONNACK refused, not authorized',
    version: 4,
    bytes: [
      0x20, 0x02, // CONNACK, remaining length 2
      0x00, // acknowledge flags: none
      0x05, // return code 5: not authorized
    ],
    packet: { type: 'connack', sessionPresent: false, reasonCode: 5 },
  },
  {
    name: 'PUBLISH QoS 0',
    version: 4,
    bytes: [
      0x30, 7, // PUBLISH, QoS 0, remaining length 7
      ...str('a/b'), // topic name
      ...text('hi'), // payload
    ],
    packet: { type: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false },
  },
  {
    name: 'PUBLISH QoS 1, DUP and RETAIN',
    version: 4,
    bytes: [
      0x3b, 6, // PUBLISH, DUP, QoS 1, RETAIN, remaining length 6
      ...str('a'), // topic name
      0x00, 0x01, // packet identifier 1
      ...text('x'), // payload
    ],
    packet: { type: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 1, retain: true, dup: true, packetId: 1 },
  },
  {
    name: 'PUBLISH QoS 2 with an empty payload',
    version: 4,
    bytes: [
      0x34, 7, // PUBLISH, QoS 2, remaining length 7
      ...str('a/b'), // topic name
      0xff, 0xff, // packet identifier 65535
    ],
    packet: {
      type: 'publish',
      topic: 'a/b',
      payload: Buffer.alloc(0),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 65535,
    },
  },
  {
    name: '[MQTT-1.5.5-1] PUBLISH whose remaining length takes two bytes (203)',
    version: 4,
    bytes: [
      0x30, 0xcb, 0x01, // PUBLISH, QoS 0, remaining length 203 = 0x4b + 1 * 128
      ...str('t'), // topic name
      ...new Array(200).fill(0x61), // payload: 200 x 'a'
    ],
    packet: { type: 'publish', topic: 't', payload: Buffer.alloc(200, 0x61), qos: 0, retain: false, dup: false },
  },
  {
    name: '[MQTT-1.5.3-1] PUBLISH with a multi-byte UTF-8 topic name',
    version: 4,
    bytes: [
      0x30, 8, // PUBLISH, QoS 0, remaining length 8
      0x00, 0x06, 0xc3, 0xa9, 0x2f, 0xe2, 0x82, 0xac, // topic name 'é/€'
    ],
    packet: { type: 'publish', topic: 'é/€', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
  },
  {
    name: '[MQTT-1.5.3-3] a leading U+FEFF in a topic name is kept, not stripped',
    version: 4,
    bytes: [
      0x30, 6, // PUBLISH, QoS 0, remaining length 6
      0x00, 0x04, 0xef, 0xbb, 0xbf, 0x61, // topic name U+FEFF 'a'
    ],
    packet: { type: 'publish', topic: '\ufeffa', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
  },
  {
    name: 'PUBACK',
    version: 4,
    bytes: [0x40, 0x02, 0x00, 0x07], // PUBACK, remaining length 2, packet identifier 7
    packet: { type: 'puback', packetId: 7 },
  },
  {
    name: 'PUBREC',
    version: 4,
    bytes: [0x50, 0x02, 0x01, 0x00], // PUBREC, remaining length 2, packet identifier 256
    packet: { type: 'pubrec', packetId: 256 },
  },
  {
    name: '[MQTT-3.6.1-1] PUBREL with fixed header flags 0010',
    version: 4,
    bytes: [0x62, 0x02, 0x01, 0x00], // PUBREL, remaining length 2, packet identifier 256
    packet: { type: 'pubrel', packetId: 256 },
  },
  {
    name: 'PUBCOMP',
    version: 4,
    bytes: [0x70, 0x02, 0x01, 0x00], // PUBCOMP, remaining length 2, packet identifier 256
    packet: { type: 'pubcomp', packetId: 256 },
  },
  {
    name: '[MQTT-3.8.1-1] SUBSCRIBE with two filters',
    version: 4,
    bytes: [
      0x82, 12, // SUBSCRIBE, remaining length 12
      0x00, 0x0a, // packet identifier 10
      ...str('a/+'), // topic filter
      0x01, // requested QoS 1
      ...str('#'), // topic filter
      0x02, // requested QoS 2
    ],
    packet: {
      type: 'subscribe',
      packetId: 10,
      subscriptions: [
        { topicFilter: 'a/+', qos: 1 },
        { topicFilter: '#', qos: 2 },
      ],
    },
  },
  {
    name: '[MQTT-3.9.3-2] SUBACK with granted QoS and a failure',
    version: 4,
    bytes: [
      0x90, 6, // SUBACK, remaining length 6
      0x00, 0x0a, // packet identifier 10
      0x00, 0x01, 0x02, 0x80, // return codes: QoS 0, QoS 1, QoS 2, failure
    ],
    packet: { type: 'suback', packetId: 10, reasonCodes: [0, 1, 2, 0x80] },
  },
  {
    name: '[MQTT-3.10.1-1] UNSUBSCRIBE with two filters',
    version: 4,
    bytes: [
      0xa2, 10, // UNSUBSCRIBE, remaining length 10
      0x00, 0x0b, // packet identifier 11
      ...str('a/+'), // topic filter
      ...str('b'), // topic filter
    ],
    packet: { type: 'unsubscribe', packetId: 11, topicFilters: ['a/+', 'b'] },
  },
  {
    name: 'UNSUBACK',
    version: 4,
    bytes: [0xb0, 0x02, 0x00, 0x0b], // UNSUBACK, remaining length 2, packet identifier 11
    packet: { type: 'unsuback', packetId: 11, reasonCodes: [] },
  },
  {
    name: 'PINGREQ',
    version: 4,
    bytes: [0xc0, 0x00], // PINGREQ, remaining length 0
    packet: { type: 'pingreq' },
  },
  {
    name: 'PINGRESP',
    version: 4,
    bytes: [0xd0, 0x00], // PINGRESP, remaining length 0
    packet: { type: 'pingresp' },
  },
  {
    name: 'DISCONNECT',
    version: 4,
    bytes: [0xe0, 0x00], // DISCONNECT, remaining length 0
    packet: { type: 'disconnect' },
  },
];
