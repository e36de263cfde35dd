// Starling's MQTT client for browsers: the same API as index.ts over the browser's WebSocket
// (ws:// and wss:// only). Nothing here imports a `node:` module of ours; the protocol layer uses
// Buffer, so the bundle needs the `buffer` package as the global Buffer, and an alias of
// `node:buffer` to it (the decoder imports `isUtf8` from there).

import { MqttClient as CoreClient } from './client.js';
import type { ClientOptions } from './options.js';
import { webSocketTransportFactory } from './transport-websocket.js';

export * from './api.js';

/** The client, over the global WebSocket unless `options.transport` brings another. */
export class MqttClient extends CoreClient {
  constructor(url: string, options: ClientOptions = {}) {
    super(url, { ...options, transport: options.transport ?? webSocketTransportFactory() });
  }
}

/**
 * Connects over ws:// or wss:// and resolves once the server accepted the connection (CONNACK),
 * retrying while the server cannot be reached, as index.ts's connect() does.
 */
export async function connect(url: string, options: ClientOptions = {}): Promise<MqttClient> {
  const client = new MqttClient(url, options);
  await client.connect();
  return client;
}
