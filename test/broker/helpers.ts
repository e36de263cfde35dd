import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { after } from 'node:test';
import { Broker, type BrokerOptions, type ConnectionMeta } from '../../src/broker/broker.js';
import type {
  ConnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  QoS,
  Subscription,
} from '../../src/protocol/packets.js';
import { PacketPeer, pairWith } from './packet-peer.js';

export { delay } from './packet-peer.js';

/** A started broker with $SYS off (tests that want it turn it on). */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const broker = new Broker({ sysIntervalSeconds: 0, ...options });
  await broker.start();
  return broker;
}

/**
 * Starts brokers for the enclosing suite (or file) and closes them all once after it: call it where the suite is
 * declared, then `await broker(options)` in each test.
 */
export function useBrokers(): (options?: BrokerOptions) => Promise<Broker> {
  const brokers: Broker[] = [];
  after(async () => {
    for (const b of brokers) await b.close();
  });
  return async (options = {}) => {
    const b = await startBroker(options);
    brokers.push(b);
    return b;
  };
}

/** A raw MQTT peer over an in-memory duplex pair, speaking packets through Starling's codec. */
export class RawClient extends PacketPeer {
  /** Our end of the pair. */
  readonly socket: Duplex;
  /** The broker's end of the pair. */
  readonly server: Duplex;

  constructor(broker: Broker, version: ProtocolVersion = 5, meta: ConnectionMeta = { loopbackOnly: true }) {
    const [client, server] = pairWith(broker, meta);
    super(client, version, { waitMs: 2000, quietMs: 60, clientId: 'client', peerEnd: server });
    this.socket = client;
    this.server = server;
  }

  /** Packets received and not yet taken by next(). */
  get received(): Packet[] {
    return this.queue;
  }

  /** SUBSCRIBE one filter and return the SUBACK's reason codes. */
  subscribe(
    topicFilter: string,
    qos: QoS = 0,
    packetId = 1,
    extra: Omit<Partial<Subscription>, 'topicFilter' | 'qos'> = {},
    properties?: Properties,
  ): Promise<number[]> {
    return this.subscribeOne({ topicFilter, qos, ...extra }, packetId, properties);
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
