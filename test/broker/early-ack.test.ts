import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { connected, delay, type RawClient, useBrokers } from './helpers.js';

const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };

/** A memory store whose commits, while the gate is closed, all wait until it opens. */
class GatedStore extends MemoryStore {
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};

  closeGate(): void {
    if (this.#gate) return;
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  openGate(): void {
    this.#open();
    this.#gate = undefined;
  }

  override commit(): Promise<void> {
    return this.#gate ?? super.commit();
  }
}

/**
 * A QoS 1 PUBACK promises that the message is not lost. Starling keeps that promise by a store commit, or sooner
 * when the message has already been delivered to, and acknowledged by, every persistent session that would have
 * kept it (issue #4: nothing acknowledged is lost; the commit of a message that no one holds any more adds nothing).
 */
describe('a QoS 1 PUBACK before the commit, once the message is delivered', () => {
  const broker = useBrokers();

  async function setup(topics: string[]): Promise<{ b: Broker; store: GatedStore; subs: RawClient[]; pub: RawClient }> {
    const store = new GatedStore();
    const b = await broker({ store });
    const subs: RawClient[] = [];
    for (const [i, topic] of topics.entries()) {
      const sub = await connected(b, `early-sub-${i}-${topic}`, 5, persistent);
      await sub.subscribe(topic, 1);
      subs.push(sub);
    }
    const pub = await connected(b, `early-pub-${topics.join('-')}`, 5);
    return { b, store, subs, pub };
  }

  test('[MQTT-4.3.2-4] the publisher gets PUBACK when the persistent subscriber acknowledged, commit still pending', async () => {
    const { store, subs, pub } = await setup(['e/1']);
    store.closeGate();
    pub.publish({ topic: 'e/1', payload: Buffer.from('m'), qos: 1, packetId: 1 });
    const delivered = await subs[0]!.expect('publish');
    await pub.expectNothing(50);
    subs[0]!.send({ type: 'puback', packetId: delivered.packetId! });
    const ack = await pub.expect('puback');
    assert.equal(ack.packetId, 1);
    assert.equal(ack.reasonCode ?? 0, 0);
    store.openGate();
  });

  test('without the subscriber acknowledgement the PUBACK waits for the commit', async () => {
    const { store, subs, pub } = await setup(['e/2']);
    store.closeGate();
    pub.publish({ topic: 'e/2', payload: Buffer.from('m'), qos: 1, packetId: 1 });
    await subs[0]!.expect('publish');
    await pub.expectNothing(80);
    store.openGate();
    assert.equal((await pub.expect('puback')).packetId, 1);
  });

  test('PUBACKs leave in the order of their PUBLISHes (section 4.6): one waiting for its commit holds back a later one already delivered', async () => {
    const { store, subs, pub } = await setup(['e/a', 'e/b']);
    store.closeGate();
    pub.publish({ topic: 'e/a', payload: Buffer.from('first'), qos: 1, packetId: 1 });
    pub.publish({ topic: 'e/b', payload: Buffer.from('second'), qos: 1, packetId: 2 });
    await subs[0]!.expect('publish');
    const second = await subs[1]!.expect('publish');
    subs[1]!.send({ type: 'puback', packetId: second.packetId! });
    await pub.expectNothing(80);
    store.openGate();
    assert.equal((await pub.expect('puback')).packetId, 1);
    assert.equal((await pub.expect('puback')).packetId, 2);
  });

  test('a later PUBACK leaves as soon as the earlier one does, when its message was delivered meanwhile', async () => {
    const { store, subs, pub } = await setup(['e/c', 'e/d']);
    store.closeGate();
    pub.publish({ topic: 'e/c', payload: Buffer.from('first'), qos: 1, packetId: 1 });
    pub.publish({ topic: 'e/d', payload: Buffer.from('second'), qos: 1, packetId: 2 });
    const first = await subs[0]!.expect('publish');
    const second = await subs[1]!.expect('publish');
    subs[1]!.send({ type: 'puback', packetId: second.packetId! });
    await pub.expectNothing(50);
    subs[0]!.send({ type: 'puback', packetId: first.packetId! });
    assert.equal((await pub.expect('puback')).packetId, 1);
    assert.equal((await pub.expect('puback')).packetId, 2);
    store.openGate();
  });

  test('a copy queued for an offline persistent session keeps the PUBACK waiting for the commit', async () => {
    const { b, store, subs, pub } = await setup(['e/q']);
    const offline = await connected(b, 'early-offline', 5, persistent);
    await offline.subscribe('e/q', 1);
    offline.disconnect();
    await delay(20);
    store.closeGate();
    pub.publish({ topic: 'e/q', payload: Buffer.from('m'), qos: 1, packetId: 1 });
    const delivered = await subs[0]!.expect('publish');
    subs[0]!.send({ type: 'puback', packetId: delivered.packetId! });
    await pub.expectNothing(80);
    store.openGate();
    assert.equal((await pub.expect('puback')).packetId, 1);
  });

  test('a retained QoS 1 message waits for the commit even when delivered and acknowledged', async () => {
    const { store, subs, pub } = await setup(['e/r']);
    store.closeGate();
    pub.publish({ topic: 'e/r', payload: Buffer.from('m'), qos: 1, packetId: 1, retain: true });
    const delivered = await subs[0]!.expect('publish');
    subs[0]!.send({ type: 'puback', packetId: delivered.packetId! });
    await pub.expectNothing(80);
    store.openGate();
    assert.equal((await pub.expect('puback')).packetId, 1);
  });

  test('a QoS 2 PUBREC always waits for the commit (its packet identifier must survive a restart)', async () => {
    const { store, subs, pub } = await setup(['e/2q']);
    store.closeGate();
    pub.publish({ topic: 'e/2q', payload: Buffer.from('m'), qos: 2, packetId: 1 });
    const delivered = await subs[0]!.expect('publish');
    assert.equal(delivered.qos, 1);
    subs[0]!.send({ type: 'puback', packetId: delivered.packetId! });
    await pub.expectNothing(80);
    store.openGate();
    assert.equal((await pub.expect('pubrec')).packetId, 1);
  });
});
