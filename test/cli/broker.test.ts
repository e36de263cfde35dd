import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { hashPassword } from '../../src/auth/password-hash.js';
import { testCertificates } from '../helpers/certs.js';
import { runStarling, startBrokerProcess } from './broker-process.js';

/** Connects with mqtt.js without reconnecting; resolves the client or rejects with the CONNACK error. */
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

describe('starling broker, as a process', () => {
  test('--port 0 logs the real address; clients talk; SIGTERM sends MQTT 5 DISCONNECT 0x8B and exits 0', async () => {
    const { broker, port } = await startBrokerProcess(['--no-persistence']);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      const v5 = await connect(url, { protocolVersion: 5, clientId: 'watcher' });
      const v4 = await connect(url, { protocolVersion: 4, clientId: 'old-timer' });
      await v5.subscribeAsync('greetings/#', { qos: 1 });
      const received = new Promise<string>((resolve) =>
        v5.once('message', (_t, payload) => resolve(payload.toString())),
      );
      await v4.publishAsync('greetings/world', 'hello', { qos: 1 });
      assert.equal(await received, 'hello');

      const disconnect = new Promise<number | undefined>((resolve) =>
        v5.once('disconnect', (packet) => resolve(packet.reasonCode)),
      );
      const v4Closed = new Promise<void>((resolve) => v4.once('close', () => resolve()));
      broker.child.kill('SIGTERM');
      assert.equal(await disconnect, 0x8b, 'Server shutting down');
      await v4Closed;
      assert.equal(await broker.exited(), 0);
      assert.match(broker.stdout(), /SIGTERM: shutting down/);
      v5.end(true);
      v4.end(true);
    } finally {
      await broker.kill();
    }
  });

  test('SIGINT also shuts down with exit code 0', async () => {
    const { broker } = await startBrokerProcess();
    try {
      broker.child.kill('SIGINT');
      assert.equal(await broker.exited(), 0);
    } finally {
      await broker.kill();
    }
  });

  test('a second signal during a slow shutdown exits at once with code 1', async () => {
    const { broker, port } = await startBrokerProcess();
    // An MQTT 3.1.1 client that never closes its side keeps the graceful shutdown waiting.
    const socket = netConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
    try {
      await once(socket, 'connect');
      const connack = once(socket, 'data');
      socket.write(Buffer.from([0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, 1, 0x73]));
      assert.deepEqual([...((await connack) as [Buffer])[0]], [0x20, 0x02, 0x00, 0x00]);
      broker.child.kill('SIGTERM');
      await broker.waitFor(/SIGTERM: shutting down/);
      const started = Date.now();
      broker.child.kill('SIGTERM');
      assert.equal(await broker.exited(), 1);
      assert.ok(Date.now() - started < 1500, 'the second signal did not wait for the shutdown');
    } finally {
      socket.destroy();
      await broker.kill();
    }
  });

  test('SIGHUP reloads the TLS certificate for new connections; a broken one keeps the old', async () => {
    const certs = await testCertificates();
    const dir = await mkdtemp(join(tmpdir(), 'starling-cli-tls-'));
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    await copyFile(certs.serverCert, cert);
    await copyFile(certs.serverKey, key);
    const { broker, port } = await startBrokerProcess(['--tls-cert', cert, '--tls-key', key]);
    const serverName = async () => {
      const socket = tlsConnect({
        port,
        host: '127.0.0.1',
        ca: readFileSync(certs.caCert),
      });
      await once(socket, 'secureConnect');
      const cn = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      return cn;
    };
    try {
      assert.match(broker.stdout(), /listening on mqtts:\/\/127\.0\.0\.1:\d+/);
      assert.equal(await serverName(), 'starling-test-server');
      await copyFile(certs.renewedCert, cert);
      await copyFile(certs.renewedKey, key);
      broker.child.kill('SIGHUP');
      await broker.waitFor(/TLS certificates of listener default reloaded/);
      assert.equal(await serverName(), 'starling-renewed');
      await writeFile(key, 'not a key');
      broker.child.kill('SIGHUP');
      await broker.waitFor(/TLS certificates of listener default: reload failed/);
      assert.equal(await serverName(), 'starling-renewed');
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an invalid configuration exits 2 naming the key, without a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'starling-cli-'));
    try {
      const file = join(dir, 'starling.yaml');
      await writeFile(file, 'listeners:\n  - port: 1883\n  - port: abc\n');
      const bad = runStarling(['broker', '--config', file]);
      assert.equal(await bad.exited(), 2);
      assert.match(bad.stderr(), /listeners\[1\]\.port: expected a number from 0 to 65535, got 'abc'/);
      assert.doesNotMatch(bad.stderr(), /\n\s+at /, 'no stack trace');

      const badFlag = runStarling(['broker', '--port', '99999']);
      assert.equal(await badFlag.exited(), 2);
      assert.match(badFlag.stderr(), /listeners\[0\]\.port \(--port\): expected a number from 0 to 65535, got 99999/);

      const badEnv = runStarling(['broker', '--port', '0'], { STARLING_LOG_LEVEL: 'chatty' });
      assert.equal(await badEnv.exited(), 2);
      assert.match(badEnv.stderr(), /log\.level \(STARLING_LOG_LEVEL\): expected one of .*, got 'chatty'/);

      const unknownFlag = runStarling(['broker', '--prot', '1883']);
      assert.equal(await unknownFlag.exited(), 2);
      assert.match(unknownFlag.stderr(), /unknown option '--prot'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('flags override the configuration file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'starling-cli-'));
    const file = join(dir, 'starling.yaml');
    await writeFile(file, 'listeners:\n  - port: 1\n    host: 127.0.0.1\nlog:\n  level: warn\n');
    const { broker } = await startBrokerProcess(['--config', file, '--log-level', 'info']);
    try {
      // --port 0 won over port 1 (privileged, would fail) and --log-level info over warn (else nothing logged).
      assert.match(broker.stdout(), /listening on mqtt:\/\/127\.0\.0\.1:\d+/);
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a port in use stops the broker with exit 1 and a message naming the listener', async () => {
    const { broker: first, port } = await startBrokerProcess();
    try {
      const second = runStarling(['broker', '--port', String(port)]);
      assert.equal(await second.exited(), 1);
      assert.match(second.stderr(), /listeners\[0\] \(mqtt:\/\/127\.0\.0\.1:\d+\): .*EADDRINUSE/);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited();
    }
  });

  test('--ws-port adds a WebSocket listener on the same host', async () => {
    const { broker } = await startBrokerProcess(['--ws-port', '0']);
    try {
      const [, wsUrl] = await broker.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+\/mqtt)/);
      const client = await connect(wsUrl!, { protocolVersion: 5 });
      await client.subscribeAsync('t');
      const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
      await client.publishAsync('t', 'over websocket');
      assert.equal(await got, 'over websocket');
      await client.endAsync();
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited();
    }
  });
});

describe('anonymous clients and the password file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-cli-auth-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('--no-allow-anonymous refuses clients without credentials even on loopback (CONNACK 0x87)', async () => {
    const { broker, port } = await startBrokerProcess(['--no-allow-anonymous']);
    try {
      await assert.rejects(connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 }), { code: 0x87 });
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited();
    }
  });

  test('SIGHUP reloads the password file without dropping connections; a broken file keeps the old one', async () => {
    const file = join(dir, 'passwords');
    await writeFile(file, `alice:${await hashPassword('wonderland')}\n`);
    const { broker, port } = await startBrokerProcess(['--password-file', file, '--no-allow-anonymous']);
    const url = `mqtt://127.0.0.1:${port}`;
    const clients: MqttClient[] = [];
    try {
      const alice = await connect(url, { protocolVersion: 5, username: 'alice', password: 'wonderland' });
      clients.push(alice);
      await assert.rejects(connect(url, { protocolVersion: 5, username: 'bob', password: 'builder' }), { code: 0x86 });
      await assert.rejects(connect(url, { protocolVersion: 5, username: 'alice', password: 'wrong' }), { code: 0x86 });

      await writeFile(file, `alice:${await hashPassword('wonderland')}\nbob:${await hashPassword('builder')}\n`);
      broker.child.kill('SIGHUP');
      await broker.waitFor(/password file .* reloaded/);
      clients.push(await connect(url, { protocolVersion: 5, username: 'bob', password: 'builder' }));
      assert.equal(alice.connected, true, 'the reload kept existing connections');

      await writeFile(file, 'bob has no hash here\n');
      broker.child.kill('SIGHUP');
      await broker.waitFor(/reload failed, the previous one stays in force/);
      clients.push(await connect(url, { protocolVersion: 5, username: 'bob', password: 'builder' }));
      assert.equal(alice.connected, true);
    } finally {
      for (const client of clients) client.end(true);
      broker.child.kill('SIGTERM');
      await broker.exited();
    }
  });
});

describe('the starling command', () => {
  test('--version prints the package version; --help lists the commands', async () => {
    const version = runStarling(['--version']);
    assert.equal(await version.exited(), 0);
    assert.match(version.stdout(), /^\d+\.\d+\.\d+\n$/);
    const help = runStarling(['--help']);
    assert.equal(await help.exited(), 0);
    for (const command of ['broker', 'pub', 'sub', 'bench', 'passwd']) assert.match(help.stdout(), new RegExp(command));
    const brokerHelp = runStarling(['broker', '--help']);
    assert.equal(await brokerHelp.exited(), 0);
    for (const flag of ['--config', '--no-persistence', '--tls-cert', '--ws-port', '--password-file', '--acl-file']) {
      assert.match(brokerHelp.stdout(), new RegExp(flag));
    }
  });

  test('an unknown command exits 2', async () => {
    const unknown = runStarling(['fly']);
    assert.equal(await unknown.exited(), 2);
    assert.match(unknown.stderr(), /unknown command 'fly'/);
  });

  test('passwd is dispatched to its module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'starling-cli-passwd-'));
    try {
      const file = join(dir, 'pw');
      const passwd = runStarling(['passwd', '-c', '-b', file, 'carol', 'secret']);
      assert.equal(await passwd.exited(), 0, passwd.stderr());
      assert.match(readFileSync(file, 'utf8'), /^carol:\$scrypt\$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('starling broker persistence (on by default)', () => {
  test('a retained message and a persistent session queue survive a restart on the same data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'starling-data-'));
    try {
      const first = await startBrokerProcess(['--data-dir', dataDir]);
      try {
        const url = `mqtt://127.0.0.1:${first.port}`;
        const keeper = await connect(url, {
          protocolVersion: 5,
          clientId: 'keeper',
          clean: false,
          properties: { sessionExpiryInterval: 3600 },
        });
        await keeper.subscribeAsync('kept/queue', { qos: 1 });
        keeper.end(true);
        const publisher = await connect(url, { protocolVersion: 5, clientId: 'writer' });
        await publisher.publishAsync('kept/retained', 'still here', { qos: 1, retain: true });
        await publisher.publishAsync('kept/queue', 'waiting for you', { qos: 1 });
        await publisher.endAsync();
        first.broker.child.kill('SIGTERM');
        assert.equal(await first.broker.exited(), 0);
      } finally {
        await first.broker.kill();
      }

      const second = await startBrokerProcess(['--data-dir', dataDir]);
      try {
        const url = `mqtt://127.0.0.1:${second.port}`;
        const keeper = mqtt.connect(url, {
          protocolVersion: 5,
          clientId: 'keeper',
          clean: false,
          reconnectPeriod: 0,
          properties: { sessionExpiryInterval: 3600 },
        });
        const queued = new Promise<string>((resolve) =>
          keeper.on('message', (topic, payload) => {
            if (topic === 'kept/queue') resolve(payload.toString());
          }),
        );
        const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
          keeper.once('connect', resolve);
          keeper.once('error', reject);
        });
        assert.equal(connack.sessionPresent, true, 'the session was restored from the data directory');
        assert.equal(await queued, 'waiting for you');
        const reader = await connect(url, { protocolVersion: 5, clientId: 'reader' });
        const retained = new Promise<string>((resolve) => reader.once('message', (_t, p) => resolve(p.toString())));
        await reader.subscribeAsync('kept/retained', { qos: 1 });
        assert.equal(await retained, 'still here');
        keeper.end(true);
        reader.end(true);
        second.broker.child.kill('SIGTERM');
        assert.equal(await second.broker.exited(), 0);
      } finally {
        await second.broker.kill();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
