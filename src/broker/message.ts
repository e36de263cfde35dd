import type { EncodedPublish } from '../protocol/encoder.js';
import type { Properties, QoS } from '../protocol/packets.js';
import type { StoredMessage } from '../store/types.js';
import type { Connection } from './connection.js';

/**
 * What a publisher's QoS 1 acknowledgement still waits for, besides a store commit: the sessions whose in-flight row
 * of the message is its only durable copy (`pending`). Each one's client acknowledging the message meets its part;
 * when none is left, the message is delivered everywhere it had to be kept, and the acknowledgement may leave without
 * waiting for the commit. `needsCommit` (a queued copy) means only the commit will do.
 */
export interface AckObligation {
  pending: number;
  needsCommit: boolean;
  /** The acknowledgement and the connection holding it (set when it is queued there). */
  bytes: Buffer | undefined;
  connection: Connection | undefined;
}

/**
 * One application message on its way through the broker, shared by every subscriber it is routed to.
 * The encoded forms are cached here so that a fan-out encodes each distinct form once (DESIGN.md, hot path).
 */
export interface Message {
  topic: string;
  /** A view into the publisher's socket chunk until `owned`; see ownPayload(). */
  payload: Buffer;
  owned: boolean;
  /** QoS as published. */
  qos: QoS;
  /** RETAIN flag as published. */
  retain: boolean;
  /** Properties to forward: without Topic Alias, Subscription Identifiers and Message Expiry Interval. */
  properties: Properties | undefined;
  /** Absolute Message Expiry deadline (ms); undefined = never. */
  expiresAt: number | undefined;
  /** Client id of the publisher, for No Local; undefined for the broker's own messages. */
  origin: string | undefined;
  /** The first encoded PUBLISH form and its formIndex(v5, qos, retain): most messages need only one. */
  form: EncodedPublish | undefined;
  formKey: number;
  /** Further forms by formIndex, allocated when a second distinct form is needed. */
  forms: (EncodedPublish | undefined)[] | undefined;
  /** The store's view of the message, made once when first persisted. */
  stored: StoredMessage | undefined;
  /** While a client's QoS 1 message is routed: it may be acknowledged before the commit (see AckObligation). */
  ackable: boolean;
  obligation: AckObligation | undefined;
}

/** Cache slot of an encoded form: protocol family (3/4 share a form) x delivery QoS x RETAIN flag. */
export function formIndex(v5: boolean, qos: QoS, retain: boolean): number {
  return (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
}

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
  expiresAt: number | undefined,
  origin: string | undefined,
  owned: boolean,
): Message {
  return {
    topic,
    payload,
    owned,
    qos,
    retain,
    properties,
    expiresAt,
    origin,
    form: undefined,
    formKey: -1,
    forms: undefined,
    stored: undefined,
    ackable: false,
    obligation: undefined,
  };
}

/** The message's obligation while it is routed, made when a first session needs one. */
export function obligationOf(message: Message): AckObligation {
  let obligation = message.obligation;
  if (obligation === undefined) {
    obligation = { pending: 0, needsCommit: false, bytes: undefined, connection: undefined };
    message.obligation = obligation;
  }
  return obligation;
}

/**
 * Forgets the encoded forms once a fan-out is done: a message that stays (queued, in flight, retained) then holds
 * its payload once, which is what maxQueuedBytes counts, instead of up to a dozen encodings of it.
 */
export function dropForms(message: Message): void {
  if (message.formKey < 0) return;
  message.form = undefined;
  message.formKey = -1;
  message.forms = undefined;
}

/** Copies the payload out of the socket chunk, once, before the message is kept past this tick. */
export function ownPayload(message: Message): void {
  if (message.owned) return;
  message.payload = Buffer.from(message.payload);
  message.owned = true;
}

/** Properties of an inbound PUBLISH that are forwarded; the per-hop ones are dropped. */
export function forwardedProperties(properties: Properties | undefined): Properties | undefined {
  if (!properties) return undefined;
  const { topicAlias, subscriptionIdentifiers, messageExpiryInterval, ...rest } = properties;
  for (const _ in rest) return rest;
  return undefined;
}

export function toStored(message: Message): StoredMessage {
  if (message.stored) return message.stored;
  ownPayload(message);
  const stored: StoredMessage = {
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
  };
  if (message.properties) stored.properties = message.properties;
  if (message.expiresAt !== undefined) stored.expiresAt = message.expiresAt;
  message.stored = stored;
  return stored;
}

export function fromStored(stored: StoredMessage, origin?: string): Message {
  const message = createMessage(
    stored.topic,
    stored.payload,
    stored.qos,
    stored.retain,
    stored.properties,
    stored.expiresAt,
    origin,
    true,
  );
  message.stored = stored;
  return message;
}

/** Seconds of Message Expiry left, rounded up; 0 means expired. */
export function remainingExpiry(message: Message, now: number): number {
  if (message.expiresAt === undefined) return 0xffffffff;
  const ms = message.expiresAt - now;
  return ms <= 0 ? 0 : Math.ceil(ms / 1000);
}

/** Approximate memory a queued message holds, for maxQueuedBytes. */
export function messageBytes(message: Message): number {
  return message.payload.length + message.topic.length + 64;
}
