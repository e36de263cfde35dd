// Stress findings S1 to S6: limits the broker keeps under load and abuse.

import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, test } from 'node:test';
import { encode } from '../../src/protocol/encoder.js';
import {
  budget,
  burstsBesideAStuckReader,
  ChildBroker,
  delay,
  endClient,
  MiB,
  mib,
  mqttjs,
  TcpPeer,
  waitUntil,
} from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// S1
test('a connection cannot make the broker buffer a huge CONNECT before it is authenticated (default options)', {
  timeout: budget(20_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const baseline = await broker.stats(true);
  const socket = netConnect({ host: '127.0.0.1', port: broker.port });
  cleanups.push(() => {
    socket.destroy();
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let closed = false;
  socket.once('close', () => {
    closed = true;
  });
  // A CONNECT announcing 100 MiB (remaining length 104,857,600 = 0x80 0x80 0x80 0x32), then its bytes.
  socket.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x32]));
  const chunk = Buffer.alloc(MiB);
  let sent = 0;
  const deadline = Date.now() + 10_000;
  while (!closed && sent < 99 && Date.now() < deadline) {
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
    sent++;
  }
  const loaded = await broker.stats(true);
  const grew = loaded.memory.arrayBuffers - baseline.memory.arrayBuffers;
  t.diagnostic(`sent ${sent} MiB of the CONNECT; broker buffers grew ${mib(grew)}`);
  assert.ok(grew < 8 * MiB, `an unauthenticated connection made the broker hold ${mib(grew)}`);
  await waitUntil(() => closed, 'the connection to be closed');
});

// S2
test('a subscriber that reads but never acknowledges QoS 1 holds a bounded amount of the broker memory', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const sink = new TcpPeer(broker.port, 4, { keepReceived: false });
  cleanups.push(() => sink.destroy());
  await sink.connect({ clientId: 'never-acks' });
  await sink.subscribe('big/#', 1);
  const publisher = await mqttjs(broker.port, { clientId: 'big-publisher' });
  cleanups.push(() => endClient(publisher));
  const baseline = await broker.stats(true);
  const payload = Buffer.alloc(16 * 1024);
  for (let start = 0; start < 20_000; start += 200) {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) sends.push(publisher.publishAsync('big/x', payload, { qos: 1 }));
    await Promise.all(sends);
  }
  const loaded = await broker.stats(true);
  const session = await broker.session('never-acks');
  const grew =
    loaded.memory.heapUsed + loaded.memory.arrayBuffers - baseline.memory.heapUsed - baseline.memory.arrayBuffers;
  t.diagnostic(`312 MiB published; in flight ${session.inflight}, queued ${session.queueLength}; grew ${mib(grew)}`);
  // The default maxQueuedBytes is 64 MiB; with the socket's buffer, the broker should hold about that, not 600 MiB.
  assert.ok(grew < 96 * MiB, `one subscriber that never acknowledges made the broker hold ${mib(grew)}`);
});

// S3
test('a full session queue costs about maxQueuedBytes, not a multiple of it', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start({ maxQueuedMessages: 100_000, maxQueuedBytes: 4 * MiB });
  cleanups.push(() => broker.stop());
  const slow = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => slow.destroy());
  await slow.connect({ clientId: 'slow' });
  await slow.subscribe('q/#', 1);
  slow.socket.pause();
  // Readers on both protocol levels make the broker cache two encoded forms of each message.
  const readers: TcpPeer[] = [];
  for (const version of [5, 4] as const) {
    const reader = new TcpPeer(broker.port, version, { keepReceived: false });
    cleanups.push(() => reader.destroy());
    reader.onPacket = (packet) => {
      if (packet.type === 'publish' && packet.qos === 1) reader.send({ type: 'puback', packetId: packet.packetId! });
    };
    await reader.connect({ clientId: `reader-${version}` });
    await reader.subscribe('q/#', 1);
    readers.push(reader);
  }
  const publisher = await mqttjs(broker.port, { clientId: 'q-publisher' });
  cleanups.push(() => endClient(publisher));
  const payload = Buffer.alloc(4096);
  // First fill the slow socket, so that everything after it waits in the queue.
  for (let i = 0; i < 4000; i++) publisher.publish('q/0', payload, { qos: 0 });
  await waitUntil(async () => (await broker.stats()).stats.droppedMessages > 0, 'the slow socket to be full');
  const baseline = await broker.stats(true);
  for (let start = 0; start < 3000; start += 100) {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) sends.push(publisher.publishAsync('q/1', payload, { qos: 1 }));
    await Promise.all(sends);
  }
  await waitUntil(async () => (await broker.session('reader-4')).inflight === 0, 'the readers to acknowledge');
  const loaded = await broker.stats(true);
  const session = await broker.session('slow');
  const grew =
    loaded.memory.heapUsed + loaded.memory.arrayBuffers - baseline.memory.heapUsed - baseline.memory.arrayBuffers;
  t.diagnostic(`queue ${session.queueLength} messages, ${mib(session.queuedBytes)} accounted; grew ${mib(grew)}`);
  assert.ok(session.queuedBytes <= 4 * MiB);
  assert.ok(grew < 4 * MiB * 1.5, `a queue accounted at ${mib(session.queuedBytes)} holds ${mib(grew)}`);
});

// S4
for (const qos of [0, 1] as const) {
  test(`[MQTT-3.3.1-9] a new QoS ${qos} subscription that matches 20,000 retained messages receives every one`, {
    timeout: budget(30_000),
  }, async (t) => {
    const broker = await ChildBroker.start();
    cleanups.push(() => broker.stop());
    const publisher = await mqttjs(broker.port, { clientId: 'retainer' });
    cleanups.push(() => endClient(publisher));
    const COUNT = 20_000;
    for (let start = 0; start < COUNT; start += 500) {
      const sends: Promise<unknown>[] = [];
      for (let i = start; i < start + 500; i++) {
        sends.push(publisher.publishAsync(`kept/${i}`, Buffer.alloc(200, 0x41), { qos, retain: true }));
      }
      await Promise.all(sends);
    }
    assert.equal((await broker.stats()).stats.retained, COUNT);
    // A subscriber that reads and acknowledges everything at once: it is not slow.
    const reader = new TcpPeer(broker.port, 5, { keepReceived: false });
    cleanups.push(() => reader.destroy());
    const seen = new Set<string>();
    reader.onPacket = (packet) => {
      if (packet.type !== 'publish') return;
      seen.add(packet.topic);
      if (packet.qos === 1) reader.send({ type: 'puback', packetId: packet.packetId! });
    };
    await reader.connect({ clientId: 'late-reader' });
    await reader.subscribe('kept/#', qos);
    const result = await waitUntil(() => seen.size >= COUNT, `${COUNT} retained messages`, 10_000).then(
      () => 'complete',
      () => 'incomplete',
    );
    const stats = await broker.stats();
    t.diagnostic(`received ${seen.size} of ${COUNT}; dropped ${stats.stats.droppedMessages}`);
    assert.equal(result, 'complete', `received ${seen.size} of ${COUNT} retained messages`);
  });
}

// S6
test('a publisher that never reads its socket cannot make the broker hold its acknowledgements without bound', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const deaf = new TcpPeer(broker.port, 4, { keepReceived: false });
  cleanups.push(() => deaf.destroy());
  await deaf.connect({ clientId: 'deaf' });
  deaf.socket.pause();
  const baseline = await broker.stats(true);
  const packets: Buffer[] = [];
  for (let id = 1; id <= 5000; id++) {
    packets.push(
      encode(
        { type: 'publish', topic: 'void', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: id },
        4,
      ),
    );
  }
  const chunk = Buffer.concat(packets);
  let sent = 0;
  const deadline = Date.now() + 10_000;
  // 1,000,000 QoS 1 PUBLISH packets (11 MB), or as many as the broker takes in 10 s.
  while (sent < 200 && Date.now() < deadline && !deaf.closed) {
    if (!deaf.socket.write(chunk)) {
      await Promise.race([new Promise((resolve) => deaf.socket.once('drain', resolve)), delay(1000)]);
    }
    sent++;
  }
  const loaded = await broker.stats(true);
  const grew =
    loaded.memory.heapUsed + loaded.memory.arrayBuffers - baseline.memory.heapUsed - baseline.memory.arrayBuffers;
  t.diagnostic(`${sent * 5000} publishes written; broker received ${loaded.stats.messagesReceived}; grew ${mib(grew)}`);
  assert.ok(grew < 32 * MiB, `PUBACKs owed to a client that does not read made the broker hold ${mib(grew)}`);
});

// S8
test('a reader that keeps up loses nothing from bursts of 1.25 MiB under a 2 MiB maxQueuedBytes', {
  timeout: budget(30_000),
}, async (t) => {
  // Bursts of 20 (1.25 MiB), each published at once and acknowledged by the broker at once.
  await burstsBesideAStuckReader(t, cleanups, 20);
});
