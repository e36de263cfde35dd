// The raw MQTT peer both the broker tests (RawClient) and the conformance suite (Peer) script packet by packet: it
// writes packets or bytes to the broker, decodes what the broker sends with Starling's codec, queues the packets for
// next()/expect() and keeps every byte, so a test can also assert on the wire itself.

import assert from 'node:assert/strict';
import { type Duplex, duplexPair } from 'node:stream';
import type { Broker, ConnectionMeta } from '../../src/broker/broker.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type {
  ConnackPacket,
  ConnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  Subscription,
} from '../../src/protocol/packets.js';

export type PacketOf<T extends Packet['type']> = Extract<Packet, { type: T }>;
type Waiter = { resolve: (p: Packet) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export interface PacketPeerOptions {
  /** How long next(), expect() and waitClosed() wait unless told. */
  waitMs: number;
  /** How long expectNothing() listens unless told. */
  quietMs: number;
  /** The client identifier of connectPacket() unless given. */
  clientId: string;
  /** The broker's end of an in-memory pair, dropped along with ours by destroy(). */
  peerEnd?: Duplex;
}

export class PacketPeer {
  readonly version: ProtocolVersion;
  /** Every chunk the broker wrote, in order. */
  readonly chunks: Buffer[] = [];
  /** Packets decoded and not yet taken by next(). */
  readonly queue: Packet[] = [];
  /** The first error our decoder raised on the broker's bytes (a broker that sends malformed packets). */
  decodeError: unknown;
  closed = false;
  readonly #socket: Duplex;
  readonly #options: PacketPeerOptions;
  readonly #decoder: Decoder;
  readonly #waiters: Waiter[] = [];
  readonly #closeWaiters: (() => void)[] = [];

  constructor(socket: Duplex, version: ProtocolVersion, options: PacketPeerOptions) {
    this.version = version;
    this.#socket = socket;
    this.#options = options;
    this.#decoder = new Decoder((packet) => this.#onPacket(packet), { protocolVersion: version });
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      if (this.decodeError !== undefined) return;
      try {
        this.#decoder.push(chunk);
      } catch (error) {
        this.decodeError = error;
      }
    });
    const onClosed = (): void => {
      if (this.closed) return;
      this.closed = true;
      for (const waiter of this.#waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('connection closed'));
      }
      for (const wake of this.#closeWaiters.splice(0)) wake();
    };
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', () => {});
  }

  /** All bytes received so far. */
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  send(packet: Packet): void {
    this.sendRaw(encode(packet, this.version));
  }

  sendRaw(bytes: Buffer | number[]): void {
    if (this.#socket.writableEnded || this.#socket.destroyed) return;
    this.#socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** The next packet the broker sends (within `timeoutMs`). */
  next(timeoutMs = this.#options.waitMs): Promise<Packet> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new Error(`no packet within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** The next packet, asserted to be of `type`. */
  async expect<T extends Packet['type']>(type: T, timeoutMs = this.#options.waitMs): Promise<PacketOf<T>> {
    const packet = await this.next(timeoutMs);
    assert.equal(packet.type, type, `expected ${type}, got ${describe(packet)}`);
    return packet as PacketOf<T>;
  }

  /** Asserts that no packet arrives within `ms`. */
  async expectNothing(ms = this.#options.quietMs): Promise<void> {
    await delay(ms);
    assert.equal(this.queue.length, 0, `unexpected ${this.queue[0] ? describe(this.queue[0]) : ''}`);
  }

  /** Resolves once the broker closed the connection; rejects if it is still open after `timeoutMs`. */
  waitClosed(timeoutMs = this.#options.waitMs): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
    return {
      type: 'connect',
      protocolName: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.version,
      clean: true,
      keepAlive: 0,
      clientId: this.#options.clientId,
      ...fields,
    };
  }

  async connect(fields: Partial<ConnectPacket> = {}): Promise<ConnackPacket> {
    this.send(this.connectPacket(fields));
    return this.expect('connack');
  }

  publish(fields: Partial<PublishPacket> & { topic: string }): void {
    const packet: PublishPacket = {
      type: 'publish',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
      ...fields,
    };
    if (packet.qos > 0 && packet.packetId === undefined) packet.packetId = 1;
    this.send(packet);
  }

  /** Sends DISCONNECT (normal unless given) and half-closes. */
  disconnect(reasonCode?: number, properties?: Properties): void {
    this.send({ type: 'disconnect', reasonCode, properties });
    this.#socket.end();
  }

  /** Drops the network connection without DISCONNECT, as a broken TCP connection would. */
  destroy(): void {
    // Node 20's duplexPair does not carry destroy() across: an in-memory pair drops both ends.
    this.#socket.destroy();
    this.#options.peerEnd?.destroy();
  }

  /** SUBSCRIBE one filter and return the SUBACK's reason codes (checking the packet identifier is echoed). */
  protected async subscribeOne(
    subscription: Subscription,
    packetId: number,
    properties?: Properties,
  ): Promise<number[]> {
    this.send({ type: 'subscribe', packetId, subscriptions: [subscription], properties });
    const suback = await this.expect('suback');
    assert.equal(suback.packetId, packetId);
    return suback.reasonCodes;
  }

  #onPacket(packet: Packet): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(packet);
    } else {
      this.queue.push(packet);
    }
  }
}

/** An in-memory connection to `broker`: our end and the broker's, a broken pipe on either end ignored. */
export function pairWith(broker: Broker, meta: ConnectionMeta = { loopbackOnly: true }): [Duplex, Duplex] {
  const [client, server] = duplexPair();
  server.on('error', () => {});
  broker.handle(server, meta);
  return [client, server];
}

/** A compact description of a packet for assertion messages. */
export function describe(packet: Packet): string {
  return JSON.stringify(packet, (_key, value: unknown) =>
    value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer'
      ? `<${(value as { data: number[] }).data.length} bytes>`
      : value,
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
