import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { budget, ChildBroker, MiB, mib, SOAK, TcpPeer, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('[MQTT-3.1.4-3] a storm of connections sharing one client id leaves one connection and one session', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const peers: TcpPeer[] = [];
  cleanups.push(() => {
    for (const peer of peers) peer.destroy();
  });
  const WAVES = 10 * SOAK;
  for (let wave = 0; wave < WAVES; wave++) {
    const opening: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      // Both protocol levels, clean and resumed, persistent and not, some with a will: each takes the last one over.
      const version = i % 2 === 0 ? 5 : 4;
      const peer = new TcpPeer(broker.port, version, { keepReceived: false });
      peers.push(peer);
      opening.push(
        (async () => {
          await peer.opened();
          peer.send(
            peer.connectPacket({
              clientId: 'contested',
              clean: i % 3 === 0,
              properties: version === 5 ? { sessionExpiryInterval: i % 3 === 1 ? 60 : 0 } : undefined,
              will:
                i % 4 === 0
                  ? { topic: 'contested/will', payload: Buffer.from('gone'), qos: 1, retain: false }
                  : undefined,
            }),
          );
          peer.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'contested/#', qos: 1 }] });
        })(),
      );
    }
    await Promise.all(opening);
  }
  await waitUntil(
    async () => (await broker.stats()).connections === 1,
    'every connection but the last to be taken over',
    budget(10_000),
    50,
  );
  await waitUntil(() => peers.filter((peer) => !peer.closed).length === 1, 'one open socket', 5000);
  const settled = await broker.stats();
  t.diagnostic(`${peers.length} connections for one client id`);
  assert.equal(settled.stats.clientsConnected, 1);
  assert.equal(settled.stats.sessions, 1);
  assert.equal(settled.stats.subscriptions, 1);
  assert.deepEqual(settled.errorLogs, []);
  for (const peer of peers) assert.equal(peer.decodeError, undefined);

  // The survivor works: it receives what is published to its subscription.
  const survivor = peers.find((peer) => !peer.closed)!;
  const got = survivor.expect('publish', 5000, (p) => p.topic === 'contested/last');
  const publisher = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => publisher.destroy());
  await publisher.connect({ clientId: 'contest-publisher' });
  publisher.send({
    type: 'publish',
    topic: 'contested/last',
    payload: Buffer.from('hi'),
    qos: 0,
    retain: false,
    dup: false,
  });
  assert.equal((await got).payload.toString(), 'hi');
  survivor.destroy();
  publisher.destroy();
  await waitUntil(async () => (await broker.stats()).stats.clientsConnected === 0, 'no client connected', 5000);
});

test('[MQTT-3.1.2-23] 2,000 persistent sessions left with queued messages all expire, and nothing of them remains', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const COUNT = 2000;
  const baseline = await broker.stats(true);
  const peers: TcpPeer[] = [];
  cleanups.push(() => {
    for (const peer of peers) peer.destroy();
  });
  for (let start = 0; start < COUNT; start += 250) {
    const wave: Promise<unknown>[] = [];
    for (let i = start; i < start + 250; i++) {
      // MQTT 5 sessions that expire six seconds after their connection ends.
      const peer = new TcpPeer(broker.port, 5, { keepReceived: false });
      peers.push(peer);
      wave.push(
        (async () => {
          await peer.connect({ clientId: `expiring-${i}`, properties: { sessionExpiryInterval: 6 } });
          await peer.subscribe(`expiring/${i % 50}/#`, 1);
        })(),
      );
    }
    await Promise.all(wave);
  }
  // All connections drop together, so every session's expiry starts now, however long connecting them took.
  for (const peer of peers) peer.destroy();
  await waitUntil(async () => (await broker.stats()).stats.clientsConnected === 0, 'every client gone');
  // Messages for the offline sessions wait in their queues until the sessions expire.
  const publisher = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => publisher.destroy());
  await publisher.connect({ clientId: 'to-the-absent' });
  for (let i = 0; i < 50; i++) {
    const ack = publisher.expect('puback', 5000, (p) => p.packetId === i + 1);
    publisher.send({
      type: 'publish',
      topic: `expiring/${i}/x`,
      payload: Buffer.alloc(1024),
      qos: 1,
      retain: false,
      dup: false,
      packetId: i + 1,
    });
    await ack;
  }
  publisher.destroy();
  const loaded = await broker.stats(true);
  assert.equal(loaded.stats.sessions, COUNT);
  assert.equal(loaded.stats.subscriptions, COUNT);
  // Each offline session holds the one message published to its filter.
  assert.equal((await broker.session('expiring-1999')).queueLength, 1);
  await waitUntil(
    async () => (await broker.stats()).stats.sessions === 0,
    'every session to expire',
    budget(15_000),
    100,
  );
  const settled = await broker.stats(true);
  t.diagnostic(
    `heap ${mib(baseline.memory.heapUsed)} -> ${mib(loaded.memory.heapUsed)} with ${COUNT} offline sessions -> ` +
      `${mib(settled.memory.heapUsed)} after they expired`,
  );
  assert.equal(settled.stats.subscriptions, 0);
  assert.equal(settled.connections, 0);
  assert.ok(settled.memory.heapUsed - baseline.memory.heapUsed < 8 * MiB);
  assert.deepEqual(settled.errorLogs, []);
});
