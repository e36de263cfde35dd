import type { Duplex } from 'node:stream';
import { Decoder } from '../protocol/decoder.js';
import { encode, encodePublishShared, takeWithPacketId } from '../protocol/encoder.js';
import { MqttError } from '../protocol/errors.js';
import type { Packet, Properties, ProtocolVersion, PublishPacket, QoS } from '../protocol/packets.js';
import { connackReturnCodeFor, ReasonCode, reasonName } from '../protocol/reason-codes.js';
import type { StoredWill } from '../store/types.js';
import type { Broker, ConnectionMeta } from './broker.js';
import { handleAuth } from './handlers/auth.js';
import { handleConnect } from './handlers/connect.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handlePingreq } from './handlers/pingreq.js';
import { handlePuback } from './handlers/puback.js';
import { handlePubcomp } from './handlers/pubcomp.js';
import { handlePublish } from './handlers/publish.js';
import { handlePubrec } from './handlers/pubrec.js';
import { handlePubrel } from './handlers/pubrel.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import type { AuthEvent, AuthResult, HookClient } from './hooks.js';
import type { KeepAliveTarget } from './keep-alive.js';
import { InputThrottle } from './limits.js';
import { type AckObligation, formIndex, type Message } from './message.js';
import type { Session } from './session.js';

export type ConnectionState = 'awaitConnect' | 'authenticating' | 'connected' | 'closed';

const NO_LIMIT = 268_435_460;
/** The stream property that leads the shared stream listeners to their connection. */
const CONNECTION = Symbol('starling.connection');
type Carrier = Duplex & { [CONNECTION]?: Connection };
/** Input paused because the connection's own output is not draining. */
const INPUT_OUTPUT_FULL = 1;
/** Input paused by the message rate or bandwidth limit. */
const INPUT_THROTTLED = 2;
/** An acknowledgement queue entry's flags: an inbound QoS 1 (Receive Maximum), and one that waits for a commit. */
const ACK_QOS1 = 1;
const ACK_COMMIT = 2;
type PendingAck = Buffer | (() => void) | AckObligation;
/** Packets below this size are copied into one buffer per write rather than given a Writable entry each. */
const SMALL_PACKET = 4096;

/**
 * One network connection's protocol state machine: bytes in through the decoder, one dispatch switch to a
 * handler per packet type, and outgoing packets collected and written once per tick.
 */
export class Connection implements KeepAliveTarget {
  readonly broker: Broker;
  readonly stream: Duplex;
  readonly meta: ConnectionMeta;
  readonly decoder: Decoder<Connection>;
  state: ConnectionState = 'awaitConnect';
  version: ProtocolVersion = 4;
  clientId = '';
  username: string | undefined;
  session: Session | undefined;
  /** What hooks see of the client: undefined before CONNECT got that far, null until first asked for. */
  #hookClient: HookClient | null | undefined;
  /** Keep Alive bookkeeping for the broker's sweep (0: not enforced). */
  lastActivity = 0;
  keepAliveLimitMs = 0;
  /** Session Expiry Interval the CONNECT asked for (0 forbids setting one on DISCONNECT [MQTT-3.14.2-2]). */
  connectSessionExpiry = 0;

  // What the client told us in CONNECT (MQTT 5), defaults per spec.
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = NO_LIMIT;
  clientTopicAliasMaximum = 0;
  /** Request Problem Information: when false, no Reason String / User Properties except on PUBLISH, CONNACK, DISCONNECT. */
  problemInformation = true;

  will: StoredWill | undefined;
  /** The reason code of a DISCONNECT received (undefined: connection dropped). */
  disconnectReason: number | undefined;
  /** Set when another connection took the session over; true when that one started clean. */
  takenOver: { clean: boolean } | undefined;
  /** Authentication Method of an enhanced authentication in progress or done. */
  authMethod: string | undefined;
  /** A re-authentication (AUTH 0x19 from the client) is in progress: only then may the client send AUTH 0x18. */
  reauthenticating = false;
  /** The next step of an enhanced authentication exchange (set by the CONNECT and AUTH handlers). */
  continueAuth: ((result: AuthResult | undefined) => void) | undefined;
  /** Packets received while CONNECT is being authenticated, handled once CONNACK is sent. */
  pendingPackets: Packet[] | undefined;

  /** Inbound topic aliases (MQTT 5 section 3.3.2.3.4), created on first use. */
  inboundAliases: Map<number, string> | undefined;
  /** Outbound topic aliases, when the client allows them. */
  outboundAliases: Map<string, number> | undefined;
  /** Inbound QoS 1 messages whose PUBACK awaits a store commit (they count toward our Receive Maximum). */
  inboundQos1 = 0;

  // Created on first use and dropped when empty: an idle connection holds no arrays (issue #7).
  #out: Buffer[] | undefined;
  #outBytes = 0;
  #flushScheduled = false;
  /**
   * Acknowledgements (bytes, or an obligation that holds them), and follow-ups (functions) that wait, in order;
   * the first not yet sent is at #ackHead. They leave in the order of their packets (section 4.6) when a store commit
   * covers them, or earlier when nothing before them waits and they need no commit (any more).
   */
  #acks: PendingAck[] | undefined;
  /** Per entry: ACK_QOS1 (an inbound QoS 1, counted in inboundQos1), ACK_COMMIT (waits for a store commit). */
  #ackFlags: number[] | undefined;
  #ackHead = 0;
  /** A store commit is in progress for the entries before #commitEnd. */
  #committing = false;
  #sendingAcks = false;
  #commitEnd = 0;
  #onCommittedFn: (() => void) | undefined;
  #onCommitFailedFn: ((error: unknown) => void) | undefined;
  /** Why reading is paused (bits: INPUT_OUTPUT_FULL, INPUT_THROTTLED); 0 = reading. */
  #inputPaused = 0;
  /** maxPublishRate / maxBytesPerSecond bookkeeping, created after CONNACK when a limit is set. */
  #throttle: InputThrottle | undefined;
  #throttleTimer: NodeJS.Timeout | undefined;
  /** PUBLISH packets decoded from the current chunk, for the rate limit. */
  #publishesInChunk = 0;
  #connectTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(broker: Broker, stream: Duplex, meta: ConnectionMeta) {
    this.broker = broker;
    this.stream = stream;
    this.meta = meta;
    // Until CONNACK, only a CONNECT-sized packet is accepted: an unauthenticated peer cannot make us buffer more.
    const config = broker.config;
    this.decoder = new Decoder<Connection>(
      Connection.#dispatch,
      { maximumPacketSize: Math.min(config.maxPacketSize, config.maxConnectPacketSize) },
      this,
    );
    // One set of listener functions for every connection, finding theirs on the stream: no closures per connection.
    (stream as Carrier)[CONNECTION] = this;
    stream.on('data', Connection.#onStreamData);
    stream.on('end', Connection.#onStreamEnd);
    stream.on('error', Connection.#onStreamError);
    stream.on('close', Connection.#onStreamClose);
    stream.on('drain', Connection.#onStreamDrain);
    // Writes are already batched per tick: Nagle's algorithm would only add latency.
    (stream as Duplex & { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    // A connection that sends no CONNECT in time is closed (MQTT 3.1.4 non-normative, Mosquitto and EMQX do it).
    this.#connectTimer = setTimeout(Connection.#onConnectTimeout, broker.config.connectTimeoutMs, this);
    this.#connectTimer.unref?.();
  }

  /** The client as hooks and 'published' observers see it; undefined until its CONNECT was accepted for processing. */
  get hookClient(): HookClient | undefined {
    if (this.#hookClient !== null) return this.#hookClient;
    const client: HookClient = {
      clientId: this.clientId,
      username: this.username,
      protocolVersion: this.version,
      remoteAddress: this.meta.remoteAddress,
      listener: this.meta.listener,
    };
    this.#hookClient = client;
    return client;
  }

  /** From now on hooks may ask for the client (made on first use: most connections never meet a hook). */
  describeClient(): void {
    if (this.#hookClient === undefined) this.#hookClient = null;
  }

  /** The username authentication settled on. */
  setUsername(username: string | undefined): void {
    this.username = username;
    if (this.#hookClient) this.#hookClient.username = username;
  }

  /** Connected: CONNACK sent, packets flow. */
  get ready(): boolean {
    return this.state === 'connected';
  }

  /** Room in the socket for more deliveries (explicit backpressure, DESIGN.md). */
  canWrite(): boolean {
    return this.#outBytes + this.stream.writableLength < this.broker.config.maxWriteBufferBytes;
  }

  clearConnectTimer(): void {
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
  }

  /** Queues a packet's bytes; everything queued in one tick is written together. */
  sendBytes(bytes: Buffer): void {
    if (this.#out === undefined) this.#out = [bytes];
    else this.#out.push(bytes);
    this.#outBytes += bytes.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(Connection.#flushTick, this);
    }
  }

  send(packet: Packet): void {
    if (this.state === 'closed') return;
    const bytes = this.encodeForClient(packet);
    if (bytes) this.sendBytes(bytes);
  }

  /**
   * Encodes a packet other than PUBLISH within the client's Maximum Packet Size: [MQTT-3.4.2-2] and its siblings
   * leave out Reason String and User Properties rather than exceed it. Undefined when even that does not fit.
   */
  encodeForClient(packet: Packet): Buffer | undefined {
    const bytes = encode(packet, this.version);
    if (bytes.length <= this.clientMaximumPacketSize) return bytes;
    if (!('properties' in packet) || !packet.properties) return undefined;
    const { reasonString, userProperties, ...rest } = packet.properties;
    const trimmed = encode({ ...packet, properties: rest } as Packet, this.version);
    return trimmed.length <= this.clientMaximumPacketSize ? trimmed : undefined;
  }

  /**
   * A PUBACK/PUBREC that may have to wait for the store to commit the message it acknowledges. With an
   * `obligation` (a QoS 1 message whose only durable copies are in-flight rows of sessions) it may leave before the
   * commit: as soon as every one of those sessions' clients has acknowledged the message, it is delivered and
   * nothing is left to lose.
   */
  sendAck(bytes: Buffer, needsCommit: boolean, qos1: boolean, obligation?: AckObligation): void {
    if (!needsCommit && this.#acks === undefined) {
      this.sendBytes(bytes);
      return;
    }
    if (qos1) this.inboundQos1++;
    let entry: PendingAck = bytes;
    if (obligation !== undefined && needsCommit && !obligation.needsCommit) {
      obligation.bytes = bytes;
      obligation.connection = this;
      entry = obligation;
    }
    this.#pushAck(entry, (qos1 ? ACK_QOS1 : 0) | (needsCommit ? ACK_COMMIT : 0));
  }

  /** Runs `action` once the acknowledgements queued before it are sent (at once when none wait). */
  afterAcks(action: () => void): void {
    if (this.#acks === undefined) {
      action();
      return;
    }
    this.#pushAck(action, 0);
  }

  #pushAck(entry: PendingAck, flags: number): void {
    if (this.#acks === undefined) {
      this.#acks = [entry];
      this.#ackFlags = [flags];
      this.#ackHead = 0;
    } else {
      this.#acks.push(entry);
      this.#ackFlags!.push(flags);
    }
  }

  /** An obligation of an acknowledgement queued here is met: send what may leave now. */
  releaseAcks(): void {
    if (this.state === 'closed' || this.#acks === undefined) return;
    try {
      this.#sendAcks(0);
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Sends the waiting entries in order: all those before `committedEnd` (a commit covers them), then those that need
   * no commit or whose obligation is met, up to the first that still waits.
   */
  #sendAcks(committedEnd: number): void {
    // A follow-up that meets an obligation calls back in here: the loop below already re-checks every entry.
    if (this.#sendingAcks) return;
    this.#sendingAcks = true;
    try {
      this.#sendAcksInOrder(committedEnd);
    } finally {
      this.#sendingAcks = false;
    }
  }

  #sendAcksInOrder(committedEnd: number): void {
    const acks = this.#acks!;
    const flags = this.#ackFlags!;
    let head = this.#ackHead;
    while (head < acks.length) {
      const entry = acks[head]!;
      const flag = flags[head]!;
      if (head >= committedEnd && (flag & ACK_COMMIT) !== 0) {
        const obligation = entry as AckObligation;
        if (obligation.pending === undefined || obligation.pending > 0 || obligation.needsCommit) break;
      }
      acks[head] = undefined as unknown as PendingAck;
      head++;
      this.#ackHead = head;
      if ((flag & ACK_QOS1) !== 0) this.inboundQos1--;
      if (typeof entry === 'function') entry();
      else this.sendBytes(Buffer.isBuffer(entry) ? entry : entry.bytes!);
      if (this.#acks !== acks) return; // the connection closed in a follow-up
    }
    if (head === acks.length) {
      this.#acks = undefined;
      this.#ackFlags = undefined;
      this.#ackHead = 0;
      this.#commitEnd = 0;
    } else if (head > 1024 && head * 2 > acks.length) {
      acks.splice(0, head);
      flags.splice(0, head);
      this.#ackHead = 0;
      this.#commitEnd = Math.max(0, this.#commitEnd - head);
    }
  }

  /**
   * Sends a PUBLISH to this client. Encodes once per distinct form and shares the bytes (DESIGN.md), except when
   * the packet carries per-client parts (subscription identifiers, remaining expiry, a topic alias).
   * Returns false when the packet exceeds the client's Maximum Packet Size and was dropped [MQTT-3.1.2-25].
   */
  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIdentifiers: number[] | undefined,
    packetId: number,
    dup: boolean,
  ): boolean {
    if (this.state === 'closed') return false;
    const v5 = this.version === 5;
    let bytes: Buffer;
    let alias: { topic: string; alias: number } | undefined;
    if (
      !v5 ||
      (subscriptionIdentifiers === undefined && message.expiresAt === undefined && this.clientTopicAliasMaximum === 0)
    ) {
      const index = formIndex(v5, qos, retain);
      let form = message.formKey === index ? message.form : message.forms?.[index];
      if (!form) {
        form = encodePublishShared(
          {
            type: 'publish',
            topic: message.topic,
            payload: message.payload,
            qos,
            retain,
            dup: false,
            properties: v5 ? message.properties : undefined,
          },
          v5 ? 5 : 4,
        );
        if (message.formKey < 0) {
          message.form = form;
          message.formKey = index;
        } else {
          if (!message.forms) message.forms = new Array(12);
          message.forms[index] = form;
        }
      }
      bytes = qos === 0 ? form.bytes : takeWithPacketId(form, packetId, dup);
    } else {
      const properties: Properties = message.properties ? { ...message.properties } : {};
      if (subscriptionIdentifiers) properties.subscriptionIdentifiers = subscriptionIdentifiers;
      if (message.expiresAt !== undefined) {
        const ms = message.expiresAt - this.broker.clock.now();
        if (ms <= 0 && !dup) {
          // [MQTT-3.3.2-5] expired before onward delivery started.
          this.broker.countDropped();
          return false;
        }
        // [MQTT-3.3.2-6] the interval sent is the received one minus the time waited.
        properties.messageExpiryInterval = ms <= 0 ? 1 : Math.ceil(ms / 1000);
      }
      let topic = message.topic;
      if (this.clientTopicAliasMaximum > 0) {
        if (!this.outboundAliases) this.outboundAliases = new Map();
        const aliases = this.outboundAliases;
        const existing = aliases.get(topic);
        if (existing !== undefined) {
          properties.topicAlias = existing;
          topic = '';
        } else if (aliases.size < this.clientTopicAliasMaximum) {
          alias = { topic, alias: aliases.size + 1 };
          properties.topicAlias = alias.alias;
        }
      }
      const packet: PublishPacket = { type: 'publish', topic, payload: message.payload, qos, retain, dup, properties };
      if (qos > 0) packet.packetId = packetId;
      bytes = encode(packet, 5);
    }
    if (bytes.length > this.clientMaximumPacketSize) {
      // [MQTT-3.1.2-24] never send more than the client accepts; [MQTT-3.1.2-25] discard as if sent.
      this.broker.countDropped();
      return false;
    }
    if (alias) this.outboundAliases?.set(alias.topic, alias.alias);
    this.broker.stats.messagesSent++;
    this.sendBytes(bytes);
    return true;
  }

  sendPubrel(packetId: number, reasonCode = 0): void {
    this.send(reasonCode === 0 ? { type: 'pubrel', packetId } : { type: 'pubrel', packetId, reasonCode });
  }

  /** Reason String on acknowledgements only when the client allows problem information [MQTT-3.1.2-29]. */
  problemProperties(reasonString: string | undefined): Properties | undefined {
    if (this.version !== 5 || !this.problemInformation || !reasonString) return undefined;
    return { reasonString };
  }

  /**
   * Ends the connection for a reason: MQTT 5 gets DISCONNECT with the reason code [MQTT-4.13.1-1] (CONNACK if
   * before one was sent), MQTT 3.1.1 a plain close.
   */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected' && this.version === 5) {
      const packet: Packet = { type: 'disconnect', reasonCode };
      if (reasonString) packet.properties = { reasonString };
      this.send(packet);
    }
    this.end(reasonCode);
  }

  /** Refuses a CONNECT: CONNACK with the reason (3.1.1: the closest return code), then close. */
  refuse(reasonCode: number, properties?: Properties): void {
    if (this.state === 'closed') return;
    if (this.version === 5) {
      this.send({ type: 'connack', sessionPresent: false, reasonCode, properties });
    } else {
      this.send({ type: 'connack', sessionPresent: false, reasonCode: connackReturnCodeFor(reasonCode) });
    }
    this.end(reasonCode);
  }

  /** Flushes what is queued, half-closes, and tears the connection's state down now. */
  end(reasonCode: number | undefined): void {
    if (this.state === 'closed') return;
    this.#flush();
    this.#teardown(reasonCode);
    this.stream.end();
    // A peer that never closes its side is destroyed after a grace period.
    this.#closeTimer = setTimeout(() => this.stream.destroy(), 2000);
    this.#closeTimer.unref?.();
  }

  /** Handles packets that arrived during authentication, once CONNACK was sent. */
  replayPending(): void {
    const pending = this.pendingPackets;
    this.pendingPackets = undefined;
    if (!pending) return;
    try {
      for (const packet of pending) {
        if (this.state !== 'connected') return;
        this.#handle(packet);
      }
    } catch (error) {
      this.#fail(error);
    }
    this.#afterInput();
  }

  /** Starts Keep Alive enforcement after CONNACK (seconds; 0 = none). */
  startKeepAlive(seconds: number): void {
    if (seconds === 0) return;
    this.keepAliveLimitMs = seconds * 1500;
    this.lastActivity = this.broker.clock.now();
    this.broker.keepAlive.add(this);
  }

  keepAliveExpired(): void {
    this.broker.logger.info({ clientId: this.clientId }, 'closing connection: keep alive timeout');
    this.disconnect(ReasonCode.KeepAliveTimeout);
  }

  /** Runs the onAuth hook (sync or async) and hands its answer to continueAuth. */
  runAuth(event: AuthEvent): void {
    const hooks = this.broker.hooks;
    const step = this.continueAuth;
    if (!hooks.onAuth || !step) {
      step?.(undefined);
      return;
    }
    const next = (result: AuthResult | undefined): void => {
      try {
        step(result);
      } catch (error) {
        this.#fail(error);
      }
    };
    let result: ReturnType<NonNullable<typeof hooks.onAuth>>;
    try {
      result = hooks.onAuth(event);
    } catch (error) {
      this.broker.logger.error({ err: error, clientId: this.clientId }, 'onAuth hook failed');
      next({ action: 'fail', reasonCode: ReasonCode.UnspecifiedError });
      return;
    }
    if (result instanceof Promise) {
      result.then(next, (error: unknown) => {
        this.broker.logger.error({ err: error, clientId: this.clientId }, 'onAuth hook failed');
        next({ action: 'fail', reasonCode: ReasonCode.UnspecifiedError });
      });
    } else {
      next(result);
    }
  }

  /** Logs and closes after a protocol violation or an internal failure; only this connection is affected. */
  fail(error: unknown): void {
    this.#fail(error);
  }

  /** The decoder's packet callback, one function for every connection (no closure per connection). */
  static #dispatch(packet: Packet, connection: Connection): void {
    connection.#dispatchPacket(packet);
  }

  #dispatchPacket(packet: Packet): void {
    // Packets after a DISCONNECT or a refusal in the same chunk are not processed [MQTT-3.1.4-6].
    if (this.state === 'closed') return;
    if (this.state === 'authenticating') {
      if (packet.type === 'auth' || packet.type === 'disconnect') {
        this.#handle(packet);
        return;
      }
      if (packet.type === 'connect') throw new MqttError(ReasonCode.ProtocolError, '[MQTT-3.1.0-2] second CONNECT');
      if (this.authMethod !== undefined) {
        // [MQTT-3.1.2-30] during enhanced authentication only AUTH and DISCONNECT may precede CONNACK.
        throw new MqttError(
          ReasonCode.ProtocolError,
          `[MQTT-3.1.2-30] ${packet.type.toUpperCase()} during authentication`,
        );
      }
      if (!this.pendingPackets) this.pendingPackets = [];
      const pending = this.pendingPackets;
      if (pending.length >= 1000) throw new MqttError(ReasonCode.QuotaExceeded, 'too many packets before CONNACK');
      pending.push(packet);
      return;
    }
    this.#handle(packet);
  }

  #handle(packet: Packet): void {
    switch (packet.type) {
      case 'connect':
        handleConnect(this, packet);
        break;
      case 'publish':
        this.#publishesInChunk++;
        handlePublish(this, packet);
        break;
      case 'puback':
        handlePuback(this, packet);
        break;
      case 'pubrec':
        handlePubrec(this, packet);
        break;
      case 'pubrel':
        handlePubrel(this, packet);
        break;
      case 'pubcomp':
        handlePubcomp(this, packet);
        break;
      case 'subscribe':
        handleSubscribe(this, packet);
        break;
      case 'unsubscribe':
        handleUnsubscribe(this, packet);
        break;
      case 'pingreq':
        handlePingreq(this);
        break;
      case 'disconnect':
        handleDisconnect(this, packet);
        break;
      case 'auth':
        handleAuth(this, packet);
        break;
      default:
        // CONNACK, SUBACK, UNSUBACK, PINGRESP are sent by servers only.
        throw new MqttError(ReasonCode.ProtocolError, `a client may not send ${packet.type.toUpperCase()}`);
    }
  }

  static #onStreamData(this: Carrier, chunk: Buffer): void {
    // biome-ignore lint/complexity/noThisInStatic: EventEmitter calls its listeners with the stream as `this`.
    const connection = this[CONNECTION];
    if (connection) connection.#onData(chunk);
  }

  static #onStreamEnd(this: Carrier): void {
    // biome-ignore lint/complexity/noThisInStatic: EventEmitter calls its listeners with the stream as `this`.
    this[CONNECTION]?.end(undefined);
  }

  static #onStreamError(this: Carrier, error: Error): void {
    // biome-ignore lint/complexity/noThisInStatic: EventEmitter calls its listeners with the stream as `this`.
    const connection = this[CONNECTION];
    if (connection) connection.#onError(error);
  }

  static #onStreamClose(this: Carrier): void {
    // biome-ignore lint/complexity/noThisInStatic: EventEmitter calls its listeners with the stream as `this`.
    const connection = this[CONNECTION];
    if (connection) connection.#onClose();
  }

  static #onStreamDrain(this: Carrier): void {
    // biome-ignore lint/complexity/noThisInStatic: EventEmitter calls its listeners with the stream as `this`.
    const connection = this[CONNECTION];
    if (connection) connection.#onDrain();
  }

  static #flushTick(connection: Connection): void {
    connection.#flush();
  }

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    const broker = this.broker;
    broker.stats.bytesReceived += chunk.length;
    if (this.keepAliveLimitMs !== 0) this.lastActivity = broker.clock.now();
    try {
      this.decoder.push(chunk);
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#afterInput();
    const throttle = this.#throttle;
    if (throttle !== undefined) {
      const wait = throttle.take(broker.clock.now(), this.#publishesInChunk, chunk.length);
      if (wait > 0 && this.state === 'connected' && (this.#inputPaused & INPUT_THROTTLED) === 0) {
        broker.stats.inputThrottled++;
        this.#pauseInput(INPUT_THROTTLED);
        this.#throttleTimer = setTimeout(Connection.#onThrottleEnd, wait, this);
      }
    }
    this.#publishesInChunk = 0;
  }

  /** Starts the message rate and bandwidth limits (after CONNACK: the CONNECT itself is bounded by its size). */
  startThrottle(): void {
    const config = this.broker.config;
    if (config.maxPublishRate > 0 || config.maxBytesPerSecond > 0) {
      this.#throttle = new InputThrottle(config.maxPublishRate, config.maxBytesPerSecond);
    }
  }

  static #onThrottleEnd(connection: Connection): void {
    connection.#throttleTimer = undefined;
    connection.#resumeInput(INPUT_THROTTLED);
  }

  /** After a chunk: acknowledgements waiting for durability share one store commit. */
  #afterInput(): void {
    const acks = this.#acks;
    if (acks === undefined || this.#committing || this.state === 'closed') return;
    this.#committing = true;
    this.#commitEnd = acks.length;
    if (!this.#onCommittedFn) {
      // Made once, by connections that wait for commits (persistent sessions, QoS 1/2 publishers).
      this.#onCommittedFn = () => this.#onCommitted();
      this.#onCommitFailedFn = (error: unknown) => this.#onCommitFailed(error);
    }
    this.broker.store.commit().then(this.#onCommittedFn, this.#onCommitFailedFn);
  }

  #onCommitted(): void {
    this.#committing = false;
    const end = this.#commitEnd;
    this.#commitEnd = 0;
    if (this.#acks === undefined || this.state === 'closed') return;
    try {
      this.#sendAcks(end);
      this.#afterInput();
    } catch (error) {
      this.#fail(error);
    }
  }

  #onCommitFailed(error: unknown): void {
    this.#committing = false;
    this.broker.logger.error({ err: error, clientId: this.clientId }, 'store commit failed; closing the connection');
    this.broker.reportError(error);
    this.disconnect(ReasonCode.UnspecifiedError);
  }

  #fail(error: unknown): void {
    if (this.state === 'closed') return;
    const logger = this.broker.logger;
    if (error instanceof MqttError) {
      const code = error.reasonCode;
      logger.info(
        { clientId: this.clientId || undefined, remoteAddress: this.meta.remoteAddress, reason: reasonName(code) },
        `closing connection: ${error.message}`,
      );
      if (this.state === 'awaitConnect' || this.state === 'authenticating') {
        if (code === ReasonCode.UnsupportedProtocolVersion) {
          // [MQTT-3.1.2-2] refuse in a form the client reads: a CONNECT at level 5 (with a wrong protocol name) gets
          // the MQTT 5 CONNACK 0x84, every other level the 3.1.1 CONNACK 0x01, which 3.1 and 3.1.1 both define.
          this.version = this.decoder.unsupportedProtocol?.protocolLevel === 5 ? 5 : 4;
          this.refuse(ReasonCode.UnsupportedProtocolVersion);
          return;
        }
        if (this.state === 'authenticating' && this.version === 5) {
          this.refuse(code);
          return;
        }
        this.end(code);
        return;
      }
      this.disconnect(code);
      return;
    }
    logger.error({ err: error, clientId: this.clientId }, 'internal error while handling a packet');
    if (this.state === 'connected') this.disconnect(ReasonCode.ImplementationSpecificError);
    else this.end(ReasonCode.ImplementationSpecificError);
  }

  #flush(): void {
    this.#flushScheduled = false;
    const out = this.#out;
    if (out === undefined) return;
    const bytes = this.#outBytes;
    this.#out = undefined;
    this.#outBytes = 0;
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) return;
    this.broker.stats.bytesSent += bytes;
    if (out.length === 1) {
      stream.write(out[0]);
    } else if (bytes <= 16384) {
      // Small packets: one copy into one buffer is cheaper than a Writable entry per packet.
      stream.write(Buffer.concat(out, bytes));
    } else {
      // Large batches: one writev, large (shared) payloads as they are, runs of small packets copied together.
      stream.cork();
      let runStart = 0;
      let runBytes = 0;
      for (let i = 0; i < out.length; i++) {
        const packet = out[i];
        if (packet.length < SMALL_PACKET) {
          runBytes += packet.length;
          continue;
        }
        if (runBytes > 0) stream.write(joinRun(out, runStart, i, runBytes));
        stream.write(packet);
        runStart = i + 1;
        runBytes = 0;
      }
      if (runBytes > 0) stream.write(joinRun(out, runStart, out.length, runBytes));
      stream.uncork();
    }
    // A peer that does not read what it is owed is not read either: TCP then pushes back on it, and the
    // acknowledgements it keeps asking for cannot pile up here. Deliveries stop at maxWriteBufferBytes (canWrite),
    // so beyond that plus one packet the output is what the peer itself asked for.
    const config = this.broker.config;
    // Only once a write has said "wait" (writableNeedDrain), so that 'drain' is sure to come and resume reading.
    if (
      stream.writableLength > config.maxWriteBufferBytes + config.maxPacketSize &&
      stream.writableNeedDrain &&
      (this.#inputPaused & INPUT_OUTPUT_FULL) === 0
    ) {
      this.broker.stats.inputBlocked++;
      this.#pauseInput(INPUT_OUTPUT_FULL);
    }
  }

  #pauseInput(reason: number): void {
    if (this.#inputPaused === 0) this.stream.pause();
    this.#inputPaused |= reason;
  }

  #resumeInput(reason: number): void {
    if ((this.#inputPaused & reason) === 0) return;
    this.#inputPaused &= ~reason;
    if (this.#inputPaused === 0 && this.state !== 'closed') this.stream.resume();
  }

  #onDrain(): void {
    this.#resumeInput(INPUT_OUTPUT_FULL);
    try {
      this.session?.pump();
    } catch (error) {
      this.#fail(error);
    }
  }

  static #onConnectTimeout(connection: Connection): void {
    connection.#connectTimer = undefined;
    if (connection.state !== 'awaitConnect' && connection.state !== 'authenticating') return;
    connection.broker.logger.info(
      { remoteAddress: connection.meta.remoteAddress },
      'closing connection: no CONNECT in time',
    );
    connection.end(ReasonCode.MaximumConnectTime);
    connection.stream.destroy();
  }

  #onError(error: Error): void {
    this.broker.logger.debug({ err: error, clientId: this.clientId }, 'connection error');
    this.#teardown(undefined);
    this.stream.destroy();
  }

  #onClose(): void {
    this.#teardown(undefined);
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
  }

  #teardown(reasonCode: number | undefined): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.clearConnectTimer();
    if (this.#throttleTimer) clearTimeout(this.#throttleTimer);
    this.#throttleTimer = undefined;
    if (this.keepAliveLimitMs !== 0) this.broker.keepAlive.delete(this);
    this.#acks = undefined;
    this.#ackFlags = undefined;
    this.#ackHead = 0;
    this.#commitEnd = 0;
    this.broker.connectionClosed(this, wasConnected, reasonCode);
  }
}

function joinRun(out: Buffer[], start: number, end: number, bytes: number): Buffer {
  return end - start === 1 ? out[start] : Buffer.concat(out.slice(start, end), bytes);
}
