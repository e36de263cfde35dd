import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { budget, ChildBroker, SOAK, TcpPeer, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('[MQTT-3.1.2-8] a thousand connections dropped at once each publish their will, and a subscriber gets them all', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const COUNT = 1000 * SOAK;

  const watcher = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => watcher.destroy());
  const wills = new Map<string, number>();
  watcher.onPacket = (packet) => {
    if (packet.type !== 'publish') return;
    if (packet.qos === 1) watcher.send({ type: 'puback', packetId: packet.packetId! });
    const from = packet.payload.toString();
    wills.set(from, (wills.get(from) ?? 0) + 1);
  };
  await watcher.connect({ clientId: 'watcher' });
  await watcher.subscribe('wills/#', 1);

  const peers: TcpPeer[] = [];
  cleanups.push(() => {
    for (const peer of peers) peer.destroy();
  });
  for (let start = 0; start < COUNT; start += 200) {
    const wave: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(start + 200, COUNT); i++) {
      const version = i % 2 === 0 ? 5 : 4;
      const peer = new TcpPeer(broker.port, version, { keepReceived: false });
      peers.push(peer);
      wave.push(
        peer.connect({
          clientId: `mortal-${i}`,
          will: { topic: `wills/${i % 10}`, payload: Buffer.from(`mortal-${i}`), qos: 1, retain: false },
        }),
      );
    }
    await Promise.all(wave);
  }
  // Every connection fails at once, without DISCONNECT: half reset, half closed.
  for (const [i, peer] of peers.entries()) {
    if (i % 2 === 0) peer.socket.resetAndDestroy();
    else peer.socket.end();
  }
  await waitUntil(() => wills.size >= COUNT, `${COUNT} wills (have ${wills.size})`, budget(15_000));
  await waitUntil(async () => (await broker.stats()).stats.clientsConnected === 1, 'only the watcher connected');
  const stats = await broker.stats();
  t.diagnostic(`${COUNT} wills received; broker sessions ${stats.stats.sessions}`);
  assert.equal(wills.size, COUNT);
  for (const [from, n] of wills) assert.equal(n, 1, `${from}'s will published once`);
  assert.equal(stats.stats.sessions, 1);
  assert.equal(stats.stats.droppedMessages, 0);
  assert.deepEqual(stats.errorLogs, []);
});
