import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connected, useBrokers } from './helpers.js';

describe('$SYS topics', () => {
  const broker = useBrokers();

  test('the broker publishes Mosquitto-like $SYS/broker/... topics as retained messages, periodically', async () => {
    const b = await broker({ sysIntervalSeconds: 1, version: '9.9.9' });
    const client = await connected(b, 'sys');
    await client.subscribe('$SYS/#', 0);
    const seen = new Map<string, string>();
    for (let i = 0; i < 11; i++) {
      const msg = await client.expect('publish');
      assert.equal(msg.retain, true);
      seen.set(msg.topic, msg.payload.toString());
    }
    assert.equal(seen.get('$SYS/broker/version'), 'starling 9.9.9');
    for (const topic of [
      '$SYS/broker/uptime',
      '$SYS/broker/clients/connected',
      '$SYS/broker/messages/received',
      '$SYS/broker/messages/sent',
      '$SYS/broker/bytes/received',
      '$SYS/broker/bytes/sent',
      '$SYS/broker/subscriptions/count',
      '$SYS/broker/retained messages/count',
    ]) {
      assert.ok(seen.has(topic), `${topic} missing`);
    }
    assert.match(seen.get('$SYS/broker/uptime') ?? '', /^\d+ seconds$/);
    // The next period publishes fresh values: clients/connected counts this client.
    let connectedCount: string | undefined;
    for (let i = 0; i < 20 && connectedCount === undefined; i++) {
      const msg = await client.expect('publish', 2000);
      if (msg.topic === '$SYS/broker/clients/connected') connectedCount = msg.payload.toString();
    }
    assert.equal(connectedCount, '1');
  });

  test('sysIntervalSeconds 0 turns $SYS off', async () => {
    const b = await broker({ sysIntervalSeconds: 0 });
    const client = await connected(b, 'nosys');
    await client.subscribe('$SYS/#', 0);
    await client.expectNothing();
  });
});
