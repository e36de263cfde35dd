import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { encode } from '../../src/protocol/encoder.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { createLogger } from '../../src/util/logger.js';
import { connected, RawClient, useBrokers } from './helpers.js';

describe('bad input', () => {
  const broker = useBrokers();

  test('[MQTT-4.13.1-1] a malformed packet closes only its connection (DISCONNECT 0x81 on 5.0)', async () => {
    const b = await broker();
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
    const b = await broker({ connectTimeoutMs: 500 });
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
    const b = await broker();
    const client = await connected(b, 'server-only');
    client.send({ type: 'suback', packetId: 1, reasonCodes: [0] });
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('[MQTT-3.14.4-2] packets after a DISCONNECT in the same chunk are not processed', async () => {
    const b = await broker();
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

  test('mutated valid packets after CONNECT never crash the broker (500 connections, fixed seed)', async () => {
    // Internal failures are logged at error level: there must be none, only protocol errors (info).
    const internalErrors: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        internalErrors.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('error', sink);
    const b = await broker({ connectTimeoutMs: 500, maxPacketSize: 4096, logger });
    const bystander = await connected(b, 'steady');
    await bystander.subscribe('steady', 0);
    const valid: Buffer[] = [
      encode({ type: 'subscribe', packetId: 7, subscriptions: [{ topicFilter: 'a/+/c', qos: 2, noLocal: true }] }, 5),
      encode(
        {
          type: 'publish',
          topic: 'a/b/c',
          payload: Buffer.from('payload'),
          qos: 1,
          retain: true,
          dup: false,
          packetId: 3,
          properties: { topicAlias: 1, userProperties: [['k', 'v']], messageExpiryInterval: 9 },
        },
        5,
      ),
      encode({ type: 'unsubscribe', packetId: 8, topicFilters: ['a/#'] }, 5),
      encode({ type: 'pubrel', packetId: 3 }, 5),
      encode({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'x' } }, 5),
      encode({ type: 'disconnect', reasonCode: 0x04, properties: { sessionExpiryInterval: 5 } }, 5),
    ];
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const clients: RawClient[] = [];
    for (let i = 0; i < 500; i++) {
      const client = new RawClient(b, 5);
      client.send({
        type: 'connect',
        protocolName: 'MQTT',
        protocolVersion: 5,
        clean: i % 2 === 0,
        keepAlive: 0,
        clientId: `fuzz-${i % 50}`,
        properties: { sessionExpiryInterval: i % 3 === 0 ? 10 : 0, topicAliasMaximum: 4 },
      });
      const packet = Buffer.from(valid[random(valid.length)]);
      for (let m = 0; m <= random(3); m++) packet[random(packet.length)] = random(256);
      client.sendRaw(packet);
      clients.push(client);
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    await b.publish({ topic: 'steady', payload: 'still here' });
    assert.equal((await bystander.expect('publish')).payload.toString(), 'still here');
    for (const c of clients) c.destroy();
    assert.deepEqual(internalErrors, []);
  });
});
