// The browser entry point: no Node module of ours in its import graph, and the same client over a
// WHATWG-style WebSocket (here the `ws` package's, which implements that interface).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { Broker } from '../../src/broker/broker.js';
import { connect, type Message, MqttError } from '../../src/client/browser.js';
import { webSocketTransportFactory } from '../../src/client/transport-websocket.js';
import { createListener } from '../../src/transport/index.js';
import { silentLogger } from '../../src/util/logger.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every module (relative) and package (bare or node:) reachable from `entry` through static and dynamic imports. */
function importGraph(entry: string): { files: Set<string>; external: Set<string> } {
  const files = new Set<string>();
  const external = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    // `import type` is erased by the compiler and pulls in nothing.
    const pattern = /^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm;
    for (const match of source.matchAll(pattern)) {
      const specifier = (match[1] ?? match[2]) as string;
      if (specifier.startsWith('.')) pending.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else external.add(specifier);
    }
  }
  return { files, external };
}

test('the browser entry point imports no Node module of ours, and of Node only node:buffer (through the codec)', () => {
  const { files, external } = importGraph(join(repoRoot, 'src/client/browser.ts'));
  const ours = [...files].map((file) => file.slice(repoRoot.length + 1)).sort();
  assert.ok(ours.includes('src/client/client.ts'));
  assert.ok(!ours.includes('src/client/transport-node.ts'));
  assert.ok(
    ours.every(
      (file) => file.startsWith('src/client/') || file.startsWith('src/protocol/') || file === 'src/util/clock.ts',
    ),
    ours.join(', '),
  );
  assert.deepEqual([...external].sort(), ['node:buffer']);
});

test('the browser client talks MQTT over a WHATWG WebSocket to the broker', async () => {
  const broker = new Broker({ logger: silentLogger() });
  await broker.start();
  const listener = await createListener(
    { name: 'ws', host: '127.0.0.1', port: 0, protocol: 'ws' },
    (stream, meta) => broker.handle(stream, meta),
    silentLogger(),
  );
  const transport = webSocketTransportFactory(WebSocket as unknown as typeof globalThis.WebSocket);
  const url = `ws://127.0.0.1:${listener.address().port}/mqtt`;
  const clients = [await connect(url, { transport }), await connect(url, { transport })];
  try {
    const [sub, pub] = clients as [(typeof clients)[0], (typeof clients)[0]];
    const messages: Message[] = [];
    sub.on('message', (m) => messages.push(m));
    await sub.subscribe('browser/#', { qos: 1 });
    await pub.publish('browser/hello', 'from a page', { qos: 1 });
    await pub.publish('browser/bin', new Uint8Array([1, 2, 3]), { qos: 2 });
    for (let i = 0; i < 200 && messages.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      messages.map((m) => [m.topic, [...m.payload]]),
      [
        ['browser/hello', [...Buffer.from('from a page')]],
        ['browser/bin', [1, 2, 3]],
      ],
    );
    // mqtt:// needs a TCP socket, which a page does not have.
    await assert.rejects(connect('mqtt://127.0.0.1:1', { transport, reconnect: false }), MqttError);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await listener.close();
    await broker.close();
  }
});
