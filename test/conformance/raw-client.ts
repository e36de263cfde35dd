// The conformance suite's raw peer and its per-test broker: a Peer speaks bytes to the broker (in memory or over
// TCP), decodes what the broker sends with Starling's codec and keeps every byte, so a test can assert on the wire.

import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';
import type { Broker, BrokerOptions, ConnectionMeta } from '../../src/broker/broker.js';
import { encode } from '../../src/protocol/encoder.js';
import type { ConnectPacket, Properties, ProtocolVersion, QoS, Subscription } from '../../src/protocol/packets.js';
import { startBroker } from '../broker/helpers.js';
import { describe, PacketPeer, pairWith } from '../broker/packet-peer.js';

export { delay, describe } from '../broker/packet-peer.js';

/** How long a test waits for a packet the broker must send. */
export const WAIT_MS = 1500;

/** One peer: a client we script packet by packet. */
export class Peer extends PacketPeer {
  constructor(socket: Duplex, version: ProtocolVersion, peerEnd?: Duplex) {
    super(socket, version, { waitMs: WAIT_MS, quietMs: 80, clientId: 'peer', peerEnd });
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

  /** The bytes of a CONNECT (for tests that send it along with other bytes). */
  connectBytes(fields: Partial<ConnectPacket> = {}): number[] {
    return [...encode(this.connectPacket(fields), this.version)];
  }

  /** SUBSCRIBE one filter and return the SUBACK's reason codes (checking the packet identifier is echoed). */
  subscribe(
    topicFilter: string,
    qos: QoS = 0,
    options: Omit<Partial<Subscription>, 'topicFilter' | 'qos'> = {},
    properties?: Properties,
    packetId = 7,
  ): Promise<number[]> {
    return this.subscribeOne({ topicFilter, qos, ...options }, packetId, properties);
  }
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
    const broker = await startBroker({ connectTimeoutMs: 1000, ...options });
    const bench = new Bench(broker);
    t.after(() => bench.close());
    return bench;
  }

  /** A new peer on an in-memory duplex pair. */
  peer(version: ProtocolVersion = 5, meta: ConnectionMeta = { loopbackOnly: true }): Peer {
    const [client, server] = pairWith(this.broker, meta);
    const peer = new Peer(client, version, server);
    this.#peers.push(peer);
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
