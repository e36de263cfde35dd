// MQTT 3.1.1 (and 3.1) server statements, checked on the wire. Protocol violations are in bad-input.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authenticator, Authorizer } from '../../src/auth/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { assertMinimumQoSDelivered } from './checks.js';
import { Bench, delay } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 3.1.1 and 3.1 (server)', { concurrency: true }, () => {
  test('[MQTT-3.1.4-4] [MQTT-3.2.0-1] 3.1.1: a valid CONNECT is answered first by CONNACK 20 02 00 00', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(4);
    await peer.connect({ clientId: 'c' });
    assert.deepEqual([...peer.bytes], [0x20, 0x02, 0x00, 0x00]);
  });

  test('[MQTT-3.1.2-2] 3.1.1: an unsupported protocol level gets CONNACK 0x01 and a close', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(4);
    // CONNECT "MQTT" level 7.
    peer.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x07, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61]);
    await peer.waitClosed();
    assert.deepEqual([...peer.bytes], [0x20, 0x02, 0x00, 0x01]);
  });

  test('[MQTT-3.1.2-1] 3.1.1: a wrong protocol name is not processed as MQTT: the connection closes', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(4);
    peer.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x5a, 0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61]);
    await peer.waitClosed();
    const bytes = [...peer.bytes];
    // Closing without an answer, or with a refusing CONNACK, are both allowed; accepting it is not.
    if (bytes.length > 0) assert.notEqual(bytes[3], 0x00, 'the CONNECT must not be accepted');
  });

  test('[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2] [MQTT-3.1.3-2] 3.1.1: CleanSession 0 resumes the session (Session Present 1) with its subscriptions and messages', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('p', 4, { clean: false });
    await first.subscribe('p/t', 1);
    first.disconnect();
    await first.waitClosed();
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'p/t', qos: 1, packetId: 1, payload: Buffer.from('while away') });
    await pub.expect('puback');
    const again = bench.peer(4);
    const connack = await again.connect({ clientId: 'p', clean: false });
    assert.equal(connack.sessionPresent, true);
    const m = await again.expect('publish');
    assert.equal(m.payload.toString(), 'while away');
    assert.equal(m.qos, 1);
  });

  test('[MQTT-3.1.2-6] [MQTT-3.1.4-3] [MQTT-3.2.2-1] 3.1.1: CleanSession 1 discards the old session and gets Session Present 0; the session ends with the connection', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('c', 4, { clean: false });
    await first.subscribe('c/t', 1);
    first.disconnect();
    await first.waitClosed();
    const clean = bench.peer(4);
    const connack = await clean.connect({ clientId: 'c', clean: true });
    assert.equal(connack.sessionPresent, false);
    assert.equal(connack.reasonCode, 0);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'c/t', payload: Buffer.from('x') });
    await clean.expectNothing();
    clean.disconnect();
    await clean.waitClosed();
    const later = bench.peer(4);
    assert.equal((await later.connect({ clientId: 'c', clean: false })).sessionPresent, false);
  });

  test('[MQTT-3.2.2-3] 3.1.1: CleanSession 0 without a stored session gets Session Present 0', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(4);
    const connack = await peer.connect({ clientId: 'new', clean: false });
    assert.equal(connack.sessionPresent, false);
  });

  test('[MQTT-3.1.2-7] 3.1.1: retained messages are not part of the session: ending a session keeps them', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'keep/t', retain: true, payload: Buffer.from('r') });
    pub.disconnect();
    await pub.waitClosed();
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('keep/t', 0);
    assert.equal((await sub.expect('publish')).payload.toString(), 'r');
  });

  test('[MQTT-3.1.3-5] 3.1.1: ClientIds of 1 to 23 characters from 0-9a-zA-Z are accepted', async (t) => {
    const bench = await Bench.open(t);
    for (const clientId of ['a', '0123456789abcdefABCDEFz', 'Z9']) {
      const peer = bench.peer(4);
      assert.equal((await peer.connect({ clientId })).reasonCode, 0, clientId);
    }
  });

  test('[MQTT-3.1.3-6] 3.1.1: a zero-byte ClientId with CleanSession 1 is accepted as a unique client', async (t) => {
    const bench = await Bench.open(t);
    const a = bench.peer(4);
    const b = bench.peer(4);
    assert.equal((await a.connect({ clientId: '' })).reasonCode, 0);
    assert.equal((await b.connect({ clientId: '' })).reasonCode, 0);
    // Both stay connected: neither took the other over.
    a.send({ type: 'pingreq' });
    b.send({ type: 'pingreq' });
    await a.expect('pingresp');
    await b.expect('pingresp');
  });

  test('[MQTT-3.1.3-8] [MQTT-3.2.2-4] [MQTT-3.2.2-5] 3.1.1: a zero-byte ClientId with CleanSession 0 gets CONNACK 0x02, Session Present 0, and a close', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(4);
    peer.send(peer.connectPacket({ clientId: '', clean: false }));
    await peer.waitClosed();
    assert.deepEqual([...peer.bytes], [0x20, 0x02, 0x00, 0x02]);
  });

  test('[MQTT-3.1.3-9] 3.1: a ClientId over 23 characters is rejected with CONNACK 0x02 and a close', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(3);
    peer.send(peer.connectPacket({ clientId: 'x'.repeat(24) }));
    await peer.waitClosed();
    assert.deepEqual([...peer.bytes], [0x20, 0x02, 0x00, 0x02]);
    const ok = bench.peer(3);
    assert.equal((await ok.connect({ clientId: 'x'.repeat(23) })).reasonCode, 0);
  });

  test('[MQTT-3.1.4-2] 3.1.1: a second client with the same ClientId disconnects the first (closed, no packet)', async (t) => {
    const bench = await Bench.open(t);
    const old = await bench.connected('same', 4);
    const fresh = await bench.connected('same', 4);
    await old.waitClosed();
    assert.deepEqual([...old.bytes], [0x20, 0x02, 0x00, 0x00], 'nothing but the CONNACK');
    fresh.send({ type: 'pingreq' });
    await fresh.expect('pingresp');
  });

  test('[MQTT-3.1.4-2] [MQTT-3.1.2-8] 3.1.1: the will of a client disconnected by a takeover is published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('will/#', 0);
    const old = await bench.connected('tw', 4, {
      will: { topic: 'will/taken', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    await bench.connected('tw', 4);
    await old.waitClosed();
    assert.equal((await watcher.expect('publish')).topic, 'will/taken');
  });

  test('[MQTT-3.2.2-4] [MQTT-3.2.2-5] [MQTT-3.1.4-5] 3.1.1: a refused login gets CONNACK 0x04/0x05 with Session Present 0, and a close', async (t) => {
    const authenticator: Authenticator = {
      authenticate: (r) =>
        r.username === 'ok'
          ? { ok: true }
          : {
              ok: false,
              reasonCode: r.username === 'bad' ? ReasonCode.BadUserNameOrPassword : ReasonCode.NotAuthorized,
            },
    };
    const bench = await Bench.open(t, { authenticator });
    const first = await bench.connected('s', 4, { username: 'ok', clean: false });
    first.disconnect();
    await first.waitClosed();
    const bad = bench.peer(4);
    bad.send(bad.connectPacket({ clientId: 's', clean: false, username: 'bad', password: Buffer.from('x') }));
    await bad.waitClosed();
    assert.deepEqual([...bad.bytes], [0x20, 0x02, 0x00, 0x04]);
    const denied = bench.peer(4);
    denied.send(denied.connectPacket({ clientId: 's', clean: false, username: 'other' }));
    await denied.waitClosed();
    assert.deepEqual([...denied.bytes], [0x20, 0x02, 0x00, 0x05]);
  });

  test('[MQTT-3.1.4-5] 3.1.1: after a refused CONNECT nothing the client sent after it is processed', async (t) => {
    const authenticator: Authenticator = {
      authenticate: (r) => (r.username === 'ok' ? { ok: true } : { ok: false, reasonCode: ReasonCode.NotAuthorized }),
    };
    const bench = await Bench.open(t, { authenticator });
    const watcher = await bench.connected('w', 4, { username: 'ok' });
    await watcher.subscribe('leak/#', 0);
    const refused = bench.peer(4);
    refused.sendRaw([
      ...refused.connectBytes({ clientId: 'r', username: 'no' }),
      0x31,
      0x09,
      0x00,
      0x06,
      ...Buffer.from('leak/x'),
      0x78,
    ]);
    await refused.waitClosed();
    assert.deepEqual([...refused.bytes], [0x20, 0x02, 0x00, 0x05]);
    await watcher.expectNothing(100);
    assert.equal(bench.broker.retained.size, 0);
  });

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-8] 3.1.1: no packet for 1.5 x Keep Alive closes the connection as if the network failed: no DISCONNECT, the will is published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('will/ka', 0);
    // Timed from before CONNECT: the server's timer cannot start earlier, so the lower bound holds under load.
    const started = Date.now();
    const peer = await bench.connected('ka', 4, {
      keepAlive: 1,
      will: { topic: 'will/ka', payload: Buffer.from('timed out'), qos: 0, retain: false },
    });
    await peer.waitClosed(4000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1450 && elapsed < 3500, `closed after ${elapsed} ms`);
    assert.equal(peer.bytes.length, 4);
    // "As if the network had failed": the will is published.
    assert.equal((await watcher.expect('publish')).payload.toString(), 'timed out');
  });

  test('[MQTT-3.12.4-1] 3.1.1: PINGREQ gets PINGRESP', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('ping', 4);
    peer.sendRaw([0xc0, 0x00]);
    await peer.expect('pingresp');
    assert.deepEqual([...peer.bytes.subarray(4)], [0xd0, 0x00]);
  });

  test('[MQTT-3.1.2-8] [MQTT-3.1.2-16] 3.1.1: the will is published (not retained) when the connection drops', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('will/#', 1);
    const dying = await bench.connected('d', 4, {
      will: { topic: 'will/d', payload: Buffer.from('bye'), qos: 1, retain: false },
    });
    dying.destroy();
    const m = await watcher.expect('publish');
    assert.equal(m.topic, 'will/d');
    assert.equal(m.qos, 1);
    assert.equal(m.retain, false);
  });

  test('[MQTT-3.1.2-17] 3.1.1: a will with Will Retain 1 is published as a retained message', async (t) => {
    const bench = await Bench.open(t);
    const dying = await bench.connected('d', 4, {
      will: { topic: 'willr/d', payload: Buffer.from('bye'), qos: 0, retain: true },
    });
    dying.destroy();
    await delay(30);
    const late = await bench.connected('late', 4);
    await late.subscribe('willr/#', 0);
    const m = await late.expect('publish');
    assert.equal(m.retain, true);
    assert.equal(m.payload.toString(), 'bye');
  });

  test('[MQTT-3.1.2-12] 3.1.1: without the Will Flag no will is published when the connection drops', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('#', 1);
    const dying = await bench.connected('d', 4);
    dying.destroy();
    await watcher.expectNothing(100);
  });

  test('[MQTT-3.14.1-1] [MQTT-3.1.2-8] 3.1.1: a DISCONNECT with reserved flags is no DISCONNECT: the will is published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('will/#', 1);
    const bad = await bench.connected('d', 4, {
      will: { topic: 'will/bad-disconnect', payload: Buffer.from('bye'), qos: 0, retain: false },
    });
    bad.sendRaw([0xe2, 0x00]);
    await bad.waitClosed();
    assert.equal((await watcher.expect('publish')).topic, 'will/bad-disconnect');
  });

  test('[MQTT-3.1.2-10] [MQTT-3.14.4-3] 3.1.1: DISCONNECT discards the will', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('will/#', 1);
    const leaving = await bench.connected('d', 4, {
      will: { topic: 'will/d', payload: Buffer.from('bye'), qos: 1, retain: false },
    });
    leaving.disconnect();
    await leaving.waitClosed();
    await watcher.expectNothing(100);
  });

  test('[MQTT-3.1.2-8] 3.1.1: the will is published when the server closes the connection for a protocol violation', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w', 4);
    await watcher.subscribe('will/#', 1);
    const bad = await bench.connected('d', 4, {
      will: { topic: 'will/v', payload: Buffer.from('bye'), qos: 0, retain: false },
    });
    bad.sendRaw([0x36, 0x04, 0x00, 0x01, 0x61, 0x00]);
    await bad.waitClosed();
    assert.equal((await watcher.expect('publish')).topic, 'will/v');
  });

  test('[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] 3.1.1: a retained message is stored with its QoS and sent with RETAIN 1 to new subscriptions', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'r/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('v1') });
    await pub.expect('puback');
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('r/+', 2);
    const m = await sub.expect('publish');
    assert.equal(m.retain, true);
    assert.equal(m.qos, 1);
    assert.equal(m.payload.toString(), 'v1');
  });

  test('[MQTT-3.3.1-7] 3.1.1: a QoS 0 retained message replaces the retained message of its topic', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'r/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('old') });
    await pub.expect('puback');
    pub.publish({ topic: 'r/t', retain: true, qos: 0, payload: Buffer.from('new') });
    pub.send({ type: 'pingreq' });
    await pub.expect('pingresp');
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('r/t', 1);
    const m = await sub.expect('publish');
    assert.equal(m.payload.toString(), 'new');
    assert.equal(m.qos, 0);
    await sub.expectNothing();
  });

  test('[MQTT-3.3.1-9] 3.1.1: a message matching an established subscription is forwarded with RETAIN 0', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('r/t', 0);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'r/t', retain: true, payload: Buffer.from('x') });
    const m = await sub.expect('publish');
    assert.equal(m.retain, false);
    // The fixed header byte itself: PUBLISH, QoS 0, RETAIN 0.
    assert.equal(sub.bytes[sub.bytes.length - (2 + 2 + 3 + 1)], 0x30);
  });

  test('[MQTT-3.3.1-10] [MQTT-3.3.1-11] 3.1.1: a zero-byte retained message is forwarded, clears the topic, and is not stored', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'z/t', retain: true, payload: Buffer.from('x') });
    const live = await bench.connected('live', 4);
    await live.subscribe('z/t', 0);
    await live.expect('publish');
    pub.publish({ topic: 'z/t', retain: true, payload: Buffer.alloc(0) });
    assert.equal((await live.expect('publish')).payload.length, 0);
    const late = await bench.connected('late', 4);
    await late.subscribe('z/t', 0);
    await late.expectNothing();
  });

  test('[MQTT-3.3.1-12] 3.1.1: RETAIN 0 neither stores nor removes a retained message', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'k/t', retain: true, payload: Buffer.from('kept') });
    pub.publish({ topic: 'k/t', payload: Buffer.from('passing') });
    pub.publish({ topic: 'k/u', payload: Buffer.from('never') });
    pub.send({ type: 'pingreq' });
    await pub.expect('pingresp');
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('k/#', 0);
    assert.equal((await sub.expect('publish')).payload.toString(), 'kept');
    await sub.expectNothing();
  });

  test('[MQTT-4.3.1-1] [MQTT-3.3.1-2] [MQTT-2.3.1-5] 3.1.1: a QoS 0 message is delivered with DUP 0 and no packet identifier', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('z/t', 2);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'z/t', payload: Buffer.from('ab') });
    const m = await sub.expect('publish');
    assert.equal(m.qos, 0);
    // The whole PUBLISH: 30 07 00 03 'z/t' 'ab', no identifier between topic and payload.
    assert.deepEqual([...sub.bytes.subarray(-9)], [0x30, 0x07, 0x00, 0x03, 0x7a, 0x2f, 0x74, 0x61, 0x62]);
  });

  test('[MQTT-3.8.4-6] 3.1.1: the delivered QoS is the minimum of the published and the granted QoS', async (t) => {
    await assertMinimumQoSDelivered(await Bench.open(t), 4);
  });

  test('[MQTT-3.3.1-3] [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-2.3.1-4] 3.1.1: outbound QoS 1 uses a fresh packet identifier and DUP 0, independent of the incoming DUP', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('d/t', 1);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'd/t', qos: 1, packetId: 99, dup: true, payload: Buffer.from('x') });
    assert.equal((await pub.expect('puback')).packetId, 99);
    const m = await sub.expect('publish');
    assert.equal(m.dup, false);
    assert.ok((m.packetId ?? 0) > 0);
  });

  test('[MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-2.3.1-6] [MQTT-3.3.4-1] 3.1.1: the QoS 2 flow, PUBREC/PUBCOMP carrying the PUBLISH identifier, delivered once', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('q2/t', 2);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'q2/t', qos: 2, packetId: 300, payload: Buffer.from('x') });
    assert.equal((await pub.expect('pubrec')).packetId, 300);
    pub.publish({ topic: 'q2/t', qos: 2, packetId: 300, dup: true, payload: Buffer.from('x') });
    assert.equal((await pub.expect('pubrec')).packetId, 300);
    pub.send({ type: 'pubrel', packetId: 300 });
    assert.equal((await pub.expect('pubcomp')).packetId, 300);
    const m = await sub.expect('publish');
    assert.equal(m.qos, 2);
    sub.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
    assert.equal((await sub.expect('pubrel')).packetId, m.packetId);
    sub.send({ type: 'pubcomp', packetId: m.packetId ?? 0 });
    await sub.expectNothing();
  });

  test('[MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-1] 3.1.1: unacknowledged QoS 1 and 2 messages are re-sent with DUP 1 and PUBREL re-sent after reconnecting', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('s', 4, { clean: false });
    await sub.subscribe('re/t', 2);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 're/t', qos: 1, packetId: 1, payload: Buffer.from('one') });
    pub.publish({ topic: 're/t', qos: 2, packetId: 2, payload: Buffer.from('two') });
    pub.publish({ topic: 're/t', qos: 2, packetId: 3, payload: Buffer.from('three') });
    const one = await sub.expect('publish');
    const two = await sub.expect('publish');
    const three = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: three.packetId ?? 0 });
    await sub.expect('pubrel');
    sub.destroy();
    await delay(20);
    const again = bench.peer(4);
    assert.equal((await again.connect({ clientId: 's', clean: false })).sessionPresent, true);
    const got = [await again.next(), await again.next(), await again.next()];
    assert.deepEqual(
      got.map((p) =>
        p.type === 'publish'
          ? `publish ${p.payload} dup=${p.dup} id=${p.packetId}`
          : `${p.type} id=${'packetId' in p ? p.packetId : ''}`,
      ),
      [
        `publish one dup=true id=${one.packetId}`,
        `publish two dup=true id=${two.packetId}`,
        `pubrel id=${three.packetId}`,
      ],
    );
  });

  test('[MQTT-3.3.5-1] 3.1.1: overlapping subscriptions deliver the message once at the maximum QoS', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('o/#', 1);
    await sub.subscribe('o/t', 0);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'o/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    const m = await sub.expect('publish');
    assert.equal(m.qos, 1);
    sub.send({ type: 'puback', packetId: m.packetId ?? 0 });
    await sub.expectNothing();
  });

  test('[MQTT-3.3.5-2] 3.1.1: an unauthorized PUBLISH is acknowledged normally (or the connection closed) and not delivered', async (t) => {
    const authorizer: Authorizer = {
      canPublish: (_c, topic) => topic !== 'no',
      canSubscribe: () => true,
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('#', 0);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'no', qos: 1, packetId: 5, payload: Buffer.from('x') });
    const ack = await pub.expect('puback');
    assert.equal(ack.packetId, 5);
    pub.publish({ topic: 'no', qos: 2, packetId: 6, payload: Buffer.from('x') });
    assert.equal((await pub.expect('pubrec')).packetId, 6);
    pub.send({ type: 'pubrel', packetId: 6 });
    assert.equal((await pub.expect('pubcomp')).packetId, 6);
    await sub.expectNothing();
  });

  test('[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-2.3.1-7] [MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1] [MQTT-3.9.3-2] 3.1.1: SUBACK with the identifier, one return code per filter in order (0x80 for failures)', async (t) => {
    const authorizer: Authorizer = {
      canPublish: () => true,
      canSubscribe: (_c, f) => !f.startsWith('deny'),
      canRead: () => true,
    };
    const bench = await Bench.open(t, { authorizer });
    const sub = await bench.connected('sub', 4);
    sub.send({
      type: 'subscribe',
      packetId: 0x7fff,
      subscriptions: [
        { topicFilter: 'a', qos: 2 },
        { topicFilter: 'deny/x', qos: 1 },
        { topicFilter: 'b/#', qos: 1 },
        { topicFilter: 'c/#/d', qos: 0 },
      ],
    });
    const suback = await sub.expect('suback');
    assert.equal(suback.packetId, 0x7fff);
    assert.deepEqual(suback.reasonCodes, [2, 0x80, 1, 0x80]);
    // The raw SUBACK: 90 06 7f ff 02 80 01 80.
    assert.deepEqual([...sub.bytes.subarray(4)], [0x90, 0x06, 0x7f, 0xff, 0x02, 0x80, 0x01, 0x80]);
  });

  test('[MQTT-3.8.4-3] 3.1.1: an identical filter replaces the subscription, and its retained messages are re-sent', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'rs/t', retain: true, qos: 1, packetId: 1, payload: Buffer.from('r') });
    await pub.expect('puback');
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('rs/t', 1);
    const first = await sub.expect('publish');
    sub.send({ type: 'puback', packetId: first.packetId ?? 0 });
    await sub.subscribe('rs/t', 0);
    const again = await sub.expect('publish');
    assert.equal(again.retain, true);
    assert.equal(again.qos, 0);
    pub.publish({ topic: 'rs/t', qos: 1, packetId: 2, payload: Buffer.from('live') });
    const live = await sub.expect('publish');
    assert.equal(live.qos, 0, 'one subscription, at the new QoS');
    await sub.expectNothing();
  });

  test('[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6] [MQTT-2.3.1-7] 3.1.1: UNSUBSCRIBE stops delivery and is answered by UNSUBACK, even with no match', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('u/#', 0);
    sub.send({ type: 'unsubscribe', packetId: 12, topicFilters: ['u/#', 'not/there'] });
    const unsuback = await sub.expect('unsuback');
    assert.equal(unsuback.packetId, 12);
    assert.deepEqual([...sub.bytes.subarray(-4)], [0xb0, 0x02, 0x00, 0x0c]);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'u/x', payload: Buffer.from('x') });
    await sub.expectNothing();
    sub.send({ type: 'unsubscribe', packetId: 13, topicFilters: ['never'] });
    assert.equal((await sub.expect('unsuback')).packetId, 13);
  });

  test('[MQTT-4.5.0-1] 3.1.1: a message is added to every matching session, connected or not', async (t) => {
    const bench = await Bench.open(t);
    const online = await bench.connected('on', 4);
    await online.subscribe('all/t', 1);
    const offline = await bench.connected('off', 4, { clean: false });
    await offline.subscribe('all/+', 1);
    offline.disconnect();
    await offline.waitClosed();
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: 'all/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    await online.expect('publish');
    const back = bench.peer(4);
    await back.connect({ clientId: 'off', clean: false });
    assert.equal((await back.expect('publish')).topic, 'all/t');
  });

  test('[MQTT-4.6.0-5] [MQTT-4.6.0-6] 3.1.1: each topic is ordered: QoS 1 messages reach the subscriber in order', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('ord/t', 1);
    const pub = await bench.connected('pub', 4);
    for (let i = 1; i <= 20; i++) pub.publish({ topic: 'ord/t', qos: 1, packetId: i, payload: Buffer.from(`${i}`) });
    const got: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const m = await sub.expect('publish');
      got.push(m.payload.toString());
      sub.send({ type: 'puback', packetId: m.packetId ?? 0 });
    }
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => `${i + 1}`),
    );
  });

  test('[MQTT-4.7.2-1] 3.1.1: $ topics are not matched by # or + at the first level', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('#', 0);
    await sub.subscribe('+/info', 0);
    const pub = await bench.connected('pub', 4);
    pub.publish({ topic: '$app/info', payload: Buffer.from('x') });
    pub.publish({ topic: 'app/info', payload: Buffer.from('y') });
    assert.equal((await sub.expect('publish')).topic, 'app/info');
    await sub.expectNothing();
  });

  test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-3.3.2-3] 3.1.1: # matches the parent level and + exactly one level', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 4);
    await sub.subscribe('sport/tennis/#', 0);
    await sub.subscribe('+/+', 0);
    const pub = await bench.connected('pub', 4);
    for (const topic of ['sport/tennis', 'sport/tennis/player1/ranking', '/finance', 'a/b/c', 'x']) {
      pub.publish({ topic, payload: Buffer.from(topic) });
    }
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push((await sub.expect('publish')).topic);
    assert.deepEqual(got, ['sport/tennis', 'sport/tennis/player1/ranking', '/finance']);
    await sub.expectNothing();
  });

  test('3.1 (MQIsdp, level 3): the broker speaks MQTT 3.1: CONNACK 0, publish and subscribe', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('s31', 3);
    await sub.subscribe('v31/t', 1);
    const pub = await bench.connected('p31', 3);
    pub.publish({ topic: 'v31/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    await pub.expect('puback');
    assert.equal((await sub.expect('publish')).payload.toString(), 'x');
  });

  test('3.1 (MQIsdp): CONNACK never sets the Session Present bit, which 3.1 does not define', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('s31p', 3, { clean: false });
    await first.subscribe('p31/t', 1);
    first.disconnect();
    await first.waitClosed();
    const again = bench.peer(3);
    again.send(again.connectPacket({ clientId: 's31p', clean: false }));
    await again.expect('connack');
    assert.deepEqual([...again.bytes.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00]);
    // The session was resumed all the same: its subscription delivers.
    const pub = await bench.connected('p31', 3);
    pub.publish({ topic: 'p31/t', payload: Buffer.from('x') });
    assert.equal((await again.expect('publish')).topic, 'p31/t');
  });

  test('cross-version: a 5.0 message with properties reaches a 3.1.1 subscriber as a plain 3.1.1 PUBLISH, expired ones not at all', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('old', 4, { clean: false });
    await sub.subscribe('mix/t', 1);
    sub.disconnect();
    await sub.waitClosed();
    const pub = await bench.connected('new', 5);
    pub.publish({
      topic: 'mix/t',
      qos: 1,
      packetId: 1,
      payload: Buffer.from('short-lived'),
      properties: { messageExpiryInterval: 1, userProperties: [['a', 'b']] },
    });
    pub.publish({
      topic: 'mix/t',
      qos: 1,
      packetId: 2,
      payload: Buffer.from('ok'),
      properties: { contentType: 'text/plain' },
    });
    await pub.expect('puback');
    await pub.expect('puback');
    await delay(1100);
    const back = bench.peer(4);
    await back.connect({ clientId: 'old', clean: false });
    const m = await back.expect('publish');
    assert.equal(m.payload.toString(), 'ok');
    assert.equal(back.decodeError, undefined, 'a valid 3.1.1 packet');
    await back.expectNothing();
  });
});
