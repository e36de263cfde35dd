import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type RunningBroker, startBroker } from '../../src/cli/broker.js';
import { resolveConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { silentLogger } from '../../src/util/logger.js';
import { type TestCertificates, testCertificates } from '../helpers/certs.js';

function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    // A connection closed before CONNACK (refused at the TCP or TLS level) emits close, not error.
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

async function start(input: ConfigInput): Promise<RunningBroker> {
  const result = resolveConfig({ sys: { intervalSeconds: 0 }, persistence: { enabled: false }, ...input });
  if (!result.ok) assert.fail(result.errors.join('; '));
  return startBroker(result.config, { logger: silentLogger() });
}

function urlOf(running: RunningBroker, name: string): string {
  const listener = running.listeners.find((l) => l.name === name);
  assert.ok(listener, `listener ${name}`);
  return listener.url();
}

describe('the broker over every transport (mqtt.js)', () => {
  let certs: TestCertificates;
  let running: RunningBroker;
  const clients: MqttClient[] = [];

  before(async () => {
    certs = await testCertificates();
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert };
    running = await start({
      listeners: [
        { name: 'tcp', port: 0 },
        { name: 'tls', port: 0, protocol: 'mqtts', tls },
        { name: 'ws', port: 0, protocol: 'ws' },
        { name: 'wss', port: 0, protocol: 'wss', tls },
        {
          name: 'mtls',
          port: 0,
          protocol: 'mqtts',
          tls: { ...tls, requireClientCert: true, useCertificateCnAsUsername: true },
        },
      ],
    });
  });
  after(async () => {
    for (const client of clients) client.end(true);
    await running.close();
  });

  test('a message published over each transport reaches subscribers on every other one', async () => {
    const ca = readFileSync(certs.caCert);
    const urls = ['tcp', 'tls', 'ws', 'wss'].map((name) => urlOf(running, name));
    assert.match(urls[1]!, /^mqtts:\/\//);
    assert.match(urls[3]!, /^wss:\/\/.*\/mqtt$/);
    const connected: MqttClient[] = [];
    for (const [i, url] of urls.entries()) {
      const client = await connect(url, { protocolVersion: i % 2 === 0 ? 5 : 4, ca, clientId: `c${i}` });
      clients.push(client);
      connected.push(client);
      await client.subscribeAsync('mesh/#', { qos: 1 });
    }
    for (const [i, publisher] of connected.entries()) {
      const arrivals = connected.map(
        (subscriber) =>
          new Promise<string>((resolve) => {
            const onMessage = (topic: string, payload: Buffer) => {
              if (topic !== `mesh/${i}`) return;
              subscriber.off('message', onMessage);
              resolve(payload.toString());
            };
            subscriber.on('message', onMessage);
          }),
      );
      await publisher.publishAsync(`mesh/${i}`, `from ${i}`, { qos: 1 });
      assert.deepEqual(
        await Promise.all(arrivals),
        connected.map(() => `from ${i}`),
      );
    }
  });

  test('mutual TLS: the certificate CN becomes the username; no certificate, no connection', async () => {
    const url = urlOf(running, 'mtls');
    const seen = new Promise<string | undefined>((resolve) =>
      running.broker.once('clientConnected', (client) => resolve(client.username)),
    );
    const device = await connect(url, {
      protocolVersion: 5,
      ca: readFileSync(certs.caCert),
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
      username: 'ignored',
    });
    clients.push(device);
    assert.equal(await seen, 'device-42');
    await assert.rejects(connect(url, { protocolVersion: 5, ca: readFileSync(certs.caCert) }));
  });
});

describe('connection limits and timeouts', () => {
  test('a client that connects and never sends CONNECT is closed after connectTimeoutMs', async () => {
    const running = await start({ listeners: [{ port: 0 }], limits: { connectTimeoutMs: 300 } });
    try {
      const socket = netConnect(running.listeners[0]!.address().port, '127.0.0.1');
      await once(socket, 'connect');
      const started = Date.now();
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 3000, `closed after ${elapsed} ms`);
    } finally {
      await running.close();
    }
  });

  test('a TLS client that never finishes its handshake is closed after connectTimeoutMs', async () => {
    const certs = await testCertificates();
    const running = await start({
      listeners: [{ port: 0, protocol: 'mqtts', tls: { cert: certs.serverCert, key: certs.serverKey } }],
      limits: { connectTimeoutMs: 300 },
    });
    try {
      const socket = netConnect(running.listeners[0]!.address().port, '127.0.0.1');
      await once(socket, 'connect');
      const started = Date.now();
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 3000, `closed after ${elapsed} ms`);
    } finally {
      await running.close();
    }
  });

  test('maxConnections: the connection beyond the limit is closed, the others keep working', async () => {
    const running = await start({ listeners: [{ port: 0, maxConnections: 2 }] });
    const url = urlOf(running, 'default');
    const clients: MqttClient[] = [];
    try {
      clients.push(await connect(url, { protocolVersion: 5 }), await connect(url, { protocolVersion: 5 }));
      await assert.rejects(connect(url, { protocolVersion: 5, connectTimeout: 2000 }));
      assert.equal(running.listeners[0]!.stats.refused, 1);
      await clients[0]!.publishAsync('still/here', 'yes');
    } finally {
      for (const client of clients) client.end(true);
      await running.close();
    }
  });

  test('anonymous clients: allowed on loopback-only listeners by default; a listener setting overrides it', async () => {
    const running = await start({
      listeners: [
        { name: 'local', port: 0 },
        // (Non-loopback listeners, anonymous off by default, are covered in test/cli/listener-auth.test.ts.)
        { name: 'open', port: 0, allowAnonymous: true },
        { name: 'closed', port: 0, allowAnonymous: false },
      ],
    });
    const clients: MqttClient[] = [];
    try {
      clients.push(await connect(urlOf(running, 'local'), { protocolVersion: 5 }));
      clients.push(await connect(urlOf(running, 'open'), { protocolVersion: 4 }));
      await assert.rejects(connect(urlOf(running, 'closed'), { protocolVersion: 5 }), { code: 0x87 });
      // MQTT 3.1.1 gets return code 5, Not authorized.
      await assert.rejects(connect(urlOf(running, 'closed'), { protocolVersion: 4 }), { code: 5 });
      // Without a password file, a made-up username does not open the door.
      await assert.rejects(connect(urlOf(running, 'closed'), { protocolVersion: 5, username: 'x', password: 'y' }), {
        code: 0x87,
      });
    } finally {
      for (const client of clients) client.end(true);
      await running.close();
    }
  });
});

describe('mosquitto clients over TLS', () => {
  const hasMosquitto = existsSync('/usr/bin/mosquitto_sub') && existsSync('/usr/bin/mosquitto_pub');

  test('mosquitto_sub --cafile receives what mosquitto_pub sends with a client certificate', async (t) => {
    if (!hasMosquitto) {
      t.skip('mosquitto_sub / mosquitto_pub not installed');
      return;
    }
    const certs = await testCertificates();
    const running = await start({
      listeners: [
        {
          name: 'tls',
          port: 0,
          protocol: 'mqtts',
          allowAnonymous: true,
          tls: { cert: certs.serverCert, key: certs.serverKey },
        },
        {
          name: 'mtls',
          port: 0,
          protocol: 'mqtts',
          tls: {
            cert: certs.serverCert,
            key: certs.serverKey,
            ca: certs.caCert,
            requireClientCert: true,
            useCertificateCnAsUsername: true,
          },
        },
      ],
    });
    try {
      const tlsPort = String(running.listeners[0]!.address().port);
      const mtlsPort = String(running.listeners[1]!.address().port);
      const subscribed = new Promise<void>((resolve) => running.broker.once('subscribed', () => resolve()));
      const sub = spawn(
        'mosquitto_sub',
        [
          '-h',
          '127.0.0.1',
          '-p',
          tlsPort,
          '--cafile',
          certs.caCert,
          '-t',
          'secure/#',
          '-C',
          '1',
          '-V',
          'mqttv5',
          '-W',
          '10',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      sub.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      sub.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const subExit = once(sub, 'exit');
      await subscribed;
      const pub = spawn(
        'mosquitto_pub',
        [
          ...['-h', '127.0.0.1', '-p', mtlsPort, '--cafile', certs.caCert],
          ...['--cert', certs.clientCert, '--key', certs.clientKey, '-t', 'secure/hello', '-m', 'over TLS', '-q', '1'],
        ],
        { stdio: 'ignore' },
      );
      const [pubCode] = (await once(pub, 'exit')) as [number];
      assert.equal(pubCode, 0);
      const [subCode] = (await subExit) as [number];
      assert.equal(subCode, 0, output);
      assert.equal(output.trim(), 'over TLS');
    } finally {
      await running.close();
    }
  });
});
