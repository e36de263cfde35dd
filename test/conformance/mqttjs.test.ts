// Server statements checked with an independent peer: mqtt.js over real TCP on 127.0.0.1, and a raw TCP peer whose
// bytes mqtt-packet (an independent codec) must parse. A second opinion on what the in-memory tests check.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { Bench, delay } from './raw-client.js';

async function client(
  t: { after(fn: () => unknown): void },
  port: number,
  options: IClientOptions,
): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    reconnectPeriod: 0,
    connectTimeout: 3000,
    ...options,
  });
  t.after(() => c.end(true));
  return c;
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('server statements seen by mqtt.js and mqtt-packet', { concurrency: true }, () => {
  for (const protocolVersion of [4, 5] as const) {
    const v = protocolVersion === 5 ? '5.0' : '3.1.1';

    test(`[MQTT-3.2.2-2] [MQTT-3.2.2-3] ${v} mqtt.js: Session Present and the messages kept for a persistent session`, async (t) => {
      const bench = await Bench.open(t);
      const port = await bench.listen();
      const persistent: IClientOptions =
        protocolVersion === 5
          ? { protocolVersion, clientId: 'js-p', clean: false, properties: { sessionExpiryInterval: 60 } }
          : { protocolVersion, clientId: 'js-p', clean: false };
      const first = await client(t, port, persistent);
      await first.subscribeAsync('js/p', { qos: 1 });
      await first.endAsync();
      const pub = await client(t, port, { protocolVersion, clientId: 'js-pub' });
      await pub.publishAsync('js/p', 'kept', { qos: 1 });
      const got: string[] = [];
      let sessionPresent: boolean | undefined;
      const again = mqtt.connect(`mqtt://127.0.0.1:${port}`, { ...persistent, reconnectPeriod: 0 });
      t.after(() => again.end(true));
      again.on('connect', (connack) => {
        sessionPresent = connack.sessionPresent;
      });
      again.on('message', (_topic, payload) => got.push(payload.toString()));
      await until(() => got.length === 1, 'the kept message');
      assert.equal(sessionPresent, true);
      assert.deepEqual(got, ['kept']);
    });

    test(`${protocolVersion === 5 ? '[MQTT-3.3.1-5] [MQTT-3.3.1-12]' : '[MQTT-3.3.1-5] [MQTT-3.3.1-8] [MQTT-3.3.1-9]'} ${v} mqtt.js: a retained message reaches a late subscriber with RETAIN 1, live ones with RETAIN 0`, async (t) => {
      const bench = await Bench.open(t);
      const port = await bench.listen();
      const live = await client(t, port, { protocolVersion, clientId: 'js-live' });
      const liveGot: boolean[] = [];
      live.on('message', (_t, _p, packet) => liveGot.push(packet.retain));
      await live.subscribeAsync('js/r', { qos: 1 });
      const pub = await client(t, port, { protocolVersion, clientId: 'js-pub' });
      await pub.publishAsync('js/r', 'state', { qos: 1, retain: true });
      const late = await client(t, port, { protocolVersion, clientId: 'js-late' });
      const lateGot: boolean[] = [];
      late.on('message', (_t, _p, packet) => lateGot.push(packet.retain));
      await late.subscribeAsync('js/r', { qos: 1 });
      await until(() => liveGot.length === 1 && lateGot.length === 1, 'both copies');
      assert.deepEqual([liveGot[0], lateGot[0]], [false, true]);
    });

    test(`[MQTT-4.3.3-10] ${v} mqtt.js: QoS 2 delivers exactly once, end to end`, async (t) => {
      const bench = await Bench.open(t);
      const port = await bench.listen();
      const sub = await client(t, port, { protocolVersion, clientId: 'js-s2' });
      const got: string[] = [];
      sub.on('message', (_t, payload, packet) => {
        assert.equal(packet.qos, 2);
        got.push(payload.toString());
      });
      await sub.subscribeAsync('js/q2', { qos: 2 });
      const pub = await client(t, port, { protocolVersion, clientId: 'js-p2' });
      for (let i = 0; i < 20; i++) await pub.publishAsync('js/q2', `${i}`, { qos: 2 });
      await until(() => got.length === 20, '20 messages');
      await delay(50);
      assert.deepEqual(
        got,
        Array.from({ length: 20 }, (_, i) => `${i}`),
      );
    });

    test(`[MQTT-3.1.2-8] ${v} mqtt.js: the will is published when the TCP connection drops`, async (t) => {
      const bench = await Bench.open(t);
      const port = await bench.listen();
      const watcher = await client(t, port, { protocolVersion, clientId: 'js-w' });
      const got: string[] = [];
      watcher.on('message', (topic, payload) => got.push(`${topic}=${payload}`));
      await watcher.subscribeAsync('js/will', { qos: 1 });
      const dying = await client(t, port, {
        protocolVersion,
        clientId: 'js-d',
        will: { topic: 'js/will', payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      dying.stream.destroy();
      await until(() => got.length === 1, 'the will');
      assert.deepEqual(got, ['js/will=gone']);
    });
  }

  test('[MQTT-3.3.2-12] [MQTT-3.3.4-3] 5.0 mqtt.js: client topic aliases are resolved and subscription identifiers delivered', async (t) => {
    const bench = await Bench.open(t);
    const port = await bench.listen();
    const sub = await client(t, port, { protocolVersion: 5, clientId: 'js-sid' });
    const got: { topic: string; ids: unknown }[] = [];
    sub.on('message', (topic, _p, packet) => got.push({ topic, ids: packet.properties?.subscriptionIdentifier }));
    await sub.subscribeAsync('js/alias/#', { qos: 0, properties: { subscriptionIdentifier: 9 } });
    const pub = await client(t, port, { protocolVersion: 5, clientId: 'js-al' });
    await pub.publishAsync('js/alias/a', 'one', { properties: { topicAlias: 1 } });
    await pub.publishAsync('', 'two', { properties: { topicAlias: 1 } });
    await until(() => got.length === 2, 'two messages');
    for (const m of got) {
      assert.equal(m.topic, 'js/alias/a');
      assert.ok(m.ids === 9 || (Array.isArray(m.ids) && m.ids.includes(9)), `identifiers ${JSON.stringify(m.ids)}`);
    }
  });

  test('[MQTT-3.1.4-3] 5.0 mqtt.js: a takeover sends DISCONNECT 0x8E to the old client', async (t) => {
    const bench = await Bench.open(t);
    const port = await bench.listen();
    const old = await client(t, port, { protocolVersion: 5, clientId: 'js-same' });
    let reason: number | undefined;
    old.on('disconnect', (packet) => {
      reason = packet.reasonCode;
    });
    await client(t, port, { protocolVersion: 5, clientId: 'js-same' });
    await until(() => reason !== undefined, 'DISCONNECT on the old client');
    assert.equal(reason, 0x8e);
  });

  test('[MQTT-3.2.0-1] [MQTT-3.3.2-17] [MQTT-3.3.2-18] 5.0: every byte the broker writes over TCP parses with mqtt-packet', async (t) => {
    const bench = await Bench.open(t);
    const port = await bench.listen();
    const sub = await bench.tcpPeer(port, 5);
    sub.send(sub.connectPacket({ clientId: 'mp-sub', properties: { topicAliasMaximum: 3, receiveMaximum: 5 } }));
    await sub.expect('connack');
    await sub.subscribe('mp/#', 2, { retainAsPublished: true }, { subscriptionIdentifiers: [77] });
    const pub = await bench.tcpPeer(port, 5);
    pub.send(pub.connectPacket({ clientId: 'mp-pub' }));
    await pub.expect('connack');
    const userProperties: [string, string][] = [
      ['b', '1'],
      ['a', '2'],
      ['b', '3'],
    ];
    for (let i = 0; i < 6; i++) {
      pub.publish({
        topic: `mp/${i % 2}`,
        qos: (i % 3) as 0 | 1 | 2,
        packetId: i % 3 ? i + 1 : undefined,
        retain: i === 5,
        payload: Buffer.from(`m${i}`),
        properties: { userProperties, contentType: 'text/plain', messageExpiryInterval: 60 },
      });
    }
    const publishes = [];
    while (publishes.length < 6) {
      const p = await sub.next();
      if (p.type !== 'publish') continue;
      publishes.push(p);
      if (p.qos === 1) sub.send({ type: 'puback', packetId: p.packetId ?? 0 });
      if (p.qos === 2) sub.send({ type: 'pubrec', packetId: p.packetId ?? 0 });
    }
    await delay(50);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const parsed: mqttPacket.Packet[] = [];
    const errors: Error[] = [];
    parser.on('packet', (p) => parsed.push(p));
    parser.on('error', (e) => errors.push(e));
    parser.parse(sub.bytes);
    assert.deepEqual(errors, []);
    assert.equal(parsed[0]?.cmd, 'connack', 'CONNACK first');
    const forwarded = parsed.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish');
    assert.equal(forwarded.length, 6);
    for (const p of forwarded) {
      const user = p.properties?.userProperties as Record<string, string | string[]> | undefined;
      // mqtt-packet folds repeated names into arrays, keeping their order.
      assert.deepEqual({ ...user }, { b: ['1', '3'], a: '2' });
      assert.equal(p.properties?.contentType, 'text/plain');
    }
  });
});
