import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import { startBroker } from '../../src/cli/broker.js';
import { resolveConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/logger.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Runs in the page: a minimal MQTT 3.1.1 client over the browser's own WebSocket, built by hand so that
 * the test depends on nothing but the browser. Connects, subscribes to `${topic}/in`, publishes to
 * `${topic}/out`, and resolves with the payload of the first message received on `${topic}/in`.
 */
function browserClient(args: { url: string; topic: string }): Promise<string> {
  const text = (s: string) => Array.from(new TextEncoder().encode(s));
  const field = (s: string) => {
    const bytes = text(s);
    return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
  };
  const packet = (header: number, body: number[]) => new Uint8Array([header, body.length, ...body]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('browser client timed out')), 8000);
    const ws = new WebSocket(args.url, 'mqtt');
    ws.binaryType = 'arraybuffer';
    let buffer: number[] = [];
    ws.onerror = () => reject(new Error('WebSocket error'));
    ws.onopen = () => {
      // CONNECT: protocol name MQTT, level 4, clean session, keep alive 60, client id.
      ws.send(packet(0x10, [...field('MQTT'), 4, 0x02, 0, 60, ...field('chromium')]));
    };
    ws.onmessage = (event) => {
      buffer = buffer.concat(Array.from(new Uint8Array(event.data as ArrayBuffer)));
      while (buffer.length >= 2 && buffer.length >= 2 + buffer[1]!) {
        const type = buffer[0]! >> 4;
        const body = buffer.slice(2, 2 + buffer[1]!);
        buffer = buffer.slice(2 + buffer[1]!);
        if (type === 2) {
          if (body[1] !== 0) reject(new Error(`CONNACK return code ${body[1]}`));
          ws.send(packet(0x82, [0, 1, ...field(`${args.topic}/in`), 0]));
        } else if (type === 9) {
          ws.send(packet(0x30, [...field(`${args.topic}/out`), ...text('hello from the browser')]));
        } else if (type === 3) {
          const topicLength = (body[0]! << 8) | body[1]!;
          const payload = new TextDecoder().decode(new Uint8Array(body.slice(2 + topicLength)));
          clearTimeout(timer);
          ws.close();
          resolve(payload);
        }
      }
    };
  });
}

test('a browser (Chromium) speaks MQTT over WebSocket with the broker', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`chromium not installed at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  const config = resolveConfig({
    listeners: [{ name: 'ws', port: 0, protocol: 'ws' }],
    persistence: { enabled: false },
    sys: { intervalSeconds: 0 },
  });
  if (!config.ok) assert.fail(config.errors.join('; '));
  const running = await startBroker(config.config, { logger: silentLogger() });
  const url = running.listeners[0]!.url();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 30_000 });
  const node = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  try {
    await node.subscribeAsync('browser/out');
    const fromBrowser = new Promise<string>((resolve) => node.once('message', (_t, p) => resolve(p.toString())));
    // When the browser has subscribed, answer it.
    running.broker.on('subscribed', (event) => {
      if (event.topicFilter === 'browser/in') void node.publishAsync('browser/in', 'hello from node');
    });
    const page = await browser.newPage();
    const received = await page.evaluate(browserClient, { url, topic: 'browser' });
    assert.equal(received, 'hello from node');
    assert.equal(await fromBrowser, 'hello from the browser');
  } finally {
    await node.endAsync(true);
    await browser.close();
    await running.close();
  }
});
