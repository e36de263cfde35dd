// MQTT 5.0 wills: sections 3.1.2.5 to 3.1.2.7, 3.1.3.2 (Will Properties) and 3.14.4.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WillMessage } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench, delay } from './raw-client.js';

function will(topic: string, fields: Partial<WillMessage> = {}): WillMessage {
  return { topic, payload: Buffer.from('gone'), qos: 1, retain: false, ...fields };
}

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('MQTT 5.0 wills (server)', { concurrency: true }, () => {
  test('[MQTT-3.1.2-7] [MQTT-3.1.2-8] [MQTT-3.1.2-14] the will is published, not retained, when the network connection drops', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const dying = await bench.connected('dying', 5, { will: will('will/a') });
    dying.destroy();
    const m = await watcher.expect('publish');
    assert.equal(m.topic, 'will/a');
    assert.equal(m.payload.toString(), 'gone');
    assert.equal(m.qos, 1);
    assert.equal(m.retain, false);
    const late = await bench.connected('late');
    await late.subscribe('will/#', 0);
    await late.expectNothing();
  });

  test('[MQTT-3.1.2-15] a will with Will Retain 1 is published as a retained message', async (t) => {
    const bench = await Bench.open(t);
    const dying = await bench.connected('dying', 5, { will: will('willr/a', { retain: true }) });
    dying.destroy();
    await delay(30);
    const late = await bench.connected('late');
    await late.subscribe('willr/#', 1);
    const m = await late.expect('publish');
    assert.equal(m.retain, true);
    assert.equal(m.payload.toString(), 'gone');
  });

  test('[MQTT-3.1.2-10] [MQTT-3.14.4-3] DISCONNECT 0x00 removes the will: nothing is published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const leaving = await bench.connected('leaving', 5, { will: will('will/b') });
    leaving.disconnect(0);
    await leaving.waitClosed();
    await watcher.expectNothing(100);
  });

  test('3.14.2.1 DISCONNECT 0x04 Disconnect with Will Message publishes the will', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const leaving = await bench.connected('leaving', 5, { will: will('will/c') });
    leaving.disconnect(ReasonCode.DisconnectWithWillMessage);
    assert.equal((await watcher.expect('publish')).topic, 'will/c');
  });

  test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a protocol error or keep alive', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const bad = await bench.connected('bad', 5, { will: will('will/proto') });
    bad.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 5, clean: true, keepAlive: 0, clientId: 'bad' });
    await bad.expectDisconnect(ReasonCode.ProtocolError);
    assert.equal((await watcher.expect('publish')).topic, 'will/proto');
    const idle = await bench.connected('idle', 5, { keepAlive: 1, will: will('will/ka') });
    await idle.expectDisconnect(ReasonCode.KeepAliveTimeout, 4000);
    assert.equal((await watcher.expect('publish', 2000)).topic, 'will/ka');
  });

  test('[MQTT-3.1.3-9] a Will Delay Interval postpones the will, and a reconnection within it cancels the will', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const props = { sessionExpiryInterval: 60 };
    const a = await bench.connected('wd', 5, {
      properties: props,
      will: will('will/d', { properties: { willDelayInterval: 1 } }),
    });
    a.destroy();
    await delay(300);
    const back = bench.peer(5);
    const connack = await back.connect({ clientId: 'wd', clean: false, properties: props });
    assert.equal(connack.sessionPresent, true);
    await watcher.expectNothing(1000);
  });

  test('[MQTT-3.1.2-8] with a Will Delay Interval the will is published once the delay has passed', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const started = Date.now();
    const a = await bench.connected('wd', 5, {
      properties: { sessionExpiryInterval: 60 },
      will: will('will/e', { properties: { willDelayInterval: 1 } }),
    });
    a.destroy();
    await watcher.expectNothing(500);
    assert.equal((await watcher.expect('publish', 2500)).topic, 'will/e');
    assert.ok(Date.now() - started >= 950);
  });

  test('[MQTT-3.1.2-8] the will is published when the session ends before the Will Delay Interval', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const a = await bench.connected('wd', 5, { will: will('will/f', { properties: { willDelayInterval: 30 } }) });
    a.destroy();
    // Session Expiry Interval 0: the session ends at once, and with it the delay.
    assert.equal((await watcher.expect('publish', 800)).topic, 'will/f');
  });

  test('[MQTT-3.1.2-8] the will is published when the session expires before the Will Delay Interval', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const a = await bench.connected('wse', 5, {
      properties: { sessionExpiryInterval: 1 },
      will: will('will/se', { properties: { willDelayInterval: 30 } }),
    });
    a.destroy();
    await watcher.expectNothing(600);
    assert.equal((await watcher.expect('publish', 2500)).topic, 'will/se');
  });

  test('[MQTT-3.1.2-10] a published will is gone: a later connection without a will leaves none behind', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const props = { sessionExpiryInterval: 60 };
    const a = await bench.connected('once', 5, { properties: props, will: will('will/once') });
    a.destroy();
    assert.equal((await watcher.expect('publish')).topic, 'will/once');
    const b = await bench.connected('once', 5, { clean: false, properties: props });
    b.destroy();
    await watcher.expectNothing(150);
  });

  test('[MQTT-3.1.3-10] will properties reach subscribers: User Properties in order, and the other message properties', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const userProperties: [string, string][] = [
      ['k', '2'],
      ['a', '1'],
      ['k', '0'],
    ];
    const a = await bench.connected('wp', 5, {
      will: will('will/p', {
        properties: {
          payloadFormatIndicator: 1,
          contentType: 'text/plain',
          responseTopic: 'r/t',
          correlationData: Buffer.from([9, 8]),
          userProperties,
        },
      }),
    });
    a.destroy();
    const m = await watcher.expect('publish');
    assert.deepEqual(m.properties?.userProperties, userProperties);
    assert.equal(m.properties?.payloadFormatIndicator, 1);
    assert.equal(m.properties?.contentType, 'text/plain');
    assert.equal(m.properties?.responseTopic, 'r/t');
    assert.deepEqual(m.properties?.correlationData, Buffer.from([9, 8]));
    assert.equal(m.properties?.willDelayInterval, undefined, 'Will Delay is not a PUBLISH property');
  });

  test('3.1.3.2.4 a will Message Expiry Interval is applied to the published will', async (t) => {
    const bench = await Bench.open(t);
    const a = await bench.connected('wx', 5, {
      will: will('willx/t', { retain: true, properties: { messageExpiryInterval: 1 } }),
    });
    a.destroy();
    await delay(1100);
    const late = await bench.connected('late');
    await late.subscribe('willx/#', 1);
    await late.expectNothing();
  });

  test('[MQTT-3.1.4-3] on session takeover the old connection’s will (no delay) is published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const old = await bench.connected('tw', 5, { will: will('will/tk') });
    await bench.connected('tw');
    await old.expectDisconnect(ReasonCode.SessionTakenOver);
    assert.equal((await watcher.expect('publish')).topic, 'will/tk');
  });

  test('[MQTT-3.1.3-9] a takeover resuming the session within the Will Delay Interval publishes no will', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('will/#', 1);
    const props = { sessionExpiryInterval: 60 };
    const old = await bench.connected('tw', 5, {
      properties: props,
      will: will('will/tk2', { properties: { willDelayInterval: 5 } }),
    });
    await bench.connected('tw', 5, { clean: false, properties: props });
    await old.expectDisconnect(ReasonCode.SessionTakenOver);
    await watcher.expectNothing(300);
  });

  test('4.1.2.3 a will topic with a wildcard is refused with CONNACK 0x90 and never published', async (t) => {
    const bench = await Bench.open(t);
    const watcher = await bench.connected('watcher');
    await watcher.subscribe('#', 1);
    // Raw CONNECT: level 5, will flag, will topic "w/+".
    const raw = bench.peer(5);
    raw.sendRaw([
      0x10, 0x16, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00, 0x00, 0x03,
      0x77, 0x2f, 0x2b, 0x00, 0x00,
    ]);
    const connack = await raw.expect('connack');
    assert.equal(connack.reasonCode, ReasonCode.TopicNameInvalid);
    await raw.waitClosed();
    await watcher.expectNothing(100);
  });
});
