// Interop: Starling's broker with mqtt.js (a client we did not write) over real TCP, MQTT 3.1.1 and 5.0.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Broker } from '../../src/broker/broker.js';

interface Received {
  topic: string;
  payload: string;
  packet: mqtt.IPublishPacket;
}

describe('broker interop with mqtt.js', () => {
  let broker: Broker;
  let server: Server;
  let url: string;
  const clients: MqttClient[] = [];

  before(async () => {
    broker = new Broker({ sysIntervalSeconds: 0 });
    await broker.start();
    server = createServer((socket) =>
      broker.handle(socket, { loopbackOnly: true, remoteAddress: socket.remoteAddress }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    url = `mqtt://127.0.0.1:${address.port}`;
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker.close();
    server.close();
  });

  async function client(options: IClientOptions): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    clients.push(c);
    return c;
  }

  function collect(c: MqttClient): Received[] {
    const got: Received[] = [];
    c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
    return got;
  }

  async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  for (const protocolVersion of [4, 5] as const) {
    describe(`protocol version ${protocolVersion}`, () => {
      const id = (name: string): string => `${name}-v${protocolVersion}`;
      const topic = (name: string): string => `v${protocolVersion}/${name}`;

      test('publish and subscribe at QoS 0, 1 and 2', async () => {
        const sub = await client({ protocolVersion, clientId: id('sub') });
        const got = collect(sub);
        await sub.subscribeAsync(topic('qos/#'), { qos: 2 });
        const pub = await client({ protocolVersion, clientId: id('pub') });
        for (const qos of [0, 1, 2] as const) await pub.publishAsync(topic(`qos/${qos}`), `m${qos}`, { qos });
        await until(() => got.length === 3, 'three messages');
        assert.deepEqual(
          got.map((m) => [m.payload, m.packet.qos]),
          [
            ['m0', 0],
            ['m1', 1],
            ['m2', 2],
          ],
        );
      });

      test('retained messages reach late subscribers and are cleared by an empty payload', async () => {
        const pub = await client({ protocolVersion, clientId: id('ret-pub') });
        await pub.publishAsync(topic('ret/t'), 'kept', { qos: 1, retain: true });
        const late = await client({ protocolVersion, clientId: id('ret-late') });
        const got = collect(late);
        await late.subscribeAsync(topic('ret/#'), { qos: 1 });
        await until(() => got.length === 1, 'the retained message');
        assert.equal(got[0].payload, 'kept');
        assert.equal(got[0].packet.retain, true);
        await pub.publishAsync(topic('ret/t'), '', { qos: 1, retain: true });
        const later = await client({ protocolVersion, clientId: id('ret-later') });
        const none = collect(later);
        await later.subscribeAsync(topic('ret/#'), { qos: 1 });
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(none.length, 0);
      });

      test('the will is published when a client drops', async () => {
        const watcher = await client({ protocolVersion, clientId: id('will-watch') });
        const got = collect(watcher);
        await watcher.subscribeAsync(topic('will/#'), { qos: 1 });
        const device = await client({
          protocolVersion,
          clientId: id('will-dev'),
          will: { topic: topic('will/dev'), payload: Buffer.from('gone'), qos: 1, retain: false },
        });
        device.stream.destroy();
        await until(() => got.length === 1, 'the will');
        assert.equal(got[0].payload, 'gone');
      });

      test('a persistent session receives what was published while it was offline', async () => {
        const options: IClientOptions =
          protocolVersion === 5
            ? { protocolVersion, clientId: id('persist'), clean: false, properties: { sessionExpiryInterval: 300 } }
            : { protocolVersion, clientId: id('persist'), clean: false };
        const first = await client(options);
        await first.subscribeAsync(topic('persist/#'), { qos: 1 });
        await first.endAsync();
        const pub = await client({ protocolVersion, clientId: id('persist-pub') });
        await pub.publishAsync(topic('persist/a'), 'while away', { qos: 1 });
        const back = mqtt.connect(url, { reconnectPeriod: 0, ...options });
        clients.push(back);
        const got = collect(back);
        const [connack] = (await once(back as unknown as import('node:events').EventEmitter, 'connect')) as [
          mqtt.IConnackPacket,
        ];
        assert.equal(connack.sessionPresent, true);
        await until(() => got.length === 1, 'the queued message');
        assert.equal(got[0].payload, 'while away');
      });

      test('shared subscriptions split the messages between members', async () => {
        const a = await client({ protocolVersion, clientId: id('share-a') });
        const b = await client({ protocolVersion, clientId: id('share-b') });
        const gotA = collect(a);
        const gotB = collect(b);
        await a.subscribeAsync(`$share/g/${topic('jobs')}`, { qos: 1 });
        await b.subscribeAsync(`$share/g/${topic('jobs')}`, { qos: 1 });
        const pub = await client({ protocolVersion, clientId: id('share-pub') });
        for (let i = 0; i < 10; i++) await pub.publishAsync(topic('jobs'), String(i), { qos: 1 });
        await until(() => gotA.length + gotB.length === 10, 'ten jobs');
        assert.equal(gotA.length, 5);
        assert.equal(gotB.length, 5);
      });
    });
  }

  describe('MQTT 5 only', () => {
    test('user properties and the other message properties pass through unchanged', async () => {
      const sub = await client({ protocolVersion: 5, clientId: 'props-sub' });
      const got = collect(sub);
      await sub.subscribeAsync('props', { qos: 1 });
      const pub = await client({ protocolVersion: 5, clientId: 'props-pub' });
      await pub.publishAsync('props', '{"a":1}', {
        qos: 1,
        properties: {
          userProperties: { region: 'eu', tags: ['x', 'y'] },
          contentType: 'application/json',
          responseTopic: 'reply',
          correlationData: Buffer.from('c-1'),
          payloadFormatIndicator: true,
        },
      });
      await until(() => got.length === 1, 'the message');
      const properties = got[0].packet.properties;
      assert.deepEqual({ ...properties?.userProperties }, { region: 'eu', tags: ['x', 'y'] });
      assert.equal(properties?.contentType, 'application/json');
      assert.equal(properties?.responseTopic, 'reply');
      assert.equal(properties?.correlationData?.toString(), 'c-1');
      assert.equal(properties?.payloadFormatIndicator, true);
    });

    test('topic aliases from the client are resolved', async () => {
      const sub = await client({ protocolVersion: 5, clientId: 'alias-sub' });
      const got = collect(sub);
      await sub.subscribeAsync('alias/long/topic', { qos: 0 });
      const pub = await client({ protocolVersion: 5, clientId: 'alias-pub', autoUseTopicAlias: true });
      await pub.publishAsync('alias/long/topic', 'one', { qos: 1 });
      await pub.publishAsync('alias/long/topic', 'two', { qos: 1 });
      await until(() => got.length === 2, 'two messages');
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload]),
        [
          ['alias/long/topic', 'one'],
          ['alias/long/topic', 'two'],
        ],
      );
    });

    test('outgoing topic aliases are understood by mqtt.js', async () => {
      const sub = await client({ protocolVersion: 5, clientId: 'alias-out', properties: { topicAliasMaximum: 10 } });
      const got = collect(sub);
      await sub.subscribeAsync('aout', { qos: 0 });
      await broker.publish({ topic: 'aout', payload: '1' });
      await broker.publish({ topic: 'aout', payload: '2' });
      await until(() => got.length === 2, 'two messages');
      assert.deepEqual(
        got.map((m) => m.topic),
        ['aout', 'aout'],
      );
    });

    test('Retain Handling 2 sends no retained messages; Retain As Published keeps the flag', async () => {
      await broker.publish({ topic: 'rh/x', payload: 'kept', retain: true });
      const c = await client({ protocolVersion: 5, clientId: 'rh-client' });
      const got = collect(c);
      await c.subscribeAsync('rh/#', { qos: 0, rh: 2, rap: true });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 0);
      await broker.publish({ topic: 'rh/x', payload: 'live', retain: true });
      await until(() => got.length === 1, 'the live message');
      assert.equal(got[0].packet.retain, true);
    });

    test('Request Response Information gets Response Information in CONNACK', async () => {
      const c = mqtt.connect(url, {
        protocolVersion: 5,
        clientId: 'resp-info',
        reconnectPeriod: 0,
        properties: { requestResponseInformation: true },
      });
      clients.push(c);
      const [connack] = (await once(c as unknown as import('node:events').EventEmitter, 'connect')) as [
        mqtt.IConnackPacket,
      ];
      assert.equal(connack.properties?.responseInformation, 'response/resp-info');
    });

    test('session takeover: the first mqtt.js client receives DISCONNECT 0x8E', async () => {
      const first = await client({ protocolVersion: 5, clientId: 'taken-over' });
      const disconnected = once(first as unknown as import('node:events').EventEmitter, 'disconnect');
      await client({ protocolVersion: 5, clientId: 'taken-over' });
      const [packet] = (await disconnected) as [mqtt.IDisconnectPacket];
      assert.equal(packet.reasonCode, 0x8e);
    });

    test('Message Expiry Interval is forwarded, reduced by the time the message waited', async () => {
      const options: IClientOptions = {
        protocolVersion: 5,
        clientId: 'expiry-sub',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      };
      const first = await client(options);
      await first.subscribeAsync('exp', { qos: 1 });
      await first.endAsync();
      await broker.publish({ topic: 'exp', payload: 'x', qos: 1, properties: { messageExpiryInterval: 100 } });
      await new Promise((r) => setTimeout(r, 1100));
      const back = mqtt.connect(url, { reconnectPeriod: 0, ...options });
      clients.push(back);
      const got = collect(back);
      await until(() => got.length === 1, 'the queued message');
      const left = got[0].packet.properties?.messageExpiryInterval ?? 0;
      assert.ok(left >= 98 && left <= 99, `expiry ${left}`);
    });

    test('subscription identifiers and No Local', async () => {
      const c = await client({ protocolVersion: 5, clientId: 'sid-nl' });
      const got = collect(c);
      await c.subscribeAsync('sid/#', { qos: 0, properties: { subscriptionIdentifier: 42 } });
      await c.subscribeAsync('nl', { qos: 0, nl: true });
      await c.publishAsync('nl', 'mine', { qos: 1 });
      await broker.publish({ topic: 'sid/x', payload: 'tagged' });
      await until(() => got.length === 1, 'the tagged message');
      assert.equal(got[0].payload, 'tagged');
      assert.equal(got[0].packet.properties?.subscriptionIdentifier, 42);
    });
  });
});
