import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { startBroker } from '../../src/cli/broker.js';
import { resolveConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/logger.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-start-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('reload() applies a new ACL file; a broken one is reported and the old rules stay', async () => {
  const aclFile = join(dir, 'acl');
  await writeFile(aclFile, 'topic read public/#\n');
  const config = resolveConfig({
    listeners: [{ port: 0 }],
    persistence: { enabled: false },
    auth: { aclFile },
    sys: { intervalSeconds: 0 },
  });
  if (!config.ok) assert.fail(config.errors.join('; '));
  const running = await startBroker(config.config, { logger: silentLogger() });
  const client = await mqtt.connectAsync(running.listeners[0]!.url(), { protocolVersion: 5, reconnectPeriod: 0 });
  try {
    // The SUBACK reason code for one filter (mqtt.js rejects when it is a failure code).
    const granted = async (filter: string): Promise<number> => {
      try {
        return (await client.subscribeAsync(filter))[0]!.qos;
      } catch (error) {
        return (error as { packet: { granted: number[] } }).packet.granted[0]!;
      }
    };
    assert.equal(await granted('public/news'), 0);
    assert.equal(await granted('secret/plans'), 0x87);

    await writeFile(aclFile, 'topic read public/#\ntopic read secret/#\n');
    assert.deepEqual(await running.reload(), { ok: true, errors: [] });
    assert.equal(await granted('secret/plans'), 0);

    await writeFile(aclFile, 'topic read public/#\nthis is not an ACL line\n');
    const result = await running.reload();
    assert.equal(result.ok, false);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0]!, /^ACL file .*acl: reload failed, the previous one stays in force: .*line 2/);
    assert.equal(await granted('secret/other'), 0, 'the rules loaded before stay in force');
    assert.equal(client.connected, true);
  } finally {
    await client.endAsync(true);
    await running.close();
  }
});

test('a broken password file stops the start with the key named', async () => {
  const passwordFile = join(dir, 'passwords');
  await writeFile(passwordFile, 'alice-without-a-hash\n');
  const config = resolveConfig({ listeners: [{ port: 0 }], persistence: { enabled: false }, auth: { passwordFile } });
  if (!config.ok) assert.fail(config.errors.join('; '));
  await assert.rejects(startBroker(config.config, { logger: silentLogger() }), /^Error: auth\.passwordFile: .*line 1/);
});

test('a listener that cannot start closes the ones already open', async () => {
  const config = resolveConfig({
    listeners: [
      { name: 'ok', port: 0 },
      { name: 'broken', port: 0, protocol: 'mqtts', tls: { cert: join(dir, 'none.crt'), key: join(dir, 'none.key') } },
    ],
    persistence: { enabled: false },
  });
  if (!config.ok) assert.fail(config.errors.join('; '));
  await assert.rejects(
    startBroker(config.config, { logger: silentLogger() }),
    /^Error: listeners\[1\] \(mqtts:.*ENOENT/,
  );
});

test('limits from the configuration reach the broker: the MQTT 5 CONNACK announces them', async () => {
  const config = resolveConfig({
    listeners: [{ port: 0 }],
    persistence: { enabled: false },
    limits: { maxPacketSize: 1024, receiveMaximum: 10, topicAliasMaximum: 5, maximumQoS: 1, retainAvailable: false },
    sys: { intervalSeconds: 0 },
  });
  if (!config.ok) assert.fail(config.errors.join('; '));
  const running = await startBroker(config.config, { logger: silentLogger() });
  const client = mqtt.connect(running.listeners[0]!.url(), { protocolVersion: 5, reconnectPeriod: 0 });
  try {
    const [connack] = (await new Promise((resolve, reject) => {
      client.once('connect', (packet) => resolve([packet]));
      client.once('error', reject);
    })) as [{ properties?: Record<string, unknown> }];
    assert.equal(connack.properties?.maximumPacketSize, 1024);
    assert.equal(connack.properties?.receiveMaximum, 10);
    assert.equal(connack.properties?.topicAliasMaximum, 5);
    assert.equal(connack.properties?.maximumQoS, 1);
    assert.equal(connack.properties?.retainAvailable, false);
  } finally {
    await client.endAsync(true);
    await running.close();
  }
});
