import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Packet, ProtocolVersion, QoS } from '../../src/protocol/packets.js';
import { budget, ChildBroker, delay, endClient, mqttjs, SOAK, TcpPeer, waitUntil } from './helpers.js';

// Acknowledged means delivered: a PUBACK (QoS 1) or PUBCOMP (QoS 2) to the publisher is a promise that the message
// reaches every subscriber whose session exists, across the subscriber's disconnections; QoS 2 exactly once.

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/**
 * A subscriber with a persistent session over raw TCP that keeps its side of the session state itself (QoS 2
 * packet identifiers awaiting PUBREL, [MQTT-4.3.3-1] method B) and drops its connection at moments of our choosing,
 * sometimes before acknowledging what it just received.
 */
class DurableSubscriber {
  readonly port: number;
  readonly version: ProtocolVersion;
  readonly clientId: string;
  /** QoS 2 packet identifiers received and not yet released: a re-sent PUBLISH with one of them is not new. */
  readonly awaitingRelease = new Set<number>();
  readonly qos1 = new Map<number, number>();
  readonly qos2 = new Map<number, number>();
  peer: TcpPeer | undefined;
  cuts = 0;
  /** Called with each new PUBLISH; returning true drops the connection before the acknowledgement. */
  cutBeforeAck: () => boolean = () => false;

  constructor(port: number, version: ProtocolVersion, clientId: string) {
    this.port = port;
    this.version = version;
    this.clientId = clientId;
  }

  async connect(first: boolean): Promise<boolean> {
    const peer = new TcpPeer(this.port, this.version, { keepReceived: false });
    this.peer = peer;
    peer.onPacket = (packet) => this.#onPacket(peer, packet);
    const connack = await peer.connect(
      this.version === 5
        ? { clientId: this.clientId, clean: first, properties: { sessionExpiryInterval: 600 } }
        : { clientId: this.clientId, clean: false },
    );
    return connack.sessionPresent;
  }

  /** Drops the connection without DISCONNECT, as a network failure would. */
  cut(): void {
    this.cuts++;
    this.peer?.destroy();
  }

  #onPacket(peer: TcpPeer, packet: Packet): void {
    if (peer.closed || peer.socket.destroyed) return;
    if (packet.type === 'publish') {
      const seq = Number(packet.payload.toString().split(':')[1]);
      const packetId = packet.packetId!;
      if (packet.qos === 1) {
        this.qos1.set(seq, (this.qos1.get(seq) ?? 0) + 1);
      } else if (packet.qos === 2 && !this.awaitingRelease.has(packetId)) {
        this.awaitingRelease.add(packetId);
        this.qos2.set(seq, (this.qos2.get(seq) ?? 0) + 1);
      }
      if (this.cutBeforeAck()) {
        this.cut();
        return;
      }
      if (packet.qos === 1) peer.send({ type: 'puback', packetId });
      else if (packet.qos === 2) peer.send({ type: 'pubrec', packetId });
    } else if (packet.type === 'pubrel') {
      this.awaitingRelease.delete(packet.packetId);
      peer.send({ type: 'pubcomp', packetId: packet.packetId });
    }
  }
}

/** Publishes `count` messages at `qos` with up to `window` awaiting their acknowledgement; returns those acked. */
async function publishAll(client: MqttClient, qos: QoS, count: number, window: number): Promise<Set<number>> {
  const acked = new Set<number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const seq = next++;
      await client.publishAsync(`durable/q${qos}`, `q${qos}:${seq}`, { qos });
      acked.add(seq);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return acked;
}

async function run(t: { diagnostic(message: string): void }, version: ProtocolVersion, lmdb: boolean): Promise<void> {
  let lmdbDir: string | undefined;
  if (lmdb) {
    const dir = await mkdtemp(join(tmpdir(), 'starling-stress-'));
    lmdbDir = dir;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }
  // Queue limits wide enough that nothing is dropped for them: this test is about durability, not limits.
  const broker = await ChildBroker.start({ maxQueuedMessages: 100_000, lmdbDir });
  cleanups.push(() => broker.stop());
  const COUNT = 2000 * SOAK;

  const subscriber = new DurableSubscriber(broker.port, version, `durable-${version}`);
  cleanups.push(() => subscriber.peer?.destroy());
  assert.equal(await subscriber.connect(true), false);
  const suback = subscriber.peer!.expect('suback');
  subscriber.peer!.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'durable/#', qos: 2 }] });
  assert.deepEqual((await suback).reasonCodes, [2]);

  // The subscriber drops its connection every few hundred messages, half the time before acknowledging, and comes
  // back with its session a moment later, while the publisher keeps going.
  let received = 0;
  let nextCut = 150;
  let reconnecting: Promise<void> = Promise.resolve();
  const MAX_CUTS = 10 * SOAK;
  subscriber.cutBeforeAck = () => {
    received++;
    if (received < nextCut || subscriber.cuts >= MAX_CUTS) return false;
    nextCut = received + 100 + ((received * 7919) % 300);
    const beforeAck = subscriber.cuts % 2 === 0;
    const cycle = async (): Promise<void> => {
      await delay(20 + (received % 80));
      assert.equal(await subscriber.connect(false), true, '[MQTT-3.2.2-3] the session is resumed');
    };
    if (beforeAck) {
      reconnecting = reconnecting.then(cycle);
      return true;
    }
    setImmediate(() => {
      subscriber.cut();
      reconnecting = reconnecting.then(cycle);
    });
    return false;
  };

  const publisher = await mqttjs(broker.port, { clientId: `durable-publisher-${version}` });
  cleanups.push(() => endClient(publisher));
  const [acked1, acked2] = await Promise.all([
    publishAll(publisher, 1, COUNT, 32),
    publishAll(publisher, 2, COUNT, 32),
  ]);
  await waitUntil(() => subscriber.cuts >= MAX_CUTS || received >= 2 * COUNT, 'the subscriber to finish cutting');
  await reconnecting;
  await waitUntil(
    () => [...acked1].every((seq) => subscriber.qos1.has(seq)) && [...acked2].every((seq) => subscriber.qos2.has(seq)),
    `every acknowledged message at the subscriber (QoS 1 ${subscriber.qos1.size}/${acked1.size}, QoS 2 ` +
      `${subscriber.qos2.size}/${acked2.size})`,
    budget(15_000),
  );
  // Let re-sends, if any were still coming, arrive before counting duplicates.
  await waitUntil(async () => (await broker.session(subscriber.clientId)).inflight === 0, 'nothing left in flight');

  const duplicates1 = [...subscriber.qos1.values()].filter((n) => n > 1).length;
  t.diagnostic(
    `MQTT ${version === 5 ? '5' : '3.1.1'} subscriber on ${lmdb ? 'LMDB' : 'the memory store'}: ${subscriber.cuts} ` +
      `cuts; QoS 1 ${acked1.size} acknowledged, ${subscriber.qos1.size} delivered (${duplicates1} re-delivered ` +
      `after a cut); QoS 2 ${acked2.size} acknowledged, ${subscriber.qos2.size} delivered`,
  );
  assert.equal(acked1.size, COUNT);
  assert.equal(acked2.size, COUNT);
  assert.ok(subscriber.cuts >= 3, `the subscriber was cut ${subscriber.cuts} times`);
  for (const seq of acked1) assert.ok(subscriber.qos1.has(seq), `acknowledged QoS 1 message ${seq} was lost`);
  for (const seq of acked2) assert.equal(subscriber.qos2.get(seq), 1, `QoS 2 message ${seq} delivered once`);
  const stats = await broker.stats();
  assert.equal(stats.stats.droppedMessages, 0);
  assert.deepEqual(stats.errorLogs, []);
}

test('[MQTT-4.3.2-2] [MQTT-4.3.3-2] a persistent MQTT 5 subscriber cut off mid-stream gets every acknowledged message, QoS 2 once', {
  timeout: budget(30_000),
}, async (t) => {
  await run(t, 5, false);
});

test('[MQTT-4.4.0-1] a persistent MQTT 3.1.1 subscriber cut off mid-stream gets every acknowledged message, QoS 2 once', {
  timeout: budget(30_000),
}, async (t) => {
  await run(t, 4, false);
});

test('with persistence on LMDB, a subscriber cut off mid-stream gets every acknowledged message, QoS 2 once', {
  timeout: budget(30_000),
}, async (t) => {
  await run(t, 5, true);
});

test('an mqtt.js subscriber with a persistent session, its connection cut mid-stream, gets every acknowledged message', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start({ maxQueuedMessages: 100_000 });
  cleanups.push(() => broker.stop());
  const COUNT = 1500 * SOAK;
  const qos1 = new Map<number, number>();
  const qos2 = new Map<number, number>();
  const subscriber = await mqttjs(broker.port, {
    clientId: 'durable-js',
    clean: false,
    reconnectPeriod: 50,
    properties: { sessionExpiryInterval: 600 },
  });
  cleanups.push(() => endClient(subscriber));
  let reconnects = 0;
  subscriber.on('connect', () => reconnects++);
  let received = 0;
  subscriber.on('message', (topic, message) => {
    const seq = Number(message.toString().split(':')[1]);
    const seen = topic === 'durable/q1' ? qos1 : qos2;
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
    received++;
    // Every 400 messages the network fails under the subscriber; mqtt.js reconnects and resumes the session.
    if (received % 400 === 0 && reconnects <= 8 * SOAK) subscriber.stream.destroy();
  });
  await subscriber.subscribeAsync('durable/#', { qos: 2 });
  const publisher = await mqttjs(broker.port, { clientId: 'durable-js-publisher', protocolVersion: 4 });
  cleanups.push(() => endClient(publisher));
  const [acked1, acked2] = await Promise.all([
    publishAll(publisher, 1, COUNT, 32),
    publishAll(publisher, 2, COUNT, 32),
  ]);
  await waitUntil(
    () => [...acked1].every((seq) => qos1.has(seq)) && [...acked2].every((seq) => qos2.has(seq)),
    `every acknowledged message at the subscriber (QoS 1 ${qos1.size}/${acked1.size}, QoS 2 ${qos2.size}/${acked2.size})`,
    budget(15_000),
  );
  await waitUntil(async () => (await broker.session('durable-js')).inflight === 0, 'nothing left in flight');
  t.diagnostic(`mqtt.js subscriber: ${reconnects - 1} reconnections; ${received} messages received`);
  assert.ok(reconnects >= 3, `reconnected ${reconnects - 1} times`);
  for (const seq of acked2) assert.equal(qos2.get(seq), 1, `QoS 2 message ${seq} delivered once`);
  assert.deepEqual((await broker.stats()).errorLogs, []);
});

/**
 * A QoS 2 publisher over raw TCP that keeps its own session state (packet identifiers awaiting PUBREC or PUBCOMP) and
 * re-sends from it after reconnecting [MQTT-4.4.0-1]: PUBLISH with DUP for those awaiting PUBREC, PUBREL for the rest.
 */
class DurablePublisher {
  readonly port: number;
  readonly clientId: string;
  readonly count: number;
  readonly inflight = new Map<number, { seq: number; state: 'awaitPubrec' | 'awaitPubcomp' }>();
  /** PUBRELs re-sent after a reconnect: a PUBCOMP 0x92 for one of them means the first PUBREL got through. */
  readonly resentRelease = new Set<number>();
  readonly completed = new Set<number>();
  notFoundInRecovery = 0;
  unexpected: string[] = [];
  peer: TcpPeer | undefined;
  #nextSeq = 0;
  #nextId = 1;

  constructor(port: number, clientId: string, count: number) {
    this.port = port;
    this.clientId = clientId;
    this.count = count;
  }

  async connect(first: boolean): Promise<void> {
    const peer = new TcpPeer(this.port, 5, { keepReceived: false });
    this.peer = peer;
    peer.onPacket = (packet) => this.#onPacket(peer, packet);
    const connack = await peer.connect({
      clientId: this.clientId,
      clean: first,
      properties: { sessionExpiryInterval: 600 },
    });
    if (!first) assert.equal(connack.sessionPresent, true);
    for (const [packetId, entry] of [...this.inflight].sort(([a], [b]) => a - b)) {
      if (entry.state === 'awaitPubrec') {
        peer.send(this.#publish(packetId, entry.seq, true));
      } else {
        this.resentRelease.add(packetId);
        peer.send({ type: 'pubrel', packetId });
      }
    }
    this.#fill(peer);
  }

  #publish(packetId: number, seq: number, dup: boolean): Packet {
    return {
      type: 'publish',
      topic: 'durable/q2',
      payload: Buffer.from(`q2:${seq}`),
      qos: 2,
      retain: false,
      dup,
      packetId,
    };
  }

  #fill(peer: TcpPeer): void {
    while (this.inflight.size < 32 && this.#nextSeq < this.count && !peer.closed) {
      while (this.inflight.has(this.#nextId)) this.#nextId = (this.#nextId % 65535) + 1;
      const packetId = this.#nextId;
      this.#nextId = (this.#nextId % 65535) + 1;
      const seq = this.#nextSeq++;
      this.inflight.set(packetId, { seq, state: 'awaitPubrec' });
      peer.send(this.#publish(packetId, seq, false));
    }
  }

  #onPacket(peer: TcpPeer, packet: Packet): void {
    if (peer.closed || peer.socket.destroyed) return;
    if (packet.type === 'pubrec') {
      const entry = this.inflight.get(packet.packetId);
      if ((packet.reasonCode ?? 0) >= 0x80) this.unexpected.push(`PUBREC 0x${packet.reasonCode?.toString(16)}`);
      if (entry?.state === 'awaitPubrec') entry.state = 'awaitPubcomp';
      peer.send({ type: 'pubrel', packetId: packet.packetId });
    } else if (packet.type === 'pubcomp') {
      const entry = this.inflight.get(packet.packetId);
      if (entry?.state !== 'awaitPubcomp') {
        this.unexpected.push(`PUBCOMP for ${packet.packetId} in state ${entry?.state}`);
        return;
      }
      if ((packet.reasonCode ?? 0) === 0x92) {
        if (this.resentRelease.has(packet.packetId)) this.notFoundInRecovery++;
        else this.unexpected.push(`PUBCOMP 0x92 for ${packet.packetId} outside recovery`);
      } else if ((packet.reasonCode ?? 0) !== 0) {
        this.unexpected.push(`PUBCOMP 0x${packet.reasonCode?.toString(16)}`);
      }
      this.resentRelease.delete(packet.packetId);
      this.inflight.delete(packet.packetId);
      this.completed.add(entry.seq);
      this.#fill(peer);
    }
  }
}

test('[MQTT-4.3.3-10] a QoS 2 publisher cut off mid-stream and resuming its session has each message routed exactly once', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start({ maxQueuedMessages: 100_000 });
  cleanups.push(() => broker.stop());
  const COUNT = 3000 * SOAK;
  const seen = new Map<number, number>();
  const reader = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => reader.destroy());
  reader.onPacket = (packet) => {
    if (packet.type !== 'publish') return;
    const seq = Number(packet.payload.toString().split(':')[1]);
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
    if (packet.qos === 1) reader.send({ type: 'puback', packetId: packet.packetId! });
  };
  await reader.connect({ clientId: 'exactly-once-reader' });
  // A QoS 1 subscription: every copy the broker routes arrives, so routing a message twice would show.
  await reader.subscribe('durable/#', 1);

  const publisher = new DurablePublisher(broker.port, 'cut-publisher', COUNT);
  cleanups.push(() => publisher.peer?.destroy());
  await publisher.connect(true);
  // Cut the publisher's connection every few hundred completions, with flows in every state, until all complete.
  let cuts = 0;
  const deadline = Date.now() + budget(20_000);
  while (publisher.completed.size < COUNT && Date.now() < deadline) {
    const target = Math.min(COUNT, publisher.completed.size + 250 + ((cuts * 7919) % 200));
    await waitUntil(() => publisher.completed.size >= target || publisher.peer!.closed, 'progress', budget(10_000), 1);
    if (publisher.completed.size >= COUNT) break;
    publisher.peer!.destroy();
    cuts++;
    await delay(10 + (cuts % 5) * 10);
    await publisher.connect(false);
  }
  await waitUntil(() => seen.size >= COUNT, `${COUNT} messages at the reader (has ${seen.size})`, budget(15_000));
  t.diagnostic(
    `${cuts} cuts of the publisher; ${publisher.completed.size} QoS 2 flows completed, ` +
      `${publisher.notFoundInRecovery} of them by PUBCOMP 0x92 to a re-sent PUBREL`,
  );
  assert.ok(cuts >= 3, `the publisher was cut ${cuts} times`);
  assert.deepEqual(publisher.unexpected, []);
  assert.equal(publisher.completed.size, COUNT);
  const twice = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq);
  assert.deepEqual(twice.slice(0, 10), [], `${twice.length} messages routed more than once`);
  assert.equal(seen.size, COUNT);
  assert.deepEqual((await broker.stats()).errorLogs, []);
});
