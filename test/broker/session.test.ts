import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { LmdbStore } from '../../src/store/lmdb/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { connected, delay, RawClient, startBroker, useBrokers } from './helpers.js';

const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };

/** A memory store whose commits wait, while `held`, until release(). */
class HeldStore extends MemoryStore {
  held = false;
  #release: () => void = () => {};

  override commit(): Promise<void> {
    if (!this.held) return super.commit();
    return new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  /** Stops holding and lets the held commit finish. */
  release(): void {
    this.held = false;
    this.#release();
  }
}

/**
 * Leaves `clientId` as an offline persistent session in `store`, subscribed to `filter` at QoS 1, with `messages`
 * published after it went, and closes the broker that held it (a restart follows on the same store).
 */
async function leaveOffline(
  store: MemoryStore,
  clientId: string,
  filter: string,
  messages: Parameters<Broker['publish']>[0][],
): Promise<void> {
  const first = await startBroker({ store });
  const sub = await connected(first, clientId, 5, persistent);
  await sub.subscribe(filter, 1);
  sub.destroy();
  await delay(5);
  for (const message of messages) await first.publish(message);
  await first.close();
}

describe('sessions', () => {
  const broker = useBrokers();

  test('[MQTT-3.1.2-5] an offline persistent session queues QoS 1/2 (not QoS 0) and delivers them on resume', async () => {
    const b = await broker();
    const sub = await connected(b, 'offline', 5, persistent);
    await sub.subscribe('off/#', 2);
    sub.destroy();
    await delay(5);
    await b.publish({ topic: 'off/0', payload: 'zero', qos: 0 });
    await b.publish({ topic: 'off/1', payload: 'one', qos: 1 });
    await b.publish({ topic: 'off/2', payload: 'two', qos: 2 });
    assert.equal(b.sessions.get('offline')?.queueLength, 2);
    const back = new RawClient(b, 5);
    const connack = await back.connect({ clientId: 'offline', ...persistent });
    assert.equal(connack.sessionPresent, true);
    const one = await back.expect('publish');
    const two = await back.expect('publish');
    assert.deepEqual([one.payload.toString(), one.qos, two.payload.toString(), two.qos], ['one', 1, 'two', 2]);
    await back.expectNothing();
  });

  test('queueQos0Offline queues QoS 0 for offline sessions too', async () => {
    const b = await broker({ queueQos0Offline: true });
    const sub = await connected(b, 'q0', 4, { clean: false });
    await sub.subscribe('z', 0);
    sub.destroy();
    await delay(5);
    await b.publish({ topic: 'z', payload: 'kept' });
    const back = await connected(b, 'q0', 4, { clean: false });
    assert.equal((await back.expect('publish')).payload.toString(), 'kept');
  });

  test('the offline queue is bounded by count and bytes; what is dropped is counted', async () => {
    const b = await broker({ maxQueuedMessages: 3, maxQueuedBytes: 1_000_000 });
    const sub = await connected(b, 'bounded', 5, persistent);
    await sub.subscribe('b', 1);
    sub.destroy();
    await delay(5);
    for (let i = 0; i < 5; i++) await b.publish({ topic: 'b', payload: String(i), qos: 1 });
    assert.equal(b.sessions.get('bounded')?.queueLength, 3);
    assert.equal(b.stats.droppedMessages, 2);
    const bytes = await broker({ maxQueuedBytes: 500 });
    const sub2 = await connected(bytes, 'bytes', 5, persistent);
    await sub2.subscribe('b', 1);
    sub2.destroy();
    await delay(5);
    for (let i = 0; i < 5; i++) await bytes.publish({ topic: 'b', payload: Buffer.alloc(200), qos: 1 });
    assert.equal(bytes.sessions.get('bytes')?.queueLength, 1);
    assert.equal(bytes.stats.droppedMessages, 4);
  });

  test('[MQTT-4.4.0-1] unacknowledged QoS 1 messages are re-sent with DUP=1 and the same identifier on resume', async () => {
    const b = await broker();
    const sub = await connected(b, 'redeliver', 4, { clean: false });
    await sub.subscribe('rd', 1);
    await b.publish({ topic: 'rd', payload: 'again', qos: 1 });
    const first = await sub.expect('publish');
    assert.equal(first.dup, false);
    sub.destroy();
    await delay(5);
    const back = new RawClient(b, 4);
    assert.equal((await back.connect({ clientId: 'redeliver', clean: false })).sessionPresent, true);
    const again = await back.expect('publish');
    assert.equal(again.dup, true);
    assert.equal(again.packetId, first.packetId);
    assert.equal(again.payload.toString(), 'again');
    back.send({ type: 'puback', packetId: again.packetId! });
    await delay(5);
    assert.equal(b.sessions.get('redeliver')?.inflight.size, 0);
  });

  test('[MQTT-4.4.0-1] a QoS 2 message past PUBREC gets its PUBREL re-sent on resume', async () => {
    const b = await broker();
    const sub = await connected(b, 'rel2', 5, persistent);
    await sub.subscribe('q2', 2);
    await b.publish({ topic: 'q2', payload: 'x', qos: 2 });
    const msg = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: msg.packetId! });
    await sub.expect('pubrel');
    sub.destroy();
    await delay(5);
    const back = await connected(b, 'rel2', 5, persistent);
    assert.equal((await back.expect('pubrel')).packetId, msg.packetId);
    back.send({ type: 'pubcomp', packetId: msg.packetId! });
    await delay(5);
    assert.equal(b.sessions.get('rel2')?.inflight.size, 0);
  });

  test('[MQTT-4.3.3-9] inbound QoS 2 state survives a reconnect: the re-sent PUBLISH is not routed twice', async () => {
    const b = await broker();
    const sub = await connected(b, 'watch');
    await sub.subscribe('eo', 0);
    const pub = await connected(b, 'eo-pub', 5, persistent);
    pub.publish({ topic: 'eo', payload: Buffer.from('x'), qos: 2, packetId: 12 });
    await pub.expect('pubrec');
    pub.destroy();
    await delay(5);
    const back = await connected(b, 'eo-pub', 5, persistent);
    back.publish({ topic: 'eo', payload: Buffer.from('x'), qos: 2, packetId: 12, dup: true });
    await back.expect('pubrec');
    back.send({ type: 'pubrel', packetId: 12 });
    await back.expect('pubcomp');
    await sub.expect('publish');
    await sub.expectNothing();
  });

  test('a persistent session survives a broker restart on the same store: subscriptions, queue, retained', async () => {
    const store = new MemoryStore();
    await leaveOffline(store, 'durable', 'd/#', [
      { topic: 'd/1', payload: 'queued', qos: 1 },
      { topic: 'd/r', payload: 'retained', qos: 0, retain: true },
    ]);

    const second = await broker({ store });
    assert.equal(second.stats.retained, 1);
    const back = new RawClient(second, 5);
    assert.equal((await back.connect({ clientId: 'durable', ...persistent })).sessionPresent, true);
    assert.equal((await back.expect('publish')).payload.toString(), 'queued');
    await second.publish({ topic: 'd/2', payload: 'live', qos: 1 });
    assert.equal((await back.expect('publish')).payload.toString(), 'live');
  });

  test('a clock set back across a restart neither reorders nor replaces queued messages', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'starling-clock-'));
    let now = 1_900_000_000_000;
    const clock = { now: () => now };
    const first = await startBroker({ store: new LmdbStore(dir), clock });
    const sub = await connected(first, 'clockwise', 5, persistent);
    await sub.subscribe('c/#', 1);
    sub.destroy();
    await delay(5);
    await first.publish({ topic: 'c/1', payload: 'one', qos: 1 });
    await first.publish({ topic: 'c/2', payload: 'two', qos: 1 });
    await first.close();

    now -= 60_000; // the machine's clock was a minute fast, and has been corrected
    const second = await startBroker({ store: new LmdbStore(dir), clock });
    t.after(async () => {
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await second.publish({ topic: 'c/3', payload: 'three', qos: 1 });
    const back = new RawClient(second, 5);
    assert.equal((await back.connect({ clientId: 'clockwise', ...persistent })).sessionPresent, true);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const message = await back.expect('publish');
      got.push(message.payload.toString());
      back.send({ type: 'puback', packetId: message.packetId! });
    }
    assert.deepEqual(got, ['one', 'two', 'three']);
  });

  test('unacknowledged in-flight messages survive a restart and are re-sent with DUP', async () => {
    const store = new MemoryStore();
    const first = await startBroker({ store });
    const sub = await connected(first, 'inflight', 5, persistent);
    await sub.subscribe('i', 1);
    await first.publish({ topic: 'i', payload: 'pending', qos: 1 });
    const msg = await sub.expect('publish');
    sub.destroy();
    await delay(5);
    await first.close();
    const second = await broker({ store });
    const back = await connected(second, 'inflight', 5, persistent);
    const again = await back.expect('publish');
    assert.equal(again.dup, true);
    assert.equal(again.packetId, msg.packetId);
  });

  test('a QoS 1 PUBACK waits until the store has committed the message for a persistent session', async () => {
    const store = new HeldStore();
    const b = await broker({ store });
    const sub = await connected(b, 'durable-sub', 5, persistent);
    await sub.subscribe('dur', 1);
    sub.destroy();
    await delay(5);
    const pub = await connected(b, 'durable-pub');
    store.held = true;
    pub.publish({ topic: 'dur', payload: Buffer.from('x'), qos: 1, packetId: 8 });
    await pub.expectNothing(50);
    store.release();
    assert.equal((await pub.expect('puback')).packetId, 8);
  });

  test('backpressure: a subscriber that does not read loses QoS 0 beyond its buffer and never slows the others', async () => {
    const b = await broker({ maxWriteBufferBytes: 16 * 1024 });
    const slow = await connected(b, 'slow');
    await slow.subscribe('bp', 0);
    slow.socket.pause();
    const fast = await connected(b, 'fast');
    await fast.subscribe('bp', 0);
    const payload = Buffer.alloc(1024);
    for (let i = 0; i < 500; i++) {
      await b.publish({ topic: 'bp', payload });
      // Let the sockets move between bursts, as a network would.
      if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
    }
    let received = 0;
    while (received < 500) {
      await fast.expect('publish');
      received++;
    }
    assert.ok(b.stats.droppedMessages > 400, `dropped ${b.stats.droppedMessages}`);
    assert.ok(slow.server.writableLength < 64 * 1024, `buffered ${slow.server.writableLength}`);
  });

  test('backpressure: QoS 1 for a subscriber that does not read waits in its bounded queue', async () => {
    const b = await broker({ maxWriteBufferBytes: 8 * 1024, maxQueuedMessages: 50 });
    const slow = await connected(b, 'slow1');
    await slow.subscribe('bq', 1);
    slow.socket.pause();
    for (let i = 0; i < 200; i++) await b.publish({ topic: 'bq', payload: Buffer.alloc(1024), qos: 1 });
    const session = b.sessions.get('slow1');
    assert.ok(session);
    assert.ok(session.queueLength <= 50);
    assert.ok(session.inflight.size < 30, `in flight ${session.inflight.size}`);
    assert.ok(b.stats.droppedMessages > 100);
  });

  test('session expiry removes the session and its subscriptions', async () => {
    let now = 10_000;
    const b = await broker({ clock: { now: () => now } });
    const sub = await connected(b, 'short', 5, { properties: { sessionExpiryInterval: 1 } });
    await sub.subscribe('gone/#', 1);
    assert.equal(b.stats.subscriptions, 1);
    sub.destroy();
    await delay(5);
    now += 1500;
    await delay(1100);
    assert.equal(b.sessions.has('short'), false);
    assert.equal(b.stats.subscriptions, 0);
  });

  test('maxSessionExpiryInterval caps the interval and CONNACK says so', async () => {
    const b = await broker({ maxSessionExpiryInterval: 60 });
    const client = new RawClient(b, 5);
    const connack = await client.connect({ clientId: 'cap', properties: { sessionExpiryInterval: 1000 } });
    assert.equal(connack.properties?.sessionExpiryInterval, 60);
    assert.equal(b.sessions.get('cap')?.expiryInterval, 60);
    client.destroy();
  });

  test('a failed store commit closes the publisher with DISCONNECT 0x80 and is reported as an error event', async () => {
    class FailingStore extends MemoryStore {
      failing = false;
      override commit(): Promise<void> {
        return this.failing ? Promise.reject(new Error('disk full')) : super.commit();
      }
    }
    const store = new FailingStore();
    const b = await broker({ store });
    const errors: Error[] = [];
    b.on('error', (error) => errors.push(error));
    const sub = await connected(b, 'fail-sub', 5, persistent);
    await sub.subscribe('f', 1);
    sub.destroy();
    await delay(5);
    const pub = await connected(b, 'fail-pub');
    store.failing = true;
    pub.publish({ topic: 'f', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    assert.equal((await pub.expect('disconnect')).reasonCode, 0x80);
    store.failing = false;
    assert.equal(errors[0]?.message, 'disk full');
  });

  test('a restored session leaves its queue in the store until its client returns, then keeps the order', async () => {
    let releaseRead: () => void = () => {};
    let holdReads = false;
    class SlowReadStore extends MemoryStore {
      override async readQueue(clientId: string, fromSeq: number, limit: number) {
        if (holdReads)
          await new Promise<void>((resolve) => {
            releaseRead = resolve;
          });
        return super.readQueue(clientId, fromSeq, limit);
      }
    }
    const store = new SlowReadStore();
    await leaveOffline(store, 'lazy', 'lz', [{ topic: 'lz', payload: 'before restart', qos: 1 }]);

    const second = await broker({ store });
    const restored = second.sessions.get('lazy');
    assert.ok(restored);
    assert.equal(restored.queueInStore, true);
    assert.equal(restored.queueLength, 0);
    await second.publish({ topic: 'lz', payload: 'while offline', qos: 1 });
    assert.equal(restored.queueLength, 0);

    holdReads = true;
    const back = new RawClient(second, 5);
    const connack = await back.connect({ clientId: 'lazy', ...persistent });
    assert.equal(connack.sessionPresent, true);
    // A message that arrives while the stored queue is being read goes after it.
    await second.publish({ topic: 'lz', payload: 'during the read', qos: 1 });
    holdReads = false;
    releaseRead();
    const payloads: string[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = await back.expect('publish');
      payloads.push(msg.payload.toString());
      back.send({ type: 'puback', packetId: msg.packetId! });
    }
    assert.deepEqual(payloads, ['before restart', 'while offline', 'during the read']);
    await back.expectNothing();
    await delay(5);
    assert.deepEqual(await store.readQueue('lazy', 0, 10), []);
  });

  test('a restored session resumed with Session Expiry 0 still gets its stored queue, then leaves the store', async () => {
    const store = new MemoryStore();
    await leaveOffline(store, 'last-time', 'lt', [{ topic: 'lt', payload: 'kept', qos: 1 }]);
    const second = await broker({ store });
    const back = await connected(second, 'last-time', 5, { clean: false, properties: { sessionExpiryInterval: 0 } });
    const msg = await back.expect('publish');
    assert.equal(msg.payload.toString(), 'kept');
    await delay(5);
    assert.equal(await store.getSession('last-time'), undefined);
  });

  test('PUBREL and PUBCOMP of a persistent session wait for the store commit of their state change', async () => {
    const store = new HeldStore();
    const b = await broker({ store });
    const sub = await connected(b, 'q2-durable', 5, persistent);
    await sub.subscribe('q2d', 2);
    await b.publish({ topic: 'q2d', payload: 'x', qos: 2 });
    const msg = await sub.expect('publish');
    store.held = true;
    sub.send({ type: 'pubrec', packetId: msg.packetId! });
    await sub.expectNothing(40);
    store.release();
    assert.equal((await sub.expect('pubrel')).packetId, msg.packetId);

    const pub = await connected(b, 'q2-publisher', 5, persistent);
    pub.publish({ topic: 'elsewhere', payload: Buffer.from('y'), qos: 2, packetId: 21 });
    await pub.expect('pubrec');
    store.held = true;
    pub.send({ type: 'pubrel', packetId: 21 });
    await pub.expectNothing(40);
    store.release();
    assert.equal((await pub.expect('pubcomp')).packetId, 21);
  });

  test('a persistent session gets its SUBACK once the subscription is committed, then the retained messages', async () => {
    const store = new HeldStore();
    const b = await broker({ store });
    await b.publish({ topic: 'sa/r', payload: 'retained', retain: true });
    const sub = await connected(b, 'suback-durable', 5, persistent);
    store.held = true;
    sub.send({ type: 'subscribe', packetId: 5, subscriptions: [{ topicFilter: 'sa/#', qos: 1 }] });
    await sub.expectNothing(40);
    store.release();
    assert.equal((await sub.expect('suback')).packetId, 5);
    assert.equal((await sub.expect('publish')).payload.toString(), 'retained');
  });
});

test('[MQTT-4.4.0-1] [MQTT-3.3.4-9] re-sends held back by a smaller Receive Maximum go before newer messages', async (t) => {
  const b = await startBroker();
  t.after(() => b.close());
  const sub = await connected(b, 'held', 5, { properties: { sessionExpiryInterval: 60, receiveMaximum: 3 } });
  await sub.subscribe('h/t', 1);
  const pub = await connected(b, 'pub');
  for (let i = 1; i <= 3; i++) pub.publish({ topic: 'h/t', qos: 1, packetId: i, payload: Buffer.from(`${i}`) });
  for (let i = 1; i <= 3; i++) await sub.expect('publish');
  sub.destroy();
  await delay(10);
  const again = new RawClient(b, 5);
  await again.connect({ clientId: 'held', clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 1 } });
  pub.publish({ topic: 'h/t', qos: 1, packetId: 4, payload: Buffer.from('4') });
  const got: string[] = [];
  for (let i = 0; i < 4; i++) {
    const m = await again.expect('publish');
    got.push(`${m.payload}${m.dup ? '*' : ''}`);
    again.send({ type: 'puback', packetId: m.packetId ?? 0 });
  }
  // The three unacknowledged ones again (DUP), one at a time, then the new one.
  assert.deepEqual(got, ['1*', '2*', '3*', '4']);
});
