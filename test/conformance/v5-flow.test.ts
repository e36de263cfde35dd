// MQTT 5.0 section 4.3 (QoS delivery protocols) and 4.1 (session state): the rules about when a message is new, when
// it may still be re-sent, and how long the session lasts while connected.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authorizer } from '../../src/auth/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, delay } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 5.0 QoS flows and session state (server)', { concurrency: true }, () => {
  test('[MQTT-4.3.3-7] [MQTT-3.3.2-5] a QoS 1 or 2 message whose delivery started is re-sent on resume even after it expired', async (t) => {
    const bench = await Bench.open(t);
    const props = { sessionExpiryInterval: 60 };
    const sub = await bench.connected('ex', 5, { properties: props });
    await sub.subscribe('exs/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({
      topic: 'exs/t',
      qos: 1,
      packetId: 1,
      payload: Buffer.from('q1'),
      properties: { messageExpiryInterval: 1 },
    });
    pub.publish({
      topic: 'exs/t',
      qos: 2,
      packetId: 2,
      payload: Buffer.from('q2'),
      properties: { messageExpiryInterval: 1 },
    });
    const a = await sub.expect('publish');
    const b = await sub.expect('publish');
    sub.destroy();
    await delay(1200);
    const again = bench.peer(5);
    await again.connect({ clientId: 'ex', clean: false, properties: props });
    const ra = await again.expect('publish');
    const rb = await again.expect('publish');
    assert.deepEqual(
      [ra.payload.toString(), ra.dup, ra.packetId, rb.payload.toString(), rb.dup, rb.packetId],
      ['q1', true, a.packetId, 'q2', true, b.packetId],
    );
  });

  test('[MQTT-3.3.2-5] a message that expires while waiting behind a full Receive Maximum window is not delivered', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('win', 5, { properties: { receiveMaximum: 1 } });
    await sub.subscribe('win/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'win/t', qos: 1, packetId: 1, payload: Buffer.from('first') });
    pub.publish({
      topic: 'win/t',
      qos: 1,
      packetId: 2,
      payload: Buffer.from('short'),
      properties: { messageExpiryInterval: 1 },
    });
    pub.publish({
      topic: 'win/t',
      qos: 1,
      packetId: 3,
      payload: Buffer.from('long'),
      properties: { messageExpiryInterval: 60 },
    });
    const first = await sub.expect('publish');
    await delay(1100);
    sub.send({ type: 'puback', packetId: first.packetId ?? 0 });
    const next = await sub.expect('publish');
    assert.equal(next.payload.toString(), 'long');
    const left = next.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 58 && left <= 59, `interval ${left}`);
  });

  test('[MQTT-4.3.3-7] a QoS 2 message past PUBREC is completed with PUBREL after its expiry', async (t) => {
    const bench = await Bench.open(t);
    const props = { sessionExpiryInterval: 60 };
    const sub = await bench.connected('ex2', 5, { properties: props });
    await sub.subscribe('exr/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({
      topic: 'exr/t',
      qos: 2,
      packetId: 1,
      payload: Buffer.from('q2'),
      properties: { messageExpiryInterval: 1 },
    });
    const m = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
    await sub.expect('pubrel');
    sub.destroy();
    await delay(1200);
    const again = bench.peer(5);
    await again.connect({ clientId: 'ex2', clean: false, properties: props });
    assert.equal((await again.expect('pubrel')).packetId, m.packetId);
  });

  test('[MQTT-4.3.2-4] [MQTT-4.3.2-5] after PUBACK, a PUBLISH reusing the packet identifier is a new message, DUP or not', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('reuse/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'reuse/t', qos: 1, packetId: 5, payload: Buffer.from('a') });
    assert.equal((await pub.expect('puback')).packetId, 5);
    pub.publish({ topic: 'reuse/t', qos: 1, packetId: 5, dup: true, payload: Buffer.from('b') });
    assert.equal((await pub.expect('puback')).packetId, 5);
    assert.equal((await sub.expect('publish')).payload.toString(), 'a');
    assert.equal((await sub.expect('publish')).payload.toString(), 'b');
  });

  test('[MQTT-4.3.3-9] after a PUBREC of 0x80 or more, a PUBLISH with that packet identifier is a new message', async (t) => {
    const authorizer: Authorizer = {
      canPublish: (_c, topic) => topic !== 'closed/t',
      canSubscribe: () => true,
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const sub = await bench.connected('sub');
    await sub.subscribe('+/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'closed/t', qos: 2, packetId: 8, payload: Buffer.from('no') });
    assert.equal((await pub.expect('pubrec')).reasonCode, ReasonCode.NotAuthorized);
    pub.publish({ topic: 'open/t', qos: 2, packetId: 8, payload: Buffer.from('yes') });
    const pubrec = await pub.expect('pubrec');
    assert.equal(pubrec.reasonCode ?? 0, 0);
    pub.send({ type: 'pubrel', packetId: 8 });
    await pub.expect('pubcomp');
    assert.equal((await sub.expect('publish')).payload.toString(), 'yes');
  });

  test('[MQTT-4.3.3-10] a QoS 2 PUBLISH repeated before PUBREL is not delivered twice, even with another payload', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('twice/t', 2);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'twice/t', qos: 2, packetId: 3, payload: Buffer.from('first') });
    await pub.expect('pubrec');
    pub.publish({ topic: 'twice/t', qos: 2, packetId: 3, dup: true, payload: Buffer.from('first') });
    await pub.expect('pubrec');
    pub.publish({ topic: 'twice/t', qos: 2, packetId: 3, dup: false, payload: Buffer.from('again') });
    await pub.expect('pubrec');
    pub.send({ type: 'pubrel', packetId: 3 });
    await pub.expect('pubcomp');
    const m = await sub.expect('publish');
    assert.equal(m.payload.toString(), 'first');
    await sub.expectNothing();
  });

  test('[MQTT-4.3.3-10] inbound QoS 2 state survives a reconnect: the repeated PUBLISH is acknowledged, not delivered again', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('keep2/t', 0);
    const props = { sessionExpiryInterval: 60 };
    const pub = await bench.connected('pub2', 5, { properties: props });
    pub.publish({ topic: 'keep2/t', qos: 2, packetId: 11, payload: Buffer.from('once') });
    await pub.expect('pubrec');
    assert.equal((await sub.expect('publish')).payload.toString(), 'once');
    pub.destroy();
    await delay(20);
    const again = await bench.connected('pub2', 5, { clean: false, properties: props });
    again.publish({ topic: 'keep2/t', qos: 2, packetId: 11, dup: true, payload: Buffer.from('once') });
    await again.expect('pubrec');
    again.send({ type: 'pubrel', packetId: 11 });
    assert.equal((await again.expect('pubcomp')).reasonCode ?? 0, 0);
    await sub.expectNothing();
  });

  test('[MQTT-4.1.0-1] the session is kept while the connection is open, however short its expiry interval', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('live', 5, { properties: { sessionExpiryInterval: 1 } });
    await peer.subscribe('live/t', 0);
    await delay(1300);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'live/t', payload: Buffer.from('x') });
    assert.equal((await peer.expect('publish')).payload.toString(), 'x');
  });

  test('[MQTT-4.1.0-2] the session is discarded once the connection is closed and the expiry interval has passed', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('gone', 5, { properties: { sessionExpiryInterval: 1 } });
    await peer.subscribe('gone/t', 1);
    peer.disconnect();
    await peer.waitClosed();
    await delay(500);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'gone/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    assert.equal((await pub.expect('puback')).reasonCode ?? 0, 0, 'the session still exists after 0.5 s');
    await delay(800);
    pub.publish({ topic: 'gone/t', qos: 1, packetId: 2, payload: Buffer.from('y') });
    assert.equal((await pub.expect('puback')).reasonCode, ReasonCode.NoMatchingSubscribers, 'the session is gone');
    const back = bench.peer(5);
    assert.equal((await back.connect({ clientId: 'gone', clean: false })).sessionPresent, false);
  });
});
