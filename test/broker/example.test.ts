import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../examples/embed-broker.js';

test('examples/embed-broker.ts runs: its hook refuses admin/ and tags sensors/ messages', async () => {
  const { broker, port } = await startEmbeddedBroker(0);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 5,
    clientId: 'ex',
    reconnectPeriod: 0,
  });
  try {
    const got: mqtt.IPublishPacket[] = [];
    client.on('message', (_topic, _payload, packet) => got.push(packet));
    await client.subscribeAsync('#', { qos: 1 });
    await client.publishAsync('sensors/t1', '21.5', { qos: 1 });
    await assert.rejects(client.publishAsync('admin/x', 'no', { qos: 1 }));
    const deadline = Date.now() + 2000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const topics = got.map((p) => p.topic).sort();
    assert.deepEqual(topics, ['admin/status', 'sensors/t1']);
    const sensor = got.find((p) => p.topic === 'sensors/t1');
    assert.deepEqual({ ...sensor?.properties?.userProperties }, { via: 'ex' });
  } finally {
    client.end(true);
    await broker.close();
  }
});
