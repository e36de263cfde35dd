// Starling's client against Starling's broker, over real loopback sockets and WebSocket: the shared
// client suite, plus what needs the broker's own options.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { connect, type MqttClient } from '../../src/client/index.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { ProtocolVersion, PublishPacket } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { createListener } from '../../src/transport/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { tapTransport, waitFor } from '../client/helpers.js';
import { clientSuite, type SuiteContext, type SuiteServer } from '../client/shared-suite.js';
import { testCertificates } from '../helpers/certs.js';

interface RunningBroker extends SuiteServer {
  broker: Broker;
}

async function startBroker(options: BrokerOptions = {}, meta = { loopbackOnly: true }): Promise<RunningBroker> {
  const broker = new Broker({ logger: silentLogger(), ...options });
  await broker.start();
  const server: Server = createServer((socket) => broker.handle(socket, meta));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    broker,
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      await broker.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function starlingTests({ version, client, endClients, unique, collect }: SuiteContext): void {
  test('a refused connection rejects with the CONNACK reason as an MqttError', async () => {
    const own = await startBroker({}, { loopbackOnly: false });
    try {
      await assert.rejects(connect(own.url, { protocolVersion: version, reconnect: false }), (error: unknown) => {
        assert.ok(error instanceof MqttError);
        assert.ok(
          error.reasonCode === ReasonCode.NotAuthorized || error.reasonCode === ReasonCode.BadUserNameOrPassword,
        );
        return true;
      });
    } finally {
      await own.stop();
    }
  });

  test('over WebSocket (ws://): publish and subscribe through the broker', async () => {
    const broker = new Broker({ logger: silentLogger() });
    await broker.start();
    const listener = await createListener(
      { name: 'ws', host: '127.0.0.1', port: 0, protocol: 'ws' },
      (stream, meta) => broker.handle(stream, meta),
      silentLogger(),
    );
    try {
      const url = `ws://127.0.0.1:${listener.address().port}/mqtt`;
      const topic = unique('ws');
      const sub = await client({}, url);
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 2 });
      const pub = await client({}, url);
      await pub.publish(topic, 'over websocket', { qos: 2 });
      await pub.publish(topic, Buffer.alloc(100_000, 7), { qos: 1 });
      await waitFor(() => messages.length === 2, 'two messages over ws');
      assert.equal(messages[0]?.payload.toString(), 'over websocket');
      assert.equal(messages[1]?.payload.length, 100_000);
    } finally {
      await endClients();
      await listener.close();
      await broker.close();
    }
  });

  test('a broker shutting down is reported (MQTT 5: DISCONNECT 0x8B) and the client goes offline', async () => {
    const own = await startBroker();
    try {
      const c = await client({ reconnect: false }, own.url);
      const disconnects: number[] = [];
      c.on('disconnect', (packet) => disconnects.push(packet.reasonCode ?? 0));
      const ended = new Promise<void>((resolve) => c.once('end', resolve));
      await own.broker.close();
      await ended;
      assert.deepEqual(disconnects, version === 5 ? [ReasonCode.ServerShuttingDown] : []);
      assert.equal(c.state, 'closed');
    } finally {
      await endClients();
      await own.stop().catch(() => undefined);
    }
  });

  test('over TLS (mqtts:// and wss://): the server is verified against our CA; mutual TLS sends our certificate', async () => {
    const certs = await testCertificates();
    const broker = new Broker({ logger: silentLogger() });
    await broker.start();
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true };
    const mqtts = await createListener(
      { name: 'mqtts', host: '127.0.0.1', port: 0, protocol: 'mqtts', tls },
      (stream, meta) => broker.handle(stream, meta),
      silentLogger(),
    );
    const wss = await createListener(
      { name: 'wss', host: '127.0.0.1', port: 0, protocol: 'wss', tls },
      (stream, meta) => broker.handle(stream, meta),
      silentLogger(),
    );
    try {
      const ca = await readFile(certs.caCert, 'utf8');
      const mine = { ca, cert: await readFile(certs.clientCert, 'utf8'), key: await readFile(certs.clientKey, 'utf8') };
      const topic = unique('tls');
      const sub = await client({ tls: mine }, `mqtts://127.0.0.1:${mqtts.address().port}`);
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 1 });
      // By name: 'localhost' is in the certificate and goes out as SNI.
      const pub = await client({ tls: mine }, `wss://localhost:${wss.address().port}/mqtt`);
      await pub.publish(topic, 'secret', { qos: 1 });
      await waitFor(() => messages.length === 1, 'the message over TLS');
      assert.equal(messages[0]?.payload.toString(), 'secret');
      // Without our CA the server's certificate is not trusted.
      await assert.rejects(
        connect(`mqtts://127.0.0.1:${mqtts.address().port}`, { protocolVersion: version, reconnect: false, tls: {} }),
        MqttError,
      );
    } finally {
      await endClients();
      await mqtts.close();
      await wss.close();
      await broker.close();
    }
  });

  if (version !== 5) return;

  test('[MQTT-3.3.2-10] topic aliases both ways: the broker aliases towards us, we resolve them', async () => {
    const topic = unique('alias-in');
    const tap = tapTransport(5);
    const sub = await client({ topicAliasMaximum: 4, transport: tap.factory });
    const messages = collect(sub);
    await sub.subscribe(topic, { qos: 1 });
    const pub = await client();
    for (let i = 0; i < 3; i++) await pub.publish(topic, `m${i}`, { qos: 1 });
    await waitFor(() => messages.length === 3, 'three messages');
    assert.deepEqual(
      messages.map((m) => [m.topic, m.properties?.topicAlias]),
      [
        [topic, undefined],
        [topic, undefined],
        [topic, undefined],
      ],
    );
    const inbound = tap.received.filter((p): p is PublishPacket => p.type === 'publish');
    assert.ok(inbound.every((p) => p.properties?.topicAlias !== undefined && p.properties.topicAlias <= 4));
    assert.ok(
      inbound.slice(1).some((p) => p.topic === ''),
      'later messages came by alias only',
    );
  });

  test('[MQTT-3.3.4-7] receive maximum: never more QoS 1 publishes in flight than the broker allows', async () => {
    const own = await startBroker({ receiveMaximum: 2 });
    try {
      const pub: MqttClient = await client({}, own.url);
      assert.equal(pub.serverProperties.receiveMaximum, 2);
      let highest = 0;
      const sent: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        sent.push(pub.publish('flow', `${i}`, { qos: i % 2 === 0 ? 1 : 2 }));
        highest = Math.max(highest, pub.inflightCount);
      }
      await Promise.all(sent);
      assert.equal(highest, 2);
    } finally {
      await endClients();
      await own.stop();
    }
  });

  test('[MQTT-3.2.2-15] a PUBLISH larger than the broker maximum packet size is refused locally', async () => {
    const own = await startBroker({ maxPacketSize: 200 });
    try {
      const pub = await client({}, own.url);
      assert.equal(pub.serverProperties.maximumPacketSize, 200);
      await assert.rejects(pub.publish('big', Buffer.alloc(500), { qos: 1 }), (error: unknown) => {
        return error instanceof MqttError && error.reasonCode === ReasonCode.PacketTooLarge;
      });
      await pub.publish('small', Buffer.alloc(50), { qos: 1 });
      assert.equal(pub.connected, true);
    } finally {
      await endClients();
      await own.stop();
    }
  });
}

for (const version of [4, 5] as ProtocolVersion[]) {
  const label = version === 5 ? '5.0' : '3.1.1';
  clientSuite(`Starling client against Starling's broker, MQTT ${label}`, version, () => startBroker(), {
    extra: starlingTests,
  });
}
