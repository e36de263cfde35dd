// MQTT 5.0 section 3.3 (PUBLISH) and its acknowledgements, 4.3 (QoS flows) and 4.6 (ordering): the server's side.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authorizer } from '../../src/auth/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { assertMinimumQoSDelivered } from './checks.js';
import { Bench, delay, type Peer } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 5.0 PUBLISH and QoS flows (server)', { concurrency: true }, () => {
  /**
   * Publishes QoS 1 messages with these Message Expiry Intervals for the offline session 'exp' (subscribed to mx/t),
   * lets 1.1 s pass, and returns the session's client back on a new connection.
   */
  async function resumedAfterWaiting(
    bench: Bench,
    messages: { payload: string; messageExpiryInterval: number }[],
  ): Promise<Peer> {
    const sub = await bench.connected('exp', 5, { properties: { sessionExpiryInterval: 60 } });
    await sub.subscribe('mx/t', 1);
    sub.destroy();
    await delay(20);
    const pub = await bench.connected('pub');
    for (const [i, { payload, messageExpiryInterval }] of messages.entries()) {
      pub.publish({
        topic: 'mx/t',
        qos: 1,
        packetId: i + 1,
        payload: Buffer.from(payload),
        properties: { messageExpiryInterval },
      });
    }
    for (let i = 0; i < messages.length; i++) await pub.expect('puback');
    await delay(1100);
    const again = bench.peer(5);
    await again.connect({ clientId: 'exp', clean: false, properties: { sessionExpiryInterval: 60 } });
    return again;
  }

  test('[MQTT-4.3.1-1] [MQTT-3.3.1-2] [MQTT-2.2.1-2] a QoS 0 message is delivered with QoS 0, DUP 0 and no packet identifier', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('q0/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'q0/t', payload: Buffer.from('zero') });
    const message = await sub.expect('publish');
    assert.equal(message.qos, 0);
    assert.equal(message.dup, false);
    assert.equal(message.packetId, undefined);
    await pub.expectNothing();
  });

  test('[MQTT-3.3.4-1] [MQTT-4.3.2-2] [MQTT-2.2.1-5] a QoS 1 PUBLISH gets one PUBACK with its packet identifier', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('q1/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'q1/t', qos: 1, packetId: 0x1234, payload: Buffer.from('one') });
    const puback = await pub.expect('puback');
    assert.equal(puback.packetId, 0x1234);
    assert.equal(puback.reasonCode ?? 0, 0);
    const message = await sub.expect('publish');
    assert.equal(message.qos, 1);
    assert.equal(message.payload.toString(), 'one');
  });

  test('[MQTT-3.3.4-1] [MQTT-4.3.3-8] [MQTT-4.3.3-11] [MQTT-2.2.1-5] a QoS 2 PUBLISH gets PUBREC, its PUBREL gets PUBCOMP, same identifier', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('q2/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'q2/t', qos: 2, packetId: 77, payload: Buffer.from('two') });
    const pubrec = await pub.expect('pubrec');
    assert.equal(pubrec.packetId, 77);
    assert.equal(pubrec.reasonCode ?? 0, 0);
    pub.send({ type: 'pubrel', packetId: 77 });
    const pubcomp = await pub.expect('pubcomp');
    assert.equal(pubcomp.packetId, 77);
    assert.equal(pubcomp.reasonCode ?? 0, 0);
    const message = await sub.expect('publish');
    assert.equal(message.qos, 2);
  });

  test('[MQTT-4.3.3-10] a QoS 2 PUBLISH repeated (DUP 1) before PUBREL is acknowledged again and delivered once', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('eo/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'eo/t', qos: 2, packetId: 5, payload: Buffer.from('once') });
    await pub.expect('pubrec');
    pub.publish({ topic: 'eo/t', qos: 2, packetId: 5, dup: true, payload: Buffer.from('once') });
    assert.equal((await pub.expect('pubrec')).packetId, 5);
    pub.send({ type: 'pubrel', packetId: 5 });
    await pub.expect('pubcomp');
    assert.equal((await sub.expect('publish')).payload.toString(), 'once');
    await sub.expectNothing(100);
  });

  test('[MQTT-4.3.3-12] after PUBCOMP the packet identifier starts a new QoS 2 message', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('eo/t', 0);
    const pub = await bench.connected('pub');
    for (const body of ['first', 'second']) {
      pub.publish({ topic: 'eo/t', qos: 2, packetId: 9, payload: Buffer.from(body) });
      await pub.expect('pubrec');
      pub.send({ type: 'pubrel', packetId: 9 });
      await pub.expect('pubcomp');
      assert.equal((await sub.expect('publish')).payload.toString(), body);
    }
  });

  test('3.7.2.1 a PUBREL for an unknown packet identifier gets PUBCOMP 0x92', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.send({ type: 'pubrel', packetId: 444 });
    const pubcomp = await pub.expect('pubcomp');
    assert.equal(pubcomp.packetId, 444);
    assert.equal(pubcomp.reasonCode, ReasonCode.PacketIdentifierNotFound);
  });

  test('[MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1] acknowledgements carry only reason codes their packet defines', async (t) => {
    const authorizer: Authorizer = {
      canPublish: (_c, topic) => topic !== 'deny',
      canSubscribe: () => true,
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const sub = await bench.connected('sub');
    await sub.subscribe('ok', 2);
    const pub = await bench.connected('pub');
    const codes: Record<string, number[]> = { puback: [], pubrec: [], pubrel: [], pubcomp: [] };
    pub.publish({ topic: 'ok', qos: 1, packetId: 1, payload: Buffer.from('x') });
    pub.publish({ topic: 'nobody', qos: 1, packetId: 2, payload: Buffer.from('x') });
    pub.publish({ topic: 'deny', qos: 1, packetId: 3, payload: Buffer.from('x') });
    pub.publish({ topic: 'ok', qos: 2, packetId: 4, payload: Buffer.from('x') });
    pub.publish({ topic: 'nobody', qos: 2, packetId: 5, payload: Buffer.from('x') });
    pub.publish({ topic: 'deny', qos: 2, packetId: 6, payload: Buffer.from('x') });
    for (let i = 0; i < 6; i++) {
      const p = await pub.next();
      if (p.type === 'puback' || p.type === 'pubrec') codes[p.type].push(p.reasonCode ?? 0);
    }
    for (const id of [4, 5, 6, 7]) pub.send({ type: 'pubrel', packetId: id });
    for (let i = 0; i < 4; i++) {
      const p = await pub.expect('pubcomp');
      codes.pubcomp.push(p.reasonCode ?? 0);
    }
    const q1 = await sub.expect('publish');
    sub.send({ type: 'puback', packetId: q1.packetId ?? 0 });
    const q2 = await sub.expect('publish');
    assert.equal(q2.qos, 2);
    sub.send({ type: 'pubrec', packetId: q2.packetId ?? 0 });
    codes.pubrel.push((await sub.expect('pubrel')).reasonCode ?? 0);
    sub.send({ type: 'pubrec', packetId: 999 });
    codes.pubrel.push((await sub.expect('pubrel')).reasonCode ?? 0);
    // Tables 3-4 (PUBACK), 3-5 (PUBREC), 3-6 (PUBREL), 3-7 (PUBCOMP).
    const allowed = {
      puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
      pubrec: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
      pubrel: [0x00, 0x92],
      pubcomp: [0x00, 0x92],
    };
    for (const [type, seen] of Object.entries(codes)) {
      for (const code of seen)
        assert.ok(allowed[type as keyof typeof allowed].includes(code), `${type} 0x${code.toString(16)}`);
    }
    assert.deepEqual(codes.pubcomp, [0, 0, 0x92, 0x92], 'PUBREL for a refused or unknown identifier gets 0x92');
    assert.deepEqual(codes.pubrel, [0, 0x92]);
  });

  test('[MQTT-4.3.2-1] [MQTT-4.3.2-3] [MQTT-2.2.1-4] outbound QoS 1: fresh identifiers, DUP 0 first, held until PUBACK', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('out/t', 1);
    const pub = await bench.connected('pub');
    for (let i = 0; i < 3; i++) pub.publish({ topic: 'out/t', qos: 1, packetId: i + 1, payload: Buffer.from(`${i}`) });
    const ids = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const message = await sub.expect('publish');
      assert.equal(message.qos, 1);
      assert.equal(message.dup, false);
      assert.ok(message.packetId !== undefined && message.packetId > 0);
      ids.add(message.packetId);
    }
    assert.equal(ids.size, 3, 'three unacknowledged messages use three identifiers');
    for (const id of ids) sub.send({ type: 'puback', packetId: id });
  });

  test('[MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.3.3-5] outbound QoS 2: PUBLISH, PUBREC answered by PUBREL, PUBCOMP ends it', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('out2/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'out2/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    const message = await sub.expect('publish');
    assert.equal(message.qos, 2);
    assert.equal(message.dup, false);
    const id = message.packetId ?? 0;
    sub.send({ type: 'pubrec', packetId: id });
    const pubrel = await sub.expect('pubrel');
    assert.equal(pubrel.packetId, id);
    assert.equal(pubrel.reasonCode ?? 0, 0);
    // The PUBREL byte 0x62: fixed header flags 0010 [MQTT-3.6.1-1].
    assert.ok(sub.bytes.includes(0x62));
    sub.send({ type: 'pubcomp', packetId: id });
    await sub.expectNothing();
  });

  test('[MQTT-4.3.3-6] [MQTT-4.4.0-1] a PUBREL not completed is re-sent when the session resumes, and not the PUBLISH', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('s2', 5, { properties: { sessionExpiryInterval: 60 } });
    await sub.subscribe('rr/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rr/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    const message = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: message.packetId ?? 0 });
    await sub.expect('pubrel');
    sub.destroy();
    await delay(20);
    const again = bench.peer(5);
    const connack = await again.connect({ clientId: 's2', clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(connack.sessionPresent, true);
    const pubrel = await again.expect('pubrel');
    assert.equal(pubrel.packetId, message.packetId);
    again.send({ type: 'pubcomp', packetId: pubrel.packetId });
    await again.expectNothing();
  });

  test('[MQTT-3.3.1-1] [MQTT-4.4.0-1] an unacknowledged QoS 1 message is re-sent with DUP 1 and the same identifier on resume', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('s1', 5, { properties: { sessionExpiryInterval: 60 } });
    await sub.subscribe('rd/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rd/t', qos: 1, packetId: 1, payload: Buffer.from('a') });
    pub.publish({ topic: 'rd/t', qos: 1, packetId: 2, payload: Buffer.from('b') });
    const first = await sub.expect('publish');
    const second = await sub.expect('publish');
    assert.equal(first.dup, false);
    sub.destroy();
    await delay(20);
    const again = bench.peer(5);
    await again.connect({ clientId: 's1', clean: false, properties: { sessionExpiryInterval: 60 } });
    const r1 = await again.expect('publish');
    const r2 = await again.expect('publish');
    // Re-sent in the original order, with DUP 1 and the original identifiers.
    assert.deepEqual(
      [r1.payload.toString(), r1.dup, r1.packetId, r2.payload.toString(), r2.dup, r2.packetId],
      ['a', true, first.packetId, 'b', true, second.packetId],
    );
    again.send({ type: 'puback', packetId: r1.packetId ?? 0 });
    again.send({ type: 'puback', packetId: r2.packetId ?? 0 });
    await again.expectNothing();
  });

  test('[MQTT-4.4.0-1] unacknowledged messages are not re-sent while the connection lasts', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('s1', 5, { keepAlive: 0 });
    await sub.subscribe('nr/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'nr/t', qos: 1, packetId: 1, payload: Buffer.from('a') });
    await sub.expect('publish');
    await sub.expectNothing(300);
  });

  test('[MQTT-3.3.1-3] the DUP flag of an incoming PUBLISH is not propagated to subscribers', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('dup/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'dup/t', qos: 1, packetId: 3, dup: true, payload: Buffer.from('d') });
    await pub.expect('puback');
    const message = await sub.expect('publish');
    assert.equal(message.dup, false);
  });

  test('[MQTT-3.3.1-5] [MQTT-3.3.1-9] a retained message is stored, replaced by the next, and sent to new subscriptions with RETAIN 1', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'ret/t', retain: true, payload: Buffer.from('old') });
    pub.publish({ topic: 'ret/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('new') });
    await pub.expect('puback');
    const sub = await bench.connected('sub');
    await sub.subscribe('ret/#', 1);
    const message = await sub.expect('publish');
    assert.equal(message.payload.toString(), 'new');
    assert.equal(message.retain, true);
    assert.equal(message.qos, 1);
    await sub.expectNothing();
  });

  test('[MQTT-3.3.1-6] [MQTT-3.3.1-7] an empty retained message is forwarded, removes the retained message and is not stored', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'clr/t', retain: true, payload: Buffer.from('keep') });
    const live = await bench.connected('live');
    await live.subscribe('clr/t', 0);
    assert.equal((await live.expect('publish')).payload.toString(), 'keep');
    pub.publish({ topic: 'clr/t', retain: true, payload: Buffer.alloc(0) });
    const cleared = await live.expect('publish');
    assert.equal(cleared.payload.length, 0, 'the empty message reaches current subscribers');
    const late = await bench.connected('late');
    await late.subscribe('clr/t', 0);
    await late.expectNothing();
  });

  test('[MQTT-3.3.1-8] a PUBLISH with RETAIN 0 neither stores nor replaces nor removes the retained message', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'r0/t', retain: true, payload: Buffer.from('retained') });
    pub.publish({ topic: 'r0/t', retain: false, payload: Buffer.from('plain') });
    pub.publish({ topic: 'r0/t', retain: false, payload: Buffer.alloc(0) });
    pub.publish({ topic: 'r0/u', retain: false, payload: Buffer.from('never') });
    pub.send({ type: 'pingreq' });
    await pub.expect('pingresp');
    const sub = await bench.connected('sub');
    await sub.subscribe('r0/#', 0);
    const message = await sub.expect('publish');
    assert.equal(message.payload.toString(), 'retained');
    await sub.expectNothing();
  });

  test('[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] Retain Handling 0 always, 1 only for a new subscription, 2 never', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rh/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('r') });
    await pub.expect('puback');
    const sub = await bench.connected('sub');
    for (const [handling, expected] of [
      [0, [1, 1]],
      [1, [1, 0]],
      [2, [0, 0]],
    ] as const) {
      const filter = `rh/${['+', '#', 't'][handling]}`;
      const counts: number[] = [];
      for (let round = 0; round < 2; round++) {
        await sub.subscribe(filter, 0, { retainHandling: handling });
        await delay(30);
        counts.push(sub.queue.splice(0).filter((p) => p.type === 'publish').length);
      }
      assert.deepEqual(counts, expected, `Retain Handling ${handling}`);
    }
  });

  test('[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published 0 forwards RETAIN 0, 1 keeps the publisher’s RETAIN', async (t) => {
    const bench = await Bench.open(t);
    const plain = await bench.connected('plain');
    await plain.subscribe('rap/t', 0);
    const keeps = await bench.connected('keeps');
    await keeps.subscribe('rap/t', 0, { retainAsPublished: true });
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rap/t', retain: true, payload: Buffer.from('r') });
    assert.equal((await plain.expect('publish')).retain, false);
    assert.equal((await keeps.expect('publish')).retain, true);
    pub.publish({ topic: 'rap/t', retain: false, payload: Buffer.from('n') });
    assert.equal((await plain.expect('publish')).retain, false);
    assert.equal((await keeps.expect('publish')).retain, false);
  });

  test('[MQTT-3.3.2-3] the topic name delivered is the published one, matching the subscriber’s filter', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('a/+/c/#', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'a/b/c/d/e', payload: Buffer.from('x') });
    pub.publish({ topic: 'a/b/x', payload: Buffer.from('no') });
    pub.publish({ topic: 'a/b/c', payload: Buffer.from('parent') });
    assert.equal((await sub.expect('publish')).topic, 'a/b/c/d/e');
    assert.equal((await sub.expect('publish')).topic, 'a/b/c');
    await sub.expectNothing();
  });

  test('[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] message properties are forwarded unaltered, User Properties in order', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('props/t', 1);
    const pub = await bench.connected('pub');
    const properties = {
      payloadFormatIndicator: 1,
      responseTopic: 'reply/here',
      correlationData: Buffer.from([0, 1, 2, 255]),
      contentType: 'application/json; charset=utf-8',
      userProperties: [
        ['z', '1'],
        ['a', '2'],
        ['z', '3'],
        ['', ''],
      ] as [string, string][],
    };
    pub.publish({ topic: 'props/t', qos: 1, packetId: 1, payload: Buffer.from('{}'), properties });
    const message = await sub.expect('publish');
    assert.equal(message.properties?.payloadFormatIndicator, 1);
    assert.equal(message.properties?.responseTopic, 'reply/here');
    assert.deepEqual(message.properties?.correlationData, Buffer.from([0, 1, 2, 255]));
    assert.equal(message.properties?.contentType, 'application/json; charset=utf-8');
    assert.deepEqual(message.properties?.userProperties, properties.userProperties);
  });

  test('[MQTT-3.3.2-4] Payload Format Indicator 0 and an absent one stay as sent', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('pfi/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'pfi/t', payload: Buffer.from([0xff]), properties: { payloadFormatIndicator: 0 } });
    pub.publish({ topic: 'pfi/t', payload: Buffer.from([0xfe]) });
    const a = await sub.expect('publish');
    const b = await sub.expect('publish');
    assert.equal(a.properties?.payloadFormatIndicator ?? 0, 0);
    assert.equal(b.properties?.payloadFormatIndicator, undefined);
  });

  test('[MQTT-3.3.2-6] a message delivered at once keeps its whole Message Expiry Interval', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('mx/now', 1);
    const pub = await bench.connected('pub');
    pub.publish({
      topic: 'mx/now',
      qos: 1,
      packetId: 1,
      payload: Buffer.from('x'),
      properties: { messageExpiryInterval: 60 },
    });
    assert.equal((await sub.expect('publish')).properties?.messageExpiryInterval, 60);
  });

  test('[MQTT-3.3.2-5] a message whose expiry passed while queued is not delivered', async (t) => {
    const bench = await Bench.open(t);
    const again = await resumedAfterWaiting(bench, [
      { payload: 'short', messageExpiryInterval: 1 },
      { payload: 'long', messageExpiryInterval: 60 },
    ]);
    const message = await again.expect('publish');
    assert.equal(message.payload.toString(), 'long');
    await again.expectNothing();
  });

  test('[MQTT-3.3.2-6] the Message Expiry Interval forwarded is the received one minus the time the message waited', async (t) => {
    const bench = await Bench.open(t);
    const again = await resumedAfterWaiting(bench, [{ payload: 'x', messageExpiryInterval: 10 }]);
    const message = await again.expect('publish');
    const left = message.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 8 && left <= 9, `interval ${left}`);
  });

  test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] a retained message expires, and its interval shrinks while retained', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rx/a', retain: true, payload: Buffer.from('a'), properties: { messageExpiryInterval: 1 } });
    pub.publish({ topic: 'rx/b', retain: true, payload: Buffer.from('b'), properties: { messageExpiryInterval: 30 } });
    pub.send({ type: 'pingreq' });
    await pub.expect('pingresp');
    await delay(1100);
    const sub = await bench.connected('sub');
    await sub.subscribe('rx/#', 0);
    const message = await sub.expect('publish');
    assert.equal(message.topic, 'rx/b');
    const left = message.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 28 && left <= 29, `interval ${left}`);
    await sub.expectNothing();
  });

  test('[MQTT-3.3.2-12] [MQTT-3.3.2-10] topic aliases from 1 to the announced maximum are accepted and resolved', async (t) => {
    const bench = await Bench.open(t, { topicAliasMaximum: 3 });
    const sub = await bench.connected('sub');
    await sub.subscribe('al/#', 0);
    const pub = bench.peer(5);
    const connack = await pub.connect({ clientId: 'pub' });
    assert.equal(connack.properties?.topicAliasMaximum, 3);
    pub.publish({ topic: 'al/one', payload: Buffer.from('1'), properties: { topicAlias: 1 } });
    pub.publish({ topic: 'al/three', payload: Buffer.from('3'), properties: { topicAlias: 3 } });
    pub.publish({ topic: '', payload: Buffer.from('1b'), properties: { topicAlias: 1 } });
    pub.publish({ topic: '', payload: Buffer.from('3b'), properties: { topicAlias: 3 } });
    // Re-mapping alias 1 to another topic.
    pub.publish({ topic: 'al/other', payload: Buffer.from('o'), properties: { topicAlias: 1 } });
    pub.publish({ topic: '', payload: Buffer.from('ob'), properties: { topicAlias: 1 } });
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const m = await sub.expect('publish');
      got.push(`${m.topic}=${m.payload}`);
      assert.equal(m.properties?.topicAlias, undefined, 'no alias to a client that allows none');
    }
    assert.deepEqual(got, ['al/one=1', 'al/three=3', 'al/one=1b', 'al/three=3b', 'al/other=o', 'al/other=ob']);
  });

  test('[MQTT-3.3.2-7] inbound topic aliases do not carry over to a new connection of the same client', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('al', 5, { properties: { sessionExpiryInterval: 60 } });
    first.publish({ topic: 'al/x', payload: Buffer.from('1'), properties: { topicAlias: 1 } });
    first.disconnect();
    await first.waitClosed();
    const again = await bench.connected('al', 5, { clean: false, properties: { sessionExpiryInterval: 60 } });
    again.publish({ topic: '', payload: Buffer.from('2'), properties: { topicAlias: 1 } });
    await again.expectDisconnect(ReasonCode.ProtocolError);
  });

  test('[MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-8] [MQTT-3.3.2-11] outbound topic aliases stay within 1..client maximum, none without one', async (t) => {
    const bench = await Bench.open(t);
    const limited = await bench.connected('lim', 5, { properties: { topicAliasMaximum: 2 } });
    await limited.subscribe('oa/#', 0);
    const none = await bench.connected('none');
    await none.subscribe('oa/#', 0);
    const pub = await bench.connected('pub');
    const topics = ['oa/a', 'oa/b', 'oa/c', 'oa/a', 'oa/c', 'oa/b'];
    for (const topic of topics) pub.publish({ topic, payload: Buffer.from(topic) });
    const mapping = new Map<number, string>();
    for (const topic of topics) {
      const m = await limited.expect('publish');
      const alias = m.properties?.topicAlias;
      if (alias !== undefined) {
        assert.ok(alias >= 1 && alias <= 2, `alias ${alias}`);
        if (m.topic.length > 0) mapping.set(alias, m.topic);
      }
      // The receiver reconstructs each topic from the name or the alias mapping so far.
      const resolved = m.topic.length > 0 ? m.topic : mapping.get(alias ?? -1);
      assert.equal(resolved, topic);
      const plain = await none.expect('publish');
      assert.equal(plain.topic, topic);
      assert.equal(plain.properties?.topicAlias, undefined);
    }
    // 0x23 (Topic Alias identifier) with value 0 never appears: the decoder refuses alias 0, so reaching here proves it.
    assert.equal(limited.decodeError, undefined);
  });

  test('[MQTT-3.3.2-7] outbound topic aliases start afresh on a new connection', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('oa', 5, { properties: { topicAliasMaximum: 5, sessionExpiryInterval: 60 } });
    await first.subscribe('fresh/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'fresh/t', payload: Buffer.from('1') });
    pub.publish({ topic: 'fresh/t', payload: Buffer.from('2') });
    await first.expect('publish');
    const aliased = await first.expect('publish');
    if (aliased.topic !== '') return; // the broker chose not to use an alias: nothing carries over
    first.disconnect();
    await first.waitClosed();
    const again = await bench.connected('oa', 5, {
      clean: false,
      properties: { topicAliasMaximum: 5, sessionExpiryInterval: 60 },
    });
    pub.publish({ topic: 'fresh/t', payload: Buffer.from('3') });
    const m = await again.expect('publish');
    assert.equal(m.topic, 'fresh/t', 'the first PUBLISH on a new connection names the topic');
  });

  test('[MQTT-3.3.4-2] overlapping subscriptions deliver one message at the highest granted QoS', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('ov/#', 0);
    await sub.subscribe('ov/+', 2);
    await sub.subscribe('ov/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'ov/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    await pub.expect('pubrec');
    pub.send({ type: 'pubrel', packetId: 1 });
    await pub.expect('pubcomp');
    const m = await sub.expect('publish');
    assert.equal(m.qos, 2);
    // A second copy may only come from a server that sends one per subscription; Starling sends one.
    await sub.expectNothing();
  });

  test('[MQTT-3.3.4-3] [MQTT-3.3.4-4] the single copy carries the Subscription Identifiers of every matching subscription', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('si/#', 0, {}, { subscriptionIdentifiers: [11] });
    await sub.subscribe('si/+', 1, {}, { subscriptionIdentifiers: [268435455] });
    await sub.subscribe('+/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'si/t', payload: Buffer.from('x') });
    const m = await sub.expect('publish');
    assert.deepEqual(
      [...(m.properties?.subscriptionIdentifiers ?? [])].sort((a, b) => a - b),
      [11, 268435455],
    );
    pub.publish({ topic: 'other/t', payload: Buffer.from('y') });
    const n = await sub.expect('publish');
    assert.equal(n.properties?.subscriptionIdentifiers, undefined, 'no identifier for a subscription without one');
  });

  test('[MQTT-3.3.4-3] a retained message sent for a new subscription carries its Subscription Identifier', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'sir/t', retain: true, payload: Buffer.from('r') });
    const sub = await bench.connected('sub');
    await sub.subscribe('sir/t', 0, {}, { subscriptionIdentifiers: [42] });
    const m = await sub.expect('publish');
    assert.deepEqual(m.properties?.subscriptionIdentifiers, [42]);
  });

  test('[MQTT-3.8.4-3] a subscription replaced without a Subscription Identifier no longer carries the old one', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('sid/t', 0, {}, { subscriptionIdentifiers: [5] });
    await sub.subscribe('sid/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'sid/t', payload: Buffer.from('x') });
    const m = await sub.expect('publish');
    assert.equal(m.properties?.subscriptionIdentifiers, undefined);
  });

  test('[MQTT-3.8.3-3] No Local: a client does not receive its own messages on that subscription, others still do', async (t) => {
    const bench = await Bench.open(t);
    const self = await bench.connected('self');
    await self.subscribe('nl/t', 0, { noLocal: true });
    const other = await bench.connected('other');
    await other.subscribe('nl/t', 0);
    self.publish({ topic: 'nl/t', payload: Buffer.from('mine') });
    assert.equal((await other.expect('publish')).payload.toString(), 'mine');
    await self.expectNothing();
    other.publish({ topic: 'nl/t', payload: Buffer.from('theirs') });
    assert.equal((await self.expect('publish')).payload.toString(), 'theirs');
  });

  test('[MQTT-4.6.0-5] [MQTT-4.6.0-6] messages of one publisher reach a subscriber in publication order, across QoS levels', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('ord/#', 2);
    const pub = await bench.connected('pub');
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const qos = (i % 3) as 0 | 1 | 2;
      sent.push(`${i}`);
      pub.publish({ topic: 'ord/t', qos, packetId: qos ? i + 1 : undefined, payload: Buffer.from(`${i}`) });
    }
    const got: string[] = [];
    for (let i = 0; i < 30; i++) {
      const m = await sub.expect('publish');
      got.push(m.payload.toString());
      if (m.qos === 1) sub.send({ type: 'puback', packetId: m.packetId ?? 0 });
      if (m.qos === 2) sub.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
    }
    assert.deepEqual(got, sent);
  });

  test('[MQTT-3.8.4-8] delivered QoS is the minimum of the published QoS and the granted QoS', async (t) => {
    await assertMinimumQoSDelivered(await Bench.open(t), 5);
  });

  test('[MQTT-4.7.2-1] topics starting with $ are not matched by filters starting with # or +', async (t) => {
    const bench = await Bench.open(t);
    const wild = await bench.connected('wild');
    await wild.subscribe('#', 0);
    await wild.subscribe('+/x', 0);
    const exact = await bench.connected('exact');
    await exact.subscribe('$own/x', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: '$own/x', payload: Buffer.from('dollar') });
    assert.equal((await exact.expect('publish')).topic, '$own/x');
    pub.publish({ topic: 'plain/x', payload: Buffer.from('plain') });
    const m = await wild.expect('publish');
    assert.equal(m.topic, 'plain/x');
    await wild.expectNothing();
  });

  test('3.4.2.1 PUBACK 0x10 No matching subscribers is an allowed answer; delivery still reaches later matches', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'nobody/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    const puback = await pub.expect('puback');
    assert.ok([0, ReasonCode.NoMatchingSubscribers].includes(puback.reasonCode ?? 0));
  });

  test('[MQTT-3.1.2-29] Request Problem Information 0: no Reason String on PUBACK; 1 (default) may carry one', async (t) => {
    const authorizer: Authorizer = {
      canPublish: (_c, topic) => !topic.startsWith('deny/'),
      canSubscribe: () => true,
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const quiet = await bench.connected('quiet', 5, { properties: { requestProblemInformation: 0 } });
    quiet.publish({ topic: 'deny/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    const puback = await quiet.expect('puback');
    assert.equal(puback.reasonCode, ReasonCode.NotAuthorized);
    assert.equal(puback.properties?.reasonString, undefined);
    assert.equal(puback.properties?.userProperties, undefined);
    quiet.publish({ topic: 'deny/t', qos: 2, packetId: 2, payload: Buffer.from('x') });
    const pubrec = await quiet.expect('pubrec');
    assert.equal(pubrec.reasonCode, ReasonCode.NotAuthorized);
    assert.equal(pubrec.properties?.reasonString, undefined);
  });

  test('[MQTT-3.2.2-19] [MQTT-3.2.2-20] [MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.5.2-2] [MQTT-3.5.2-3] [MQTT-3.6.2-2] [MQTT-3.6.2-3] [MQTT-3.7.2-2] [MQTT-3.7.2-3] [MQTT-3.9.2-1] [MQTT-3.9.2-2] [MQTT-3.11.2-1] [MQTT-3.11.2-2] no CONNACK, acknowledgement, SUBACK or UNSUBACK exceeds the client Maximum Packet Size through a Reason String or User Property', async (t) => {
    const authorizer: Authorizer = {
      canPublish: () => false,
      canSubscribe: (_c, filter) => !filter.startsWith('deny'),
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const small = await bench.connected('small', 5, { properties: { maximumPacketSize: 16 } });
    small.publish({ topic: 'deny/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    const puback = await small.expect('puback');
    assert.equal(puback.reasonCode, ReasonCode.NotAuthorized);
    small.publish({ topic: 'deny/t', qos: 2, packetId: 2, payload: Buffer.from('x') });
    const pubrec = await small.expect('pubrec');
    assert.equal(pubrec.reasonCode, ReasonCode.NotAuthorized);
    small.send({ type: 'pubrel', packetId: 2 });
    assert.equal((await small.expect('pubcomp')).reasonCode, ReasonCode.PacketIdentifierNotFound);
    small.send({ type: 'pubrec', packetId: 3 });
    assert.equal((await small.expect('pubrel')).reasonCode, ReasonCode.PacketIdentifierNotFound);
    assert.deepEqual(await small.subscribe('deny/#', 0), [ReasonCode.NotAuthorized]);
    small.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['none'] });
    assert.deepEqual((await small.expect('unsuback')).reasonCodes, [ReasonCode.NoSubscriptionExisted]);
    // Every packet the broker sent fits in 16 bytes (CONNACK included).
    let offset = 0;
    const bytes = small.bytes;
    let packets = 0;
    while (offset < bytes.length) {
      const length = (bytes[offset + 1] ?? 0) + 2; // all remaining lengths here are one byte
      assert.ok(length <= 16, `a ${length}-byte packet of type ${(bytes[offset] ?? 0) >> 4}`);
      offset += length;
      packets++;
    }
    assert.equal(packets, 7);
  });

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] a PUBLISH over the client Maximum Packet Size is not sent, later ones are', async (t) => {
    const bench = await Bench.open(t);
    const small = await bench.connected('small', 5, { properties: { maximumPacketSize: 64 } });
    await small.subscribe('big/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'big/t', qos: 1, packetId: 1, payload: Buffer.alloc(200, 1) });
    pub.publish({ topic: 'big/t', qos: 1, packetId: 2, payload: Buffer.from('fits') });
    const m = await small.expect('publish');
    assert.equal(m.payload.toString(), 'fits');
    await small.expectNothing();
    assert.ok(small.bytes.length < 200);
  });

  test('[MQTT-3.1.2-25] an oversized message is discarded as if sent: it is not re-sent when the session resumes', async (t) => {
    const bench = await Bench.open(t);
    const small = await bench.connected('small', 5, {
      properties: { maximumPacketSize: 64, sessionExpiryInterval: 60 },
    });
    await small.subscribe('big/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'big/t', qos: 1, packetId: 1, payload: Buffer.alloc(200, 1) });
    await pub.expect('puback');
    await delay(30);
    small.destroy();
    await delay(20);
    const again = bench.peer(5);
    await again.connect({ clientId: 'small', clean: false, properties: { sessionExpiryInterval: 60 } });
    await again.expectNothing(100);
  });

  test('[MQTT-3.3.4-9] [MQTT-3.3.4-10] [MQTT-4.9.0-1] [MQTT-4.9.0-2] [MQTT-4.9.0-3] outbound QoS 1/2 in flight never exceed the client Receive Maximum; other packets still flow', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 5, { properties: { receiveMaximum: 2 } });
    await sub.subscribe('rm/t', 2);
    const pub = await bench.connected('pub');
    for (let i = 0; i < 6; i++)
      pub.publish({ topic: 'rm/t', qos: (1 + (i % 2)) as 1 | 2, packetId: i + 1, payload: Buffer.from(`${i}`) });
    const first = [await sub.expect('publish'), await sub.expect('publish')];
    await sub.expectNothing();
    // PINGRESP and SUBACK are not held back by the full window.
    sub.send({ type: 'pingreq' });
    await sub.expect('pingresp');
    assert.deepEqual(await sub.subscribe('rm/other', 0), [0]);
    const received = first.map((m) => m.payload.toString());
    let pending = first;
    while (received.length < 6) {
      const m = pending.shift();
      assert.ok(m);
      if (m.qos === 1) sub.send({ type: 'puback', packetId: m.packetId ?? 0 });
      else {
        // PUBREC frees the slot only once PUBCOMP arrives; the message is still in flight until then.
        sub.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
        const pubrel = await sub.expect('pubrel');
        await sub.expectNothing(40);
        sub.send({ type: 'pubcomp', packetId: pubrel.packetId });
      }
      const next = await sub.expect('publish');
      received.push(next.payload.toString());
      pending.push(next);
      await sub.expectNothing(20);
      pending = pending.slice(-2);
    }
    assert.deepEqual(received, ['0', '1', '2', '3', '4', '5']);
  });

  test('[MQTT-4.3.3-4] (PUBREC >= 0x80) a failure PUBREC ends the QoS 2 flow: no PUBREL, and the window slot is free', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 5, { properties: { receiveMaximum: 1 } });
    await sub.subscribe('fr/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'fr/t', qos: 2, packetId: 1, payload: Buffer.from('a') });
    pub.publish({ topic: 'fr/t', qos: 2, packetId: 2, payload: Buffer.from('b') });
    const a = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: a.packetId ?? 0, reasonCode: ReasonCode.UnspecifiedError });
    const b = await sub.expect('publish');
    assert.equal(b.payload.toString(), 'b');
    await sub.expectNothing();
  });

  test('[MQTT-4.4.0-2] a failure PUBACK acknowledges the message: it is not re-sent on resume', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('fa', 5, { properties: { sessionExpiryInterval: 60 } });
    await sub.subscribe('fa/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'fa/t', qos: 1, packetId: 1, payload: Buffer.from('a') });
    const a = await sub.expect('publish');
    sub.send({ type: 'puback', packetId: a.packetId ?? 0, reasonCode: ReasonCode.ImplementationSpecificError });
    await delay(30);
    sub.destroy();
    await delay(20);
    const again = bench.peer(5);
    await again.connect({ clientId: 'fa', clean: false, properties: { sessionExpiryInterval: 60 } });
    await again.expectNothing(100);
  });

  test('[MQTT-3.3.5-2] 5.0: a PUBLISH the server will not accept gets a PUBACK/PUBREC with a failure code, the connection stays', async (t) => {
    const authorizer: Authorizer = {
      canPublish: (_c, topic) => topic !== 'locked',
      canSubscribe: () => true,
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('#', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'locked', qos: 1, packetId: 1, payload: Buffer.from('x') });
    assert.equal((await pub.expect('puback')).reasonCode, ReasonCode.NotAuthorized);
    pub.publish({ topic: 'locked', qos: 2, packetId: 2, payload: Buffer.from('x') });
    assert.equal((await pub.expect('pubrec')).reasonCode, ReasonCode.NotAuthorized);
    pub.publish({ topic: 'open', payload: Buffer.from('fine') });
    assert.equal((await watcher.expect('publish')).topic, 'open');
  });
});
