export { createListener, isLoopbackHost } from './listener.js';
export { readTlsContext } from './tls.js';
export type {
  AcceptConnection,
  ConnectionMeta,
  Listener,
  ListenerConfig,
  ListenerProtocol,
  ListenerStats,
  TlsFiles,
} from './types.js';
export { WebSocketStream } from './websocket-stream.js';
