import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { webSocketMaxPayload } from '../../src/cli/broker.js';
import { collect, connect, refusal, start, urlOf } from './helpers.js';

function frozenClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Waits, bounded, until `condition` holds. */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('limits.maxClients: connected clients across all listeners', () => {
  test('beyond it a CONNECT gets 0x97 Quota exceeded (3.1.1: 0x03 Server unavailable), counted', async () => {
    const running = await start({
      listeners: [
        { name: 'default', port: 0 },
        { name: 'second', port: 0 },
      ],
      limits: { maxClients: 2 },
    });
    const clients: MqttClient[] = [];
    try {
      clients.push(await connect(urlOf(running, 'default'), { protocolVersion: 5 }));
      clients.push(await connect(urlOf(running, 'second'), { protocolVersion: 4 }));
      for (const name of ['default', 'second']) {
        assert.equal(await refusal(urlOf(running, name), { protocolVersion: 5 }), 0x97, name);
        assert.equal(await refusal(urlOf(running, name), { protocolVersion: 4 }), 0x03, name);
      }
      assert.equal(running.connectionLimits.refusedQuota, 4);
      assert.equal(running.broker.stats.clientsConnected, 2, 'the clients already connected keep their places');

      // A reconnection that takes over its own session adds no client: it passes, and the old connection goes.
      const first = clients[0]!;
      const again = await connect(urlOf(running, 'second'), { protocolVersion: 5, clientId: first.options.clientId! });
      await until(() => !first.connected, 'the taken-over connection to close');
      assert.equal(running.broker.stats.clientsConnected, 2);
      clients[0] = again;

      await clients.shift()!.endAsync();
      await until(() => running.broker.stats.clientsConnected === 1, 'the client to leave');
      clients.push(await connect(urlOf(running, 'second'), { protocolVersion: 5 }));
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await running.close();
    }
  });
});

describe('limits.maxConnectionRate: CONNECTs per second from one address', () => {
  test('beyond the rate a CONNECT gets 0x9F Connection rate exceeded (3.1.1: 0x03); a second later it passes', async () => {
    const clock = frozenClock();
    const running = await start(
      { listeners: [{ port: 0 }], limits: { maxConnectionRate: 2, connectionRateExemptLoopback: false } },
      { clock },
    );
    const clients: MqttClient[] = [];
    try {
      clients.push(await connect(urlOf(running), { protocolVersion: 5 }));
      clients.push(await connect(urlOf(running), { protocolVersion: 4 }));
      assert.equal(await refusal(urlOf(running), { protocolVersion: 5 }), 0x9f);
      assert.equal(await refusal(urlOf(running), { protocolVersion: 4 }), 0x03);
      assert.equal(running.connectionLimits.refusedRate, 2);
      clock.advance(1000);
      clients.push(await connect(urlOf(running), { protocolVersion: 5 }));
      assert.equal(clients.filter((c) => c.connected).length, 3, 'a refusal does not touch connected clients');
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await running.close();
    }
  });

  test('loopback addresses are exempt by default (a local proxy is not throttled)', async () => {
    const clock = frozenClock();
    const running = await start({ listeners: [{ port: 0 }], limits: { maxConnectionRate: 1 } }, { clock });
    const clients: MqttClient[] = [];
    try {
      for (let i = 0; i < 4; i++) clients.push(await connect(urlOf(running), { protocolVersion: 5 }));
      assert.equal(running.connectionLimits.refusedRate, 0);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await running.close();
    }
  });
});

describe('WebSocket message size', () => {
  test('ws accepts messages up to limits.maxPacketSize (at least 1 MiB), not its own 100 MiB default', () => {
    assert.equal(webSocketMaxPayload(undefined), 268_435_460);
    assert.equal(webSocketMaxPayload(4 * 1024 * 1024), 4 * 1024 * 1024);
    assert.equal(webSocketMaxPayload(1024), 1024 * 1024, 'several small packets may share one message');
  });

  test('a WebSocket message larger than the limit closes the connection with 1009 before it is buffered', async () => {
    const maxPacketSize = 2 * 1024 * 1024;
    const running = await start({ listeners: [{ port: 0, protocol: 'ws' }], limits: { maxPacketSize } });
    const clients: MqttClient[] = [];
    try {
      const url = urlOf(running);
      // A packet within the limit still travels.
      const subscriber = await connect(url, { protocolVersion: 5 });
      const publisher = await connect(url, { protocolVersion: 5 });
      clients.push(subscriber, publisher);
      const inbox = collect(subscriber);
      await subscriber.subscribeAsync('big');
      await publisher.publishAsync('big', Buffer.alloc(1536 * 1024, 7), { qos: 1 });
      await inbox.waitFor(1);
      assert.equal(inbox.messages[0]!.payload.length, 1536 * 1024);

      const socket = new WebSocket(url, 'mqtt');
      await once(socket, 'open');
      const closed = once(socket, 'close');
      socket.send(Buffer.alloc(maxPacketSize + 1));
      const [code] = (await closed) as [number];
      assert.equal(code, 1009);
      assert.equal(publisher.connected, true);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await running.close();
    }
  });
});
