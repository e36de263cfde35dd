import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decoder, decodePacket } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { Packet, PublishPacket } from '../../src/protocol/packets.js';

function hasReason(code: number): (err: unknown) => boolean {
  return (err) => err instanceof MqttError && err.reasonCode === code;
}

function publish(topic: string, size: number, qos: 0 | 1 = 0): Buffer {
  return encode(
    {
      type: 'publish',
      topic,
      payload: Buffer.alloc(size, 0x78),
      qos,
      retain: false,
      dup: false,
      packetId: qos ? 1 : undefined,
    },
    4,
  );
}

test('a header announcing 256 MB is refused with 0x95 before anything is buffered', () => {
  const before = process.memoryUsage().arrayBuffers;
  const decoder = new Decoder(() => assert.fail('no packet'), { protocolVersion: 4, maximumPacketSize: 1024 * 1024 });
  // PUBLISH with remaining length 268,435,455 and its first body bytes.
  assert.throws(() => decoder.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x61])), hasReason(0x95));
  assert.equal(decoder.buffered, 0);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no large allocation');
});

test('a 256 MB header arriving byte by byte is refused when its last length byte arrives', () => {
  const decoder = new Decoder(() => assert.fail('no packet'), { protocolVersion: 4, maximumPacketSize: 100_000 });
  for (const byte of [0x30, 0xff, 0xff, 0xff]) decoder.push(Buffer.from([byte]));
  assert.equal(decoder.buffered, 4);
  assert.throws(() => decoder.push(Buffer.from([0x7f])), hasReason(0x95));
});

test('with the default maximum, a packet announced as 256 MB costs only the bytes that arrived', () => {
  const before = process.memoryUsage().arrayBuffers;
  const decoder = new Decoder(() => assert.fail('no packet'), { protocolVersion: 4 });
  assert.equal(decoder.maximumPacketSize, 268_435_460);
  decoder.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x61]));
  decoder.push(Buffer.alloc(1000));
  assert.equal(decoder.buffered, 1008);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no large allocation');
});

test('maximumPacketSize counts the whole packet, fixed header included', () => {
  const bytes = publish('t', 10); // 2 + 3 + 10 = 15 bytes
  assert.equal(bytes.length, 15);
  const ok: Packet[] = [];
  new Decoder((p) => ok.push(p), { protocolVersion: 4, maximumPacketSize: 15 }).push(bytes);
  assert.equal(ok.length, 1);
  const tight = new Decoder(() => assert.fail('no packet'), { protocolVersion: 4, maximumPacketSize: 14 });
  assert.throws(() => tight.push(bytes), hasReason(0x95));
});

test('maximumPacketSize and protocolVersion can be changed between packets', () => {
  const packets: Packet[] = [];
  const decoder = new Decoder((p) => packets.push(p), { protocolVersion: 4 });
  decoder.push(publish('t', 100));
  decoder.maximumPacketSize = 50;
  assert.throws(() => decoder.push(publish('t', 100)), hasReason(0x95));
  assert.equal(packets.length, 1);

  const v5 = new Decoder((p) => packets.push(p), { protocolVersion: 4 });
  v5.protocolVersion = 5;
  v5.push(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x10])); // a 5.0 PUBACK with a reason code
  assert.deepStrictEqual(packets.at(-1), { type: 'puback', packetId: 1, reasonCode: 0x10 });
});

test('[MQTT-1.5.5-1] a fifth remaining-length byte is refused as soon as it is seen', () => {
  const decoder = new Decoder(() => assert.fail('no packet'), { protocolVersion: 4 });
  for (const byte of [0x30, 0x80, 0x80, 0x80]) decoder.push(Buffer.from([byte]));
  assert.throws(() => decoder.push(Buffer.from([0x80])), hasReason(0x81));
});

test('a PUBLISH inside one chunk shares the chunk memory: its payload is not copied', () => {
  const bytes = Buffer.concat([publish('a/b', 64), publish('c', 8)]);
  const packets: PublishPacket[] = [];
  new Decoder((p) => packets.push(p as PublishPacket), { protocolVersion: 4 }).push(bytes);
  assert.equal(packets.length, 2);
  assert.equal(packets[0]!.payload.buffer, bytes.buffer);
  assert.equal(packets[0]!.payload.byteOffset, bytes.byteOffset + 7);
  assert.equal(packets[1]!.payload.buffer, bytes.buffer);
  // So a consumer that keeps it must copy: the chunk's owner may reuse the memory.
  bytes.fill(0);
  assert.equal(packets[0]!.payload[0], 0);
});

test('a plain Uint8Array (as a browser WebSocket gives) is decoded without copying', () => {
  const bytes = publish('u/8', 5);
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const packets: PublishPacket[] = [];
  new Decoder((p) => packets.push(p as PublishPacket), { protocolVersion: 4 }).push(view);
  assert.equal(packets[0]!.topic, 'u/8');
  assert.equal(packets[0]!.payload.buffer, bytes.buffer);
});

test('a packet split across chunks is assembled once, in a buffer of its own size', () => {
  const bytes = publish('a/b', 1000, 1);
  const packets: PublishPacket[] = [];
  const decoder = new Decoder((p) => packets.push(p as PublishPacket), { protocolVersion: 4 });
  decoder.push(bytes.subarray(0, 1));
  assert.equal(decoder.buffered, 1);
  decoder.push(bytes.subarray(1, 2)); // fixed header split inside the remaining length
  assert.equal(decoder.buffered, 2);
  decoder.push(bytes.subarray(2, 500));
  assert.equal(decoder.buffered, 500);
  decoder.push(bytes.subarray(500));
  assert.equal(decoder.buffered, 0);
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.payload.length, 1000);
  assert.equal(packets[0]!.packetId, 1);
  bytes.fill(0); // the chunks were copied, so reusing them changes nothing
  assert.ok(packets[0]!.payload.equals(Buffer.alloc(1000, 0x78)));
});

test('a 3 MB PUBLISH (four-byte remaining length) arrives intact through 64 KB chunks', () => {
  const payload = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = (i / 4096) & 0xff;
  const bytes = encode({ type: 'publish', topic: 'big', payload, qos: 1, retain: false, dup: false, packetId: 9 }, 5);
  assert.equal(bytes[4]! & 0x80, 0); // the fourth length byte ends the remaining length
  const packets: PublishPacket[] = [];
  const decoder = new Decoder((p) => packets.push(p as PublishPacket), { protocolVersion: 5 });
  for (let i = 0; i < bytes.length; i += 65_536) decoder.push(bytes.subarray(i, i + 65_536));
  assert.equal(packets.length, 1);
  assert.equal(decoder.buffered, 0);
  assert.ok(packets[0]!.payload.equals(payload));
});

test('packets are delivered synchronously and in order, the rest of a chunk kept for later', () => {
  const a = publish('a', 1);
  const b = publish('b', 300);
  const stream = Buffer.concat([a, b, Buffer.from([0xc0, 0x00])]);
  const seen: string[] = [];
  const decoder = new Decoder((p) => seen.push(p.type === 'publish' ? p.topic : p.type), { protocolVersion: 4 });
  decoder.push(stream.subarray(0, a.length + 10));
  assert.deepStrictEqual(seen, ['a']);
  assert.equal(decoder.buffered, 10);
  decoder.push(stream.subarray(a.length + 10));
  assert.deepStrictEqual(seen, ['a', 'b', 'pingreq']);
});

test('[MQTT-3.1.0-1] without a known level only CONNECT is accepted, and its level is adopted', () => {
  const connect = encode(
    { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepAlive: 0, clientId: 'x' },
    5,
  );
  const packets: Packet[] = [];
  const decoder = new Decoder((p) => packets.push(p));
  assert.equal(decoder.protocolVersion, undefined);
  decoder.push(Buffer.concat([connect, Buffer.from([0xe0, 0x01, 0x04])]));
  assert.equal(decoder.protocolVersion, 5);
  assert.deepStrictEqual(packets[1], { type: 'disconnect', reasonCode: 0x04 });

  const early = new Decoder(() => assert.fail('no packet'));
  assert.throws(() => early.push(Buffer.from([0xc0])), hasReason(0x82));
});

test('[MQTT-3.1.2-2] after an unsupported protocol level the decoder tells which one was asked for', () => {
  const decoder = new Decoder(() => assert.fail('no packet'));
  assert.equal(decoder.unsupportedProtocol, undefined);
  const bytes = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0, 0, 0, 0]); // "MQTT" level 6
  assert.throws(() => decoder.push(bytes), hasReason(0x84));
  assert.deepStrictEqual(decoder.unsupportedProtocol, { protocolName: 'MQTT', protocolLevel: 6 });
});

test('after a throw the decoder is dead and keeps refusing with the same reason', () => {
  const decoder = new Decoder(() => {}, { protocolVersion: 4 });
  assert.throws(() => decoder.push(Buffer.from([0x00, 0x00])), hasReason(0x81));
  assert.throws(() => decoder.push(Buffer.from([0xc0, 0x00])), hasReason(0x81));
});

test('an error thrown by the packet consumer passes through unchanged', () => {
  const mine = new Error('consumer failed');
  const decoder = new Decoder(
    () => {
      throw mine;
    },
    { protocolVersion: 4 },
  );
  assert.throws(
    () => decoder.push(Buffer.from([0xc0, 0x00])),
    (err) => err === mine,
  );
  assert.throws(() => decoder.push(Buffer.from([0xc0, 0x00])), MqttError);
});

test('nothing but MqttError comes out of random bytes', () => {
  // A small deterministic generator keeps the test reproducible without a dependency.
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let round = 0; round < 2000; round++) {
    const bytes = Buffer.alloc(1 + (next() % 64));
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
    for (const version of [undefined, 3, 4, 5] as const) {
      const decoder = new Decoder(() => {}, { protocolVersion: version, maximumPacketSize: 4096 });
      try {
        decoder.push(bytes);
      } catch (err) {
        assert.ok(err instanceof MqttError, String(err));
        assert.ok([0x81, 0x82, 0x84, 0x95].includes(err.reasonCode));
      }
    }
  }
});

test('decodePacket wants exactly one complete packet', () => {
  assert.deepStrictEqual(decodePacket(Buffer.from([0xd0, 0x00]), 4), { type: 'pingresp' });
  assert.throws(() => decodePacket(Buffer.from([0xd0]), 4), hasReason(0x81));
  assert.throws(() => decodePacket(Buffer.from([0xd0, 0x00, 0xd0, 0x00]), 4), hasReason(0x81));
  assert.throws(() => decodePacket(Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61]), 4), hasReason(0x81));
});

test('binary fields of CONNECT are copied, so they outlive the chunk', () => {
  const bytes = encode(
    {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepAlive: 0,
      clientId: 'x',
      will: { topic: 'w', payload: Buffer.from('bye'), qos: 0, retain: false },
      username: 'u',
      password: Buffer.from('pw'),
    },
    4,
  );
  const packet = decodePacket(bytes) as Extract<Packet, { type: 'connect' }>;
  bytes.fill(0);
  assert.equal(packet.will?.payload.toString(), 'bye');
  assert.equal(packet.password?.toString(), 'pw');
});

test('a repeated topic name is decoded to the same string, a changed one to its own (same length, other bytes)', () => {
  const topics: string[] = [];
  const decoder = new Decoder((p) => topics.push((p as PublishPacket).topic), { protocolVersion: 4 });
  const sequence = ['home/kitchen/temp', 'home/kitchen/temp', 'home/kitchen/tem2', 'home/kitchen/temp', 'a', 'a'];
  for (const topic of sequence) decoder.push(publish(topic, 4));
  assert.deepStrictEqual(topics, sequence);
  // [MQTT-3.3.2-2] the reuse does not skip the wildcard check.
  assert.throws(() => decoder.push(publish('home/kitchen/tem+', 4)), hasReason(0x81));
});

test('the context given to the decoder comes with every packet', () => {
  const owner = { name: 'connection 1', seen: [] as string[] };
  const decoder = new Decoder((p, context: typeof owner) => context.seen.push(p.type), { protocolVersion: 4 }, owner);
  decoder.push(Buffer.concat([publish('a', 1), Buffer.from([0xc0, 0x00])]));
  assert.deepStrictEqual(owner.seen, ['publish', 'pingreq']);
});
