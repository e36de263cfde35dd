// MQTT 5.0 sections 3.8 to 3.11 (SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK) and 4.8 (shared subscriptions).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authorizer } from '../../src/auth/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, delay } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 5.0 SUBSCRIBE, UNSUBSCRIBE and shared subscriptions (server)', { concurrency: true }, () => {
  test('[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-2.2.1-6] [MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.9.3-1] one SUBACK, same identifier, one reason code per filter in order', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    sub.send({
      type: 'subscribe',
      packetId: 0xbeef,
      subscriptions: [
        { topicFilter: 'a/+', qos: 2 },
        { topicFilter: 'bad/#/x', qos: 1 },
        { topicFilter: 'b', qos: 0 },
        { topicFilter: 'c/#', qos: 1 },
        { topicFilter: 'd+', qos: 1 },
      ],
    });
    const suback = await sub.expect('suback');
    assert.equal(suback.packetId, 0xbeef);
    assert.deepEqual(suback.reasonCodes, [2, ReasonCode.TopicFilterInvalid, 0, 1, ReasonCode.TopicFilterInvalid]);
    await sub.expectNothing();
    // The valid filters in the same request took effect.
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'c/x', payload: Buffer.from('c') });
    assert.equal((await sub.expect('publish')).topic, 'c/x');
  });

  test('[MQTT-3.8.4-7] [MQTT-3.9.3-2] SUBACK reason codes are granted QoS or defined failure codes (0x87 from the authorizer)', async (t) => {
    const authorizer: Authorizer = {
      canPublish: () => true,
      canSubscribe: (_c, filter) => !filter.startsWith('secret'),
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const sub = await bench.connected('sub');
    sub.send({
      type: 'subscribe',
      packetId: 3,
      subscriptions: [
        { topicFilter: 'secret/#', qos: 1 },
        { topicFilter: 'open/#', qos: 1 },
      ],
    });
    const suback = await sub.expect('suback');
    assert.deepEqual(suback.reasonCodes, [ReasonCode.NotAuthorized, 1]);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'secret/x', payload: Buffer.from('s') });
    pub.publish({ topic: 'open/x', payload: Buffer.from('o') });
    assert.equal((await sub.expect('publish')).topic, 'open/x');
    await sub.expectNothing();
  });

  test('[MQTT-3.8.4-3] [MQTT-3.8.4-4] an identical filter replaces the subscription (new QoS, one copy), Retain Handling 0 re-sends retained', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rep/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('r') });
    await pub.expect('puback');
    const sub = await bench.connected('sub');
    await sub.subscribe('rep/t', 0);
    assert.equal((await sub.expect('publish')).qos, 0);
    await sub.subscribe('rep/t', 1);
    const again = await sub.expect('publish');
    assert.equal(again.retain, true);
    assert.equal(again.qos, 1);
    sub.send({ type: 'puback', packetId: again.packetId ?? 0 });
    pub.publish({ topic: 'rep/t', qos: 1, packetId: 2, payload: Buffer.from('live') });
    const live = await sub.expect('publish');
    assert.equal(live.qos, 1, 'the replacement QoS applies');
    await sub.expectNothing();
  });

  test('[MQTT-3.8.4-4] replacing a subscription does not interrupt the flow of publications', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('flow/t', 1);
    const pub = await bench.connected('pub');
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < 40) pub.publish({ topic: 'flow/t', payload: Buffer.from(`${sent++}`) });
    }, 1);
    t.after(() => clearInterval(timer));
    await delay(10);
    sub.send({ type: 'subscribe', packetId: 9, subscriptions: [{ topicFilter: 'flow/t', qos: 0 }] });
    const got: string[] = [];
    while (got.length < 40) {
      const p = await sub.next();
      if (p.type === 'publish') got.push(p.payload.toString());
    }
    clearInterval(timer);
    assert.deepEqual(
      got,
      Array.from({ length: 40 }, (_, i) => `${i}`),
    );
  });

  test('[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6] [MQTT-3.11.3-1] [MQTT-3.11.3-2] [MQTT-2.2.1-6] UNSUBSCRIBE matches filters exactly, stops delivery, UNSUBACK per filter', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('u/+', 0);
    await sub.subscribe('u/x', 0);
    sub.send({ type: 'unsubscribe', packetId: 0x0102, topicFilters: ['u/+', 'u/#', 'U/x'] });
    const unsuback = await sub.expect('unsuback');
    assert.equal(unsuback.packetId, 0x0102);
    assert.deepEqual(unsuback.reasonCodes, [0, ReasonCode.NoSubscriptionExisted, ReasonCode.NoSubscriptionExisted]);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'u/y', payload: Buffer.from('gone') });
    pub.publish({ topic: 'u/x', payload: Buffer.from('kept') });
    const m = await sub.expect('publish');
    assert.equal(m.payload.toString(), 'kept');
    assert.equal(m.topic, 'u/x');
    await sub.expectNothing();
  });

  test('[MQTT-3.10.4-6] [MQTT-3.11.3-2] UNSUBSCRIBE with no matching subscription still gets UNSUBACK (0x11)', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    sub.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['never/subscribed'] });
    const unsuback = await sub.expect('unsuback');
    assert.equal(unsuback.packetId, 4);
    assert.deepEqual(unsuback.reasonCodes, [ReasonCode.NoSubscriptionExisted]);
  });

  test('[MQTT-3.10.4-3] a QoS 2 message in flight when its subscription is removed still completes', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 5, { properties: { receiveMaximum: 1 } });
    await sub.subscribe('inf/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'inf/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    const m = await sub.expect('publish');
    sub.send({ type: 'unsubscribe', packetId: 2, topicFilters: ['inf/t'] });
    await sub.expect('unsuback');
    sub.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
    const pubrel = await sub.expect('pubrel');
    assert.equal(pubrel.packetId, m.packetId);
    sub.send({ type: 'pubcomp', packetId: m.packetId ?? 0 });
    await sub.expectNothing();
  });

  test('[MQTT-4.8.2-1] [MQTT-4.8.2-2] a malformed $share filter gets 0x8F; a valid one is granted', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    sub.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { topicFilter: '$share/g', qos: 0 },
        { topicFilter: '$share/g+/t', qos: 0 },
        { topicFilter: '$share//t', qos: 0 },
        { topicFilter: '$share/g/t/#', qos: 1 },
      ],
    });
    const suback = await sub.expect('suback');
    assert.deepEqual(suback.reasonCodes, [
      ReasonCode.TopicFilterInvalid,
      ReasonCode.TopicFilterInvalid,
      ReasonCode.TopicFilterInvalid,
      1,
    ]);
  });

  test('[MQTT-4.8.2-3] each message to a share group goes to one member, at that member’s granted QoS', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('a');
    const b = await bench.connected('b');
    await a.subscribe('$share/grp/sh/t', 0);
    await b.subscribe('$share/grp/sh/t', 1);
    const plain = await bench.connected('plain');
    await plain.subscribe('sh/t', 0);
    const pub = await bench.connected('pub');
    for (let i = 0; i < 10; i++) pub.publish({ topic: 'sh/t', qos: 1, packetId: i + 1, payload: Buffer.from(`${i}`) });
    for (let i = 0; i < 10; i++) await plain.expect('publish');
    await delay(50);
    const toA = a.queue.splice(0).filter((p) => p.type === 'publish');
    const toB = b.queue.splice(0).filter((p) => p.type === 'publish');
    assert.equal(toA.length + toB.length, 10, 'each message exactly once to the group');
    for (const m of toA) assert.equal(m.type === 'publish' && m.qos, 0);
    for (const m of toB) assert.equal(m.type === 'publish' && m.qos, 1);
    assert.ok(toA.length > 0 && toB.length > 0, 'both members get a share');
  });

  test('4.8.2 shared subscriptions do not receive retained messages when they are made', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'shr/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('r') });
    await pub.expect('puback');
    const sub = await bench.connected('sub');
    await sub.subscribe('$share/g/shr/t', 1);
    await sub.expectNothing();
  });

  test('[MQTT-4.8.2-4] [MQTT-4.8.2-5] a QoS 2 shared delivery stays with its member when it reconnects', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('ma', 5, { properties: { sessionExpiryInterval: 60 } });
    await a.subscribe('$share/g/s2/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 's2/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    const m = await a.expect('publish');
    a.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
    await a.expect('pubrel');
    a.destroy();
    await delay(20);
    const back = bench.peer(5);
    await back.connect({ clientId: 'ma', clean: false, properties: { sessionExpiryInterval: 60 } });
    const pubrel = await back.expect('pubrel');
    assert.equal(pubrel.packetId, m.packetId);
  });

  test('[MQTT-4.8.2-5] a QoS 2 shared delivery whose member’s session ends is sent to no other member', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('ma');
    await a.subscribe('$share/g/s2e/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 's2e/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    await a.expect('publish');
    const b = await bench.connected('mb');
    await b.subscribe('$share/g/s2e/t', 2);
    a.destroy();
    await b.expectNothing(150);
  });

  test('[MQTT-4.7.2-1] a shared subscription whose filter starts with a wildcard does not receive $ topics', async (t) => {
    const bench = await Bench.open(t);
    const member = await bench.connected('m');
    await member.subscribe('$share/g/#', 0);
    await member.subscribe('$share/h/+/x', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: '$own/x', payload: Buffer.from('dollar') });
    pub.publish({ topic: 'own/x', payload: Buffer.from('plain') });
    const got = [await member.expect('publish'), await member.expect('publish')].map((m) => m.topic);
    assert.deepEqual(got, ['own/x', 'own/x'], 'one copy per matching group, none for $own/x');
    await member.expectNothing();
  });

  test('[MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: '$share/g/t', qos: 0, noLocal: true }] });
    await sub.expectDisconnect(ReasonCode.ProtocolError);
  });

  test('3.8.2.1.2 a Subscription Identifier is accepted (CONNACK does not say Subscription Identifiers Available 0)', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'sia' });
    assert.notEqual(connack.properties?.subscriptionIdentifiersAvailable, 0);
    assert.notEqual(connack.properties?.wildcardSubscriptionAvailable, 0);
    assert.notEqual(connack.properties?.sharedSubscriptionAvailable, 0);
    assert.deepEqual(await peer.subscribe('x/#', 0, {}, { subscriptionIdentifiers: [1] }), [0]);
  });
});
