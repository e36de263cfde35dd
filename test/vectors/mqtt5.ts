// MQTT 5.0 (protocol level 5): every packet type, its short forms, and every property at least once.
// biome-ignore-all format: byte tables keep one field per line, with its comment

import { bin, str, text, u16, u32, type ValidVector } from './helpers.js';

export const mqtt5Vectors: ValidVector[] = [
  {
    name: 'CONNECT, minimal, no properties',
    version: 5,
    bytes: [
      0x10, 15, // CONNECT, remaining length 15
      ...str('MQTT'), // protocol name
      0x05, // protocol level 5
      0x02, // connect flags: clean start
      0x00, 0x3c, // keep alive 60 s
      0x00, // property length 0
      ...str('c5'), // client identifier
    ],
    packet: { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepAlive: 60, clientId: 'c5' },
  },
  {
    name: 'CONNECT with every CONNECT and Will property, user name and password',
    version: 5,
    bytes: [
      0x10, 107, // CONNECT, remaining length 107
      ...str('MQTT'), // protocol name
      0x05, // protocol level 5
      0xd6, // connect flags: user name, password, will QoS 2, will flag, clean start
      0x00, 0x0a, // keep alive 10 s
      39, // property length 39
      0x11, ...u32(120), // session expiry interval 120 s
      0x15, ...str('meth'), // authentication method
      0x16, ...bin([1, 2]), // authentication data
      0x17, 0x00, // request problem information 0
      0x19, 0x01, // request response information 1
      0x21, ...u16(10), // receive maximum 10
      0x22, ...u16(5), // topic alias maximum 5
      0x26, ...str('k'), ...str('v'), // user property k=v
      0x27, ...u32(4096), // maximum packet size 4096
      ...str('c5'), // client identifier
      37, // will property length 37
      0x01, 0x01, // payload format indicator 1: UTF-8
      0x02, ...u32(60), // message expiry interval 60 s
      0x03, ...str('text'), // content type
      0x08, ...str('r/t'), // response topic
      0x09, ...bin([0xab, 0xcd]), // correlation data
      0x18, ...u32(5), // will delay interval 5 s
      0x26, ...str('a'), ...str('b'), // user property a=b
      ...str('w'), // will topic
      ...bin(text('gone')), // will payload
      ...str('u'), // user name
      ...bin(text('p')), // password
    ],
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepAlive: 10,
      clientId: 'c5',
      properties: {
        sessionExpiryInterval: 120,
        authenticationMethod: 'meth',
        authenticationData: Buffer.from([1, 2]),
        requestProblemInformation: 0,
        requestResponseInformation: 1,
        receiveMaximum: 10,
        topicAliasMaximum: 5,
        userProperties: [['k', 'v']],
        maximumPacketSize: 4096,
      },
      will: {
        topic: 'w',
        payload: Buffer.from('gone'),
        qos: 2,
        retain: false,
        properties: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 60,
          contentType: 'text',
          responseTopic: 'r/t',
          correlationData: Buffer.from([0xab, 0xcd]),
          willDelayInterval: 5,
          userProperties: [['a', 'b']],
        },
      },
      username: 'u',
      password: Buffer.from('p'),
    },
  },
  {
    name: 'CONNECT with a password and no user name (allowed in MQTT 5)',
    version: 5,
    bytes: [
      0x10, 18, // CONNECT, remaining length 18
      ...str('MQTT'), // protocol name
      0x05, // protocol level 5
      0x42, // connect flags: password, clean start
      0x00, 0x00, // keep alive 0
      0x00, // property length 0
      ...str('c'), // client identifier
      ...bin(text('pw')), // password
    ],
    packet: {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepAlive: 0,
      clientId: 'c',
      password: Buffer.from('pw'),
    },
  },
  {
    name: 'CONNACK success, no properties',
    version: 5,
    bytes: [
      0x20, 0x03, // CONNACK, remaining length 3
      0x00, // acknowledge flags: none
      0x00, // reason code 0x00 success
      0x00, // property length 0
    ],
    packet: { type: 'connack', sessionPresent: false, reasonCode: 0 },
  },
  {
    name: 'CONNACK with every CONNACK property',
    version: 5,
    bytes: [
      0x20, 74, // CONNACK, remaining length 74
      0x01, // acknowledge flags: session present
      0x00, // reason code 0x00 success
      71, // property length 71
      0x11, ...u32(3600), // session expiry interval 3600 s
      0x12, ...str('abc'), // assigned client identifier
      0x13, ...u16(30), // server keep alive 30 s
      0x15, ...str('meth'), // authentication method
      0x16, ...bin([0xff]), // authentication data
      0x1a, ...str('resp'), // response information
      0x1c, ...str('srv'), // server reference
      0x1f, ...str('ok'), // reason string
      0x21, ...u16(20), // receive maximum 20
      0x22, ...u16(10), // topic alias maximum 10
      0x24, 0x01, // maximum QoS 1
      0x25, 0x00, // retain available 0
      0x26, ...str('x'), ...str('y'), // user property x=y
      0x27, ...u32(65536), // maximum packet size 65536
      0x28, 0x01, // wildcard subscription available 1
      0x29, 0x00, // subscription identifiers available 0
      0x2a, 0x01, // shared subscription available 1
    ],
    packet: {
      type: 'connack',
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 3600,
        assignedClientIdentifier: 'abc',
        serverKeepAlive: 30,
        authenticationMethod: 'meth',
        authenticationData: Buffer.from([0xff]),
        responseInformation: 'resp',
        serverReference: 'srv',
        reasonString: 'ok',
        receiveMaximum: 20,
        topicAliasMaximum: 10,
        maximumQoS: 1,
        retainAvailable: 0,
        userProperties: [['x', 'y']],
        maximumPacketSize: 65536,
        wildcardSubscriptionAvailable: 1,
        subscriptionIdentifiersAvailable: 0,
        sharedSubscriptionAvailable: 1,
      },
    },
  },
  {
    name: 'CONNACK refused, bad user name or password',
    version: 5,
    bytes: [0x20, 0x03, 0x00, 0x86, 0x00], // CONNACK, length 3, flags 0, reason 0x86, property length 0
    packet: { type: 'connack', sessionPresent: false, reasonCode: 0x86 },
  },
  {
    name: 'PUBLISH QoS 0, no properties',
    version: 5,
    bytes: [
      0x30, 5, // PUBLISH, QoS 0, remaining length 5
      ...str('t'), // topic name
      0x00, // property length 0
      ...text('x'), // payload
    ],
    packet: { type: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false },
  },
  {
    name: 'PUBLISH QoS 1 with every PUBLISH property; subscription identifiers and user properties repeat in order',
    version: 5,
    bytes: [
      0x32, 65, // PUBLISH, QoS 1, remaining length 65
      ...str('a/b'), // topic name
      0x00, 0x01, // packet identifier 1
      55, // property length 55
      0x01, 0x01, // payload format indicator 1
      0x02, ...u32(10), // message expiry interval 10 s
      0x03, ...str('text/plain'), // content type
      0x08, ...str('reply'), // response topic
      0x09, ...bin([1, 2]), // correlation data
      0x0b, 0x05, // subscription identifier 5
      0x0b, 0x80, 0x01, // subscription identifier 128 (two-byte variable byte integer)
      0x23, ...u16(1), // topic alias 1
      0x26, ...str('a'), ...str('1'), // user property a=1
      0x26, ...str('a'), ...str('2'), // user property a=2 (same name, kept)
      ...text('hi'), // payload
    ],
    packet: {
      type: 'publish',
      topic: 'a/b',
      payload: Buffer.from('hi'),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 10,
        contentType: 'text/plain',
        responseTopic: 'reply',
        correlationData: Buffer.from([1, 2]),
        subscriptionIdentifiers: [5, 128],
        topicAlias: 1,
        userProperties: [
          ['a', '1'],
          ['a', '2'],
        ],
      },
    },
  },
  {
    name: '§3.3.2.3.4 PUBLISH with an empty topic name and a topic alias',
    version: 5,
    bytes: [
      0x30, 7, // PUBLISH, QoS 0, remaining length 7
      ...str(''), // topic name, empty
      0x03, // property length 3
      0x23, ...u16(2), // topic alias 2
      ...text('z'), // payload
    ],
    packet: {
      type: 'publish',
      topic: '',
      payload: Buffer.from('z'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 2 },
    },
  },
  {
    name: '§3.4.2.1 PUBACK short form: remaining length 2 means success, no properties',
    version: 5,
    bytes: [0x40, 0x02, 0x00, 0x01], // PUBACK, remaining length 2, packet identifier 1
    packet: { type: 'puback', packetId: 1, reasonCode: 0 },
  },
  {
    name: 'PUBACK with a reason code only (remaining length 3)',
    version: 5,
    bytes: [
      0x40, 0x03, // PUBACK, remaining length 3
      0x00, 0x01, // packet identifier 1
      0x10, // reason code 0x10 no matching subscribers
    ],
    packet: { type: 'puback', packetId: 1, reasonCode: 0x10 },
  },
  {
    name: 'PUBACK with success written out and an empty property length',
    version: 5,
    canonical: false,
    bytes: [
      0x40, 0x04, // PUBACK, remaining length 4
      0x00, 0x05, // packet identifier 5
      0x00, // reason code 0x00 success
      0x00, // property length 0
    ],
    packet: { type: 'puback', packetId: 5, reasonCode: 0 },
  },
  {
    name: 'PUBREC with a reason string and a user property',
    version: 5,
    bytes: [
      0x50, 18, // PUBREC, remaining length 18
      0x00, 0x02, // packet identifier 2
      0x80, // reason code 0x80 unspecified error
      14, // property length 14
      0x1f, ...str('fail'), // reason string
      0x26, ...str('k'), ...str('v'), // user property k=v
    ],
    packet: {
      type: 'pubrec',
      packetId: 2,
      reasonCode: 0x80,
      properties: { reasonString: 'fail', userProperties: [['k', 'v']] },
    },
  },
  {
    name: 'PUBREL packet identifier not found',
    version: 5,
    bytes: [
      0x62, 0x03, // PUBREL (flags 0010), remaining length 3
      0x00, 0x03, // packet identifier 3
      0x92, // reason code 0x92 packet identifier not found
    ],
    packet: { type: 'pubrel', packetId: 3, reasonCode: 0x92 },
  },
  {
    name: 'PUBCOMP short form',
    version: 5,
    bytes: [0x70, 0x02, 0x00, 0x04], // PUBCOMP, remaining length 2, packet identifier 4
    packet: { type: 'pubcomp', packetId: 4, reasonCode: 0 },
  },
  {
    name: 'SUBSCRIBE with a subscription identifier, a user property and every subscription option',
    version: 5,
    bytes: [
      0x82, 35, // SUBSCRIBE (flags 0010), remaining length 35
      0x00, 0x0b, // packet identifier 11
      9, // property length 9
      0x0b, 0x07, // subscription identifier 7
      0x26, ...str('k'), ...str('v'), // user property k=v
      ...str('a/#'), // topic filter
      0x2d, // options: retain handling 2, retain as published, no local, QoS 1
      ...str('b'), // topic filter
      0x00, // options: retain handling 0, QoS 0
      ...str('$share/g/c'), // topic filter
      0x12, // options: retain handling 1, QoS 2
    ],
    packet: {
      type: 'subscribe',
      packetId: 11,
      properties: { subscriptionIdentifiers: [7], userProperties: [['k', 'v']] },
      subscriptions: [
        { topicFilter: 'a/#', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { topicFilter: 'b', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: '$share/g/c', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 1 },
      ],
    },
  },
  {
    name: 'SUBACK with a reason string',
    version: 5,
    bytes: [
      0x90, 11, // SUBACK, remaining length 11
      0x00, 0x0b, // packet identifier 11
      5, // property length 5
      0x1f, ...str('ok'), // reason string
      0x01, 0x00, 0x8f, // reason codes: granted QoS 1, granted QoS 0, topic filter invalid
    ],
    packet: { type: 'suback', packetId: 11, reasonCodes: [1, 0, 0x8f], properties: { reasonString: 'ok' } },
  },
  {
    name: 'SUBACK, no properties',
    version: 5,
    bytes: [0x90, 0x04, 0x00, 0x0c, 0x00, 0x02], // SUBACK, length 4, packet id 12, property length 0, QoS 2
    packet: { type: 'suback', packetId: 12, reasonCodes: [2] },
  },
  {
    name: 'UNSUBSCRIBE with a user property',
    version: 5,
    bytes: [
      0xa2, 18, // UNSUBSCRIBE (flags 0010), remaining length 18
      0x00, 0x0d, // packet identifier 13
      7, // property length 7
      0x26, ...str('k'), ...str('v'), // user property k=v
      ...str('a/+'), // topic filter
      ...str('b'), // topic filter
    ],
    packet: {
      type: 'unsubscribe',
      packetId: 13,
      topicFilters: ['a/+', 'b'],
      properties: { userProperties: [['k', 'v']] },
    },
  },
  {
    name: 'UNSUBACK, no properties',
    version: 5,
    bytes: [
      0xb0, 5, // UNSUBACK, remaining length 5
      0x00, 0x0d, // packet identifier 13
      0x00, // property length 0
      0x00, 0x11, // reason codes: success, no subscription existed
    ],
    packet: { type: 'unsuback', packetId: 13, reasonCodes: [0, 0x11] },
  },
  {
    name: 'UNSUBACK with a reason string',
    version: 5,
    bytes: [
      0xb0, 8, // UNSUBACK, remaining length 8
      0x00, 0x0e, // packet identifier 14
      4, // property length 4
      0x1f, ...str('x'), // reason string
      0x87, // reason code 0x87 not authorized
    ],
    packet: { type: 'unsuback', packetId: 14, reasonCodes: [0x87], properties: { reasonString: 'x' } },
  },
  {
    name: 'PINGREQ',
    version: 5,
    bytes: [0xc0, 0x00], // PINGREQ, remaining length 0
    packet: { type: 'pingreq' },
  },
  {
    name: 'PINGRESP',
    version: 5,
    bytes: [0xd0, 0x00], // PINGRESP, remaining length 0
    packet: { type: 'pingresp' },
  },
  {
    name: '§3.14.2.1 DISCONNECT short form: remaining length 0 means normal disconnection',
    version: 5,
    bytes: [0xe0, 0x00], // DISCONNECT, remaining length 0
    packet: { type: 'disconnect', reasonCode: 0 },
  },
  {
    name: 'DISCONNECT with a reason code only',
    version: 5,
    bytes: [0xe0, 0x01, 0x04], // DISCONNECT, remaining length 1, reason code 0x04 disconnect with will
    packet: { type: 'disconnect', reasonCode: 0x04 },
  },
  {
    name: 'DISCONNECT with every DISCONNECT property',
    version: 5,
    bytes: [
      0xe0, 26, // DISCONNECT, remaining length 26
      0x9c, // reason code 0x9c use another server
      24, // property length 24
      0x11, ...u32(0), // session expiry interval 0
      0x1c, ...str('srv'), // server reference
      0x1f, ...str('bye'), // reason string
      0x26, ...str('k'), ...str('v'), // user property k=v
    ],
    packet: {
      type: 'disconnect',
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0,
        serverReference: 'srv',
        reasonString: 'bye',
        userProperties: [['k', 'v']],
      },
    },
  },
  {
    name: '§3.15.2.1 AUTH short form: remaining length 0 means success',
    version: 5,
    bytes: [0xf0, 0x00], // AUTH, remaining length 0
    packet: { type: 'auth', reasonCode: 0 },
  },
  {
    name: 'AUTH continue authentication with every AUTH property',
    version: 5,
    bytes: [
      0xf0, 27, // AUTH, remaining length 27
      0x18, // reason code 0x18 continue authentication
      25, // property length 25
      0x15, ...str('meth'), // authentication method
      0x16, ...bin([1, 2, 3]), // authentication data
      0x1f, ...str('go'), // reason string
      0x26, ...str('k'), ...str('v'), // user property k=v
    ],
    packet: {
      type: 'auth',
      reasonCode: 0x18,
      properties: {
        authenticationMethod: 'meth',
        authenticationData: Buffer.from([1, 2, 3]),
        reasonString: 'go',
        userProperties: [['k', 'v']],
      },
    },
  },
];
