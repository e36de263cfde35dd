import assert from 'node:assert/strict';
import { type Duplex, duplexPair } from 'node:stream';
import { Broker, type BrokerOptions, type ConnectionMeta } from '../../src/broker/broker.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type {
  ConnackPacket,
  ConnectPacket,
  Packet,
  ProtocolVersion,
  PublishPacket,
} from '../../src/protocol/packets.js';

/** A started broker with $SYS off (tests that want it turn it on). */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const broker = new Broker({ sysIntervalSeconds: 0, ...options });
  await broker.start();
  return broker;
}

type Waiter = { resolve: (p: Packet) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** A raw MQTT peer over an in-memory duplex pair, speaking packets through Starling's codec. */
export class RawClient {
  readonly socket: Duplex;
  /** The broker's end of the pair. */
  readonly server: Duplex;
  readonly version: ProtocolVersion;
  readonly received: Packet[] = [];
  closed = false;
  readonly #decoder: Decoder;
  readonly #waiters: Waiter[] = [];
  readonly #closeWaiters: (() => void)[] = [];
  decodeError: unknown;

  constructor(broker: Broker, version: ProtocolVersion = 5, meta: ConnectionMeta = { loopbackOnly: true }) {
    const [client, server] = duplexPair();
    this.socket = client;
    this.server = server;
    this.version = version;
    this.#decoder = new Decoder((packet) => this.#onPacket(packet), { protocolVersion: version });
    client.on('data', (chunk: Buffer) => {
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
      for (const w of this.#closeWaiters.splice(0)) w();
    };
    client.on('end', onClosed);
    client.on('close', onClosed);
    client.on('error', () => {});
    server.on('error', () => {});
    broker.handle(server, meta);
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet, this.version));
  }

  sendRaw(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** The next packet the broker sends (within `timeoutMs`). */
  next(timeoutMs = 2000): Promise<Packet> {
    const queued = this.#queue.shift();
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
  async expect<T extends Packet['type']>(type: T, timeoutMs = 2000): Promise<Extract<Packet, { type: T }>> {
    const packet = await this.next(timeoutMs);
    assert.equal(packet.type, type, `expected ${type}, got ${JSON.stringify(packet)}`);
    return packet as Extract<Packet, { type: T }>;
  }

  /** Asserts that nothing arrives for `ms`. */
  async expectNothing(ms = 60): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.#queue.length, 0, `unexpected ${JSON.stringify(this.#queue[0])}`);
  }

  /** Resolves when the broker closed the connection (rejects after `timeoutMs`). */
  waitClosed(timeoutMs = 2000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async connect(fields: Partial<ConnectPacket> = {}): Promise<ConnackPacket> {
    this.send({
      type: 'connect',
      protocolName: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.version,
      clean: true,
      keepAlive: 0,
      clientId: 'client',
      ...fields,
    });
    return this.expect('connack');
  }

  async subscribe(
    topicFilter: string,
    qos: 0 | 1 | 2 = 0,
    packetId = 1,
    extra: Partial<import('../../src/protocol/packets.js').Subscription> = {},
    properties?: import('../../src/protocol/packets.js').Properties,
  ): Promise<number[]> {
    this.send({ type: 'subscribe', packetId, subscriptions: [{ topicFilter, qos, ...extra }], properties });
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

  /** Ends the client side (a dropped network connection, no DISCONNECT). */
  destroy(): void {
    // Node 20's duplexPair does not carry destroy() across: drop both ends, as a broken TCP connection would.
    this.socket.destroy();
    this.server.destroy();
  }

  disconnect(reasonCode?: number, properties?: import('../../src/protocol/packets.js').Properties): void {
    this.send({ type: 'disconnect', reasonCode, properties });
    this.socket.end();
  }

  get #queue(): Packet[] {
    return this.received;
  }

  #onPacket(packet: Packet): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(packet);
    } else {
      this.received.push(packet);
    }
  }
}

/** A connected client. */
export async function connected(
  broker: Broker,
  clientId: string,
  version: ProtocolVersion = 5,
  fields: Partial<ConnectPacket> = {},
): Promise<RawClient> {
  const client = new RawClient(broker, version);
  const connack = await client.connect({ clientId, ...fields });
  assert.equal(connack.reasonCode, 0, `CONNACK ${connack.reasonCode}`);
  return client;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
