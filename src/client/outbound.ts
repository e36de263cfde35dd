// Outgoing PUBLISH flows: the queue of messages waiting for a connection or for send quota, the
// in-flight window bounded by the server's Receive Maximum, topic alias assignment, and what
// becomes of each flow when a connection ends and the next one starts.

import { MqttError } from '../protocol/errors.js';
import type { Packet, Properties, PublishPacket } from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { PacketIdAllocator } from './packet-ids.js';
import { reasonText } from './reason-text.js';
import { OutboundTopicAliases } from './topic-alias.js';

/** An outgoing QoS flow, as in Mosquitto's mosq_ms_* states ([MQTT-4.3]). */
export type OutboundState = 'queued' | 'awaitPuback' | 'awaitPubrec' | 'awaitPubcomp';

interface OutboundPublish {
  state: OutboundState;
  /** The packet with its full topic and no topic alias; the id is set when the flow starts. */
  packet: PublishPacket;
  explicitAlias: number | undefined;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** What the flows need from the client around them. */
export interface OutboundHost {
  isConnected(): boolean;
  /** Queues a packet for this tick's write. */
  send(packet: Packet): void;
  /** Calls `done` once the packets queued so far are handed to the transport. */
  afterFlush(done: () => void): void;
}

export class OutboundPublishes {
  readonly aliases = new OutboundTopicAliases();
  readonly #ids: PacketIdAllocator;
  readonly #host: OutboundHost;
  readonly #maxQueued: number;
  /** In send order: Map keeps insertion order, which is the order to re-send in. */
  readonly #inflight = new Map<number, OutboundPublish>();
  #queue: OutboundPublish[] = [];
  #receiveMaximum = 65535;

  constructor(ids: PacketIdAllocator, host: OutboundHost, maxQueued: number) {
    this.#ids = ids;
    this.#host = host;
    this.#maxQueued = maxQueued;
  }

  get inflightCount(): number {
    return this.#inflight.size;
  }

  get queuedCount(): number {
    return this.#queue.length;
  }

  /**
   * Starts a publish now when connected and within quota, otherwise queues it; throws MqttError
   * 0x97 Quota exceeded when the queue is full.
   */
  submit(
    packet: PublishPacket,
    explicitAlias: number | undefined,
    resolve: () => void,
    reject: (e: Error) => void,
  ): void {
    const flow: OutboundPublish = { state: 'queued', packet, explicitAlias, resolve, reject };
    if (this.#host.isConnected() && this.#queue.length === 0 && (packet.qos === 0 || this.#hasQuota())) {
      this.#start(flow);
      return;
    }
    if (this.#queue.length >= this.#maxQueued) {
      throw new MqttError(ReasonCode.QuotaExceeded, `${this.#queue.length} messages are queued already`);
    }
    this.#queue.push(flow);
  }

  /**
   * A new connection is up. With the session present, unacknowledged PUBLISH (with DUP) and PUBREL
   * go again with their original ids ([MQTT-4.4.0-1]). Without it ([MQTT-3.2.2-5]) our session
   * state is discarded: messages the server had not acknowledged start again as new publishes,
   * and a QoS 2 message awaiting PUBCOMP had been received by the server, so its flow is complete.
   */
  resume(sessionPresent: boolean, receiveMaximum: number, aliasMaximum: number): void {
    this.#receiveMaximum = receiveMaximum;
    this.aliases.reset(aliasMaximum);
    if (sessionPresent) {
      for (const flow of this.#inflight.values()) {
        if (flow.state === 'awaitPubcomp')
          this.#host.send({ type: 'pubrel', packetId: flow.packet.packetId as number });
        else this.#write(flow, true);
      }
    } else {
      const restart: OutboundPublish[] = [];
      for (const [id, flow] of this.#inflight) {
        this.#ids.release(id);
        if (flow.state === 'awaitPubcomp') {
          flow.resolve();
          continue;
        }
        flow.state = 'queued';
        delete flow.packet.packetId;
        restart.push(flow);
      }
      this.#inflight.clear();
      this.#queue = restart.concat(this.#queue);
    }
    this.drain();
  }

  /** PUBACK, PUBREC or PUBCOMP from the server. */
  acknowledge(
    type: 'puback' | 'pubrec' | 'pubcomp',
    packetId: number,
    reasonCode: number,
    properties?: Properties,
  ): void {
    const flow = this.#inflight.get(packetId);
    const expected = type === 'puback' ? 'awaitPuback' : type === 'pubrec' ? 'awaitPubrec' : 'awaitPubcomp';
    if (!flow || flow.state !== expected) {
      if (type === 'pubrec' && flow?.state === 'awaitPubcomp') {
        // A PUBREC for a message already released: the PUBREL was lost, send it again.
        this.#host.send({ type: 'pubrel', packetId });
      } else if (type === 'pubrec' && !flow) {
        // An id we do not know: release it on the server's side (MQTT 5 says why, 3.1.1 ignores the code).
        this.#host.send({ type: 'pubrel', packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
      }
      return;
    }
    if (type === 'pubrec' && reasonCode < 0x80) {
      flow.state = 'awaitPubcomp';
      this.#host.send({ type: 'pubrel', packetId });
      return;
    }
    // §4.3.2, §4.3.3, [MQTT-4.4.0-2]: PUBACK, PUBCOMP or a failed PUBREC end the flow and free the id
    this.#inflight.delete(packetId);
    this.#ids.release(packetId);
    if (reasonCode >= 0x80) {
      const text = properties?.reasonString ?? reasonText(reasonCode);
      flow.reject(new MqttError(reasonCode, `the server refused the message on '${flow.packet.topic}': ${text}`));
    } else {
      flow.resolve();
    }
    this.drain();
  }

  /** Starts queued publishes while connected and within the server's Receive Maximum ([MQTT-3.3.4-7]). */
  drain(): void {
    while (this.#host.isConnected() && this.#queue.length > 0) {
      const next = this.#queue[0] as OutboundPublish;
      if (next.packet.qos > 0 && !this.#hasQuota()) return;
      this.#queue.shift();
      this.#start(next);
    }
  }

  /** The client is closed for good. */
  rejectAll(error: Error): void {
    for (const flow of this.#inflight.values()) flow.reject(error);
    this.#inflight.clear();
    for (const flow of this.#queue) flow.reject(error);
    this.#queue = [];
  }

  #hasQuota(): boolean {
    return this.#inflight.size < this.#receiveMaximum && this.#ids.size < 65535;
  }

  #start(flow: OutboundPublish): void {
    const qos = flow.packet.qos;
    if (qos === 0) {
      this.#write(flow, false);
      this.#host.afterFlush(flow.resolve);
      return;
    }
    const packetId = this.#ids.allocate();
    flow.packet.packetId = packetId;
    flow.state = qos === 1 ? 'awaitPuback' : 'awaitPubrec';
    this.#inflight.set(packetId, flow);
    this.#write(flow, false);
  }

  #write(flow: OutboundPublish, dup: boolean): void {
    let packet = flow.packet;
    if (dup) {
      // [MQTT-3.3.1-1] DUP on a re-delivery; aliases belong to the old connection, so the full topic goes.
      packet = { ...packet, dup: true };
    } else if (flow.explicitAlias !== undefined) {
      this.aliases.set(flow.explicitAlias, packet.topic);
      packet = { ...packet, properties: { ...packet.properties, topicAlias: flow.explicitAlias } };
    } else if (this.aliases.maximum > 0) {
      const assigned = this.aliases.assign(packet.topic);
      if (assigned) {
        packet = {
          ...packet,
          topic: assigned.known ? '' : packet.topic,
          properties: { ...packet.properties, topicAlias: assigned.alias },
        };
      }
    }
    this.#host.send(packet);
  }
}
