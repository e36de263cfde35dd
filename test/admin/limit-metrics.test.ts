import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { createMetricsRegistry } from '../../src/admin/metrics.js';
import { Broker } from '../../src/broker/broker.js';

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

test('a subscription refused by maxSubscriptionsPerClient shows in starling_subscriptions_refused_total', async () => {
  const broker = new Broker({ sysIntervalSeconds: 0, maxSubscriptionsPerClient: 1 });
  await broker.start();
  const server = createServer((s) => broker.handle(s, { loopbackOnly: true, remoteAddress: s.remoteAddress }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const registry = createMetricsRegistry(broker);
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 });
  try {
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    assert.equal(sample(await registry.metrics(), 'starling_subscriptions_refused_total'), 0);
    await client.subscribeAsync('first/topic', { qos: 1 });
    // mqtt.js rejects a SUBACK failure code; the code is on the packet it carries.
    await assert.rejects(
      client.subscribeAsync('second/topic', { qos: 1 }),
      (error: { packet?: { granted?: number[] } }) => {
        assert.deepEqual(error.packet?.granted, [0x97], 'SUBACK 0x97 Quota exceeded beyond the limit');
        return true;
      },
    );
    assert.equal(sample(await registry.metrics(), 'starling_subscriptions_refused_total'), 1);
  } finally {
    await client.endAsync();
    await broker.close();
    server.close();
  }
});
