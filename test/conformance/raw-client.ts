// A raw MQTT peer for the conformance suite: it speaks bytes to the broker (in memory or over TCP), decodes what the
// broker sends with Starling's codec and keeps every byte, so a test can assert on the wire itself.

import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import type { TestContext } from 'node:test';
import { Broker, type BrokerOptions, type ConnectionMeta } from '../../src/broker/broker.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type {
  ConnackPacket,
  ConnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  Subscription,
} from '../../src/protocol/packets.js';

type PacketOf<T extends Packet['type']> = Extract<Packet, { type: T }>;
type Waiter = { resolve: (p: Packet) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** How long a test waits for a packet the broker must send. */
export const WAIT_MS = 1500;

/** One peer: a client we script packet by packet. */
export class Peer {
  readonly version: ProtocolVersion;
  /** Every chunk the broker wrote, in order. */
  readonly chunks: Buffer[] = [];
  /** Packets decoded and not yet taken by next(). */
  readonly queue: Packet[] = [];
  /** The first error our decoder raised on the broker's bytes (a broker that sends malformed packets). */
  decodeError: unknown;
  closed = false;
  readonly #socket: Duplex;
  readonly #peerEnd: Duplex | undefined;
  readonly #decoder: Decoder;
  readonly #waiters: Waiter[] = [];
  readonly #closeWaiters: (() => void)[] = [];

  constructor(socket: Duplex, version: ProtocolVersion, peerEnd?: Duplex) {
    this.version = version;
    this.#socket = socket;
    this.#peerEnd = peerEnd;
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

  /** The next packet the broker sends. */
  next(timeoutMs = WAIT_MS): Promise<Packet> {
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
  async expect<T extends Packet['type']>(type: T, timeoutMs = WAIT_MS): Promise<PacketOf<T>> {
    const packet = await this.next(timeoutMs);
    assert.equal(packet.type, type, `expected ${type}, got ${describe(packet)}`);
    return packet as PacketOf<T>;
  }

  /** Asserts that no packet arrives within `ms`. */
  async expectNothing(ms = 80): Promise<void> {
    await delay(ms);
    assert.equal(this.queue.length, 0, `unexpected ${this.queue[0] ? describe(this.queue[0]) : ''}`);
  }

  /** Resolves once the broker closed the connection; rejects if it is still open after `timeoutMs`. */
  waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Asserts the broker sends DISCONNECT with `reasonCode` and closes (MQTT 5), or closes without a packet (3.1.1). */
  async expectDisconnect(reasonCode: number, timeoutMs = WAIT_MS): Promise<void> {
    if (this.version === 5) {
      const packet = await this.expect('disconnect', timeoutMs);
      assert.equal(packet.reasonCode ?? 0, reasonCode, `DISCONNECT 0x${(packet.reasonCode ?? 0).toString(16)}`);
    }
    await this.waitClosed(timeoutMs);
    assert.equal(this.queue.length, 0, `packets after the close: ${this.queue.map(describe).join(', ')}`);
  }

  connectPacket(fields: Partial<ConnectPacket> = {}): ConnectPacket {
    return {
      type: 'connect',
      protocolName: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.version,
      clean: true,
      keepAlive: 0,
      clientId: 'peer',
      ...fields,
    };
  }

  /** The bytes of a CONNECT (for tests that send it along with other bytes). */
  connectBytes(fields: Partial<ConnectPacket> = {}): number[] {
    return [...encode(this.connectPacket(fields), this.version)];
  }

  async connect(fields: Partial<ConnectPacket> = {}): Promise<ConnackPacket> {
    this.send(this.connectPacket(fields));
    return this.expect('connack');
  }

  /** SUBSCRIBE one filter and return the SUBACK's reason codes (checking the packet identifier is echoed). */
  async subscribe(
    topicFilter: string,
    qos: QoS = 0,
    options: Omit<Partial<Subscription>, 'topicFilter' | 'qos'> = {},
    properties?: Properties,
    packetId = 7,
  ): Promise<number[]> {
    this.send({ type: 'subscribe', packetId, subscriptions: [{ topicFilter, qos, ...options }], properties });
    const suback = await this.expect('suback');
    assert.equal(suback.packetId, packetId);
    return suback.reasonCodes;
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

  /** Drops the network connection without DISCONNECT. */
  destroy(): void {
    this.#socket.destroy();
    this.#peerEnd?.destroy();
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

/**
 * One broker for one test, with every peer, server and socket it made torn down when the test ends
 * (registered on the test context, so a failing assertion still cleans up).
 */
export class Bench {
  readonly broker: Broker;
  readonly #peers: Peer[] = [];
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  private constructor(broker: Broker) {
    this.broker = broker;
  }

  static async open(t: TestContext, options: BrokerOptions = {}): Promise<Bench> {
    const broker = new Broker({ sysIntervalSeconds: 0, connectTimeoutMs: 1000, ...options });
    await broker.start();
    const bench = new Bench(broker);
    t.after(() => bench.close());
    return bench;
  }

  /** A new peer on an in-memory duplex pair. */
  peer(version: ProtocolVersion = 5, meta: ConnectionMeta = { loopbackOnly: true }): Peer {
    const [client, server] = duplexPair();
    server.on('error', () => {});
    const peer = new Peer(client, version, server);
    this.#peers.push(peer);
    this.broker.handle(server, meta);
    return peer;
  }

  /** A peer connected with CONNACK 0x00 asserted. */
  async connected(clientId: string, version: ProtocolVersion = 5, fields: Partial<ConnectPacket> = {}): Promise<Peer> {
    const peer = this.peer(version);
    const connack = await peer.connect({ clientId, ...fields });
    assert.equal(connack.reasonCode, 0, `CONNACK 0x${connack.reasonCode.toString(16)}`);
    return peer;
  }

  /** The broker behind a TCP listener on 127.0.0.1, ephemeral port. */
  async listen(): Promise<number> {
    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      this.broker.handle(socket, { loopbackOnly: true, remoteAddress: socket.remoteAddress });
    });
    this.#servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    return address.port;
  }

  /** A raw peer over TCP to a port from listen(). */
  async tcpPeer(port: number, version: ProtocolVersion = 5): Promise<Peer> {
    const socket = netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new Peer(socket, version);
    this.#peers.push(peer);
    return peer;
  }

  async close(): Promise<void> {
    for (const peer of this.#peers) peer.destroy();
    for (const socket of this.#sockets) socket.destroy();
    await this.broker.close();
    await Promise.all(this.#servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
