import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { type Browser, chromium, type Page } from 'playwright-core';
import { formatBytes, formatCount, formatDuration, formatProtocolVersion, rates } from '../../src/dashboard/format.js';
import { startFixture } from './helpers.js';

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

describe('dashboard helpers', () => {
  test('rates are counter deltas per second; no rate from one sample, a reset counter or a stalled clock', () => {
    const at = 1_000_000;
    const sample = {
      at,
      messagesReceived: 100,
      messagesSent: 50,
      bytesReceived: 4096,
      bytesSent: 0,
      droppedMessages: 1,
    };
    const later = { ...sample, at: at + 2000, messagesReceived: 140, messagesSent: 60, bytesReceived: 8192 };
    assert.deepEqual(rates(sample, later), {
      messagesReceived: 20,
      messagesSent: 5,
      bytesReceived: 2048,
      bytesSent: 0,
      droppedMessages: 0,
    });
    assert.equal(rates(undefined, later).messagesReceived, 0);
    assert.equal(rates(later, { ...later, at: at + 3000, messagesReceived: 3 }).messagesReceived, 0, 'restarted');
    assert.equal(rates(later, { ...later, messagesReceived: 999 }).messagesReceived, 0, 'same instant');
  });

  test('numbers, bytes, durations and protocol levels read as an operator expects', () => {
    assert.equal(formatCount(1234567), '1,234,567');
    assert.equal(formatCount(2.5), '2.5');
    assert.equal(formatCount(12.4), '12');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(50 * 1024 * 1024), '50.0 MiB');
    assert.equal(formatDuration(4), '4s');
    assert.equal(formatDuration(3725), '1h 2m 5s');
    assert.equal(formatDuration(93784), '1d 2h 3m 4s');
    assert.deepEqual([3, 4, 5].map(formatProtocolVersion), ['3.1', '3.1.1', '5.0']);
  });
});

describe('dashboard in Chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed` }, () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 20_000 });
  });
  after(async () => {
    await browser?.close();
  });

  /** A page that fails the test on any script error. */
  async function open(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/401/.test(message.text())) errors.push(message.text());
    });
    await page.goto(url);
    return { page, errors };
  }

  const text = async (page: Page, id: string) => (await page.locator(`#${id}`).textContent()) ?? '';

  test('shows clients, message counts and rates updating as an mqtt.js client connects and publishes', async (t) => {
    const fixture = await startFixture({ broker: { version: '0.1.0-test' } });
    const { page, errors } = await open(fixture.admin.url);
    const hostile = '<img src=x id=injected>';
    const clients: mqtt.MqttClient[] = [];
    try {
      await page.locator('#status', { hasText: 'live' }).waitFor({ timeout: 5000 });
      assert.equal(await text(page, 'clients-connected'), '0');
      assert.equal(await text(page, 'messages-received'), '0');
      assert.equal(await text(page, 'version'), 'v0.1.0-test');
      assert.equal(await page.locator('#no-clients').isVisible(), true);

      const sensor = await mqtt.connectAsync(fixture.mqttUrl, {
        clientId: 'sensor-17',
        username: 'alice',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      clients.push(sensor);
      clients.push(await mqtt.connectAsync(fixture.mqttUrl, { clientId: hostile, reconnectPeriod: 0 }));
      await sensor.subscribeAsync('plant/#', { qos: 1 });
      for (let i = 0; i < 5; i++) await sensor.publishAsync(`plant/line${i}`, `reading ${i}`, { qos: 1 });
      await sensor.publishAsync('plant/status', 'running', { qos: 0, retain: true });

      await page.waitForFunction(() => document.getElementById('clients-connected')?.textContent === '2', undefined, {
        timeout: 5000,
      });
      await page.waitForFunction(() => document.getElementById('messages-received')?.textContent === '6', undefined, {
        timeout: 5000,
      });
      // The six messages arrived between two polls: the next poll shows a rate above zero.
      await page.waitForFunction(
        () => Number(document.getElementById('messages-received-rate')?.textContent) > 0,
        undefined,
        { timeout: 5000 },
      );
      await page.waitForFunction(() => document.getElementById('messages-sent')?.textContent === '6', undefined, {
        timeout: 5000,
      });
      assert.equal(await text(page, 'subscriptions'), '1');
      assert.equal(await text(page, 'retained'), '1');
      assert.equal(await text(page, 'dropped'), '0');
      assert.match(await text(page, 'bytes-received'), /^\d+ B$/);

      const rows = page.locator('#clients tr');
      assert.equal(await rows.count(), 2);
      const sensorRow = page.locator('#clients tr', { hasText: 'sensor-17' });
      const cells = await sensorRow.locator('td').allInnerTexts();
      assert.deepEqual(cells.slice(0, 3), ['sensor-17', 'alice', '5.0']);
      assert.match(cells[3]!, /127\.0\.0\.1/);
      assert.equal(cells[6], '1', 'one subscription');
      // A client id is shown as text, never interpreted as markup.
      assert.equal(await page.locator('#clients td', { hasText: hostile }).count(), 1);
      assert.equal(await page.locator('#injected').count(), 0);
      assert.equal(await page.locator('#no-clients').isVisible(), false);

      // Selecting a client shows its session and subscriptions.
      await sensorRow.click();
      await page.locator('#session').waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await text(page, 'session-id'), 'sensor-17');
      assert.match(
        await text(page, 'session-summary'),
        /^connected, MQTT 5\.0, ends with its connection, 0 in flight, 0 queued/,
      );
      assert.deepEqual(await page.locator('#session-subscriptions td').allTextContents(), [
        'plant/#',
        '1',
        'no',
        'no',
        '0',
        '–',
      ]);

      const dir = process.env.STARLING_SCREENSHOT_DIR ?? (await mkdtemp(join(tmpdir(), 'starling-dashboard-')));
      const file = join(dir, 'dashboard.png');
      await page.screenshot({ path: file, fullPage: true });
      const png = await readFile(file);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG was written');
      t.diagnostic(`screenshot: ${file}`);
      if (process.env.STARLING_SCREENSHOT_DIR === undefined) await rm(dir, { recursive: true, force: true });

      // A client that leaves disappears from the page.
      await clients.pop()!.endAsync();
      await page.waitForFunction(() => document.getElementById('clients-connected')?.textContent === '1', undefined, {
        timeout: 5000,
      });
      assert.deepEqual(errors, []);
    } finally {
      for (const client of clients) client.end(true);
      await page.close();
      await fixture.close();
    }
  });

  test('asks for the admin token when the API needs one, then shows the numbers', async () => {
    const fixture = await startFixture({ admin: { token: 'dash-token' } });
    const { page, errors } = await open(fixture.admin.url);
    try {
      await page.locator('#token-form').waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await text(page, 'status'), 'token required');
      await page.locator('#token').fill('dash-token');
      await page.locator('#token-form button').click();
      await page.locator('#status', { hasText: 'live' }).waitFor({ timeout: 5000 });
      assert.equal(await page.locator('#token-form').isVisible(), false);
      assert.equal(await text(page, 'clients-connected'), '0');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      await fixture.close();
    }
  });

  test('reports the broker unreachable when the admin server goes away', async () => {
    const fixture = await startFixture();
    const { page } = await open(fixture.admin.url);
    try {
      await page.locator('#status', { hasText: 'live' }).waitFor({ timeout: 5000 });
      await fixture.admin.close();
      await page.locator('#status', { hasText: 'broker unreachable' }).waitFor({ timeout: 5000 });
    } finally {
      await page.close();
      await fixture.close();
    }
  });
});
