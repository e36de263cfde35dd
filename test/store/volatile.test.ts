import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VolatileStore } from '../../src/store/volatile/index.js';
import { connected, delay, RawClient, startBroker } from '../broker/helpers.js';

const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };

test('VolatileStore takes every write, commits at once and reads nothing back', async () => {
  const store = new VolatileStore();
  await store.open();
  store.putSession({ clientId: 'c1', protocolVersion: 5, expiryInterval: 60 });
  store.putSubscription('c1', {
    topicFilter: 't/#',
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
  });
  store.enqueue('c1', { seq: 7, topic: 't/1', payload: Buffer.from('x'), qos: 1, retain: false });
  store.putInflight('c1', { packetId: 1, seq: 1, state: 'awaitPuback', qos: 1, retain: false });
  store.putIncomingQos2('c1', 3);
  store.putRetained({ topic: 't/r', payload: Buffer.from('r'), qos: 0, retain: true });
  await store.commit();
  assert.deepEqual(await store.loadSessions(), []);
  assert.equal(await store.getSession('c1'), undefined);
  assert.deepEqual(await store.getSubscriptions('c1'), []);
  assert.deepEqual(await store.readQueue('c1', 0, 10), []);
  assert.equal(await store.lastQueuedSeq('c1'), 0);
  assert.deepEqual(await store.getInflight('c1'), []);
  assert.deepEqual(await store.getIncomingQos2('c1'), []);
  assert.deepEqual(await store.loadRetained(), []);
  await store.close();
});

test('on a VolatileStore a persistent session still keeps its messages while the broker runs, and a restart forgets it', async () => {
  const store = new VolatileStore();
  const first = await startBroker({ store });
  try {
    const sub = await connected(first, 'volatile-sub', 5, persistent);
    await sub.subscribe('v/#', 1);
    sub.destroy();
    await delay(5);
    const pub = await connected(first, 'volatile-pub', 5);
    pub.publish({ topic: 'v/1', payload: Buffer.from('kept'), qos: 1, packetId: 1 });
    assert.equal((await pub.expect('puback')).packetId, 1);
    const back = new RawClient(first, 5);
    assert.equal((await back.connect({ clientId: 'volatile-sub', ...persistent })).sessionPresent, true);
    assert.equal((await back.expect('publish')).payload.toString(), 'kept');
  } finally {
    await first.close();
  }
  const second = await startBroker({ store });
  try {
    const again = new RawClient(second, 5);
    assert.equal((await again.connect({ clientId: 'volatile-sub', ...persistent })).sessionPresent, false);
  } finally {
    await second.close();
  }
});
