// MQTT 5.0: the corners where statements meet (No Local with overlapping subscriptions, flow control across a
// reconnect, enhanced authentication, limits applied to retained messages), and the byte-level robustness of CONNECT.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthResult, BrokerHooks } from '../../src/broker/hooks.js';
import { encode } from '../../src/protocol/encoder.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, delay, type Peer } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 5.0 statements combined, and enhanced authentication (server)', { concurrency: true }, () => {
  test('[MQTT-3.8.3-3] [MQTT-3.3.4-2] [MQTT-3.3.4-3] an own message matching a No Local and a plain subscription arrives once, by the plain one', async (t) => {
    const bench = await Bench.open(t);
    const self = await bench.connected('self');
    await self.subscribe('nlo/#', 2, { noLocal: true }, { subscriptionIdentifiers: [1] });
    await self.subscribe('nlo/t', 0, {}, { subscriptionIdentifiers: [2] });
    self.publish({ topic: 'nlo/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    // The copy may come before or after the PUBREC: no rule orders them.
    const packets = [await self.next(), await self.next()];
    const m = packets.find((p) => p.type === 'publish');
    assert.ok(m && m.type === 'publish');
    assert.ok(packets.some((p) => p.type === 'pubrec'));
    assert.equal(m.qos, 0, 'only the plain subscription matched, at its QoS');
    assert.deepEqual(m.properties?.subscriptionIdentifiers, [2]);
    await self.expectNothing();
  });

  test('[MQTT-3.3.4-7] inbound: a completed QoS 2 flow frees its place under the server Receive Maximum', async (t) => {
    const bench = await Bench.open(t, { receiveMaximum: 1 });
    const pub = bench.peer(5);
    assert.equal((await pub.connect({ clientId: 'p' })).properties?.receiveMaximum, 1);
    for (let id = 1; id <= 3; id++) {
      pub.publish({ topic: 'rm/t', qos: 2, packetId: id, payload: Buffer.from('x') });
      assert.equal((await pub.expect('pubrec')).reasonCode ?? 0, ReasonCode.NoMatchingSubscribers);
      pub.send({ type: 'pubrel', packetId: id });
      await pub.expect('pubcomp');
    }
    // A re-sent PUBLISH of the one message in flight does not count twice.
    pub.publish({ topic: 'rm/t', qos: 2, packetId: 9, payload: Buffer.from('x') });
    await pub.expect('pubrec');
    pub.publish({ topic: 'rm/t', qos: 2, packetId: 9, dup: true, payload: Buffer.from('x') });
    await pub.expect('pubrec');
    assert.equal(pub.closed, false);
  });

  test('[MQTT-4.6.0-1] [MQTT-4.4.0-1] on resume, re-sent messages come first, in order, then the queued ones, within the new Receive Maximum', async (t) => {
    const bench = await Bench.open(t);
    const props = { sessionExpiryInterval: 60, receiveMaximum: 1 };
    const sub = await bench.connected('ord', 5, { properties: props });
    await sub.subscribe('ord/t', 1);
    const pub = await bench.connected('pub');
    for (let i = 1; i <= 4; i++) pub.publish({ topic: 'ord/t', qos: 1, packetId: i, payload: Buffer.from(`${i}`) });
    const first = await sub.expect('publish');
    assert.equal(first.payload.toString(), '1');
    await sub.expectNothing();
    sub.destroy();
    await delay(20);
    const again = bench.peer(5);
    await again.connect({ clientId: 'ord', clean: false, properties: props });
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await again.expect('publish');
      got.push(`${m.payload}${m.dup ? '*' : ''}`);
      await again.expectNothing(30);
      again.send({ type: 'puback', packetId: m.packetId ?? 0 });
    }
    assert.deepEqual(got, ['1*', '2', '3', '4']);
  });

  test('[MQTT-3.1.2-24] a retained message over the client Maximum Packet Size is not sent on SUBSCRIBE', async (t) => {
    const bench = await Bench.open(t);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'mps/big', retain: true, payload: Buffer.alloc(300, 7) });
    pub.publish({ topic: 'mps/small', retain: true, payload: Buffer.from('s') });
    pub.send({ type: 'pingreq' });
    await pub.expect('pingresp');
    const sub = await bench.connected('sub', 5, { properties: { maximumPacketSize: 100 } });
    await sub.subscribe('mps/#', 0);
    const m = await sub.expect('publish');
    assert.equal(m.topic, 'mps/small');
    await sub.expectNothing();
    assert.ok(sub.bytes.length < 100);
  });

  test('[MQTT-3.1.2-24] [MQTT-3.3.2-11] a message dropped for size does not leave a topic alias behind', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub', 5, { properties: { maximumPacketSize: 60, topicAliasMaximum: 4 } });
    await sub.subscribe('ta/#', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'ta/t', payload: Buffer.alloc(100, 1) });
    pub.publish({ topic: 'ta/t', payload: Buffer.from('a') });
    pub.publish({ topic: 'ta/t', payload: Buffer.from('b') });
    const a = await sub.expect('publish');
    assert.equal(a.topic, 'ta/t', 'the first PUBLISH that reaches the client names its topic');
    const b = await sub.expect('publish');
    assert.ok(b.topic === 'ta/t' || b.properties?.topicAlias === a.properties?.topicAlias);
  });

  test('[MQTT-3.2.2-15] the server Maximum Packet Size counts the whole packet: exactly the limit passes, one byte more gets 0x95', async (t) => {
    const bench = await Bench.open(t, { maxPacketSize: 100 });
    const sub = await bench.connected('sub');
    await sub.subscribe('mps/t', 0);
    const pub = await bench.connected('pub');
    // PUBLISH QoS 0: 2 bytes fixed header + 2 + 5 topic + 1 property length + payload = 100 with a 90-byte payload.
    const exact = encode(
      { type: 'publish', topic: 'mps/t', qos: 0, retain: false, dup: false, payload: Buffer.alloc(90, 1) },
      5,
    );
    assert.equal(exact.length, 100);
    pub.sendRaw(exact);
    assert.equal((await sub.expect('publish')).payload.length, 90);
    pub.sendRaw(
      encode({ type: 'publish', topic: 'mps/t', qos: 0, retain: false, dup: false, payload: Buffer.alloc(91, 1) }, 5),
    );
    await pub.expectDisconnect(ReasonCode.PacketTooLarge);
    await sub.expectNothing();
  });

  test('[MQTT-3.1.2-24] the client Maximum Packet Size counts the whole packet: a PUBLISH of exactly that size is delivered', async (t) => {
    const bench = await Bench.open(t);
    const exact = encode(
      { type: 'publish', topic: 'cps/t', qos: 0, retain: false, dup: false, payload: Buffer.alloc(90, 1) },
      5,
    );
    const sub = await bench.connected('sub', 5, { properties: { maximumPacketSize: exact.length } });
    await sub.subscribe('cps/t', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'cps/t', payload: Buffer.alloc(91, 1) });
    pub.publish({ topic: 'cps/t', payload: Buffer.alloc(90, 1) });
    assert.equal((await sub.expect('publish')).payload.length, 90);
    await sub.expectNothing();
  });

  test('[MQTT-3.2.2-21] [MQTT-3.2.2-22] Keep Alive 0 under a server cap gets Server Keep Alive, and the server enforces it', async (t) => {
    const bench = await Bench.open(t, { maxKeepAlive: 1 });
    const peer = bench.peer(5);
    const started = Date.now();
    const connack = await peer.connect({ clientId: 'ka0', keepAlive: 0 });
    assert.equal(connack.properties?.serverKeepAlive, 1);
    await peer.expectDisconnect(ReasonCode.KeepAliveTimeout, 4000);
    assert.ok(Date.now() - started >= 1450);
  });

  test('3.2.2.3.6 the server announces its Receive Maximum and Maximum Packet Size in CONNACK when limited', async (t) => {
    const bench = await Bench.open(t, { receiveMaximum: 10, maxPacketSize: 1000 });
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'lim' });
    assert.equal(connack.properties?.receiveMaximum, 10);
    assert.equal(connack.properties?.maximumPacketSize, 1000);
  });

  test('3.2.2.3.2 a capped Session Expiry Interval is returned in CONNACK and applied', async (t) => {
    const bench = await Bench.open(t, { maxSessionExpiryInterval: 1 });
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'cap', properties: { sessionExpiryInterval: 3600 } });
    assert.equal(connack.properties?.sessionExpiryInterval, 1);
    await peer.subscribe('cap/t', 0);
    peer.destroy();
    await delay(1300);
    const again = bench.peer(5);
    assert.equal((await again.connect({ clientId: 'cap', clean: false })).sessionPresent, false);
  });

  test('[MQTT-4.8.2-6] a failure PUBACK to a shared delivery discards it: no other member gets it, even after the member leaves', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('ma');
    await a.subscribe('$share/g/sf/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'sf/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    const m = await a.expect('publish');
    const b = await bench.connected('mb');
    await b.subscribe('$share/g/sf/t', 1);
    a.send({ type: 'puback', packetId: m.packetId ?? 0, reasonCode: ReasonCode.UnspecifiedError });
    await delay(20);
    a.destroy();
    await b.expectNothing(150);
  });

  test('4.8.2 an unacknowledged shared delivery goes to another member when its member’s session ends', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('ma');
    await a.subscribe('$share/g/sr/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'sr/t', qos: 1, packetId: 1, payload: Buffer.from('x') });
    await a.expect('publish');
    const b = await bench.connected('mb');
    await b.subscribe('$share/g/sr/t', 1);
    a.destroy();
    assert.equal((await b.expect('publish')).payload.toString(), 'x');
  });

  test('[MQTT-3.10.4-1] a shared subscription is removed by UNSUBSCRIBE with its full $share filter', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('ma');
    await a.subscribe('$share/g/su/t', 0);
    a.send({ type: 'unsubscribe', packetId: 2, topicFilters: ['su/t', '$share/g/su/t'] });
    assert.deepEqual((await a.expect('unsuback')).reasonCodes, [ReasonCode.NoSubscriptionExisted, 0]);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'su/t', payload: Buffer.from('x') });
    await a.expectNothing();
  });

  test('[MQTT-3.8.4-3] one SUBSCRIBE naming the same filter twice leaves one subscription, with the last options', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    sub.send({
      type: 'subscribe',
      packetId: 3,
      subscriptions: [
        { topicFilter: 'twice/t', qos: 2 },
        { topicFilter: 'twice/t', qos: 1 },
      ],
    });
    assert.deepEqual((await sub.expect('suback')).reasonCodes, [2, 1]);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'twice/t', qos: 2, packetId: 1, payload: Buffer.from('x') });
    const m = await sub.expect('publish');
    assert.equal(m.qos, 1);
    sub.send({ type: 'puback', packetId: m.packetId ?? 0 });
    await sub.expectNothing();
  });

  test('[MQTT-4.13.1-1] a CONNECT and PUBLISH fed one byte at a time are handled like whole packets', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('bytes/t', 1);
    const peer = bench.peer(5);
    const bytes = Buffer.concat([
      encode(peer.connectPacket({ clientId: 'slow', properties: { userProperties: [['k', 'v']] } }), 5),
      encode(
        {
          type: 'publish',
          topic: 'bytes/t',
          qos: 1,
          packetId: 4,
          retain: false,
          dup: false,
          payload: Buffer.alloc(300, 3),
        },
        5,
      ),
    ]);
    for (const byte of bytes) peer.sendRaw([byte]);
    assert.equal((await peer.expect('connack')).reasonCode, 0);
    assert.equal((await peer.expect('puback')).packetId, 4);
    assert.equal((await sub.expect('publish')).payload.length, 300);
  });

  test('[MQTT-4.13.1-1] a 1 MB PUBLISH in 16 KB pieces is delivered whole', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('large/t', 0);
    const pub = await bench.connected('pub');
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const bytes = encode({ type: 'publish', topic: 'large/t', qos: 0, retain: false, dup: false, payload }, 5);
    for (let i = 0; i < bytes.length; i += 16384) pub.sendRaw(bytes.subarray(i, i + 16384));
    const m = await sub.expect('publish', 3000);
    assert.ok(m.payload.equals(payload));
  });

  test('3.1.4 a connection that sends no CONNECT is closed after the connect timeout', async (t) => {
    const bench = await Bench.open(t, { connectTimeoutMs: 200 });
    const idle = bench.peer(5);
    const started = Date.now();
    await idle.waitClosed(2500);
    assert.ok(Date.now() - started < 2000);
    assert.equal(idle.bytes.length, 0);
  });

  // ---- enhanced authentication (4.12) ----

  function challengeHooks(): BrokerHooks {
    return {
      onAuth: (event): AuthResult | undefined => {
        if (event.method !== 'CHALLENGE') return undefined;
        if (event.step === 'connect' || event.step === 'reauthenticate')
          return { action: 'continue', data: Buffer.from('nonce') };
        return event.data?.toString() === 'right' ? { action: 'success', data: Buffer.from('ok') } : { action: 'fail' };
      },
    };
  }

  /** A peer that has sent CONNECT with the CHALLENGE method (the broker answers with AUTH 0x18). */
  function challenged(bench: Bench): Peer {
    const peer = bench.peer(5);
    peer.send(peer.connectPacket({ clientId: 'a', properties: { authenticationMethod: 'CHALLENGE' } }));
    return peer;
  }

  /** The peer's AUTH 0x18 answering a challenge with `data`. */
  function answer(peer: Peer, data: string): void {
    peer.send({
      type: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: { authenticationMethod: 'CHALLENGE', authenticationData: Buffer.from(data) },
    });
  }

  /** A peer through the AUTH exchange with the right answer, its CONNACK taken. */
  async function authenticated(bench: Bench): Promise<Peer> {
    const peer = challenged(bench);
    await peer.expect('auth');
    answer(peer, 'right');
    await peer.expect('connack');
    return peer;
  }

  /** AUTH 0x19: the peer starts a re-authentication with `method`. */
  function reauthenticate(peer: Peer, method = 'CHALLENGE'): void {
    peer.send({ type: 'auth', reasonCode: ReasonCode.ReAuthenticate, properties: { authenticationMethod: method } });
  }

  test('[MQTT-4.12.0-1] an Authentication Method the server does not support gets CONNACK 0x8C and a close', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const peer = bench.peer(5);
    const connack = await peer.connect({ clientId: 'm', properties: { authenticationMethod: 'UNKNOWN' } });
    assert.equal(connack.reasonCode, ReasonCode.BadAuthenticationMethod);
    await peer.waitClosed();
  });

  test('[MQTT-4.12.0-2] [MQTT-4.12.0-5] [MQTT-3.15.2-1] the AUTH exchange: AUTH 0x18 with the method, then CONNACK 0x00 carrying the method', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const peer = challenged(bench);
    const challenge = await peer.expect('auth');
    assert.equal(challenge.reasonCode, ReasonCode.ContinueAuthentication);
    assert.equal(challenge.properties?.authenticationMethod, 'CHALLENGE');
    assert.equal(challenge.properties?.authenticationData?.toString(), 'nonce');
    answer(peer, 'right');
    const connack = await peer.expect('connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, 'CHALLENGE');
  });

  test('[MQTT-4.12.0-4] a failed AUTH exchange gets a refusing CONNACK (0x87) and a close', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const peer = challenged(bench);
    await peer.expect('auth');
    answer(peer, 'wrong');
    const connack = await peer.expect('connack');
    assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
    await peer.waitClosed();
  });

  test('[MQTT-3.1.2-30] a PUBLISH sent during the AUTH exchange is refused (CONNACK 0x82) and never delivered', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const watcher = await bench.connected('w');
    await watcher.subscribe('early/#', 0);
    const peer = challenged(bench);
    await peer.expect('auth');
    peer.publish({ topic: 'early/x', payload: Buffer.from('x') });
    const connack = await peer.expect('connack');
    assert.equal(connack.reasonCode, ReasonCode.ProtocolError);
    await peer.waitClosed();
    await watcher.expectNothing();
  });

  test('[MQTT-4.12.1-1] re-authentication with AUTH 0x19 and the same method succeeds with AUTH 0x00; the connection keeps working', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const peer = await authenticated(bench);
    reauthenticate(peer);
    assert.equal((await peer.expect('auth')).reasonCode, ReasonCode.ContinueAuthentication);
    peer.send({ type: 'pingreq' });
    await peer.expect('pingresp');
    answer(peer, 'right');
    const done = await peer.expect('auth');
    assert.equal(done.reasonCode, 0);
    assert.equal(done.properties?.authenticationMethod, 'CHALLENGE');
  });

  test('[MQTT-4.12.1-2] a failed re-authentication gets DISCONNECT with a reason code >= 0x80 and a close', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const peer = await authenticated(bench);
    reauthenticate(peer);
    await peer.expect('auth');
    answer(peer, 'wrong');
    const disconnect = await peer.expect('disconnect');
    assert.ok((disconnect.reasonCode ?? 0) >= 0x80);
    await peer.waitClosed();
  });

  test('[MQTT-4.12.1-1] re-authentication with another Authentication Method is a Protocol Error: DISCONNECT 0x82', async (t) => {
    const bench = await Bench.open(t, { hooks: challengeHooks() });
    const peer = await authenticated(bench);
    reauthenticate(peer, 'OTHER');
    await peer.expectDisconnect(ReasonCode.ProtocolError);
  });
});
