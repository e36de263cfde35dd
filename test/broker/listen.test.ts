import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { Broker } from '../../src/broker/broker.js';

test('Broker.listen serves TCP on 127.0.0.1 and close() stops the listener', async () => {
  const broker = new Broker({ sysIntervalSeconds: 0 });
  await broker.start();
  const listener = await broker.listen({ port: 0 });
  const { host, port } = listener.address();
  assert.equal(host, '127.0.0.1');
  assert.equal(listener.loopbackOnly, true);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'via-listen', reconnectPeriod: 0 });
  try {
    const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
    await client.subscribeAsync('listen/t', { qos: 1 });
    await broker.publish({ topic: 'listen/t', payload: 'served', qos: 1 });
    assert.equal(await got, 'served');
  } finally {
    client.end(true);
    await broker.close();
  }
  await assert.rejects(mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 500 }));
});
