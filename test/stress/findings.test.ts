// Stress findings S1 to S6: limits the broker keeps under load and abuse.

import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, test } from 'node:test';
import { encode } from '../../src/protocol/encoder.js';
import { budget, ChildBroker, delay, endClient, MiB, mib, mqttjs, TcpPeer, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// S1
test('a connection cannot make the broker buffer a huge CONNECT before it is authenticated (default options)', {
  timeout: budget(20_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const baseline = await broker.stats(true);
  const socket = netConnect({ host: '127.0.0.1', port: broker.port });
  cleanups.push(() => {
    socket.destroy();
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let closed = false;
  socket.once('close', () => {
    closed = true;
  });
  // A CONNECT announcing 100 MiB (remaining length 104,857,600 = 0x80 0x80 0x80 0x32), then its bytes.
  socket.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x32]));
  const chunk = Buffer.alloc(MiB);
  let sent = 0;
  const deadline = Date.now() + 10_000;
  while (!closed && sent < 99 && Date.now() < deadline) {
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
    sent++;
  }
  const loaded = await broker.stats(true);
  const grew = loaded.memory.arrayBuffers - baseline.memory.arrayBuffers;
  t.diagnostic(`sent ${sent} MiB of the CONNECT; broker buffers grew ${mib(grew)}`);
  assert.ok(grew < 8 * MiB, `an unauthenticated connection made the broker hold ${mib(grew)}`);
  await waitUntil(() => closed, 'the connection to be closed');
});
