// Conformance cases from the broker audit (findings F1 to F6), each fixed in src/broker/.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthResult, BrokerHooks } from '../../src/broker/hooks.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, delay } from './raw-client.js';

describe('MQTT 5.0 audit findings', { concurrency: true }, () => {
  // F1
  test('[MQTT-3.3.4-9] [MQTT-4.9.0-2] on resume, re-sent PUBLISH packets stay within the new connection Receive Maximum', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('rm', 5, { properties: { sessionExpiryInterval: 60, receiveMaximum: 3 } });
    await sub.subscribe('rm/t', 1);
    const pub = await bench.connected('pub');
    for (let i = 1; i <= 3; i++) pub.publish({ topic: 'rm/t', qos: 1, packetId: i, payload: Buffer.from(`${i}`) });
    for (let i = 1; i <= 3; i++) await sub.expect('publish');
    sub.destroy();
    await delay(20);
    const again = bench.peer(5);
    await again.connect({ clientId: 'rm', clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 1 } });
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await again.expect('publish');
      got.push(`${m.payload}`);
      await again.expectNothing(50); // the window of one is full until the PUBACK
      again.send({ type: 'puback', packetId: m.packetId ?? 0 });
    }
    assert.deepEqual(got, ['1', '2', '3']);
  });

  // F6
  test('[MQTT-4.4.0-1] [MQTT-4.3.2-3] the only member of a share group keeps its unacknowledged and queued messages across a reconnect', async (t) => {
    const bench = await Bench.open(t);
    const props = { sessionExpiryInterval: 60, receiveMaximum: 1 };
    const member = await bench.connected('solo', 5, { properties: props });
    await member.subscribe('$share/g/solo/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'solo/t', qos: 1, packetId: 1, payload: Buffer.from('one') });
    pub.publish({ topic: 'solo/t', qos: 1, packetId: 2, payload: Buffer.from('two') });
    await pub.expect('puback');
    await pub.expect('puback');
    assert.equal((await member.expect('publish')).payload.toString(), 'one'); // 'two' waits behind Receive Maximum 1
    member.destroy();
    await delay(50);
    const again = bench.peer(5);
    const connack = await again.connect({ clientId: 'solo', clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(connack.sessionPresent, true);
    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await again.expect('publish');
      got.push(m.payload.toString());
      again.send({ type: 'puback', packetId: m.packetId ?? 0 });
    }
    assert.deepEqual(got, ['one', 'two']);
  });

  // F5
  test('[MQTT-3.1.2-25] a re-sent message too large for the new Maximum Packet Size is discarded as if sent, not left in flight', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('big', 5, { properties: { sessionExpiryInterval: 60, receiveMaximum: 1 } });
    await sub.subscribe('big/t', 1);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'big/t', qos: 1, packetId: 1, payload: Buffer.alloc(200, 1) });
    await sub.expect('publish'); // never acknowledged
    sub.destroy();
    await delay(20);
    const again = bench.peer(5);
    await again.connect({
      clientId: 'big',
      clean: false,
      properties: { sessionExpiryInterval: 60, receiveMaximum: 1, maximumPacketSize: 100 },
    });
    pub.publish({ topic: 'big/t', qos: 1, packetId: 2, payload: Buffer.from('small') });
    // The 200-byte message cannot be re-sent; it must not hold the only window slot forever.
    const m = await again.expect('publish');
    assert.equal(m.payload.toString(), 'small');
  });

  // F2
  test('[MQTT-3.1.4-5] [MQTT-3.1.2-24] a CONNACK that would exceed the client Maximum Packet Size is shortened or the connection closed, never dropped silently', async (t) => {
    const bench = await Bench.open(t);
    const peer = bench.peer(5);
    peer.send(peer.connectPacket({ clientId: 'b', properties: { maximumPacketSize: 8 } }));
    await delay(200);
    const answered = peer.bytes.length > 0 && peer.bytes.length <= 8;
    assert.ok(answered || peer.closed, 'the client is neither answered nor let go');
  });

  // F3
  test('[MQTT-3.8.4-1] [MQTT-3.1.2-24] a SUBACK that would exceed the client Maximum Packet Size does not leave the SUBSCRIBE unanswered on an open connection', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('a', 5, { properties: { maximumPacketSize: 16 } });
    const before = peer.bytes.length;
    peer.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: Array.from({ length: 20 }, (_, i) => ({ topicFilter: `t/${i}`, qos: 0 as const })),
    });
    await delay(200);
    const answered = peer.bytes.length > before;
    assert.ok(answered || peer.closed, 'SUBSCRIBE neither answered nor the connection closed');
    if (answered) assert.ok(peer.bytes.length - before <= 16);
  });

  // F3
  test('[MQTT-3.10.4-4] [MQTT-3.1.2-24] an UNSUBACK that would exceed the client Maximum Packet Size does not leave the UNSUBSCRIBE unanswered on an open connection', async (t) => {
    const bench = await Bench.open(t);
    const peer = await bench.connected('a', 5, { properties: { maximumPacketSize: 16 } });
    const before = peer.bytes.length;
    peer.send({ type: 'unsubscribe', packetId: 1, topicFilters: Array.from({ length: 20 }, (_, i) => `t/${i}`) });
    await delay(200);
    const answered = peer.bytes.length > before;
    assert.ok(answered || peer.closed, 'UNSUBSCRIBE neither answered nor the connection closed');
    if (answered) assert.ok(peer.bytes.length - before <= 16);
  });

  // F4
  test('4.12.1 an AUTH 0x18 after CONNACK with no re-authentication in progress is a Protocol Error: DISCONNECT 0x82', async (t) => {
    const hooks: BrokerHooks = {
      onAuth: (event): AuthResult | undefined => {
        if (event.step === 'connect' || event.step === 'reauthenticate')
          return { action: 'continue', data: Buffer.from('n') };
        return event.data?.toString() === 'right' ? { action: 'success' } : { action: 'fail' };
      },
    };
    const bench = await Bench.open(t, { hooks });
    const peer = bench.peer(5);
    peer.send(peer.connectPacket({ clientId: 'a', properties: { authenticationMethod: 'M' } }));
    await peer.expect('auth');
    const answer = { authenticationMethod: 'M', authenticationData: Buffer.from('right') };
    peer.send({ type: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: answer });
    assert.equal((await peer.expect('connack')).reasonCode, 0);
    peer.send({ type: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: answer });
    await peer.expectDisconnect(ReasonCode.ProtocolError);
  });
});
