// Embedding Starling's broker in an application: a TCP listener, a hook that refuses and rewrites messages,
// events, and a graceful shutdown on Ctrl-C.
//
//   node dist/examples/embed-broker.js            (listens on 127.0.0.1:1883, or PORT)
//   mosquitto_sub -t 'sensors/#' -v   and   mosquitto_pub -t sensors/t1 -m 21.5

import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Broker, createLogger, ReasonCode } from '../src/index.js';

export async function startEmbeddedBroker(port: number): Promise<{ broker: Broker; server: Server; port: number }> {
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

  // Any Duplex will do; here plain TCP on the loopback interface, where anonymous clients are accepted.
  const server = createServer((socket) =>
    broker.handle(socket, { loopbackOnly: true, remoteAddress: socket.remoteAddress }),
  );
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const bound = address && typeof address === 'object' ? address.port : port;

  // The application publishes too, like any client.
  await broker.publish({ topic: 'admin/status', payload: 'up', retain: true, qos: 1 });
  return { broker, server, port: bound };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { broker, server, port } = await startEmbeddedBroker(Number(process.env.PORT ?? 1883));
  console.log(`Starling broker on mqtt://127.0.0.1:${port}`);
  // Typed events: the compiler knows each listener's argument.
  broker.on('clientConnected', (c) => console.log(`connected: ${c.clientId} (MQTT ${c.protocolVersion})`));
  broker.on('clientDisconnected', (c) => console.log(`disconnected: ${c.clientId}`));
  const stop = async (): Promise<void> => {
    server.close();
    await broker.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
