// MQTT 5.0 sections 3.1 (CONNECT), 3.2 (CONNACK), 3.12 (PINGREQ) and 3.14 (DISCONNECT): the server's side, checked
// on the wire against a running broker.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authenticator } from '../../src/auth/types.js';
import { encode } from '../../src/protocol/encoder.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, delay } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 5.0 CONNECT, CONNACK, PINGREQ, DISCONNECT (server)', { concurrency: true }, () => {
  test('[MQTT-3.1.4-5] [MQTT-3.2.0-1] [MQTT-3.2.2-1] a valid CONNECT is answered first by CONNACK 0x00 with reserved flag bits 0', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    peer.send(peer.connectPacket({ clientId: 'c1' }));
    const connack = await peer.expect('connack');
    assert.equal(connack.reasonCode, 0);
    // The first byte the broker sent is CONNACK's 0x20, and its Connect Acknowledge Flags byte has bits 7-1 clear.
    const bytes = peer.bytes;
    assert.equal(bytes[0], 0x20);
    assert.equal(bytes[2] & 0xfe, 0);
    assert.equal(bytes[3], 0x00);
  });

  test('[MQTT-4.12.0-6] without an Authentication Method in CONNECT the server sends no AUTH and no method in CONNACK', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'plain' });
    assert.equal(connack.properties?.authenticationMethod, undefined);
    assert.equal(connack.properties?.authenticationData, undefined);
    peer.send({ type: 'pingreq' });
    assert.equal((await peer.next()).type, 'pingresp');
  });

  test('[MQTT-3.14.1-1] [MQTT-3.1.2-8] 5.0: a DISCONNECT with reserved flags is no DISCONNECT: 0x81, and the will is published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('w');
    await watcher.subscribe('will/#', 1);
    const bad = await bench.connected('d', 5, {
      will: { topic: 'will/bad-disconnect', payload: Buffer.from('bye'), qos: 0, retain: false },
    });
    bad.sendRaw([0xe1, 0x00]);
    await bad.expectDisconnect(ReasonCode.MalformedPacket);
    assert.equal((await watcher.expect('publish')).topic, 'will/bad-disconnect');
  });

  test('[MQTT-3.2.0-2] the server sends CONNACK only once, even when the client keeps talking', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('c1');
    peer.send({ type: 'pingreq' });
    peer.send({ type: 'pingreq' });
    await peer.expect('pingresp');
    await peer.expect('pingresp');
    await peer.expectNothing();
  });

  test('[MQTT-3.1.2-4] [MQTT-3.2.2-2] Clean Start 1 discards an existing session: Session Present 0 and no old subscriptions', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('keep', 5, { clean: true, properties: { sessionExpiryInterval: 60 } });
    await first.subscribe('cs/t', 1);
    first.disconnect();
    await first.waitClosed();

    const again = bench.peer(5);
    const connack = await again.connect({ clientId: 'keep', clean: true, properties: { sessionExpiryInterval: 60 } });
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.sessionPresent, false);
    const publisher = await bench.connected('pub');
    publisher.publish({ topic: 'cs/t', payload: Buffer.from('x') });
    await again.expectNothing(100);
  });

  test('[MQTT-3.1.2-5] [MQTT-3.2.2-3] Clean Start 0 resumes the session: Session Present 1 and its subscriptions deliver', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('resume', 5, { properties: { sessionExpiryInterval: 60 } });
    await first.subscribe('rs/t', 1);
    first.disconnect();
    await first.waitClosed();

    const again = bench.peer(5);
    const connack = await again.connect({
      clientId: 'resume',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.sessionPresent, true);
    const publisher = await bench.connected('pub');
    publisher.publish({ topic: 'rs/t', payload: Buffer.from('x') });
    const message = await again.expect('publish');
    assert.equal(message.topic, 'rs/t');
  });

  test('[MQTT-3.1.2-6] [MQTT-3.2.2-3] Clean Start 0 without a session creates one: Session Present 0', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'fresh', clean: false });
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.sessionPresent, false);
  });

  test('[MQTT-3.1.2-23] [MQTT-4.5.0-1] with Session Expiry Interval > 0 the session outlives the connection, and messages wait for it', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('sei', 5, { properties: { sessionExpiryInterval: 30 } });
    await first.subscribe('sei/t', 1);
    first.destroy();
    await delay(20);
    const publisher = await bench.connected('pub');
    publisher.publish({ topic: 'sei/t', qos: 1, packetId: 3, payload: Buffer.from('queued') });
    await publisher.expect('puback');

    const again = bench.peer(5);
    const connack = await again.connect({ clientId: 'sei', clean: false, properties: { sessionExpiryInterval: 30 } });
    assert.equal(connack.sessionPresent, true);
    const message = await again.expect('publish');
    assert.equal(message.payload.toString(), 'queued');
    assert.equal(message.qos, 1);
  });

  test('[MQTT-3.1.2-23] (Session Expiry Interval 0) the session ends with the network connection', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('sei0', 5);
    await first.subscribe('sei0/t', 1);
    first.destroy();
    await delay(20);
    const again = bench.peer(5);
    const connack = await again.connect({ clientId: 'sei0', clean: false });
    assert.equal(connack.sessionPresent, false);
  });

  test('3.1.2.11.2 a session expires after its Session Expiry Interval', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('exp', 5, { properties: { sessionExpiryInterval: 1 } });
    await first.subscribe('exp/t', 1);
    first.destroy();
    await delay(1300);
    const again = bench.peer(5);
    const connack = await again.connect({ clientId: 'exp', clean: false, properties: { sessionExpiryInterval: 1 } });
    assert.equal(connack.sessionPresent, false);
  });

  test('[MQTT-3.1.3-2] the Client Identifier identifies the session: another ClientID does not see it', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('id-a', 5, { properties: { sessionExpiryInterval: 60 } });
    first.disconnect();
    await first.waitClosed();
    const other = bench.peer(5);
    assert.equal((await other.connect({ clientId: 'id-b', clean: false })).sessionPresent, false);
    const same = bench.peer(5);
    assert.equal((await same.connect({ clientId: 'id-a', clean: false })).sessionPresent, true);
  });

  test('[MQTT-3.1.3-5] ClientIDs of 1 to 23 characters from 0-9a-zA-Z are accepted', async (t) => {
    const bench = await Bench.open(t);
    for (const clientId of ['a', '0123456789abcdefABCDEFz', 'Z9']) {
      const peer = bench.peer(5);
      const connack = await peer.connect({ clientId });
      assert.equal(connack.reasonCode, 0, clientId);
    }
  });

  test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16] a zero-length ClientID gets a unique Assigned Client Identifier in CONNACK', async (t) => {
    const bench = await Bench.open(t);
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const peer = bench.peer(5);
      const connack = await peer.connect({ clientId: '' });
      assert.equal(connack.reasonCode, 0);
      const assigned = connack.properties?.assignedClientIdentifier;
      assert.ok(assigned && assigned.length > 0, 'Assigned Client Identifier present');
      ids.add(assigned);
    }
    assert.equal(ids.size, 5);
  });

  test('[MQTT-3.1.3-7] the Assigned Client Identifier names a session the client can resume', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    const props = { sessionExpiryInterval: 60 };
    const connack = await peer.connect({ clientId: '', clean: false, properties: props });
    const assigned = connack.properties?.assignedClientIdentifier ?? '';
    assert.ok(assigned.length > 0);
    await peer.subscribe('as/t', 1);
    peer.disconnect();
    await peer.waitClosed();
    const again = bench.peer(5);
    assert.equal((await again.connect({ clientId: assigned, clean: false, properties: props })).sessionPresent, true);
  });

  test('3.14.2.2.2 a DISCONNECT may shorten a non-zero Session Expiry Interval', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('short', 5, { properties: { sessionExpiryInterval: 3600 } });
    await first.subscribe('short/t', 1);
    first.disconnect(0, { sessionExpiryInterval: 1 });
    await first.waitClosed();
    await delay(1300);
    const again = bench.peer(5);
    assert.equal((await again.connect({ clientId: 'short', clean: false })).sessionPresent, false);
  });

  test('3.2.2.3.7 a client that chose its own ClientID gets no Assigned Client Identifier', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'mine' });
    assert.equal(connack.properties?.assignedClientIdentifier, undefined);
  });

  test('[MQTT-3.1.4-3] [MQTT-4.13.2-1] a second connection with the same ClientID takes over: the old one gets DISCONNECT 0x8E and is closed', async (t) => {
    const bench = await Bench.open(t);
    const old = await bench.connected('dup');
    const other = await bench.connected('bystander');
    const fresh = bench.peer(5);
    const connack = await fresh.connect({ clientId: 'dup' });
    assert.equal(connack.reasonCode, 0);
    await old.expectDisconnect(ReasonCode.SessionTakenOver);
    // The new connection works; an unrelated client is untouched.
    fresh.send({ type: 'pingreq' });
    await fresh.expect('pingresp');
    other.send({ type: 'pingreq' });
    await other.expect('pingresp');
  });

  test('[MQTT-3.1.4-3] [MQTT-3.1.4-4] a takeover with Clean Start 0 keeps the session (Session Present 1)', async (t) => {
    const bench = await Bench.open(t);
    const old = await bench.connected('tk', 5, { properties: { sessionExpiryInterval: 60 } });
    await old.subscribe('tk/t', 1);
    const fresh = bench.peer(5);
    const connack = await fresh.connect({ clientId: 'tk', clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(connack.sessionPresent, true);
    await old.expectDisconnect(ReasonCode.SessionTakenOver);
    const publisher = await bench.connected('pub');
    publisher.publish({ topic: 'tk/t', payload: Buffer.from('after') });
    assert.equal((await fresh.expect('publish')).payload.toString(), 'after');
  });

  test('[MQTT-3.1.4-3] [MQTT-4.4.0-1] on a takeover with Clean Start 0 the unacknowledged messages are re-sent on the new connection', async (t) => {
    const bench = await Bench.open(t);
    const props = { sessionExpiryInterval: 60 };
    const old = await bench.connected('tr', 5, { properties: props });
    await old.subscribe('tr/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'tr/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    const first = await old.expect('publish');
    const fresh = await bench.connected('tr', 5, { clean: false, properties: props });
    const again = await fresh.expect('publish');
    assert.deepEqual([again.dup, again.packetId, again.payload.toString()], [true, first.packetId, 'x']);
  });

  test('[MQTT-3.1.2-28] Response Information is sent only when the client requests it', async (t) => {
    const bench = await Bench.open(t);
    const plain = bench.peer(5);
    const a = await plain.connect({ clientId: 'ri-0', properties: { requestResponseInformation: 0 } });
    assert.equal(a.properties?.responseInformation, undefined);
    const absent = bench.peer(5);
    const b = await absent.connect({ clientId: 'ri-none' });
    assert.equal(b.properties?.responseInformation, undefined);
    const asking = bench.peer(5);
    const c = await asking.connect({ clientId: 'ri-1', properties: { requestResponseInformation: 1 } });
    assert.equal(a.reasonCode + b.reasonCode + c.reasonCode, 0);
    // Sending it when asked is a MAY; when sent it is a UTF-8 string.
    if (c.properties?.responseInformation !== undefined)
      assert.equal(typeof c.properties.responseInformation, 'string');
  });

  test('[MQTT-3.2.2-9] [MQTT-3.2.2-10] Maximum QoS 1 is announced in CONNACK, and a SUBSCRIBE at QoS 2 is still accepted (granted 1)', async (t) => {
    const bench = await Bench.open(t, { maximumQoS: 1 });
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'mq' });
    assert.equal(connack.properties?.maximumQoS, 1);
    assert.deepEqual(await peer.subscribe('mq/t', 2), [1]);
    const full = await Bench.open(t);
    const other = full.peer(5);
    const c2 = await other.connect({ clientId: 'mq2' });
    assert.equal(c2.properties?.maximumQoS, undefined, 'Maximum QoS 2 is the default and need not be sent');
  });

  test('[MQTT-3.2.2-9] Maximum QoS 0 is announced and SUBSCRIBE at QoS 1 and 2 is granted QoS 0', async (t) => {
    const bench = await Bench.open(t, { maximumQoS: 0 });
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'mq0' });
    assert.equal(connack.properties?.maximumQoS, 0);
    assert.deepEqual(await peer.subscribe('mq/t', 1), [0]);
    assert.deepEqual(await peer.subscribe('mq/u', 2), [0]);
  });

  test('[MQTT-3.2.2-12] [MQTT-3.2.2-6] [MQTT-3.2.2-7] a Will QoS above Maximum QoS gets CONNACK 0x9B, Session Present 0, and a close', async (t) => {
    const bench = await Bench.open(t, { maximumQoS: 1 });
    const peer = bench.peer(5);
    const connack = await peer.connect({
      clientId: 'wq',
      will: { topic: 'w/t', payload: Buffer.from('w'), qos: 2, retain: false },
    });
    assert.equal(connack.reasonCode, ReasonCode.QoSNotSupported);
    assert.equal(connack.sessionPresent, false);
    await peer.waitClosed();
  });

  test('[MQTT-3.2.2-13] a retained will when Retain Available is 0 gets CONNACK 0x9A and a close', async (t) => {
    const bench = await Bench.open(t, { retainAvailable: false });
    const peer = bench.peer(5);
    const connack = await peer.connect({
      clientId: 'wr',
      will: { topic: 'w/t', payload: Buffer.from('w'), qos: 0, retain: true },
    });
    assert.equal(connack.reasonCode, ReasonCode.RetainNotSupported);
    assert.equal(connack.sessionPresent, false);
    await peer.waitClosed();
  });

  test('3.2.2.3.5 Retain Available 0 is announced in CONNACK when retained messages are off', async (t) => {
    const bench = await Bench.open(t, { retainAvailable: false });
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'ra' });
    assert.equal(connack.properties?.retainAvailable, 0);
  });

  test('[MQTT-3.2.2-6] [MQTT-3.2.2-7] [MQTT-3.1.4-2] a refused CONNECT (authentication) gets CONNACK >= 0x80 with Session Present 0, then a close', async (t) => {
    const authenticator: Authenticator = {
      authenticate: (request) =>
        request.username === 'good' ? { ok: true } : { ok: false, reasonCode: ReasonCode.BadUserNameOrPassword },
    };
    const bench = await Bench.open(t, { authenticator });
    const first = bench.peer(5);
    assert.equal(
      (await first.connect({ clientId: 'ra', username: 'good', properties: { sessionExpiryInterval: 60 } })).reasonCode,
      0,
    );
    first.disconnect();
    await first.waitClosed();
    const refused = bench.peer(5);
    const connack = await refused.connect({ clientId: 'ra', clean: false, username: 'bad' });
    assert.equal(connack.reasonCode, ReasonCode.BadUserNameOrPassword);
    assert.equal(connack.sessionPresent, false, 'a refusing CONNACK never claims a session');
    await refused.waitClosed();
  });

  test('[MQTT-3.1.4-6] after a refusing CONNACK the server processes nothing the client sent after CONNECT', async (t) => {
    const authenticator: Authenticator = {
      authenticate: (request) =>
        request.username === 'bad' ? { ok: false, reasonCode: ReasonCode.NotAuthorized } : { ok: true },
    };
    const bench = await Bench.open(t, { authenticator });
    const watcher = await bench.connected('watcher', 5, { username: 'ok' });
    await watcher.subscribe('after/#', 0);
    const refused = bench.peer(5);
    // CONNECT, PUBLISH and a retained PUBLISH in one write: none of the PUBLISHes may take effect.
    refused.sendRaw(
      Buffer.concat([
        encode(refused.connectPacket({ clientId: 'r', username: 'bad' }), 5),
        encode(
          { type: 'publish', topic: 'after/x', payload: Buffer.from('leak'), qos: 0, retain: true, dup: false },
          5,
        ),
      ]),
    );
    const connack = await refused.expect('connack');
    assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
    await refused.waitClosed();
    await watcher.expectNothing(100);
    assert.equal(bench.broker.retained.size, 0);
  });

  test('[MQTT-3.1.4-6] with an asynchronous authenticator the refusal still drops packets sent after CONNECT', async (t) => {
    const authenticator: Authenticator = {
      authenticate: async (request) => {
        await delay(20);
        return request.username === 'bad' ? { ok: false, reasonCode: ReasonCode.NotAuthorized } : { ok: true };
      },
    };
    const bench = await Bench.open(t, { authenticator });
    const watcher = await bench.connected('watcher', 5, { username: 'ok' });
    await watcher.subscribe('after/#', 0);
    const refused = bench.peer(5);
    refused.send(refused.connectPacket({ clientId: 'r', username: 'bad' }));
    refused.publish({ topic: 'after/x', payload: Buffer.from('leak') });
    assert.equal((await refused.expect('connack')).reasonCode, ReasonCode.NotAuthorized);
    await refused.waitClosed();
    await watcher.expectNothing(100);
  });

  test('3.2.2.3.14 [MQTT-3.2.2-21] Server Keep Alive replaces a larger Keep Alive and the server enforces it', async (t) => {
    const bench = await Bench.open(t, { maxKeepAlive: 1 });
    const peer = bench.peer(5);
    const started = Date.now();
    const connack = await peer.connect({ clientId: 'ska', keepAlive: 60 });
    assert.equal(connack.properties?.serverKeepAlive, 1);
    await peer.expectDisconnect(ReasonCode.KeepAliveTimeout, 4000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1450 && elapsed < 3500, `closed after ${elapsed} ms`);
  });

  test('[MQTT-3.1.2-22] [MQTT-3.2.2-22] without Server Keep Alive the client Keep Alive is used: 1.5 x Keep Alive of silence closes the connection', async (t) => {
    const bench = await Bench.open(t);
    const silent = bench.peer(5);
    const started = Date.now();
    const connack = await silent.connect({ clientId: 'ka', keepAlive: 1 });
    assert.equal(connack.properties?.serverKeepAlive, undefined);
    const talking = await bench.connected('ka-ping', 5, { keepAlive: 1 });
    // One peer pings every 400 ms and must survive; the silent one is closed after 1.5 s.
    const pinger = setInterval(() => talking.send({ type: 'pingreq' }), 400);
    t.after(() => clearInterval(pinger));
    await silent.expectDisconnect(ReasonCode.KeepAliveTimeout, 4000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1450 && elapsed < 3500, `closed after ${elapsed} ms`);
    await delay(300);
    clearInterval(pinger);
    assert.equal(talking.closed, false);
  });

  test('[MQTT-3.1.2-22] (Keep Alive 0) the keep alive mechanism is off', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('ka0', 5, { keepAlive: 0 });
    await delay(600);
    peer.send({ type: 'pingreq' });
    await peer.expect('pingresp');
  });

  test('[MQTT-3.12.4-1] the server answers each PINGREQ with PINGRESP', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('ping');
    for (let i = 0; i < 3; i++) peer.send({ type: 'pingreq' });
    for (let i = 0; i < 3; i++) await peer.expect('pingresp');
    assert.deepEqual([...peer.bytes.subarray(-2)], [0xd0, 0x00]);
  });

  test('[MQTT-3.14.4-1] [MQTT-3.14.4-2] after the client DISCONNECT the server sends nothing and closes the connection', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('bye');
    const before = peer.bytes.length;
    peer.send({ type: 'disconnect', reasonCode: 0 });
    peer.send({ type: 'pingreq' });
    await peer.waitClosed();
    assert.equal(peer.bytes.length, before, 'no bytes after DISCONNECT');
  });

  test('[MQTT-3.14.2-2] [MQTT-3.14.2-1] a server DISCONNECT never carries a Session Expiry Interval (takeover and shutdown)', async (t) => {
    const bench = await Bench.open(t);
    const old = await bench.connected('sx', 5, { properties: { sessionExpiryInterval: 60 } });
    const other = await bench.connected('sy', 5, { properties: { sessionExpiryInterval: 60 } });
    await bench.connected('sx', 5, { clean: false, properties: { sessionExpiryInterval: 60 } });
    const d1 = await old.expect('disconnect');
    assert.equal(d1.reasonCode, ReasonCode.SessionTakenOver);
    assert.equal(d1.properties?.sessionExpiryInterval, undefined);
    await bench.broker.close();
    const d2 = await other.expect('disconnect');
    assert.equal(d2.reasonCode, ReasonCode.ServerShuttingDown);
    assert.equal(d2.properties?.sessionExpiryInterval, undefined);
  });

  test('3.14.2.2.2 a Session Expiry Interval 0 on DISCONNECT ends the session that CONNECT would have kept', async (t) => {
    const bench = await Bench.open(t);
    const first = await bench.connected('dse', 5, { properties: { sessionExpiryInterval: 10 } });
    await first.subscribe('dse/t', 1);
    first.disconnect(0, { sessionExpiryInterval: 0 });
    await first.waitClosed();
    const again = bench.peer(5);
    assert.equal((await again.connect({ clientId: 'dse', clean: false })).sessionPresent, false, 'DISCONNECT set 0');
  });

  test('[MQTT-3.2.2-8] [MQTT-3.1.2-2] an unsupported protocol level gets a refusing CONNACK (0x84 or the 3.1.1 0x01) and a close', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    // CONNECT, protocol name MQTT, level 6.
    peer.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61]);
    await peer.waitClosed();
    const bytes = peer.bytes;
    if (bytes.length > 0) {
      assert.equal(bytes[0], 0x20, 'only a CONNACK may precede the close');
      // 3.1.1 form (remaining length 2, return code 0x01) or 5.0 form with reason 0x84.
      const code = bytes[3];
      assert.ok(code === 0x01 || code === 0x84, `CONNACK code 0x${code?.toString(16)}`);
    }
  });

  test('[MQTT-3.1.2-1] a protocol name other than MQTT at level 5 is refused (CONNACK 0x84 allowed) and the connection closed', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    // CONNECT, protocol name "MQTX", level 5, no properties, client id "a".
    peer.sendRaw([0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x58, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61]);
    await peer.waitClosed();
    const bytes = peer.bytes;
    if (bytes.length > 0) {
      assert.equal(bytes[0], 0x20);
      assert.equal(bytes[3], 0x84);
    }
  });
});
