import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { encode } from '../../src/protocol/encoder.js';
import type { ConnectPacket } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { startBrokerProcess } from '../cli/broker-process.js';
import { budget, ChildBroker, delay, endClient, MiB, mib, mqttjs, SOAK, TcpPeer, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A fixed-seed generator, so that a failing storm can be replayed. */
function generator(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
}

function randomBytes(random: (n: number) => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = random(256);
  return bytes;
}

function connectBytes(version: 4 | 5, clientId: string, fields: Partial<ConnectPacket> = {}): Buffer {
  return encode(
    { type: 'connect', protocolName: 'MQTT', protocolVersion: version, clean: true, keepAlive: 0, clientId, ...fields },
    version,
  );
}

/** A plain TCP socket that keeps every byte the broker sends and knows when the broker closed it. */
class Raw {
  readonly socket: Socket;
  readonly chunks: Buffer[] = [];
  closed = false;
  readonly #closed: Promise<void>;

  constructor(port: number) {
    this.socket = netConnect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    this.socket.on('error', () => {});
    this.#closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.closed = true;
        resolve();
      });
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connecting) resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  write(bytes: Buffer | number[]): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(Buffer.from(bytes));
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  async waitClosed(timeoutMs: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What a refused or dropped connection may have heard before the close: nothing, or a refusing CONNACK. */
function assertRefusedOrSilent(bytes: Buffer, what: string): void {
  if (bytes.length === 0) return;
  assert.equal(bytes[0], 0x20, `${what}: the only packet sent before CONNECT is accepted is CONNACK`);
  assert.ok(bytes.length >= 4 && bytes[3] !== 0, `${what}: a CONNACK to garbage refuses it`);
}

test('a storm of garbage, stalls, resets and slowloris connections closes each of them and harms nobody else', {
  timeout: budget(40_000),
}, async (t) => {
  const broker = await ChildBroker.start({ connectTimeoutMs: 1000, maxPacketSize: MiB });
  cleanups.push(() => broker.stop());
  const random = generator(20261122);
  const N = 25 * SOAK;

  // The well-behaved client, connected throughout: it publishes to itself at QoS 1 during the whole storm.
  const calm = await mqttjs(broker.port, { clientId: 'calm', keepalive: 30 });
  cleanups.push(() => endClient(calm));
  let calmClosed = 0;
  calm.on('close', () => calmClosed++);
  const calmSeen = new Set<number>();
  calm.on('message', (_topic, message) => calmSeen.add(Number(message.toString())));
  await calm.subscribeAsync('calm/#', { qos: 1 });
  let calmSent = 0;
  let storming = true;
  const calmLoop = (async () => {
    const deadline = Date.now() + budget(20_000);
    while (storming && Date.now() < deadline) {
      await calm.publishAsync('calm/tick', String(calmSent), { qos: 1 });
      calmSent++;
      await delay(20);
    }
  })();

  const closings: Promise<void>[] = [];
  const kinds: string[] = [];
  function expectClosed(kind: string, closing: Promise<void>): void {
    kinds.push(kind);
    closings.push(closing);
  }

  for (let i = 0; i < N; i++) {
    // 1. Random bytes as the first thing on the wire.
    {
      const raw = new Raw(broker.port);
      await raw.opened();
      raw.write(randomBytes(random, 1 + random(512)));
      expectClosed(
        'random bytes',
        raw.waitClosed(5000, 'random bytes').then(() => assertRefusedOrSilent(raw.bytes, 'random bytes')),
      );
    }
    // 2. A valid MQTT 5 CONNECT, then garbage: DISCONNECT with an error reason code, or (if the garbage happens to
    // hold a valid packet's beginning) the keep-alive close.
    {
      const peer = new TcpPeer(broker.port, 5);
      await peer.connect({ clientId: `garbage-${i}`, keepAlive: 1 });
      const disconnect = peer.expect('disconnect', 5000).catch(() => undefined);
      peer.sendRaw(randomBytes(random, 1 + random(512)));
      expectClosed(
        'CONNECT then garbage',
        (async () => {
          await peer.waitClosed(5000);
          const packet = await disconnect;
          if (packet) assert.ok((packet.reasonCode ?? 0) >= 0x80, `DISCONNECT 0x${packet.reasonCode?.toString(16)}`);
        })(),
      );
    }
    // 3. CONNECT, then a reserved packet type: DISCONNECT 0x81 Malformed Packet [MQTT-4.13.1-1].
    {
      const peer = new TcpPeer(broker.port, 5);
      await peer.connect({ clientId: `reserved-${i}` });
      const disconnect = peer.expect('disconnect', 5000);
      peer.sendRaw([0x00, 0x00]);
      expectClosed(
        'CONNECT then packet type 0',
        (async () => {
          assert.equal((await disconnect).reasonCode, ReasonCode.MalformedPacket);
          await peer.waitClosed(5000);
        })(),
      );
    }
    // 4. CONNECT, then a PUBLISH announcing 256 MB against a 1 MiB maximum: DISCONNECT 0x95 Packet Too Large.
    {
      const peer = new TcpPeer(broker.port, 5);
      await peer.connect({ clientId: `huge-${i}` });
      const disconnect = peer.expect('disconnect', 5000);
      peer.sendRaw([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x61]);
      expectClosed(
        'PUBLISH of 256 MB announced',
        (async () => {
          assert.equal((await disconnect).reasonCode, ReasonCode.PacketTooLarge);
          await peer.waitClosed(5000);
        })(),
      );
    }
    // 5. A CONNECT announcing 256 MB before any CONNECT was accepted: closed (no CONNACK can be sent yet).
    {
      const raw = new Raw(broker.port);
      await raw.opened();
      raw.write([0x10, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x04]);
      expectClosed(
        'CONNECT of 256 MB announced',
        raw.waitClosed(5000, 'huge CONNECT').then(() => assertRefusedOrSilent(raw.bytes, 'huge CONNECT')),
      );
    }
    // 6. A PUBLISH under the maximum that never completes: the broker buffers only what arrived and the keep-alive
    // timeout (1.5 x 1 s) closes it with DISCONNECT 0x8D.
    {
      const peer = new TcpPeer(broker.port, 5);
      await peer.connect({ clientId: `stalled-${i}`, keepAlive: 1 });
      const disconnect = peer.expect('disconnect', 5000);
      // Remaining length 900,000 (0xA0 0xF7 0x36), of which 16 KiB arrive.
      peer.sendRaw(Buffer.concat([Buffer.from([0x30, 0xa0, 0xf7, 0x36, 0x00, 0x01, 0x61]), Buffer.alloc(16384)]));
      expectClosed(
        'PUBLISH stalled halfway',
        (async () => {
          assert.equal((await disconnect).reasonCode, ReasonCode.KeepAliveTimeout);
          await peer.waitClosed(5000);
        })(),
      );
    }
    // 7. CONNECT, then nothing at all (MQTT 3.1.1 and 5): closed after one and a half keep-alive periods.
    {
      const version = i % 2 === 0 ? 5 : 4;
      const peer = new TcpPeer(broker.port, version);
      await peer.connect({ clientId: `silent-${i}`, keepAlive: 1 });
      const disconnect = version === 5 ? peer.expect('disconnect', 5000) : undefined;
      expectClosed(
        'CONNECT then silence',
        (async () => {
          if (disconnect) assert.equal((await disconnect).reasonCode, ReasonCode.KeepAliveTimeout);
          await peer.waitClosed(5000);
        })(),
      );
    }
    // 8. TCP open and nothing sent: the connect timeout closes it.
    {
      const raw = new Raw(broker.port);
      await raw.opened();
      expectClosed(
        'no CONNECT',
        raw.waitClosed(5000, 'no CONNECT').then(() => assert.equal(raw.bytes.length, 0)),
      );
    }
    // 9. Half-closed: the client sends FIN (with or without a CONNECT first); the broker closes its side too.
    {
      const raw = new Raw(broker.port);
      await raw.opened();
      if (i % 2 === 0) raw.write(connectBytes(5, `half-${i}`));
      raw.socket.end();
      expectClosed('half-closed', raw.waitClosed(5000, 'half-closed'));
    }
    // 10. Reset in the middle of a packet (CONNECT, or a PUBLISH after CONNECT).
    {
      const raw = new Raw(broker.port);
      await raw.opened();
      const connect = connectBytes(5, `reset-${i}`);
      if (i % 2 === 0) {
        raw.write(connect.subarray(0, connect.length >> 1));
      } else {
        raw.write(connect);
        raw.write([0x32, 0x10, 0x00, 0x03, 0x61, 0x2f, 0x62]);
      }
      await delay(5);
      raw.socket.resetAndDestroy();
      expectClosed('reset mid-packet', raw.waitClosed(5000, 'reset'));
    }
  }

  // 11. Slowloris: a CONNECT one byte at a time, slower than the connect timeout allows. Closed before it completes.
  const slowloris: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    const raw = new Raw(broker.port);
    await raw.opened();
    const connect = connectBytes(i % 2 === 0 ? 5 : 4, `slowloris-${i}-${'x'.repeat(100)}`);
    slowloris.push(
      (async () => {
        for (let b = 0; b < connect.length && !raw.closed; b++) {
          raw.write(connect.subarray(b, b + 1));
          await delay(50);
        }
        assert.ok(raw.closed, 'a CONNECT trickled over 6 s is cut off by a 1 s connect timeout');
        assertRefusedOrSilent(raw.bytes, 'slowloris');
      })(),
    );
  }

  const results = await Promise.allSettled([...closings, ...slowloris]);
  const failures = results
    .map((result, index) => ({ result, kind: kinds[index] ?? 'slowloris' }))
    .filter(({ result }) => result.status === 'rejected')
    .map(({ result, kind }) => `${kind}: ${String((result as PromiseRejectedResult).reason)}`);
  assert.deepEqual(failures, [], `${failures.length} abusive connections misbehaved`);

  storming = false;
  await calmLoop;
  // The well-behaved client was never disconnected and got every one of its own messages.
  await waitUntil(() => calmSeen.size >= calmSent, `calm's ${calmSent} messages (has ${calmSeen.size})`);
  assert.equal(calmClosed, 0);
  assert.ok(calmSent > 0);

  // Every abusive connection is gone from the broker; only the calm one remains.
  await waitUntil(async () => (await broker.stats()).connections === 1, 'the broker to hold only calm', 10_000, 50);
  const stats = await broker.stats(true);
  t.diagnostic(
    `${closings.length + slowloris.length} abusive connections; calm sent and received ${calmSent}; broker rss ` +
      `${mib(stats.memory.rss)}, heap ${mib(stats.memory.heapUsed)}`,
  );
  assert.equal(stats.stats.clientsConnected, 1);
  assert.deepEqual(stats.errorLogs, [], 'no internal error was logged');
  assert.equal(stats.errorEvents, 0);

  // Still alive and serving: a new client connects, subscribes and receives.
  assert.ok(broker.alive, 'the broker process is alive');
  const late = new TcpPeer(broker.port, 4);
  cleanups.push(() => late.destroy());
  await late.connect({ clientId: 'late' });
  await late.subscribe('calm/#', 0);
  const got = late.expect('publish', 5000, (p) => p.payload.toString() === 'after');
  await calm.publishAsync('calm/end', 'after', { qos: 1 });
  assert.equal((await got).topic, 'calm/end');
});

test('the starling binary with its default limits survives a storm of garbage and resets and shuts down cleanly', {
  timeout: budget(30_000),
}, async (t) => {
  const { broker: starling, port } = await startBrokerProcess(['--no-persistence']);
  cleanups.push(() => starling.kill());
  const random = generator(7);
  const calm = await mqttjs(port, { clientId: 'calm-cli', protocolVersion: 4 });
  cleanups.push(() => endClient(calm));
  let calmClosed = 0;
  calm.on('close', () => calmClosed++);
  const seen = new Set<string>();
  calm.on('message', (_topic, message) => seen.add(message.toString()));
  await calm.subscribeAsync('calm/#', { qos: 1 });

  const closings: Promise<void>[] = [];
  for (let i = 0; i < 60 * SOAK; i++) {
    const garbage = new Raw(port);
    await garbage.opened();
    garbage.write(randomBytes(random, 1 + random(256)));
    garbage.socket.end();
    closings.push(garbage.waitClosed(12_000, 'garbage'));

    const version = i % 2 === 0 ? 5 : 4;
    const afterConnect = new Raw(port);
    await afterConnect.opened();
    afterConnect.write(
      Buffer.concat([connectBytes(version, `cli-garbage-${i}`), randomBytes(random, 1 + random(256))]),
    );
    afterConnect.socket.end();
    closings.push(afterConnect.waitClosed(12_000, 'CONNECT then garbage'));

    const reset = new Raw(port);
    await reset.opened();
    // A huge CONNECT begun, or a valid CONNECT and half a PUBLISH, then a reset.
    reset.write(
      i % 2 === 0 ? [0x10, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x04, 0x4d] : connectBytes(version, `cli-reset-${i}`),
    );
    if (i % 2 === 1) reset.write([0x32, 0x20, 0x00, 0x04, 0x63]);
    await delay(2);
    reset.socket.resetAndDestroy();
    closings.push(reset.waitClosed(5000, 'reset'));

    await calm.publishAsync('calm/cli', String(i), { qos: 1 });
  }
  await Promise.all(closings);
  await waitUntil(() => seen.size >= 60 * SOAK, 'the calm client to get its own messages');
  assert.equal(calmClosed, 0);

  // Alive, serving a newcomer, and nothing logged at error or fatal level (pino levels 50 and 60).
  assert.equal(starling.child.exitCode, null);
  const late = new TcpPeer(port, 5);
  cleanups.push(() => late.destroy());
  await late.connect({ clientId: 'late-cli' });
  await late.subscribe('calm/#', 1);
  const got = late.expect('publish', 5000);
  await calm.publishAsync('calm/end', 'after', { qos: 1 });
  assert.equal((await got).payload.toString(), 'after');
  late.send({ type: 'puback', packetId: (await got).packetId! });
  const stdout = starling.stdout().split('\n');
  const serious = stdout.filter((line) => /"level":(50|60)/.test(line));
  t.diagnostic(`${closings.length} abusive connections against the binary; ${stdout.length} log lines`);
  assert.equal(starling.stderr(), '', 'nothing on stderr (no uncaught exception, no warning)');
  assert.deepEqual(serious, []);

  await endClient(calm);
  late.destroy();
  starling.child.kill('SIGTERM');
  assert.equal(await starling.exited(10_000), 0);
});

test('a CONNECT announcing 100 MiB is refused at its fixed header, before the broker buffers it (default limits)', {
  timeout: budget(20_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const baseline = await broker.stats(true);
  const sockets: Raw[] = [];
  for (let i = 0; i < 4; i++) {
    const raw = new Raw(broker.port);
    sockets.push(raw);
    cleanups.push(() => {
      raw.socket.destroy();
    });
    await raw.opened();
    // Remaining length 104,857,600 (0x80 0x80 0x80 0x32), then as many of its bytes as the broker takes in 5 s.
    raw.write([0x10, 0x80, 0x80, 0x80, 0x32]);
    const chunk = Buffer.alloc(MiB);
    const deadline = Date.now() + 5000;
    for (let sent = 0; sent < 99 && !raw.closed && Date.now() < deadline; sent++) {
      if (!raw.socket.write(chunk)) {
        await Promise.race([
          new Promise((resolve) => raw.socket.once('drain', resolve)),
          raw.waitClosed(1000, 'x'),
        ]).catch(() => undefined);
      }
    }
  }
  const loaded = await broker.stats(true);
  const grew = loaded.memory.arrayBuffers - baseline.memory.arrayBuffers;
  t.diagnostic(`4 sockets each announced a 100 MiB CONNECT; broker buffers grew ${mib(grew)}`);
  assert.ok(grew < 8 * MiB, `unauthenticated connections made the broker hold ${mib(grew)}`);
  for (const raw of sockets) {
    await raw.waitClosed(5000, 'huge CONNECT');
    assertRefusedOrSilent(raw.bytes, 'huge CONNECT');
  }
  assert.deepEqual((await broker.stats()).errorLogs, []);
});
