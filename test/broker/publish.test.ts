import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PublishPacket } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { connected, delay, RawClient, useBrokers } from './helpers.js';

describe('PUBLISH in and out', () => {
  const broker = useBrokers();

  test('[MQTT-4.3.1-1] QoS 0 is delivered at most once, with no acknowledgement', async () => {
    const b = await broker();
    const sub = await connected(b, 'sub');
    await sub.subscribe('t/0', 0);
    const pub = await connected(b, 'pub');
    pub.publish({ topic: 't/0', payload: Buffer.from('hello') });
    const msg = await sub.expect('publish');
    assert.equal(msg.qos, 0);
    assert.equal(msg.payload.toString(), 'hello');
    assert.equal(msg.packetId, undefined);
    await pub.expectNothing();
  });

  test('[MQTT-4.3.2-2] QoS 1 is acknowledged with PUBACK carrying the packet identifier', async () => {
    const b = await broker();
    const sub = await connected(b, 'sub1', 4);
    await sub.subscribe('t/1', 1);
    const pub = await connected(b, 'pub1', 4);
    pub.publish({ topic: 't/1', payload: Buffer.from('one'), qos: 1, packetId: 77 });
    const ack = await pub.expect('puback');
    assert.equal(ack.packetId, 77);
    const msg = await sub.expect('publish');
    assert.equal(msg.qos, 1);
    assert.ok(msg.packetId && msg.packetId > 0);
    assert.equal(msg.dup, false);
    sub.send({ type: 'puback', packetId: msg.packetId });
    await delay(5);
    assert.equal(b.sessions.get('sub1')?.inflight.size, 0);
  });

  test('[MQTT-4.3.3-2] QoS 2 inbound: PUBREC, then PUBCOMP for the PUBREL', async () => {
    const b = await broker();
    const sub = await connected(b, 'sub2');
    await sub.subscribe('t/2', 2);
    const pub = await connected(b, 'pub2');
    pub.publish({ topic: 't/2', payload: Buffer.from('two'), qos: 2, packetId: 9 });
    assert.equal((await pub.expect('pubrec')).packetId, 9);
    pub.send({ type: 'pubrel', packetId: 9 });
    assert.equal((await pub.expect('pubcomp')).packetId, 9);
    // Outbound QoS 2 flow to the subscriber.
    const msg = await sub.expect('publish');
    assert.equal(msg.qos, 2);
    sub.send({ type: 'pubrec', packetId: msg.packetId! });
    assert.equal((await sub.expect('pubrel')).packetId, msg.packetId);
    sub.send({ type: 'pubcomp', packetId: msg.packetId! });
    await delay(5);
    assert.equal(b.sessions.get('sub2')?.inflight.size, 0);
  });

  test('[MQTT-4.3.3-9] QoS 2 exactly once: a repeated PUBLISH before PUBREL is not routed again', async () => {
    const b = await broker();
    const sub = await connected(b, 'once-sub');
    await sub.subscribe('once', 0);
    const pub = await connected(b, 'once-pub');
    pub.publish({ topic: 'once', payload: Buffer.from('x'), qos: 2, packetId: 3 });
    await pub.expect('pubrec');
    pub.publish({ topic: 'once', payload: Buffer.from('x'), qos: 2, packetId: 3, dup: true });
    assert.equal((await pub.expect('pubrec')).packetId, 3);
    await sub.expect('publish');
    await sub.expectNothing();
    pub.send({ type: 'pubrel', packetId: 3 });
    await pub.expect('pubcomp');
    // After PUBREL the identifier is free: a new message with it is routed.
    pub.publish({ topic: 'once', payload: Buffer.from('y'), qos: 2, packetId: 3 });
    await pub.expect('pubrec');
    assert.equal((await sub.expect('publish')).payload.toString(), 'y');
  });

  test('PUBREL for an unknown identifier gets PUBCOMP 0x92 on 5.0', async () => {
    const b = await broker();
    const client = await connected(b, 'rel');
    client.send({ type: 'pubrel', packetId: 44 });
    const comp = await client.expect('pubcomp');
    assert.equal(comp.reasonCode, ReasonCode.PacketIdentifierNotFound);
  });

  test('[MQTT-3.8.4-8] delivered QoS is the minimum of published and granted QoS', async () => {
    const b = await broker();
    const low = await connected(b, 'low');
    await low.subscribe('q', 1);
    const high = await connected(b, 'high');
    await high.subscribe('q', 2);
    const pub = await connected(b, 'pubq');
    pub.publish({ topic: 'q', payload: Buffer.from('2'), qos: 2, packetId: 1 });
    await pub.expect('pubrec');
    assert.equal((await low.expect('publish')).qos, 1);
    assert.equal((await high.expect('publish')).qos, 2);
    pub.publish({ topic: 'q', payload: Buffer.from('0'), qos: 0 });
    assert.equal((await high.expect('publish')).qos, 0);
  });

  test('[MQTT-3.8.4-6] SUBACK has one reason code per filter; invalid filters get 0x8F (5.0) / 0x80 (3.1.1)', async () => {
    const b = await broker();
    const v5 = await connected(b, 'subs5');
    v5.send({
      type: 'subscribe',
      packetId: 2,
      subscriptions: [
        { topicFilter: 'a/+', qos: 1 },
        { topicFilter: 'a/#/b', qos: 1 },
        { topicFilter: 'c', qos: 2 },
        { topicFilter: '$share/g', qos: 0 },
      ],
    });
    const suback = await v5.expect('suback');
    assert.deepEqual(suback.reasonCodes, [1, ReasonCode.TopicFilterInvalid, 2, ReasonCode.TopicFilterInvalid]);
    const v4 = await connected(b, 'subs4', 4);
    v4.send({
      type: 'subscribe',
      packetId: 3,
      subscriptions: [
        { topicFilter: 'x+', qos: 0 },
        { topicFilter: 'y', qos: 1 },
      ],
    });
    assert.deepEqual((await v4.expect('suback')).reasonCodes, [0x80, 1]);
  });

  test('[MQTT-3.8.4-3] a SUBSCRIBE with an existing filter replaces the subscription', async () => {
    const b = await broker();
    const sub = await connected(b, 'replace');
    await sub.subscribe('r', 2);
    await sub.subscribe('r', 0, 2);
    assert.equal(b.stats.subscriptions, 1);
    const pub = await connected(b, 'pr');
    pub.publish({ topic: 'r', payload: Buffer.from('x'), qos: 2, packetId: 1 });
    assert.equal((await sub.expect('publish')).qos, 0);
    await sub.expectNothing();
  });

  test('[MQTT-3.3.4-2] overlapping subscriptions: one copy at the highest QoS with every subscription identifier', async () => {
    const b = await broker();
    const sub = await connected(b, 'overlap');
    await sub.subscribe('o/+', 0, 1, {}, { subscriptionIdentifiers: [5] });
    await sub.subscribe('o/#', 1, 2, {}, { subscriptionIdentifiers: [7] });
    await sub.subscribe('o/x', 0, 3);
    const pub = await connected(b, 'po');
    pub.publish({ topic: 'o/x', payload: Buffer.from('x'), qos: 2, packetId: 1 });
    const msg = await sub.expect('publish');
    assert.equal(msg.qos, 1);
    // [MQTT-3.3.4-4] all matching subscriptions' identifiers, order not significant.
    assert.deepEqual([...(msg.properties?.subscriptionIdentifiers ?? [])].sort(), [5, 7]);
    await sub.expectNothing();
  });

  test('[MQTT-3.3.4-3] the subscription identifier is attached to delivered messages', async () => {
    const b = await broker();
    const sub = await connected(b, 'sid');
    await sub.subscribe('s/#', 0, 1, {}, { subscriptionIdentifiers: [268435455] });
    const pub = await connected(b, 'psid');
    pub.publish({ topic: 's/1', payload: Buffer.from('x') });
    assert.deepEqual((await sub.expect('publish')).properties?.subscriptionIdentifiers, [268435455]);
  });

  test('[MQTT-3.8.3-3] No Local: a client does not receive its own messages on that subscription', async () => {
    const b = await broker();
    const client = await connected(b, 'nolocal');
    await client.subscribe('nl', 0, 1, { noLocal: true });
    const other = await connected(b, 'nl-other');
    await other.subscribe('nl', 0);
    client.publish({ topic: 'nl', payload: Buffer.from('me') });
    await other.expect('publish');
    await client.expectNothing();
    other.publish({ topic: 'nl', payload: Buffer.from('you') });
    assert.equal((await client.expect('publish')).payload.toString(), 'you');
  });

  test('[MQTT-3.3.1-12] RETAIN is 0 on forwarded messages unless Retain As Published [MQTT-3.3.1-13]', async () => {
    const b = await broker();
    const plain = await connected(b, 'plain');
    await plain.subscribe('rap', 0);
    const rap = await connected(b, 'rap');
    await rap.subscribe('rap', 0, 1, { retainAsPublished: true });
    const v4 = await connected(b, 'rap4', 4);
    await v4.subscribe('rap', 0);
    const pub = await connected(b, 'prap');
    pub.publish({ topic: 'rap', payload: Buffer.from('x'), retain: true });
    assert.equal((await plain.expect('publish')).retain, false);
    assert.equal((await rap.expect('publish')).retain, true);
    assert.equal((await v4.expect('publish')).retain, false);
  });

  test('[MQTT-3.3.1-5] retained messages are stored, replaced and [MQTT-3.3.1-10] cleared by an empty payload', async () => {
    const b = await broker();
    const pub = await connected(b, 'retainer');
    pub.publish({ topic: 'ret/a', payload: Buffer.from('first'), retain: true, qos: 1, packetId: 1 });
    await pub.expect('puback');
    pub.publish({ topic: 'ret/a', payload: Buffer.from('second'), retain: true, qos: 1, packetId: 2 });
    await pub.expect('puback');
    const sub = await connected(b, 'late');
    await sub.subscribe('ret/#', 1);
    const msg = await sub.expect('publish');
    // [MQTT-3.3.1-8] RETAIN=1 on messages sent because of a new subscription.
    assert.equal(msg.retain, true);
    assert.equal(msg.payload.toString(), 'second');
    sub.send({ type: 'puback', packetId: msg.packetId! });
    await sub.expectNothing();
    pub.publish({ topic: 'ret/a', payload: Buffer.alloc(0), retain: true });
    // The empty retained message itself is still delivered to current subscribers.
    assert.equal((await sub.expect('publish')).payload.length, 0);
    await delay(5);
    assert.equal(b.stats.retained, 0);
    const later = await connected(b, 'later');
    await later.subscribe('ret/#', 1);
    await later.expectNothing();
  });

  test('[MQTT-3.3.1-9] Retain Handling 0 sends retained on every subscribe, 1 only on a new one, 2 never', async () => {
    const b = await broker();
    const pub = await connected(b, 'rh-pub');
    pub.publish({ topic: 'rh', payload: Buffer.from('kept'), retain: true, qos: 1, packetId: 1 });
    await pub.expect('puback');
    const c0 = await connected(b, 'rh0');
    await c0.subscribe('rh', 0, 1, { retainHandling: 0 });
    await c0.expect('publish');
    await c0.subscribe('rh', 0, 2, { retainHandling: 0 });
    await c0.expect('publish');
    const c1 = await connected(b, 'rh1');
    await c1.subscribe('rh', 0, 1, { retainHandling: 1 });
    await c1.expect('publish');
    await c1.subscribe('rh', 0, 2, { retainHandling: 1 });
    await c1.expectNothing();
    const c2 = await connected(b, 'rh2');
    await c2.subscribe('rh', 0, 1, { retainHandling: 2 });
    await c2.expectNothing();
  });

  test('[MQTT-4.7.2-1] topics starting with $ are not matched by filters starting with a wildcard', async () => {
    const b = await broker();
    const all = await connected(b, 'all');
    await all.subscribe('#', 0);
    const plus = await connected(b, 'plus');
    await plus.subscribe('+/x', 0);
    const dollar = await connected(b, 'dollar');
    await dollar.subscribe('$app/#', 0);
    await b.publish({ topic: '$app/x', payload: 'internal' });
    assert.equal((await dollar.expect('publish')).topic, '$app/x');
    await all.expectNothing(20);
    await plus.expectNothing(20);
  });

  test('clients cannot publish to $SYS: 5.0 PUBACK 0x87, nothing routed', async () => {
    const b = await broker();
    const sys = await connected(b, 'sys-sub');
    await sys.subscribe('$SYS/#', 0);
    const pub = await connected(b, 'sys-pub');
    pub.publish({ topic: '$SYS/broker/version', payload: Buffer.from('fake'), qos: 1, packetId: 1 });
    assert.equal((await pub.expect('puback')).reasonCode, ReasonCode.NotAuthorized);
    const pub4 = await connected(b, 'sys-pub4', 4);
    pub4.publish({ topic: '$SYS/x', payload: Buffer.from('fake'), qos: 1, packetId: 1 });
    // [MQTT-3.3.5-2] 3.1.1 acknowledges as usual.
    assert.equal((await pub4.expect('puback')).packetId, 1);
    await sys.expectNothing();
  });

  test('5.0 PUBACK 0x10 when no subscriber matched', async () => {
    const b = await broker();
    const pub = await connected(b, 'nobody');
    pub.publish({ topic: 'nobody/listens', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    assert.equal((await pub.expect('puback')).reasonCode, ReasonCode.NoMatchingSubscribers);
  });

  test('[MQTT-3.3.2-17] properties are forwarded unchanged: format, content type, response topic, correlation, user properties', async () => {
    const b = await broker();
    const sub = await connected(b, 'props-sub');
    await sub.subscribe('p', 0);
    const pub = await connected(b, 'props-pub');
    const properties = {
      payloadFormatIndicator: 1,
      contentType: 'application/json',
      responseTopic: 'reply/to',
      correlationData: Buffer.from([1, 2, 3]),
      userProperties: [
        ['a', '1'],
        ['a', '2'],
        ['b', 'x'],
      ] as [string, string][],
    };
    pub.publish({ topic: 'p', payload: Buffer.from('{}'), properties });
    const msg = await sub.expect('publish');
    assert.deepEqual(msg.properties, properties);
  });

  test('[MQTT-3.3.2-6] Message Expiry is decremented by the time waited; [MQTT-3.3.2-5] expired messages are dropped', async () => {
    let now = 5_000_000;
    const b = await broker({ clock: { now: () => now } });
    const sub = await connected(b, 'exp', 5, { properties: { sessionExpiryInterval: 600 } });
    await sub.subscribe('e', 1);
    sub.destroy();
    await delay(5);
    const pub = await connected(b, 'exp-pub');
    pub.publish({
      topic: 'e',
      payload: Buffer.from('long'),
      qos: 1,
      packetId: 1,
      properties: { messageExpiryInterval: 100 },
    });
    await pub.expect('puback');
    pub.publish({
      topic: 'e',
      payload: Buffer.from('short'),
      qos: 1,
      packetId: 2,
      properties: { messageExpiryInterval: 5 },
    });
    await pub.expect('puback');
    now += 10_000;
    const back = await connected(b, 'exp', 5, { clean: false, properties: { sessionExpiryInterval: 600 } });
    const msg = await back.expect('publish');
    assert.equal(msg.payload.toString(), 'long');
    assert.equal(msg.properties?.messageExpiryInterval, 90);
    await back.expectNothing();
  });

  test('retained messages honour their expiry', async () => {
    let now = 1_000;
    const b = await broker({ clock: { now: () => now } });
    const pub = await connected(b, 'rexp');
    pub.publish({ topic: 'rx', payload: Buffer.from('x'), retain: true, properties: { messageExpiryInterval: 2 } });
    await delay(5);
    now += 3000;
    const sub = await connected(b, 'rexp-sub');
    await sub.subscribe('rx', 0);
    await sub.expectNothing();
    assert.equal(b.stats.retained, 0);
  });

  test('[MQTT-3.10.4-5] UNSUBACK: 0x00 for a removed subscription, 0x11 when none existed; delivery stops', async () => {
    const b = await broker();
    const sub = await connected(b, 'unsub');
    await sub.subscribe('u', 0);
    sub.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['u', 'never'] });
    const unsuback = await sub.expect('unsuback');
    assert.equal(unsuback.packetId, 4);
    assert.deepEqual(unsuback.reasonCodes, [0, ReasonCode.NoSubscriptionExisted]);
    await b.publish({ topic: 'u', payload: 'x' });
    await sub.expectNothing();
    const v4 = await connected(b, 'unsub4', 4);
    v4.send({ type: 'unsubscribe', packetId: 5, topicFilters: ['x'] });
    assert.equal((await v4.expect('unsuback')).packetId, 5);
  });

  test('[MQTT-3.3.2-9] inbound topic alias: mapping set then used; an alias over the maximum is DISCONNECT 0x94', async () => {
    const b = await broker({ topicAliasMaximum: 5 });
    const sub = await connected(b, 'alias-sub');
    await sub.subscribe('long/topic/name', 0);
    const pub = await connected(b, 'alias-pub');
    pub.publish({ topic: 'long/topic/name', payload: Buffer.from('1'), properties: { topicAlias: 2 } });
    pub.publish({ topic: '', payload: Buffer.from('2'), properties: { topicAlias: 2 } });
    assert.equal((await sub.expect('publish')).payload.toString(), '1');
    const second = await sub.expect('publish');
    assert.equal(second.topic, 'long/topic/name');
    assert.equal(second.payload.toString(), '2');
    pub.publish({ topic: 'x', payload: Buffer.from('3'), properties: { topicAlias: 6 } });
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.TopicAliasInvalid);
    await pub.waitClosed();
  });

  test('an unmapped inbound topic alias is a protocol error', async () => {
    const b = await broker();
    const pub = await connected(b, 'unmapped');
    pub.publish({ topic: '', payload: Buffer.from('x'), properties: { topicAlias: 1 } });
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('outbound topic aliases are used when the client allows them', async () => {
    const b = await broker();
    const sub = await connected(b, 'out-alias', 5, { properties: { topicAliasMaximum: 2 } });
    await sub.subscribe('al/#', 0);
    for (const topic of ['al/one', 'al/one', 'al/two', 'al/three', 'al/one'])
      await b.publish({ topic, payload: topic });
    const got: PublishPacket[] = [];
    for (let i = 0; i < 5; i++) got.push(await sub.expect('publish'));
    assert.deepEqual(
      got.map((p) => [p.topic, p.properties?.topicAlias]),
      [
        ['al/one', 1],
        ['', 1],
        ['al/two', 2],
        ['al/three', undefined],
        ['', 1],
      ],
    );
  });

  test('[MQTT-3.3.4-9] more QoS 2 messages in flight than the Receive Maximum: DISCONNECT 0x93', async () => {
    const b = await broker({ receiveMaximum: 2 });
    const pub = await connected(b, 'flood');
    for (let id = 1; id <= 3; id++) pub.publish({ topic: 'f', payload: Buffer.from('x'), qos: 2, packetId: id });
    await pub.expect('pubrec');
    await pub.expect('pubrec');
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.ReceiveMaximumExceeded);
  });

  test('a packet over the server Maximum Packet Size: DISCONNECT 0x95', async () => {
    const b = await broker({ maxPacketSize: 100 });
    const pub = await connected(b, 'big');
    pub.publish({ topic: 'big', payload: Buffer.alloc(200) });
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.PacketTooLarge);
  });

  test('[MQTT-3.1.2-25] a message over the client Maximum Packet Size is not sent to it', async () => {
    const b = await broker();
    const small = await connected(b, 'small', 5, { properties: { maximumPacketSize: 64 } });
    await small.subscribe('m', 1);
    await b.publish({ topic: 'm', payload: Buffer.alloc(100), qos: 1 });
    await b.publish({ topic: 'm', payload: Buffer.from('fits'), qos: 1 });
    const msg = await small.expect('publish');
    assert.equal(msg.payload.toString(), 'fits');
    assert.equal(b.stats.droppedMessages, 1);
  });

  test('[MQTT-3.3.4-7] outbound QoS 1/2 in flight never exceed the client Receive Maximum', async () => {
    const b = await broker();
    const sub = await connected(b, 'rm', 5, { properties: { receiveMaximum: 2 } });
    await sub.subscribe('rm', 1);
    for (let i = 0; i < 5; i++) await b.publish({ topic: 'rm', payload: String(i), qos: 1 });
    const first = await sub.expect('publish');
    const second = await sub.expect('publish');
    await sub.expectNothing(30);
    sub.send({ type: 'puback', packetId: first.packetId! });
    const third = await sub.expect('publish');
    assert.equal(third.payload.toString(), '2');
    await sub.expectNothing(30);
    sub.send({ type: 'puback', packetId: second.packetId! });
    sub.send({ type: 'puback', packetId: third.packetId! });
    assert.equal((await sub.expect('publish')).payload.toString(), '3');
    assert.equal((await sub.expect('publish')).payload.toString(), '4');
  });

  test('[MQTT-4.6.0-5] messages to one subscriber keep their publication order', async () => {
    const b = await broker();
    const sub = await connected(b, 'order');
    await sub.subscribe('ord', 1);
    const pub = await connected(b, 'order-pub');
    for (let i = 1; i <= 50; i++) pub.publish({ topic: 'ord', payload: Buffer.from(String(i)), qos: 1, packetId: i });
    for (let i = 1; i <= 50; i++) {
      const msg = await sub.expect('publish');
      assert.equal(msg.payload.toString(), String(i));
      sub.send({ type: 'puback', packetId: msg.packetId! });
    }
  });

  test('[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error', async () => {
    const b = await broker();
    const client = await connected(b, 'share-nl');
    client.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ topicFilter: '$share/g/t', qos: 0, noLocal: true }],
    });
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('a 3.1.1 and a 5.0 subscriber each get their own encoding of one message', async () => {
    const b = await broker();
    const v3 = await connected(b, 'v3', 3);
    await v3.subscribe('mix', 1);
    const v4 = await connected(b, 'v4', 4);
    await v4.subscribe('mix', 1);
    const v5 = await connected(b, 'v5');
    await v5.subscribe('mix', 1);
    await b.publish({ topic: 'mix', payload: 'all', qos: 1, properties: { contentType: 'text/plain' } });
    for (const c of [v3, v4]) {
      const msg = await c.expect('publish');
      assert.equal(msg.payload.toString(), 'all');
      assert.equal(msg.properties, undefined);
    }
    assert.equal((await v5.expect('publish')).properties?.contentType, 'text/plain');
  });

  test('[MQTT-3.2.2-11] a PUBLISH above the Maximum QoS gets DISCONNECT 0x9B', async () => {
    const b = await broker({ maximumQoS: 1 });
    const pub = await connected(b, 'too-high');
    pub.publish({ topic: 'q', payload: Buffer.from('x'), qos: 2, packetId: 1 });
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.QoSNotSupported);
  });

  test('[MQTT-3.2.2-10] with Maximum QoS 1, SUBSCRIBE at QoS 2 is granted QoS 1', async () => {
    const b = await broker({ maximumQoS: 1 });
    const sub = await connected(b, 'granted');
    assert.deepEqual(await sub.subscribe('g', 2), [1]);
  });

  test('[MQTT-3.3.4-6] a Subscription Identifier on a client PUBLISH is a protocol error', async () => {
    const b = await broker();
    const pub = await connected(b, 'subid-pub');
    pub.publish({ topic: 's', payload: Buffer.from('x'), properties: { subscriptionIdentifiers: [3] } });
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('[MQTT-3.3.2-7] outbound topic aliases start afresh on a new connection', async () => {
    const b = await broker();
    const options = { clean: false, properties: { topicAliasMaximum: 5, sessionExpiryInterval: 60 } };
    const first = await connected(b, 'alias-reset', 5, options);
    await first.subscribe('ar', 0);
    await b.publish({ topic: 'ar', payload: '1' });
    assert.equal((await first.expect('publish')).topic, 'ar');
    first.destroy();
    const second = await connected(b, 'alias-reset', 5, options);
    await b.publish({ topic: 'ar', payload: '2' });
    const msg = await second.expect('publish');
    assert.equal(msg.topic, 'ar');
    assert.equal(msg.properties?.topicAlias, 1);
  });

  test('[MQTT-3.3.2-14] a Response Topic with a wildcard is a protocol error: DISCONNECT 0x82', async () => {
    const b = await broker();
    const pub = await connected(b, 'resp-wild');
    // PUBLISH QoS 0, topic "a", properties: Response Topic "r/#", no payload.
    pub.sendRaw([0x30, 0x0a, 0x00, 0x01, 0x61, 0x06, 0x08, 0x00, 0x03, 0x72, 0x2f, 0x23]);
    assert.equal((await pub.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('[MQTT-3.4.2-2] a Reason String is left out rather than exceed the client Maximum Packet Size', async () => {
    const b = await broker();
    const tight = await connected(b, 'tight', 5, { properties: { maximumPacketSize: 16 } });
    tight.publish({ topic: '$SYS/x', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    const ack = await tight.expect('puback');
    assert.equal(ack.reasonCode, ReasonCode.NotAuthorized);
    assert.equal(ack.properties, undefined);
  });

  test('[MQTT-4.4.0-2] a PUBREC of 0x80 or more ends the QoS 2 flow without PUBREL and frees the identifier', async () => {
    const b = await broker();
    const sub = await connected(b, 'rec-fail');
    await sub.subscribe('rf', 2);
    await b.publish({ topic: 'rf', payload: 'x', qos: 2 });
    const msg = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: msg.packetId!, reasonCode: ReasonCode.UnspecifiedError });
    await sub.expectNothing();
    assert.equal(b.sessions.get('rec-fail')?.inflight.size, 0);
  });

  test('[MQTT-3.10.4-3] a delivery started before UNSUBSCRIBE is completed', async () => {
    const b = await broker();
    const sub = await connected(b, 'unsub-inflight');
    await sub.subscribe('ui', 1);
    await b.publish({ topic: 'ui', payload: 'x', qos: 1 });
    const msg = await sub.expect('publish');
    sub.send({ type: 'unsubscribe', packetId: 9, topicFilters: ['ui'] });
    await sub.expect('unsuback');
    assert.equal(b.sessions.get('unsub-inflight')?.inflight.size, 1);
    sub.send({ type: 'puback', packetId: msg.packetId! });
    await delay(5);
    assert.equal(b.sessions.get('unsub-inflight')?.inflight.size, 0);
    await b.publish({ topic: 'ui', payload: 'y', qos: 1 });
    await sub.expectNothing();
  });

  test('[MQTT-3.8.4-7] features switched off are announced in CONNACK and refused per filter: 0x9E, 0xA1, 0xA2', async () => {
    const b = await broker({
      sharedSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      wildcardSubscriptionAvailable: false,
    });
    const client = new RawClient(b, 5);
    const connack = await client.connect({ clientId: 'limited-subs' });
    assert.equal(connack.properties?.sharedSubscriptionAvailable, 0);
    assert.equal(connack.properties?.subscriptionIdentifiersAvailable, 0);
    assert.equal(connack.properties?.wildcardSubscriptionAvailable, 0);
    client.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { topicFilter: '$share/g/t', qos: 0 },
        { topicFilter: 'a/+', qos: 0 },
        { topicFilter: 'plain', qos: 1 },
      ],
    });
    assert.deepEqual((await client.expect('suback')).reasonCodes, [
      ReasonCode.SharedSubscriptionsNotSupported,
      ReasonCode.WildcardSubscriptionsNotSupported,
      1,
    ]);
    client.send({
      type: 'subscribe',
      packetId: 2,
      subscriptions: [{ topicFilter: 'plain', qos: 0 }],
      properties: { subscriptionIdentifiers: [4] },
    });
    assert.deepEqual((await client.expect('suback')).reasonCodes, [ReasonCode.SubscriptionIdentifiersNotSupported]);
    client.destroy();
  });
});
