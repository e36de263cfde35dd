// Starling's MQTT client for Node.js: `import { connect } from 'starling/client'`.
// mqtt:// and mqtts:// over TCP and TLS, ws:// and wss:// over the `ws` package. Browsers use
// browser.ts, which has the same API over the browser's WebSocket.
//
//   const client = await connect('mqtt://127.0.0.1:1883', { protocolVersion: 5, sessionExpiryInterval: 60 });
//   client.on('message', (m) => console.log(m.topic, m.payload.toString()));
//   await client.subscribe('sensors/#', { qos: 1 });           // resolves with the granted codes
//   await client.publish('sensors/t1', '21.5', { qos: 2 });     // resolves on PUBCOMP, rejects with MqttError
//   for await (const m of client.messages()) { ... }           // bounded stream, oldest dropped beyond it
//   const reply = await client.request('svc/time', 'now?');    // MQTT 5 response topic + correlation data
//   await client.end();                                        // DISCONNECT, no more reconnects
//
// Every failure is an MqttError with the reason code (the server's, when it refused).

import { MqttClient as CoreClient } from './client.js';
import type { ClientOptions } from './options.js';
import { nodeTransportFactory } from './transport-node.js';

export * from './api.js';

/** The client, with the Node transports unless `options.transport` brings another. */
export class MqttClient extends CoreClient {
  constructor(url: string, options: ClientOptions = {}) {
    super(url, { ...options, transport: options.transport ?? nodeTransportFactory });
  }
}

/**
 * Connects to an MQTT server at `url` (mqtt://, mqtts://, ws://, wss://) and resolves once the
 * server accepted the connection (CONNACK). While the server cannot be reached it keeps trying
 * (see `retryInitialConnect`); rejects with an MqttError carrying the reason code when the server
 * refuses for a reason retrying cannot fix, the TLS certificate does not verify, or the limits run out.
 */
export async function connect(url: string, options: ClientOptions = {}): Promise<MqttClient> {
  const client = new MqttClient(url, options);
  await client.connect();
  return client;
}
