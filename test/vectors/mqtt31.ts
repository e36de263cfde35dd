// MQTT 3.1 (protocol level 3, protocol name "MQIsdp"): every packet type, byte by byte.
// biome-ignore-all format: byte tables keep one field per line, with its comment

import { bin, str, text, type ValidVector } from './helpers.js';

export const mqtt31Vectors: ValidVector[] = [
  {
    name: 'CONNECT MQIsdp level 3',
    version: 3,
    bytes: [
      0x10, 15, // CONNECT, remaining length 15
      ...str('MQIsdp'), // protocol name
      0x03, // protocol level 3
      0x02, // connect flags: clean session
      0x00, 0x1e, // keep alive 30 s
      ...str('c'), // client identifier
    ],
    packet: { type: 'connect', protocolName: 'MQIsdp', protocolVersion: 3, clean: true, keepAlive: 30, clientId: 'c' },
  },
  {
    name: 'CONNECT MQIsdp with will, user name and password',
    version: 3,
    bytes: [
      0x10, 49, // CONNECT, remaining length 49
      ...str('MQIsdp'), // protocol name
      0x03, // protocol level 3
      0xce, // connect flags: user name, password, will QoS 1, will flag, clean session
      0x00, 0x3c, // keep alive 60 s
      ...str('client-23-bytes-long-id'), // client identifier, 23 bytes (the 3.1 limit)
      ...str('w'), // will topic
      ...bin(text('x')), // will message
      ...str('u'), // user name
      ...bin(text('p')), // password
    ],
    packet: {
      type: 'connect',
      protocolName: 'MQIsdp',
      protocolVersion: 3,
      clean: true,
      keepAlive: 60,
      clientId: 'client-23-bytes-long-id',
      will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false },
      username: 'u',
      password: Buffer.from('p'),
    },
  },
  {
    name: 'CONNACK accepted (3.1 has no session present flag)',
    version: 3,
    bytes: [
      0x20, 0x02, // CONNACK, remaining length 2
      0x00, // reserved
      0x00, // return code 0: accepted
    ],
    packet: { type: 'connack', sessionPresent: false, reasonCode: 0 },
  },
  {
    name: 'CONNACK refused, identifier rejected',
    version: 3,
    bytes: [0x20, 0x02, 0x00, 0x02], // CONNACK, remaining length 2, reserved, return code 2
    packet: { type: 'connack', sessionPresent: false, reasonCode: 2 },
  },
  {
    name: 'PUBLISH QoS 1 retained',
    version: 3,
    bytes: [
      0x33, 9, // PUBLISH, QoS 1, RETAIN, remaining length 9
      ...str('s/t'), // topic name
      0x12, 0x34, // packet identifier 0x1234
      ...text('on'), // payload
    ],
    packet: {
      type: 'publish',
      topic: 's/t',
      payload: Buffer.from('on'),
      qos: 1,
      retain: true,
      dup: false,
      packetId: 0x1234,
    },
  },
  {
    name: 'PUBACK',
    version: 3,
    bytes: [0x40, 0x02, 0x12, 0x34], // PUBACK, remaining length 2, packet identifier 0x1234
    packet: { type: 'puback', packetId: 0x1234 },
  },
  {
    name: 'PUBREC',
    version: 3,
    bytes: [0x50, 0x02, 0x00, 0x02], // PUBREC, remaining length 2, packet identifier 2
    packet: { type: 'pubrec', packetId: 2 },
  },
  {
    name: 'PUBREL',
    version: 3,
    bytes: [0x62, 0x02, 0x00, 0x02], // PUBREL (flags 0010), remaining length 2, packet identifier 2
    packet: { type: 'pubrel', packetId: 2 },
  },
  {
    name: 'PUBCOMP',
    version: 3,
    bytes: [0x70, 0x02, 0x00, 0x02], // PUBCOMP, remaining length 2, packet identifier 2
    packet: { type: 'pubcomp', packetId: 2 },
  },
  {
    name: 'SUBSCRIBE',
    version: 3,
    bytes: [
      0x82, 8, // SUBSCRIBE (flags 0010), remaining length 8
      0x00, 0x03, // packet identifier 3
      ...str('s/#'), // topic filter
      0x00, // requested QoS 0
    ],
    packet: { type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: 's/#', qos: 0 }] },
  },
  {
    name: 'SUBACK',
    version: 3,
    bytes: [0x90, 0x03, 0x00, 0x03, 0x00], // SUBACK, remaining length 3, packet identifier 3, granted QoS 0
    packet: { type: 'suback', packetId: 3, reasonCodes: [0] },
  },
  {
    name: 'UNSUBSCRIBE',
    version: 3,
    bytes: [
      0xa2, 7, // UNSUBSCRIBE (flags 0010), remaining length 7
      0x00, 0x04, // packet identifier 4
      ...str('s/#'), // topic filter
    ],
    packet: { type: 'unsubscribe', packetId: 4, topicFilters: ['s/#'] },
  },
  {
    name: 'UNSUBACK',
    version: 3,
    bytes: [0xb0, 0x02, 0x00, 0x04], // UNSUBACK, remaining length 2, packet identifier 4
    packet: { type: 'unsuback', packetId: 4, reasonCodes: [] },
  },
  {
    name: 'PINGREQ',
    version: 3,
    bytes: [0xc0, 0x00], // PINGREQ, remaining length 0
    packet: { type: 'pingreq' },
  },
  {
    name: 'PINGRESP',
    version: 3,
    bytes: [0xd0, 0x00], // PINGRESP, remaining length 0
    packet: { type: 'pingresp' },
  },
  {
    name: 'DISCONNECT',
    version: 3,
    bytes: [0xe0, 0x00], // DISCONNECT, remaining length 0
    packet: { type: 'disconnect' },
  },
];
