// What both client entry points export (index.ts for Node, browser.ts for browsers), apart from
// MqttClient and connect(), which each entry point binds to its transports.

export { MqttError } from '../protocol/errors.js';
export { ReasonCode } from '../protocol/reason-codes.js';
export type { ReconnectOptions } from './backoff.js';
export type { RetryInitialConnectOptions } from './initial-connect.js';
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
