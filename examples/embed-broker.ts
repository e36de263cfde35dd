// Embedding Starling's broker in an application: a TCP listener, a hook that refuses and rewrites messages,
// events, and a graceful shutdown on Ctrl-C.
//
//   node dist/examples/embed-broker.js            (listens on 127.0.0.1:1883, or PORT)
//   mosquitto_sub -t 'sensors/#' -v   and   mosquitto_pub -t sensors/t1 -m 21.5

import { pathToFileURL } from 'node:url';
import { Broker, createLogger, ReasonCode } from '../src/index.js';

export async function startEmbeddedBroker(port: number): Promise<{ broker: Broker; port: number }> {
  const broker = new Broker({
    logger: createLogger('warn'),
    hooks: {
      // Runs for every inbound message, before routing: refuse or change it in place.
      onPublish({ client, message }) {
        if (message.topic.startsWith('admin/')) {
          return { reasonCode: ReasonCode.NotAuthorized, reasonString: 'admin/ is read-only' };
        }
        if (message.topic.startsWith('sensors/')) {
          message.properties = { ...message.properties, userProperties: [['via', client?.clientId ?? 'app']] };
        }
        return undefined;
      },
    },
  });
  await broker.start();

  // A TCP listener on the loopback interface, where anonymous clients are accepted. broker.handle(stream) serves
  // any other Duplex (a TLS socket, a WebSocket stream, an in-memory pair) the same way.
  const listener = await broker.listen({ host: '127.0.0.1', port });
  const bound = listener.address().port;

  // The application publishes too, like any client.
  await broker.publish({ topic: 'admin/status', payload: 'up', retain: true, qos: 1 });
  return { broker, port: bound };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { broker, port } = await startEmbeddedBroker(Number(process.env.PORT ?? 1883));
  console.log(`Starling broker on mqtt://127.0.0.1:${port}`);
  // Typed events: the compiler knows each listener's argument.
  broker.on('clientConnected', (c) => console.log(`connected: ${c.clientId} (MQTT ${c.protocolVersion})`));
  broker.on('clientDisconnected', (c) => console.log(`disconnected: ${c.clientId}`));
  const stop = async (): Promise<void> => {
    await broker.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
