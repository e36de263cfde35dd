// MqttClient: the async/await client over src/protocol. One network connection at a time; the
// session state (packet identifiers, QoS flows, subscriptions, queued publishes) outlives it, so a
// reconnect can resume the session ([MQTT-4.4.0-1]).

import { Decoder } from '../protocol/decoder.js';
import { encode } from '../protocol/encoder.js';
import { MqttError } from '../protocol/errors.js';
import type {
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
} from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { type Clock, systemClock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { backoffDelay, type ResolvedReconnectOptions, resolveReconnectOptions } from './backoff.js';
import {
  attempts,
  type InitialConnectPolicy,
  isCertificateFailure,
  isPermanentRefusal,
  plainMessage,
  reasonCodeOf,
  resolveInitialConnectPolicy,
} from './initial-connect.js';
import { KeepAlive } from './keep-alive.js';
import { MessageStream } from './message-stream.js';
import { type ClientOptions, type Payload, parseUrl } from './options.js';
import { OutboundPublishes } from './outbound.js';
import { PacketIdAllocator } from './packet-ids.js';
import { connackReturnCodeToReason, reasonText } from './reason-text.js';
import { PendingResponses } from './responses.js';
import { InboundTopicAliases } from './topic-alias.js';
import type { Transport, TransportFactory, TransportTarget } from './transport.js';
import { TypedEmitter } from './typed-emitter.js';
import type {
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

interface PendingRequest {
  packet: SubscribePacket | UnsubscribePacket;
  resolve: (packet: SubackPacket | UnsubackPacket) => void;
  reject: (error: Error) => void;
}

interface ActiveSubscription {
  subscription: Subscription;
  identifier: number | undefined;
  userProperties: Properties['userProperties'];
}

/** One network connection's own state; callbacks of a replaced connection are ignored. */
interface Link {
  transport: Transport | undefined;
  decoder: Decoder;
  connected: boolean;
  closed: boolean;
  settle: ((error?: Error, info?: ConnectInfo) => void) | undefined;
}

/** The core has no transport of its own: 'starling/client' (Node) and browser.ts each bring theirs. */
const noTransport: TransportFactory = () =>
  Promise.reject(
    new MqttError(
      ReasonCode.ImplementationSpecificError,
      'no transport: create clients through src/client/index.ts (Node) or src/client/browser.ts, or pass options.transport',
    ),
  );

function toBuffer(payload: Payload): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** [MQTT-3.3.2-2] no wildcards in a topic name; [MQTT-1.5.4-2] no U+0000. */
function checkTopicName(topic: string): void {
  if (topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) {
    throw new MqttError(ReasonCode.TopicNameInvalid, `invalid topic name '${topic}'`);
  }
}

export class MqttClient extends TypedEmitter<ClientEvents> {
  readonly protocolVersion: ProtocolVersion;
  readonly #options: ClientOptions;
  readonly #target: TransportTarget;
  readonly #username: string | undefined;
  readonly #password: Buffer | undefined;
  readonly #transportFactory: TransportFactory;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #random: () => number;
  readonly #reconnect: ResolvedReconnectOptions | undefined;
  readonly #initialRetry: InitialConnectPolicy | undefined;
  readonly #keepaliveOption: number;

  #clientId: string;
  #state: ClientState = 'new';
  #link: Link | undefined;
  #hasConnected = false;
  #reconnectAttempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  /** Called once when the current connection closes; `end()` waits on it. */
  #onLinkClosed: (() => void) | undefined;
  /** Set while connect() runs: `#close` calls it, so that connect() settles at once. */
  #cancelConnect: (() => void) | undefined;
  /** CONNACK refusals, told apart from other failures of the same reason code (a malformed CONNACK, say). */
  readonly #refusals = new WeakSet<Error>();

  // Session state: survives reconnects.
  readonly #ids = new PacketIdAllocator();
  readonly #outbound: OutboundPublishes;
  readonly #requests = new Map<number, PendingRequest>();
  readonly #inboundQos2 = new Set<number>();
  readonly #subscriptions = new Map<string, ActiveSubscription>();
  readonly #streams = new Set<MessageStream<Message>>();
  readonly #responses = new PendingResponses();
  #responseSubscribing: Promise<unknown> | undefined;

  // Connection state: reset on every CONNACK.
  #serverProperties: Properties = {};
  #serverMaximumPacketSize = Number.POSITIVE_INFINITY;
  readonly #inboundAliases = new InboundTopicAliases();
  #sessionPresent = false;
  /** Messages that arrive with the first CONNACK wait here until `connect()` has resolved. */
  #held: Message[] | undefined;
  readonly #keepAlive: KeepAlive;
  #reauthWaiter: { resolve: () => void; reject: (error: Error) => void } | undefined;

  // Write batching: packets of one tick go out in one write.
  #outbox: Buffer[] = [];
  #afterFlush: (() => void)[] = [];
  /** QoS 0 completions waiting for the transport to drain. */
  #afterDrain: (() => void)[] = [];
  #blocked = false;
  #flushScheduled = false;
  readonly #flush = (): void => this.#flushNow();

  constructor(url: string, options: ClientOptions = {}) {
    super();
    this.#options = options;
    this.protocolVersion = options.protocolVersion ?? 5;
    const target = parseUrl(url, options);
    this.#username = options.username ?? target.username;
    const password = options.password ?? target.password;
    this.#password = password === undefined ? undefined : toBuffer(password);
    delete target.username;
    delete target.password;
    this.#target = target;
    this.#transportFactory = options.transport ?? noTransport;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
    this.#reconnect = options.reconnect === false ? undefined : resolveReconnectOptions(options.reconnect);
    // Without a transport every attempt fails the same way: no point in retrying.
    this.#initialRetry = options.transport
      ? resolveInitialConnectPolicy(options.retryInitialConnect, options.reconnect)
      : undefined;
    this.#keepaliveOption = options.keepalive ?? 60;
    this.#outbound = new OutboundPublishes(
      this.#ids,
      {
        isConnected: () => this.#state === 'connected',
        send: (packet) => this.#send(packet),
        afterFlush: (done) => this.#afterFlush.push(done),
      },
      options.maxQueuedMessages ?? 1000,
    );
    this.#keepAlive = new KeepAlive(
      this.#clock,
      () => this.#send({ type: 'pingreq' }),
      () => {
        this.#logger?.debug('no PINGRESP: closing the connection');
        const link = this.#link;
        if (link && !link.closed) link.transport?.destroy();
      },
    );
    this.#clientId = options.clientId ?? `starling-${this.#randomHex(4)}`;
  }

  get state(): ClientState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** The client identifier in use (the server's Assigned Client Identifier when it gave one). */
  get clientId(): string {
    return this.#clientId;
  }

  /** The last CONNACK's properties (MQTT 5). */
  get serverProperties(): Readonly<Properties> {
    return this.#serverProperties;
  }

  /** Session Present from the last CONNACK. */
  get sessionPresent(): boolean {
    return this.#sessionPresent;
  }

  /** QoS 1/2 publishes sent and not yet acknowledged. */
  get inflightCount(): number {
    return this.#outbound.inflightCount;
  }

  /** Publishes waiting for a connection or for send quota. */
  get queuedCount(): number {
    return this.#outbound.queuedCount;
  }

  /**
   * Opens the first connection. Unless `retryInitialConnect` is false, a failure that another
   * attempt may cure (nothing listening yet, no route, DNS, a timeout, a server unavailable or
   * busy) is retried with the reconnect backoff, emitting `error` and `reconnect` as reconnects do.
   * Rejects with an MqttError when the server refuses for a reason that retrying cannot fix (bad
   * credentials, not authorized, client id, protocol version, ...), when the TLS certificate does
   * not verify, when `end()` is called, or when the attempts or the time of `retryInitialConnect`
   * run out (the last failure is then the `cause`).
   */
  async connect(): Promise<ConnectInfo> {
    if (this.#state !== 'new') throw new MqttError(ReasonCode.ProtocolError, 'connect() may be called once');
    const policy = this.#initialRetry;
    const deadline = this.#clock.now() + (policy?.timeout ?? Number.POSITIVE_INFINITY);
    const cancelled = new Promise<never>((_, reject) => {
      this.#cancelConnect = () => reject(new MqttError(ReasonCode.UnspecifiedError, 'cancelled'));
    });
    cancelled.catch(() => undefined);
    let failures = 0;
    let last: Error | undefined;
    try {
      for (;;) {
        try {
          const attempt = this.#open(deadline);
          attempt.catch(() => undefined);
          return await Promise.race([attempt, cancelled]);
        } catch (error) {
          if (this.#isClosed()) throw this.#endedWhileConnecting(failures, last);
          last = error as Error;
          failures++;
        }
        const failure = this.#initialFailure(policy, last, failures, deadline);
        if (failure) {
          this.#close(failure);
          throw failure;
        }
        const backoff = (policy as InitialConnectPolicy).backoff;
        const delay = backoffDelay(failures - 1, backoff, this.#random);
        const remaining = deadline - this.#clock.now();
        // When no retry fits before the deadline, there is none to announce: connect() just settles at the deadline.
        const retrying = delay < remaining;
        if (retrying) {
          this.#logger?.warn({ err: last, attempt: failures, delay }, 'cannot connect yet; retrying');
          this.emit('error', last);
          this.emit('reconnect', failures, delay);
        }
        // A listener may have called end().
        if (!this.#isClosed()) {
          await Promise.race([this.#sleep(Math.min(delay, remaining)), cancelled]).catch(() => undefined);
        }
        if (this.#isClosed()) throw this.#endedWhileConnecting(failures, last);
        if (!retrying || this.#clock.now() >= deadline) {
          const expired = this.#deadlinePassed(policy as InitialConnectPolicy, last, failures);
          this.#close(expired);
          throw expired;
        }
      }
    } finally {
      this.#cancelConnect = undefined;
    }
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Why connect() stops after `failures` failed attempts, the last being `last`; undefined to try again. */
  #initialFailure(
    policy: InitialConnectPolicy | undefined,
    last: Error,
    failures: number,
    deadline: number,
  ): Error | undefined {
    if (!policy || this.#refusals.has(last) || isCertificateFailure(last)) return last;
    const code = reasonCodeOf(last);
    if (failures > policy.maxAttempts) {
      return new MqttError(code, `gave up connecting after ${attempts(failures)}: ${plainMessage(last)}`, {
        cause: last,
      });
    }
    if (this.#clock.now() >= deadline) return this.#deadlinePassed(policy, last, failures);
    return undefined;
  }

  #deadlinePassed(policy: InitialConnectPolicy, last: Error, failures: number): MqttError {
    const text = `no connection within ${policy.timeout} ms (${attempts(failures)}): ${plainMessage(last)}`;
    return new MqttError(reasonCodeOf(last), text, { cause: last });
  }

  #endedWhileConnecting(failures: number, last: Error | undefined): MqttError {
    const failed = last ? ` (${attempts(failures)} failed; the last: ${plainMessage(last)})` : '';
    return new MqttError(
      ReasonCode.UnspecifiedError,
      `the client was ended before it connected${failed}`,
      last ? { cause: last } : undefined,
    );
  }

  /** Waits between attempts of connect(); `#close` clears the timer and cancels the wait. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        resolve();
      }, ms);
    });
  }

  /**
   * Publishes a message. Resolves when its QoS flow completes: QoS 0 once written, QoS 1 on PUBACK,
   * QoS 2 on PUBCOMP; rejects with an MqttError carrying the server's reason code (MQTT 5) when it
   * refuses the message, or when the offline queue is full.
   */
  publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#state === 'closed') throw new MqttError(ReasonCode.UnspecifiedError, 'the client is closed');
      const qos = options.qos ?? 0;
      let properties = this.protocolVersion === 5 ? options.properties : undefined;
      let explicitAlias: number | undefined;
      if (properties?.topicAlias !== undefined) {
        explicitAlias = properties.topicAlias;
        const { topicAlias: _, ...rest } = properties;
        properties = rest;
        if (topic === '') {
          const known = this.#outbound.aliases.topicOf(explicitAlias);
          if (known === undefined) {
            throw new MqttError(ReasonCode.TopicAliasInvalid, `topic alias ${explicitAlias} is not mapped`);
          }
          topic = known;
        }
      }
      if (topic === '') throw new MqttError(ReasonCode.TopicNameInvalid, 'empty topic name');
      checkTopicName(topic);
      const maximumQoS = this.#serverProperties.maximumQoS;
      // [MQTT-3.2.2-11] no QoS above the server's Maximum QoS
      if (maximumQoS !== undefined && qos > maximumQoS) {
        throw new MqttError(ReasonCode.QoSNotSupported, `the server accepts QoS ${maximumQoS} at most`);
      }
      // [MQTT-3.2.2-14] no retained message when the server has no retain support
      if (options.retain && this.#serverProperties.retainAvailable === 0) {
        throw new MqttError(ReasonCode.RetainNotSupported, 'the server does not support retained messages');
      }
      const packet: PublishPacket = {
        type: 'publish',
        topic,
        payload: toBuffer(payload),
        qos,
        retain: options.retain ?? false,
        dup: false,
      };
      if (properties && Object.keys(properties).length > 0) packet.properties = properties;
      // [MQTT-3.2.2-15] never send a packet larger than the server's Maximum Packet Size
      if (this.#serverMaximumPacketSize !== Number.POSITIVE_INFINITY) {
        const size = encode(qos > 0 ? { ...packet, packetId: 1 } : packet, this.protocolVersion).length;
        if (size > this.#serverMaximumPacketSize) {
          throw new MqttError(
            ReasonCode.PacketTooLarge,
            `a ${size} byte PUBLISH exceeds the server's Maximum Packet Size of ${this.#serverMaximumPacketSize}`,
          );
        }
      }
      this.#outbound.submit(packet, explicitAlias, resolve, reject);
    });
  }

  /** Subscribes; resolves with one reason code per filter (granted QoS, or a failure code ≥ 0x80). */
  async subscribe(filters: string | string[], options: SubscribeOptions = {}): Promise<number[]> {
    const list = Array.isArray(filters) ? filters : [filters];
    if (list.length === 0) throw new MqttError(ReasonCode.ProtocolError, 'no topic filter to subscribe to');
    const subscriptions: Subscription[] = list.map((topicFilter) => {
      // [MQTT-4.7.3-1] a topic filter is at least one character long
      if (topicFilter === '') throw new MqttError(ReasonCode.TopicFilterInvalid, 'empty topic filter');
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
      if (options.noLocal && topicFilter.startsWith('$share/')) {
        throw new MqttError(
          ReasonCode.ProtocolError,
          `No Local cannot be set on the shared subscription ${topicFilter}`,
        );
      }
      const subscription: Subscription = { topicFilter, qos: options.qos ?? 0 };
      if (this.protocolVersion === 5) {
        if (options.noLocal) subscription.noLocal = true;
        if (options.retainAsPublished) subscription.retainAsPublished = true;
        if (options.retainHandling) subscription.retainHandling = options.retainHandling;
      }
      return subscription;
    });
    const properties: Properties = {};
    if (this.protocolVersion === 5) {
      if (options.properties) Object.assign(properties, options.properties);
      if (options.subscriptionIdentifier !== undefined) {
        properties.subscriptionIdentifiers = [options.subscriptionIdentifier];
      }
    }
    const packet: SubscribePacket = { type: 'subscribe', packetId: 0, subscriptions };
    if (Object.keys(properties).length > 0) packet.properties = properties;
    const suback = (await this.#sendRequest(packet)) as SubackPacket;
    suback.reasonCodes.forEach((code, index) => {
      const subscription = subscriptions[index];
      if (subscription && code < 0x80) {
        this.#subscriptions.set(subscription.topicFilter, {
          subscription,
          identifier: options.subscriptionIdentifier,
          userProperties: properties.userProperties,
        });
      }
    });
    return suback.reasonCodes;
  }

  /** Unsubscribes; resolves with the MQTT 5 reason codes (0x00 for each filter on 3.1.1). */
  async unsubscribe(filters: string | string[], options: UnsubscribeOptions = {}): Promise<number[]> {
    const topicFilters = Array.isArray(filters) ? filters : [filters];
    if (topicFilters.length === 0) throw new MqttError(ReasonCode.ProtocolError, 'no topic filter to unsubscribe');
    const packet: UnsubscribePacket = { type: 'unsubscribe', packetId: 0, topicFilters };
    if (this.protocolVersion === 5 && options.properties) packet.properties = options.properties;
    const unsuback = (await this.#sendRequest(packet)) as UnsubackPacket;
    for (const filter of topicFilters) this.#subscriptions.delete(filter);
    return unsuback.reasonCodes.length > 0 ? unsuback.reasonCodes : topicFilters.map(() => 0);
  }

  /**
   * The received messages as an async iterator. Each call gives an independent stream; beyond
   * `bufferSize` unread messages the oldest are dropped (counted in `stream.dropped`). The stream
   * ends when the client ends.
   */
  messages(bufferSize = this.#options.messageBufferSize ?? 1000): MessageStream<Message> {
    const stream: MessageStream<Message> = new MessageStream<Message>(bufferSize, () => this.#streams.delete(stream));
    if (this.#state === 'closed') stream.close();
    else this.#streams.add(stream);
    return stream;
  }

  /**
   * MQTT 5 request/response (section 4.10): publishes with a Response Topic this client listens on
   * and fresh Correlation Data, and resolves with the first message that carries it back.
   */
  async request(topic: string, payload: Payload, options: RequestOptions = {}): Promise<Message> {
    if (this.protocolVersion !== 5) {
      throw new MqttError(ReasonCode.ImplementationSpecificError, 'request/response needs MQTT 5');
    }
    const responseTopic = await this.#ensureResponseTopic();
    const correlation = new Uint8Array(16);
    globalThis.crypto.getRandomValues(correlation);
    const response = this.#responses.wait(correlation, options.timeout ?? this.#options.requestTimeout ?? 30_000);
    try {
      await this.publish(topic, payload, {
        ...options,
        properties: { ...options.properties, responseTopic, correlationData: Buffer.from(correlation) },
      });
    } catch (error) {
      this.#responses.cancel(correlation);
      throw error;
    }
    return response;
  }

  /** MQTT 5 re-authentication (section 4.12.1): resolves when the server answers AUTH Success. */
  reauthenticate(data?: Uint8Array): Promise<void> {
    const method = this.#options.authenticationMethod;
    if (this.protocolVersion !== 5 || method === undefined || this.#state !== 'connected') {
      return Promise.reject(
        new MqttError(ReasonCode.ProtocolError, 're-authentication needs a connected MQTT 5 client with a method'),
      );
    }
    return new Promise((resolve, reject) => {
      this.#reauthWaiter = { resolve, reject };
      const properties: Properties = { authenticationMethod: method };
      if (data) properties.authenticationData = toBuffer(data);
      this.#send({ type: 'auth', reasonCode: ReasonCode.ReAuthenticate, properties });
    });
  }

  /**
   * Disconnects cleanly (DISCONNECT, then close) and stops reconnecting. Publishes and requests
   * still in progress reject.
   */
  async end(options: EndOptions = {}): Promise<void> {
    if (this.#state === 'closed') return;
    const link = this.#link;
    if (link?.transport && link.connected && !link.closed) {
      const packet: DisconnectPacket = { type: 'disconnect' };
      if (this.protocolVersion === 5) {
        if (options.reasonCode !== undefined) packet.reasonCode = options.reasonCode;
        const properties: Properties = { ...options.properties };
        if (options.sessionExpiryInterval !== undefined) {
          // §3.14.2.2.2: a session that was to end at disconnect cannot be extended (Protocol Error)
          if (!this.#options.sessionExpiryInterval && options.sessionExpiryInterval > 0) {
            throw new MqttError(
              ReasonCode.ProtocolError,
              'cannot set a Session Expiry Interval on DISCONNECT when CONNECT had none',
            );
          }
          properties.sessionExpiryInterval = options.sessionExpiryInterval;
        }
        if (Object.keys(properties).length > 0) packet.properties = properties;
      }
      this.#state = 'closed';
      this.#send(packet);
      this.#flushNow();
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          link.transport?.destroy();
          resolve();
        }, 1000);
        link.settle = undefined;
        this.#onLinkClosed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      link.transport.end();
      await closed;
    }
    this.#close(new MqttError(ReasonCode.UnspecifiedError, 'the client was ended'));
  }

  // --- Connection ---------------------------------------------------------------------------

  /** One connection attempt, given up at `deadline` (clock time) when that comes before connectTimeout. */
  async #open(deadline = Number.POSITIVE_INFINITY): Promise<ConnectInfo> {
    this.#state = 'connecting';
    const timeout = (): number =>
      Math.max(1, Math.min(this.#target.connectTimeout, Math.ceil(deadline - this.#clock.now())));
    const decoder = new Decoder((packet) => this.#onPacket(link, packet), {
      protocolVersion: this.protocolVersion,
      ...(this.#options.maximumPacketSize ? { maximumPacketSize: this.#options.maximumPacketSize } : {}),
    });
    const link: Link = { transport: undefined, decoder, connected: false, closed: false, settle: undefined };
    this.#blocked = false;
    this.#link = link;
    const connected = new Promise<ConnectInfo>((resolve, reject) => {
      link.settle = (error, info) => {
        link.settle = undefined;
        if (error) reject(error);
        else resolve(info as ConnectInfo);
      };
    });
    // Settled early when the client ends while the transport is still opening; awaited below otherwise.
    connected.catch(() => undefined);
    const openTimeout = timeout();
    const target =
      openTimeout === this.#target.connectTimeout ? this.#target : { ...this.#target, connectTimeout: openTimeout };
    const transport = await this.#transportFactory(target, {
      onData: (chunk) => this.#onData(link, chunk),
      onClose: (error) => this.#onClose(link, error),
      onDrain: () => this.#onDrain(link),
    });
    if (link.closed || this.#link !== link) {
      transport.destroy();
      throw new MqttError(ReasonCode.UnspecifiedError, 'the client was ended while connecting');
    }
    link.transport = transport;
    const connackTimeout = timeout();
    const timer = setTimeout(() => {
      link.settle?.(new MqttError(ReasonCode.UnspecifiedError, `no CONNACK within ${connackTimeout} ms`));
      transport.destroy();
    }, connackTimeout);
    this.#send(this.#connectPacket());
    try {
      return await connected;
    } catch (error) {
      transport.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #connectPacket(): ConnectPacket {
    const options = this.#options;
    const v5 = this.protocolVersion === 5;
    // Later connections resume the session: Clean Start 0 on MQTT 5; on 3.1.1 a clean session
    // ends at disconnect anyway, so the user's flag stands.
    const clean = this.#hasConnected && v5 ? false : (options.clean ?? true);
    const packet: ConnectPacket = {
      type: 'connect',
      protocolName: this.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.protocolVersion,
      clean,
      keepAlive: this.#keepaliveOption,
      clientId: this.#clientId,
    };
    if (this.#username !== undefined) packet.username = this.#username;
    if (this.#password !== undefined) packet.password = this.#password;
    if (options.will) {
      const will = options.will;
      packet.will = { topic: will.topic, payload: toBuffer(will.payload), qos: will.qos ?? 0, retain: !!will.retain };
      if (v5 && will.properties) packet.will.properties = will.properties;
    }
    if (v5) {
      const properties: Properties = {};
      if (options.sessionExpiryInterval) properties.sessionExpiryInterval = options.sessionExpiryInterval;
      if (options.receiveMaximum !== undefined) properties.receiveMaximum = options.receiveMaximum;
      if (options.maximumPacketSize !== undefined) properties.maximumPacketSize = options.maximumPacketSize;
      if (options.topicAliasMaximum) properties.topicAliasMaximum = options.topicAliasMaximum;
      if (options.requestResponseInformation) properties.requestResponseInformation = 1;
      if (options.requestProblemInformation === false) properties.requestProblemInformation = 0;
      const user = options.userProperties;
      if (user) properties.userProperties = Array.isArray(user) ? user : Object.entries(user);
      if (options.authenticationMethod !== undefined) {
        properties.authenticationMethod = options.authenticationMethod;
        if (options.authenticationData) properties.authenticationData = toBuffer(options.authenticationData);
      }
      if (Object.keys(properties).length > 0) packet.properties = properties;
    }
    return packet;
  }

  #onConnected(link: Link, connack: ConnackPacket): ConnectInfo {
    link.connected = true;
    const reconnected = this.#hasConnected;
    this.#hasConnected = true;
    this.#reconnectAttempt = 0;
    this.#state = 'connected';
    const properties = connack.properties ?? {};
    this.#serverProperties = properties;
    this.#serverMaximumPacketSize = properties.maximumPacketSize ?? Number.POSITIVE_INFINITY;
    this.#inboundAliases.reset(this.protocolVersion === 5 ? (this.#options.topicAliasMaximum ?? 0) : 0);
    if (properties.assignedClientIdentifier) this.#clientId = properties.assignedClientIdentifier;
    // A first connection with Clean Start 0 that finds a session resumes it, as mosquitto_sub -c does:
    // this client then has no state of its own that could disagree with the server's.
    this.#sessionPresent = connack.sessionPresent;

    // SUBSCRIBE and UNSUBSCRIBE that were waiting for their acknowledgement go again.
    for (const request of this.#requests.values()) this.#send(request.packet);
    if (!connack.sessionPresent) {
      this.#inboundQos2.clear();
      if (reconnected) this.#resubscribe();
    }
    const aliasMaximum = this.protocolVersion === 5 && this.#options.autoTopicAlias !== false;
    this.#outbound.resume(
      connack.sessionPresent,
      properties.receiveMaximum ?? 65535,
      aliasMaximum ? (properties.topicAliasMaximum ?? 0) : 0,
    );
    if (!reconnected) {
      // A resumed session's messages can arrive in the same chunk as CONNACK, before the caller of
      // connect() could attach a listener; they are delivered once its continuation has run.
      this.#held = [];
      setTimeout(() => this.#releaseHeld(), 0);
    }
    this.#keepAlive.start(properties.serverKeepAlive ?? this.#keepaliveOption);
    const info: ConnectInfo = { sessionPresent: connack.sessionPresent, properties, reconnected };
    this.#logger?.debug({ clientId: this.#clientId, sessionPresent: connack.sessionPresent }, 'connected');
    this.emit('connect', info);
    return info;
  }

  #resubscribe(): void {
    // One SUBSCRIBE per subscription identifier, since a SUBSCRIBE carries at most one.
    const groups = new Map<string, ActiveSubscription[]>();
    for (const active of this.#subscriptions.values()) {
      const key = `${active.identifier ?? ''}`;
      const group = groups.get(key);
      if (group) group.push(active);
      else groups.set(key, [active]);
    }
    for (const group of groups.values()) {
      const first = group[0] as ActiveSubscription;
      const packet: SubscribePacket = {
        type: 'subscribe',
        packetId: 0,
        subscriptions: group.map((active) => active.subscription),
      };
      if (this.protocolVersion === 5) {
        const properties: Properties = {};
        if (first.identifier !== undefined) properties.subscriptionIdentifiers = [first.identifier];
        if (first.userProperties) properties.userProperties = first.userProperties;
        if (Object.keys(properties).length > 0) packet.properties = properties;
      }
      this.#sendRequest(packet).catch((error: Error) => this.emit('error', error));
    }
  }

  #onData(link: Link, chunk: Buffer): void {
    if (link.closed || this.#link !== link) return;
    try {
      link.decoder.push(chunk);
    } catch (error) {
      this.#protocolError(link, error as Error);
    }
  }

  #onClose(link: Link, error: Error | undefined): void {
    if (link.closed) return;
    link.closed = true;
    this.#keepAlive.stop();
    this.#outbox = [];
    const afterFlush = this.#afterFlush.concat(this.#afterDrain);
    this.#afterFlush = [];
    this.#afterDrain = [];
    // QoS 0 messages handed to a dead connection are lost, as QoS 0 allows; their promises settle.
    for (const done of afterFlush) done();
    const closedHandler = this.#onLinkClosed;
    this.#onLinkClosed = undefined;
    closedHandler?.();
    if (this.#link !== link) return;
    if (link.settle) {
      const reason = error ? `: ${error.message}` : '';
      link.settle(
        error instanceof MqttError
          ? error
          : new MqttError(ReasonCode.UnspecifiedError, `the connection closed before CONNACK${reason}`, {
              cause: error,
            }),
      );
      return;
    }
    if (!link.connected || this.#state === 'closed') return;
    this.#state = 'offline';
    this.#reauthWaiter?.reject(new MqttError(ReasonCode.UnspecifiedError, 'the connection was lost'));
    this.#reauthWaiter = undefined;
    this.#logger?.debug({ err: error }, 'connection lost');
    this.emit('offline', error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const policy = this.#reconnect;
    if (!policy || this.#reconnectAttempt >= policy.maxAttempts) {
      this.#close(new MqttError(ReasonCode.UnspecifiedError, 'the connection was lost'));
      return;
    }
    const delay = backoffDelay(this.#reconnectAttempt, policy, this.#random);
    this.#reconnectAttempt++;
    this.#state = 'offline';
    this.emit('reconnect', this.#reconnectAttempt, delay);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state === 'closed') return;
      this.#open().catch((error: Error) => {
        if (this.#state === 'closed') return;
        this.#logger?.debug({ err: error }, 'reconnect failed');
        this.emit('error', error);
        this.#scheduleReconnect();
      });
    }, delay);
  }

  /** Ends the client for good: no more reconnects; everything in progress rejects with `error`. */
  #close(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#state = 'closed';
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#keepAlive.stop();
    const link = this.#link;
    if (link && !link.closed) {
      const settle = link.settle;
      link.settle = undefined;
      link.transport?.destroy();
      link.closed = true;
      // A connection attempt in progress ends with the client.
      settle?.(error);
    }
    this.#cancelConnect?.();
    this.#outbound.rejectAll(error);
    for (const request of this.#requests.values()) request.reject(error);
    this.#requests.clear();
    this.#ids.clear();
    this.#responses.rejectAll(error);
    this.#reauthWaiter?.reject(error);
    this.#reauthWaiter = undefined;
    for (const stream of this.#streams) stream.close();
    this.#streams.clear();
    const afterFlush = this.#afterFlush;
    this.#afterFlush = [];
    for (const done of afterFlush) done();
    this.emit('end');
  }

  /** The server broke the protocol: tell it why (MQTT 5) and drop the connection ([MQTT-4.13.1-1]). */
  #protocolError(link: Link, error: Error): void {
    const reasonCode =
      error instanceof MqttError && error.reasonCode >= 0x80 ? error.reasonCode : ReasonCode.ProtocolError;
    this.#logger?.warn({ err: error }, 'protocol error from the server');
    if (link.transport && !link.closed) {
      if (this.protocolVersion === 5 && link.connected) {
        this.#send({ type: 'disconnect', reasonCode });
        this.#flushNow();
      }
      link.transport.destroy();
    }
    if (link.settle) link.settle(error);
    else this.emit('error', error);
  }

  // --- Inbound packets ------------------------------------------------------------------------

  #onPacket(link: Link, packet: Packet): void {
    if (!link.connected) {
      if (packet.type === 'connack') {
        this.#onConnack(link, packet);
        return;
      }
      if (packet.type === 'auth') {
        void this.#onAuth(link, packet);
        return;
      }
      // [MQTT-3.2.0-1] the first packet from the server is CONNACK (or AUTH)
      if (packet.type !== 'disconnect') {
        throw new MqttError(ReasonCode.ProtocolError, `${packet.type} before CONNACK`);
      }
    }
    switch (packet.type) {
      case 'publish':
        this.#onPublish(link, packet);
        return;
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        this.#outbound.acknowledge(packet.type, packet.packetId, packet.reasonCode ?? 0, packet.properties);
        return;
      case 'pubrel':
        this.#onPubrel(packet.packetId);
        return;
      case 'suback':
      case 'unsuback':
        this.#onRequestAck(packet);
        return;
      case 'pingresp':
        this.#keepAlive.pong();
        return;
      case 'disconnect':
        this.#logger?.debug({ reasonCode: packet.reasonCode }, 'server disconnected');
        this.emit('disconnect', packet);
        if (link.settle) {
          const code = packet.reasonCode ?? ReasonCode.UnspecifiedError;
          link.settle(new MqttError(code, `the server disconnected: ${reasonText(code)}`));
        }
        link.transport?.destroy();
        return;
      case 'auth':
        void this.#onAuth(link, packet);
        return;
      default:
        // CONNECT, SUBSCRIBE and the like travel from clients to servers only.
        throw new MqttError(ReasonCode.ProtocolError, `unexpected ${packet.type} from the server`);
    }
  }

  #onConnack(link: Link, packet: ConnackPacket): void {
    const reasonCode = this.protocolVersion === 5 ? packet.reasonCode : connackReturnCodeToReason(packet.reasonCode);
    if (reasonCode >= 0x80) {
      const text = packet.properties?.reasonString ?? reasonText(reasonCode);
      const refusal = new MqttError(reasonCode, `connection refused: ${text}`);
      if (isPermanentRefusal(reasonCode)) this.#refusals.add(refusal);
      link.settle?.(refusal);
      return;
    }
    // Synchronously: packets that follow CONNACK in the same chunk belong to the new session.
    const info = this.#onConnected(link, packet);
    link.settle?.(undefined, info);
  }

  async #onAuth(link: Link, packet: AuthPacket): Promise<void> {
    const reasonCode = packet.reasonCode ?? ReasonCode.Success;
    if (reasonCode === ReasonCode.Success) {
      this.#reauthWaiter?.resolve();
      this.#reauthWaiter = undefined;
      return;
    }
    const method = this.#options.authenticationMethod;
    const onAuth = this.#options.onAuth;
    // [MQTT-4.12.0-5] AUTH only within an exchange the client started, with the method of its CONNECT
    if (!method || !onAuth || packet.properties?.authenticationMethod !== method) {
      this.#protocolError(link, new MqttError(ReasonCode.ProtocolError, 'unexpected AUTH from the server'));
      return;
    }
    try {
      const data = await onAuth({ method, data: packet.properties?.authenticationData, reasonCode });
      if (link.closed) return;
      const properties: Properties = { authenticationMethod: method };
      if (data) properties.authenticationData = toBuffer(data);
      this.#send({ type: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties });
    } catch (error) {
      const failure = new MqttError(ReasonCode.NotAuthorized, 'authentication failed in onAuth', { cause: error });
      this.#protocolError(link, failure);
    }
  }

  #onPublish(link: Link, packet: PublishPacket): void {
    let topic = packet.topic;
    if (this.protocolVersion === 5) {
      topic = this.#inboundAliases.resolve(topic, packet.properties?.topicAlias);
    }
    if (packet.qos === 2) {
      // [MQTT-4.3.3-9] exactly once: a re-sent PUBLISH whose id awaits PUBREL is acknowledged, not delivered
      const known = this.#inboundQos2.has(packet.packetId as number);
      // [MQTT-3.3.4-9] the server keeps within our Receive Maximum; QoS 1 is acknowledged at once,
      // so the QoS 2 messages awaiting PUBREL are what is in flight towards us.
      const receiveMaximum = this.#options.receiveMaximum;
      if (
        !known &&
        receiveMaximum !== undefined &&
        this.protocolVersion === 5 &&
        this.#inboundQos2.size >= receiveMaximum
      ) {
        throw new MqttError(ReasonCode.ReceiveMaximumExceeded, `more than ${receiveMaximum} QoS 2 messages in flight`);
      }
      this.#send({ type: 'pubrec', packetId: packet.packetId as number });
      if (known) return;
      this.#inboundQos2.add(packet.packetId as number);
    } else if (packet.qos === 1) {
      this.#send({ type: 'puback', packetId: packet.packetId as number });
    }
    if (link.closed) return;
    this.#deliver(topic, packet);
  }

  #deliver(topic: string, packet: PublishPacket): void {
    const message: Message = {
      topic,
      // The decoder's payload is a view into the socket chunk; the user keeps a copy.
      payload: Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
    };
    if (packet.packetId !== undefined) message.packetId = packet.packetId;
    const source = packet.properties;
    if (source) {
      const { topicAlias: _, ...properties } = source;
      if (properties.correlationData) properties.correlationData = Buffer.from(properties.correlationData);
      message.properties = properties;
      this.#responses.match(message);
    }
    if (this.#held) this.#held.push(message);
    else this.#emitMessage(message);
  }

  #emitMessage(message: Message): void {
    this.emit('message', message);
    for (const stream of this.#streams) stream.push(message);
  }

  #releaseHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held && this.#state !== 'closed') for (const message of held) this.#emitMessage(message);
  }

  #onPubrel(packetId: number): void {
    const known = this.#inboundQos2.delete(packetId);
    // [MQTT-4.3.3-11] PUBCOMP with the same id; MQTT 5 says when the id was unknown
    if (known || this.protocolVersion !== 5) this.#send({ type: 'pubcomp', packetId });
    else this.#send({ type: 'pubcomp', packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
  }

  #onRequestAck(packet: SubackPacket | UnsubackPacket): void {
    const request = this.#requests.get(packet.packetId);
    if (!request || (packet.type === 'suback') !== (request.packet.type === 'subscribe')) return;
    this.#requests.delete(packet.packetId);
    this.#ids.release(packet.packetId);
    request.resolve(packet);
    // A freed packet identifier may be what a queued publish was waiting for.
    this.#outbound.drain();
  }

  // --- Outbound -------------------------------------------------------------------------------

  #sendRequest(packet: SubscribePacket | UnsubscribePacket): Promise<SubackPacket | UnsubackPacket> {
    return new Promise((resolve, reject) => {
      if (this.#state === 'closed') throw new MqttError(ReasonCode.UnspecifiedError, 'the client is closed');
      packet.packetId = this.#ids.allocate();
      this.#requests.set(packet.packetId, { packet, resolve, reject });
      if (this.#state === 'connected') this.#send(packet);
    });
  }

  /** Queues a packet for the current tick's write. */
  #send(packet: Packet): void {
    const link = this.#link;
    if (!link?.transport || link.closed) return;
    this.#outbox.push(encode(packet, this.protocolVersion));
    this.#keepAlive.lastWrite = this.#clock.now();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #flushNow(): void {
    this.#flushScheduled = false;
    const chunks = this.#outbox;
    if (chunks.length === 0) return;
    this.#outbox = [];
    const link = this.#link;
    // A full socket buffer holds back the QoS 0 promises until it drains: `await publish()` in a
    // loop then runs at the speed of the network instead of filling memory.
    if (link?.transport && !link.closed && !link.transport.write(chunks)) this.#blocked = true;
    const afterFlush = this.#afterFlush;
    if (afterFlush.length === 0) return;
    this.#afterFlush = [];
    if (this.#blocked) {
      for (const done of afterFlush) this.#afterDrain.push(done);
      return;
    }
    for (const done of afterFlush) done();
  }

  #onDrain(link: Link): void {
    if (this.#link !== link) return;
    this.#blocked = false;
    const afterDrain = this.#afterDrain;
    this.#afterDrain = [];
    for (const done of afterDrain) done();
  }

  // --- Helpers --------------------------------------------------------------------------------

  async #ensureResponseTopic(): Promise<string> {
    const current = this.#responses.topic;
    if (current && this.#subscriptions.has(current)) return current;
    if (!this.#responseSubscribing) {
      const base =
        this.#serverProperties.responseInformation ?? this.#options.responseTopicPrefix ?? 'starling/responses';
      const topic = `${base}/${this.#clientId.replace(/[+#/]/g, '_')}`;
      this.#responses.topic = topic;
      this.#responseSubscribing = this.subscribe(topic, { qos: 1 }).then(
        (codes) => {
          this.#responseSubscribing = undefined;
          if ((codes[0] ?? 0x80) >= 0x80) {
            throw new MqttError(codes[0] ?? 0x80, `cannot subscribe to the response topic ${topic}`);
          }
        },
        (error) => {
          this.#responseSubscribing = undefined;
          throw error;
        },
      );
    }
    await this.#responseSubscribing;
    return this.#responses.topic as string;
  }

  #randomHex(bytes: number): string {
    let out = '';
    for (let i = 0; i < bytes; i++)
      out += Math.floor(this.#random() * 256)
        .toString(16)
        .padStart(2, '0');
    return out;
  }
}
