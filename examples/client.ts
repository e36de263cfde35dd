// Starling's MQTT client in an application: connect, subscribe, publish at each QoS, read messages
// with for-await, ask a question with request/response, and leave cleanly.
//
//   node dist/examples/client.js [mqtt://127.0.0.1:1883]     (any MQTT 5 broker; Starling's or Mosquitto)

import { pathToFileURL } from 'node:url';
import { connect, type Message, MqttError, reasonText } from '../src/client/index.js';

export async function runClientExample(url: string, log: (line: string) => void = console.log): Promise<void> {
  const client = await connect(url, {
    protocolVersion: 5,
    keepalive: 30,
    // Reconnects with exponential backoff and jitter; unacknowledged messages are re-sent.
    reconnect: { initialDelay: 500, maxDelay: 10_000 },
    will: { topic: 'example/status', payload: 'gone', qos: 1, retain: true },
  });
  client.on('offline', () => log('offline: reconnecting'));
  await client.publish('example/status', 'online', { qos: 1, retain: true });

  // A service that answers requests: the Response Topic and Correlation Data come with each request.
  await client.subscribe('example/time', { qos: 1 });
  client.on('message', (message: Message) => {
    const { responseTopic, correlationData } = message.properties ?? {};
    if (message.topic === 'example/time' && responseTopic) {
      void client.publish(responseTopic, new Date(0).toISOString(), { qos: 1, properties: { correlationData } });
    }
  });

  // Readings, read with for-await from a bounded stream.
  const readings = client.messages();
  const granted = await client.subscribe('example/sensors/+', { qos: 2, subscriptionIdentifier: 1 });
  log(`subscribed, granted QoS ${granted.join(',')}`);
  for (const [qos, value] of [0, 1, 2].entries()) {
    // Resolves when the QoS flow is complete: written (0), PUBACK (1), PUBCOMP (2).
    await client.publish(`example/sensors/t${qos}`, `${20 + value}`, {
      qos: qos as 0 | 1 | 2,
      properties: { contentType: 'text/plain', userProperties: [['unit', 'celsius']] },
    });
  }
  let seen = 0;
  for await (const reading of readings) {
    if (!reading.topic.startsWith('example/sensors/')) continue;
    log(`${reading.topic} = ${reading.payload} (QoS ${reading.qos})`);
    if (++seen === 3) break;
  }

  const answer = await client.request('example/time', 'what time is it?', { qos: 1, timeout: 5000 });
  log(`the time service says ${answer.payload}`);

  try {
    await client.publish('example/+/invalid', 'wildcards are not allowed in topic names');
  } catch (error) {
    if (error instanceof MqttError) log(`refused: ${reasonText(error.reasonCode)}`);
  }

  await client.publish('example/status', 'offline', { qos: 1, retain: true });
  await client.end();
  log('done');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runClientExample(process.argv[2] ?? process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883').catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
