import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connected, useBrokers } from './helpers.js';

describe('shared subscriptions', () => {
  const broker = useBrokers();

  test('[MQTT-4.8.2-3] each message goes to one member of the group, round robin, at its granted QoS', async () => {
    const b = await broker();
    const members = [await connected(b, 'm1'), await connected(b, 'm2'), await connected(b, 'm3')];
    for (const m of members) await m.subscribe('$share/workers/jobs/+', 1);
    const plain = await connected(b, 'plain');
    await plain.subscribe('jobs/+', 0);
    for (let i = 0; i < 9; i++) await b.publish({ topic: 'jobs/a', payload: String(i), qos: 1 });
    const counts: number[] = [];
    for (const m of members) {
      let n = 0;
      for (let i = 0; i < 3; i++) {
        const msg = await m.expect('publish');
        m.send({ type: 'puback', packetId: msg.packetId! });
        n++;
      }
      await m.expectNothing(10);
      counts.push(n);
    }
    assert.deepEqual(counts, [3, 3, 3]);
    for (let i = 0; i < 9; i++) await plain.expect('publish');
  });

  test('two groups on one filter each get every message once', async () => {
    const b = await broker();
    const a = await connected(b, 'ga');
    await a.subscribe('$share/a/t', 0);
    const c = await connected(b, 'gb');
    await c.subscribe('$share/b/t', 0);
    await b.publish({ topic: 't', payload: 'x' });
    await a.expect('publish');
    await c.expect('publish');
  });

  test('the unacknowledged messages of a leaving member are re-delivered to the group', async () => {
    const b = await broker();
    const leaver = await connected(b, 'leaver');
    await leaver.subscribe('$share/g/work', 1);
    const stayer = await connected(b, 'stayer');
    await stayer.subscribe('$share/g/work', 1);
    await b.publish({ topic: 'work', payload: 'first', qos: 1 });
    await b.publish({ topic: 'work', payload: 'second', qos: 1 });
    const toLeaver = await leaver.expect('publish');
    const toStayer = await stayer.expect('publish');
    stayer.send({ type: 'puback', packetId: toStayer.packetId! });
    leaver.destroy();
    const redelivered = await stayer.expect('publish');
    assert.equal(redelivered.payload.toString(), toLeaver.payload.toString());
  });

  test('shared subscriptions get no retained messages on subscribe', async () => {
    const b = await broker();
    await b.publish({ topic: 'sr', payload: 'kept', retain: true });
    const member = await connected(b, 'sr-member');
    await member.subscribe('$share/g/sr', 0);
    await member.expectNothing();
  });

  test('a shared subscription is removed by UNSUBSCRIBE with the full $share filter', async () => {
    const b = await broker();
    const member = await connected(b, 'unsh');
    await member.subscribe('$share/g/u', 0);
    member.send({ type: 'unsubscribe', packetId: 2, topicFilters: ['$share/g/u'] });
    assert.deepEqual((await member.expect('unsuback')).reasonCodes, [0]);
    assert.equal(b.stats.subscriptions, 0);
  });

  test('[MQTT-4.8.2-4] a QoS 2 shared delivery stays with its member and is completed when it reconnects', async () => {
    const b = await broker();
    const options = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connected(b, 'q2-member', 5, options);
    await first.subscribe('$share/g/q2', 2);
    const other = await connected(b, 'q2-other');
    await other.subscribe('$share/g/q2', 2);
    await b.publish({ topic: 'q2', payload: 'exactly once', qos: 2 });
    // Round robin starts with the first member to subscribe.
    const sent = await first.expect('publish');
    assert.equal(sent.qos, 2);
    first.destroy();
    await other.expectNothing(50);
    const back = await connected(b, 'q2-member', 5, options);
    const msg = await back.expect('publish');
    assert.equal(msg.dup, true);
    assert.equal(msg.packetId, sent.packetId);
    assert.equal(msg.payload.toString(), 'exactly once');
  });

  test('[MQTT-4.8.2-6] a failure PUBACK to a shared delivery discards the message: no other member gets it', async () => {
    const b = await broker();
    const refuser = await connected(b, 'refuser');
    await refuser.subscribe('$share/g/r', 1);
    const other = await connected(b, 'other-member');
    await other.subscribe('$share/g/r', 1);
    await b.publish({ topic: 'r', payload: 'no thanks', qos: 1 });
    const msg = await refuser.expect('publish');
    refuser.send({ type: 'puback', packetId: msg.packetId!, reasonCode: 0x80 });
    refuser.destroy();
    await other.expectNothing();
  });
});
