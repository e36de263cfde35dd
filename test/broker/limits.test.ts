import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { test } from 'node:test';
import { exceedsTopicLimits, InputThrottle } from '../../src/broker/limits.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type { ConnectPacket, Packet } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { connected, delay, RawClient, startBroker } from './helpers.js';

test('topic limits count characters and levels', () => {
  assert.equal(exceedsTopicLimits('a/b/c', 5, 3), false);
  assert.equal(exceedsTopicLimits('a/b/cd', 5, 3), true);
  assert.equal(exceedsTopicLimits('a/b/c/d', 100, 3), true);
  assert.equal(exceedsTopicLimits('//', 100, 3), false);
  assert.equal(exceedsTopicLimits('///', 100, 3), true);
});

test('the input throttle allows one second of burst and then asks for the time the excess takes', () => {
  const throttle = new InputThrottle(100, 0);
  assert.equal(throttle.take(0, 100, 0), 0);
  assert.equal(throttle.take(0, 50, 0), 500);
  // One second later the debt of 150 has shrunk by 100.
  assert.equal(throttle.take(1000, 0, 0), 0);
  const bytes = new InputThrottle(0, 1000);
  assert.equal(bytes.take(0, 0, 3000), 2000);
});

test('maxSubscriptionsPerClient: further filters get SUBACK 0x97 (3.1.1: 0x80), a replaced one still passes', async (t) => {
  const broker = await startBroker({ maxSubscriptionsPerClient: 2 });
  t.after(() => broker.close());
  const c5 = await connected(broker, 'five');
  c5.send({
    type: 'subscribe',
    packetId: 1,
    subscriptions: ['a', 'b', 'c'].map((topicFilter) => ({ topicFilter, qos: 1 as const })),
  });
  assert.deepEqual((await c5.expect('suback')).reasonCodes, [1, 1, ReasonCode.QuotaExceeded]);
  assert.deepEqual(await c5.subscribe('a', 0, 2), [0]);
  const c4 = await connected(broker, 'four', 4);
  c4.send({
    type: 'subscribe',
    packetId: 1,
    subscriptions: ['a', 'b', 'c'].map((topicFilter) => ({ topicFilter, qos: 0 as const })),
  });
  assert.deepEqual((await c4.expect('suback')).reasonCodes, [0, 0, 0x80]);
  assert.equal(broker.stats.subscriptionsRefused, 2);
  assert.equal(broker.stats.subscriptions, 4);
});

test('maxTopicLength and maxTopicLevels: PUBACK/PUBREC 0x90, DISCONNECT 0x90 for QoS 0, SUBACK 0x8F', async (t) => {
  const broker = await startBroker({ maxTopicLength: 16, maxTopicLevels: 3 });
  t.after(() => broker.close());
  const sub = await connected(broker, 'sub');
  assert.deepEqual(await sub.subscribe('a/b/#', 1), [1]);
  assert.deepEqual(await sub.subscribe('a/b/c/d', 1, 2), [ReasonCode.TopicFilterInvalid]);
  const pub = await connected(broker, 'pub');
  pub.publish({ topic: 'a/b/c/d', qos: 1, packetId: 1 });
  assert.equal((await pub.expect('puback')).reasonCode, ReasonCode.TopicNameInvalid);
  pub.publish({ topic: 'a/b/0123456789abcdef', qos: 2, packetId: 2 });
  assert.equal((await pub.expect('pubrec')).reasonCode, ReasonCode.TopicNameInvalid);
  pub.publish({ topic: 'a/b/c', qos: 1, packetId: 3, payload: Buffer.from('ok') });
  assert.equal((await pub.expect('puback')).reasonCode, 0);
  assert.equal((await sub.expect('publish')).payload.toString(), 'ok');
  await sub.expectNothing(30);
  pub.publish({ topic: 'a/b/c/d', qos: 0 });
  assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.TopicNameInvalid);
  await pub.waitClosed();
  assert.equal(broker.stats.publishesRefused, 3);
  assert.equal(broker.stats.subscriptionsRefused, 1);
});

test('maxTopicLevels on 3.1.1: a PUBLISH too deep closes the connection, a filter too deep gets 0x80', async (t) => {
  const broker = await startBroker({ maxTopicLevels: 2 });
  t.after(() => broker.close());
  const client = await connected(broker, 'old', 4);
  assert.deepEqual(await client.subscribe('x/y/z', 1), [0x80]);
  client.publish({ topic: 'x/y/z', qos: 1, packetId: 1 });
  await client.waitClosed();
  assert.equal(client.received.filter((p) => p.type === 'puback').length, 0);
});

test('a will topic beyond the topic limits is refused with CONNACK 0x90', async (t) => {
  const broker = await startBroker({ maxTopicLevels: 2 });
  t.after(() => broker.close());
  const client = new RawClient(broker, 5);
  const connack = await client.connect({
    clientId: 'w',
    will: { topic: 'w/x/y', payload: Buffer.from('gone'), qos: 0, retain: false },
  });
  assert.equal(connack.reasonCode, ReasonCode.TopicNameInvalid);
});

test('maxPublishRate: beyond the rate the broker stops reading the publisher, then serves it; nothing is lost', async (t) => {
  const broker = await startBroker({ maxPublishRate: 50 });
  t.after(() => broker.close());
  const sub = await connected(broker, 'sub');
  await sub.subscribe('r/#', 0);
  const pub = await connected(broker, 'pub');
  // 100 PUBLISH in one write: a second's burst of 50 plus 50 more, a second of debt.
  const burst: Buffer[] = [];
  for (let i = 0; i < 100; i++) burst.push(encodePublish(`r/${i}`));
  pub.sendRaw(Buffer.concat(burst));
  for (let i = 0; i < 100; i++) await sub.expect('publish');
  pub.publish({ topic: 'r/late', payload: Buffer.from('late') });
  // Read only once the debt is paid: not within the next 200 ms, but within 3 s.
  await sub.expectNothing(200);
  const late = await sub.expect('publish', 3000);
  assert.equal(late.topic, 'r/late');
  assert.ok(broker.stats.inputThrottled >= 1);
  assert.equal(broker.stats.droppedMessages, 0);
});

test('maxBytesPerSecond: a client over its bandwidth is read again once within it', async (t) => {
  const broker = await startBroker({ maxBytesPerSecond: 2000 });
  t.after(() => broker.close());
  const sub = await connected(broker, 'sub');
  await sub.subscribe('b/#', 0);
  const pub = await connected(broker, 'pub');
  pub.publish({ topic: 'b/big', payload: Buffer.alloc(4000) });
  assert.equal((await sub.expect('publish')).topic, 'b/big');
  pub.publish({ topic: 'b/next' });
  await sub.expectNothing(200);
  assert.equal((await sub.expect('publish', 3000)).topic, 'b/next');
  assert.ok(broker.stats.inputThrottled >= 1);
});

test('[MQTT-3.1.2-24] a CONNACK leaves out optional properties to fit the client Maximum Packet Size', async (t) => {
  const broker = await startBroker({ allowAnonymous: true });
  t.after(() => broker.close());
  const client = new RawClient(broker, 5);
  const connack = await client.connect({ clientId: '', properties: { maximumPacketSize: 35 } });
  assert.equal(connack.reasonCode, 0);
  assert.ok(connack.properties?.assignedClientIdentifier);
  assert.equal(connack.properties?.topicAliasMaximum, undefined);
  assert.ok(encode(connack as Packet, 5).length <= 35);
});

function encodePublish(topic: string): Buffer {
  return encode({ type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 5);
}

test('maxClientIdLength: a longer client identifier gets CONNACK 0x85 (3.1.1: 0x02)', async (t) => {
  const broker = await startBroker({ maxClientIdLength: 8 });
  t.after(() => broker.close());
  assert.equal((await new RawClient(broker, 5).connect({ clientId: 'a-long-client-id' })).reasonCode, 0x85);
  assert.equal((await new RawClient(broker, 4).connect({ clientId: 'a-long-client-id' })).reasonCode, 0x02);
  assert.equal((await new RawClient(broker, 5).connect({ clientId: 'short' })).reasonCode, 0);
  assert.equal(broker.stats.connectsRefused, 2);
});

test('maxSessions: a CONNECT that would start one more persistent session gets CONNACK 0x97', async (t) => {
  const broker = await startBroker({ maxSessions: 2 });
  t.after(() => broker.close());
  const keep = { properties: { sessionExpiryInterval: 60 } };
  (await connected(broker, 'one', 5, keep)).destroy();
  (await connected(broker, 'two', 5, keep)).destroy();
  assert.equal((await new RawClient(broker, 5).connect({ clientId: 'three', ...keep })).reasonCode, 0x97);
  // An existing session resumes, and a session that ends with its connection is not refused.
  assert.equal((await new RawClient(broker, 5).connect({ clientId: 'one', clean: false, ...keep })).reasonCode, 0);
  assert.equal((await new RawClient(broker, 5).connect({ clientId: 'passing' })).reasonCode, 0);
  assert.equal(broker.stats.connectsRefused, 1);
});

test('maxRetainedMessages: MQTT 5 gets PUBACK 0x97 and the message is not routed; 3.1.1 is routed, not retained', async (t) => {
  const broker = await startBroker({ maxRetainedMessages: 1 });
  t.after(() => broker.close());
  const sub = await connected(broker, 'sub');
  await sub.subscribe('k/#', 1);
  const pub = await connected(broker, 'pub');
  pub.publish({ topic: 'k/1', qos: 1, packetId: 1, retain: true, payload: Buffer.from('one') });
  assert.equal((await pub.expect('puback')).reasonCode, 0);
  await sub.expect('publish');
  // Replacing the one retained topic is allowed; a second topic is not.
  pub.publish({ topic: 'k/1', qos: 1, packetId: 2, retain: true, payload: Buffer.from('uno') });
  assert.equal((await pub.expect('puback')).reasonCode, 0);
  await sub.expect('publish');
  pub.publish({ topic: 'k/2', qos: 1, packetId: 3, retain: true, payload: Buffer.from('two') });
  assert.equal((await pub.expect('puback')).reasonCode, ReasonCode.QuotaExceeded);
  await sub.expectNothing(30);
  const old = await connected(broker, 'old', 4);
  old.publish({ topic: 'k/3', qos: 1, packetId: 1, retain: true, payload: Buffer.from('three') });
  assert.equal((await old.expect('puback')).packetId, 1);
  assert.equal((await sub.expect('publish')).payload.toString(), 'three');
  assert.equal(broker.stats.retained, 1);
  assert.equal(broker.stats.retainedRefused, 2);
});

test('a client that does not read what it is sent is not read either, until it drains its socket', async (t) => {
  const broker = await startBroker({ maxWriteBufferBytes: 1024, maxPacketSize: 1024 });
  t.after(() => broker.close());
  const [client, server] = duplexPair();
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  broker.handle(server, { loopbackOnly: true });
  const connect: ConnectPacket = {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepAlive: 0,
    clientId: 'deaf',
  };
  client.write(encode(connect, 4));
  // 10,000 QoS 1 PUBLISH owe 40,000 bytes of PUBACK: far beyond what the broker lets pile up for a non-reader.
  const publishes: Buffer[] = [];
  for (let id = 1; id <= 10_000; id++) {
    publishes.push(
      encode(
        { type: 'publish', topic: 'void', payload: Buffer.alloc(0), qos: 1, retain: false, dup: false, packetId: id },
        4,
      ),
    );
  }
  // In chunks of 100, as a socket delivers them: the broker stops between two.
  for (let i = 0; i < publishes.length; i += 100) {
    client.write(Buffer.concat(publishes.slice(i, i + 100)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(broker.stats.inputBlocked >= 1, 'input was paused');
  assert.ok(broker.stats.messagesReceived < 10_000, `read ${broker.stats.messagesReceived} of 10,000 while blocked`);
  // Reading resumes the broker's reading: every PUBLISH is handled and acknowledged.
  let acknowledged = 0;
  const decoder = new Decoder(
    (packet) => {
      if (packet.type === 'puback') acknowledged++;
    },
    { protocolVersion: 4 },
  );
  client.on('data', (chunk: Buffer) => decoder.push(chunk));
  const deadline = Date.now() + 5000;
  while (acknowledged < 10_000 && Date.now() < deadline) await delay(10);
  assert.equal(acknowledged, 10_000);
  assert.equal(broker.stats.messagesReceived, 10_000);
});
