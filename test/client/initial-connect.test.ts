// The first connection: connect() waits for a broker that is not up yet (Starling's, Debian's
// Mosquitto), retrying with the reconnect backoff, and stops at once on what retrying cannot fix,
// on end(), and at the attempt and time limits of retryInitialConnect.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { Broker } from '../../src/broker/broker.js';
import { type ClientOptions, type Message, MqttClient, MqttError } from '../../src/client/index.js';
import {
  isCertificateFailure,
  isPermanentRefusal,
  resolveInitialConnectPolicy,
} from '../../src/client/initial-connect.js';
import type { TransportFactory } from '../../src/client/transport.js';
import { nodeTransportFactory } from '../../src/client/transport-node.js';
import type { ProtocolVersion } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { silentLogger } from '../../src/util/logger.js';
import { testCertificates } from '../helpers/certs.js';
import { MOSQUITTO_PATH, mosquittoSkipReason } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/net.js';
import { type FakeServer, type PacketScript, politeServer, startFakeServer } from './fake-server.js';
import { sleep, waitFor } from './helpers.js';

/** A client that retries for ever when it should not would otherwise hang the run: it fails the test instead. */
const bounded = { timeout: 20_000 };

/** Fast, predictable backoff: 20, 40, 80, 100, 100, ... ms. */
const quick = { initialDelay: 20, maxDelay: 100, jitter: 0 };

let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

/** A client whose transport counts its connection attempts; ended after the test. */
function counted(url: string, options: ClientOptions = {}): { client: MqttClient; attempts: () => number } {
  let attempts = 0;
  const transport: TransportFactory = (target, handlers) => {
    attempts++;
    return nodeTransportFactory(target, handlers);
  };
  const client = new MqttClient(url, { reconnect: quick, ...options, transport });
  cleanups.push(() => client.end());
  return { client, attempts: () => attempts };
}

/** What a client reports while it retries. */
function watch(client: MqttClient): { retries: [number, number][]; errors: Error[] } {
  const seen = { retries: [] as [number, number][], errors: [] as Error[] };
  client.on('reconnect', (attempt, delay) => seen.retries.push([attempt, delay]));
  client.on('error', (error) => seen.errors.push(error));
  return seen;
}

async function serve(version: ProtocolVersion, script: PacketScript): Promise<FakeServer> {
  const server = await startFakeServer(version, script);
  cleanups.push(() => server.close());
  return server;
}

/** Starling's broker on `port`, as a later process would start it. */
async function startStarling(port: number): Promise<void> {
  const broker = new Broker({ logger: silentLogger() });
  await broker.start();
  const server: Server = createServer((socket) => broker.handle(socket, { loopbackOnly: true }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  cleanups.push(async () => {
    await broker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/** Debian's Mosquitto on `port`; stopped (SIGTERM, then SIGKILL after 3 s) after the test. */
async function startMosquitto(port: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'starling-initial-connect-'));
  const config = join(dir, 'mosquitto.conf');
  await writeFile(
    config,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser ${userInfo().username}\n`,
  );
  const child: ChildProcess = spawn(MOSQUITTO_PATH, ['-c', config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  });
}

const codeOf = (error: unknown): unknown => (error instanceof MqttError ? error.reasonCode : undefined);

async function roundTrip(client: MqttClient, topic: string): Promise<void> {
  const received = new Promise<Message>((resolve) => client.once('message', resolve));
  await client.subscribe(topic, { qos: 1 });
  await client.publish(topic, 'hello', { qos: 1 });
  const message = await received;
  assert.equal(message.topic, topic);
  assert.equal(message.payload.toString(), 'hello');
}

test(
  'connect() waits for a Starling broker that starts after it began, then a message round-trips',
  bounded,
  async () => {
    const port = await freePort();
    const { client, attempts } = counted(`mqtt://127.0.0.1:${port}`);
    const seen = watch(client);
    const connecting = client.connect();
    await waitFor(() => seen.retries.length >= 2, 'two failed attempts', 5000);
    assert.equal(client.state, 'connecting');
    await startStarling(port);
    const info = await connecting;
    assert.equal(info.reconnected, false);
    assert.equal(client.connected, true);
    assert.ok(attempts() >= 3, `${attempts()} attempts`);
    // Each failed attempt is reported as reconnects report theirs: error, then reconnect with the delay.
    assert.deepEqual(seen.retries.slice(0, 2), [
      [1, 20],
      [2, 40],
    ]);
    assert.equal(seen.errors.length, seen.retries.length);
    assert.ok(seen.errors.every((error) => error instanceof MqttError && /ECONNREFUSED/.test(error.message)));
    await roundTrip(client, 'initial-connect/starling');
  },
);

test('connect() waits for a Mosquitto broker (MQTT 3.1.1) that starts after it began', {
  ...bounded,
  skip: mosquittoSkipReason ?? false,
}, async () => {
  const port = await freePort();
  const { client } = counted(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
  const seen = watch(client);
  const connecting = client.connect();
  await waitFor(() => seen.retries.length >= 1, 'a failed attempt', 5000);
  await startMosquitto(port);
  const info = await connecting;
  assert.equal(info.reconnected, false);
  assert.ok(seen.retries.length >= 1);
  await roundTrip(client, 'initial-connect/mosquitto');
});

/** A server that answers every CONNECT with `code`, counting them. */
async function refusing(version: ProtocolVersion, code: number): Promise<{ port: number; connects: () => number }> {
  let connects = 0;
  const server = await serve(version, (connection, packet) => {
    if (packet.type !== 'connect') return;
    connects++;
    connection.send({ type: 'connack', sessionPresent: false, reasonCode: code });
    connection.destroy();
  });
  return { port: server.port, connects: () => connects };
}

test('§3.2.2.2 (MQTT 5): a refusal that retrying cannot fix fails fast: one CONNECT, no retry', bounded, async () => {
  const permanent = [0x81, 0x82, 0x84, 0x85, 0x86, 0x87, 0x8a, 0x8c, 0x90, 0x95, 0x99, 0x9a, 0x9b, 0x9d];
  for (const code of permanent) {
    const server = await refusing(5, code);
    const { client, attempts } = counted(`mqtt://127.0.0.1:${server.port}`);
    const seen = watch(client);
    const started = Date.now();
    await assert.rejects(client.connect(), (error: unknown) => {
      assert.equal(codeOf(error), code, `0x${code.toString(16)}`);
      assert.match((error as Error).message, /connection refused/);
      return true;
    });
    assert.ok(Date.now() - started < 1000);
    assert.equal(server.connects(), 1, `CONNECTs for 0x${code.toString(16)}`);
    assert.equal(attempts(), 1);
    assert.deepEqual(seen.retries, []);
    assert.equal(client.state, 'closed');
  }
});

test('§3.2.2.3 (3.1.1): return codes 1, 2, 4 and 5 fail fast; 3 (server unavailable) is retried', bounded, async () => {
  const permanent: [number, number][] = [
    [1, ReasonCode.UnsupportedProtocolVersion],
    [2, ReasonCode.ClientIdentifierNotValid],
    [4, ReasonCode.BadUserNameOrPassword],
    [5, ReasonCode.NotAuthorized],
  ];
  for (const [returnCode, reasonCode] of permanent) {
    const server = await refusing(4, returnCode);
    const { client } = counted(`mqtt://127.0.0.1:${server.port}`, { protocolVersion: 4, username: 'u', password: 'p' });
    await assert.rejects(client.connect(), (error: unknown) => codeOf(error) === reasonCode);
    assert.equal(server.connects(), 1, `CONNECTs for return code ${returnCode}`);
  }
  let connects = 0;
  const server = await serve(
    4,
    politeServer((connection, packet) => {
      if (packet.type !== 'connect' || ++connects > 2) return false;
      connection.send({ type: 'connack', sessionPresent: false, reasonCode: 3 });
      connection.destroy();
      return true;
    }),
  );
  const { client } = counted(`mqtt://127.0.0.1:${server.port}`, { protocolVersion: 4 });
  const seen = watch(client);
  await client.connect();
  assert.equal(connects, 3);
  assert.deepEqual(
    seen.errors.map((error) => codeOf(error)),
    [ReasonCode.ServerUnavailable, ReasonCode.ServerUnavailable],
  );
});

test(
  'refusals that may pass (unavailable, busy, quota, connection rate, use another server) are retried (MQTT 5)',
  bounded,
  async () => {
    for (const code of [0x80, 0x83, 0x88, 0x89, 0x97, 0x9c, 0x9f]) {
      let connects = 0;
      const server = await serve(
        5,
        politeServer((connection, packet) => {
          if (packet.type !== 'connect' || ++connects > 2) return false;
          connection.send({ type: 'connack', sessionPresent: false, reasonCode: code });
          connection.destroy();
          return true;
        }),
      );
      const { client } = counted(`mqtt://127.0.0.1:${server.port}`);
      const seen = watch(client);
      await client.connect();
      assert.equal(connects, 3, `CONNECTs for 0x${code.toString(16)}`);
      assert.deepEqual(
        seen.retries.map(([attempt]) => attempt),
        [1, 2],
      );
    }
  },
);

/** A TLS server with the test CA's server certificate that counts the TCP connections it accepts. */
async function tlsServer(options: {
  requireClientCert: boolean;
}): Promise<{ port: number; connections: () => number }> {
  const certs = await testCertificates();
  const ca = await readFile(certs.caCert, 'utf8');
  let connections = 0;
  const server = createTlsServer({
    cert: await readFile(certs.serverCert, 'utf8'),
    key: await readFile(certs.serverKey, 'utf8'),
    ...(options.requireClientCert ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
  });
  server.on('tlsClientError', () => undefined);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, connections: () => connections };
}

test("a TLS certificate that does not verify, ours or the server's, fails fast without retrying", bounded, async () => {
  const certs = await testCertificates();
  const ca = await readFile(certs.caCert, 'utf8');
  // No CA given: the test CA that signed the server's certificate is not trusted.
  const untrusted = await tlsServer({ requireClientCert: false });
  // The server wants a client certificate and we have none: it refuses us with a TLS alert.
  const mutual = await tlsServer({ requireClientCert: true });
  for (const [server, tls] of [
    [untrusted, {}],
    [mutual, { ca }],
  ] as const) {
    const { client, attempts } = counted(`mqtts://127.0.0.1:${server.port}`, { tls });
    const seen = watch(client);
    await assert.rejects(client.connect(), (error: unknown) => {
      assert.ok(error instanceof MqttError, String(error));
      assert.ok(isCertificateFailure(error), String(error));
      return true;
    });
    assert.equal(attempts(), 1);
    assert.equal(server.connections(), 1);
    assert.deepEqual(seen.retries, []);
  }
});

test('end() during the retry loop stops it and rejects connect() at once with a clear error', bounded, async () => {
  const port = await freePort();
  const { client, attempts } = counted(`mqtt://127.0.0.1:${port}`, { reconnect: { initialDelay: 1500, jitter: 0 } });
  const seen = watch(client);
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  const connecting = client.connect();
  await waitFor(() => seen.retries.length >= 1, 'a failed attempt');
  const started = Date.now();
  await client.end();
  await assert.rejects(connecting, (error: unknown) => {
    assert.ok(error instanceof MqttError);
    assert.match(
      error.message,
      /the client was ended before it connected \(1 attempt failed; the last: .*ECONNREFUSED/,
    );
    assert.ok(error.cause instanceof MqttError);
    return true;
  });
  assert.ok(Date.now() - started < 750, `connect() settled ${Date.now() - started} ms after end()`);
  await ended;
  assert.equal(client.state, 'closed');
  // The retry was due 1.5 s after the failure.
  await sleep(1600);
  assert.equal(attempts(), 1, 'no attempt after end()');
});

test('end() while an attempt waits for CONNACK rejects connect() at once', bounded, async () => {
  const server = await serve(5, () => undefined);
  const { client } = counted(`mqtt://127.0.0.1:${server.port}`, { connectTimeout: 10_000 });
  const connecting = client.connect();
  await waitFor(() => server.connections[0]?.received.length === 1, 'the CONNECT');
  const started = Date.now();
  await client.end();
  await assert.rejects(connecting, /the client was ended before it connected/);
  assert.ok(Date.now() - started < 500);
  await waitFor(() => server.connections[0]?.closed === true, 'the connection to close');
});

test('retryInitialConnect.maxAttempts bounds the retries; the last failure is the cause', bounded, async () => {
  const port = await freePort();
  const { client, attempts } = counted(`mqtt://127.0.0.1:${port}`, { retryInitialConnect: { maxAttempts: 3 } });
  const seen = watch(client);
  await assert.rejects(client.connect(), (error: unknown) => {
    assert.ok(error instanceof MqttError);
    assert.match(error.message, /^gave up connecting after 4 attempts: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: /);
    assert.ok(error.cause instanceof MqttError && /ECONNREFUSED/.test(error.cause.message));
    return true;
  });
  assert.equal(attempts(), 4);
  assert.deepEqual(seen.retries, [
    [1, 20],
    [2, 40],
    [3, 80],
  ]);
  assert.equal(client.state, 'closed');
});

test("without limits of its own, the first connection follows reconnect's maxAttempts", bounded, async () => {
  const port = await freePort();
  const { client, attempts } = counted(`mqtt://127.0.0.1:${port}`, { reconnect: { ...quick, maxAttempts: 1 } });
  await assert.rejects(client.connect(), /gave up connecting after 2 attempts/);
  assert.equal(attempts(), 2);
});

test(
  'retryInitialConnect.timeout is a deadline for connect(), also cutting short an attempt waiting for CONNACK',
  bounded,
  async () => {
    const silent = await serve(5, () => undefined);
    const { client } = counted(`mqtt://127.0.0.1:${silent.port}`, {
      connectTimeout: 10_000,
      retryInitialConnect: { timeout: 400 },
    });
    let started = Date.now();
    await assert.rejects(client.connect(), /no connection within 400 ms \(1 attempt\): no CONNACK within \d+ ms/);
    let elapsed = Date.now() - started;
    assert.ok(elapsed >= 390 && elapsed < 1500, `gave up after ${elapsed} ms`);

    // Nothing listening: attempts at 0, 100 and 300 ms; the next would come at 700, so connect() settles at 500.
    const port = await freePort();
    const closed = counted(`mqtt://127.0.0.1:${port}`, {
      reconnect: { initialDelay: 100, maxDelay: 10_000, jitter: 0 },
      retryInitialConnect: { timeout: 500 },
    });
    const seen = watch(closed.client);
    started = Date.now();
    await assert.rejects(closed.client.connect(), /no connection within 500 ms \(3 attempts\)/);
    elapsed = Date.now() - started;
    assert.ok(elapsed >= 490 && elapsed < 1500, `gave up after ${elapsed} ms`);
    assert.equal(closed.attempts(), 3);
    // The retry that would come after the deadline is not announced.
    assert.deepEqual(seen.retries, [
      [1, 100],
      [2, 200],
    ]);
    assert.equal(seen.errors.length, 2);
  },
);

test('retryInitialConnect: false, or reconnect: false, rejects on the first failure', bounded, async () => {
  for (const options of [{ retryInitialConnect: false }, { reconnect: false as const }]) {
    const port = await freePort();
    const { client, attempts } = counted(`mqtt://127.0.0.1:${port}`, options);
    await assert.rejects(client.connect(), /ECONNREFUSED/);
    assert.equal(attempts(), 1);
  }
  // Asked for explicitly, it retries with the default backoff even without reconnects.
  const port = await freePort();
  const { client } = counted(`mqtt://127.0.0.1:${port}`, { reconnect: false, retryInitialConnect: true });
  const seen = watch(client);
  const connecting = client.connect();
  await waitFor(() => seen.retries.length === 1, 'a retry');
  const [[attempt, delay] = [0, 0]] = seen.retries;
  assert.equal(attempt, 1);
  assert.ok(delay >= 500 && delay <= 1000, `first delay ${delay} ms`);
  await client.end();
  await assert.rejects(connecting, /ended before it connected/);
});

test('which failures end the first connection at once', () => {
  for (const code of [0x84, 0x85, 0x86, 0x87, 0x8c]) assert.ok(isPermanentRefusal(code));
  for (const code of [0x80, 0x83, 0x88, 0x89, 0x97, 0x9c, 0x9f]) assert.ok(!isPermanentRefusal(code));
  const tls = (code: string): Error => Object.assign(new Error(code), { code });
  const wrapped = new MqttError(ReasonCode.UnspecifiedError, 'cannot connect', {
    cause: tls('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
  });
  assert.ok(isCertificateFailure(wrapped));
  assert.ok(isCertificateFailure(tls('ERR_TLS_CERT_ALTNAME_INVALID')));
  assert.ok(isCertificateFailure(tls('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')));
  // A device whose clock is not set yet sees this until NTP has run: worth another attempt.
  assert.ok(!isCertificateFailure(tls('CERT_NOT_YET_VALID')));
  assert.ok(!isCertificateFailure(tls('ECONNREFUSED')));
  assert.ok(!isCertificateFailure(tls('ENOTFOUND')));
});

test('retryInitialConnect defaults: on with the reconnect policy, off with reconnect: false', () => {
  assert.deepEqual(resolveInitialConnectPolicy(undefined, { initialDelay: 5, maxAttempts: 7 }), {
    backoff: { initialDelay: 5, maxDelay: 30_000, multiplier: 2, jitter: 0.5, maxAttempts: 7 },
    maxAttempts: 7,
    timeout: Number.POSITIVE_INFINITY,
  });
  assert.equal(resolveInitialConnectPolicy(undefined, false), undefined);
  assert.equal(resolveInitialConnectPolicy(false, undefined), undefined);
  assert.equal(resolveInitialConnectPolicy({ maxAttempts: 2, timeout: 9 }, undefined)?.maxAttempts, 2);
  assert.equal(resolveInitialConnectPolicy({ timeout: 9 }, false)?.timeout, 9);
});
