import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Broker } from '../../src/broker/broker.js';
import { runBench } from '../../src/cli/bench.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';

/** Collects what is written to it, as a stand-in for stdout/stderr. */
function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(w, { text: () => Buffer.concat(chunks).toString('utf8') });
}

async function withBroker(fn: (port: number) => Promise<void>): Promise<void> {
  const broker = new Broker({ sysIntervalSeconds: 0 });
  await broker.start();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket, { loopbackOnly: true, remoteAddress: socket.remoteAddress });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as net.AddressInfo).port);
  } finally {
    await broker.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('starling bench pubsub delivers every QoS 1 message and reports the summary fields', async () => {
  await withBroker(async (port) => {
    const stdout = sink();
    const stderr = sink();
    const status = await runBench(
      [
        'pubsub',
        '-p',
        String(port),
        '-c',
        '4',
        '--subscribers',
        '2',
        '-q',
        '1',
        '-n',
        '2000',
        '--duration',
        '3',
        '-V',
        '5',
        '--json',
      ],
      { stdout, stderr },
    );
    const summary = JSON.parse(stdout.text()) as Record<string, unknown> & {
      latencyMs: Record<string, number>;
    };
    assert.equal(status, 0, stderr.text());
    // 4 publishers × 2,000 messages, each to 2 subscribers on bench/#.
    assert.equal(summary.sent, 8000);
    assert.equal(summary.acked, 8000);
    assert.equal(summary.expected, 16_000);
    assert.equal(summary.received, 16_000);
    assert.equal(summary.losses, 0);
    assert.equal(summary.unacked, 0);
    assert.equal(summary.connectFailures, 0);
    for (const field of ['mode', 'sentPerSec', 'receivedPerSec', 'windowS', 'duplicates', 'reconnects', 'errors']) {
      assert.ok(field in summary, `summary has ${field}`);
    }
    assert.ok((summary.receivedPerSec as number) > 0);
    assert.ok(summary.latencyMs.count > 0);
    for (const p of ['p50', 'p90', 'p99', 'max'] as const) assert.ok(summary.latencyMs[p]! >= 0);
    assert.ok(summary.latencyMs.p50! <= summary.latencyMs.p99! && summary.latencyMs.p99! <= summary.latencyMs.max!);
  });
});

test('starling bench expects at each subscriber only the publishers its filter matches (QoS 2 pairs)', async () => {
  await withBroker(async (port) => {
    const stdout = sink();
    const stderr = sink();
    // Subscriber i listens to bench/i only: point-to-point pairs, exact expectations per pair.
    const status = await runBench(
      [
        'pubsub',
        '-p',
        String(port),
        '-c',
        '3',
        '--subscribers',
        '3',
        '--filter',
        'bench/%i',
        '-q',
        '2',
        '-n',
        '500',
        '-V',
        '311',
        '--json',
      ],
      { stdout, stderr },
    );
    const summary = JSON.parse(stdout.text()) as Record<string, number>;
    assert.equal(status, 0, stderr.text());
    assert.equal(summary.expected, 1500);
    assert.equal(summary.received, 1500);
    assert.equal(summary.losses, 0);
  });
});

test('starling bench conn opens, holds and closes connections', async () => {
  await withBroker(async (port) => {
    const stdout = sink();
    const stderr = sink();
    const status = await runBench(
      ['conn', '-p', String(port), '-c', '50', '--rate', '500', '--duration', '0.2', '--json'],
      {
        stdout,
        stderr,
      },
    );
    const summary = JSON.parse(stdout.text()) as Record<string, number> & { connectLatencyMs: { count: number } };
    assert.equal(status, 0, stderr.text());
    assert.equal(summary.connected, 50);
    assert.equal(summary.failures, 0);
    assert.equal(summary.connectLatencyMs.count, 50);
  });
});

test('starling bench refuses bad usage with status 2', async () => {
  const stdout = sink();
  const stderr = sink();
  assert.equal(await runBench(['pub', '-q', '3'], { stdout, stderr }), 2);
  assert.equal(await runBench(['fly'], { stdout, stderr }), 2);
  assert.equal(await runBench(['pub', '-s', '8'], { stdout, stderr }), 2);
  assert.match(stderr.text(), /--qos must be/);
});

test('starling bench reports a broker that is not there as a failure, not a hang', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const stdout = sink();
  const stderr = sink();
  assert.equal(
    await runBench(['pubsub', '-p', String(port), '-c', '1', '-n', '10', '--duration', '1'], { stdout, stderr }),
    1,
  );
  assert.match(stderr.text(), /ECONNREFUSED/);
});

/**
 * A broker that loses messages on purpose: it acknowledges every QoS 1 PUBLISH but forwards to the
 * subscriber only those whose sequence number (payload offset 16) is not 3 modulo 10.
 */
async function withLossyBroker(fn: (port: number) => Promise<void>): Promise<void> {
  const sockets = new Set<net.Socket>();
  let subscriber: net.Socket | undefined;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    const decoder = new Decoder(
      (packet) => {
        switch (packet.type) {
          case 'connect':
            socket.write(encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, 4));
            break;
          case 'subscribe':
            subscriber = socket;
            socket.write(encode({ type: 'suback', packetId: packet.packetId, reasonCodes: [1] }, 4));
            break;
          case 'publish':
            socket.write(encode({ type: 'puback', packetId: packet.packetId! }, 4));
            if (packet.payload.readUInt32BE(16) % 10 !== 3) subscriber?.write(encode({ ...packet, packetId: 1 }, 4));
            break;
          case 'disconnect':
            socket.end();
            break;
          default:
            break;
        }
      },
      { protocolVersion: 4 },
    );
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as net.AddressInfo).port);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('starling bench finds QoS 1 messages a broker acknowledged and never delivered, and fails the run', async () => {
  await withLossyBroker(async (port) => {
    const stdout = sink();
    const stderr = sink();
    const status = await runBench(
      ['pubsub', '-p', String(port), '-c', '2', '-q', '1', '-n', '100', '-V', '311', '--json'],
      {
        stdout,
        stderr,
      },
    );
    const summary = JSON.parse(stdout.text()) as Record<string, number>;
    // Sequence numbers 3, 13, ..., 93 of each of the 2 publishers: 20 losses.
    assert.equal(summary.acked, 200);
    assert.equal(summary.received, 180);
    assert.equal(summary.losses, 20);
    assert.equal(status, 1);
  });
});
