import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { encode } from '../../src/protocol/encoder.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { connected, RawClient, startBroker } from './helpers.js';

describe('bad input', () => {
  const brokers: Broker[] = [];
  after(async () => {
    for (const b of brokers) await b.close();
  });

  test('[MQTT-4.13.1-1] a malformed packet closes only its connection (DISCONNECT 0x81 on 5.0)', async () => {
    const b = await startBroker();
    brokers.push(b);
    const bystander = await connected(b, 'bystander');
    await bystander.subscribe('still/#', 0);
    const bad = await connected(b, 'bad');
    // PUBLISH QoS 0 whose topic length runs past the packet.
    bad.sendRaw([0x30, 0x03, 0x00, 0x09, 0x61]);
    assert.equal((await bad.expect('disconnect')).reasonCode, ReasonCode.MalformedPacket);
    await bad.waitClosed();
    const bad4 = await connected(b, 'bad4', 4);
    bad4.sendRaw([0x30, 0x03, 0x00, 0x09, 0x61]);
    await bad4.waitClosed();
    assert.equal(bad4.received.length, 0);
    await b.publish({ topic: 'still/here', payload: 'ok' });
    assert.equal((await bystander.expect('publish')).topic, 'still/here');
  });

  test('random bytes, before and after CONNECT, never crash the broker nor disturb other clients', async () => {
    const b = await startBroker({ connectTimeoutMs: 500 });
    brokers.push(b);
    const bystander = await connected(b, 'calm');
    await bystander.subscribe('calm', 0);
    const connect = encode(
      { type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepAlive: 0, clientId: 'fz' },
      5,
    );
    const clients: RawClient[] = [];
    for (let i = 0; i < 200; i++) {
      const client = new RawClient(b, 5);
      if (i % 2 === 0) client.sendRaw(connect);
      client.sendRaw(randomBytes(1 + (i % 64)));
      clients.push(client);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    await b.publish({ topic: 'calm', payload: 'fine' });
    assert.equal((await bystander.expect('publish')).payload.toString(), 'fine');
    for (const c of clients) c.destroy();
  });

  test('a client sending server-only packets is disconnected with 0x82', async () => {
    const b = await startBroker();
    brokers.push(b);
    const client = await connected(b, 'server-only');
    client.send({ type: 'suback', packetId: 1, reasonCodes: [0] });
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('[MQTT-3.14.4-2] packets after a DISCONNECT in the same chunk are not processed', async () => {
    const b = await startBroker();
    brokers.push(b);
    const sub = await connected(b, 'after-sub');
    await sub.subscribe('after', 0);
    const pub = await connected(b, 'after-pub');
    const disconnect = encode({ type: 'disconnect' }, 5);
    const publish = encode(
      { type: 'publish', topic: 'after', payload: Buffer.from('late'), qos: 0, retain: false, dup: false },
      5,
    );
    pub.sendRaw(Buffer.concat([disconnect, publish]));
    await pub.waitClosed();
    await sub.expectNothing();
  });
});
