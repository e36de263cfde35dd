import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import { hashPassword } from '../../src/auth/password-hash.js';
import type { RunningBroker } from '../../src/cli/broker.js';
import { collect, connect, start, urlOf } from './helpers.js';

const FAST = { N: 1024, r: 8, p: 1 };

// Every rule kind: read, write, readwrite, deny, per-user topics, and patterns with %u and %c.
const ACL = `
# No topic lines before the first user: anonymous clients get nothing.
user alice
topic read public/#
topic readwrite alice/#
topic deny alice/private/#
topic write ingest/#

user admin
topic readwrite #
topic read $SYS/#

pattern readwrite devices/%u/#
pattern read inbox/%c/#
`;

/** The SUBACK reason code for one filter (mqtt.js rejects on MQTT 5 failure codes, and reports 3.1.1's 0x80). */
async function granted(client: MqttClient, filter: string): Promise<number> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 }))[0]!.qos;
  } catch (error) {
    return (error as { packet: { granted: number[] } }).packet.granted[0]!;
  }
}

/** The PUBACK reason code of a QoS 1 publish (0 when acknowledged as success). */
async function puback(client: MqttClient, topic: string, payload = 'x'): Promise<number> {
  try {
    await client.publishAsync(topic, payload, { qos: 1 });
    return 0;
  } catch (error) {
    return (error as { code: number }).code;
  }
}

// Topics an administrator publishes, and which of them alice (client id alice-1) and bob (bob-1) may read.
const TOPICS = [
  'public/news',
  'alice/notes',
  'alice/private/diary',
  'secret/plans',
  'devices/alice/state',
  'devices/bob/state',
  'inbox/alice-1/hello',
  'inbox/bob-1/hello',
  'ingest/raw',
];
const ALICE_READS = ['public/news', 'alice/notes', 'devices/alice/state', 'inbox/alice-1/hello'];
const BOB_READS = ['devices/bob/state', 'inbox/bob-1/hello'];

describe('ACL through a running broker', () => {
  let dir: string;
  let running: RunningBroker;
  let url: string;
  const clients: MqttClient[] = [];
  const login = async (username: string, clientId: string, options: IClientOptions = {}) => {
    const client = await connect(url, {
      protocolVersion: 5,
      username,
      password: `${username}-pw`,
      clientId,
      ...options,
    });
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-security-acl-'));
    const passwordFile = join(dir, 'passwords');
    const aclFile = join(dir, 'acl');
    const lines = await Promise.all(
      ['alice', 'bob', 'admin'].map(async (user) => `${user}:${await hashPassword(`${user}-pw`, FAST)}`),
    );
    await writeFile(passwordFile, `${lines.join('\n')}\n`);
    await writeFile(aclFile, ACL);
    running = await start({
      listeners: [{ port: 0, allowAnonymous: false }],
      auth: { passwordFile, aclFile },
      sys: { intervalSeconds: 1 },
    });
    url = urlOf(running);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await running.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a client subscribed to # receives only the topics it may read, retained and live, deny winning', async () => {
    const admin = await login('admin', 'admin-1');
    for (const topic of TOPICS) await admin.publishAsync(topic, `retained ${topic}`, { qos: 1, retain: true });

    const alice = await login('alice', 'alice-1');
    const bob = await login('bob', 'bob-1', { protocolVersion: 4 });
    const aliceInbox = collect(alice);
    const bobInbox = collect(bob);
    assert.equal(await granted(alice, '#'), 1);
    assert.equal(await granted(bob, '#'), 1);

    for (const topic of TOPICS) await admin.publishAsync(topic, `live ${topic}`, { qos: 1 });
    // Markers each may read, published last: once they arrive, everything before them was delivered.
    await admin.publishAsync('alice/end', 'end', { qos: 1 });
    await admin.publishAsync('devices/bob/end', 'end', { qos: 1 });
    const expected = (reads: string[], end: string) => [
      ...reads.map((topic) => ({ topic, payload: `retained ${topic}`, retain: true })),
      ...reads.map((topic) => ({ topic, payload: `live ${topic}`, retain: false })),
      { topic: end, payload: 'end', retain: false },
    ];
    await aliceInbox.waitFor(ALICE_READS.length * 2 + 1);
    await bobInbox.waitFor(BOB_READS.length * 2 + 1);
    const sorted = (list: Array<{ topic: string; payload: string; retain: boolean }>) =>
      [...list].sort((a, b) => Number(b.retain) - Number(a.retain) || a.payload.localeCompare(b.payload));
    assert.deepEqual(sorted(aliceInbox.messages), sorted(expected(ALICE_READS, 'alice/end')));
    assert.deepEqual(sorted(bobInbox.messages), sorted(expected(BOB_READS, 'devices/bob/end')));
    for (const topic of TOPICS) await admin.publishAsync(topic, '', { qos: 1, retain: true });
  });

  test('SUBACK (section 3.9.3) refuses what may not be read: 0x87 on MQTT 5, 0x80 on 3.1.1', async () => {
    const alice5 = await login('alice', 'alice-5');
    const alice4 = await login('alice', 'alice-4', { protocolVersion: 4 });
    for (const [client, refused] of [
      [alice5, 0x87],
      [alice4, 0x80],
    ] as const) {
      assert.equal(await granted(client, 'secret/#'), refused, 'no rule');
      assert.equal(await granted(client, 'alice/private/#'), refused, 'deny wins over alice/#');
      assert.equal(await granted(client, 'ingest/#'), refused, 'write only');
      assert.equal(await granted(client, 'devices/bob/#'), refused, '%u is alice, not bob');
      assert.equal(await granted(client, 'public/+'), 1);
      assert.equal(await granted(client, 'devices/alice/#'), 1);
    }
    assert.equal(await granted(alice5, 'inbox/alice-5/#'), 1, '%c is the client id');
    assert.equal(await granted(alice5, 'inbox/alice-4/#'), 0x87);
  });

  test('[MQTT-3.3.5-2] a refused publish gets PUBACK 0x87 on MQTT 5, a plain PUBACK on 3.1.1; none is delivered', async () => {
    const admin = await login('admin', 'admin-2');
    const watcher = collect(admin);
    await admin.subscribeAsync('#', { qos: 1 });
    const alice5 = await login('alice', 'alice-pub-5');
    const alice4 = await login('alice', 'alice-pub-4', { protocolVersion: 4 });
    const refusedTopics = ['public/news', 'secret/plans', 'alice/private/diary', 'devices/bob/cmd', 'inbox/x/y'];
    for (const topic of refusedTopics) {
      assert.equal(await puback(alice5, topic, `v5 ${topic}`), 0x87, topic);
      // 3.1.1 cannot say no [MQTT-3.3.5-2]: the PUBACK looks like success, the message goes nowhere.
      assert.equal(await puback(alice4, topic, `v4 ${topic}`), 0, topic);
    }
    const allowedTopics = ['alice/notes', 'ingest/raw', 'devices/alice/temp'];
    for (const topic of allowedTopics) assert.equal(await puback(alice5, topic, `v5 ${topic}`), 0, topic);
    await alice4.publishAsync('alice/end', 'end', { qos: 1 });
    await watcher.waitFor(allowedTopics.length + 1);
    assert.deepEqual(
      watcher.messages.map((m) => m.topic),
      [...allowedTopics, 'alice/end'],
    );
  });

  test('$SYS is readable only where the ACL allows it, and # never matches it [MQTT-4.7.2-1]', async () => {
    const admin = await login('admin', 'admin-sys');
    const alice = await login('alice', 'alice-sys');
    const adminInbox = collect(admin);
    const aliceInbox = collect(alice);
    assert.equal(await granted(alice, '$SYS/#'), 0x87);
    assert.equal(await granted(alice, '#'), 1);
    assert.equal(await granted(admin, '$SYS/broker/clients/#'), 1);
    await adminInbox.waitFor(1, 5000);
    assert.ok(adminInbox.messages.every((m) => m.topic.startsWith('$SYS/broker/clients/')));
    // By now $SYS has been published at least once since alice subscribed to #.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(
      aliceInbox.messages.filter((m) => m.topic.startsWith('$SYS')),
      [],
    );
  });
});
