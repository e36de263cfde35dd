import type { Duplex } from 'node:stream';
import { type Authenticator, type Authorizer, allowAllAuthenticator, allowAllAuthorizer } from '../auth/types.js';
import { encode } from '../protocol/encoder.js';
import type { Properties, QoS } from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { MemoryStore } from '../store/memory/index.js';
import type { Store, StoredWill } from '../store/types.js';
import { parseSharedFilter, RetainedTree } from '../topics/index.js';
import { createListener } from '../transport/listener.js';
import type { Listener, ListenerConfig } from '../transport/types.js';
import { type Clock, systemClock } from '../util/clock.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { Connection } from './connection.js';
import type { BrokerHooks, PublishedEvent } from './hooks.js';
import { KeepAliveSweep } from './keep-alive.js';
import { createMessage, dropForms, fromStored, type Message, messageBytes, ownPayload, toStored } from './message.js';
import {
  type BrokerConfig,
  type BrokerEvents,
  type BrokerOptions,
  type ClientInfo,
  type ConnectionMeta,
  resolveConfig,
} from './options.js';
import { Session, type SessionHost, type SessionSubscription } from './session.js';
import { type ReadCheck, type RouteResult, SubscriptionIndex } from './subscriptions.js';
import { SysTopics } from './sys.js';
import { Wills } from './wills.js';

export type { BrokerConfig, BrokerEvents, BrokerOptions, ClientInfo, ConnectionMeta };

const NO_LIMIT = 268_435_460;
const NEVER = 0xffffffff;
const MAX_TIMER_MS = 0x7fffffff;
/** CONNACK properties a client can do without, left out in this order when the CONNACK would be too large. */
const OPTIONAL_CONNACK_PROPERTIES = [
  'reasonString',
  'userProperties',
  'responseInformation',
  'topicAliasMaximum',
] as const;

/** Counters, plain integers (DESIGN.md). The counts of things are read from the structures that hold them. */
export class BrokerStats {
  clientsConnected = 0;
  messagesReceived = 0;
  messagesSent = 0;
  bytesReceived = 0;
  bytesSent = 0;
  droppedMessages = 0;
  /** SUBSCRIBE filters refused by maxSubscriptionsPerClient, maxTopicLength or maxTopicLevels. */
  subscriptionsRefused = 0;
  /** PUBLISH packets (and wills) refused by maxTopicLength or maxTopicLevels. */
  publishesRefused = 0;
  /** Retained messages not kept because of maxRetainedMessages or maxRetainedBytes. */
  retainedRefused = 0;
  /** CONNECTs refused by maxSessions or maxClientIdLength. */
  connectsRefused = 0;
  /** Times a connection's input was paused by maxPublishRate or maxBytesPerSecond. */
  inputThrottled = 0;
  /** Times a connection's input was paused because the client does not read what it is sent. */
  inputBlocked = 0;
  readonly #broker: Broker;

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  get subscriptions(): number {
    return this.#broker.subscriptions.size;
  }

  get retained(): number {
    return this.#broker.retained.size;
  }

  get sessions(): number {
    return this.#broker.sessions.size;
  }

  toJSON(): Record<string, number> {
    return {
      clientsConnected: this.clientsConnected,
      messagesReceived: this.messagesReceived,
      messagesSent: this.messagesSent,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      droppedMessages: this.droppedMessages,
      subscriptionsRefused: this.subscriptionsRefused,
      publishesRefused: this.publishesRefused,
      retainedRefused: this.retainedRefused,
      connectsRefused: this.connectsRefused,
      inputThrottled: this.inputThrottled,
      inputBlocked: this.inputBlocked,
      subscriptions: this.subscriptions,
      retained: this.retained,
      sessions: this.sessions,
    };
  }
}

/**
 * The MQTT broker, on one node: the composition root that owns sessions, the subscription index, the retained
 * messages and the store, and serves connections over any Duplex.
 */
export class Broker extends TypedEmitter<BrokerEvents> implements SessionHost {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly hooks: BrokerHooks;
  readonly stats: BrokerStats;
  /** Every session, connected or not, by client id. */
  readonly sessions = new Map<string, Session>();
  readonly subscriptions = new SubscriptionIndex();
  readonly retained = new RetainedTree<Message>();
  readonly connections = new Set<Connection>();
  /** Keep Alive for every connection, one timer. */
  readonly keepAlive: KeepAliveSweep;
  readonly limits: SessionHost['limits'];
  /** False when the authorizer is the allow-all default, so the hot path skips the calls. */
  readonly checkPublish: boolean;
  readonly checkSubscribe: boolean;
  readonly #readCheck: ReadCheck;
  readonly #wills: Wills;
  readonly #sys: SysTopics;
  readonly #route: RouteResult = { deliveries: 0, persisted: false };
  /** Hook mistakes already logged (see hookReasonCode). */
  readonly #hookMistakes = new Set<string>();
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  readonly #listeners: Listener[] = [];
  /** Bytes of the retained messages held (messageBytes), for maxRetainedBytes. */
  #retainedBytes = 0;

  constructor(options: BrokerOptions = {}) {
    super();
    this.config = resolveConfig(options);
    this.logger = options.logger ?? silentLogger();
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? new MemoryStore();
    this.authenticator = options.authenticator ?? allowAllAuthenticator;
    this.authorizer = options.authorizer ?? allowAllAuthorizer;
    this.hooks = options.hooks ?? {};
    this.stats = new BrokerStats(this);
    this.keepAlive = new KeepAliveSweep(this.clock);
    this.limits = {
      maxQueuedMessages: this.config.maxQueuedMessages,
      maxQueuedBytes: this.config.maxQueuedBytes,
      queueQos0Offline: this.config.queueQos0Offline,
    };
    const custom = this.authorizer !== allowAllAuthorizer;
    this.checkPublish = custom;
    this.checkSubscribe = custom;
    const authorizer = this.authorizer;
    this.#readCheck = custom
      ? (session, topic) => authorizer.canRead({ clientId: session.clientId, username: session.username }, topic)
      : undefined;
    this.#wills = new Wills(this);
    this.#sys = new SysTopics(this, this.config.sysIntervalSeconds);
  }

  /** Opens the store, loads sessions and retained messages, starts timers. Must be awaited before handle(). */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('Broker.start() may be called once');
    this.#state = 'starting';
    await this.store.open();
    await this.#load();
    this.#state = 'running';
    this.#sys.start();
  }

  /** Serves one MQTT connection over any Duplex (TCP, TLS, WebSocket stream, in-memory pair). */
  handle(stream: Duplex, meta: ConnectionMeta = {}): void {
    if (this.#state !== 'running') {
      stream.destroy();
      return;
    }
    this.connections.add(new Connection(this, stream, meta));
  }

  /**
   * Opens a listener (TCP by default; 'mqtts', 'ws' and 'wss' too) that serves its connections with handle().
   * Defaults: 127.0.0.1, port 1883 (0 picks a free port: see the returned listener's address()). Closed by close().
   */
  async listen(config: Partial<ListenerConfig> = {}): Promise<Listener> {
    if (this.#state !== 'running') throw new Error('Broker.listen() needs a started broker');
    const full: ListenerConfig = {
      name: config.name ?? `listener-${this.#listeners.length + 1}`,
      host: config.host ?? '127.0.0.1',
      port: config.port ?? 1883,
      protocol: config.protocol ?? 'mqtt',
      ...config,
    } as ListenerConfig;
    if ((full.protocol === 'ws' || full.protocol === 'wss') && full.ws?.maxPayload === undefined) {
      // One WebSocket message carries one packet or more: bound it by maxPacketSize, as the decoder does.
      full.ws = { ...full.ws, maxPayload: Math.max(this.config.maxPacketSize, 1024 * 1024) };
    }
    const listener = await createListener(full, (stream, meta) => this.handle(stream, meta), this.logger);
    this.#listeners.push(listener);
    return listener;
  }

  /** Graceful stop: MQTT 5 clients get DISCONNECT 0x8B, others are closed; the store is flushed and closed. */
  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closing';
    this.#sys.stop();
    this.keepAlive.stop();
    const listeners = this.#listeners.splice(0);
    for (const connection of [...this.connections]) {
      // 5.0 section 3.14.2.1: DISCONNECT 0x8B Server shutting down.
      if (connection.ready && connection.version === 5) connection.disconnect(ReasonCode.ServerShuttingDown);
      else connection.end(ReasonCode.ServerShuttingDown);
    }
    for (const session of this.sessions.values()) {
      if (session.expiryTimer) clearTimeout(session.expiryTimer);
      if (session.willTimer) clearTimeout(session.willTimer);
      session.expiryTimer = undefined;
      session.willTimer = undefined;
    }
    // Listeners stop accepting; the connections they still hold were told to go above.
    await Promise.all(listeners.map((listener) => listener.close().catch(() => undefined)));
    if (wasRunning) {
      await this.store.commit();
      await this.store.close();
    }
    this.#state = 'closed';
  }

  /** Publishes from the embedding application, routed like a client's message; resolves once committed. */
  async publish(message: {
    topic: string;
    payload: Buffer | string;
    qos?: QoS;
    retain?: boolean;
    properties?: Properties;
  }): Promise<void> {
    const payload = typeof message.payload === 'string' ? Buffer.from(message.payload) : Buffer.from(message.payload);
    const expiry = message.properties?.messageExpiryInterval;
    const routed = createMessage(
      message.topic,
      payload,
      message.qos ?? 0,
      message.retain ?? false,
      stripPerHop(message.properties),
      expiry === undefined ? undefined : this.clock.now() + expiry * 1000,
      undefined,
      true,
    );
    this.routeMessage(routed, undefined);
    await this.store.commit();
  }

  // ---- internal API used by Connection, handlers, Session, Wills and SysTopics ----

  now(): number {
    return this.clock.now();
  }

  dropped(_reason: 'queueFull' | 'expired' | 'tooLarge' | 'backpressure'): void {
    this.stats.droppedMessages++;
  }

  countDropped(): void {
    this.stats.droppedMessages++;
  }

  /**
   * A hook returned a reason code the packet it answers cannot carry: `fallback` is sent instead, and the
   * mistake is logged once per hook and code (hooks run per message: a log line each time would flood).
   */
  hookReasonCode(hook: 'onPublish' | 'onSubscribe', code: number, fallback: number): number {
    const key = `${hook}:${code}`;
    if (!this.#hookMistakes.has(key)) {
      this.#hookMistakes.add(key);
      this.logger.warn(
        { hook, reasonCode: code, sent: fallback },
        `the ${hook} hook returned reason code 0x${code.toString(16)}, which its acknowledgement cannot carry; 0x${fallback.toString(16)} is sent instead`,
      );
    }
    return fallback;
  }

  /** A failure that is the broker's, not a client's (e.g. the store cannot commit): emitted as 'error' when heard. */
  reportError(error: unknown): void {
    if (this.hasListeners('error')) this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  /** Routes a message: retained store first, then every matching session. The result object is reused. */
  routeMessage(message: Message, from: Connection | undefined): RouteResult {
    const result = this.#route;
    result.deliveries = 0;
    result.persisted = false;
    if (message.retain && this.config.retainAvailable) this.#retain(message, result);
    this.subscriptions.route(message, this.#readCheck, result);
    dropForms(message);
    const onPublished = this.hooks.onPublished;
    if (onPublished || this.hasListeners('published')) {
      // Observers may publish themselves, which reuses the result object: keep this message's outcome.
      const { deliveries, persisted } = result;
      const event: PublishedEvent = {
        client: from?.hookClient,
        topic: message.topic,
        payload: message.payload,
        qos: message.qos,
        retain: message.retain,
        properties: message.properties,
        deliveries: result.deliveries,
      };
      try {
        onPublished?.(event);
      } catch (error) {
        this.logger.error({ err: error }, 'onPublished hook failed');
      }
      this.emit('published', event);
      result.deliveries = deliveries;
      result.persisted = persisted;
    }
    return result;
  }

  /** Delivers the retained messages matching a new subscription (RETAIN=1 [MQTT-3.3.1-8]). */
  sendRetained(session: Session, subscription: SessionSubscription): void {
    const now = this.clock.now();
    const expired: string[] = [];
    const ids = subscription.subscriptionIdentifier === undefined ? undefined : [subscription.subscriptionIdentifier];
    const messages: Message[] = [];
    for (const [topic, message] of this.retained.match(subscription.filter)) {
      if (message.expiresAt !== undefined && message.expiresAt <= now) {
        expired.push(topic);
        continue;
      }
      if (this.#readCheck && !this.#readCheck(session, topic)) continue;
      messages.push(message);
    }
    for (const topic of expired) {
      this.#deleteRetained(topic);
      this.store.deleteRetained(topic);
    }
    // Sent as the socket drains, never dropped for backpressure [MQTT-3.3.1-9].
    session.startRetained(subscription.topicFilter, messages, subscription.qos, ids);
  }

  /** A retained $SYS message from the broker itself. */
  publishSys(topic: string, value: string): void {
    const message = createMessage(topic, Buffer.from(value), 0, true, undefined, undefined, undefined, true);
    this.routeMessage(message, undefined);
  }

  publishWill(clientId: string, username: string | undefined, will: StoredWill): void {
    const topic = will.topic;
    if (topic.startsWith('$SYS/') || topic === '$SYS') return;
    if (this.checkPublish && !this.authorizer.canPublish({ clientId, username }, topic, will.qos, will.retain)) return;
    const { messageExpiryInterval, ...rest } = will.properties ?? {};
    let properties: Properties | undefined = rest;
    if (Object.keys(rest).length === 0) properties = undefined;
    const message = createMessage(
      topic,
      will.payload,
      will.qos,
      will.retain,
      properties,
      messageExpiryInterval === undefined ? undefined : this.clock.now() + messageExpiryInterval * 1000,
      clientId,
      true,
    );
    this.routeMessage(message, undefined);
  }

  emitSubscribed(connection: Connection, subscription: SessionSubscription): void {
    if (!this.hasListeners('subscribed')) return;
    this.emit('subscribed', {
      clientId: connection.clientId,
      topicFilter: subscription.topicFilter,
      qos: subscription.qos,
    });
  }

  /** CONNECT accepted: take over or resume the session, send CONNACK, re-send what is unacknowledged. */
  acceptConnection(
    connection: Connection,
    options: { clean: boolean; sessionExpiry: number; keepAlive: number; connackProperties: Properties | undefined },
  ): void {
    if (this.#state !== 'running') {
      connection.refuse(ReasonCode.ServerUnavailable);
      return;
    }
    const properties = this.#connackProperties(connection, options.connackProperties);
    if (properties === null) {
      // [MQTT-3.1.2-24] no CONNACK fits the client's Maximum Packet Size: better closed than left waiting.
      this.logger.info({ clientId: connection.clientId }, 'closing connection: CONNACK exceeds Maximum Packet Size');
      connection.end(ReasonCode.PacketTooLarge);
      return;
    }
    const clientId = connection.clientId;
    if (options.sessionExpiry !== 0 && !this.sessions.has(clientId) && this.sessions.size >= this.config.maxSessions) {
      // A session that would outlive its connection beyond maxSessions: nobody else's session is dropped for it.
      this.stats.connectsRefused++;
      connection.refuse(ReasonCode.QuotaExceeded);
      return;
    }
    let session = this.sessions.get(clientId);
    const previous = session?.connection;
    if (previous && previous !== connection) {
      // [MQTT-3.1.4-3] session takeover: the existing connection is closed (5.0: DISCONNECT 0x8E).
      previous.takenOver = { clean: options.clean };
      previous.disconnect(ReasonCode.SessionTakenOver);
      session = this.sessions.get(clientId);
    }
    if (session && options.clean) {
      // [MQTT-3.1.2-4] Clean Start: discard the existing session (its pending will is published now).
      this.endSession(session, false);
      session = undefined;
    }
    let sessionPresent = false;
    if (session) {
      // [MQTT-3.1.2-5] resume; the delayed will is cancelled [MQTT-3.1.3-10].
      sessionPresent = true;
      this.#wills.settle(session, false);
      if (session.expiryTimer) clearTimeout(session.expiryTimer);
      session.expiryTimer = undefined;
      session.expiresAt = undefined;
    } else {
      session = new Session(clientId, connection.version, this);
      this.sessions.set(clientId, session);
    }
    const wasPersistent = session.persistent;
    session.protocolVersion = connection.version;
    session.username = connection.username;
    session.expiryInterval = options.sessionExpiry;
    session.connection = connection;
    connection.session = session;
    if (session.persistent) {
      if (!wasPersistent) session.persistAll();
      // The will is kept with the record while connected, so that a crash publishes it after a restart.
      this.store.putSession(connection.will ? { ...session.toRecord(), will: connection.will } : session.toRecord());
    } else if (wasPersistent) {
      // A restored queue still in the store is read first (below); its record goes after that.
      if (session.queueInStore) session.deferStoreDelete = true;
      else this.store.deleteSession(clientId);
    }
    connection.state = 'connected';
    connection.clearConnectTimer();
    connection.decoder.maximumPacketSize = this.config.maxPacketSize;
    connection.startThrottle();

    // [MQTT-3.2.0-1] CONNACK is the first packet the server sends; [MQTT-3.2.2-2] Session Present.
    connection.send({
      type: 'connack',
      sessionPresent: connection.version === 3 ? false : sessionPresent,
      reasonCode: 0,
      properties,
    });
    this.stats.clientsConnected++;
    session.resend();
    if (session.queueInStore) {
      // A session restored at start: its queue is read now that its client is back, then delivered in order.
      session.loadQueue().then(
        () => session.pump(),
        (error: unknown) => {
          this.logger.error({ err: error, clientId }, 'reading a queued session from the store failed');
          this.reportError(error);
          connection.disconnect(ReasonCode.UnspecifiedError);
        },
      );
    }
    session.pump();

    const info = this.#clientInfo(connection);
    this.emit('clientConnected', { ...info, sessionPresent });
    const onConnect = this.hooks.onConnect;
    if (onConnect && connection.hookClient) {
      try {
        onConnect({
          client: connection.hookClient,
          sessionPresent,
          cleanStart: options.clean,
          keepAlive: options.keepAlive,
        });
      } catch (error) {
        this.logger.error({ err: error, clientId }, 'onConnect hook failed');
      }
    }
    this.logger.debug({ clientId, sessionPresent, protocolVersion: connection.version }, 'client connected');
  }

  /**
   * The CONNACK properties (MQTT 5), within the client's Maximum Packet Size: what only repeats a default is not
   * sent, and optional properties are left out one by one when needed. Null when even that does not fit.
   */
  #connackProperties(connection: Connection, extra: Properties | undefined): Properties | undefined | null {
    if (connection.version !== 5) return undefined;
    const config = this.config;
    const properties: Properties = { ...extra };
    if (config.receiveMaximum !== 65535) properties.receiveMaximum = config.receiveMaximum;
    if (config.maxPacketSize < NO_LIMIT) properties.maximumPacketSize = config.maxPacketSize;
    if (config.topicAliasMaximum > 0) properties.topicAliasMaximum = config.topicAliasMaximum;
    // Absent means available; only what is switched off is announced.
    if (!config.retainAvailable) properties.retainAvailable = 0;
    if (!config.wildcardSubscriptionAvailable) properties.wildcardSubscriptionAvailable = 0;
    if (!config.subscriptionIdentifiersAvailable) properties.subscriptionIdentifiersAvailable = 0;
    if (!config.sharedSubscriptionAvailable) properties.sharedSubscriptionAvailable = 0;
    if (config.maximumQoS < 2) properties.maximumQoS = config.maximumQoS;
    const limit = connection.clientMaximumPacketSize;
    if (limit >= NO_LIMIT) return properties;
    const fits = (): boolean =>
      encode({ type: 'connack', sessionPresent: false, reasonCode: 0, properties }, 5).length <= limit;
    for (const optional of OPTIONAL_CONNACK_PROPERTIES) {
      if (fits()) return properties;
      delete properties[optional];
    }
    return fits() ? properties : null;
  }

  /** A connection ended (any way). Called once per connection. */
  connectionClosed(connection: Connection, wasConnected: boolean, reasonCode: number | undefined): void {
    this.connections.delete(connection);
    if (!wasConnected) return;
    this.stats.clientsConnected--;
    const session = connection.session;
    if (!session || session.connection !== connection) return;
    session.connection = undefined;
    session.detach();

    // Shared subscriptions: what this member did not acknowledge goes to another member (5.0 section 4.8.2).
    const shared = session.takeSharedMessages(session.expiryInterval !== 0);
    for (const { message, group } of shared) this.subscriptions.deliverShared(group, message, this.#readCheck, session);

    if (session.expiryInterval !== 0 && session.expiryInterval !== NEVER) {
      session.expiresAt = this.clock.now() + session.expiryInterval * 1000;
    }
    let willPending = false;
    const will = connection.will;
    if (will) {
      const takenOver = connection.takenOver;
      if (takenOver && !takenOver.clean && will.delayInterval > 0) {
        // The new connection resumes the session before the delay ends: no will (5.0 section 3.1.3.2.2).
      } else {
        // [MQTT-3.1.3-9] published after the Will Delay Interval or when the session ends, whichever is first.
        const delay = takenOver?.clean ? 0 : Math.min(will.delayInterval, session.expiryInterval);
        willPending = delay > 0;
        this.#wills.schedule(session, will, delay);
      }
    }

    if (session.expiryInterval === 0) {
      this.endSession(session, true);
    } else {
      // With a pending will, Wills.schedule wrote the record (will and its due time included).
      if (!session.pendingWill) this.store.putSession(session.toRecord());
      this.#scheduleExpiry(session);
    }

    const info = this.#clientInfo(connection);
    this.emit('clientDisconnected', { ...info, reasonCode: reasonCode ?? connection.disconnectReason });
    const onDisconnect = this.hooks.onDisconnect;
    if (onDisconnect && connection.hookClient) {
      try {
        onDisconnect({
          client: connection.hookClient,
          reasonCode: reasonCode ?? connection.disconnectReason,
          willPending,
        });
      } catch (error) {
        this.logger.error({ err: error, clientId: connection.clientId }, 'onDisconnect hook failed');
      }
    }
    this.logger.debug({ clientId: connection.clientId, reasonCode }, 'client disconnected');
  }

  /** A DISCONNECT changed the Session Expiry Interval (5.0 section 3.14.2.2.2). */
  setSessionExpiry(session: Session, seconds: number): void {
    const wasPersistent = session.persistent;
    session.expiryInterval = seconds;
    if (session.persistent && !wasPersistent) session.persistAll();
    else if (session.persistent) this.store.putSession(session.toRecord());
    else if (wasPersistent) this.store.deleteSession(session.clientId);
  }

  /** Ends a session: subscriptions removed, messages dropped, its pending will published [MQTT-3.1.3-9]. */
  endSession(session: Session, expired: boolean): void {
    if (session.ended) return;
    session.ended = true;
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    this.#wills.settle(session, true);
    for (const subscription of session.subscriptions.values()) this.subscriptions.remove(session, subscription);
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    const shared = session.takeSharedMessages(false);
    for (const { message, group } of shared) this.subscriptions.deliverShared(group, message, this.#readCheck, session);
    session.clearMessages();
    // A session with interval 0 was never stored, or setSessionExpiry removed it already.
    if (session.expiryInterval !== 0) this.store.deleteSession(session.clientId);
    if (expired && session.expiryInterval !== 0) this.emit('sessionExpired', session.clientId);
  }

  #scheduleExpiry(session: Session): void {
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    const at = session.expiresAt;
    if (at === undefined) return;
    const fire = (): void => {
      session.expiryTimer = undefined;
      if (session.connection || session.ended || session.expiresAt === undefined) return;
      const left = session.expiresAt - this.clock.now();
      if (left > 0) {
        session.expiryTimer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        session.expiryTimer.unref?.();
        return;
      }
      this.logger.debug({ clientId: session.clientId }, 'session expired');
      try {
        this.endSession(session, true);
      } catch (error) {
        this.logger.error({ err: error, clientId: session.clientId }, 'ending an expired session failed');
      }
    };
    session.expiryTimer = setTimeout(fire, Math.min(Math.max(at - this.clock.now(), 0), MAX_TIMER_MS));
    session.expiryTimer.unref?.();
  }

  /** Whether a retained message of this size may be kept on the topic (maxRetainedMessages, maxRetainedBytes). */
  canRetain(topic: string, payloadLength: number): boolean {
    const previous = this.retained.get(topic);
    const config = this.config;
    if (!previous && this.retained.size >= config.maxRetainedMessages) return false;
    const freed = previous ? messageBytes(previous) : 0;
    return this.#retainedBytes - freed + payloadLength + topic.length + 64 <= config.maxRetainedBytes;
  }

  #setRetained(topic: string, message: Message): void {
    const previous = this.retained.get(topic);
    if (previous) this.#retainedBytes -= messageBytes(previous);
    this.retained.set(topic, message);
    this.#retainedBytes += messageBytes(message);
  }

  #deleteRetained(topic: string): boolean {
    const previous = this.retained.get(topic);
    if (!previous) return false;
    this.#retainedBytes -= messageBytes(previous);
    return this.retained.delete(topic);
  }

  #retain(message: Message, result: RouteResult): void {
    const topic = message.topic;
    if (message.payload.length === 0) {
      // [MQTT-3.3.1-10] / [MQTT-3.3.1-11] an empty retained message clears the topic and is not stored.
      if (this.#deleteRetained(topic)) {
        this.store.deleteRetained(topic);
        result.persisted = true;
      }
      return;
    }
    if (!this.canRetain(topic, message.payload.length)) {
      // Beyond maxRetainedMessages / maxRetainedBytes: routed (3.1.1 cannot be told no) but not kept.
      this.stats.retainedRefused++;
      return;
    }
    // [MQTT-3.3.1-5] store it, replacing any previous retained message on the topic.
    ownPayload(message);
    this.#setRetained(topic, message);
    this.store.putRetained(toStored(message));
    result.persisted = true;
  }

  async #load(): Promise<void> {
    const store = this.store;
    const now = this.clock.now();
    for (const stored of await store.loadRetained()) {
      if (stored.expiresAt !== undefined && stored.expiresAt <= now) store.deleteRetained(stored.topic);
      else this.#setRetained(stored.topic, fromStored(stored));
    }
    const pendingWills: [Session, StoredWill, number][] = [];
    for (const record of await store.loadSessions()) {
      const session = new Session(record.clientId, record.protocolVersion, this);
      session.expiryInterval = record.expiryInterval;
      session.username = record.username;
      // A session that was connected when the broker stopped starts its expiry now, and its will its delay.
      const wasConnected = record.expiresAt === undefined && record.willAt === undefined;
      session.expiresAt =
        record.expiresAt ?? (record.expiryInterval === NEVER ? undefined : now + record.expiryInterval * 1000);
      let willAt = record.willAt;
      if (record.will && willAt === undefined && wasConnected) {
        willAt = now + Math.min(record.will.delayInterval, record.expiryInterval) * 1000;
      }
      if (session.expiresAt !== undefined && session.expiresAt <= now) {
        if (record.will) this.publishWill(record.clientId, record.username, record.will);
        store.deleteSession(record.clientId);
        continue;
      }
      for (const subscription of await store.getSubscriptions(record.clientId)) {
        let filter = subscription.topicFilter;
        let group: string | undefined;
        try {
          const shared = parseSharedFilter(filter);
          if (shared) {
            filter = shared.filter;
            group = shared.group;
          }
        } catch {
          continue;
        }
        const entry: SessionSubscription = { ...subscription, filter, group };
        session.setSubscription(entry);
        this.subscriptions.add(session, entry);
      }
      session.restore(
        await store.getInflight(record.clientId),
        await store.getIncomingQos2(record.clientId),
        await store.lastQueuedSeq(record.clientId),
      );
      this.sessions.set(record.clientId, session);
      this.#scheduleExpiry(session);
      if (record.will && willAt !== undefined) pendingWills.push([session, record.will, willAt]);
    }
    for (const [session, will, at] of pendingWills) this.#wills.restore(session, will, at);
    await store.commit();
  }

  #clientInfo(connection: Connection): ClientInfo {
    const info: ClientInfo = { clientId: connection.clientId, protocolVersion: connection.version };
    if (connection.username !== undefined) info.username = connection.username;
    if (connection.meta.remoteAddress !== undefined) info.remoteAddress = connection.meta.remoteAddress;
    if (connection.meta.listener !== undefined) info.listener = connection.meta.listener;
    return info;
  }
}

function stripPerHop(properties: Properties | undefined): Properties | undefined {
  if (!properties) return undefined;
  const { topicAlias, subscriptionIdentifiers, messageExpiryInterval, ...rest } = properties;
  return Object.keys(rest).length > 0 ? rest : undefined;
}
