// Starling's public API (STYLE.md 13). Tests and tools may import internals; users import from here.

export { type AdminServer, type AdminServerOptions, startAdminServer } from './admin/index.js';
export { AclAuthorizer, PasswordFileAuthenticator } from './auth/index.js';
export {
  type AuthenticateRequest,
  type AuthenticateResult,
  type Authenticator,
  type Authorizer,
  allowAllAuthenticator,
  allowAllAuthorizer,
  type ClientIdentity,
  type ConnectionInfo,
} from './auth/types.js';
export {
  Broker,
  type BrokerConfig,
  type BrokerEvents,
  type BrokerOptions,
  BrokerStats,
  type ClientInfo,
  type ConnectionMeta,
} from './broker/broker.js';
export type {
  AuthEvent,
  AuthResult,
  BrokerHooks,
  ConnectEvent,
  DisconnectEvent,
  HookClient,
  PublishEvent,
  PublishedEvent,
  PublishRefusal,
  SubscribeEvent,
} from './broker/hooks.js';
export { type RunningBroker, type StartOptions, startBroker } from './cli/broker.js';
export { configSchema, loadConfig, type StarlingConfig } from './config/index.js';
export { MqttError } from './protocol/errors.js';
export type { Properties, ProtocolVersion, QoS, UserProperty } from './protocol/packets.js';
export { ReasonCode } from './protocol/reason-codes.js';
export { LmdbStore, type LmdbStoreOptions } from './store/lmdb/index.js';
export { MemoryStore } from './store/memory/index.js';
export type {
  InflightRecord,
  InflightState,
  QueuedMessage,
  SessionRecord,
  Store,
  StoredMessage,
  StoredWill,
  SubscriptionRecord,
} from './store/types.js';
export { VolatileStore } from './store/volatile/index.js';
export { createListener } from './transport/index.js';
export type { Listener, ListenerConfig, ListenerProtocol, ListenerStats, TlsFiles } from './transport/types.js';
export { type Clock, systemClock } from './util/clock.js';
export { createLogger, type Logger, type LogLevel, silentLogger } from './util/logger.js';
export { type EventMap, TypedEmitter } from './util/typed-emitter.js';
