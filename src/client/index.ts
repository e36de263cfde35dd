// Starling's MQTT client: `import { connect } from 'starling/client'`.

import { MqttClient } from './client.js';
import type { ClientOptions } from './options.js';

export { MqttError } from '../protocol/errors.js';
export { ReasonCode } from '../protocol/reason-codes.js';
export type { ReconnectOptions } from './backoff.js';
export { MqttClient } from './client.js';
export type { MessageStream } from './message-stream.js';
export type { AuthChallenge, ClientOptions, Payload, WillOptions } from './options.js';
export { parseUrl } from './options.js';
export { reasonText } from './reason-text.js';
export type {
  TlsOptions,
  Transport,
  TransportFactory,
  TransportHandlers,
  TransportProtocol,
  TransportTarget,
} from './transport.js';
export type {
  ClientEvents,
  ClientState,
  ConnectInfo,
  EndOptions,
  Message,
  PublishOptions,
  RequestOptions,
  SubscribeOptions,
  UnsubscribeOptions,
} from './types.js';

/**
 * Connects to an MQTT server at `url` (mqtt://, mqtts://, ws://, wss://) and resolves once the
 * server accepted the connection (CONNACK). Rejects with an MqttError carrying the reason code when
 * the server refuses, or when it cannot be reached.
 */
export async function connect(url: string, options: ClientOptions = {}): Promise<MqttClient> {
  const client = new MqttClient(url, options);
  await client.connect();
  return client;
}
