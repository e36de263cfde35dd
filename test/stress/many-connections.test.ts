import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { budget, ChildBroker, MiB, mib, SOAK, TcpPeer, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Connects `count` peers (in waves of `wave`), subscribes each, delivers one message to all, disconnects them. */
async function round(broker: ChildBroker, count: number, wave: number, tag: string): Promise<string> {
  const peers: TcpPeer[] = [];
  cleanups.push(() => {
    for (const peer of peers) peer.destroy();
  });
  for (let start = 0; start < count; start += wave) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(start + wave, count); i++) {
      // Both protocol levels; sessions end with their connections.
      const peer = new TcpPeer(broker.port, i % 2 === 0 ? 5 : 4, { keepReceived: false });
      peers.push(peer);
      batch.push(
        (async () => {
          await peer.connect({ clientId: `${tag}-${i}` });
          assert.deepEqual(await peer.subscribe(`many/${i}/#`, 1), [1]);
          assert.deepEqual(await peer.subscribe('many/all', 0, 2), [0]);
        })(),
      );
    }
    await Promise.all(batch);
  }
  const stats = await broker.stats(true);
  assert.equal(stats.stats.clientsConnected, count);
  assert.equal(stats.stats.sessions, count);
  assert.equal(stats.stats.subscriptions, 2 * count);

  // One message to everyone, then one addressed to each, from a publisher of our own.
  const gotAll = peers.map((peer) => peer.expect('publish', budget(15_000), (p) => p.topic === 'many/all'));
  const gotOwn = peers.map((peer, i) => peer.expect('publish', budget(15_000), (p) => p.topic === `many/${i}/x`));
  for (const peer of peers) {
    peer.onPacket = (packet) => {
      if (packet.type === 'publish' && packet.qos === 1) peer.send({ type: 'puback', packetId: packet.packetId! });
    };
  }
  const publisher = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => publisher.destroy());
  await publisher.connect({ clientId: `${tag}-publisher` });
  publisher.send({
    type: 'publish',
    topic: 'many/all',
    payload: Buffer.from('hello'),
    qos: 0,
    retain: false,
    dup: false,
  });
  for (let i = 0; i < count; i++) {
    publisher.send({
      type: 'publish',
      topic: `many/${i}/x`,
      payload: Buffer.from(String(i)),
      qos: 1,
      retain: false,
      dup: false,
      packetId: (i % 65535) + 1,
    });
  }
  const all = await Promise.all(gotAll);
  const own = await Promise.all(gotOwn);
  for (const packet of all) assert.equal(packet.payload.toString(), 'hello');
  for (const [i, packet] of own.entries()) assert.equal(packet.payload.toString(), String(i));

  // Half leave with DISCONNECT, half just drop the socket.
  for (const [i, peer] of peers.entries()) {
    if (i % 2 === 0) {
      peer.send({ type: 'disconnect' });
      peer.socket.end();
    } else {
      peer.destroy();
    }
  }
  publisher.send({ type: 'disconnect' });
  publisher.socket.end();
  await Promise.all(peers.map((peer) => peer.waitClosed(budget(10_000))));
  return `connected: rss ${mib(stats.memory.rss)}, heap ${mib(stats.memory.heapUsed)}`;
}

test('thousands of connections come and go; the broker keeps no connection, session or subscription', {
  timeout: budget(40_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  // Within the default fd limit of both processes: a soak run repeats the rounds rather than widening them.
  const COUNT = 2000;
  const ROUNDS = 2 * SOAK;
  const baseline = await broker.stats(true);
  const figures: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const peak = await round(broker, COUNT, 250, `r${r}`);
    await waitUntil(
      async () => {
        const s = await broker.stats();
        return s.connections === 0 && s.stats.clientsConnected === 0;
      },
      'every connection to be torn down',
      budget(10_000),
      50,
    );
    const settled = await broker.stats(true);
    figures.push(
      `round ${r + 1}: ${peak}; after: rss ${mib(settled.memory.rss)}, heap ${mib(settled.memory.heapUsed)}`,
    );
    assert.equal(settled.stats.clientsConnected, 0);
    assert.equal(settled.connections, 0);
    assert.equal(settled.stats.sessions, 0);
    assert.equal(settled.stats.subscriptions, 0);
    assert.deepEqual(settled.errorLogs, []);
    // Back near where it started: what 2,000 connections leave behind after GC is not their state.
    const grew = settled.memory.heapUsed - baseline.memory.heapUsed;
    assert.ok(grew < 8 * MiB, `heap grew by ${mib(grew)} after ${COUNT} connections came and went`);
  }
  t.diagnostic(
    `${COUNT} connections x ${ROUNDS} rounds; baseline rss ${mib(baseline.memory.rss)}, heap ` +
      `${mib(baseline.memory.heapUsed)}; ${figures.join('; ')}`,
  );
});
