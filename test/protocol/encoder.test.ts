import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePacket } from '../../src/protocol/decoder.js';
import { encode, encodePublishShared, takeWithPacketId, withPacketId } from '../../src/protocol/encoder.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { Packet, PublishPacket } from '../../src/protocol/packets.js';

function hasReason(code: number): (err: unknown) => boolean {
  return (err) => err instanceof MqttError && err.reasonCode === code;
}

const malformed = hasReason(0x81);

function pub(fields: Partial<PublishPacket> = {}): PublishPacket {
  return { type: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false, ...fields };
}

test('§1.5.4 strings over 65,535 bytes cannot be encoded', () => {
  assert.throws(() => encode(pub({ topic: 'x'.repeat(65_536) }), 4), malformed);
  const sub: Packet = { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'é'.repeat(40_000), qos: 0 }] };
  assert.throws(() => encode(sub, 4), malformed);
  assert.throws(
    () => encode({ type: 'disconnect', reasonCode: 0, properties: { reasonString: 'r'.repeat(70_000) } }, 5),
    malformed,
  );
  // 65,535 is still fine.
  assert.equal(encode(pub({ topic: 'x'.repeat(65_535) }), 4).length, 1 + 3 + 2 + 65_535 + 2);
});

test('[MQTT-1.5.4-2] strings with U+0000 or a lone surrogate cannot be encoded', () => {
  assert.throws(() => encode(pub({ topic: 'a\u0000b' }), 4), malformed);
  assert.throws(() => encode(pub({ topic: 'a\ud800' }), 4), malformed);
  assert.throws(
    () =>
      encode(
        { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepAlive: 0, clientId: '\u0000' },
        4,
      ),
    malformed,
  );
});

test('§2.2.2.2 a property not allowed in the packet cannot be encoded', () => {
  assert.throws(() => encode(pub({ properties: { sessionExpiryInterval: 1 } }), 5), malformed);
  assert.throws(() => encode({ type: 'puback', packetId: 1, properties: { topicAlias: 1 } }, 5), malformed);
  assert.throws(
    () =>
      encode(
        {
          type: 'connect',
          protocolName: 'MQTT',
          protocolVersion: 5,
          clean: true,
          keepAlive: 0,
          clientId: 'c',
          will: { topic: 'w', payload: Buffer.alloc(0), qos: 0, retain: false, properties: { receiveMaximum: 1 } },
        },
        5,
      ),
    malformed,
  );
  assert.throws(
    () =>
      encode(
        {
          type: 'subscribe',
          packetId: 1,
          subscriptions: [{ topicFilter: 'a', qos: 0 }],
          properties: { subscriptionIdentifiers: [1, 2] },
        },
        5,
      ),
    malformed,
  );
});

test('§2.2.2.2 property values out of their range cannot be encoded', () => {
  assert.throws(() => encode(pub({ properties: { payloadFormatIndicator: 2 } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { messageExpiryInterval: 2 ** 32 } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { subscriptionIdentifiers: [0] } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { subscriptionIdentifiers: [268_435_456] } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { topicAlias: 65_536 } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { correlationData: 'text' as unknown as Buffer } }), 5), malformed);
  assert.throws(
    () => encode({ type: 'auth', reasonCode: 0x18, properties: { authenticationData: Buffer.from([1]) } }, 5),
    malformed,
  );
});

test('[MQTT-3.3.2-8] Topic Alias 0 and [MQTT-3.3.2-14] a Response Topic with wildcards cannot be encoded', () => {
  assert.throws(() => encode(pub({ properties: { topicAlias: 0 } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { responseTopic: 'reply/+' } }), 5), malformed);
  assert.throws(() => encode(pub({ properties: { responseTopic: '#' } }), 5), malformed);
  assert.equal(encode(pub({ properties: { responseTopic: 'reply/1' } }), 5)[0], 0x30);
});

test('[MQTT-2.2.1-3] QoS 1 and 2 PUBLISH, SUBSCRIBE and UNSUBSCRIBE need a packet identifier 1..65535', () => {
  assert.throws(() => encode(pub({ qos: 1 }), 4), malformed);
  assert.throws(() => encode(pub({ qos: 2, packetId: 0 }), 4), malformed);
  assert.throws(() => encode(pub({ qos: 1, packetId: 65_536 }), 4), malformed);
  assert.throws(
    () => encode({ type: 'subscribe', packetId: 0, subscriptions: [{ topicFilter: 'a', qos: 0 }] }, 4),
    malformed,
  );
  assert.throws(() => encode({ type: 'unsubscribe', packetId: 0, topicFilters: ['a'] }, 4), malformed);
  // QoS 0 carries none, even when one is given.
  assert.equal(encode(pub({ packetId: 9 }), 4).length, 2 + 5 + 2);
});

test('[MQTT-3.3.2-2] a topic name with wildcards cannot be encoded; [MQTT-4.7.3-1] nor an empty one before MQTT 5', () => {
  assert.throws(() => encode(pub({ topic: 'a/+' }), 4), malformed);
  assert.throws(() => encode(pub({ topic: 'a/#' }), 5), malformed);
  assert.throws(() => encode(pub({ topic: '' }), 4), malformed);
  assert.throws(() => encode(pub({ topic: '' }), 5), malformed);
  assert.deepStrictEqual(decodePacket(encode(pub({ topic: '', properties: { topicAlias: 3 } }), 5), 5), {
    ...pub({ topic: '', properties: { topicAlias: 3 } }),
  });
});

test('[MQTT-3.8.3-3] [MQTT-3.10.3-2] SUBSCRIBE and UNSUBSCRIBE need at least one topic filter', () => {
  assert.throws(() => encode({ type: 'subscribe', packetId: 1, subscriptions: [] }, 4), malformed);
  assert.throws(() => encode({ type: 'unsubscribe', packetId: 1, topicFilters: [] }, 5), malformed);
});

test('[MQTT-3.1.2-22] a password without a user name cannot be encoded before MQTT 5', () => {
  const connect: Packet = {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepAlive: 0,
    clientId: 'c',
    password: Buffer.from('pw'),
  };
  assert.throws(() => encode(connect, 4), malformed);
  assert.throws(() => encode(connect, 3), malformed);
  assert.deepStrictEqual(decodePacket(encode(connect, 5)), { ...connect, protocolVersion: 5 });
});

test('the protocol level argument decides the protocol name and level written', () => {
  const connect: Packet = {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepAlive: 5,
    clientId: 'c',
  };
  assert.deepStrictEqual(decodePacket(encode(connect, 3)), { ...connect, protocolName: 'MQIsdp', protocolVersion: 3 });
  assert.deepStrictEqual(decodePacket(encode(connect, 5)), { ...connect, protocolVersion: 5 });
});

test('AUTH does not exist before MQTT 5', () => {
  assert.throws(() => encode({ type: 'auth', reasonCode: 0 }, 4), malformed);
});

test('remaining length over 268,435,455 is refused with 0x95 before allocating', () => {
  // A stand-in whose length claims 256 MB: the encoder must refuse it from the length alone.
  const huge = Object.create(Buffer.prototype, { length: { value: 268_435_456 } }) as Buffer;
  assert.throws(() => encode(pub({ payload: huge }), 4), hasReason(0x95));
});

test('3.1/3.1.1 acks, UNSUBACK and DISCONNECT leave out MQTT 5 reason codes and properties', () => {
  const props = { reasonString: 'why', userProperties: [['k', 'v']] as [string, string][] };
  assert.deepStrictEqual(
    [...encode({ type: 'puback', packetId: 1, reasonCode: 0x10, properties: props }, 4)],
    [0x40, 2, 0, 1],
  );
  assert.deepStrictEqual([...encode({ type: 'pubrel', packetId: 2, reasonCode: 0x92 }, 3)], [0x62, 2, 0, 2]);
  assert.deepStrictEqual(
    [...encode({ type: 'unsuback', packetId: 3, reasonCodes: [0x11], properties: props }, 4)],
    [0xb0, 2, 0, 3],
  );
  assert.deepStrictEqual([...encode({ type: 'disconnect', reasonCode: 0x8e, properties: props }, 4)], [0xe0, 0]);
  assert.deepStrictEqual(
    [...encode(pub({ properties: { topicAlias: 1 } }), 4)],
    [0x30, 7, 0, 3, 0x61, 0x2f, 0x62, 0x68, 0x69],
  );
});

test('[MQTT-3.9.3-2] a 3.1.1 SUBACK keeps 0x80 and turns every MQTT 5 failure into 0x80', () => {
  const suback: Packet = { type: 'suback', packetId: 1, reasonCodes: [0, 1, 2, 0x80, 0x87, 0x8f, 0xa2] };
  assert.deepStrictEqual([...encode(suback, 4)], [0x90, 9, 0, 1, 0, 1, 2, 0x80, 0x80, 0x80, 0x80]);
  assert.deepStrictEqual([...encode(suback, 5)], [0x90, 10, 0, 1, 0, 0, 1, 2, 0x80, 0x87, 0x8f, 0xa2]);
});

test('[MQTT-3.4.2-1] [MQTT-3.14.2-1] an MQTT 5 sender uses only the reason codes of the packet', () => {
  assert.throws(() => encode({ type: 'puback', packetId: 1, reasonCode: 0x92 }, 5), malformed);
  assert.throws(() => encode({ type: 'pubrel', packetId: 1, reasonCode: 0x10 }, 5), malformed);
  assert.throws(() => encode({ type: 'connack', sessionPresent: false, reasonCode: 0x04 }, 5), malformed);
  assert.throws(() => encode({ type: 'suback', packetId: 1, reasonCodes: [0, 3] }, 5), malformed);
  assert.throws(() => encode({ type: 'unsuback', packetId: 1, reasonCodes: [0x10] }, 5), malformed);
  assert.throws(() => encode({ type: 'disconnect', reasonCode: 0x05 }, 5), malformed);
  assert.throws(() => encode({ type: 'auth', reasonCode: 0x01 }, 5), malformed);
  // Before MQTT 5 the ack reason code is simply not written.
  assert.deepStrictEqual([...encode({ type: 'puback', packetId: 1, reasonCode: 0x92 }, 4)], [0x40, 2, 0, 1]);
});

test('§3.2.2.3 a 3.1.1 CONNACK turns an MQTT 5 refusal into the nearest return code', () => {
  const connack = (reasonCode: number): number[] => [
    ...encode({ type: 'connack', sessionPresent: false, reasonCode }, 4),
  ];
  assert.deepStrictEqual(connack(0x00), [0x20, 2, 0, 0]);
  assert.deepStrictEqual(connack(0x05), [0x20, 2, 0, 5]);
  assert.deepStrictEqual(connack(0x84), [0x20, 2, 0, 1]);
  assert.deepStrictEqual(connack(0x85), [0x20, 2, 0, 2]);
  assert.deepStrictEqual(connack(0x86), [0x20, 2, 0, 4]);
  assert.deepStrictEqual(connack(0x87), [0x20, 2, 0, 5]);
  assert.deepStrictEqual(connack(0x89), [0x20, 2, 0, 3]);
  // [MQTT-3.2.2-4] (3.1.1), [MQTT-3.2.2-6] (5.0): a refusal never says a session is present.
  assert.deepStrictEqual([...encode({ type: 'connack', sessionPresent: true, reasonCode: 0x87 }, 4)], [0x20, 2, 0, 5]);
  assert.deepStrictEqual(
    [...encode({ type: 'connack', sessionPresent: true, reasonCode: 0x87 }, 5)],
    [0x20, 3, 0, 0x87, 0],
  );
  assert.deepStrictEqual([...encode({ type: 'connack', sessionPresent: true, reasonCode: 0 }, 5)], [0x20, 3, 1, 0, 0]);
  // MQTT 3.1 has no session present flag.
  assert.deepStrictEqual([...encode({ type: 'connack', sessionPresent: true, reasonCode: 0 }, 3)], [0x20, 2, 0, 0]);
});

test('§3.4.2.1 MQTT 5 acks take the short form for Success without properties', () => {
  assert.deepStrictEqual([...encode({ type: 'pubrec', packetId: 7 }, 5)], [0x50, 2, 0, 7]);
  assert.deepStrictEqual(
    [...encode({ type: 'pubrec', packetId: 7, reasonCode: 0, properties: {} }, 5)],
    [0x50, 2, 0, 7],
  );
  assert.deepStrictEqual([...encode({ type: 'pubrec', packetId: 7, reasonCode: 0x10 }, 5)], [0x50, 3, 0, 7, 0x10]);
  assert.deepStrictEqual(
    [...encode({ type: 'pubrec', packetId: 7, reasonCode: 0, properties: { reasonString: 'a' } }, 5)],
    [0x50, 8, 0, 7, 0, 4, 0x1f, 0, 1, 0x61],
  );
  assert.deepStrictEqual([...encode({ type: 'disconnect' }, 5)], [0xe0, 0]);
  assert.deepStrictEqual([...encode({ type: 'disconnect', reasonCode: 0x8e }, 5)], [0xe0, 1, 0x8e]);
  assert.deepStrictEqual([...encode({ type: 'auth' }, 5)], [0xf0, 0]);
});

test('§2.2.2 properties are written in identifier order whatever the object order', () => {
  const a = encode(pub({ properties: { userProperties: [['k', 'v']], topicAlias: 1, payloadFormatIndicator: 1 } }), 5);
  const b = encode(pub({ properties: { payloadFormatIndicator: 1, topicAlias: 1, userProperties: [['k', 'v']] } }), 5);
  assert.deepStrictEqual(a, b);
  // Property length 12, then 0x01, 0x23, 0x26.
  assert.deepStrictEqual([...a.subarray(7, 19)], [12, 0x01, 1, 0x23, 0, 1, 0x26, 0, 1, 0x6b, 0, 1]);
});

test('[MQTT-3.3.1-2] DUP is never written on a QoS 0 PUBLISH', () => {
  assert.equal(encode(pub({ dup: true }), 4)[0], 0x30);
  assert.equal(encode(pub({ dup: true, qos: 1, packetId: 1 }), 4)[0], 0x3a);
});

test('encodePublishShared: QoS 0 shares one buffer among all receivers', () => {
  const shared = encodePublishShared(pub(), 4);
  assert.equal(shared.packetIdOffset, -1);
  assert.equal(withPacketId(shared, 5), shared.bytes);
  assert.deepStrictEqual(shared.bytes, encode(pub(), 4));
});

test('encodePublishShared: QoS 1/2 bytes take a packet identifier per receiver, DUP on request', () => {
  for (const version of [3, 4, 5] as const) {
    const packet = pub({ qos: 2, properties: version === 5 ? { messageExpiryInterval: 9 } : undefined });
    const shared = encodePublishShared(packet, version);
    // Without an identifier the placeholder is 0.
    assert.equal(shared.bytes.readUInt16BE(shared.packetIdOffset), 0);
    const first = withPacketId(shared, 1);
    const second = withPacketId(shared, 65_535, true);
    assert.notEqual(first, shared.bytes);
    assert.deepStrictEqual(first, encode({ ...packet, packetId: 1 }, version));
    assert.deepStrictEqual(second, encode({ ...packet, packetId: 65_535, dup: true }, version));
    assert.equal(shared.bytes.readUInt16BE(shared.packetIdOffset), 0, 'the shared bytes are untouched');
    const cleared = withPacketId({ bytes: second, packetIdOffset: shared.packetIdOffset }, 2, false);
    assert.deepStrictEqual(cleared, encode({ ...packet, packetId: 2 }, version));
  }
});

test('takeWithPacketId: the first receiver gets the shared bytes, later ones copies that never change it', () => {
  for (const version of [4, 5] as const) {
    const packet = pub({ qos: 1 });
    const shared = encodePublishShared(packet, version);
    const first = takeWithPacketId(shared, 7, false);
    assert.equal(first, shared.bytes, 'no copy for the first receiver');
    assert.deepStrictEqual(first, encode({ ...packet, packetId: 7 }, version));
    const firstCopy = Buffer.from(first);
    const second = takeWithPacketId(shared, 8, true);
    const third = takeWithPacketId(shared, 9, false);
    assert.notEqual(second, first);
    assert.deepStrictEqual(second, encode({ ...packet, packetId: 8, dup: true }, version));
    assert.deepStrictEqual(third, encode({ ...packet, packetId: 9 }, version));
    assert.deepStrictEqual(first, firstCopy, 'what the first receiver was handed is not changed by later ones');
    assert.throws(() => takeWithPacketId(encodePublishShared(packet, version), 0, false), malformed);
  }
  const qos0 = encodePublishShared(pub(), 4);
  assert.equal(takeWithPacketId(qos0, 1, false), qos0.bytes);
  assert.equal(takeWithPacketId(qos0, 2, false), qos0.bytes, 'QoS 0 bytes are shared by everyone');
});

test('encodePublishShared finds the identifier after a long topic and a multi-byte remaining length', () => {
  const packet = pub({ topic: `t/${'é'.repeat(100)}`, qos: 1, packetId: 3, payload: Buffer.alloc(20_000, 1) });
  const shared = encodePublishShared(packet, 5);
  assert.equal(shared.bytes.readUInt16BE(shared.packetIdOffset), 3);
  assert.deepStrictEqual(decodePacket(withPacketId(shared, 42), 5), { ...packet, packetId: 42 });
  assert.throws(() => withPacketId(shared, 0), malformed);
});
