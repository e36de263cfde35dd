// `starling pub` and `starling sub` with --retry-connect: they wait for a broker that starts after
// them, give up after the given seconds, and still stop at once on a refusal.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { afterEach, test } from 'node:test';
import { Broker } from '../../src/broker/broker.js';
import { runPub } from '../../src/cli/pub.js';
import { runSub } from '../../src/cli/sub.js';
import { connect } from '../../src/client/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { sleep, waitFor } from '../client/helpers.js';
import { freePort } from '../helpers/net.js';
import { memoryIo as capturedIo, type MemoryIo } from './io.js';

/** A command that retries for ever when it should not fails its test, and is stopped by the cleanup. */
const bounded = { timeout: 20_000 };

let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

/** Captured output; the command is stopped (io.signal) after the test whatever happened. */
function memoryIo(controller = new AbortController()): MemoryIo {
  cleanups.push(async () => controller.abort());
  return capturedIo('', controller.signal);
}

/** Starling's broker on `port`; `loopbackOnly: false` makes it refuse anonymous clients. */
async function startBroker(port: number, meta = { loopbackOnly: true }): Promise<void> {
  const broker = new Broker({ logger: silentLogger() });
  await broker.start();
  const server: Server = createServer((socket) => broker.handle(socket, meta));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await broker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

const at = (port: number): string[] => ['-h', '127.0.0.1', '-p', String(port)];

test('pub --retry-connect waits for a broker that starts after it, then publishes', bounded, async () => {
  const port = await freePort();
  const io = memoryIo();
  const publishing = runPub(
    [...at(port), '--retry-connect', '10', '-t', 'late/pub', '-m', 'arrived', '-r', '-q', '1'],
    io,
  );
  await sleep(300);
  await startBroker(port);
  assert.equal(await publishing, 0, io.err());
  const reader = await connect(`mqtt://127.0.0.1:${port}`, { reconnect: false });
  cleanups.push(() => reader.end());
  const received = new Promise<string>((resolve) => reader.once('message', (m) => resolve(m.payload.toString())));
  await reader.subscribe('late/pub');
  assert.equal(await received, 'arrived');
});

test('sub --retry-connect waits for a broker that starts after it, then prints what arrives', bounded, async () => {
  const port = await freePort();
  const io = memoryIo();
  const subscribing = runSub([...at(port), '--retry-connect', '10', '-t', 'late/sub', '-C', '1', '-d'], io);
  await sleep(300);
  await startBroker(port);
  await waitFor(() => io.err().includes('SUBACK'), 'sub to subscribe', 8000);
  const writer = await connect(`mqtt://127.0.0.1:${port}`, { reconnect: false });
  cleanups.push(() => writer.end());
  await writer.publish('late/sub', 'hello', { qos: 1 });
  assert.equal(await subscribing, 0, io.err());
  assert.equal(io.out(), 'hello\n');
  // -d shows the retries while the broker was not up.
  assert.match(io.err(), /connecting again in \d+ ms \(retry 1\)/);
});

test('--retry-connect SECONDS gives up after SECONDS, naming the attempts and the last failure', bounded, async () => {
  const port = await freePort();
  const io = memoryIo();
  const started = Date.now();
  assert.equal(await runPub([...at(port), '--retry-connect', '1', '-t', 't', '-m', 'x'], io), 1);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 950 && elapsed < 3000, `gave up after ${elapsed} ms`);
  assert.match(
    io.err(),
    /^Connection error: no connection within 1000 ms \(\d+ attempts\): cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/,
  );
});

test('--retry-connect still stops at once when the broker refuses the credentials', bounded, async () => {
  const port = await freePort();
  await startBroker(port, { loopbackOnly: false });
  const common = [...at(port), '--retry-connect', '30', '-t', 't'];
  for (const [run, args] of [
    [runPub, [...common, '-m', 'x']],
    [runSub, common],
  ] as [typeof runPub, string[]][]) {
    const io = memoryIo();
    const started = Date.now();
    assert.equal(await run(args, io), 1);
    assert.ok(Date.now() - started < 1000);
    assert.match(io.err(), /^Connection error: (Not authorized|Bad User Name or Password)\n$/);
  }
});

test('without --retry-connect the first failure ends the command at once', bounded, async () => {
  const port = await freePort();
  const io = memoryIo();
  const started = Date.now();
  assert.equal(await runSub([...at(port), '-t', 't'], io), 1);
  assert.ok(Date.now() - started < 1000);
  assert.match(io.err(), /^Connection error: connect ECONNREFUSED/);
});

test(
  'sub stopped while it waits for the broker exits 0 at once; a bad --retry-connect value is a usage error',
  bounded,
  async () => {
    const port = await freePort();
    const controller = new AbortController();
    const io = memoryIo(controller);
    const subscribing = runSub([...at(port), '--retry-connect', '0', '-t', 't', '-d'], io);
    await waitFor(() => io.err().includes('(retry 1)'), 'a retry');
    const started = Date.now();
    controller.abort();
    assert.equal(await subscribing, 0);
    assert.ok(Date.now() - started < 500);

    const bad = memoryIo();
    assert.equal(await runPub([...at(port), '--retry-connect', 'soon', '-t', 't', '-m', 'x'], bad), 1);
    assert.match(bad.err(), /--retry-connect must be a whole number of seconds, got 'soon'/);
  },
);
