import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WillMessage } from '../../src/protocol/packets.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { connected, delay, useBrokers } from './helpers.js';

const will: WillMessage = {
  topic: 'wills/dev',
  payload: Buffer.from('offline'),
  qos: 1,
  retain: false,
  properties: { contentType: 'text/plain', userProperties: [['why', 'lost']], responseTopic: 'r/t' },
};

describe('will messages', () => {
  const broker = useBrokers();

  test('[MQTT-3.1.2-8] the will is published when the network connection drops, with its QoS and properties', async () => {
    const b = await broker();
    const watcher = await connected(b, 'watcher');
    await watcher.subscribe('wills/#', 2);
    const device = await connected(b, 'dev', 5, { will });
    device.destroy();
    const msg = await watcher.expect('publish');
    assert.equal(msg.topic, 'wills/dev');
    assert.equal(msg.payload.toString(), 'offline');
    assert.equal(msg.qos, 1);
    assert.deepEqual(msg.properties, will.properties);
  });

  test('[MQTT-3.1.2-10] 3.1.1: the will is published on a drop and removed by DISCONNECT', async () => {
    const b = await broker();
    const watcher = await connected(b, 'w4', 4);
    await watcher.subscribe('wills/#', 0);
    const dropped = await connected(b, 'd4', 4, { will: { ...will, properties: undefined } });
    dropped.destroy();
    assert.equal((await watcher.expect('publish')).payload.toString(), 'offline');
    const polite = await connected(b, 'p4', 4, { will: { ...will, properties: undefined } });
    polite.disconnect();
    await polite.waitClosed();
    await watcher.expectNothing();
  });

  test('[MQTT-3.14.4-3] no will after a normal DISCONNECT; DISCONNECT 0x04 publishes it', async () => {
    const b = await broker();
    const watcher = await connected(b, 'w5');
    await watcher.subscribe('wills/#', 0);
    const normal = await connected(b, 'n5', 5, { will });
    normal.disconnect(0);
    await normal.waitClosed();
    await watcher.expectNothing();
    const withWill = await connected(b, 'ww5', 5, { will });
    withWill.disconnect(0x04);
    assert.equal((await watcher.expect('publish')).payload.toString(), 'offline');
  });

  test('a retained will is stored as a retained message', async () => {
    const b = await broker();
    const device = await connected(b, 'rw', 5, { will: { ...will, retain: true, topic: 'status/rw' } });
    device.destroy();
    await delay(5);
    const late = await connected(b, 'late');
    await late.subscribe('status/#', 0);
    const msg = await late.expect('publish');
    assert.equal(msg.retain, true);
    assert.equal(msg.payload.toString(), 'offline');
  });

  test('the will is published when the broker closes the connection for a protocol error', async () => {
    const b = await broker();
    const watcher = await connected(b, 'wp');
    await watcher.subscribe('wills/#', 0);
    const bad = await connected(b, 'bad', 5, { will });
    bad.sendRaw([0x20, 0x02, 0x00, 0x00]); // a CONNACK from a client
    await bad.waitClosed();
    assert.equal((await watcher.expect('publish')).topic, 'wills/dev');
  });

  test('[MQTT-3.1.3-9] Will Delay: published after the delay when the session is not resumed', async () => {
    const b = await broker();
    const watcher = await connected(b, 'wd');
    await watcher.subscribe('wills/#', 0);
    const device = await connected(b, 'delayed', 5, {
      will: { ...will, properties: { willDelayInterval: 1 } },
      properties: { sessionExpiryInterval: 60 },
    });
    const dropped = Date.now();
    device.destroy();
    await watcher.expectNothing(500);
    await watcher.expect('publish', 2000);
    assert.ok(Date.now() - dropped >= 950);
  });

  test('[MQTT-3.1.3-10] Will Delay: no will when the session resumes before the delay', async () => {
    const b = await broker();
    const watcher = await connected(b, 'wr');
    await watcher.subscribe('wills/#', 0);
    const options = {
      will: { ...will, properties: { willDelayInterval: 1 } },
      properties: { sessionExpiryInterval: 60 },
    };
    const device = await connected(b, 'resumer', 5, options);
    device.destroy();
    await delay(100);
    const back = await connected(b, 'resumer', 5, { ...options, clean: false });
    await watcher.expectNothing(1300);
    back.destroy();
  });

  test('the will is sent at the earlier of Will Delay and Session Expiry', async () => {
    const b = await broker();
    const watcher = await connected(b, 'we');
    await watcher.subscribe('wills/#', 0);
    const device = await connected(b, 'soon', 5, {
      will: { ...will, properties: { willDelayInterval: 3600 } },
      properties: { sessionExpiryInterval: 1 },
    });
    device.destroy();
    await watcher.expect('publish', 2500);
    await delay(50);
    assert.equal(b.sessions.has('soon'), false);
  });

  test('session takeover with Clean Start 1 publishes the old connection will at once', async () => {
    const b = await broker();
    const watcher = await connected(b, 'wt');
    await watcher.subscribe('wills/#', 0);
    const first = await connected(b, 'taken', 5, {
      will: { ...will, properties: { willDelayInterval: 30 } },
      properties: { sessionExpiryInterval: 60 },
    });
    const second = await connected(b, 'taken', 5, { clean: true });
    assert.equal((await first.expect('disconnect')).reasonCode, 0x8e);
    assert.equal((await watcher.expect('publish')).topic, 'wills/dev');
    second.destroy();
  });

  test('the will of a client connected when the broker stopped is published after a restart', async () => {
    const store = new MemoryStore();
    const first = await broker({ store });
    const retainedWill = { ...will, topic: 'status/crashy', retain: true };
    await connected(first, 'crashy', 5, { will: retainedWill, properties: { sessionExpiryInterval: 60 } });
    // A crash: the store keeps what was written; the first broker never closes its connection.
    const second = await broker({ store });
    const watcher = await connected(second, 'after-crash');
    await watcher.subscribe('status/#', 0);
    const msg = await watcher.expect('publish');
    assert.equal(msg.topic, 'status/crashy');
    assert.equal(msg.payload.toString(), 'offline');
  });
});
