import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConnectEvent, DisconnectEvent, PublishEvent, PublishedEvent } from '../../src/broker/hooks.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { connected, delay, useBrokers } from './helpers.js';

describe('hooks and events', () => {
  const broker = useBrokers();

  test('onPublish may change a message or refuse it; onPublished observes; onConnect/onDisconnect see clients', async () => {
    const connects: ConnectEvent[] = [];
    const disconnects: DisconnectEvent[] = [];
    const published: PublishedEvent[] = [];
    const b = await broker({
      hooks: {
        onConnect: (e: ConnectEvent) => connects.push(e),
        onDisconnect: (e: DisconnectEvent) => disconnects.push(e),
        onPublish: (e: PublishEvent) => {
          if (e.message.topic === 'blocked') return { reasonCode: ReasonCode.QuotaExceeded, reasonString: 'no' };
          e.message.payload = Buffer.from(e.message.payload.toString().toUpperCase());
          return undefined;
        },
        onPublished: (e: PublishedEvent) => published.push(e),
        onSubscribe: (e: { subscription: { topicFilter: string } }) =>
          e.subscription.topicFilter === 'nope' ? ReasonCode.NotAuthorized : undefined,
      },
    });
    const events: string[] = [];
    b.on('clientConnected', (c) => events.push(`+${c.clientId}`));
    b.on('clientDisconnected', (c) => events.push(`-${c.clientId}`));
    const sub = await connected(b, 'hsub');
    assert.deepEqual(await sub.subscribe('nope', 0), [ReasonCode.NotAuthorized]);
    await sub.subscribe('h', 0);
    const pub = await connected(b, 'hpub', 5, { username: 'alice' });
    pub.publish({ topic: 'h', payload: Buffer.from('quiet') });
    assert.equal((await sub.expect('publish')).payload.toString(), 'QUIET');
    pub.publish({ topic: 'blocked', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    const ack = await pub.expect('puback');
    assert.equal(ack.reasonCode, ReasonCode.QuotaExceeded);
    assert.equal(ack.properties?.reasonString, 'no');
    assert.equal(published.length, 1);
    assert.equal(published[0].client?.clientId, 'hpub');
    assert.equal(published[0].deliveries, 1);
    assert.deepEqual(
      connects.map((c) => [c.client.clientId, c.client.username]),
      [
        ['hsub', undefined],
        ['hpub', 'alice'],
      ],
    );
    pub.destroy();
    await delay(5);
    assert.equal(disconnects[0]?.client.clientId, 'hpub');
    assert.deepEqual(events, ['+hsub', '+hpub', '-hpub']);
  });

  test('[MQTT-3.4.2-1] [MQTT-3.9.3-2] a hook reason code the acknowledgement cannot carry is sent as 0x80', async () => {
    const b = await broker({
      hooks: {
        // 0x8E Session taken over and 0x95 Packet too large exist, but not in PUBACK/PUBREC or SUBACK.
        onPublish: (e: PublishEvent) => (e.message.topic === 'odd' ? { reasonCode: 0x8e } : undefined),
        onSubscribe: (e: { subscription: { topicFilter: string } }) =>
          e.subscription.topicFilter === 'odd' ? 0x95 : undefined,
      },
    });
    const client = await connected(b, 'odd-hooks');
    assert.deepEqual(await client.subscribe('odd', 1), [ReasonCode.UnspecifiedError]);
    assert.deepEqual(await client.subscribe('fine', 1), [1]);
    client.publish({ topic: 'odd', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    assert.equal((await client.expect('puback')).reasonCode, ReasonCode.UnspecifiedError);
    client.publish({ topic: 'odd', payload: Buffer.from('x'), qos: 2, packetId: 2 });
    assert.equal((await client.expect('pubrec')).reasonCode, ReasonCode.UnspecifiedError);
    client.publish({ topic: 'fine', payload: Buffer.from('y'), qos: 1, packetId: 3 });
    const both = [await client.next(), await client.next()];
    const ack = both.find((p) => p.type === 'puback');
    const delivered = both.find((p) => p.type === 'publish');
    assert.equal(ack?.type === 'puback' ? (ack.reasonCode ?? 0) : -1, 0);
    assert.equal(delivered?.type === 'publish' ? delivered.payload.toString() : '', 'y');
  });

  test('Broker.publish routes an application message to subscribers, retained included', async () => {
    const b = await broker();
    const sub = await connected(b, 'app');
    await sub.subscribe('app/#', 1);
    await b.publish({
      topic: 'app/x',
      payload: 'from the app',
      qos: 1,
      retain: true,
      properties: { contentType: 'text/plain' },
    });
    const msg = await sub.expect('publish');
    assert.equal(msg.payload.toString(), 'from the app');
    assert.equal(msg.properties?.contentType, 'text/plain');
    assert.equal(b.stats.retained, 1);
  });
});
