import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { QoS } from '../../src/protocol/packets.js';
import {
  budget,
  burstsBesideAStuckReader,
  ChildBroker,
  endClient,
  MiB,
  mib,
  mqttjs,
  SOAK,
  TcpPeer,
  waitUntil,
} from './helpers.js';

// DESIGN.md, backpressure: a slow reader never grows the broker's memory without bound and never slows the others.

const PAYLOAD = 4096;
const PER_QOS = 5000 * SOAK;
const BATCH = 250;
const MAX_QUEUED = 1000;

function payload(seq: number): Buffer {
  const bytes = Buffer.alloc(PAYLOAD, 0x61);
  bytes.writeUInt32BE(seq, 0);
  return bytes;
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a subscriber that stops reading holds bounded memory in the broker and does not hold back the others', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start({ maxQueuedMessages: MAX_QUEUED, maxQueuedBytes: 8 * MiB });
  cleanups.push(() => broker.stop());

  // The slow subscriber: subscribes, then never reads its socket again (until the end).
  const slow = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => slow.destroy());
  await slow.connect({ clientId: 'slow' });
  assert.deepEqual(await slow.subscribe('load/#', 1), [1]);
  slow.socket.pause();

  // Two subscribers that read: one mqtt.js, one raw; both count what they receive per QoS.
  const fastSeen = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
  const fastJs = await mqttjs(broker.port, { clientId: 'fast-js' });
  cleanups.push(() => endClient(fastJs));
  fastJs.on('message', (topic, message) => {
    fastSeen[topic === 'load/q0' ? 0 : 1].add(message.readUInt32BE(0));
  });
  await fastJs.subscribeAsync('load/#', { qos: 1 });
  const fastRaw = new TcpPeer(broker.port, 4, { keepReceived: false });
  cleanups.push(() => fastRaw.destroy());
  fastRaw.onPacket = (packet) => {
    if (packet.type !== 'publish') return;
    if (packet.qos === 1) fastRaw.send({ type: 'puback', packetId: packet.packetId! });
    fastSeen[packet.topic === 'load/q0' ? 2 : 3].add(packet.payload.readUInt32BE(0));
  };
  await fastRaw.connect({ clientId: 'fast-raw' });
  await fastRaw.subscribe('load/#', 1);

  const publisher = await mqttjs(broker.port, { clientId: 'publisher' });
  cleanups.push(() => endClient(publisher));

  const baseline = await broker.stats(true);

  // Paced by the readers that keep up: each batch must reach both of them, while the slow one takes nothing.
  async function flood(qos: QoS, topic: string, js: Set<number>, raw: Set<number>): Promise<void> {
    for (let start = 0; start < PER_QOS; start += BATCH) {
      const end = Math.min(start + BATCH, PER_QOS);
      const sends: Promise<unknown>[] = [];
      for (let seq = start; seq < end; seq++) sends.push(publisher.publishAsync(topic, payload(seq), { qos }));
      await Promise.all(sends);
      await waitUntil(
        () => js.size >= end && raw.size >= end,
        `${topic} messages ${start}..${end - 1} at the readers that keep up (have ${js.size} and ${raw.size})`,
      );
    }
  }

  await flood(0, 'load/q0', fastSeen[0], fastSeen[2]);
  const afterQos0 = await broker.stats(true);
  await flood(1, 'load/q1', fastSeen[1], fastSeen[3]);
  const afterQos1 = await broker.stats(true);
  const session = await broker.session('slow');

  const grew = (s: typeof baseline) =>
    s.memory.heapUsed + s.memory.arrayBuffers - baseline.memory.heapUsed - baseline.memory.arrayBuffers;
  t.diagnostic(
    `sent to the slow subscriber: ${mib(2 * PER_QOS * PAYLOAD)}; broker rss ${mib(baseline.memory.rss)} -> ` +
      `${mib(afterQos0.memory.rss)} (QoS 0) -> ${mib(afterQos1.memory.rss)} (QoS 1); heap+buffers grew ` +
      `${mib(grew(afterQos0))} / ${mib(grew(afterQos1))}; dropped ${afterQos0.stats.droppedMessages} / ` +
      `${afterQos1.stats.droppedMessages}; slow session queue ${session.queueLength} (${mib(session.queuedBytes)}), ` +
      `in flight ${session.inflight}`,
  );

  // Every message reached both readers that keep up, each exactly as sent.
  for (const seen of fastSeen) assert.equal(seen.size, PER_QOS);
  // QoS 0 beyond the slow socket's room was dropped and counted, not buffered (20 MiB were addressed to it).
  assert.ok(afterQos0.stats.droppedMessages > 0, 'QoS 0 messages for the slow subscriber are counted as dropped');
  assert.ok(grew(afterQos0) < 8 * MiB, `broker memory grew by ${mib(grew(afterQos0))} with QoS 0`);
  // QoS 1 waits in the session queue up to its limits, and beyond them is dropped and counted.
  assert.ok(session.queueLength <= MAX_QUEUED, `queue ${session.queueLength} within maxQueuedMessages`);
  assert.ok(session.queuedBytes <= 8 * MiB, `queue ${session.queuedBytes} bytes within maxQueuedBytes`);
  const droppedQos1 = afterQos1.stats.droppedMessages - afterQos0.stats.droppedMessages;
  assert.ok(droppedQos1 > 0, 'QoS 1 messages beyond the queue limits are counted as dropped');
  // The broker holds far less than what was sent to the slow subscriber (2 x 5000 x 4 KiB = 40 MiB per run).
  assert.ok(grew(afterQos1) < 24 * MiB, `broker memory grew by ${mib(grew(afterQos1))}`);

  // When the slow subscriber reads again, it gets every QoS 1 message that was not counted as dropped.
  const slowQos1 = new Set<number>();
  slow.onPacket = (packet) => {
    if (packet.type !== 'publish') return;
    if (packet.qos === 1) {
      slow.send({ type: 'puback', packetId: packet.packetId! });
      slowQos1.add(packet.payload.readUInt32BE(0));
    }
  };
  slow.socket.resume();
  await waitUntil(
    () => slowQos1.size >= PER_QOS - droppedQos1,
    `the slow subscriber's ${PER_QOS - droppedQos1} QoS 1 messages (has ${slowQos1.size})`,
    budget(15_000),
  );
  assert.equal(slowQos1.size, PER_QOS - droppedQos1);
  await waitUntil(async () => (await broker.session('slow')).inflight === 0, 'the slow session to drain');
  const final = await broker.stats();
  assert.deepEqual(final.errorLogs, []);
  assert.ok(broker.alive);
});

test('QoS 0 only: a reader that never reads costs the broker no more than its socket buffers', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start({ maxWriteBufferBytes: MiB });
  cleanups.push(() => broker.stop());
  const stuck: TcpPeer[] = [];
  for (let i = 0; i < 5; i++) {
    const peer = new TcpPeer(broker.port, i % 2 === 0 ? 5 : 4, { keepReceived: false });
    cleanups.push(() => peer.destroy());
    await peer.connect({ clientId: `stuck-${i}` });
    await peer.subscribe('fan/#', 0);
    peer.socket.pause();
    stuck.push(peer);
  }
  const reader = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => reader.destroy());
  let got = 0;
  reader.onPacket = (packet) => {
    if (packet.type === 'publish') got++;
  };
  await reader.connect({ clientId: 'reader' });
  await reader.subscribe('fan/#', 0);
  const publisher: MqttClient = await mqttjs(broker.port, { clientId: 'fan-publisher' });
  cleanups.push(() => endClient(publisher));
  const baseline = await broker.stats(true);
  const total = 5000 * SOAK;
  for (let start = 0; start < total; start += BATCH) {
    const sends: Promise<unknown>[] = [];
    for (let seq = start; seq < start + BATCH; seq++) sends.push(publisher.publishAsync('fan/x', payload(seq)));
    await Promise.all(sends);
    await waitUntil(() => got >= start + BATCH, `message ${start + BATCH} at the reader (has ${got})`);
  }
  const loaded = await broker.stats(true);
  const grew =
    loaded.memory.heapUsed + loaded.memory.arrayBuffers - baseline.memory.heapUsed - baseline.memory.arrayBuffers;
  t.diagnostic(
    `${mib(5 * total * PAYLOAD)} addressed to 5 stuck readers; rss ${mib(baseline.memory.rss)} -> ` +
      `${mib(loaded.memory.rss)}, heap+buffers grew ${mib(grew)}, dropped ${loaded.stats.droppedMessages}`,
  );
  assert.equal(got, total);
  assert.ok(loaded.stats.droppedMessages > 0);
  // Each stuck connection may hold up to maxWriteBufferBytes plus one tick's batch in the broker.
  assert.ok(grew < 5 * 2 * MiB + 8 * MiB, `broker memory grew by ${mib(grew)}`);
  for (const peer of stuck) assert.equal(peer.closed, false, 'a slow reader is not disconnected for QoS 0');
});

test('QoS 1 to a reader that never reads waits within maxQueuedBytes; large messages beyond it are dropped and counted', {
  timeout: budget(30_000),
}, async (t) => {
  // Bursts of 10 (640 KiB): well within the limit, so that only the reader that never reads meets it.
  await burstsBesideAStuckReader(t, cleanups, 10);
});
