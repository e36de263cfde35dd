import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { register as globalRegistry } from 'prom-client';
import type { ClientsResponse, HealthResponse, SessionResponse, StatsResponse } from '../../src/admin/api.js';
import { startAdminServer } from '../../src/admin/server.js';
import { Broker } from '../../src/broker/broker.js';
import { startBroker } from '../../src/cli/broker.js';
import { main } from '../../src/cli/main.js';
import { resolveConfig } from '../../src/config/load.js';
import type { Listener } from '../../src/transport/types.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { eventually, parseMetrics, startFixture } from './helpers.js';

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as T };
}

async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  return parseMetrics(await response.text());
}

test('/health answers 200 with status, uptime and version while serving, and 503 once shutting down', async () => {
  const fixture = await startFixture({ broker: { version: '9.8.7' } });
  try {
    const { status, body } = await getJson<HealthResponse>(`${fixture.admin.url}/health`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.equal(body.version, '9.8.7');
    assert.equal(typeof body.uptime, 'number');
    assert.ok(body.uptime >= 0 && body.uptime < 60);

    fixture.admin.shuttingDown();
    const stopping = await getJson<HealthResponse>(`${fixture.admin.url}/health`);
    assert.equal(stopping.status, 503);
    assert.equal(stopping.body.status, 'shutting down');
  } finally {
    await fixture.close();
  }
});

test('/metrics follows the broker: an mqtt.js client connects, subscribes and publishes', async () => {
  const fixture = await startFixture();
  const client = await mqtt.connectAsync(fixture.mqttUrl, { clientId: 'metrics-1', reconnectPeriod: 0 });
  try {
    const response = await fetch(`${fixture.admin.url}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# TYPE starling_messages_received_total counter$/m);
    assert.match(text, /^# TYPE starling_clients_connected gauge$/m);
    let metrics = parseMetrics(text);
    assert.equal(metrics.get('starling_clients_connected'), 1);
    assert.equal(metrics.get('starling_messages_received_total'), 0);
    assert.equal(metrics.get('starling_subscriptions'), 0);
    // Process metrics come with it.
    assert.ok((metrics.get('process_cpu_user_seconds_total') ?? -1) >= 0);
    assert.ok((metrics.get('process_resident_memory_bytes') ?? 0) > 0);
    assert.ok(metrics.has('nodejs_eventloop_lag_seconds'));
    assert.equal(metrics.get('starling_listener_connections{listener="listener-1",protocol="mqtt"}'), 1);

    let received = 0;
    client.on('message', () => {
      received++;
    });
    await client.subscribeAsync('metrics/#', { qos: 1 });
    await client.publishAsync('metrics/a', 'one', { qos: 1 });
    await client.publishAsync('metrics/b', 'two', { qos: 1, retain: true });
    await client.publishAsync('metrics/c', 'three', { qos: 0 });
    assert.ok(await eventually(() => received === 3), 'the client got its 3 messages');

    metrics = await scrape(fixture.admin.url);
    assert.equal(metrics.get('starling_messages_received_total'), 3);
    assert.equal(metrics.get('starling_messages_sent_total'), 3);
    assert.equal(metrics.get('starling_subscriptions'), 1);
    assert.equal(metrics.get('starling_retained_messages'), 1);
    assert.equal(metrics.get('starling_sessions'), 1);
    assert.equal(metrics.get('starling_messages_dropped_total'), 0);
    assert.equal(metrics.get('starling_bytes_received_total'), fixture.broker.stats.bytesReceived);
    assert.ok((metrics.get('starling_bytes_received_total') ?? 0) > 3 * 'metrics/a'.length);
    assert.ok((metrics.get('starling_bytes_sent_total') ?? 0) > 3 * 'metrics/a'.length);
    assert.equal(metrics.get('starling_listener_connections_accepted_total{listener="listener-1",protocol="mqtt"}'), 1);

    await client.endAsync();
    assert.ok(
      await eventually(async () => (await scrape(fixture.admin.url)).get('starling_clients_connected') === 0),
      'the gauge drops when the client leaves',
    );
    // Its own registry: nothing lands in prom-client's global one.
    assert.equal((await globalRegistry.metrics()).includes('starling_'), false);
  } finally {
    client.end(true);
    await fixture.close();
  }
});

test('/metrics counts messages queued for an offline session, and those dropped once its queue is full', async () => {
  const fixture = await startFixture({ broker: { maxQueuedMessages: 2 } });
  try {
    const options = { clientId: 'offline-1', clean: false, protocolVersion: 5 as const, reconnectPeriod: 0 };
    const client = await mqtt.connectAsync(fixture.mqttUrl, {
      ...options,
      properties: { sessionExpiryInterval: 300 },
    });
    await client.subscribeAsync('queue/t', { qos: 1 });
    await client.endAsync();
    assert.ok(await eventually(() => fixture.broker.stats.clientsConnected === 0));
    for (let i = 0; i < 5; i++) await fixture.broker.publish({ topic: 'queue/t', payload: `m${i}`, qos: 1 });

    const metrics = await scrape(fixture.admin.url);
    assert.equal(metrics.get('starling_messages_dropped_total'), 3);
    assert.equal(metrics.get('starling_queued_messages'), 2, 'the two that fit wait for the client');
    assert.ok((metrics.get('starling_queued_bytes') ?? 0) >= 4);
    assert.equal(metrics.get('starling_inflight_messages'), 0);
    assert.equal(metrics.get('starling_sessions'), 1);
    assert.equal(metrics.get('starling_clients_connected'), 0);
  } finally {
    await fixture.close();
  }
});

test('/api/stats and /api/clients describe the broker and its connected clients', async () => {
  const fixture = await startFixture();
  const before = Date.now();
  const alice = await mqtt.connectAsync(fixture.mqttUrl, {
    clientId: 'alice-5',
    username: 'alice',
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  const bob = await mqtt.connectAsync(fixture.mqttUrl, { clientId: 'bob-311', protocolVersion: 4, reconnectPeriod: 0 });
  const after = Date.now();
  try {
    await alice.subscribeAsync(['api/one', 'api/two'], { qos: 1 });
    await bob.publishAsync('api/one', 'hello', { qos: 1 });

    const stats = await getJson<StatsResponse>(`${fixture.admin.url}/api/stats`);
    assert.equal(stats.status, 200);
    assert.equal(stats.body.stats.clientsConnected, 2);
    assert.equal(stats.body.stats.messagesReceived, 1);
    assert.equal(stats.body.stats.subscriptions, 2);
    assert.equal(stats.body.version, fixture.broker.config.version);
    assert.ok(Math.abs(stats.body.now - Date.now()) < 5000);
    assert.ok(stats.body.process.rss > 0);
    assert.deepEqual(
      stats.body.listeners.map((l) => [l.name, l.protocol, l.url, l.connections]),
      [['listener-1', 'mqtt', fixture.mqttUrl, 2]],
    );

    const { status, body } = await getJson<ClientsResponse>(`${fixture.admin.url}/api/clients`);
    assert.equal(status, 200);
    assert.equal(body.total, 2);
    assert.equal(body.truncated, false);
    const byId = new Map(body.clients.map((c) => [c.clientId, c]));
    const a = byId.get('alice-5');
    assert.ok(a, 'alice is listed');
    assert.equal(a.username, 'alice');
    assert.equal(a.protocolVersion, 5);
    assert.match(a.remoteAddress ?? '', /127\.0\.0\.1$/);
    assert.equal(a.listener, 'listener-1');
    assert.equal(a.subscriptions, 2);
    assert.ok(a.connectedAt !== null && a.connectedAt >= before && a.connectedAt <= after, 'connected since');
    const b = byId.get('bob-311');
    assert.ok(b, 'bob is listed');
    assert.equal(b.username, null);
    assert.equal(b.protocolVersion, 4);

    const one = await getJson<ClientsResponse>(`${fixture.admin.url}/api/clients?limit=1`);
    assert.equal(one.body.clients.length, 1);
    assert.equal(one.body.total, 2);
    assert.equal(one.body.truncated, true);
    for (const bad of ['abc', '-1', '10001', '1.5']) {
      const refused = await fetch(`${fixture.admin.url}/api/clients?limit=${bad}`);
      assert.equal(refused.status, 400, `limit=${bad}`);
      await refused.arrayBuffer();
    }
  } finally {
    alice.end(true);
    bob.end(true);
    await fixture.close();
  }
});

test('with a token, /api/* needs it as a bearer token; /health, /metrics and the page stay open', async () => {
  const fixture = await startFixture({ admin: { token: 's3cret-token' } });
  try {
    const url = `${fixture.admin.url}/api/stats`;
    const missing = await fetch(url);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    await missing.arrayBuffer();
    for (const authorization of ['Bearer wrong', 'Bearer s3cret-token-longer', 'Basic czNjcmV0LXRva2Vu', 'Bearer']) {
      const refused = await fetch(url, { headers: { authorization } });
      assert.equal(refused.status, 401, authorization);
      await refused.arrayBuffer();
    }
    const clients = await fetch(`${fixture.admin.url}/api/clients`);
    assert.equal(clients.status, 401);
    await clients.arrayBuffer();

    const allowed = await getJson<StatsResponse>(url, { authorization: 'Bearer s3cret-token' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.body.stats.clientsConnected, 0);

    for (const open of ['/health', '/metrics', '/']) {
      const response = await fetch(`${fixture.admin.url}${open}`);
      assert.equal(response.status, 200, open);
      await response.arrayBuffer();
    }
  } finally {
    await fixture.close();
  }
});

test('unknown paths get 404, other methods 405, malformed HTTP 400, and the admin server and broker keep serving', async () => {
  const fixture = await startFixture();
  try {
    for (const path of ['/nope', '/api/nope', '/health/extra', '//api/stats', '/app.js.map']) {
      const response = await fetch(`${fixture.admin.url}${path}`);
      assert.equal(response.status, 404, path);
      assert.deepEqual(await response.json(), { error: 'not found' });
    }
    const post = await fetch(`${fixture.admin.url}/health`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.arrayBuffer();

    const { port } = new URL(fixture.admin.url);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('THIS IS NOT HTTP\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(3000, () => socket.destroy(new Error('no answer to a malformed request')));
    });
    assert.match(reply, /^HTTP\/1\.1 400 /);

    assert.equal((await fetch(`${fixture.admin.url}/health`)).status, 200);
    const client = await mqtt.connectAsync(fixture.mqttUrl, { reconnectPeriod: 0 });
    await client.endAsync();
  } finally {
    await fixture.close();
  }
});

test('the dashboard page and its scripts are served, under a Content-Security-Policy without inline code', async () => {
  const fixture = await startFixture();
  try {
    const page = await fetch(`${fixture.admin.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="app.js"><\/script>/);
    assert.doesNotMatch(html, /https?:\/\//, 'no external assets');

    const app = await fetch(`${fixture.admin.url}/app.js`);
    assert.match(app.headers.get('content-type') ?? '', /^text\/javascript/);
    const script = await app.text();
    assert.match(script, /from '\.\/format\.js'/);
    assert.doesNotMatch(script, /sourceMappingURL/);
    const format = await fetch(`${fixture.admin.url}/format.js`);
    assert.equal(format.status, 200);
    assert.match(await format.text(), /export function rates/);
    const css = await fetch(`${fixture.admin.url}/dashboard.css`);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    await css.arrayBuffer();
  } finally {
    await fixture.close();
  }
});

test('close() ends kept-alive HTTP connections at once; the broker keeps running', async () => {
  const fixture = await startFixture();
  try {
    const { port } = new URL(fixture.admin.url);
    const socketClosed = new Promise<void>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: Number(port),
        path: '/health',
        headers: { connection: 'keep-alive' },
      });
      req.on('response', (response) => {
        response.resume();
        response.on('end', () => req.socket?.on('close', () => resolve()));
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await fixture.admin.close();
    await socketClosed;
    assert.ok(Date.now() - started < 1000, 'no wait for the keep-alive timeout');
    await assert.rejects(fetch(`${fixture.admin.url}/health`));
    const client = await mqtt.connectAsync(fixture.mqttUrl, { reconnectPeriod: 0 });
    await client.endAsync();
  } finally {
    await fixture.close();
  }
});

test('two brokers in one process keep their metrics apart', async () => {
  const first = await startFixture();
  const second = await startFixture();
  try {
    await first.broker.publish({ topic: 'apart/t', payload: 'x', retain: true });
    assert.equal((await scrape(first.admin.url)).get('starling_retained_messages'), 1);
    assert.equal((await scrape(second.admin.url)).get('starling_retained_messages'), 0);
  } finally {
    await first.close();
    await second.close();
  }
});

test('startBroker with admin.enabled serves the admin API and stops it on close()', async () => {
  const config = resolveConfig({
    listeners: [{ port: 0 }],
    persistence: { enabled: false },
    admin: { enabled: true, port: 0, token: 'tok' },
    sys: { intervalSeconds: 0 },
  });
  if (!config.ok) assert.fail(config.errors.join('; '));
  const running = await startBroker(config.config, { logger: silentLogger(), version: '1.2.3' });
  const admin = running.admin;
  try {
    assert.ok(admin, 'the admin server runs');
    assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await getJson<HealthResponse>(`${admin.url}/health`);
    assert.deepEqual([health.status, health.body.status, health.body.version], [200, 'ok', '1.2.3']);
    const client = await mqtt.connectAsync(running.listeners[0]!.url(), { clientId: 'cli-admin', reconnectPeriod: 0 });
    const clients = await getJson<ClientsResponse>(`${admin.url}/api/clients`, { authorization: 'Bearer tok' });
    assert.deepEqual(
      clients.body.clients.map((c) => c.clientId),
      ['cli-admin'],
    );
    client.end(true);
  } finally {
    await running.close();
  }
  await assert.rejects(fetch(`${admin!.url}/health`));

  const off = resolveConfig({ listeners: [{ port: 0 }], persistence: { enabled: false }, sys: { intervalSeconds: 0 } });
  if (!off.ok) assert.fail(off.errors.join('; '));
  const plain = await startBroker(off.config, { logger: silentLogger() });
  assert.equal(plain.admin, undefined, 'off by default');
  await plain.close();
});

test('config: admin is off by default on 127.0.0.1:9090; bad values and a port clash name admin.*', () => {
  const defaults = resolveConfig({});
  if (!defaults.ok) assert.fail(defaults.errors.join('; '));
  assert.deepEqual(defaults.config.admin, { enabled: false, host: '127.0.0.1', port: 9090 });

  const bad = resolveConfig({ admin: { enabled: 'yes', port: 70000, token: '', extra: 1 } });
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.ok(bad.errors.includes('admin.extra: unknown key'), bad.errors.join('; '));
  assert.ok(bad.errors.some((e) => /^admin\.port: expected a number from 0 to 65535, got 70000$/.test(e)));
  assert.ok(bad.errors.some((e) => /^admin\.enabled: expected true or false/.test(e)));
  assert.ok(bad.errors.some((e) => /^admin\.token: /.test(e)));

  const clash = resolveConfig({ listeners: [{ port: 9090 }], admin: { enabled: true } });
  assert.equal(clash.ok, false);
  if (clash.ok) return;
  assert.deepEqual(clash.errors, ['admin.port: a listener already uses 127.0.0.1:9090']);
});

test('starling broker --admin-port 0 starts the admin server and logs its address; STARLING_ADMIN_TOKEN guards the API', async () => {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const signals = new EventEmitter();
  const io = { stdout, stderr: new PassThrough(), env: { STARLING_ADMIN_TOKEN: 'from-env' }, signals };
  const exit = main(
    ['broker', '--port', '0', '--no-persistence', '--admin-port', '0', '--admin-host', '127.0.0.1'],
    io,
  );
  try {
    assert.ok(await eventually(() => /admin on http:\/\/127\.0\.0\.1:\d+/.test(out)), `admin address logged: ${out}`);
    const url = /admin on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await fetch(`${url}/api/stats`)).status, 401);
    assert.equal((await fetch(`${url}/api/stats`, { headers: { authorization: 'Bearer from-env' } })).status, 200);
  } finally {
    signals.emit('SIGTERM');
    assert.equal(await exit, 0);
  }

  const err = new PassThrough();
  let errors = '';
  err.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const refused = await main(['broker', '--admin-port', 'ninety'], { stdout, stderr: err, env: {}, signals });
  assert.equal(refused, 2);
  assert.match(errors, /--admin-port.*expected a number from 0 to 65535/);
});

test('a failure while answering gives that request a 500 and a log line; health and the broker carry on', async () => {
  const broker = new Broker({ sysIntervalSeconds: 0 });
  await broker.start();
  const listener = await broker.listen({ port: 0 });
  // A listener whose numbers cannot be read: /metrics and /api/stats read them, /health does not.
  const broken = Object.create(listener, {
    stats: {
      get() {
        throw new Error('stats unavailable');
      },
    },
  }) as Listener;
  const logStream = new PassThrough();
  let log = '';
  logStream.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const admin = await startAdminServer(broker, {
    port: 0,
    listeners: [broken],
    logger: createLogger('error', logStream),
  });
  try {
    for (const path of ['/metrics', '/api/stats']) {
      const response = await fetch(`${admin.url}${path}`);
      assert.equal(response.status, 500, path);
      assert.deepEqual(await response.json(), { error: 'internal error' });
    }
    assert.ok(await eventually(() => /admin request failed/.test(log) && /stats unavailable/.test(log)), log);
    assert.equal((await fetch(`${admin.url}/health`)).status, 200);
    const client = await mqtt.connectAsync(listener.url(), { reconnectPeriod: 0 });
    await client.endAsync();
  } finally {
    await admin.close();
    await broker.close();
  }
});

/** A GET with a chosen Host header (fetch does not let a caller set it). */
function getWithHost(url: string, path: string, host: string): Promise<number> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: Number(port), path, headers: { host }, agent: false });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('without a token, a loopback admin server answers the API and page only to loopback host names (DNS rebinding)', async () => {
  const open = await startFixture();
  const guarded = await startFixture({ admin: { token: 't' } });
  try {
    for (const host of ['localhost:1', '127.0.0.1', '127.0.0.1:9090', '[::1]:9090', 'LOCALHOST']) {
      assert.equal(await getWithHost(open.admin.url, '/api/stats', host), 200, host);
    }
    for (const host of ['evil.example', 'evil.example:9090', '127.0.0.1.evil.example']) {
      assert.equal(await getWithHost(open.admin.url, '/api/clients', host), 403, host);
      assert.equal(await getWithHost(open.admin.url, '/', host), 403, host);
    }
    assert.equal(await getWithHost(open.admin.url, '/health', 'evil.example'), 200, 'health checks from anywhere');
    assert.equal(await getWithHost(open.admin.url, '/metrics', 'evil.example'), 200, 'aggregate numbers only');
    // With a token the page is reachable by any name (a reverse proxy), and the API needs the token.
    assert.equal(await getWithHost(guarded.admin.url, '/', 'dashboard.example'), 200);
    assert.equal(await getWithHost(guarded.admin.url, '/api/stats', 'dashboard.example'), 401);
  } finally {
    await open.close();
    await guarded.close();
  }
});

test('/api/clients/{id} shows one session, connected or offline, with its subscriptions and queue', async () => {
  const fixture = await startFixture();
  const id = 'plant/line 7#ü';
  const at = (clientId: string) => `${fixture.admin.url}/api/clients/${encodeURIComponent(clientId)}`;
  const client = await mqtt.connectAsync(fixture.mqttUrl, {
    clientId: id,
    username: 'line7',
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 0,
  });
  try {
    await client.subscribeAsync('alarms/#', { qos: 1, nl: true, properties: { subscriptionIdentifier: 42 } });
    await client.subscribeAsync('$share/ops/status/+', { qos: 0 });
    const online = await getJson<SessionResponse>(at(id));
    assert.equal(online.status, 200);
    assert.equal(online.body.connected, true);
    assert.equal(online.body.client?.clientId, id);
    assert.equal(online.body.username, 'line7');
    assert.equal(online.body.protocolVersion, 5);
    assert.equal(online.body.expiryInterval, 600);
    assert.equal(online.body.expiresAt, null);
    assert.deepEqual(
      online.body.subscriptions.map((s) => [s.topicFilter, s.qos, s.noLocal, s.subscriptionIdentifier]),
      [
        ['alarms/#', 1, true, 42],
        ['$share/ops/status/+', 0, false, null],
      ],
    );

    await client.endAsync();
    assert.ok(await eventually(() => fixture.broker.stats.clientsConnected === 0));
    await fixture.broker.publish({ topic: 'alarms/boiler', payload: 'hot', qos: 1 });
    const offline = await getJson<SessionResponse>(at(id));
    assert.equal(offline.body.connected, false);
    assert.equal(offline.body.client, null);
    assert.equal(offline.body.queued, 1);
    assert.ok(offline.body.queuedBytes > 0);
    assert.ok(offline.body.expiresAt !== null && offline.body.expiresAt > Date.now());

    const missing = await getJson<{ error: string }>(at('nobody'));
    assert.equal(missing.status, 404);
    const malformed = await fetch(`${fixture.admin.url}/api/clients/%E0%A4%A`);
    assert.equal(malformed.status, 404);
    await malformed.arrayBuffer();
  } finally {
    client.end(true);
    await fixture.close();
  }
});

test('starling broker: /health answers 503 while the broker shuts down, until the admin server stops last', async () => {
  const config = resolveConfig({
    listeners: [{ port: 0 }],
    persistence: { enabled: false },
    admin: { enabled: true, port: 0 },
    sys: { intervalSeconds: 0 },
  });
  if (!config.ok) assert.fail(config.errors.join('; '));
  const running = await startBroker(config.config, { logger: silentLogger() });
  const adminUrl = running.admin!.url;
  // A client that never closes its end keeps the shutdown going for a moment (the broker waits before cutting it).
  const { port } = running.listeners[0]!.address();
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  try {
    const connack = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(Buffer.from([0x10, 15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 3, 0x72, 0x61, 0x77]));
    await connack;
    assert.equal((await fetch(`${adminUrl}/health`)).status, 200);

    const closed = running.close();
    const during = await getJson<HealthResponse>(`${adminUrl}/health`);
    assert.equal(during.status, 503);
    assert.equal(during.body.status, 'shutting down');
    await closed;
    await assert.rejects(fetch(`${adminUrl}/health`));
  } finally {
    socket.destroy();
    await running.close();
  }
});
